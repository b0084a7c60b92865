"""Representational drift between snapshots of rate maps.

Rate maps are ``(units, bins)`` per snapshot, stacked as ``maps: (snapshots, units, bins)``
(NaN in unvisited bins, as from :func:`repdrift.metrics.rate_maps`). Correlations are
Pearson correlations over the entries finite in both maps.

* rate-map correlation: per unit, the correlation of its map at two times; the matrix over
  pairs of snapshots averages it over the units active at both times (Ratzon et al. 2024,
  Fig. 2E; Ziv et al. 2013, Nat. Neurosci. 16: 264);
* population-vector (PV) correlation: per bin, the correlation over units of the activity
  vectors at two times, averaged over bins;
* correlation against lag: the mean of a snapshot-by-snapshot matrix over pairs separated
  by the same lag.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def _pearson(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson correlation along ``axis`` over entries finite in both; NaN if undefined."""
    valid = np.isfinite(a) & np.isfinite(b)
    n = valid.sum(axis=axis, keepdims=True)
    a0 = np.where(valid, a, 0.0)
    b0 = np.where(valid, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = np.where(valid, a0 - a0.sum(axis=axis, keepdims=True) / n, 0.0)
        db = np.where(valid, b0 - b0.sum(axis=axis, keepdims=True) / n, 0.0)
        cov = np.sum(da * db, axis=axis)
        var = np.sum(da**2, axis=axis) * np.sum(db**2, axis=axis)
        r = cov / np.sqrt(var)
    return np.where((var > 0) & (np.squeeze(n, axis=axis) >= 2), np.clip(r, -1.0, 1.0), np.nan)


def _as_maps(maps: np.ndarray, name: str = "maps") -> np.ndarray:
    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 3:
        raise ValueError(f"{name} must be (snapshots, units, bins), got shape {maps.shape}")
    return maps


def active_in_map(maps: np.ndarray) -> np.ndarray:
    """Units with a positive rate in at least one bin: ``(..., units, bins) → (..., units)``."""
    maps = np.asarray(maps, dtype=float)
    return np.any(np.nan_to_num(maps, nan=0.0) > 0, axis=-1)


def map_correlation(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """Per-unit rate-map correlation between two snapshots.

    Args:
        maps_a, maps_b: ``(units, bins)`` (or broadcastable ``(..., units, bins)``).

    Returns:
        ``(..., units)`` Pearson correlation over bins visited in both; NaN for a unit whose
        map is constant (for example silent) in either snapshot.
    """
    return _pearson(np.asarray(maps_a, dtype=float), np.asarray(maps_b, dtype=float))


def rate_map_correlation_matrix(
    maps: np.ndarray,
    *,
    active: np.ndarray | None = None,
    method: Literal["mean_unit", "pooled"] = "mean_unit",
) -> np.ndarray:
    """Rate-map correlation between every pair of snapshots, over units active at both.

    Entry ``(i, j)`` is, over the units active in snapshot ``i`` and in snapshot ``j``:

    * ``"mean_unit"`` (default): the mean of the per-unit map correlations;
    * ``"pooled"``: one correlation between the two snapshots' maps of those units,
      concatenated over units and bins.

    Args:
        maps: ``(snapshots, units, bins)``.
        active: ``(snapshots, units)`` booleans; default :func:`active_in_map`.
        method: how correlations are combined over units.

    Returns:
        ``(snapshots, snapshots)``, symmetric, 1 on the diagonal where any unit is active;
        NaN where no unit is active at both times.
    """
    maps = _as_maps(maps)
    s, u, _ = maps.shape
    active = active_in_map(maps) if active is None else np.asarray(active, dtype=bool)
    if active.shape != (s, u):
        raise ValueError(f"active must be (snapshots, units) = {(s, u)}, got {active.shape}")
    out = np.full((s, s), np.nan)
    for i in range(s):
        both = active[i][None, :] & active  # (snapshots, units)
        if method == "mean_unit":
            r = _pearson(maps[i][None], maps)  # (snapshots, units)
            r = np.where(both, r, np.nan)
            counted = np.isfinite(r)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[i] = np.nansum(r, axis=1) / counted.sum(axis=1)
        elif method == "pooled":
            a = np.where(both[:, :, None], maps[i][None], np.nan)
            b = np.where(both[:, :, None], maps, np.nan)
            out[i] = _pearson(a.reshape(s, -1), b.reshape(s, -1))
        else:
            raise ValueError(f"method must be 'mean_unit' or 'pooled', got {method!r}")
    return out


def population_vector_correlation(
    maps_a: np.ndarray, maps_b: np.ndarray, *, units: np.ndarray | None = None
) -> np.ndarray:
    """Per-bin correlation of the population vectors of two snapshots.

    Args:
        maps_a, maps_b: ``(units, bins)``.
        units: optional ``(units,)`` booleans selecting the units (for example those active
            at both times).

    Returns:
        ``(bins,)`` Pearson correlation over units of the two activity vectors at each bin;
        NaN for a bin unvisited in either snapshot or with a constant vector.
    """
    a = np.asarray(maps_a, dtype=float)
    b = np.asarray(maps_b, dtype=float)
    if units is not None:
        a, b = a[np.asarray(units, dtype=bool)], b[np.asarray(units, dtype=bool)]
    return _pearson(a, b, axis=-2)


def population_vector_correlation_matrix(maps: np.ndarray) -> np.ndarray:
    """Mean over bins of the PV correlation for every pair of snapshots.

    Args:
        maps: ``(snapshots, units, bins)``.

    Returns:
        ``(snapshots, snapshots)``; NaN where no bin has a defined correlation.
    """
    maps = _as_maps(maps)
    s = maps.shape[0]
    out = np.full((s, s), np.nan)
    for i in range(s):
        r = _pearson(maps[i][None], maps, axis=-2)  # (snapshots, bins)
        counted = np.isfinite(r).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = np.nansum(r, axis=1) / counted
    return out


def correlation_vs_lag(
    matrix: np.ndarray, steps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of a snapshot-by-snapshot correlation matrix as a function of lag.

    Pairs ``i < j`` are grouped by lag ``steps[j] − steps[i]`` (in steps) when ``steps``
    is given, otherwise by ``j − i`` (in snapshots); NaN entries are left out.

    Args:
        matrix: ``(snapshots, snapshots)``.
        steps: ``(snapshots,)`` increasing step numbers of the snapshots.

    Returns:
        ``(lag (lags,), mean_correlation (lags,), n_pairs (lags,))`` sorted by lag;
        ``n_pairs`` counts the finite entries averaged.
    """
    matrix = np.asarray(matrix, dtype=float)
    s = matrix.shape[0]
    if matrix.shape != (s, s):
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    i, j = np.triu_indices(s, k=1)
    if steps is None:
        lag_of_pair = (j - i).astype(float)
    else:
        steps = np.asarray(steps, dtype=float)
        if steps.shape != (s,):
            raise ValueError(f"steps must be ({s},), got {steps.shape}")
        lag_of_pair = steps[j] - steps[i]
    values = matrix[i, j]
    finite = np.isfinite(values)
    lags, inverse = np.unique(lag_of_pair, return_inverse=True)
    n_pairs = np.bincount(inverse, weights=finite, minlength=lags.size)
    sums = np.bincount(inverse, weights=np.where(finite, values, 0.0), minlength=lags.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_pairs > 0, sums / n_pairs, np.nan)
    return lags, mean, n_pairs.astype(np.int64)
