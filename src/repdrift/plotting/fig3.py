"""Fig. 3-style figure: place-cell fraction and spatial information over days.

Each panel shows a metric normalised to each series' first session against the days
since that session: thin lines per animal (its tracks averaged), the mean ± SEM across
animals, and the pooled regression line with its slope and p-value (Ratzon et al. 2024,
Fig. 3). A last panel shows the rate-map correlation of registered cells against the
days between sessions (drift), when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PANELS: dict[str, str] = {
    "fraction_place": "Fraction of place cells",
    "mean_si_naive": "Mean SI, naive",
    "mean_si_ssr": "Mean SI, SSR-corrected",
    "mean_si_bae": "Mean SI, BAE-corrected",
    "n_active": "Active cells",
}


def animal_means(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``(elapsed_days × animals)`` mean of ``<metric>_norm`` over each animal's tracks."""
    return table.pivot_table(
        index="elapsed_days", columns="animal", values=f"{metric}_norm", aggfunc="mean"
    )


def mean_sem(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the last axis, ignoring NaN (NaN SEM below 2 values)."""
    finite = np.isfinite(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        squares = (np.where(finite, values - mean[..., None], 0.0) ** 2).sum(axis=-1)
        sem = np.sqrt(squares / (count - 1)) / np.sqrt(count)
    return np.where(count > 0, mean, np.nan), np.where(count > 1, sem, np.nan)


def plot_fig3(
    table: pd.DataFrame,
    regressions: Mapping[str, Mapping[str, object]] | None = None,
    drift: pd.DataFrame | None = None,
    *,
    metrics: Sequence[str] = ("fraction_place", "mean_si_naive", "mean_si_ssr", "mean_si_bae"),
    title: str | None = None,
) -> Figure:
    """Draw the figure from the per-session table (:func:`repdrift.data.session_table`).

    Args:
        table: per-session table with ``elapsed_days`` and ``<metric>_norm`` columns.
        regressions: output of :func:`repdrift.data.trend_regressions` (for the pooled
            line and its annotation).
        drift: output of :func:`repdrift.data.rate_map_drift` (adds a drift panel).
        metrics: which normalised metrics to show, one panel each.
        title: figure title.
    """
    metrics = [m for m in metrics if f"{m}_norm" in table]
    n_panels = len(metrics) + (1 if drift is not None and not drift.empty else 0)
    # The object-oriented API: no pyplot state, no backend switch, safe in any process.
    fig = Figure(figsize=(3.4 * max(1, n_panels), 3.3), layout="constrained")
    axes = fig.subplots(1, max(1, n_panels), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=False):
        means = animal_means(table, metric)
        days = means.index.to_numpy(dtype=float)
        for animal in means.columns:
            ax.plot(days, means[animal], color="0.75", lw=0.8, marker=".", ms=3)
        centre, sem = mean_sem(means.to_numpy(dtype=float))
        count = np.isfinite(means.to_numpy(dtype=float)).sum(axis=1)
        ax.errorbar(
            days,
            centre,
            yerr=np.where(count > 1, sem, np.nan),
            color="k",
            marker="o",
            ms=4,
            capsize=2,
            lw=1.5,
            label=f"mean ± SEM (n={means.shape[1]})",
        )
        fit = (regressions or {}).get(metric, {}).get("pooled") if regressions else None
        if fit and np.isfinite(fit.get("slope", np.nan)):
            x = np.array([days.min(), days.max()])
            ax.plot(x, fit["intercept"] + fit["slope"] * x, color="tab:red", lw=1.2)
            ax.text(
                0.03,
                0.97,
                f"slope {fit['slope']:+.3f}/day\np = {fit['p_value']:.2g}",
                transform=ax.transAxes,
                va="top",
                fontsize=8,
                color="tab:red",
            )
        ax.axhline(1.0, color="0.5", lw=0.6, ls=":")
        ax.set_xlabel("Days since first session")
        ax.set_ylabel(f"{PANELS.get(metric, metric)}\n(normalised to first session)")
    if n_panels > len(metrics):
        ax = axes[0][len(metrics)]
        for (_, _), group in drift.groupby(["animal", "track"]):
            ax.plot(group["elapsed_days"], group["mean_correlation"], ".", color="0.6", ms=3)
        binned = drift.groupby("elapsed_days")["mean_correlation"]
        ax.errorbar(
            binned.mean().index,
            binned.mean(),
            yerr=binned.sem(),
            color="k",
            marker="o",
            ms=4,
            capsize=2,
        )
        ax.set_xlabel("Days between sessions")
        ax.set_ylabel("Rate-map correlation\n(registered place cells)")
    if title:
        fig.suptitle(title)
    return fig
