"""Figures of an evaluation (:func:`repdrift.inference.evaluate.evaluate`).

* :func:`draw_confusion` — confusion matrices (rows: true rule, columns: predicted),
  normalised per row, counts written in the cells, one panel per tier side by side, one
  row of panels per protocol;
* :func:`draw_noise` — estimated against true noise magnitude (log–log) for each rule
  with a noise, one panel per tier, the factor-1.5 band shaded;
* :func:`draw_features` — the library in a few of its features, one colour per rule.

Built on :class:`matplotlib.figure.Figure` directly (no ``pyplot``), saved as PNG and PDF.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from repdrift.inference.evaluate import FACTOR

_DPI = 150
_TIER_TITLES = {
    "recording": "recording tier",
    "observables": "observables",
    "hessian": "observables + Hessian",
}
_PROTOCOL_TITLES = {
    "random": "random 5-fold split",
    "task": "held-out task",
    "shape": "held-out size class",
}


def _save(fig: Figure, stem: Path) -> list[Path]:
    out = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=_DPI, bbox_inches="tight")
        out.append(path)
    return out


def _confusion_panel(ax, result: dict[str, Any], title: str) -> Any:
    classes = result["confusion"]["classes"]
    counts = np.asarray(result["confusion"]["counts"], float)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, counts / totals, np.nan)
    image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    n = len(classes)
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                dark = share[i, j] > 0.6
                ax.text(
                    j,
                    i,
                    f"{int(counts[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(n), classes, fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    network = result.get("accuracy_network_rules", math.nan)
    ax.set_title(
        f"{title}\naccuracy {result['accuracy']:.2f} (network rules {network:.2f})",
        fontsize=8,
    )
    return image


def draw_confusion(
    evaluation: dict[str, Any], stem: Path, *, protocols: tuple[str, ...] | None = None
) -> list[Path]:
    """Confusion matrices, protocols × tiers; writes ``stem.png`` and ``stem.pdf``."""
    results = evaluation["protocols"]
    protocols = tuple(p for p in (protocols or tuple(results)) if results.get(p))
    tiers = [t for t in _TIER_TITLES if any(t in results[p] for p in protocols)]
    if not protocols or not tiers:
        return []
    fig = Figure(figsize=(3.3 * len(tiers), 3.1 * len(protocols)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(protocols), len(tiers), squeeze=False))
    image = None
    for r, protocol in enumerate(protocols):
        for c, tier in enumerate(tiers):
            ax = axes[r, c]
            if tier not in results[protocol]:
                ax.set_axis_off()
                continue
            title = f"{_PROTOCOL_TITLES.get(protocol, protocol)}, {_TIER_TITLES[tier]}"
            image = _confusion_panel(ax, results[protocol][tier], title)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="fraction of the true rule's runs")
    return _save(fig, stem)


def draw_noise(predictions: pd.DataFrame, stem: Path, *, protocol: str = "task") -> list[Path]:
    """Estimated against true noise for ``protocol``, one panel per tier."""
    frame = predictions[
        (predictions["protocol"] == protocol) & np.isfinite(predictions["noise_predicted"])
    ]
    tiers = [t for t in _TIER_TITLES if t in set(frame["tier"])]
    if frame.empty or not tiers:
        return []
    rules = sorted(frame["rule"].unique())
    fig = Figure(figsize=(3.2 * len(tiers), 3.2 * len(rules)), layout="constrained")
    axes = fig.subplots(len(rules), len(tiers), squeeze=False)
    for r, rule in enumerate(rules):
        for c, tier in enumerate(tiers):
            ax = axes[r, c]
            mine = frame[(frame["rule"] == rule) & (frame["tier"] == tier)]
            if mine.empty:
                ax.set_axis_off()
                continue
            true = mine["noise"].to_numpy(float)
            est = mine["noise_predicted"].to_numpy(float)
            lo, hi = true.min() / 1.3, true.max() * 1.3
            line = np.geomspace(lo, hi, 50)
            ax.fill_between(line, line / FACTOR, line * FACTOR, color="0.88", lw=0)
            ax.plot(line, line, color="0.4", lw=0.8)
            ax.errorbar(
                true,
                est,
                yerr=[
                    est - mine["noise_low"].to_numpy(float),
                    mine["noise_high"].to_numpy(float) - est,
                ],
                fmt="o",
                ms=2.5,
                lw=0.4,
                alpha=0.6,
                color="C0",
            )
            ax.set_xscale("log")
            ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_minor_formatter(NullFormatter())
            within = np.mean(np.abs(np.log10(est / true)) <= math.log10(FACTOR))
            ax.set_title(
                f"{rule}, {_TIER_TITLES[tier]}\nwithin ×{FACTOR:g}: {within:.2f} "
                f"({len(mine)} runs)",
                fontsize=8,
            )
            ax.set_xlabel("true noise", fontsize=8)
            ax.set_ylabel("estimated (90 % interval)", fontsize=8)
            ax.tick_params(labelsize=7)
    return _save(fig, stem)


#: Pairs of features :func:`draw_features` shows: (x, y, title).
FEATURE_PANELS = (
    ("activity__trend", "units__trend", "what falls: pairs vs units"),
    ("loss__end", "rc__long_ratio", "loss level vs drift"),
    ("hess_trace__trend", "units__trend", "Hessian trace vs units"),
)


def draw_features(table: pd.DataFrame, stem: Path) -> list[Path]:
    """Scatter plots of the library in :data:`FEATURE_PANELS`, coloured by rule."""
    panels = [p for p in FEATURE_PANELS if p[0] in table and p[1] in table]
    if table.empty or not panels:
        return []
    fig = Figure(figsize=(3.4 * len(panels), 3.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    rules = sorted(table["rule"].unique())
    for ax, (x, y, title) in zip(axes, panels, strict=True):
        for k, rule in enumerate(rules):
            mine = table[table["rule"] == rule]
            ax.scatter(mine[x], mine[y], s=5, alpha=0.6, color=f"C{k}", label=rule, lw=0)
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel(y, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, markerscale=2, frameon=False)
    return _save(fig, stem)
