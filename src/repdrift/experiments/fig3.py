"""Fig. 3: recorded CA1 data — the fraction of place cells and their mean spatial
information over days of exposure to the same track.

The analysis of ``repdrift data analyze`` (:mod:`repdrift.data`; place cells by circular
shuffles, SI naive and bias-corrected by SSR and BAE) on the data sets found in the data
folder (``--data``, ``$REPDRIFT_DATA``, else ``../shared/data``):

* ``multiple_maps`` — Sheintuch, Geva et al. (2020): 4 mice × 2 tracks × 8 daily
  sessions, registered cells;
* ``si_bias_real`` — the recorded spike trains of Sheintuch et al. (2022)
  (``si_bias/real_full_CA1``): 2 mice × 2 tracks × the last 4 sessions, cells not
  registered, the session number standing in for the day.

Each metric is normalised to the first session of its series (mouse × track) and regressed
on the days since; the paper reports a falling fraction of place cells and a rising mean
SI (claim C12). ``quick`` and ``paper`` use the published 1,000 shuffles per test;
``smoke`` one track of one mouse and the one-recording sample, with 50.

Figures (``DIR/figures/fig3``): ``<data set>.png/.pdf`` (per metric: series, mean ± SEM
over animals, pooled regression line with slope and p), with ``<data set>_sessions.parquet``
(the per-session table) next to them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from repdrift.experiments.jobs import DataJob, Job
from repdrift.experiments.settings import Settings
from repdrift.experiments.workspace import Workspace, save_figure, save_table

NAME = "fig3"
TITLE = "Fig. 3 — recorded CA1 data: place cells and spatial information over days"

#: Data set name -> folder inside the data folder.
DATASETS = {
    "multiple_maps": Path("multiple_maps"),
    "si_bias_real": Path("si_bias") / "real_full_CA1",
}
#: ``smoke``: one track of one mouse, and the one-recording sample, with few shuffles.
SMOKE_DATASETS = {
    "multiple_maps": Path("multiple_maps") / "C6_M4" / "Environment A",
    "si_bias_real": Path("si_bias") / "real_sample",
}
SMOKE_SHUFFLES = 50
#: Metrics reported (columns of the per-session table).
METRICS = (
    "fraction_place",
    "mean_si_naive",
    "mean_si_ssr",
    "mean_si_bae",
    "n_active",
    "fraction_active",
)
SHUFFLES = 1000


def datasets(scale: str) -> dict[str, Path]:
    return SMOKE_DATASETS if scale == "smoke" else DATASETS


def shuffles(scale: str) -> int:
    return SMOKE_SHUFFLES if scale == "smoke" else SHUFFLES


def jobs(settings: Settings) -> list[Job]:
    return [
        DataJob(name, NAME, Path(settings.data_dir) / folder, shuffles=shuffles(settings.scale))
        for name, folder in datasets(settings.scale).items()
    ]


def trend_numbers(regression: dict[str, Any]) -> dict[str, Any]:
    """Pooled slope (per day, in units of the first session), p and n of each metric,
    and how many animals show a positive slope."""
    out: dict[str, Any] = {}
    for metric in METRICS:
        fits = regression.get("trends", {}).get(metric)
        if not fits:
            continue
        pooled = fits["pooled"]
        animals = [f for f in fits.get("per_animal", {}).values() if f.get("slope") is not None]
        out[metric] = {
            "slope_per_day": pooled.get("slope"),
            "p_value": pooled.get("p_value"),
            "n": pooled.get("n"),
            "animals": len(animals),
            "animals_positive": sum(1 for f in animals if f["slope"] > 0),
        }
    drift = regression.get("drift", {}).get("pooled", {})
    out["rate_map_correlation"] = {
        "slope_per_day": drift.get("slope"),
        "p_value": drift.get("p_value"),
        "n": drift.get("n"),
    }
    return out


def make(ws: Workspace, settings: Settings) -> dict[str, Any]:
    from repdrift.data import trend_regressions
    from repdrift.plotting.fig3 import plot_fig3

    folder = ws.figure_dir(NAME)
    numbers: dict[str, Any] = {"datasets": {}, "shuffles": shuffles(settings.scale)}
    files: list[Path] = []
    for name, sub in datasets(settings.scale).items():
        path = ws.data_path(name)
        source = Path(settings.data_dir) / sub
        if not (path / "regression.json").is_file():
            numbers["datasets"][name] = {
                "available": False,
                "source": str(source),
                "why": f"recorded data not found at {source}",
            }
            continue
        regression = json.loads((path / "regression.json").read_text())
        sessions = pd.read_parquet(path / "sessions.parquet")
        drift = pd.read_csv(path / "drift.csv") if (path / "drift.csv").is_file() else None
        # The trends from the stored table, by the analysis' own function (NaN, not null).
        trends = trend_regressions(sessions) if len(sessions) else {}
        fig = plot_fig3(
            sessions,
            trends,
            drift if drift is not None and len(drift) else None,
            title=f"{name}: {regression.get('n_sessions')} sessions",
        )
        files += save_figure(fig, folder, name)
        files.append(save_table(sessions, folder, f"{name}_sessions"))
        numbers["datasets"][name] = {
            "available": True,
            "source": str(source),
            "analysis": ws.relative(path),
            "sessions": regression.get("n_sessions"),
            "series": regression.get("series"),
            # Without dates (the spike-train sets) the session number stands in for the day.
            "time_unit": "day" if bool(sessions["day_known"].all()) else "session",
            "trends": trend_numbers(regression),
        }
    numbers["files"] = [ws.relative(f) for f in files]
    return numbers
