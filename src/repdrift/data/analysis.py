"""Per-session analysis of recorded place-cell data (Fig. 3 of Ratzon et al. 2024).

For each session (defaults as in the published analysis of the ``multiple_maps`` data):

1. **Running frames.** Velocity is smoothed over 0.4 s (a moving average within each
   trial, normalised at the trial's ends) and frames at ≥ 1 cm/s run in the ``+``
   direction, ≤ −1 cm/s in the ``−`` direction; the rest are left out.
2. **Position bins.** 24 bins along the track; the two bins at each end (where the mouse
   turns and drinks) are left out, leaving bins 3–22. Each running direction has its own
   rate map.
3. **Events.** Activity is binarised (a frame with an event counts 1), so the spatial
   information is in bits per event.
4. **Active cells** have at least ``min_events`` events in the analysed frames.
5. **Spatial information** (Skaggs) of each active cell in each direction, and its
   p-value against ``n_shuffles`` circular shifts of the activity relative to the
   position (within the frames of that direction); a cell is a **place cell** if it is
   significant (p < 0.05) in at least one direction.
6. **Bias-corrected SI** (SSR and BAE, :mod:`repdrift.metrics.information`) of each
   significant cell-direction with at least ``min_active_frames`` events there (fewer
   make the corrections unreliable).

Session summaries: number of active cells, fraction of place cells among active cells,
mean SI of the significant cell-directions (naive; corrected means over those with
enough events).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, fields

import numpy as np
import xarray as xr

from ..metrics.information import (
    bae_information,
    information_curves,
    ssr_information,
)
from ..metrics.tuning import bin_index, binned_rates, shuffle_test
from .session import Session

DIRECTIONS = (1, -1)


@dataclass(frozen=True)
class AnalysisConfig:
    """Settings of the per-session analysis (defaults: the published ones).

    Attributes:
        bins: position bins along the track, per direction.
        edge_bins: bins left out at each end of the track.
        speed_threshold_cm_s: minimal smoothed speed of an analysed frame.
        speed_smoothing_s: width of the moving average applied to the velocity.
        n_shuffles: circular shifts for the place-cell test.
        p_threshold: significance level of the place-cell test.
        min_events: events (in analysed frames) that make a cell active.
        binarize: count each frame with activity as one event.
        min_active_frames: events a cell-direction needs for the corrected SI.
        correction_repetitions: subsampling repetitions of the corrections.
        seed: seed of the shuffles and subsamples.
    """

    bins: int = 24
    edge_bins: int = 2
    speed_threshold_cm_s: float = 1.0
    speed_smoothing_s: float = 0.4
    n_shuffles: int = 1000
    p_threshold: float = 0.05
    min_events: int = 3
    binarize: bool = True
    min_active_frames: int = 10
    correction_repetitions: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.bins < 1 or not 0 <= 2 * self.edge_bins < self.bins:
            raise ValueError(
                f"bins must exceed twice edge_bins; got bins={self.bins}, "
                f"edge_bins={self.edge_bins}"
            )
        if self.n_shuffles < 1:
            raise ValueError(f"n_shuffles must be at least 1, got {self.n_shuffles}")
        if not 0 < self.p_threshold < 1:
            raise ValueError(f"p_threshold must lie in (0, 1), got {self.p_threshold}")
        if self.speed_threshold_cm_s < 0 or self.speed_smoothing_s < 0:
            raise ValueError("speed_threshold_cm_s and speed_smoothing_s must be ≥ 0")
        if self.min_events < 1 or self.min_active_frames < 1:
            raise ValueError("min_events and min_active_frames must be at least 1")

    @property
    def usable_bins(self) -> int:
        return self.bins - 2 * self.edge_bins


@dataclass(frozen=True, eq=False)
class SessionResult:
    """What :func:`analyze_session` found in one session.

    Per-cell arrays have one row per cell of the session, one column per direction
    (``+1``, ``−1``); rate maps hold the ``+`` direction's usable bins then the ``−``
    direction's.
    """

    animal: str
    track: str
    session: int
    day: float
    day_known: bool
    source: str
    n_cells: int
    n_frames: int
    n_running_frames: int
    n_active: int
    n_place: int
    mean_si_naive: float
    mean_si_ssr: float
    mean_si_bae: float
    n_corrected: int
    mean_si_naive_corrected_cells: float
    active: np.ndarray = field(repr=False)  # (cells,) bool
    place: np.ndarray = field(repr=False)  # (cells,) bool
    si_naive: np.ndarray = field(repr=False)  # (cells, 2) bits/event, NaN if not active
    p_value: np.ndarray = field(repr=False)  # (cells, 2)
    si_ssr: np.ndarray = field(repr=False)  # (cells, 2), NaN unless corrected
    si_bae: np.ndarray = field(repr=False)  # (cells, 2)
    events: np.ndarray = field(repr=False)  # (cells, 2) events per direction
    rate_maps: np.ndarray = field(repr=False)  # (cells, 2 × usable bins) events/frame
    occupancy: np.ndarray = field(repr=False)  # (2 × usable bins,) frames
    cell_ids: np.ndarray | None = field(repr=False)
    notes: tuple[str, ...] = ()
    bin_position: np.ndarray | None = field(default=None, repr=False)  # (2 × bins,) 0–1

    @property
    def fraction_place(self) -> float:
        """Place cells among active cells (NaN without active cells)."""
        return self.n_place / self.n_active if self.n_active else float("nan")

    @property
    def fraction_active(self) -> float:
        return self.n_active / self.n_cells if self.n_cells else float("nan")

    def summary(self) -> dict[str, object]:
        """The session's row of the per-session table."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.repr and f.name != "notes"}
        row["fraction_place"] = self.fraction_place
        row["fraction_active"] = self.fraction_active
        row["notes"] = " | ".join(self.notes)
        return row

    def rate_map_array(self) -> xr.DataArray:
        """Rate maps as a labelled ``(cell, bin)`` array, events per frame.

        Coordinates: ``occupancy``, ``position`` (bin centre, fraction of the track),
        ``direction`` (``+1``/``-1``) per bin and ``cell_id`` per cell; unvisited bins NaN.
        """
        n_bins = self.rate_maps.shape[1]
        position = self.bin_position if self.bin_position is not None else np.full(n_bins, np.nan)
        ids = self.cell_ids if self.cell_ids is not None else np.full(self.n_cells, -1)
        return xr.DataArray(
            self.rate_maps,
            dims=("cell", "bin"),
            coords={
                "cell": np.arange(self.n_cells),
                "bin": np.arange(n_bins),
                "cell_id": ("cell", ids),
                "occupancy": ("bin", self.occupancy),
                "position": ("bin", position),
                "direction": ("bin", np.repeat(DIRECTIONS, n_bins // 2)),
            },
            name="event_rate",
            attrs={
                "units": "events per frame",
                "animal": self.animal,
                "track": self.track,
                "session": self.session,
            },
        )


def smooth_velocity(velocity: np.ndarray, trial: np.ndarray, window_frames: int) -> np.ndarray:
    """Moving average over ``window_frames`` within each trial, normalised at the ends.

    ``conv(v, k, 'same') / conv(1, k, 'same')`` per trial with MATLAB's ``'same'``
    (the central part of the full convolution starting at ``floor(len(k) / 2)``; NumPy's
    ``'same'`` starts one sample earlier for even kernels), as in the published analysis.
    Non-finite velocities are left out of the averages.
    """
    velocity = np.asarray(velocity, dtype=float)
    if window_frames <= 1:
        return velocity.copy()
    # A window of twice the recording or more averages each trial whole, whatever its
    # length: the bound spares a huge frame rate (1e12 Hz) an impossible kernel.
    window_frames = min(int(window_frames), 2 * velocity.size + 1)
    kernel = np.ones(window_frames)
    start = window_frames // 2

    def same(u: np.ndarray) -> np.ndarray:
        return np.convolve(u, kernel)[start : start + u.size]

    out = np.empty_like(velocity)
    boundaries = np.flatnonzero(np.diff(trial)) + 1
    for piece in np.split(np.arange(velocity.size), boundaries):
        v = velocity[piece]
        finite = np.isfinite(v)
        total = same(np.where(finite, v, 0.0))
        count = same(finite.astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[piece] = np.where(count > 0, total / count, np.nan)
    return out


def running_direction(session: Session, config: AnalysisConfig) -> np.ndarray:
    """``(frames,)`` ``+1``/``-1`` for running frames, ``0`` for the rest."""
    if session.direction is not None:
        return session.direction.copy()
    window = round(config.speed_smoothing_s * session.frame_rate_hz)
    velocity = smooth_velocity(session.velocity_cm_s, session.trial, window)
    threshold = config.speed_threshold_cm_s
    direction = np.zeros(session.n_frames, dtype=np.int64)
    direction[velocity >= threshold] = 1
    direction[velocity <= -threshold] = -1
    if threshold == 0:
        direction[velocity == 0] = 0
    return direction


def usable_bin(session: Session, config: AnalysisConfig) -> np.ndarray:
    """``(frames,)`` position bin among the usable ones (0-based), ``-1`` elsewhere."""
    index, _ = bin_index(session.position, bins=config.bins, range=(0.0, 1.0))
    local = index - config.edge_bins
    inside = (index >= 0) & (local >= 0) & (local < config.usable_bins)
    return np.where(inside, local, -1)


def analyze_session(session: Session, config: AnalysisConfig | None = None) -> SessionResult:
    """Running frames, rate maps, SI, place cells and corrected SI of one session."""
    config = config or AnalysisConfig()
    n_bins = config.usable_bins
    activity = session.activity
    if config.binarize:
        activity = (activity > 0).astype(float)
    direction = running_direction(session, config)
    local = usable_bin(session, config)
    analysed = (direction != 0) & (local >= 0)
    index = np.where(analysed, np.where(direction > 0, local, local + n_bins), -1)
    rate_maps, occupancy = binned_rates(activity, index, 2 * n_bins)
    events_total = (activity[analysed] > 0).sum(axis=0)
    active = events_total >= config.min_events
    cells = session.n_cells
    si = np.full((cells, 2), np.nan)
    p = np.ones((cells, 2))
    si_ssr = np.full((cells, 2), np.nan)
    si_bae = np.full((cells, 2), np.nan)
    events = np.zeros((cells, 2), dtype=np.int64)
    series_key = zlib.crc32("/".join(session.series).encode())
    rng = np.random.default_rng([config.seed, series_key, session.session])
    active_idx = np.flatnonzero(active)
    for d, sign in enumerate(DIRECTIONS):
        frames_d = analysed & (direction == sign)
        index_d = np.where(frames_d, local, -1)
        events[:, d] = (activity[frames_d] > 0).sum(axis=0)
        shuffle_seed, correction_seed = (int(x) for x in rng.integers(0, 2**31, size=2))
        if active_idx.size == 0 or frames_d.sum() < 2:
            continue
        si_d, p_d = shuffle_test(
            activity[:, active_idx],
            index_d,
            n_bins,
            n_shuffles=config.n_shuffles,
            seed=shuffle_seed,
        )
        si[active_idx, d] = si_d
        p[active_idx, d] = p_d
        significant = active_idx[
            (p_d < config.p_threshold) & (events[active_idx, d] >= config.min_active_frames)
        ]
        if significant.size:
            curves = information_curves(
                activity[:, significant],
                index_d,
                seed=correction_seed,
                repetitions=config.correction_repetitions,
                n_bins=n_bins,
            )
            si_ssr[significant, d] = ssr_information(curves)
            si_bae[significant, d] = bae_information(curves)
    significant_pairs = p < config.p_threshold
    place = significant_pairs.any(axis=1) & active
    corrected = np.isfinite(si_ssr)

    def mean(values: np.ndarray, mask: np.ndarray) -> float:
        chosen = values[mask]
        chosen = chosen[np.isfinite(chosen)]
        return float(chosen.mean()) if chosen.size else float("nan")

    return SessionResult(
        animal=session.animal,
        track=session.track,
        session=session.session,
        day=session.day,
        day_known=session.day_known,
        source=session.source,
        n_cells=cells,
        n_frames=session.n_frames,
        n_running_frames=int(analysed.sum()),
        n_active=int(active.sum()),
        n_place=int(place.sum()),
        mean_si_naive=mean(si, significant_pairs),
        mean_si_ssr=mean(si_ssr, corrected),
        mean_si_bae=mean(si_bae, corrected),
        n_corrected=int(corrected.sum()),
        mean_si_naive_corrected_cells=mean(si, corrected),
        active=active,
        place=place,
        si_naive=si,
        p_value=p,
        si_ssr=si_ssr,
        si_bae=si_bae,
        events=events,
        rate_maps=rate_maps,
        occupancy=occupancy,
        bin_position=np.tile((config.edge_bins + np.arange(n_bins) + 0.5) / config.bins, 2),
        cell_ids=session.cell_ids,
        notes=session.notes,
    )
