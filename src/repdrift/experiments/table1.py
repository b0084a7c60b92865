"""Table 1: the three phases of learning under noise, measured on the runs of the other
figures.

1. *fast learning* — the loss falls to its noise floor (it ends at the loss plateau,
   :func:`repdrift.metrics.timescale.loss_plateau_step`);
2. *directed drift* — at a constant loss the fraction of active units falls (it ends when
   an exponential fitted from the plateau on has decayed to 5 % of its amplitude);
3. *null drift* — loss and sparseness stationary while the representation keeps moving.

One function places them on every run (:func:`repdrift.metrics.timescale.phases`; for the
similarity-matching network with the plateau tolerance of
:func:`repdrift.plotting.hebbian.hebbian_phases`). Measured on: the Fig. 2 corridor run and
its noise-free control, the Fig. 4C similarity-matching runs, the Fig. 5C/D runs, and the
runs of the Table-2 sweep (median per group).

Output (``DIR/figures/table1``): ``table1.parquet`` / ``table1.csv`` (one row per run:
phase ends in steps, loss and fraction of active units at each boundary, the spread of the
fraction of active units in the null drift), ``table1_sweep.parquet`` (every sweep run) and
``phases.png/.pdf`` (the phases as bars).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repdrift.experiments import fig2, fig4, fig5, sweep_runs, sweeps
from repdrift.experiments.jobs import Job, RunJob
from repdrift.experiments.settings import Settings
from repdrift.experiments.workspace import Workspace, save_figure, save_table
from repdrift.metrics import timescale

NAME = "table1"
TITLE = "Table 1 — the three phases: fast learning, directed drift, null drift"

#: Single runs measured (run directory -> kind of model).
RUNS = {
    "fig2": "network",
    "fig2-noise-free": "network",
    "hebbian-ring": "similarity_matching",
    "hebbian-ring-noise-free": "similarity_matching",
    "fig5-update": "network",
    "fig5-label": "network",
}


def jobs(settings: Settings) -> list[Job]:
    out: list[Job] = []
    for module in (fig2, fig4, fig5):
        out += [j for j in module.jobs(settings) if isinstance(j, RunJob) and j.name in RUNS]
    out.append(sweeps.table2_job(settings, NAME))
    return out


def phase_row(steps, loss, units, *, factor: float = 2.0) -> dict[str, float]:
    """Phase boundaries of one run and the loss and fraction of active units at them.

    ``units_spread_null``: max − min of the fraction of active units over the null drift
    (NaN without one); ``loss_ratio_drift``: loss at the end of directed drift (or of the
    run) over the loss at the plateau — near 1 when the drift happens at a constant loss.
    """
    steps = np.asarray(steps, float)
    loss = np.asarray(loss, float)
    units = np.asarray(units, float)
    ph = timescale.phases(steps, loss, units, factor=factor)

    def at(step: float, values: np.ndarray) -> float:
        return float(values[min(int(np.searchsorted(steps, step)), len(steps) - 1)])

    plateau = ph.fast_learning_end
    drift_end = ph.directed_drift_end if ph.directed_drift_end is not None else np.nan
    end_of_drift = drift_end if np.isfinite(drift_end) else float(steps[-1])
    null = steps >= drift_end if np.isfinite(drift_end) else np.zeros_like(steps, bool)
    return {
        "fast_learning_end": plateau,
        "directed_drift_end": drift_end,
        "last_step": float(steps[-1]),
        "tau_steps": ph.fit.tau_steps if ph.fit.ok else np.nan,
        "loss_initial": float(loss[0]),
        "loss_at_plateau": at(plateau, loss),
        "loss_at_drift_end": at(end_of_drift, loss),
        "loss_ratio_drift": at(end_of_drift, loss) / at(plateau, loss),
        "units_initial": float(units[0]),
        "units_at_plateau": at(plateau, units),
        "units_at_drift_end": at(end_of_drift, units),
        "units_final": float(units[-1]),
        "units_spread_null": float(np.ptp(units[null])) if null.sum() >= 2 else np.nan,
        "message": ph.message,
    }


def _run_row(name: str, kind: str, run) -> dict[str, Any]:
    from repdrift.plotting.hebbian import PLATEAU_FACTOR

    m = run.metrics
    factor = PLATEAU_FACTOR if kind == "similarity_matching" else 2.0
    row = phase_row(
        m["step"].values, m["loss"].values, m["fraction_active_units"].values, factor=factor
    )
    return {"run": name, "kind": kind, **row}


def make(ws: Workspace, settings: Settings) -> dict[str, Any]:
    from repdrift.plotting.supplementary import draw_phases
    from repdrift.runs import open_run

    folder = ws.figure_dir(NAME)
    rows = []
    for name, kind in RUNS.items():
        path = ws.run_path(name)
        if path.exists():
            rows.append(_run_row(name, kind, open_run(path)))
    sweep_path = ws.sweep_path(sweeps.TABLE2)
    table = sweep_runs.read_table(sweep_path)
    sweep_rows = []
    for r in table.itertuples(index=False):
        if r.status != "complete":
            continue
        run = open_run(Path(sweep_path) / "runs" / r.run)
        sweep_rows.append({**_run_row(r.run, "network", run), "group": r.group})
    per_run = pd.DataFrame(sweep_rows)
    numeric = [c for c in per_run.columns if c not in ("run", "kind", "message", "group")]
    for group, g in per_run.groupby("group") if len(per_run) else []:
        med = g[numeric].median(numeric_only=True).to_dict()
        found = int(g["directed_drift_end"].notna().sum())
        rows.append(
            {
                "run": f"{sweeps.TABLE2}: {group} (median of {len(g)})",
                "kind": "network",
                **med,
                "message": f"directed drift ended within the run in {found} of {len(g)}",
            }
        )
    result = pd.DataFrame(rows)
    files = [save_table(result, folder, NAME), save_table(per_run, folder, f"{NAME}_sweep")]
    csv = folder / f"{NAME}.csv"
    result.to_csv(csv, index=False)
    files.append(csv)
    files += save_figure(draw_phases(result), folder, "phases")
    return {
        "rows": result.to_dict(orient="records"),
        "files": [ws.relative(f) for f in files],
    }
