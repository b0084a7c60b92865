"""Trends across sessions: normalisation, linear regression on day, drift of rate maps.

As in Fig. 3 of Ratzon et al. 2024: each metric of a series (one animal on one track) is
divided by its value in the series' first session, then regressed linearly on the days
since that session; the slope's two-sided t-test gives the p-value. Regressions are made
per series, per animal (its tracks together) and pooled over all animals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..metrics.drift import map_correlation
from .analysis import SessionResult

#: Metrics of the per-session table that the trends are computed for.
TREND_METRICS: tuple[str, ...] = (
    "n_active",
    "fraction_active",
    "fraction_place",
    "mean_si_naive",
    "mean_si_ssr",
    "mean_si_bae",
)


def session_table(results: Iterable[SessionResult]) -> pd.DataFrame:
    """One row per session, with ``elapsed_days`` (since the series' first session) and
    ``<metric>_norm`` (divided by the first session's value) for :data:`TREND_METRICS`."""
    table = pd.DataFrame([r.summary() for r in results])
    if table.empty:
        return table
    table = table.sort_values(["animal", "track", "day", "session"]).reset_index(drop=True)
    return normalise_to_first(table, TREND_METRICS)


def normalise_to_first(
    table: pd.DataFrame, metrics: Sequence[str], by: Sequence[str] = ("animal", "track")
) -> pd.DataFrame:
    """Add ``elapsed_days`` and ``<metric>_norm`` = value / value of the first session."""
    table = table.copy()
    groups = table.groupby(list(by), sort=False)
    first_day = groups["day"].transform("min")
    table["elapsed_days"] = table["day"] - first_day
    is_first = table["day"] == first_day
    for metric in metrics:
        first = table[metric].where(is_first)
        reference = first.groupby([table[b] for b in by]).transform("first")
        with np.errstate(invalid="ignore", divide="ignore"):
            table[f"{metric}_norm"] = table[metric] / reference.replace(0, np.nan)
    return table


def linear_trend(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Least-squares line ``y = intercept + slope · x`` and the t-test of the slope.

    Non-finite points are dropped. Returns ``slope``, ``intercept``, ``r``, ``p_value``
    (two-sided, ``H0: slope = 0``, ``n − 2`` degrees of freedom), ``stderr`` and ``n``;
    NaN where fewer than three points (or no spread in ``x``) remain.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    nan = float("nan")
    out = {
        "slope": nan,
        "intercept": nan,
        "r": nan,
        "p_value": nan,
        "stderr": nan,
        "n": int(x.size),
    }
    if x.size < 3 or np.ptp(x) == 0:
        return out
    if np.ptp(y) == 0:
        out.update(slope=0.0, intercept=float(y[0]), r=0.0, p_value=1.0, stderr=0.0)
        return out
    fit = stats.linregress(x, y)
    out.update(
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        r=float(fit.rvalue),
        p_value=float(fit.pvalue),
        stderr=float(fit.stderr),
    )
    return out


def trend_regressions(
    table: pd.DataFrame, metrics: Sequence[str] = TREND_METRICS
) -> dict[str, dict[str, object]]:
    """Regression of each normalised metric on ``elapsed_days``.

    Returns:
        ``{metric: {"pooled": fit, "per_animal": {animal: fit},
        "per_series": {"animal/track": fit}}}`` with fits from :func:`linear_trend`.
    """
    out: dict[str, dict[str, object]] = {}
    for metric in metrics:
        column = f"{metric}_norm"
        if column not in table:
            continue
        entry: dict[str, object] = {
            "pooled": linear_trend(table["elapsed_days"], table[column]),
            "per_animal": {
                str(animal): linear_trend(group["elapsed_days"], group[column])
                for animal, group in table.groupby("animal", sort=True)
            },
            "per_series": {
                "/".join(str(k) for k in key if str(k)): linear_trend(
                    group["elapsed_days"], group[column]
                )
                for key, group in table.groupby(["animal", "track"], sort=True)
            },
        }
        out[metric] = entry
    return out


def _smooth(maps: np.ndarray, sigma_bins: float, n_blocks: int) -> np.ndarray:
    """Gaussian smoothing along bins within each direction's block."""
    if sigma_bins <= 0:
        return maps
    from scipy.ndimage import gaussian_filter1d

    blocks = np.split(maps, n_blocks, axis=-1)
    return np.concatenate(
        [gaussian_filter1d(b, sigma_bins, axis=-1, mode="nearest") for b in blocks], axis=-1
    )


def rate_map_drift(
    results: Sequence[SessionResult], *, smooth_bins: float = 1.0, cells: str = "place"
) -> pd.DataFrame:
    """Rate-map correlation of registered cells between every two sessions of a series.

    For each pair of sessions of one animal on one track, the cells registered in both
    and (``cells="place"``) a place cell in at least one of them, or (``"active"``)
    active in both, are compared: the Pearson correlation of their rate maps (both
    directions, unvisited bins dropped, smoothed by a Gaussian of ``smooth_bins`` bins),
    averaged over cells.

    Returns:
        one row per pair: ``animal, track, session_a, session_b, day_a, day_b,
        elapsed_days, n_cells, mean_correlation``.
    """
    if cells not in ("place", "active"):
        raise ValueError(f"cells must be 'place' or 'active', got {cells!r}")
    rows = []
    by_series: dict[tuple[str, str], list[SessionResult]] = {}
    for r in results:
        if r.cell_ids is not None:
            by_series.setdefault((r.animal, r.track), []).append(r)
    for (animal, track), members in sorted(by_series.items()):
        members = sorted(members, key=lambda r: (r.day, r.session))
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                ids = np.intersect1d(a.cell_ids[a.cell_ids >= 0], b.cell_ids[b.cell_ids >= 0])
                pos_a = _positions(a.cell_ids, ids)
                pos_b = _positions(b.cell_ids, ids)
                if cells == "place":
                    chosen = a.place[pos_a] | b.place[pos_b]
                else:
                    chosen = a.active[pos_a] & b.active[pos_b]
                pos_a, pos_b = pos_a[chosen], pos_b[chosen]
                visited = (a.occupancy > 0) & (b.occupancy > 0)
                n_blocks = 2 if a.rate_maps.shape[1] % 2 == 0 else 1
                maps_a = _smooth(np.nan_to_num(a.rate_maps[pos_a]), smooth_bins, n_blocks)
                maps_b = _smooth(np.nan_to_num(b.rate_maps[pos_b]), smooth_bins, n_blocks)
                maps_a[:, ~visited] = np.nan  # correlate over bins visited in both
                corr = map_correlation(maps_a, maps_b)
                corr = corr[np.isfinite(corr)]
                rows.append(
                    {
                        "animal": animal,
                        "track": track,
                        "session_a": a.session,
                        "session_b": b.session,
                        "day_a": a.day,
                        "day_b": b.day,
                        "elapsed_days": b.day - a.day,
                        "n_cells": int(corr.size),
                        "mean_correlation": float(corr.mean()) if corr.size else math.nan,
                    }
                )
    return pd.DataFrame(
        rows,
        columns=[
            "animal",
            "track",
            "session_a",
            "session_b",
            "day_a",
            "day_b",
            "elapsed_days",
            "n_cells",
            "mean_correlation",
        ],
    )


def _positions(cell_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Column of each registered identity in ``ids`` within ``cell_ids``."""
    order = np.argsort(cell_ids)
    return order[np.searchsorted(cell_ids, ids, sorter=order)]


def drift_regressions(drift: pd.DataFrame) -> dict[str, object]:
    """Regression of the mean rate-map correlation on the days between sessions."""
    if drift.empty:
        return {"pooled": linear_trend([], []), "per_series": {}}
    return {
        "pooled": linear_trend(drift["elapsed_days"], drift["mean_correlation"]),
        "per_series": {
            "/".join(str(k) for k in key if str(k)): linear_trend(
                group["elapsed_days"], group["mean_correlation"]
            )
            for key, group in drift.groupby(["animal", "track"], sort=True)
        },
    }
