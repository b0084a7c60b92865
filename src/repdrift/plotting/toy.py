"""Fig. 5A-style figures of the 2-D toy loss ``L = x² y²`` (:mod:`repdrift.models.toy`).

Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Fig. 5A: noisy gradient descent
started far out on the zero-loss x-axis drifts along it towards the origin, where the
valley is flatter.

:func:`draw_toy` writes, from one run's records (an :class:`xarray.Dataset` with dims
``step`` and ``particle``, holding ``x`` and ``y`` per particle and the summaries
``mean_x``, ``mean_log_abs_x``, ``hessian_trace``):

==================  ===================================================================
name                content
==================  ===================================================================
``toy_landscape``   the loss landscape (log₁₀ L as colour), one particle's trajectory
                    from the start point, and every particle's final position
``toy_x``           x against steps: the mean over particles, a few trajectories, and
                    the Hessian trace on a second axis
==================  ===================================================================

The start point is the first record (the engine records step 0). Figures are built on
:class:`matplotlib.figure.Figure` directly (no ``pyplot``, no backend switched, no
``rcParams`` leaking out).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from repdrift.plotting import style

#: Names of the figures :func:`draw_toy` writes, in order.
FIGURES = ("toy_landscape", "toy_x")

_FLOOR = 1e-12  # log colour scale: L = 0 on the axes


def _check(metrics: xr.Dataset) -> None:
    missing = {"x", "y"} - set(metrics.data_vars)
    if missing:
        raise ValueError(f"metrics: missing variables {sorted(missing)} of the toy model")
    for name in ("x", "y"):
        if set(metrics[name].dims) != {"step", "particle"}:
            raise ValueError(
                f"metrics[{name!r}] must have dims ('step', 'particle') of one run, "
                f"got {metrics[name].dims}"
            )
    if metrics.sizes["step"] < 1:
        raise ValueError("metrics: no records to draw")


def landscape_extent(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """``(x_lo, x_hi, y_lo, y_hi)`` framing every position, the origin and a margin.

    The valley is narrow (``|y| ~ √η σ/|x|``), so y gets its own scale.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x_lo, x_hi = min(0.0, np.nanmin(x)), max(0.0, np.nanmax(x))
    y_half = max(np.nanmax(np.abs(y)), 1e-6)
    dx = 0.08 * (x_hi - x_lo or 1.0)
    return x_lo - dx, x_hi + dx, -1.25 * y_half, 1.25 * y_half


def _draw_landscape(fig: Figure, ax: Axes, metrics: xr.Dataset) -> None:
    x = metrics["x"].transpose("step", "particle").values.astype(float)
    y = metrics["y"].transpose("step", "particle").values.astype(float)
    x_lo, x_hi, y_lo, y_hi = landscape_extent(x, y)
    gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, 300), np.linspace(y_lo, y_hi, 200))
    log_loss = np.log10(np.maximum((gx * gy) ** 2, _FLOOR))
    low = max(float(np.percentile(log_loss, 5)), np.log10(_FLOOR))
    mesh = ax.pcolormesh(
        gx, gy, log_loss, cmap="viridis", vmin=low, shading="auto", rasterized=True
    )
    fig.colorbar(mesh, ax=ax, label="log₁₀ L(x, y) = log₁₀ x²y²")
    ax.axhline(0, color="w", lw=0.8, ls="--", label="zero-loss manifold (y = 0)")
    ax.plot(x[:, 0], y[:, 0], color="C1", lw=0.8, label="one trajectory")
    ax.scatter(x[-1], y[-1], s=2, color="w", alpha=0.5, lw=0, label="final positions")
    ax.plot(x[0, 0], y[0, 0], marker="*", ms=10, color="C3", ls="none", label="start")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    steps = metrics["step"].values
    ax.set_title(f"L = x²y²: {x.shape[1]:,} particles, steps {steps[0]:,}–{steps[-1]:,}")
    ax.legend(loc="upper left", frameon=True, framealpha=0.6)


def _draw_x(ax: Axes, metrics: xr.Dataset, trajectories: int) -> None:
    steps = metrics["step"].values
    x = metrics["x"].transpose("step", "particle").values.astype(float)
    for i in range(min(trajectories, x.shape[1])):
        ax.plot(steps, x[:, i], color="0.6", lw=0.6, label="particles" if i == 0 else None)
    mean_x = metrics["mean_x"].values if "mean_x" in metrics else x.mean(axis=1)
    ax.plot(steps, mean_x, color="k", lw=1.6, label="mean x")
    ax.set_xlabel("steps")
    ax.set_ylabel("x")
    ax.set_title("Drift along the manifold")
    ax.grid(True, alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    if "hessian_trace" in metrics:
        twin = ax.twinx()
        twin.spines["right"].set_visible(True)
        (line,) = twin.plot(steps, metrics["hessian_trace"].values, color="C3", lw=1.0, ls="--")
        twin.set_ylabel("mean Hessian trace 2(x² + y²)", color="C3")
        lines.append(line)
        labels.append("Hessian trace")
    ax.legend(lines, labels, loc="best", frameon=False)


def draw_toy(
    metrics: xr.Dataset,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    trajectories: int = 5,
) -> list[Path]:
    """Write the Fig. 5A figures of one toy run into ``out_dir``; return the paths.

    Args:
        metrics: one run's records: ``x`` and ``y`` with dims ``step`` and ``particle``;
            ``mean_x`` and ``hessian_trace`` over ``step`` are used when present.
        out_dir: folder (created if needed); each figure is ``out_dir/<name>.<format>``.
        formats: matplotlib file formats.
        trajectories: particles drawn individually in ``toy_x``.

    Returns:
        The written files, figure by figure in :data:`FIGURES` order, formats in order.

    Raises:
        ValueError: without ``x``/``y`` of dims ``(step, particle)``, or with no formats.
    """
    formats = tuple(formats)
    if not formats:
        raise ValueError("formats: give at least one file format, e.g. ('png', 'pdf')")
    _check(metrics)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with mpl.rc_context(style.STYLE):
        for name in FIGURES:
            if name == "toy_landscape":
                fig = Figure(figsize=(6.4, 4.0), layout="constrained")
                _draw_landscape(fig, fig.add_subplot(), metrics)
            else:
                fig = Figure(figsize=(5.0, 3.6), layout="constrained")
                _draw_x(fig.add_subplot(), metrics, trajectories)
            written += style.save(fig, out_dir, name, formats)
    return written
