"""Fig. 2-style figures of one stored run.

Ratzon, Derdikman & Barak (2024), "Representational drift as a result of implicit
regularization", eLife 13:RP90069, Fig. 2: after the loss converges, noisy learning keeps
reducing the fraction of active units and raising their spatial information, while the
place fields drift.

:func:`draw_fig2` writes, for a run opened with :func:`repdrift.open_run`:

=======================  ==================================================================
name                     content
=======================  ==================================================================
``loss``                 loss (MSE / var(targets)) against steps, log–log; loss plateau
``activity``             fraction of active unit × sample pairs (the paper's Fig. 2C
                         "fraction active units") and of active units; the
                         sparsification fit and end of directed drift when found
``spatial_information``  mean SI of place units (Fig. 2C) and of active units, place units
``rate_maps``            4 × 4 rate maps of place units, smoothed as the paper (σ = 6 % of
                         the bins), at evenly spaced times, sorted by each time's peaks
                         (Fig. 2D)
``drift``                mean correlation of smoothed rate maps between evenly spaced
                         snapshots, over units that are place units at both (Fig. 2E)
``summary``              loss, activity, mean SI and the correlation matrix together
=======================  ==================================================================

Time axes are symmetric-log (linear on ``[0, 1]``, logarithmic beyond) so that step 0 is
shown. The loss plateau, the sparsification fit and the end of directed drift come from
:func:`repdrift.metrics.timescale.phases`; the correlation matrix from
:func:`repdrift.metrics.drift.rate_map_correlation_matrix`. Figures are built on
:class:`matplotlib.figure.Figure` directly, never through ``pyplot``: no backend is
switched, no figure is left open, no ``rcParams`` leak out.
Tasks without positions (random mappings) have no rate maps: their ``spatial_information``,
``rate_maps`` and ``drift`` figures are not drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from repdrift.metrics import drift, timescale, tuning
from repdrift.plotting import style

if TYPE_CHECKING:
    from repdrift.runs import Run

#: Names of the figures :func:`draw_fig2` can write, in order.
FIGURES = ("loss", "activity", "spatial_information", "rate_maps", "drift", "summary")

#: Figures that need rate maps (skipped for tasks without positions).
SPATIAL_FIGURES = ("spatial_information", "rate_maps", "drift")

_STYLE = {**style.STYLE, "image.interpolation": "nearest"}
_STEP_LABEL = "steps"


# ------------------------------------------------------------------------ the analyses


def peak_order(maps: np.ndarray, units: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``units`` sorted by the bin of their rate map's peak.

    ``maps: (unit, bin)`` rate maps (NaN bins ignored); ``units``: ``(unit,)`` booleans of
    the units to keep (all when ``None``). Ties keep unit order (stable sort). With the
    two running directions as consecutive bin blocks, units peaking while running in the
    ``+1`` direction come first (Fig. 2D ordering).
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 2:
        raise ValueError(f"maps must be (unit, bin), got shape {maps.shape}")
    keep = np.arange(maps.shape[0]) if units is None else np.flatnonzero(units)
    if keep.size == 0:
        return keep
    filled = np.where(np.isfinite(maps[keep]), maps[keep], -np.inf)
    peaks = np.argmax(filled, axis=-1)
    return keep[np.argsort(peaks, kind="stable")]


def pick_snapshots(steps: np.ndarray, n: int = 4) -> np.ndarray:
    """Indices of ``n`` snapshots evenly spread over the stored ones (first and last kept)."""
    count = len(steps)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, count - 1, n)).astype(np.int64))


def linear_snapshot_indices(run: Run) -> np.ndarray:
    """Indices of the run's evenly spaced snapshots (``record.linear_snapshots``), the
    times the paper's Fig. 2D/E use; all snapshots when the run has none."""
    steps = run.snapshots["step"].values
    n = run.config.record.linear_snapshots
    if n < 1:
        return np.arange(len(steps))
    total = int(run.status.steps_total or run.config.run.steps)
    wanted = np.unique(np.round(np.linspace(0, total, n + 1)).astype(np.int64))
    return np.flatnonzero(np.isin(steps, wanted))


def place_mask(run: Run) -> np.ndarray:
    """``(snapshot, unit)``: active units with SI above the run's place-unit threshold."""
    snapshots = run.snapshots
    si = snapshots["si_bits_per_activity"].values
    active = drift.active_in_map(snapshots["rate_map"].values)
    return active & tuning.place_units(si, run.config.record.si_threshold)


