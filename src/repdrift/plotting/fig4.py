"""Fig. 4-style figures: sparsification across rules (A), against the noise level (B), and
in the similarity-matching network (C), with the published runs beside repdrift's.

Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Fig. 4. Inputs are tables (pandas)
and reopened runs; :mod:`repdrift.experiments.fig4` computes them. Figures are built on
:class:`matplotlib.figure.Figure` directly (no ``pyplot``, no global state).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

_PHASE_COLOURS = {"fast learning": "tab:red", "directed drift": "gold", "null drift": "tab:green"}


def draw_a(
    courses: pd.DataFrame,
    published: pd.DataFrame,
    labels: Mapping[str, str],
    published_rule: Mapping[str, str | None],
) -> Figure:
    """Fig. 4A: normalised fraction of active units against the fraction of the run.

    Args:
        courses: ``run, group, metric, t_fraction, value`` (metric
            ``fraction_active_units``), one course per run.
        published: ``rule, t_fraction, mean, std, count`` of the published courses.
        labels: group -> panel title, in drawing order (groups without runs are skipped).
        published_rule: group -> the published rule drawn beside it (``None``: none).
    """
    sub = courses[courses["metric"] == "fraction_active_units"]
    groups = [g for g in labels if g in set(sub["group"])]
    fig = Figure(figsize=(3.2 * max(1, len(groups)), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(groups)), sharey=True))
    for ax, group in zip(axes, groups, strict=False):
        mine = sub[sub["group"] == group]
        for _, run in mine.groupby("run"):
            ax.plot(run["t_fraction"], run["value"], color="C0", lw=0.5, alpha=0.35)
        mean = mine.groupby("t_fraction")["value"].mean()
        ax.plot(
            mean.index,
            mean.values,
            color="C0",
            lw=2.0,
            label=f"repdrift, mean of {mine['run'].nunique()}",
        )
        rule = published_rule.get(group)
        if rule is not None:
            pub = published[published["rule"] == rule]
            ax.plot(
                pub["t_fraction"],
                pub["mean"],
                color="k",
                ls="--",
                lw=1.5,
                label=f"published, mean ± SD of {int(pub['count'].max())}",
            )
            ax.fill_between(
                pub["t_fraction"],
                pub["mean"] - pub["std"],
                pub["mean"] + pub["std"],
                color="k",
                alpha=0.1,
                lw=0,
            )
        ax.set_title(labels[group])
        ax.set_xlabel("fraction of the run")
        ax.set_ylim(0, 1.3)
        ax.grid(True, alpha=0.3)
        ax.legend(frameon=False, loc="upper right", fontsize=7)
    axes[0].set_ylabel("fraction of active units / initial")
    fig.suptitle("Fig. 4A: sparsification across tasks and learning rules")
    return fig


def draw_b(ours: pd.DataFrame, published: pd.DataFrame, numbers: Mapping[str, Any]) -> Figure:
    """Fig. 4B: final active fraction and sparsification rate against σ_u.

    ``ours`` and ``published`` hold ``noise, active, log_tau, log_tau_ok``;
    ``numbers["ours"|"published"]`` the fits of
    :func:`repdrift.experiments.fig4.exponent_numbers`.
    """
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    for df, label, style in (
        (ours, "repdrift", {"color": "C0", "marker": "o"}),
        (published, "published", {"color": "k", "marker": "x"}),
    ):
        fell = df["active"] < 1  # as the paper's panel: the runs whose fraction fell
        left.scatter(df["noise"][fell], df["active"][fell], s=14, label=label, **style)
        ok = df["log_tau_ok"].astype(bool) & (df["log_tau"] != 0)
        right.scatter(df["noise"][ok], 10.0 ** df["log_tau"][ok], s=14, label=label, **style)
    for key, colour, name in (("ours", "C0", "repdrift"), ("published", "k", "published")):
        n = numbers[key]
        if np.isfinite(n["exponent"]):
            x = np.geomspace(n["noise_min"], n["noise_max"], 20)
            right.plot(
                x,
                10.0 ** (n["intercept"] + n["exponent"] * np.log10(x)),
                color=colour,
                lw=1.2,
                label=f"{name}: rate ∝ σ^{n['exponent']:.2f}",
            )
    for ax, ylabel, title in (
        (left, "final active fraction / initial", "End point"),
        (right, "sparsification rate (1/steps, the paper's fit)", "Rate"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("update noise σ_u")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(frameon=False, fontsize=7)
    fig.suptitle("Fig. 4B: the noise sets the pace, not the end point")
    return fig


def draw_c(noisy, quiet, spans: list[tuple[str, float, float]]) -> Figure:
    """Fig. 4C: objective and activity of the similarity-matching network with and
    without synaptic noise; ``spans`` = ``(phase, start, end)`` of the noisy run
    (:func:`repdrift.plotting.hebbian.phase_spans`), shaded."""
    fig = Figure(figsize=(6.0, 5.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for ax in (top, bottom):
        for name, a, b in spans:
            ax.axvspan(
                a,
                b,
                color=_PHASE_COLOURS[name],
                alpha=0.15,
                lw=0,
                label=name if ax is top else None,
            )
    for run, label, style in ((noisy, "synaptic noise", "-"), (quiet, "no noise", ":")):
        r = run.metrics
        top.plot(r["step"].values, r["loss"].values, color="k", ls=style, label=label)
        bottom.plot(
            r["step"].values,
            r["fraction_active_units"].values,
            color="C3",
            ls=style,
            label=f"active neurons, {label}",
        )
        bottom.plot(
            r["step"].values,
            r["active_fraction"].values,
            color="C0",
            ls=style,
            label=f"active fraction, {label}",
        )
    top.set_ylabel("objective (normalised)")
    top.set_title("Fig. 4C: Hebbian/anti-Hebbian similarity matching")
    top.legend(frameon=False, fontsize=7, ncols=2)
    bottom.set_ylabel("fraction")
    bottom.set_xlabel("steps")
    bottom.set_ylim(0, 1.02)
    bottom.legend(frameon=False, fontsize=7)
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    return fig
