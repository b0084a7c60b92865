"""Reading a sweep's runs for figures: its table, and time courses resampled onto the
original's evenly spaced grid.

The published time courses (``driftreg_time_courses``) are 100 evenly spaced records over
each run, divided by the first (``collector_lines.py``), and the original took each record
*after* that epoch's update, so they run from step 1 to step T (as the tables' records:
:func:`repdrift.sweep.summary.record_grid`). :func:`time_courses` gives repdrift's runs the
same form: each record is linearly interpolated in the step onto 100 evenly spaced steps
from 1 to T and divided by the value at step 1 (Hessian summaries: see
:func:`time_courses`). Fig. 4A's time axis is the fraction of the run, ``0, 1/99, …, 1``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Points of a resampled time course, as the published ones.
POINTS = 100


def read_table(path: Path) -> pd.DataFrame:
    """The results table of the sweep at ``path`` with a ``group`` column: the rule, and
    for GD the noise (``gd/update``, ``gd/label``, ``gd/none``, ``adam``, ``sed``)."""
    from repdrift import sweep

    table = sweep.read_table(path)
    table["group"] = [
        f"{r}/{n}" if r == "gd" else r for r, n in zip(table["rule"], table["noise"], strict=True)
    ]
    return table


def group_of(rule: str, noise: str) -> str:
    return f"{rule}/{noise}" if rule == "gd" else rule


#: How a course is normalised: by its first record (``"start"``), by its mean over the
#: first tenth of the run (``"first_tenth"``, as the tables' ``eig_sum`` divides by the mean
#: of the first 10 of 101 Hessian records: at step 0 the readout is small and so is the
#: Hessian), or not at all (``"none"``).
NORMALISATIONS = ("start", "first_tenth", "none")


def resample(
    steps: np.ndarray,
    values: np.ndarray,
    points: int = POINTS,
    normalise: str = "start",
    first_step: float = 0.0,
) -> np.ndarray:
    """``values`` at ``points`` evenly spaced steps from ``first_step`` (or the last step,
    if that comes first) to the last step, linear in the step, normalised as ``normalise``
    says (:data:`NORMALISATIONS`: ``"start"`` divides by the value at the first of those
    steps; NaN where the divisor is 0). A point next to a NaN value is NaN (a gap), except
    where it falls on a finite value; the first tenth's mean is over its finite points."""
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
    steps = np.asarray(steps, float)
    values = np.asarray(values, float)
    grid = np.linspace(min(first_step, steps[-1]), steps[-1], points)
    out = np.interp(grid, steps, values)
    if normalise == "none":
        return out
    if normalise == "start":
        divisor = out[0]
    else:
        head = out[: max(1, points // 10)]
        head = head[np.isfinite(head)]
        divisor = float(np.mean(head)) if head.size else np.nan
    return out / divisor if divisor != 0 else np.full(points, np.nan)


_NORMALISE = {
    "hessian_trace": "first_tenth",
    "hessian_max": "first_tenth",
    "hessian_fraction_nonzero": "none",
}


def time_courses(
    sweep_path: Path,
    table: pd.DataFrame,
    metrics: tuple[str, ...] = ("fraction_active_units", "active_fraction"),
    snapshot_metrics: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Long table ``run, group, metric, t_fraction, value`` of the finished runs.

    ``metrics`` come from the records, ``snapshot_metrics`` (e.g. ``hessian_trace``) from
    the snapshots; every course is resampled (:func:`resample`) onto the original's
    records, steps 1 to T, and normalised to the first (after one update, as
    ``collector_lines.py`` divides by the first record), except the snapshot metrics,
    resampled from step 0 (where the first snapshot lies, as the summary's Hessian grid
    is): the Hessian's trace and largest eigenvalue, normalised to their mean over the
    first tenth of the run (as the tables' ``eig_sum``, ``eig_max``), and
    ``hessian_fraction_nonzero``, kept absolute as the tables keep ``eig_nonzero``.
    """
    from repdrift.simulation import HESSIAN_METRICS, open_run

    frames = []
    t = np.linspace(0.0, 1.0, POINTS)
    for row in table.itertuples(index=False):
        if row.status not in ("complete",):
            continue
        run = open_run(Path(sweep_path) / "runs" / row.run)
        sources = [(run.metrics, m) for m in metrics] + [
            (run.snapshots, m) for m in snapshot_metrics
        ]
        for ds, metric in sources:
            if metric not in ds or ds.sizes.get("step", 0) < 2:
                continue
            values = ds[metric].values.astype(float)
            steps = ds["step"].values.astype(float)
            finite = np.isfinite(values)
            if finite.sum() < 2:
                continue
            if not (metric in HESSIAN_METRICS and run.config.record.hessian_at == "windows"):
                # a missing value is bridged; spectra in the summary's two windows only are
                # not: no line across the gap (resample leaves it NaN)
                steps, values = steps[finite], values[finite]
            course = resample(
                steps,
                values,
                normalise=_NORMALISE.get(metric, "start"),
                # the records from step 1; the snapshots' grid from step 0, where the
                # first snapshot lies (as repdrift.sweep.summary reads them)
                first_step=0.0 if ds is run.snapshots else 1.0,
            )
            frames.append(
                pd.DataFrame(
                    {
                        "run": row.run,
                        "group": row.group,
                        "metric": metric,
                        "t_fraction": t,
                        "value": course,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["run", "group", "metric", "t_fraction", "value"])
    return pd.concat(frames, ignore_index=True)
