"""Bias-corrected Skaggs information for temporally sparse activity.

The naive (plug-in) Skaggs information of a short, sparse recording is biased upwards: a
cell that fired a handful of events looks sharply tuned by chance. Sheintuch et al. 2022
(PLoS Comput Biol 18:e1009832, "Bias-free estimation of information content in
temporally sparse neuronal activity") correct it from how the naive estimate changes when
the data are subsampled:

* **SSR** (scaled shuffle reduction). The information of activity shuffled against the
  stimulus is pure bias. Assuming the bias of the naive estimate is a fixed multiple
  ``k`` of the shuffle information at every sample size,
  ``I_naive(t) = I + k · I_shuffle(t)``; two sample sizes (the smallest subsample ``t1``
  and the full data ``T``) give ``k = (I_naive(t1) − I_naive(T)) / (I_shuffle(t1) −
  I_shuffle(T))`` and ``I_SSR = I_naive(T) − k · I_shuffle(T)``.
* **BAE** (bounded asymptotic extrapolation). Fit ``I_naive(t) = a + b / (1 + c t)``
  (``a, b, c ≥ 0``; bounded as ``t → 0``, unlike ``a + b/t + c/t²``) to the naive
  information over subsample sizes and take the limit ``t → ∞``: ``I_BAE = a``.

Subsamples are random sets of frames (``fraction × T`` frames, drawn without
replacement); each size is repeated ``ceil(repetitions / fraction)`` times so that every
size sees about the same number of frames in total, and the shuffle of a subsample pairs
its frames' activity with the stimulus of other frames of the same subsample (a random
permutation), as in the original method. Everything is vectorised over repetitions and
cells and only touches non-zero activity, so sparse event data cost little.

All values are bits per unit of activity (bits per event for binary events, bits per
spike for spike counts); cells without activity get NaN.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from .tuning import _MAX_CHUNK_ELEMENTS, binned_rates, information_from_sums, spatial_information

Method = Literal["naive", "ssr", "bae"]
METHODS: tuple[str, ...] = ("naive", "ssr", "bae")

#: Subsample sizes as fractions of the data (the original method's 5 % steps).
DEFAULT_FRACTIONS: tuple[float, ...] = tuple(np.round(np.arange(1, 21) * 0.05, 2))
#: Repetitions at the full size; a subsample of fraction ``f`` is repeated ``ceil(r / f)``.
DEFAULT_REPETITIONS = 20


class InformationCurves(NamedTuple):
    """Naive and shuffle information as a function of the subsample size.

    Attributes:
        sizes: ``(sizes,)`` subsample sizes in frames, increasing; the last is all frames.
        naive: ``(cells, sizes)`` mean naive information over repetitions.
        shuffle: ``(cells, sizes)`` mean information of shuffled subsamples.
    """

    sizes: np.ndarray
    naive: np.ndarray
    shuffle: np.ndarray


def _prepare(
    activity: np.ndarray, stimulus: np.ndarray, n_bins: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    activity = np.asarray(activity, dtype=float)
    stimulus = np.asarray(stimulus)
    if activity.ndim != 2:
        raise ValueError(f"activity must be (frames, cells), got shape {activity.shape}")
    if stimulus.shape != (activity.shape[0],):
        raise ValueError(
            f"stimulus must hold one bin per frame: {activity.shape[0]} frames, got "
            f"shape {stimulus.shape}"
        )
    if not np.issubdtype(stimulus.dtype, np.integer):
        if not np.all(np.isfinite(stimulus)) or np.any(stimulus != np.round(stimulus)):
            raise ValueError("stimulus must be an integer bin index per frame (-1 = left out)")
        stimulus = stimulus.astype(np.int64)
    if np.any(activity < 0) or not np.all(np.isfinite(activity)):
        raise ValueError("activity must be finite and non-negative")
    keep = stimulus >= 0
    activity, stimulus = activity[keep], stimulus[keep].astype(np.int64)
    if n_bins is None:
        n_bins = int(stimulus.max()) + 1 if stimulus.size else 1
    elif stimulus.size and stimulus.max() >= n_bins:
        raise ValueError(f"stimulus has bin {stimulus.max()} but n_bins is {n_bins}")
    return activity, stimulus, int(n_bins)


def naive_information(
    activity: np.ndarray, stimulus: np.ndarray, *, n_bins: int | None = None
) -> np.ndarray:
    """Plug-in Skaggs information of each cell, bits per unit activity.

    Args:
        activity: ``(frames, cells)`` non-negative activity (events, spike counts).
        stimulus: ``(frames,)`` bin index per frame, ``-1`` to leave a frame out.
        n_bins: number of bins (``max(stimulus) + 1`` when ``None``).

    Returns:
        ``(cells,)``; NaN for cells without activity in the kept frames.
    """
    activity, stimulus, n_bins = _prepare(activity, stimulus, n_bins)
    rates, occupancy = binned_rates(activity, stimulus, n_bins)
    return spatial_information(rates, occupancy)


def _subsample_information(
    events: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    stimulus: np.ndarray,
    n_cells: int,
    n_bins: int,
    size: int,
    repetitions: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean naive and shuffled information over random subsamples of ``size`` frames."""
    indptr, cell, amp, counts = events
    frames_total = stimulus.size
    naive_sum = np.zeros(n_cells)
    shuffle_sum = np.zeros(n_cells)
    naive_n = np.zeros(n_cells)
    shuffle_n = np.zeros(n_cells)
    # Bound both the maps (reps × cells × bins) and the frame orders (reps × frames).
    chunk = max(1, min(repetitions, _MAX_CHUNK_ELEMENTS // max(1, n_cells * n_bins, frames_total)))
    done = 0
    while done < repetitions:
        reps = min(chunk, repetitions - done)
        done += reps
        order = rng.permuted(np.tile(np.arange(frames_total), (reps, 1)), axis=1)
        chosen = order[:, :size]  # (reps, size) frames of each subsample
        # The shuffle gives each chosen frame the stimulus of the next chosen frame in a
        # random order: a random permutation within the subsample, occupancy unchanged.
        partner = np.roll(chosen, -1, axis=1)
        rep = np.repeat(np.arange(reps), size)
        frames = chosen.ravel()
        occupancy = np.bincount(rep * n_bins + stimulus[frames], minlength=reps * n_bins).reshape(
            reps, 1, n_bins
        )
        n_events = counts[frames]
        total = int(n_events.sum())
        first = np.cumsum(n_events) - n_events
        event = np.repeat(indptr[frames] - first, n_events) + np.arange(total)
        base = (np.repeat(rep, n_events) * n_cells + cell[event]) * n_bins
        weights = amp[event]
        size_out = reps * n_cells * n_bins
        for bins_of_frames, acc_sum, acc_n in (
            (stimulus[frames], naive_sum, naive_n),
            (stimulus[partner.ravel()], shuffle_sum, shuffle_n),
        ):
            sums = np.bincount(
                base + np.repeat(bins_of_frames, n_events), weights=weights, minlength=size_out
            ).reshape(reps, n_cells, n_bins)
            si = information_from_sums(sums, occupancy)  # (reps, cells)
            finite = np.isfinite(si)
            acc_sum += np.where(finite, si, 0.0).sum(axis=0)
            acc_n += finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return naive_sum / naive_n, shuffle_sum / shuffle_n


def information_curves(
    activity: np.ndarray,
    stimulus: np.ndarray,
    *,
    seed: int = 0,
    fractions: tuple[float, ...] | np.ndarray = DEFAULT_FRACTIONS,
    repetitions: int = DEFAULT_REPETITIONS,
    n_bins: int | None = None,
) -> InformationCurves:
    """Naive and shuffle information versus subsample size (Sheintuch et al. 2022).

    Args:
        activity: ``(frames, cells)`` non-negative activity.
        stimulus: ``(frames,)`` bin index per frame, ``-1`` to leave a frame out.
        seed: seed of the subsampling and shuffling.
        fractions: subsample sizes as fractions of the kept frames, in ``(0, 1]``.
        repetitions: repetitions at the full size; fraction ``f`` gets ``ceil(r / f)``.
        n_bins: number of bins (``max(stimulus) + 1`` when ``None``).

    Returns:
        :class:`InformationCurves`; at the full size the naive value is exact (no
        resampling), the shuffle value is the mean over ``repetitions`` permutations.
    """
    activity, stimulus, n_bins = _prepare(activity, stimulus, n_bins)
    fractions = np.unique(np.asarray(fractions, dtype=float))
    if fractions.size == 0 or fractions[0] <= 0 or fractions[-1] > 1:
        raise ValueError(f"fractions must lie in (0, 1], got {fractions.tolist()}")
    if repetitions < 1:
        raise ValueError(f"repetitions must be at least 1, got {repetitions}")
    frames, n_cells = activity.shape
    if frames < 2:
        raise ValueError("at least two kept frames are needed to subsample")
    if fractions[-1] != 1.0:
        fractions = np.append(fractions, 1.0)
    sizes = np.unique(np.maximum(2, np.floor(fractions * frames).astype(np.int64)))
    t, cell = np.nonzero(activity)  # row-major: sorted by frame
    counts = np.bincount(t, minlength=frames)
    indptr = np.concatenate([[0], np.cumsum(counts)])[:-1]
    events = (indptr, cell, activity[t, cell], counts)
    rng = np.random.default_rng(seed)
    naive = np.empty((n_cells, sizes.size))
    shuffle = np.empty((n_cells, sizes.size))
    for k, size in enumerate(sizes):
        reps = int(np.ceil(repetitions * frames / size))
        if size == frames:
            reps = repetitions
        naive[:, k], shuffle[:, k] = _subsample_information(
            events, stimulus, n_cells, n_bins, int(size), reps, rng
        )
    rates, occupancy = binned_rates(activity, stimulus, n_bins)
    naive[:, -1] = spatial_information(rates, occupancy)
    return InformationCurves(sizes=sizes.astype(float), naive=naive, shuffle=shuffle)


def ssr_information(curves: InformationCurves) -> np.ndarray:
    """Scaled shuffle reduction: ``I(T) − I_sh(T) (I(t1) − I(T)) / (I_sh(t1) − I_sh(T))``.

    ``t1`` is the smallest subsample, ``T`` all frames. Where the shuffle information
    does not fall with sample size (no usable scale), the plain shuffle reduction
    ``I(T) − I_sh(T)`` is used.

    Returns:
        ``(cells,)`` bits per unit activity.
    """
    naive, shuffle = curves.naive, curves.shuffle
    drop_naive = naive[:, 0] - naive[:, -1]
    drop_shuffle = shuffle[:, 0] - shuffle[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(drop_shuffle > 0, drop_naive / drop_shuffle, 1.0)
    return naive[:, -1] - ratio * shuffle[:, -1]


def _bae_fit(
    sizes: np.ndarray, values: np.ndarray, n_grid: int = 241
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares fit of ``a + b / (1 + c t)`` with ``a, b ≥ 0`` and ``c > 0``.

    For a given ``c`` the model is linear in ``(a, b)``, so ``c`` is profiled on a
    log-spaced grid and ``(a, b)`` solved in closed form (with the non-negativity bounds
    enforced by falling back to the best one-parameter fit), for all curves at once.

    Args:
        sizes: ``(sizes,)`` sample sizes.
        values: ``(curves, sizes)``; curves with a non-finite value are fitted on their
            finite points (NaN result when fewer than three remain).

    Returns:
        ``(a, b, c, r_squared)``, each ``(curves,)``.
    """
    t = np.asarray(sizes, dtype=float)
    y = np.asarray(values, dtype=float)
    w = np.isfinite(y).astype(float)  # (n, s) weights: 0 for missing points
    y0 = np.where(w > 0, y, 0.0)
    scale = t[-1]
    c_grid = np.logspace(-3, 3, n_grid) / scale  # decay scale from 1000 T down to T/1000
    g = 1.0 / (1.0 + c_grid[:, None] * t[None, :])  # (grid, s)
    # Weighted sums for the 2×2 normal equations of y ≈ a + b g, per curve and grid point.
    sw = w.sum(axis=1)[:, None]  # (n, 1)
    sy = (w * y0).sum(axis=1)[:, None]
    sg = w @ g.T  # (n, grid)
    sgg = w @ (g * g).T
    syg = (w * y0) @ g.T
    syy = (w * y0 * y0).sum(axis=1)[:, None]
    det = sw * sgg - sg * sg
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (sgg * sy - sg * syg) / det
        b = (sw * syg - sg * sy) / det
        # Bounded alternatives: b = 0 (constant) or a = 0 (pure decay).
        a_only = np.broadcast_to(sy / sw, a.shape)
        b_only = np.maximum(syg / sgg, 0.0)
    feasible = (a >= 0) & (b >= 0) & (det > 1e-12 * sw * sgg)

    def sse(a_: np.ndarray, b_: np.ndarray) -> np.ndarray:
        return syy - 2 * a_ * sy - 2 * b_ * syg + a_ * a_ * sw + 2 * a_ * b_ * sg + b_ * b_ * sgg

    candidates = [
        (np.where(feasible, a, 0.0), np.where(feasible, b, 0.0), np.where(feasible, 0, np.inf)),
        (np.maximum(a_only, 0.0), np.zeros_like(a), np.zeros_like(a)),
        (np.zeros_like(a), b_only, np.zeros_like(a)),
    ]
    best_sse = np.full(a.shape, np.inf)
    best_a = np.zeros(a.shape)
    best_b = np.zeros(a.shape)
    for a_c, b_c, penalty in candidates:
        err = sse(a_c, b_c) + penalty
        better = err < best_sse
        best_sse = np.where(better, err, best_sse)
        best_a = np.where(better, a_c, best_a)
        best_b = np.where(better, b_c, best_b)
    pick = np.argmin(best_sse, axis=1)
    rows = np.arange(y.shape[0])
    fit_a, fit_b, fit_c = best_a[rows, pick], best_b[rows, pick], c_grid[pick]
    fitted = fit_a[:, None] + fit_b[:, None] / (1.0 + fit_c[:, None] * t[None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sy[:, 0] / sw[:, 0]
        ss_tot = (w * (y0 - mean[:, None]) ** 2).sum(axis=1)
        ss_res = (w * (y0 - fitted) ** 2).sum(axis=1)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, 1.0)
    bad = sw[:, 0] < 3
    nan = np.full(y.shape[0], np.nan)
    return (
        np.where(bad, nan, fit_a),
        np.where(bad, nan, fit_b),
        np.where(bad, nan, fit_c),
        np.where(bad, nan, r2),
    )


def bae_information(curves: InformationCurves) -> np.ndarray:
    """Bounded asymptotic extrapolation: ``a`` of ``I(t) = a + b / (1 + c t)``.

    Returns:
        ``(cells,)`` bits per unit activity; NaN for silent cells.
    """
    a, _, _, _ = _bae_fit(curves.sizes, curves.naive)
    return np.where(np.isfinite(curves.naive[:, -1]), a, np.nan)


def unbiased_information(
    activity: np.ndarray,
    stimulus: np.ndarray,
    *,
    method: Method = "ssr",
    seed: int = 0,
    min_active_frames: int = 10,
    fractions: tuple[float, ...] | np.ndarray = DEFAULT_FRACTIONS,
    repetitions: int = DEFAULT_REPETITIONS,
    n_bins: int | None = None,
) -> np.ndarray:
    """Skaggs information of each cell with the sampling bias removed.

    ``method``: ``"naive"`` (plug-in estimate, no correction), ``"ssr"`` (scaled shuffle
    reduction) or ``"bae"`` (bounded asymptotic extrapolation), after Sheintuch et al.
    2022, PLoS Comput Biol 18:e1009832. The corrected estimates are random (subsamples
    and shuffles) and reproducible for a given ``seed``.

    Cells active in fewer than ``min_active_frames`` kept frames get NaN, whatever the
    method: with so few events neither correction is reliable (Sheintuch et al. used 10),
    and every method then describes the same cells. Pass ``1`` to estimate every cell
    with activity.

    Args:
        activity: ``(frames, cells)`` non-negative activity: event amplitudes, binary
            events or spike counts.
        stimulus: ``(frames,)`` integer bin per frame (e.g. position bin), ``-1`` to leave
            a frame out (e.g. below the speed threshold).
        method: one of ``naive``, ``ssr``, ``bae``.
        seed: seed of the subsampling and shuffling.
        min_active_frames: frames with activity a cell needs to be estimated.
        fractions: subsample sizes as fractions of the kept frames.
        repetitions: repetitions at the full size; fraction ``f`` gets ``ceil(r / f)``.
        n_bins: number of bins (``max(stimulus) + 1`` when ``None``).

    Returns:
        ``(cells,)`` bits per unit activity (bits per event / per spike); NaN for cells
        with fewer than ``min_active_frames`` active frames.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if min_active_frames < 1:
        raise ValueError(f"min_active_frames must be at least 1, got {min_active_frames}")
    activity, stimulus, n_bins = _prepare(activity, stimulus, n_bins)
    estimated = np.flatnonzero((activity > 0).sum(axis=0) >= min_active_frames)
    out = np.full(activity.shape[1], np.nan)
    if estimated.size == 0:
        return out
    if method == "naive":
        out[estimated] = naive_information(activity[:, estimated], stimulus, n_bins=n_bins)
        return out
    curves = information_curves(
        activity[:, estimated],
        stimulus,
        seed=seed,
        fractions=fractions,
        repetitions=repetitions,
        n_bins=n_bins,
    )
    out[estimated] = ssr_information(curves) if method == "ssr" else bae_information(curves)
    return out
