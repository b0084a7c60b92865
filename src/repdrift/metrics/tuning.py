"""Spatial tuning: rate maps, Skaggs spatial information, circular-shift shuffles.

Place units are selected either by the original code's fixed rule (SI above
:data:`ORIGINAL_SI_THRESHOLD` bits per unit activity) or against a shuffle distribution
(SI above a percentile of each unit's circular-shift null, or a shuffle p-value): see
:func:`place_units`, :func:`shuffle_threshold` and :func:`shuffle_test`.

Used on simulated units (activity = ReLU output per sample) and on recorded cells
(activity = event amplitude per frame). Activity is ``(frames, units)`` throughout; a
*bin index* is one integer per frame in ``[0, n_bins)``, with ``-1`` for frames that are
left out (for example below the speed threshold).

Running directions are separated by giving each direction its own block of bins: with
``bins`` bins per direction, bin ``b`` of direction ``+1`` is ``b`` and of direction ``-1``
is ``bins + b`` (the original code's 50 + 50 = 100 bins).
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def bin_index(
    position: np.ndarray,
    direction: np.ndarray | None = None,
    *,
    bins: int = 50,
    range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bin each frame by position (and running direction).

    Args:
        position: ``(frames,)`` position along the track.
        direction: ``(frames,)`` ``+1``/``-1``, or ``None`` for one direction.
        bins: number of position bins per direction.
        range: ``(low, high)`` of the track; the data's own range when ``None``.

    Returns:
        ``(index (frames,), edges (bins + 1,))``; ``index`` is in ``[0, bins * n_dir)``,
        ``-1`` for non-finite positions or positions outside ``range``.
    """
    position = np.asarray(position, dtype=float)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    finite = np.isfinite(position)
    if range is None:
        if not finite.any():
            raise ValueError("position has no finite values")
        range = (float(position[finite].min()), float(position[finite].max()))
    low, high = range
    if not high > low:
        high = low + 1.0  # a single position: one occupied bin, not a division by zero
    edges = np.linspace(low, high, bins + 1)
    index = np.clip(np.searchsorted(edges, position, side="right") - 1, 0, bins - 1)
    inside = finite & (position >= low) & (position <= high)
    if direction is not None:
        direction = np.asarray(direction)
        index = np.where(direction < 0, index + bins, index)
        inside &= direction != 0
    return np.where(inside, index, -1).astype(np.int64), edges