def place_map_correlations(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 2E: ``(steps, matrix)`` of mean Pearson correlations of smoothed rate maps
    between evenly spaced snapshots, over units that are place units at both times."""
    idx = linear_snapshot_indices(run)
    maps = tuning.smooth_rate_maps(run.snapshots["rate_map"].values[idx], run.config.record.bins)
    corr = drift.rate_map_correlation_matrix(maps, active=place_mask(run)[idx])
    return run.snapshots["step"].values[idx], corr


def run_phases(metrics: xr.Dataset) -> timescale.Phases | None:
    """The phases of learning (:func:`repdrift.metrics.timescale.phases`) of a run's records.

    Fitted on ``loss`` and ``fraction_active_units``; ``None`` when there are too few
    finite records to place even the loss plateau.
    """
    steps = metrics["step"].values.astype(float)
    loss = metrics["loss"].values.astype(float)
    if np.count_nonzero(np.isfinite(loss) & (loss > 0)) < 5:
        return None
    return timescale.phases(steps, loss, metrics["fraction_active_units"].values)


# ---------------------------------------------------------------------------- drawing


def _time_axis(ax: Axes, steps: np.ndarray) -> None:
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
    ax.set_xlim(0, max(float(np.max(steps)) if len(steps) else 1.0, 1.0) * 1.3)
    ax.set_xlabel(_STEP_LABEL)


def _mark_step(ax: Axes, step: float, label: str, style: str) -> None:
    ax.axvline(step, color="0.35", ls=style, lw=0.9, label=label)


def _draw_loss(
    ax: Axes, metrics: xr.Dataset, phases: timescale.Phases | None, title: str = "Loss"
) -> None:
    steps = metrics["step"].values
    loss = metrics["loss"].values.astype(float)
    ok = np.isfinite(loss) & (loss > 0)
    ax.plot(steps[ok], loss[ok], color="k", lw=1.2, label="loss")
    if phases is not None:
        _mark_step(
            ax,
            phases.fast_learning_end,
            f"loss plateau (step {phases.fast_learning_end:,.0f})",
            ":",
        )
        ax.legend(loc="best", frameon=False)
    _time_axis(ax, steps)
    if ok.any():
        ax.set_yscale("log")
    ax.set_ylabel("loss (MSE / var(targets))")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)


def _draw_activity(ax: Axes, metrics: xr.Dataset, phases: timescale.Phases | None) -> None:
    steps = metrics["step"].values
    ax.plot(
        steps,
        metrics["active_fraction"].values,
        color="C0",
        lw=1.2,
        label="active fraction (unit × sample pairs)",
    )
    ax.plot(
        steps,
        metrics["fraction_active_units"].values,
        color="C3",
        lw=1.2,
        label="active units (any sample)",
    )
    if phases is not None:
        fit = phases.fit
        if fit.ok:
            t = steps[steps >= fit.t0_step]
            ax.plot(
                t,
                fit.predict(t),
                color="C1",
                lw=1.5,
                label=f"exponential fit, τ = {fit.tau_steps:,.0f} steps",
            )
        _mark_step(ax, phases.fast_learning_end, "loss plateau", ":")
        if phases.directed_drift_end is not None:
            _mark_step(ax, phases.directed_drift_end, "end of directed drift", "--")
    _time_axis(ax, steps)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("fraction")
    ax.set_title("Activity")
    ax.legend(loc="best", frameon=False)
    ax.grid(True, which="major", alpha=0.3)


def _draw_si(ax: Axes, snapshots: xr.Dataset) -> None:
    steps = snapshots["step"].values
    (si_line,) = ax.plot(
        steps,
        snapshots["mean_si_place_units"].values,
        color="C2",
        marker="o",
        ms=3,
        lw=1.2,
        label="mean SI of place units (Fig. 2C)",
    )
    (active_line,) = ax.plot(
        steps,
        snapshots["mean_si_active_units"].values,
        color="C2",
        ls=":",
        lw=1.0,
        label="mean SI of active units",
    )
    _time_axis(ax, steps)
    ax.set_ylabel("SI (bits / unit activity)")
    ax.set_title("Spatial information")
    ax.grid(True, which="major", alpha=0.3)
    lines = [si_line, active_line]
    if "place_units_fraction" in snapshots:
        twin = ax.twinx()
        twin.spines["right"].set_visible(True)
        (frac_line,) = twin.plot(
            steps,
            snapshots["place_units_fraction"].values,
            color="C1",
            marker="s",
            ms=3,
            lw=1.0,
            ls="--",
            label="place units (fraction of all)",
        )
        twin.set_ylim(0, 1.02)
        twin.set_ylabel("fraction of units", color="C1")
        twin.tick_params(axis="y", colors="C1")
        lines.append(frac_line)
    # SI rises and the place-unit fraction falls: the middle left is usually free.
    ax.legend(handles=lines, loc="center left", frameon=False)


def _step_ticks(steps: np.ndarray, max_ticks: int = 8) -> tuple[np.ndarray, list[str]]:
    idx = np.unique(
        np.round(np.linspace(0, len(steps) - 1, min(max_ticks, len(steps)))).astype(int)
    )
    return idx, [f"{int(steps[i]):,}" for i in idx]


def _draw_drift(fig: Figure, ax: Axes, steps: np.ndarray, corr: np.ndarray) -> None:
    low = min(0.0, float(np.nanmin(corr))) if np.isfinite(corr).any() else 0.0
    cmap = mpl.colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(
        np.ma.masked_invalid(corr), cmap=cmap, vmin=low, vmax=1.0, origin="lower", aspect="equal"
    )
    idx, labels = _step_ticks(steps)
    ax.set_xticks(idx, labels, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(idx, labels)
    ax.set_xlabel("snapshot (step)")
    ax.set_ylabel("snapshot (step)")
    ax.set_title("Rate-map correlation")
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    fig.colorbar(image, ax=ax, label="mean Pearson r (place units at both)", shrink=0.85)


def _normalise_rows(maps: np.ndarray) -> np.ndarray:
    peak = np.nanmax(np.where(np.isfinite(maps), maps, -np.inf), axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(peak > 0, maps / peak, np.where(np.isfinite(maps), 0.0, np.nan))


def _draw_rate_maps(
    fig: Figure, snapshots: xr.Dataset, bins: int, shown: np.ndarray, place: np.ndarray
) -> None:
    maps = tuning.smooth_rate_maps(snapshots["rate_map"].values, bins)  # (step, unit, bin)
    steps = snapshots["step"].values
    n = len(shown)
    # A fixed grid: a constrained layout of n² image panels costs seconds per save.
    axes = fig.subplots(
        n,
        n,
        squeeze=False,
        sharex=True,
        gridspec_kw={
            "left": 0.09,
            "right": 0.88,
            "bottom": 0.07,
            "top": 0.91,
            "wspace": 0.08,
            "hspace": 0.12,
        },
    )
    cmap = mpl.colormaps["viridis"].with_extremes(bad="white")
    image = None
    for i, s_sort in enumerate(shown):
        order = peak_order(maps[s_sort], place[s_sort])
        for j, s_show in enumerate(shown):
            ax = axes[i, j]
            for side in ("top", "right"):
                ax.spines[side].set_visible(True)
            if order.size:
                rows = _normalise_rows(maps[s_show][order])
                image = ax.imshow(
                    np.ma.masked_invalid(rows),
                    cmap=cmap,
                    vmin=0,
                    vmax=1,
                    aspect="auto",
                    origin="upper",
                    extent=(-0.5, rows.shape[1] - 0.5, order.size, 0),
                )
                ax.axvline(bins - 0.5, color="k", lw=1.0)
            else:
                ax.text(
                    0.5,
                    0.5,
                    "no place units",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="0.4",
                )
            ax.set_xticks([bins / 2 - 0.5, 1.5 * bins - 0.5], ["run →", "run ←"])
            if i == 0:
                ax.set_title(f"maps at step {int(steps[s_show]):,}")
            if j == 0:
                ax.set_ylabel(f"sorted at step {int(steps[s_sort]):,}\n{order.size} place units")
            else:
                ax.set_yticks([])
            if i == n - 1:
                ax.set_xlabel("position (bins)")
    fig.suptitle(
        "Place units' rate maps (smoothed): row i sorted by peak at time i, shown at time j"
    )
    if image is not None:
        cax = fig.add_axes((0.91, 0.3, 0.015, 0.4))
        fig.colorbar(image, cax=cax, label="activity / row max")


# -------------------------------------------------------------------------- entry point


def available_figures(run: Run) -> tuple[str, ...]:
    """The names in :data:`FIGURES` that ``run`` has the data for.

    The spatial figures need rate maps (tasks with positions) at one snapshot at least,
    and ``drift`` needs two snapshots.
    """
    snapshots = run.snapshots
    n_snapshots = snapshots.sizes.get("step", 0) if "rate_map" in snapshots else 0
    missing = set()
    if n_snapshots < 1:
        missing |= set(SPATIAL_FIGURES)
    if n_snapshots < 2:
        missing.add("drift")
    return tuple(name for name in FIGURES if name not in missing)


def draw_fig2(
    run: Run,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    figures: Sequence[str] | None = None,
    rate_map_steps: Sequence[int] | None = None,
) -> list[Path]:
    """Write the Fig. 2 figures of ``run`` into ``out_dir``; return the written paths.

    Args:
        run: a stored run (:func:`repdrift.open_run`).
        out_dir: folder for the figures (created if needed); each figure ``name`` is
            written as ``out_dir / "<name>.<format>"`` for every format.
        formats: file formats understood by matplotlib (``"png"``, ``"pdf"``, ``"svg"``).
        figures: names from :data:`FIGURES` to draw; default all. Figures the run has no
            data for (see :func:`available_figures`) are skipped, not an error.
        rate_map_steps: snapshot steps shown in the ``rate_maps`` figure, in that order;
            by default four snapshots evenly spread over the stored ones (first and last
            included).

    Returns:
        The written files, figure by figure in :data:`FIGURES` order, formats in the
        order given.

    Raises:
        ValueError: for an empty ``formats``, an unknown figure name, or
            ``rate_map_steps`` that are not snapshot steps of the run — before anything
            is written.
    """
    formats = tuple(formats)
    if not formats:
        raise ValueError("formats: give at least one file format, e.g. ('png', 'pdf')")
    wanted = FIGURES if figures is None else tuple(figures)
    unknown = sorted(set(wanted) - set(FIGURES))
    if unknown:
        raise ValueError(f"figures: unknown {unknown}; choose from {list(FIGURES)}")
    drawn = [name for name in available_figures(run) if name in wanted]
    snapshots = run.snapshots
    snap_steps = snapshots["step"].values
    if rate_map_steps is not None and "rate_maps" in drawn:
        chosen = np.asarray(rate_map_steps, dtype=np.int64).ravel()
        missing = sorted(set(chosen.tolist()) - set(snap_steps.tolist()))
        if missing or chosen.size == 0:
            raise ValueError(
                f"rate_map_steps: {missing or 'none'} are not snapshot steps of "
                f"the run; choose from {snap_steps.tolist()}"
            )
        shown = np.searchsorted(snap_steps, chosen)
    elif "rate_maps" in drawn:
        linear = linear_snapshot_indices(run)
        shown = linear[pick_snapshots(snap_steps[linear])]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # a folder's name may hold bytes that are not UTF-8 (kept by Python as lone
    # surrogates), which matplotlib cannot write: shown as U+FFFD
    folder = run.path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    name_of_run = f"{run.config.task.kind} task, {folder}"
    metrics = run.metrics
    phases = run_phases(metrics) if {"loss", "activity", "summary"} & set(drawn) else None
    corr_steps, corr = (
        place_map_correlations(run)
        if {"drift", "summary"} & set(drawn) and "drift" in available_figures(run)
        else (None, None)
    )

    def make(name: str) -> Figure:
        if name == "loss":
            fig = Figure(figsize=(4.5, 3.4), layout="constrained")
            _draw_loss(fig.add_subplot(), metrics, phases, title=f"Loss ({name_of_run})")
        elif name == "activity":
            fig = Figure(figsize=(4.5, 3.4), layout="constrained")
            _draw_activity(fig.add_subplot(), metrics, phases)
        elif name == "spatial_information":
            fig = Figure(figsize=(4.8, 3.4), layout="constrained")
            _draw_si(fig.add_subplot(), snapshots)
        elif name == "rate_maps":
            fig = Figure(figsize=(9.0, 8.0))
            _draw_rate_maps(fig, snapshots, run.config.record.bins, shown, place_mask(run))
        elif name == "drift":
            fig = Figure(figsize=(5.0, 4.4), layout="constrained")
            _draw_drift(fig, fig.add_subplot(), corr_steps, corr)
        else:
            fig = _summary(run, phases, (corr_steps, corr), name_of_run)
        return fig

    with mpl.rc_context(_STYLE):
        for name in drawn:
            written += style.save(make(name), out_dir, name, formats)
    return written


def _summary(run: Run, phases: timescale.Phases | None, corr: tuple, name_of_run: str) -> Figure:
    corr_steps, corr = corr
    snapshots = run.snapshots
    spatial = "spatial_information" in available_figures(run)
    fig = Figure(figsize=(9.0, 7.0) if spatial else (9.0, 3.4), layout="constrained")
    grid = fig.subplots(2 if spatial else 1, 2, squeeze=False).ravel()
    _draw_loss(grid[0], run.metrics, phases)
    _draw_activity(grid[1], run.metrics, phases)
    if spatial:
        _draw_si(grid[2], snapshots)
        if corr is not None:
            _draw_drift(fig, grid[3], corr_steps, corr)
        else:
            grid[3].set_visible(False)
    fig.suptitle(f"Representational drift: {name_of_run}")
    return fig
