"""Sparsification timescale and the three phases of learning under noise.

Ratzon, Derdikman & Barak (2024), Table 1, describe three phases of a run:

1. *fast learning* — the loss falls to its noise floor;
2. *directed drift* — at constant loss, activity statistics (fraction of active units,
   active fraction, spatial information) change systematically: the network sparsifies;
3. *null drift* — a steady state: statistics are stationary while the representation
   keeps drifting.

Definitions used here (all on recorded step numbers, so unevenly spaced records are fine):

* **End of fast learning** (:func:`loss_plateau_step`): the first recorded step after which
  the smoothed loss stays within ``factor`` (default 2) of its final level. Smoothing is
  a running median over ``window`` records of ``log10(loss)``; the final level is the median
  of ``log10(loss)`` over the last ``tail`` fraction (default 10 %) of records.
* **Sparsification timescale** (:func:`fit_exponential`,
  :func:`sparsification_timescale`): a least-squares fit of
  ``s(t) = a · exp(−(t − t0) / τ) + c`` to an activity statistic after the loss plateau
  (``t0`` = first fitted step). τ is in steps.
* **End of directed drift**: the first recorded step at or after
  ``t0 + τ · ln(1 / within)``, when the fitted exponential has decayed to ``within``
  (default 5 %, i.e. ≈ 3 τ) of its amplitude. Undefined (``None``) if the fit failed or
  that step lies beyond the run.
* **Null-drift steady state**: from the end of directed drift to the last recorded step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.optimize
import scipy.stats


@dataclass(frozen=True)
class ExponentialFit:
    """Result of fitting ``s(t) = amplitude · exp(−(t − t0_step) / tau_steps) + offset``.

    Attributes:
        tau_steps: decay time τ in steps; NaN when the fit failed.
        tau_ci_steps: ``(low, high)`` confidence interval of τ at ``level``, from the fit's
            covariance (symmetric in ``log τ``); NaNs when unavailable.
        amplitude, offset: ``a`` and ``c``, in the statistic's units.
        t0_step: first fitted step.
        r_squared: coefficient of determination of the fit on the fitted points.
        converged: the optimiser returned with a finite covariance.
        ok: ``converged`` and ``τ`` within the data (between the smallest step spacing and
            the fitted span) and ``r_squared ≥ min_r_squared``: the quality flag.
        message: why the fit is not ``ok`` (empty when it is).
        level: confidence level of ``tau_ci_steps``.
    """

    tau_steps: float
    tau_ci_steps: tuple[float, float]
    amplitude: float
    offset: float
    t0_step: float
    r_squared: float
    converged: bool
    ok: bool
    message: str
    level: float

    def predict(self, steps: np.ndarray) -> np.ndarray:
        """The fitted curve at ``steps`` (NaN when the fit failed)."""
        t = np.asarray(steps, dtype=float)
        return self.amplitude * np.exp(-(t - self.t0_step) / self.tau_steps) + self.offset


def _failed(t0: float, message: str, level: float) -> ExponentialFit:
    nan = float("nan")
    return ExponentialFit(nan, (nan, nan), nan, nan, t0, nan, False, False, message, level)


def _model(t: np.ndarray, a: float, log_tau: float, c: float) -> np.ndarray:
    return a * np.exp(-t * np.exp(-log_tau)) + c


def fit_exponential(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    level: float = 0.95,
    min_r_squared: float = 0.5,
) -> ExponentialFit:
    """Fit ``a · exp(−(t − t0)/τ) + c`` by non-linear least squares (``scipy.optimize.curve_fit``).

    Time is rescaled to ``(t − t0) / span`` and τ fitted as ``log τ`` (positive by
    construction); the confidence interval is ``exp(log τ ± q · se)`` with ``se`` from the
    covariance and ``q`` the Student-t quantile with ``points − 3`` degrees of freedom.
    A fit that does not converge is returned with ``tau_steps = NaN`` and ``ok = False``;
    it is never reported as 0.

    Args:
        steps: ``(points,)`` increasing step numbers.
        values: ``(points,)`` the statistic (for example the fraction of active units).
        level: confidence level of the interval.
        min_r_squared: smallest R² for ``ok``.
    """
    t = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"steps and values must be equal-length 1-D; got {t.shape}, {v.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    finite = np.isfinite(t) & np.isfinite(v)
    t, v = t[finite], v[finite]
    t0 = float(t[0]) if t.size else float("nan")
    if t.size < 5:
        return _failed(t0, f"too few finite points to fit ({t.size} < 5)", level)
    if np.any(np.diff(t) <= 0):
        raise ValueError("steps must be strictly increasing")
    span = float(t[-1] - t0)
    x = (t - t0) / span
    tail = max(1, t.size // 10)
    c0 = float(np.mean(v[-tail:]))
    a0 = float(np.mean(v[:tail]) - c0)
    if a0 == 0 or np.ptp(v) == 0:
        return _failed(t0, "no decay: the statistic is constant", level)
    below = np.flatnonzero(np.abs(v - c0) <= abs(a0) / np.e)
    tau0 = float(x[below[0]]) if below.size and x[below[0]] > 0 else 0.3
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.optimize.OptimizeWarning)
            popt, pcov = scipy.optimize.curve_fit(
                _model, x, v, p0=(a0, np.log(tau0), c0), maxfev=20_000
            )
    except (RuntimeError, ValueError) as err:
        return _failed(t0, f"fit did not converge: {err}", level)
    a, log_tau, c = (float(p) for p in popt)
    resid = v - _model(x, a, log_tau, c)
    ss_tot = float(np.sum((v - v.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot
    se = float(np.sqrt(pcov[1, 1])) if np.all(np.isfinite(pcov)) else float("nan")
    converged = bool(np.isfinite(se) and np.isfinite(log_tau))
    tau = float(np.exp(log_tau) * span)
    q = float(scipy.stats.t.ppf(0.5 + level / 2, df=max(1, t.size - 3)))
    ci = (tau * float(np.exp(-q * se)), tau * float(np.exp(q * se)))
    problems = []
    if not converged:
        problems.append("covariance of the fit is not finite")
    min_spacing = float(np.min(np.diff(t)))
    if not min_spacing <= tau <= span:
        problems.append(
            f"tau = {tau:.3g} steps is outside the data (spacing {min_spacing:.3g}, "
            f"span {span:.3g})"
        )
    if not r2 >= min_r_squared:
        problems.append(f"R^2 = {r2:.3f} < {min_r_squared}")
    return ExponentialFit(
        tau_steps=tau,
        tau_ci_steps=ci,
        amplitude=a,
        offset=c,
        t0_step=t0,
        r_squared=r2,
        converged=converged,
        ok=not problems,
        message="; ".join(problems),
        level=level,
    )


def _running_median(x: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return x
    return scipy.ndimage.median_filter(x, size=window, mode="nearest")


def loss_plateau_step(
    steps: np.ndarray,
    loss: np.ndarray,
    *,
    factor: float = 2.0,
    window: int = 5,
    tail: float = 0.1,
) -> float:
    """End of fast learning: the first recorded step at which the smoothed loss comes
    within ``factor`` of its final level.

    ``log10(loss)`` is smoothed by a running median over ``window`` records; the final
    level is the median of ``log10(loss)`` over the last ``tail`` fraction of records.
    The *first* arrival is used, not the last departure: under noise the loss of a
    converged network wanders (it rises while units fall silent and the network
    reorganises, and falls again), and that wandering belongs to the drift phase, not
    to learning. Returns the step (an element of ``steps``).
    """
    t = np.asarray(steps, dtype=float)
    loss = np.asarray(loss, dtype=float)
    if t.shape != loss.shape or t.ndim != 1 or t.size == 0:
        raise ValueError(f"steps and loss must be equal-length 1-D; got {t.shape}, {loss.shape}")
    if not factor > 1:
        raise ValueError(f"factor must be > 1, got {factor}")
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be in (0, 1], got {tail}")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_loss = np.log10(np.where(loss > 0, loss, np.nan))
    log_loss = np.where(np.isfinite(log_loss), log_loss, np.nanmin(log_loss))
    smooth = _running_median(log_loss, window)
    final = float(np.median(log_loss[-max(1, round(tail * t.size)) :]))
    within = np.flatnonzero(smooth <= final + np.log10(factor))
    first = int(within[0]) if within.size else t.size - 1
    return float(t[first])


def sparsification_timescale(
    steps: np.ndarray,
    statistic: np.ndarray,
    loss: np.ndarray,
    *,
    factor: float = 2.0,
    window: int = 5,
    level: float = 0.95,
    min_r_squared: float = 0.5,
) -> ExponentialFit:
    """Exponential fit of an activity statistic after the loss plateau.

    The statistic (typically the fraction of active units) is fitted from
    :func:`loss_plateau_step` on; see :func:`fit_exponential`.
    """
    t = np.asarray(steps, dtype=float)
    plateau = loss_plateau_step(t, loss, factor=factor, window=window)
    after = t >= plateau
    return fit_exponential(
        t[after],
        np.asarray(statistic, dtype=float)[after],
        level=level,
        min_r_squared=min_r_squared,
    )


@dataclass(frozen=True)
class Phases:
    """The three phases of Table 1 of Ratzon et al. (2024), as step numbers.

    Attributes:
        fast_learning_end: step at which the loss reaches its plateau.
        directed_drift_end: first recorded step at which the fitted sparsification has
            decayed to ``within`` of its amplitude; ``None`` if the fit failed or the run
            ended first.
        steady_state: ``(first, last)`` recorded steps of the null-drift steady state;
            ``None`` when ``directed_drift_end`` is.
        fit: the exponential fit behind ``directed_drift_end``.
        message: why a phase is missing (empty otherwise).
    """

    fast_learning_end: float
    directed_drift_end: float | None
    steady_state: tuple[float, float] | None
    fit: ExponentialFit
    message: str


def phases(
    steps: np.ndarray,
    loss: np.ndarray,
    statistic: np.ndarray,
    *,
    factor: float = 2.0,
    within: float = 0.05,
    window: int = 5,
    min_r_squared: float = 0.5,
) -> Phases:
    """Find the ends of fast learning and of directed drift, and the steady state.

    Args:
        steps: ``(records,)`` increasing step numbers.
        loss: ``(records,)`` training loss at those steps.
        statistic: ``(records,)`` activity statistic that sparsifies (fraction of active
            units by default in the paper).
        factor: loss-plateau tolerance (see :func:`loss_plateau_step`).
        within: decay left at the end of directed drift (0.05 → ``ln 20 ≈ 3`` τ).
        window: running-median window in records for the loss.
        min_r_squared: fit quality needed to place the end of directed drift.
    """
    if not 0 < within < 1:
        raise ValueError(f"within must be in (0, 1), got {within}")
    t = np.asarray(steps, dtype=float)
    plateau = loss_plateau_step(t, loss, factor=factor, window=window)
    fit = sparsification_timescale(
        t, statistic, loss, factor=factor, window=window, min_r_squared=min_r_squared
    )
    if not fit.ok:
        return Phases(plateau, None, None, fit, f"sparsification fit failed: {fit.message}")
    end = fit.t0_step + fit.tau_steps * np.log(1.0 / within)
    later = np.flatnonzero(t >= end)
    if later.size == 0:
        return Phases(
            plateau,
            None,
            None,
            fit,
            f"directed drift had not ended by the last step ({t[-1]:.6g} < {end:.6g})",
        )
    drift_end = float(t[later[0]])
    return Phases(plateau, drift_end, (drift_end, float(t[-1])), fit, "")