def binned_rates(
    activity: np.ndarray, index: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean activity per bin and the number of frames per bin.

    Args:
        activity: ``(frames, units)``.
        index: ``(frames,)`` bin per frame, ``-1`` to leave a frame out.
        n_bins: total number of bins.

    Returns:
        ``(rates (units, n_bins), occupancy (n_bins,))``; unvisited bins have rate NaN.
    """
    activity = np.asarray(activity, dtype=float)
    index = np.asarray(index)
    keep = index >= 0
    occupancy = np.bincount(index[keep], minlength=n_bins).astype(float)
    sums = np.zeros((n_bins, activity.shape[1]))
    np.add.at(sums, index[keep], activity[keep])
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(occupancy[:, None] > 0, sums / occupancy[:, None], np.nan)
    return rates.T, occupancy


def rate_maps(
    activity: np.ndarray,
    position: np.ndarray,
    direction: np.ndarray | None = None,
    *,
    bins: int = 50,
    range: tuple[float, float] | None = None,
) -> xr.DataArray:
    """Per-unit rate maps over position, running directions in separate bins.

    Returns an ``xr.DataArray`` ``(unit, bin)`` of mean activity per bin (NaN where a bin
    was never visited) with coordinates ``occupancy (bin)`` (frames per bin),
    ``position (bin)`` (bin centre), ``direction (bin)`` (``+1``/``-1``) and the attribute
    ``bin_edges``. Pass it straight to :func:`spatial_information`.
    """
    activity = np.asarray(activity, dtype=float)
    if activity.ndim != 2 or activity.shape[0] != np.shape(position)[0]:
        raise ValueError(
            f"activity must be (frames, units) with one frame per position; got "
            f"{activity.shape} and {np.shape(position)}"
        )
    index, edges = bin_index(position, direction, bins=bins, range=range)
    n_dir = 1 if direction is None else 2
    rates, occupancy = binned_rates(activity, index, bins * n_dir)
    centres = 0.5 * (edges[:-1] + edges[1:])
    return xr.DataArray(
        rates,
        dims=("unit", "bin"),
        coords={
            "unit": np.arange(activity.shape[1]),
            "bin": np.arange(bins * n_dir),
            "occupancy": ("bin", occupancy),
            "position": ("bin", np.tile(centres, n_dir)),
            "direction": ("bin", np.repeat([1, -1][:n_dir], bins)),
        },
        attrs={"bin_edges": edges, "bins_per_direction": bins},
        name="rate",
    )


def spatial_information(rate_maps: np.ndarray, occupancy: np.ndarray | None = None) -> np.ndarray:
    """Skaggs spatial information in bits per unit of activity (Skaggs et al. 1993).

    ``SI = Σ_b p_b (r_b / r̄) log2(r_b / r̄)`` with ``p_b`` the occupancy normalised over
    visited bins and ``r̄ = Σ_b p_b r_b``. Unvisited bins (NaN rate or zero occupancy) are
    left out; ``0 log 0 = 0``. A unit that is silent everywhere has no defined SI: NaN.
    Invariant to scaling the activity. For recorded events, multiply by the mean event
    rate for bits per second (:func:`spatial_information_rate`).

    Args:
        rate_maps: ``(..., bins)`` mean activity per bin, or the ``xr.DataArray`` of
            :func:`rate_maps` (its ``occupancy`` coordinate is used when ``occupancy`` is
            ``None``).
        occupancy: ``(..., bins)`` time or frame count per bin, broadcastable.

    Returns:
        ``(...)`` bits per unit of activity.
    """
    if occupancy is None:
        if not isinstance(rate_maps, xr.DataArray) or "occupancy" not in rate_maps.coords:
            raise ValueError("occupancy is required unless rate_maps is a labelled rate map")
        occupancy = rate_maps.coords["occupancy"].values
    rates = np.asarray(rate_maps, dtype=float)
    occupancy = np.broadcast_to(np.asarray(occupancy, dtype=float), rates.shape)
    visited = (occupancy > 0) & np.isfinite(rates)
    occ = np.where(visited, occupancy, 0.0)
    p = occ / occ.sum(axis=-1, keepdims=True)
    r = np.where(visited, rates, 0.0)
    mean_rate = np.sum(p * r, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = r / mean_rate
        terms = np.where(ratio > 0, p * ratio * np.log2(ratio), 0.0)
    si = terms.sum(axis=-1)
    return np.where(mean_rate[..., 0] > 0, si, np.nan)


def spatial_information_rate(rate_maps: np.ndarray, occupancy: np.ndarray) -> np.ndarray:
    """Skaggs information in bits per second: bits per unit activity × mean rate.

    ``rate_maps`` must be in events (or activity) per second for the result to be bits/s.
    """
    rates = np.asarray(rate_maps, dtype=float)
    occupancy = np.broadcast_to(np.asarray(occupancy, dtype=float), rates.shape)
    visited = (occupancy > 0) & np.isfinite(rates)
    occ = np.where(visited, occupancy, 0.0)
    mean_rate = np.sum(occ * np.where(visited, rates, 0.0), axis=-1) / occ.sum(axis=-1)
    return np.nan_to_num(spatial_information(rates, occupancy), nan=0.0) * mean_rate


def information_from_sums(sums: np.ndarray, occupancy: np.ndarray) -> np.ndarray:
    """Skaggs information from summed activity per bin, bits per unit activity.

    The same quantity as :func:`spatial_information` on ``rates = sums / occupancy``,
    written for speed on many sparse maps at once (shuffles, subsamples): with ``S_b`` the
    activity summed in bin ``b``, ``S = Σ S_b``, ``n_b`` the frames in bin ``b`` and
    ``n = Σ n_b``, ``SI = (Σ_b S_b log2 S_b − Σ_b S_b log2 n_b) / S + log2(n / S)``.

    Args:
        sums: ``(..., units, bins)`` summed activity per bin (0 where unvisited).
        occupancy: ``(..., 1, bins)`` or ``(bins,)`` frames per bin, broadcastable.

    Returns:
        ``(..., units)``; NaN where ``S = 0``.
    """
    sums = np.asarray(sums, dtype=float)
    occupancy = np.asarray(occupancy, dtype=float)
    total = sums.sum(axis=-1)
    frames = occupancy.sum(axis=-1)
    log_sums = np.log2(sums, out=np.zeros_like(sums), where=sums > 0)
    log_occ = np.log2(occupancy, out=np.zeros_like(occupancy), where=occupancy > 0)
    spread = (sums * (log_sums - log_occ)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        si = spread / total + np.log2(frames / total)
    return np.where(total > 0, si, np.nan)


#: Bound on shuffles × units × bins (and shuffles × events) held in memory at once.
_MAX_CHUNK_ELEMENTS = 4_000_000


def _shuffle_chunks(activity, index, n_bins, n_shuffles, seed, min_shift):
    """Observed SI and, chunk by chunk, the SI of circularly shifted activity.

    Each shuffle shifts the kept frames' bin sequence by a random amount in
    ``[min_shift, frames − min_shift]``: the unit's temporal structure and the occupancy
    stay, its relation to position goes. Only non-zero activity is touched.
    """
    activity = np.asarray(activity, dtype=float)
    index = np.asarray(index)
    keep = index >= 0
    activity, index = activity[keep], index[keep]
    frames, units = activity.shape
    if frames < 2:
        raise ValueError("at least two kept frames are needed for a circular shuffle")
    occupancy = np.bincount(index, minlength=n_bins).astype(float)
    t, u = np.nonzero(activity)
    amp = activity[t, u]
    observed = information_from_sums(
        np.bincount(u * n_bins + index[t], weights=amp, minlength=units * n_bins).reshape(
            units, n_bins
        ),
        occupancy,
    )
    rng = np.random.default_rng(seed)
    high = max(min_shift + 1, frames - min_shift + 1)
    shifts = rng.integers(min_shift, high, size=n_shuffles) % frames  # (shuffles,)

    def chunks():
        size = max(1, min(n_shuffles, _MAX_CHUNK_ELEMENTS // max(1, units * n_bins, t.size)))
        for start in range(0, n_shuffles, size):
            k = shifts[start : start + size]
            shifted_bin = index[(t[None, :] - k[:, None]) % frames]  # (c, events)
            flat = (np.arange(k.size)[:, None] * units + u[None, :]) * n_bins + shifted_bin
            sums = np.bincount(
                flat.ravel(),
                weights=np.broadcast_to(amp, flat.shape).ravel(),
                minlength=k.size * units * n_bins,
            ).reshape(k.size, units, n_bins)
            yield information_from_sums(sums, occupancy)  # (c, units)

    return observed, chunks()


def shuffled_information(
    activity: np.ndarray,
    index: np.ndarray,
    n_bins: int,
    *,
    n_shuffles: int = 1000,
    seed: int = 0,
    min_shift: int = 1,
) -> np.ndarray:
    """Spatial information under circular shifts of activity relative to position.

    Each shuffle shifts the (kept) frames' bin sequence by a random amount in
    ``[min_shift, frames - min_shift]``, which keeps each unit's temporal structure and the
    occupancy while breaking its relation to position. Vectorised over shuffles and units;
    only non-zero activity is touched, so sparse event data cost little.

    Returns:
        ``(n_shuffles, units)`` bits per unit of activity.
    """
    _, chunks = _shuffle_chunks(activity, index, n_bins, n_shuffles, seed, min_shift)
    return np.concatenate(list(chunks), axis=0)


def shuffle_test(
    activity: np.ndarray,
    index: np.ndarray,
    n_bins: int,
    *,
    n_shuffles: int = 1000,
    seed: int = 0,
    min_shift: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed SI and its circular-shift p-value for each unit.

    ``p = (1 + #{shuffles with SI ≥ observed}) / (1 + n_shuffles)``, with the shuffles of
    :func:`shuffled_information` (same ``seed``, same shifts), counted chunk by chunk so
    that 1,000 shuffles of a whole recorded session never sit in memory at once. Units
    silent in the kept frames get SI NaN and p = 1.

    Returns:
        ``(si (units,), p_value (units,))``.
    """
    observed, chunks = _shuffle_chunks(activity, index, n_bins, n_shuffles, seed, min_shift)
    exceed = np.zeros(observed.shape, dtype=np.int64)
    for null in chunks:
        exceed += np.sum(null >= observed[None, :] - 1e-12, axis=0)
    p = (1.0 + exceed) / (1.0 + n_shuffles)
    return observed, np.where(np.isfinite(observed), p, 1.0)


#: The original code's fixed place-unit rule: SI > 0.01 bits per unit activity.
ORIGINAL_SI_THRESHOLD = 0.01


def shuffle_threshold(null: np.ndarray, *, percentile: float = 95.0) -> np.ndarray:
    """Per-unit SI threshold: the ``percentile`` of the shuffle distribution.

    Args:
        null: ``(n_shuffles, units)`` bits per unit activity, from
            :func:`shuffled_information`.
        percentile: in ``[0, 100]``; 95 gives a one-sided 5 % test, 99 a 1 % test.

    Returns:
        ``(units,)`` bits per unit activity (NaN for units whose shuffles are all NaN).
    """
    null = np.asarray(null, dtype=float)
    if null.ndim != 2:
        raise ValueError(f"null must be (n_shuffles, units), got shape {null.shape}")
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    out = np.full(null.shape[1], np.nan)
    defined = np.isfinite(null).any(axis=0)
    if defined.any():
        out[defined] = np.nanpercentile(null[:, defined], percentile, axis=0)
    return out


def place_units(
    si_bits_per_activity: np.ndarray, threshold: float | np.ndarray = ORIGINAL_SI_THRESHOLD
) -> np.ndarray:
    """Which units are place units: ``SI > threshold``.

    Args:
        si_bits_per_activity: ``(..., units)`` from :func:`spatial_information`.
        threshold: bits per unit activity — a number (default: the original code's fixed
            0.01) or a per-unit array such as :func:`shuffle_threshold`'s percentile.

    Returns:
        ``(..., units)`` booleans; units with an undefined (NaN) SI or threshold are not
        place units.
    """
    si = np.asarray(si_bits_per_activity, dtype=float)
    threshold = np.asarray(threshold, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(si) & np.isfinite(threshold) & (si > threshold)


#: Width of the Gaussian that smooths rate maps for display and drift, as a fraction of
#: the number of bins (the original code's ``gaussian_filter(rate_map, 0.06 * nbins)``).
SMOOTHING_FRACTION = 0.06


def smooth_rate_maps(
    maps: np.ndarray, bins_per_direction: int, *, fraction: float = SMOOTHING_FRACTION
) -> np.ndarray:
    """Rate maps smoothed as the paper's Fig. 2D/E: a Gaussian of σ = ``fraction`` × bins.

    ``maps: (..., units, bins)`` with the running directions as consecutive blocks of
    ``bins_per_direction`` bins. As in the original code (``utils.calc_rate_map``), σ is
    6 % of all bins (6 bins of 100) and unvisited bins count as 0; the ends of the track
    reflect (scipy's ``mode="reflect"``, the default of the original's ``gaussian_filter``).
    Unlike it, each direction is smoothed on its own (the original smoothed across the
    junction of the two directions). Spatial information is computed on unsmoothed maps.
    """
    from scipy.ndimage import gaussian_filter1d

    maps = np.nan_to_num(np.asarray(maps, dtype=float), nan=0.0)
    total = maps.shape[-1]
    if bins_per_direction < 1 or total % bins_per_direction:
        raise ValueError(
            f"bins_per_direction={bins_per_direction} does not divide the {total} bins"
        )
    sigma = fraction * total
    blocks = [
        gaussian_filter1d(maps[..., k : k + bins_per_direction], sigma, axis=-1, mode="reflect")
        for k in range(0, total, bins_per_direction)
    ]
    return np.concatenate(blocks, axis=-1)


def peak_spread(
    smoothed_maps: np.ndarray, units: np.ndarray, occupancy: np.ndarray
) -> tuple[float, float]:
    """How place fields tile a track: where the chosen units' maps peak.

    Args:
        smoothed_maps: ``(units, bins)`` (see :func:`smooth_rate_maps`).
        units: ``(units,)`` booleans, e.g. the place units.
        occupancy: ``(bins,)`` samples per bin (bins never visited are not counted).

    Returns:
        ``(largest share, covered)``: the largest fraction of the units whose peak falls
        in one bin, and the fraction of visited bins holding at least one peak. Fields
        piled at the track's ends give a large share and a small coverage.
    """
    maps = np.asarray(smoothed_maps, dtype=float)[np.asarray(units, dtype=bool)]
    visited = np.asarray(occupancy) > 0
    if maps.shape[0] == 0 or not visited.any():
        return (float("nan"), float("nan"))
    peaks = np.argmax(np.where(visited[None, :], maps, -np.inf), axis=-1)
    counts = np.bincount(peaks, minlength=maps.shape[-1])
    return (float(counts.max() / maps.shape[0]), float((counts[visited] > 0).sum() / visited.sum()))
