"""Fig. 5-style figures: the toy loss against its theory (A), flatness against sparseness
across runs (B), and Hessian spectra at two times under update and label noise (C, D).

Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Fig. 5. Inputs are reopened runs,
tables and eigenvalues computed by :mod:`repdrift.experiments.fig5`; figures are built on
:class:`matplotlib.figure.Figure` directly (no ``pyplot``, no global state). The loss
landscape with trajectories is :func:`repdrift.plotting.toy.draw_toy`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def draw_a(update, label, control, numbers: Mapping[str, Any]) -> Figure:
    """Fig. 5A against theory: mean log|x| under update noise (with the early drift
    ``−η²σ²/x₀²`` per step, and the noise-free control), and mean x and the Hessian trace
    under label noise (with ``x₀ exp(−2η²s²t)``). Runs of the toy model."""
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    ax_log, ax_label = fig.subplots(1, 2)
    m = update.metrics
    steps = m["step"].values.astype(float)
    x0 = float(m["x"].values[0, 0])
    ax_log.plot(steps, m["mean_log_abs_x"].values, color="C0", label="update noise")
    ax_log.plot(
        steps,
        np.log(abs(x0)) + numbers["update"]["drift_log_abs_x_theory"] * steps,
        color="C0",
        ls="--",
        label="theory: −η²σ²/x₀² per step (early)",
    )
    c = control.metrics
    ax_log.plot(c["step"].values, c["mean_log_abs_x"].values, color="0.4", ls=":", label="no noise")
    ax_log.set_xlabel("steps")
    ax_log.set_ylabel("mean log|x|")
    ax_log.set_title("Update noise: drift towards the flat end")
    ax_log.legend(frameon=False, fontsize=7)
    ax_log.grid(True, alpha=0.3)

    lm = label.metrics
    ls = lm["step"].values.astype(float)
    lr, s = label.config.model.lr, label.config.model.noise_std
    ax_label.plot(ls, lm["mean_x"].values, color="C3", label="label noise: mean x")
    ax_label.plot(
        ls,
        float(lm["x"].values[0, 0]) * np.exp(-2 * lr**2 * s**2 * ls),
        color="C3",
        ls="--",
        label="theory: x₀ exp(−2η²s²t)",
    )
    twin = ax_label.twinx()
    twin.spines["right"].set_visible(True)
    ratio = numbers["label"]["trace_final_over_initial"]
    twin.plot(
        ls,
        lm["hessian_trace"].values,
        color="k",
        lw=0.8,
        label=f"Hessian trace (final / initial {ratio:.2g})",
    )
    twin.set_ylabel("mean Hessian trace")
    ax_label.set_xlabel("steps")
    ax_label.set_ylabel("mean x")
    ax_label.set_title("Label noise: the curvature itself shrinks")
    h1, l1 = ax_label.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax_label.legend(h1 + h2, l1 + l2, frameon=False, fontsize=7)
    ax_label.grid(True, alpha=0.3)
    fig.suptitle("Fig. 5A: noisy GD on L = x²y²")
    return fig


def draw_b(ours: pd.DataFrame, published: pd.DataFrame, numbers: Mapping[str, Any]) -> Figure:
    """Fig. 5B: fraction of non-zero Hessian eigenvalues against the final fraction of
    active units, per run (``active_units``, ``eig_nonzero`` columns; coloured by the
    ``task`` column when ``numbers["ours"]["by_task"]`` names the tasks)."""
    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    by_task = numbers["ours"].get("by_task", {})
    if "task" in ours and by_task:
        # one colour per task: tasks of other output sizes lie on other lines
        for i, (task, entry) in enumerate(by_task.items()):
            sub = ours[ours["task"] == task]
            ax.scatter(
                sub["active_units"],
                sub["eig_nonzero"],
                color=f"C{i}",
                s=16,
                label=f"repdrift, {task} (r = {entry['r']:.2f})",
            )
        rest = ours[~ours["task"].isin(list(by_task))]
        if len(rest):
            ax.scatter(rest["active_units"], rest["eig_nonzero"], color="0.6", s=16)
    else:
        ax.scatter(
            ours["active_units"],
            ours["eig_nonzero"],
            color="C0",
            s=16,
            label=f"repdrift (r = {numbers['ours']['r']:.2f})",
        )
    ax.scatter(
        published["active_units"],
        published["eig_nonzero"],
        color="k",
        marker="x",
        s=12,
        label=f"published, λ > 0 counted (r = {numbers['published']['r']:.2f})",
    )
    ax.set_xlabel("final fraction of active units / initial")
    ax.set_ylabel("fraction of non-zero Hessian eigenvalues")
    ax.set_title("Fig. 5B: flatness tracks sparseness")
    fig.legend(loc="outside lower center", ncols=2, fontsize=7, frameon=False)
    ax.grid(True, alpha=0.3)
    return fig


def draw_spectra(spectra: Mapping[str, Mapping[str, Any]], rtol: float) -> Figure:
    """Fig. 5C/D: positive non-zero eigenvalues by rank at two times, per noise.

    ``spectra[kind]["spectra"]`` is a list of ``(step, eigenvalues)``; ``kind`` is
    ``update`` (C) or ``label`` (D). Non-zero: ``|λ| > rtol · max|λ|``.
    """
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(spectra)))
    titles = {"update": "C: update noise", "label": "D: label noise"}
    for ax, (kind, item) in zip(axes, spectra.items(), strict=True):
        for (step, ev), colour in zip(item["spectra"], ("C0", "C3"), strict=False):
            ev = np.asarray(ev, float)
            nonzero = ev[np.abs(ev) > rtol * np.max(np.abs(ev))]
            positive = np.sort(nonzero[nonzero > 0])[::-1]
            ax.plot(
                np.arange(1, positive.size + 1),
                positive,
                color=colour,
                label=f"step {step:,}: {nonzero.size} non-zero, trace {ev.sum():.3g}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rank")
        ax.set_ylabel("eigenvalue")
        ax.set_title(titles.get(kind, kind))
        ax.legend(frameon=False, fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("Fig. 5C/D: the Hessian spectrum after convergence and at the end")
    return fig
