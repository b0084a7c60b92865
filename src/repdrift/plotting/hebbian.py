"""Fig. 4C-style figures of the similarity-matching network
(:mod:`repdrift.models.similarity_matching`).

Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Fig. 4C: in a Hebbian/anti-Hebbian
network with synaptic noise (Qin et al. 2023) the objective converges first (*fast
learning*, shaded red), the active fraction then falls at a constant objective
(*directed drift*, yellow), then both are stationary while receptive fields keep
drifting (*null drift*, green).

**Phase rule** (:func:`hebbian_phases`): :func:`repdrift.metrics.timescale.phases` on the
objective and the fraction of active units, with the loss-plateau tolerance
:data:`PLATEAU_FACTOR` = 1.05 instead of 2: the normalised objective starts near 1 and
settles just above its floor ≈ 0.5, so "within a factor 2 of the final level" would hold
from the first record. Fast learning ends when the (running-median) objective first
comes within 5 % of its final level; directed drift ends when an exponential fitted to
the fraction of active units after that has decayed to 5 % of its amplitude (≈ 3 τ).

:func:`draw_hebbian` writes:

===================  ==================================================================
name                 content
===================  ==================================================================
``hebbian_phases``   the objective and the active fractions against steps, the three
                     phases shaded, the fitted sparsification
``hebbian_drift``    (with snapshot centroids) centroids of a few neurons against steps,
                     and the centroid MSD against lag with its initial linear fit
===================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from repdrift.metrics import timescale
from repdrift.models import similarity_matching
from repdrift.plotting import style

#: Names of the figures :func:`draw_hebbian` can write, in order.
FIGURES = ("hebbian_phases", "hebbian_drift")

#: Loss-plateau tolerance of the similarity-matching objective (see the module docstring).
PLATEAU_FACTOR = 1.05

_PHASE_COLOURS = {"fast learning": "tab:red", "directed drift": "gold", "null drift": "tab:green"}


def hebbian_phases(
    steps: np.ndarray, loss: np.ndarray, fraction_active_units: np.ndarray
) -> timescale.Phases:
    """The three phases of a similarity-matching run (module docstring's rule)."""
    return timescale.phases(
        np.asarray(steps, dtype=float),
        np.asarray(loss, dtype=float),
        np.asarray(fraction_active_units, dtype=float),
        factor=PLATEAU_FACTOR,
    )


def phase_spans(phases: timescale.Phases, last_step: float) -> list[tuple[str, float, float]]:
    """``(name, start, end)`` of the phases that were found, in order."""
    spans = [("fast learning", 0.0, phases.fast_learning_end)]
    end = phases.directed_drift_end
    spans.append(("directed drift", phases.fast_learning_end, last_step if end is None else end))
    if end is not None:
        spans.append(("null drift", end, last_step))
    return spans


def _shade(ax: Axes, spans: list[tuple[str, float, float]], label: bool) -> None:
    for name, start, end in spans:
        ax.axvspan(
            start, end, color=_PHASE_COLOURS[name], alpha=0.15, lw=0, label=name if label else None
        )


def _draw_phases(fig: Figure, metrics: xr.Dataset) -> None:
    steps = metrics["step"].values.astype(float)
    loss = metrics["loss"].values.astype(float)
    units = metrics["fraction_active_units"].values.astype(float)
    phases = hebbian_phases(steps, loss, units)
    spans = phase_spans(phases, float(steps[-1]))
    top, bottom = fig.subplots(2, 1, sharex=True)
    _shade(top, spans, label=True)
    top.plot(steps, loss, color="k", lw=1.2, label="objective")
    top.set_ylabel("similarity-matching objective\n(normalised)")
    top.set_title("Hebbian/anti-Hebbian network with synaptic noise")
    top.legend(loc="upper right", frameon=False, ncols=2)
    top.grid(True, alpha=0.3)

    _shade(bottom, spans, label=False)
    if "active_fraction" in metrics:
        bottom.plot(
            steps,
            metrics["active_fraction"].values,
            color="C0",
            lw=1.2,
            label="active fraction (neuron × input pairs)",
        )
    bottom.plot(steps, units, color="C3", lw=1.2, label="active neurons (any input)")
    fit = phases.fit
    if fit.ok:
        t = steps[steps >= fit.t0_step]
        bottom.plot(
            t,
            fit.predict(t),
            color="C1",
            lw=1.2,
            ls="--",
            label=f"exponential fit, τ = {fit.tau_steps:,.0f} steps",
        )
    bottom.set_ylim(0, 1.02)
    bottom.set_xlim(float(steps[0]), float(steps[-1]))
    bottom.set_xlabel("steps")
    bottom.set_ylabel("fraction")
    bottom.legend(loc="lower left", frameon=False)
    bottom.grid(True, alpha=0.3)
    if phases.message:
        bottom.text(
            0.99,
            0.98,
            phases.message,
            transform=bottom.transAxes,
            ha="right",
            va="top",
            fontsize=7,
            color="0.3",
            wrap=True,
        )


def _draw_drift(fig: Figure, centroid: xr.DataArray, period: float | None, traces: int) -> None:
    steps = centroid["step"].values.astype(float)
    c = centroid.transpose("step", ...).values.astype(float)
    left, right = fig.subplots(1, 2)
    always = np.flatnonzero(np.all(np.isfinite(c), axis=0))
    shown = always[:traces] if always.size else np.arange(min(traces, c.shape[1]))
    for i in shown:
        trace = c[:, i].copy()
        if period is not None:  # break the line where it wraps around
            jumps = np.abs(np.diff(trace)) > period / 2
            trace = np.insert(trace, np.flatnonzero(jumps) + 1, np.nan)
            t = np.insert(steps, np.flatnonzero(jumps) + 1, np.nan)
        else:
            t = steps
        left.plot(t, trace, lw=1.0)
    left.set_xlabel("steps")
    left.set_ylabel("receptive-field centroid" + (" (rad)" if period is not None else ""))
    left.set_title(f"Centroids of {len(shown)} neurons")
    left.grid(True, alpha=0.3)

    lags, msd, _ = similarity_matching.centroid_msd(c, steps, period=period)
    right.plot(lags, msd, color="k", marker="o", ms=2.5, lw=1.0, label="centroid MSD")
    finite = np.isfinite(msd)
    if np.count_nonzero(finite & (lags > 0)) >= 3:
        fit = similarity_matching.diffusion_constant(lags, msd)
        t = lags[: fit.fit_lags]
        right.plot(
            t,
            fit.intercept + fit.slope * t,
            color="C1",
            lw=1.5,
            label=f"linear fit: D = {fit.diffusion_constant:.3g} per step",
        )
    right.set_xlabel("lag (steps)")
    right.set_ylabel("mean squared displacement" + (" (rad²)" if period is not None else ""))
    right.set_title("Drift of receptive fields")
    right.legend(loc="lower right", frameon=False)
    right.grid(True, alpha=0.3)


def draw_hebbian(
    metrics: xr.Dataset,
    out_dir: str | Path,
    *,
    centroid: xr.DataArray | None = None,
    period: float | None = None,
    formats: Sequence[str] = ("png", "pdf"),
    traces: int = 5,
) -> list[Path]:
    """Write the Fig. 4C figures of one similarity-matching run; return the paths.

    Args:
        metrics: one run's records over ``step``: ``loss`` (the objective),
            ``fraction_active_units`` and, when present, ``active_fraction``.
        out_dir: folder (created if needed); each figure is ``out_dir/<name>.<format>``.
        centroid: snapshot centroids with dims ``step`` and ``neuron`` (NaN for neurons
            without a field); ``hebbian_drift`` is drawn only with two snapshots or more.
        period: circumference of circular positions (2π on the ring), ``None`` on a line.
        formats: matplotlib file formats.
        traces: neurons whose centroids are drawn.

    Returns:
        The written files, figure by figure in :data:`FIGURES` order, formats in order.

    Raises:
        ValueError: for missing variables or dims, fewer than 5 records, or no formats.
    """
    formats = tuple(formats)
    if not formats:
        raise ValueError("formats: give at least one file format, e.g. ('png', 'pdf')")
    missing = {"loss", "fraction_active_units"} - set(metrics.data_vars)
    if missing:
        raise ValueError(f"metrics: missing variables {sorted(missing)}")
    if metrics["loss"].dims != ("step",):
        raise ValueError(
            f"metrics['loss'] must have the one dim 'step', got {metrics['loss'].dims}"
        )
    if metrics.sizes["step"] < 5:
        raise ValueError(
            f"metrics: need at least 5 records to place phases, got {metrics.sizes['step']}"
        )
    if centroid is not None and set(centroid.dims) != {"step", "neuron"}:
        raise ValueError(f"centroid must have dims ('step', 'neuron'), got {centroid.dims}")
    drawn = ["hebbian_phases"]
    if centroid is not None and centroid.sizes["step"] >= 2:
        drawn.append("hebbian_drift")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with mpl.rc_context(style.STYLE):
        for name in drawn:
            if name == "hebbian_phases":
                fig = Figure(figsize=(5.5, 5.0), layout="constrained")
                _draw_phases(fig, metrics)
            else:
                fig = Figure(figsize=(9.0, 3.6), layout="constrained")
                _draw_drift(fig, centroid, period, traces)
            written += style.save(fig, out_dir, name, formats)
    return written
