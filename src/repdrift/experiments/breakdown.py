"""Summary columns of a sweep broken down by group, beside the published runs (Figs. S1, S2).

Groups name a learning rule and, for GD, its noise: ``gd/update``, ``gd/label``,
``gd/none`` (the noise-free control), ``adam``, ``sed`` (Adam and SED without added
noise, as in the paper's random sweep). The published table is grouped the same way
(:mod:`repdrift.experiments.reference`). Statistics are over the runs the original's
``collector.py`` would have kept (``included``); ``log_tau`` only over successful fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from repdrift.experiments import reference

#: Columns summarised, in the published tables' order.
COLUMNS = ("active_units", "active", "eig_sum", "eig_max", "eig_nonzero", "loss", "log_tau")
LABELS = {
    "gd/update": "GD + update noise",
    "gd/label": "GD + label noise",
    "gd/none": "GD, no noise",
    "adam": "Adam",
    "sed": "SED",
}


def published_groups() -> pd.DataFrame:
    """The published runs with a ``group`` column and ``included`` = True."""
    pub = reference.all_runs()
    pub["group"] = [
        f"{r}/{n}" if r == "gd" else (r if n == "none" else f"{r}/{n}")
        for r, n in zip(pub["rule"], pub["noise"], strict=True)
    ]
    pub["included"] = True
    pub["log_tau_ok"] = pub["log_tau"] != 0
    return pub


def group_stats(
    table: pd.DataFrame, groups: Sequence[str], columns: Sequence[str] = COLUMNS
) -> pd.DataFrame:
    """Long table ``group, column, n, mean, sd, median, q25, q75`` over the included runs.

    ``table`` needs ``group``, ``included``, ``log_tau_ok`` and the ``columns``.
    """
    rows = []
    for group in groups:
        kept = table[(table["group"] == group) & table["included"].astype(bool)]
        for column in columns:
            if column not in kept:
                continue
            source = kept[kept["log_tau_ok"].astype(bool)] if column == "log_tau" else kept
            values = source[column].astype(float).to_numpy()
            values = values[np.isfinite(values)]
            rows.append(
                {
                    "group": group,
                    "column": column,
                    "n": int(values.size),
                    "mean": float(values.mean()) if values.size else np.nan,
                    "sd": float(values.std(ddof=1)) if values.size > 1 else np.nan,
                    "median": float(np.median(values)) if values.size else np.nan,
                    "q25": float(np.percentile(values, 25)) if values.size else np.nan,
                    "q75": float(np.percentile(values, 75)) if values.size else np.nan,
                }
            )
    return pd.DataFrame(
        rows, columns=["group", "column", "n", "mean", "sd", "median", "q25", "q75"]
    )


def side_by_side(ours: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """:func:`group_stats` of ours and of the published runs in one table (``source``)."""
    return pd.concat(
        [ours.assign(source="repdrift"), published.assign(source="published")], ignore_index=True
    )


def stats_dict(stats: pd.DataFrame) -> dict[str, Any]:
    """``{group: {column: {n, mean, sd, median, q25, q75}}}``."""
    out: dict[str, Any] = {}
    for row in stats.itertuples(index=False):
        out.setdefault(row.group, {})[row.column] = {
            "n": row.n,
            "mean": row.mean,
            "sd": row.sd,
            "median": row.median,
            "q25": row.q25,
            "q75": row.q75,
        }
    return out


def loss_plateau_steps(sweep_path, table: pd.DataFrame) -> pd.DataFrame:
    """Per finished run: the loss plateau step and the step at which half of the fall of
    the fraction of active units after it was done — 'sparsification long after
    convergence' when the second is far later than the first."""
    from pathlib import Path

    from repdrift.experiments.fig2 import fall_numbers
    from repdrift.metrics.timescale import loss_plateau_step
    from repdrift.runs import open_run

    rows = []
    for row in table.itertuples(index=False):
        if row.status != "complete":
            continue
        m = open_run(Path(sweep_path) / "runs" / row.run).metrics
        steps = m["step"].values.astype(float)
        plateau = loss_plateau_step(steps, m["loss"].values)
        fall = fall_numbers(steps, m["fraction_active_units"].values, plateau)
        rows.append(
            {
                "run": row.run,
                "group": row.group,
                "plateau_step": plateau,
                "half_fall_step": fall["half_fall_step"],
                "units_at_plateau": fall["at_plateau"],
                "units_final": fall["final"],
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "run",
            "group",
            "plateau_step",
            "half_fall_step",
            "units_at_plateau",
            "units_final",
        ],
    )


