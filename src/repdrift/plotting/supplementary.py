"""Figures of the reproduction beyond single panels of the paper: the breakdowns of Figs. S1
and S2 (repdrift's runs beside the published ones), the three phases of Table 1 across
runs, and the noise-free control of Fig. 2.

Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Figs. S1, S2, Table 1. Inputs are
tables (pandas) computed by :mod:`repdrift.experiments`; figures are built on
:class:`matplotlib.figure.Figure` directly (no ``pyplot``, no global state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: Axis labels of the summary columns.
COLUMN_LABELS = {
    "active_units": "fraction of active units\nfinal / initial",
    "active": "active fraction\nfinal / initial",
    "eig_sum": "Hessian trace\nfinal / initial",
    "eig_max": "largest eigenvalue\nfinal / initial",
    "eig_nonzero": "fraction of non-zero\neigenvalues (final)",
    "loss": "final log10 loss\n(MSE / var y)",
    "log_tau": "log10 sparsification\nrate (1/steps)",
}
COURSE_LABELS = {
    "fraction_active_units": "fraction of active units / initial",
    "active_fraction": "active fraction / initial",
    "hessian_trace": "Hessian trace / first tenth of the run",
    "hessian_fraction_nonzero": "fraction of non-zero eigenvalues",
}
_PHASE_COLOURS = {"fast learning": "tab:red", "directed drift": "gold", "null drift": "tab:green"}


def draw_breakdown(
    stats: pd.DataFrame, groups: Sequence[str], labels: Mapping[str, str], title: str
) -> Figure:
    """Mean ± SD per group of each summary column, repdrift's bars beside the published.

    ``stats``: ``source`` (``repdrift`` / ``published``), ``group``, ``column``, ``n``,
    ``mean``, ``sd`` (:func:`repdrift.experiments.breakdown.side_by_side`).
    """
    columns = [c for c in COLUMN_LABELS if c in set(stats["column"])]
    fig = Figure(figsize=(2.4 * len(columns), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(columns)))
    x = np.arange(len(groups))
    for ax, column in zip(axes, columns, strict=True):
        for offset, source, colour in ((-0.2, "repdrift", "C0"), (0.2, "published", "0.55")):
            sub = stats[(stats["source"] == source) & (stats["column"] == column)]
            sub = sub.set_index("group").reindex(list(groups))
            ax.bar(
                x + offset,
                sub["mean"],
                width=0.38,
                yerr=sub["sd"],
                color=colour,
                label=source,
                capsize=2,
                error_kw={"lw": 0.8},
            )
        ax.set_xticks(x, [labels.get(g, g) for g in groups], rotation=40, ha="right")
        ax.set_title(COLUMN_LABELS[column], fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(frameon=False, fontsize=7)
    fig.suptitle(f"{title}: mean ± SD over runs")
    return fig


def draw_courses(
    courses: pd.DataFrame,
    published: pd.DataFrame,
    groups: Sequence[str],
    labels: Mapping[str, str],
    metrics: Sequence[str],
    title: str,
) -> Figure:
    """Mean ± SD over runs of normalised time courses, one panel per metric, one colour
    per group; the published mean dashed where it exists.

    ``courses`` and ``published``: ``group, metric, t_fraction, value`` (one course per
    ``run`` / ``curve``).
    """
    fig = Figure(figsize=(3.3 * len(metrics), 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, group in enumerate(groups):
            colour = f"C{i}"
            sub = courses[(courses["metric"] == metric) & (courses["group"] == group)]
            if len(sub):
                g = sub.groupby("t_fraction")["value"]
                mean, sd = g.mean(), g.std()
                ax.plot(
                    mean.index,
                    mean.values,
                    color=colour,
                    label=f"{labels.get(group, group)} ({sub['run'].nunique()})",
                )
                ax.fill_between(mean.index, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
            pub = published[(published["metric"] == metric) & (published["group"] == group)]
            if len(pub):
                pm = pub.groupby("t_fraction")["value"].mean()
                ax.plot(
                    pm.index,
                    pm.values,
                    color=colour,
                    ls="--",
                    lw=1.0,
                    label=f"published {labels.get(group, group)}",
                )
        ax.set_xlabel("fraction of the run")
        ax.set_ylabel(COURSE_LABELS.get(metric, metric))
        ax.grid(True, alpha=0.3)
        if metric == "hessian_fraction_nonzero":
            ax.set_ylim(bottom=0)
    axes[0].legend(frameon=False, fontsize=6)
    fig.suptitle(f"{title}: time courses (mean ± SD; dashed: published mean)")
    return fig


def draw_phases(table: pd.DataFrame) -> Figure:
    """Table 1: the three phases of each run as bars on a logarithmic step axis.

    ``table``: ``run``, ``fast_learning_end``, ``directed_drift_end`` (NaN where not
    reached), ``last_step``.
    """
    fig = Figure(figsize=(7.5, 0.45 * len(table) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    for i, row in enumerate(table.itertuples(index=False)):
        start = 1.0
        ends = [("fast learning", row.fast_learning_end)]
        if np.isfinite(row.directed_drift_end):
            ends += [("directed drift", row.directed_drift_end), ("null drift", row.last_step)]
        else:
            ends += [("directed drift", row.last_step)]
        for name, end in ends:
            end = max(float(end), start)
            ax.barh(
                i,
                end - start,
                left=start,
                color=_PHASE_COLOURS[name],
                alpha=0.6,
                label=name if i == 0 or name == "null drift" else None,
            )
            start = end
    ax.set_yticks(np.arange(len(table)), table["run"])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("steps")
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), frameon=False, loc="lower right", fontsize=7)
    ax.set_title("Table 1: fast learning, directed drift, null drift")
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def draw_control(noisy, control) -> Figure:
    """Fig. 2's control: active fraction and mean SI of place units with and without
    update noise (two reopened corridor runs)."""
    fig = Figure(figsize=(9.0, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for run, label, colour in (
        (noisy, "with update noise", "C3"),
        (control, "noise-free GD", "0.3"),
    ):
        m = run.metrics
        left.plot(m["step"].values, m["active_fraction"].values, color=colour, label=label)
        s = run.snapshots
        if "mean_si_place_units" in s:
            right.plot(
                s["step"].values,
                s["mean_si_place_units"].values,
                color=colour,
                marker="o",
                ms=3,
                label=label,
            )
    for ax, ylabel in ((left, "active fraction"), (right, "mean SI of place units (bits)")):
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
        ax.set_xlabel("steps")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(frameon=False)
    left.set_title("Sparsification needs the noise")
    right.set_title("So does the gain of spatial information")
    return fig
