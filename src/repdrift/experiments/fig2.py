"""Fig. 2: the corridor run — the loss converges, then the network sparsifies, its units
gain spatial information, and their place fields drift ever more slowly.

Runs (``DIR/runs``):

* ``fig2`` — ``quick``: the ``fig2-quick`` preset (the published network and noise
  amplitude on repdrift's corridor, σ_u doubled to 0.028, 1.5·10^5 steps: the drift per
  step, η²σ_u², is 4 × the paper's, so the run covers about 6·10^5 of its steps);
  ``paper``: the ``fig2`` preset (the published settings, 10^6 steps); ``smoke``: the
  quick run with 40 units and 3,000 steps.
* ``fig2-noise-free`` — the same without noise: the control of claim C5.
* ``fig2-published`` (``paper`` only) — the ``fig2-published`` preset: the published
  run's own dataset, for its place-unit counts (Fig. 2D: 199 / 221 / 170 / 157).

Figures (``DIR/figures/fig2``): the panels of :func:`repdrift.plotting.fig2.draw_fig2`
(loss, activity, spatial information, rate maps, drift, summary) and
``noise_free_control`` (active fraction and mean SI with and without noise); data next to
them: ``records.parquet`` (both runs' records), ``snapshots.parquet`` (SI and place units
at snapshots), ``drift_matrix.parquet``, and ``place_units.parquet`` / ``.csv``: place
units at 0.1 / 0.4 / 0.7 / 1.0 of the run beside the published Fig. 2D counts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repdrift.config import load_config
from repdrift.experiments.jobs import Job, RunJob
from repdrift.experiments.settings import Settings
from repdrift.experiments.workspace import Workspace, save_figure, save_table
from repdrift.metrics import timescale

NAME = "fig2"
TITLE = "Fig. 2 — the corridor: convergence, sparsification, spatial information, drift"

#: The published Fig. 2D: place units (SI > 0.01 bits) at these fractions of the run.
PUBLISHED_PLACE_UNITS = {0.1: 199, 0.4: 221, 0.7: 170, 1.0: 157}


#: ``smoke``: the quick run shrunk to seconds (40 units, 3,000 steps).
SMOKE = [
    "network.hidden=40",
    "run.steps=3000",
    "record.per_decade=20",
    "record.snapshots=6",
    "record.linear_snapshots=4",
    "record.bins=10",
]


def _preset(scale: str) -> str:
    return "fig2" if scale == "paper" else "fig2-quick"


def run_config(scale: str, noise: bool = True):
    """The corridor run of ``scale`` (``noise=False``: its noise-free control)."""
    overrides = SMOKE.copy() if scale == "smoke" else []
    if not noise:
        overrides.append("learner.update_noise=0")
    return load_config(preset=_preset(scale), overrides=overrides)


def jobs(settings: Settings) -> list[Job]:
    out: list[Job] = [
        RunJob("fig2", run_config(settings.scale), NAME),
        RunJob("fig2-noise-free", run_config(settings.scale, noise=False), NAME),
    ]
    if settings.scale == "paper":
        out.append(RunJob("fig2-published", load_config(preset="fig2-published"), NAME))
    return out


# ------------------------------------------------------------------------- numbers


def _at(steps: np.ndarray, values: np.ndarray, step: float) -> float:
    """The value at the first recorded step at or after ``step``."""
    i = min(int(np.searchsorted(steps, step)), len(steps) - 1)
    return float(values[i])


def convergence_numbers(steps: np.ndarray, loss: np.ndarray) -> dict[str, float]:
    """How fast the loss converges and how flat it stays (claim C1).

    ``plateau_step`` is :func:`repdrift.metrics.timescale.loss_plateau_step` (the first
    step within a factor 2 of the final level); ``loss_drop`` = initial / plateau loss;
    ``loss_spread_after_plateau_log10`` the spread (95th − 5th percentile) of log10 loss
    after the plateau; ``loss_final_over_plateau`` the final over the plateau loss.
    """
    steps = np.asarray(steps, float)
    loss = np.asarray(loss, float)
    plateau = timescale.loss_plateau_step(steps, loss)
    at_plateau = _at(steps, loss, plateau)
    after = np.log10(loss[(steps >= plateau) & (loss > 0)])
    return {
        "steps_total": float(steps[-1]),
        "plateau_step": plateau,
        "plateau_fraction_of_run": plateau / float(steps[-1]),
        "loss_initial": float(loss[0]),
        "loss_at_plateau": at_plateau,
        "loss_final": float(loss[-1]),
        "loss_drop": float(loss[0]) / at_plateau,
        "loss_final_over_plateau": float(loss[-1]) / at_plateau,
        "loss_spread_after_plateau_log10": float(
            np.percentile(after, 95) - np.percentile(after, 5)
        ),
    }


def fall_numbers(steps: np.ndarray, values: np.ndarray, plateau_step: float) -> dict[str, float]:
    """A statistic at the loss plateau and at the end, and when half of its fall after the
    plateau was done (``half_fall_step``; NaN if it did not fall)."""
    steps = np.asarray(steps, float)
    values = np.asarray(values, float)
    start = _at(steps, values, plateau_step)
    final = float(np.mean(values[-max(1, len(values) // 50) :]))
    half = np.nan
    if final < start:
        after = steps >= plateau_step
        below = np.flatnonzero(values[after] <= start - 0.5 * (start - final))
        if below.size:
            half = float(steps[after][below[0]])
    return {
        "initial": float(values[0]),
        "at_plateau": start,
        "final": final,
        "final_over_plateau": final / start if start > 0 else np.nan,
        "half_fall_step": half,
        "half_fall_over_plateau_step": half / plateau_step if plateau_step > 0 else np.nan,
    }


def snapshot_value(steps: np.ndarray, values: np.ndarray, step: float) -> tuple[float, float]:
    """``(snapshot step, value)`` of the first snapshot at or after ``step``."""
    steps = np.asarray(steps, float)
    i = min(int(np.searchsorted(steps, step)), len(steps) - 1)
    return float(steps[i]), float(np.asarray(values, float)[i])


def drift_numbers(steps: np.ndarray, matrix: np.ndarray) -> dict[str, float]:
    """Drift of place fields from the correlation matrix of evenly spaced snapshots.

    Step 0 (before learning) is left out. ``r_consecutive_early`` / ``_late``: mean
    correlation of neighbouring snapshots over the first and the second half of the run
    (drift slows when late > early); ``r_first_to_last``: the first kept snapshot against
    the last (fields moved when it is below the neighbours' correlation).
    """
    steps = np.asarray(steps, float)
    matrix = np.asarray(matrix, float)
    keep = steps > 0
    steps, matrix = steps[keep], matrix[np.ix_(keep, keep)]
    n = len(steps)
    if n < 3:
        return {"snapshots": n}
    neighbours = np.array([matrix[i, i + 1] for i in range(n - 1)])
    middle = (steps[:-1] + steps[1:]) / 2
    late = middle > steps[-1] / 2
    return {
        "snapshots": n,
        "r_consecutive_early": float(np.nanmean(neighbours[~late])),
        "r_consecutive_late": float(np.nanmean(neighbours[late])),
        "r_first_to_last": float(matrix[0, -1]),
        "r_consecutive": neighbours.tolist(),
        "steps": steps.tolist(),
    }


def run_numbers(run, where: Callable[[Path], str] = str) -> dict[str, Any]:
    """Every number of one corridor run that the claims use; ``where`` writes the run's
    path (a reproduction's: relative to its folder, so that the folder can move)."""
    from repdrift.plotting.fig2 import place_map_correlations

    m, s = run.metrics, run.snapshots
    steps = m["step"].values.astype(float)
    conv = convergence_numbers(steps, m["loss"].values)
    plateau = conv["plateau_step"]
    out: dict[str, Any] = {
        "path": where(run.path),
        "status": run.status.status,
        "convergence": conv,
        "active_fraction": fall_numbers(steps, m["active_fraction"].values, plateau),
        "fraction_active_units": fall_numbers(steps, m["fraction_active_units"].values, plateau),
    }
    if "mean_si_place_units" in s:
        snap_steps = s["step"].values.astype(float)
        si = s["mean_si_place_units"].values
        at_step, at_value = snapshot_value(snap_steps, si, plateau)
        out["si_place_units"] = {
            "snapshot_at_plateau": at_step,
            "at_plateau": at_value,
            "initial": float(si[0]),
            "final": float(si[-1]),
            "final_over_plateau": float(si[-1]) / at_value if at_value > 0 else np.nan,
        }
        total = float(snap_steps[-1])
        out["place_units"] = {
            f"{fraction:g}": snapshot_value(snap_steps, s["place_units"].values, fraction * total)[
                1
            ]
            for fraction in PUBLISHED_PLACE_UNITS
        }
        corr_steps, corr = place_map_correlations(run)
        out["drift"] = drift_numbers(corr_steps, corr)
    return out


# ------------------------------------------------------------------------- drawing


def _records_frame(run, name: str) -> pd.DataFrame:
    m = run.metrics
    cols = ["loss", "active_fraction", "fraction_active_units"]
    df = pd.DataFrame({c: m[c].values for c in cols})
    df.insert(0, "step", m["step"].values)
    df.insert(0, "run", name)
    return df


def _snapshots_frame(run, name: str) -> pd.DataFrame:
    s = run.snapshots
    cols = [
        c
        for c in (
            "mean_si_place_units",
            "mean_si_active_units",
            "place_units",
            "place_units_fraction",
            "population_sparseness",
        )
        if c in s
    ]
    df = pd.DataFrame({c: s[c].values for c in cols})
    df.insert(0, "step", s["step"].values)
    df.insert(0, "run", name)
    return df


def make(ws: Workspace, settings: Settings) -> dict[str, Any]:
    from repdrift.plotting.fig2 import draw_fig2, place_map_correlations
    from repdrift.plotting.supplementary import draw_control
    from repdrift.runs import open_run

    folder = ws.figure_dir(NAME)
    run = open_run(ws.run_path("fig2"))
    control = open_run(ws.run_path("fig2-noise-free"))
    files: list[Path] = list(draw_fig2(run, folder))
    files += save_figure(draw_control(run, control), folder, "noise_free_control")
    files.append(
        save_table(
            pd.concat([_records_frame(run, "fig2"), _records_frame(control, "fig2-noise-free")]),
            folder,
            "records",
        )
    )
    files.append(
        save_table(
            pd.concat(
                [_snapshots_frame(run, "fig2"), _snapshots_frame(control, "fig2-noise-free")]
            ),
            folder,
            "snapshots",
        )
    )
    corr_steps, corr = place_map_correlations(run)
    i, j = np.meshgrid(np.arange(len(corr_steps)), np.arange(len(corr_steps)), indexing="ij")
    files.append(
        save_table(
            pd.DataFrame(
                {
                    "step_a": corr_steps[i.ravel()],
                    "step_b": corr_steps[j.ravel()],
                    "r": corr.ravel(),
                }
            ),
            folder,
            "drift_matrix",
        )
    )
    numbers: dict[str, Any] = {
        "preset": _preset(settings.scale),
        "config": {
            "lr": run.config.learner.lr,
            "update_noise": run.config.learner.update_noise,
            "steps": run.config.run.steps,
            "hidden": run.config.network.hidden,
            "scaling": getattr(run.config.task, "scaling", None),
        },
        "run": run_numbers(run, ws.relative),
        "noise_free": run_numbers(control, ws.relative),
        "published_place_units": {f"{k:g}": v for k, v in PUBLISHED_PLACE_UNITS.items()},
    }
    counts = {
        "fraction_of_run": list(PUBLISHED_PLACE_UNITS),
        "published_fig2d": list(PUBLISHED_PLACE_UNITS.values()),
        "repdrift": [
            numbers["run"].get("place_units", {}).get(f"{k:g}") for k in PUBLISHED_PLACE_UNITS
        ],
    }
    if settings.scale == "paper" and ws.run_path("fig2-published").exists():
        published_run = open_run(ws.run_path("fig2-published"))
        numbers["published_dataset_run"] = run_numbers(published_run, ws.relative)
        files += draw_fig2(published_run, folder / "published-dataset")
        counts["repdrift_on_published_dataset"] = [
            numbers["published_dataset_run"]["place_units"].get(f"{k:g}")
            for k in PUBLISHED_PLACE_UNITS
        ]
    place_table = pd.DataFrame(counts)
    files.append(save_table(place_table, folder, "place_units"))
    place_table.to_csv(folder / "place_units.csv", index=False)
    files.append(folder / "place_units.csv")
    numbers["files"] = [ws.relative(f) for f in files]
    return numbers