#: Time courses drawn: records, then Hessian summaries at snapshots.
COURSE_METRICS = ("fraction_active_units", "active_fraction")
COURSE_SNAPSHOT_METRICS = ("hessian_trace", "hessian_fraction_nonzero")
#: Published time-course names of the record metrics.
PUBLISHED_COURSES = {"fraction_active_units": "active_units", "active_fraction": "active"}
#: The published time courses' rule -> our group (their GD courses are the update-noise runs).
PUBLISHED_COURSE_GROUP = {"gd": "gd/update", "adam": "adam", "sed": "sed"}


def course_runs(table: pd.DataFrame, course_parts: Mapping[str, str]) -> pd.DataFrame:
    """The rows of ``table`` whose time courses are drawn: for each ``{group: prefix}`` of
    ``course_parts``, that group's runs in parts named ``prefix…`` (all of the group's
    runs when it has none there); other groups whole."""
    for group, prefix in course_parts.items():
        mine = table["group"] == group
        in_parts = table["part"].str.startswith(prefix)
        if (mine & in_parts).any():
            table = table[~mine | in_parts]
    return table


def make_breakdown(
    ws,
    figure: str,
    groups: Sequence[str],
    title: str,
    course_parts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Figures, tables and numbers of one breakdown (S1: by rule; S2: by noise).

    ``course_parts``: ``{group: prefix}`` — the time courses of such a group are drawn
    from the sweep parts whose names start with the prefix, when it has any (Fig. S2's
    come from the original's 10^6-step grid alone); the summaries use every run."""
    from repdrift.experiments import sweep_runs, sweeps
    from repdrift.experiments.workspace import save_figure, save_table
    from repdrift.plotting.supplementary import draw_breakdown, draw_courses

    folder = ws.figure_dir(figure)
    path = ws.sweep_path(sweeps.TABLE2)
    table = sweep_runs.read_table(path)
    ours = group_stats(table, groups)
    published = group_stats(published_groups(), groups)
    both = side_by_side(ours, published)
    files = list(
        save_figure(draw_breakdown(both, groups, LABELS, title), folder, f"{figure}_summary")
    )
    files.append(save_table(both, folder, f"{figure}_summary"))

    chosen = table[table["group"].isin(list(groups))]
    drawn = course_runs(chosen, course_parts or {})
    courses = sweep_runs.time_courses(
        path, drawn, metrics=COURSE_METRICS, snapshot_metrics=COURSE_SNAPSHOT_METRICS
    )
    tc = reference.time_courses()
    tc["group"] = tc["rule"].map(PUBLISHED_COURSE_GROUP)
    names = {v: k for k, v in PUBLISHED_COURSES.items()}
    tc["metric"] = tc["metric"].map(names)
    pub_courses = tc[tc["group"].isin(list(groups))]
    files += save_figure(
        draw_courses(
            courses, pub_courses, groups, LABELS, COURSE_METRICS + COURSE_SNAPSHOT_METRICS, title
        ),
        folder,
        f"{figure}_time_courses",
    )
    files.append(save_table(courses, folder, f"{figure}_time_courses"))
    timing = loss_plateau_steps(path, chosen)
    files.append(save_table(timing, folder, f"{figure}_timing"))
    timing_numbers = {}
    for group, g in timing.groupby("group"):
        ratio = (g["half_fall_step"] / g["plateau_step"]).to_numpy(float)
        ratio = ratio[np.isfinite(ratio)]
        timing_numbers[group] = {
            "runs": len(g),
            "runs_falling": int(ratio.size),
            "median_plateau_step": float(g["plateau_step"].median()),
            "median_half_fall_step": float(g["half_fall_step"].median()),
            "median_half_fall_over_plateau": float(np.median(ratio)) if ratio.size else None,
        }
    hessian = table["record.hessian"].iloc[0] if "record.hessian" in table and len(table) else None
    return {
        "groups": list(groups),
        "ours": stats_dict(ours),
        "published": stats_dict(published),
        "timing": timing_numbers,
        "statuses": {g: t["status"].value_counts().to_dict() for g, t in table.groupby("group")},
        "runs_per_group": {g: int((table["group"] == g).sum()) for g in groups},
        "course_runs_per_group": {g: int((drawn["group"] == g).sum()) for g in groups},
        "steps": sorted(int(s) for s in table["run.steps"].unique()) if len(table) else [],
        "hessian": hessian,
        "files": [ws.relative(f) for f in files],
    }
