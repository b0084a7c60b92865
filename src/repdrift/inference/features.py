"""Features of drift time courses that do not depend on the unit of time.

A simulated run counts time in steps, a recording in days; a model trained on one must
apply to the other. Every feature here is therefore computed on *normalised time*
``u = (t − t₀) / (t_end − t₀) ∈ [0, 1]`` over a *window* from ``t₀`` — the end of
learning (for a run :func:`repdrift.inference.observe.window_start`, around the loss
plateau; the first session of a recording) — to the last record ``t_end``, or is a ratio
of times.
Multiplying every time by a constant leaves every feature unchanged (a property test
checks this).

**Curves** (fraction of active units, active fraction, loss, place-unit fraction, mean
SI, Hessian summaries). A curve ``y(t)`` is taken as ``g = log y`` (raised to a floor
first, :data:`CURVES`; the fraction of non-zero Hessian eigenvalues as it is),
interpolated onto 21 evenly spaced ``u``, and summarised by

* ``trend`` — slope of the least-squares line of ``g`` on ``u``: the change over the
  window, in natural-log units (what a regression over sessions measures);
* ``curvature`` — the ``u²`` coefficient of the least-squares parabola (negative: the
  change slows down, positive: it speeds up);
* ``half`` — the ``u`` at which half of the change from ``u = 0`` to ``u = 1`` is done
  (NaN when ``g`` changes by less than 0.01);
* ``jitter`` — standard deviation of the records around the parabola (fluctuations);
* ``end`` — ``g`` averaged over ``u ≥ 0.9`` (a level, not a change).

**Drift** (rate-map and population-vector correlation against lag, pairs of snapshots in
the window): lags are normalised by the window's length and the mean correlation is taken
over ``u``-lags in ``[0, ⅓)``, ``[⅓, ⅔)`` and ``[⅔, 1]`` (``short``, ``mid``, ``long``,
weighted by the pairs averaged), with ``decay``, the slope of the pair-weighted line of
correlation on ``u``-lag, and ``mid_ratio``, ``long_ratio`` (``mid / short``,
``long / short``): noise in estimated rate maps lowers every correlation by about the same
factor, which the ratios cancel.

**Tiers.** The features a recording can give (:data:`RECORDING`: relative changes and
shapes of the fraction of active cells, the place-cell fraction and the mean SI, and the
ratios of the rate-map correlation at long and middle lags to that at short lags), those
every simulated run gives (:data:`OBSERVABLES`: adds the levels, the active fraction, the
loss, population-vector correlation and the window's start), and the Hessian summaries no
recording has (:data:`HESSIAN`). Each tier contains the one before. Levels (``end``) and
fluctuations (``jitter``) are left out of the recording tier: a cell's events and a unit's
rate are measured on different scales, and a recording's day-to-day scatter is sampling
noise that a simulated clean record lacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Normalised time points a curve is interpolated onto before it is summarised.
GRID = np.linspace(0.0, 1.0, 21)
#: Floor of a fraction before its logarithm (a fraction of 0 would be −∞).
LOG_FLOOR = 1e-3
#: Floor of the loss (MSE / var y) before its logarithm: below float32's resolution.
LOSS_FLOOR = 1e-12
#: Below this change (log units) a curve has no half time.
MIN_CHANGE = 0.01
#: Bounds of the normalised-lag bins of the correlation features.
LAG_BINS = (0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0 + 1e-9)

CURVE_STATS = ("trend", "curvature", "half", "jitter", "end")
DRIFT_STATS = ("short", "mid", "long", "decay", "mid_ratio", "long_ratio")
#: Drift stats a recording can give: ratios, free of the attenuation of correlations by
#: the noise of estimated rate maps.
RECORDING_DRIFT_STATS = ("mid_ratio", "long_ratio")

#: Curves: name -> (floor before the logarithm, or None for none; the stats a recording
#: can give).
CURVES: dict[str, tuple[float | None, tuple[str, ...]]] = {
    "units": (LOG_FLOOR, ("trend", "curvature")),
    "activity": (LOG_FLOOR, ()),
    "loss": (LOSS_FLOOR, ()),
    "place": (LOG_FLOOR, ("trend", "curvature")),
    "si": (LOG_FLOOR, ("trend", "curvature")),
    "hess_trace": (LOSS_FLOOR, ()),
    "hess_max": (LOSS_FLOOR, ()),
    "hess_nonzero": (None, ()),
}
#: Correlation-against-lag signals: name -> whether a recording gives it.
DRIFTS: dict[str, bool] = {"rc": True, "pv": False}
_HESSIAN_CURVES = ("hess_trace", "hess_max", "hess_nonzero")


def _names() -> tuple[list[str], list[str], list[str]]:
    recording, observables, hessian = [], [], []
    for curve, (_, rec_stats) in CURVES.items():
        for stat in CURVE_STATS:
            name = f"{curve}__{stat}"
            if curve in _HESSIAN_CURVES:
                hessian.append(name)
            elif stat in rec_stats:
                recording.append(name)
            else:
                observables.append(name)
    for signal, in_recording in DRIFTS.items():
        for stat in DRIFT_STATS:
            rec = in_recording and stat in RECORDING_DRIFT_STATS
            (recording if rec else observables).append(f"{signal}__{stat}")
    observables += ["units__from_init", "activity__from_init", "window__start"]
    hessian.append("hess_nonzero__units_r")
    return recording, observables, hessian


_REC, _OBS, _HESS = _names()
#: Feature names of each tier (each tier contains the one before).
RECORDING: tuple[str, ...] = tuple(_REC)
OBSERVABLES: tuple[str, ...] = (*RECORDING, *_OBS)
HESSIAN: tuple[str, ...] = (*OBSERVABLES, *_HESS)
TIERS: dict[str, tuple[str, ...]] = {
    "recording": RECORDING,
    "observables": OBSERVABLES,
    "hessian": HESSIAN,
}
#: Every feature, in tier order.
FEATURES: tuple[str, ...] = HESSIAN
#: Features that must be finite for a target to use a tier (the rest may be missing).
REQUIRED: dict[str, tuple[str, ...]] = {
    "recording": ("units__trend",),
    "observables": ("units__trend", "activity__trend", "loss__trend"),
    "hessian": ("units__trend", "activity__trend", "loss__trend", "hess_trace__trend"),
}


@dataclass(frozen=True)
class Observations:
    """Time courses of one simulated run or one recorded series, in any unit of time.

    Attributes:
        time: ``(records,)`` increasing record times (steps, days, ...).
        units: ``(records,)`` fraction of active units (cells).
        activity: ``(records,)`` active fraction of (unit, sample) pairs, or ``None``.
        loss: ``(records,)`` loss / var(targets), or ``None``.
        start: start of the window (end of learning), in the unit of ``time``; ``None``
            for the first record.
        snapshot_time: ``(snapshots,)`` times of the snapshot quantities below.
        place: ``(snapshots,)`` fraction of active units that are place units, or ``None``.
        si: ``(snapshots,)`` mean SI of place units (bits per unit activity, or per
            event), or ``None``.
        rc, pv: rate-map and population-vector correlation against lag, each
            ``(lag (lags,), mean correlation (lags,), pairs (lags,))`` with lags in the
            unit of ``time`` (only pairs inside the window), or ``None``.
        hessian: ``{"trace", "max", "fraction_nonzero"} -> (snapshots,)``, or ``None``.
    """

    time: np.ndarray
    units: np.ndarray
    activity: np.ndarray | None = None
    loss: np.ndarray | None = None
    start: float | None = None
    snapshot_time: np.ndarray | None = None
    place: np.ndarray | None = None
    si: np.ndarray | None = None
    rc: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    pv: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    hessian: dict[str, np.ndarray] | None = field(default=None)


# ----------------------------------------------------------------------------- curves


def curve_stats(
    u: np.ndarray, y: np.ndarray, *, floor: float | None = LOG_FLOOR
) -> dict[str, float]:
    """:data:`CURVE_STATS` of one curve sampled at normalised times ``u`` (see module).

    Args:
        u: ``(points,)`` normalised times in ``[0, 1]``, increasing.
        y: ``(points,)`` the curve; values below ``floor`` are raised to it, then the
            natural logarithm is taken (``floor=None``: the curve as it is).

    Returns:
        ``{stat: value}``; NaN where fewer than 3 finite points lie in the window.
    """
    out = dict.fromkeys(CURVE_STATS, math.nan)
    u = np.asarray(u, float)
    y = np.asarray(y, float)
    keep = np.isfinite(u) & np.isfinite(y) & (u >= 0) & (u <= 1)
    u, y = u[keep], y[keep]
    if u.size < 3 or np.ptp(u) <= 0:
        return out
    g = y if floor is None else np.log(np.maximum(y, floor))
    # np.interp needs increasing, distinct abscissae: average repeated times.
    uu, inverse = np.unique(u, return_inverse=True)
    gg = np.bincount(inverse, weights=g) / np.bincount(inverse)
    on_grid = np.interp(GRID, uu, gg)
    out["trend"] = float(np.polyfit(GRID, on_grid, 1)[0])
    quad = np.polyfit(GRID, on_grid, 2)
    out["curvature"] = float(quad[0])
    out["jitter"] = float(np.std(g - np.polyval(quad, u)))
    out["end"] = float(on_grid[GRID >= 0.9].mean())
    change = on_grid[-1] - on_grid[0]
    if abs(change) >= MIN_CHANGE:
        done = (on_grid - on_grid[0]) / change
        out["half"] = float(GRID[np.flatnonzero(done >= 0.5)[0]])
    return out


def drift_stats(
    lag_u: np.ndarray, corr: np.ndarray, pairs: np.ndarray | None = None
) -> dict[str, float]:
    """:data:`DRIFT_STATS` of a correlation-against-lag curve with normalised lags.

    Args:
        lag_u: ``(lags,)`` lags as fractions of the window.
        corr: ``(lags,)`` mean correlation at each lag.
        pairs: ``(lags,)`` pairs averaged at each lag (weights; default 1).
    """
    out = dict.fromkeys(DRIFT_STATS, math.nan)
    lag_u = np.asarray(lag_u, float)
    corr = np.asarray(corr, float)
    w = np.ones_like(corr) if pairs is None else np.asarray(pairs, float)
    keep = np.isfinite(lag_u) & np.isfinite(corr) & (w > 0) & (lag_u > 0)
    lag_u, corr, w = lag_u[keep], corr[keep], w[keep]
    if lag_u.size == 0:
        return out
    for name, lo, hi in zip(("short", "mid", "long"), LAG_BINS[:-1], LAG_BINS[1:], strict=True):
        inside = (lag_u >= lo) & (lag_u < hi)
        if inside.any():
            out[name] = float(np.average(corr[inside], weights=w[inside]))
    if np.unique(lag_u).size >= 2:
        out["decay"] = float(np.polyfit(lag_u, corr, 1, w=np.sqrt(w))[0])
    if np.isfinite(out["short"]) and out["short"] > 0:
        out["mid_ratio"] = out["mid"] / out["short"]
        out["long_ratio"] = out["long"] / out["short"]
    return out


# --------------------------------------------------------------------------- features


def _window(obs: Observations) -> tuple[float, float]:
    t = np.asarray(obs.time, float)
    finite = t[np.isfinite(t)]
    if finite.size < 2:
        return math.nan, math.nan
    t0 = float(finite[0]) if obs.start is None else float(obs.start)
    t_end = float(finite[-1])
    return t0, t_end


def _normalised(t: np.ndarray, t0: float, t_end: float) -> np.ndarray:
    span = t_end - t0
    if not span > 0:
        return np.full(np.shape(t), np.nan)
    return (np.asarray(t, float) - t0) / span


def _curve_into(out: dict[str, float], name: str, u: np.ndarray, y: np.ndarray | None) -> None:
    floor, _ = CURVES[name]
    stats = (
        curve_stats(u, y, floor=floor) if y is not None else dict.fromkeys(CURVE_STATS, math.nan)
    )
    for stat, value in stats.items():
        out[f"{name}__{stat}"] = value


def _from_init(t: np.ndarray, y: np.ndarray | None, t_end: float) -> float:
    """log(y at the end / y at the first record), the end averaged as :func:`curve_stats`."""
    if y is None:
        return math.nan
    y = np.asarray(y, float)
    first = y[0] if y.size else math.nan
    end = y[(np.asarray(t, float) >= t_end) & np.isfinite(y)]
    if not (np.isfinite(first) and first > 0 and end.size):
        return math.nan
    return float(np.log(max(end[-1], LOG_FLOOR) / max(first, LOG_FLOOR)))


def features(obs: Observations) -> dict[str, float]:
    """Every feature of :data:`FEATURES` for one run or series (NaN where unavailable).

    Time enters only through ``u`` and ratios of times, so the result does not change
    when every time of ``obs`` (records, snapshots, lags, ``start``) is multiplied by the
    same positive constant.
    """
    out = dict.fromkeys(FEATURES, math.nan)
    t0, t_end = _window(obs)
    if not (np.isfinite(t0) and np.isfinite(t_end) and t_end > t0):
        return out
    u = _normalised(obs.time, t0, t_end)
    _curve_into(out, "units", u, obs.units)
    _curve_into(out, "activity", u, obs.activity)
    _curve_into(out, "loss", u, obs.loss)
    t_first = float(np.asarray(obs.time, float)[0])
    out["units__from_init"] = _from_init(obs.time, obs.units, t_end)
    out["activity__from_init"] = _from_init(obs.time, obs.activity, t_end)
    if t_end > t_first:
        out["window__start"] = (t0 - t_first) / (t_end - t_first)
    if obs.snapshot_time is not None:
        us = _normalised(obs.snapshot_time, t0, t_end)
        _curve_into(out, "place", us, obs.place)
        _curve_into(out, "si", us, obs.si)
        hess = obs.hessian or {}
        for name, key in zip(_HESSIAN_CURVES, ("trace", "max", "fraction_nonzero"), strict=True):
            _curve_into(out, name, us, hess.get(key))
        out["hess_nonzero__units_r"] = _units_r(obs, us, hess.get("fraction_nonzero"))
    for name in DRIFTS:
        series = getattr(obs, name)
        if series is None:
            continue
        lag, corr, pairs = series
        stats = drift_stats(np.asarray(lag, float) / (t_end - t0), corr, pairs)
        for stat, value in stats.items():
            out[f"{name}__{stat}"] = value
    return out


def _units_r(obs: Observations, us: np.ndarray, nonzero: np.ndarray | None) -> float:
    """Pearson r, over snapshots in the window, of the fraction of non-zero Hessian
    eigenvalues with the fraction of active units (Fig. 5C: r ≈ 0.96 under update noise)."""
    if nonzero is None:
        return math.nan
    units = np.interp(np.asarray(obs.snapshot_time, float), np.asarray(obs.time, float), obs.units)
    nonzero = np.asarray(nonzero, float)
    keep = (us >= 0) & (us <= 1) & np.isfinite(nonzero) & np.isfinite(units)
    a, b = units[keep], nonzero[keep]
    # a constant series (up to rounding) has no correlation
    if a.size < 3 or np.ptp(a) < 1e-9 or np.ptp(b) < 1e-9:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def feature_row(obs: Observations) -> np.ndarray:
    """:func:`features` as a ``(len(FEATURES),)`` array in :data:`FEATURES` order."""
    values = features(obs)
    return np.array([values[name] for name in FEATURES], float)


def missing_required(values: dict[str, float], tier: str) -> list[str]:
    """Features of :data:`REQUIRED` that ``values`` lacks (NaN) for ``tier``."""
    return [name for name in REQUIRED[tier] if not np.isfinite(values.get(name, math.nan))]
