"""Sparsification timescale and the three phases of learning under noise.

Ratzon, Derdikman & Barak (2024), Table 1, describe three phases of a run:

1. *fast learning* — the loss falls to its noise floor;
2. *directed drift* — at constant loss, activity statistics (fraction of active units,
   active fraction, spatial information) change systematically: the network sparsifies;
3. *null drift* — a steady state: statistics are stationary while the representation
   keeps drifting.

Two measures of the sparsification timescale are offered by
:func:`sparsification_timescale`:

* ``method="paper"`` — the procedure of the paper's Methods and of its published code
  (``get_tau`` in the original repository), behind the ``log_tau`` column of its tables
  and Fig. 4B / 5B. On the *whole* curve ``y`` of the fraction of active units, from the
  first record on:

  1. ``end_value = max y − 0.9 (max y − min y)``, the level at which 90 % of the fall is
     done; the cut ``c`` is the record nearest to it (the first such record on a tie);
  2. records ``0 … c − 1`` are kept (the record at the cut itself is not fitted);
  3. ``z_i = log(y_i − min_kept y + 1e-10)`` (natural log; ``min_kept`` over the kept
     records, so the lowest kept record sits at ``log 1e-10``);
  4. a straight line ``z ≈ a + b t`` is fitted by weighted least squares, minimising
     ``Σ_i w_i² (z_i − a − b t_i)²`` with ``w_i = sqrt(t_{c−1−i} / t_{c−1})`` — the
     kept steps *reversed* and divided by the last kept step (``np.polyfit``'s ``w``
     multiplies the residuals, so the effective weights are ``w_i²``). On evenly spaced
     records from step 0, as in the published runs (10,000 records), ``w_i² =
     1 − t_i / t_{c−1}``: early records count most, the last kept one not at all. On
     unevenly (log-) spaced records the result depends on the spacing; resample to
     evenly spaced records before comparing with the tables;
  5. the rate is ``|b|`` per step, and the tables' ``log_tau`` is ``log10 |b|`` — despite
     its name the logarithm of a *rate*, ``−log10 τ``; it is 0 where the fit failed.

  The fit fails (``ok = False``, rate NaN, ``log_tau = 0``) where the original raised
  (its records start at step 0): a constant curve, a cut leaving fewer than two records
  of positive weight, a last kept step of 0, non-finite records, or a slope that is not
  finite or exactly 0. It also fails on a single kept record when the records start
  later, where the original returned an arbitrary minimum-norm line. ``b`` is not
  ``−1/τ`` of an exponential: subtracting the minimum bends ``z`` down before the cut, so
  for ``a e^{−t/τ} + c`` recorded densely over 8 τ the paper's rate is ≈ 1.48 / τ, for
  any ``a > 0`` and ``c``.

* ``method="exponential"`` (:func:`fit_exponential`): a least-squares fit of
  ``s(t) = a · exp(−(t − t0) / τ) + c`` after the loss plateau (``t0`` = first fitted
  step). τ is in steps; it is a decay time of the statistic itself, independent of the
  record spacing.

Definitions of the phases (all on recorded step numbers, so unevenly spaced records are
fine):

* **End of fast learning** (:func:`loss_plateau_step`): the first recorded step after which
  the smoothed loss stays within ``factor`` (default 2) of its final level. Smoothing is
  a running median over ``window`` records of ``log10(loss)``; the final level is the median
  of ``log10(loss)`` over the last ``tail`` fraction (default 10 %) of records.
* **End of directed drift**: the first recorded step at or after
  ``t0 + τ · ln(1 / within)``, when the exponential fit after the plateau has decayed to
  ``within`` (default 5 %, i.e. ≈ 3 τ) of its amplitude. Undefined (``None``) if the fit
  failed or that step lies beyond the run.
* **Null-drift steady state**: from the end of directed drift to the last recorded step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.ndimage
import scipy.optimize
import scipy.special


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
    # Student's t quantile: what scipy.stats.t.ppf computes, without importing scipy.stats
    # (about 0.3 s at every start of the command).
    q = float(scipy.special.stdtrit(max(1, t.size - 3), 0.5 + level / 2))
    # A fit that ran away gives an infinite tau or interval; it is flagged below as
    # outside the data, so the overflow itself is not worth a warning.
    with np.errstate(over="ignore"):
        tau = float(np.exp(log_tau) * span)
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


PAPER_FALL = 0.9
"""Fraction of the fall (max − min) done at the paper's cut."""

PAPER_EPSILON = 1e-10
"""Added after subtracting the minimum of the kept records, before the logarithm."""

TimescaleMethod = Literal["paper", "exponential"]


@dataclass(frozen=True)
class Timescale:
    """A sparsification timescale (see :func:`sparsification_timescale`).

    Attributes:
        method: ``"paper"`` or ``"exponential"``.
        rate_per_step: the sparsification rate in 1/steps, positive (paper: ``|b|``;
            exponential: ``1/τ``); NaN when the fit failed.
        tau_steps: ``1 / rate_per_step`` in steps; NaN when the fit failed.
        log_tau: ``log10(rate_per_step)`` as the published tables' ``log_tau`` column
            (a log *rate*, i.e. ``−log10 tau_steps``); 0.0 where the fit failed (paper)
            or is not ``ok`` (exponential), as in those tables.
        slope_per_step: the signed slope of the fit (paper: of
            ``log(y − min + 1e-10)`` against the step, negative for a falling curve;
            exponential: ``−1/τ``); NaN when the fit failed.
        ok: the fit succeeded (exponential: and passed :func:`fit_exponential`'s
            quality checks).
        message: why it is not ``ok`` (empty when it is).
        first_index: first record fitted (paper: 0; exponential: the loss plateau).
        cut_index: records ``first_index … cut_index − 1`` were fitted. Paper: the record
            nearest to ``end_value``, itself not fitted; exponential: the number of
            records.
        cut_step: ``steps[cut_index]``; NaN when ``cut_index`` is the number of records.
        end_value: paper: ``max − 0.9 (max − min)`` of the curve; exponential: NaN.
        exponential: the :class:`ExponentialFit` behind an exponential timescale;
            ``None`` for the paper's.
    """

    method: TimescaleMethod
    rate_per_step: float
    tau_steps: float
    log_tau: float
    slope_per_step: float
    ok: bool
    message: str
    first_index: int
    cut_index: int
    cut_step: float
    end_value: float
    exponential: ExponentialFit | None = None


def _checked_steps(steps: np.ndarray, curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(steps, dtype=float)
    y = np.asarray(curve, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"steps and curve must be equal-length 1-D; got {t.shape}, {y.shape}")
    if t.size and not np.all(np.isfinite(t)):
        raise ValueError("steps must be finite")
    if np.any(np.diff(t) <= 0):
        raise ValueError("steps must be strictly increasing")
    if t.size and t[0] < 0:
        raise ValueError(f"steps must be >= 0, got {t[0]:.6g}")
    return t, y


def _paper(t: np.ndarray, y: np.ndarray) -> Timescale:
    n = t.size
    nan = float("nan")

    def failed(message: str, cut: int = 0, end_value: float = nan) -> Timescale:
        cut_step = float(t[cut]) if cut < n else nan
        return Timescale("paper", nan, nan, 0.0, nan, False, message, 0, cut, cut_step, end_value)

    if n == 0:
        return failed("no records")
    if not np.all(np.isfinite(y)):
        return failed("the curve has non-finite records")
    top, bottom = float(y.max()), float(y.min())
    end_value = top - PAPER_FALL * (top - bottom)
    cut = int(np.argmin(np.abs(y - end_value)))
    if top == bottom:
        return failed("no decay: the curve is constant", cut, end_value)
    kept_t, kept_y = t[:cut], y[:cut]
    if cut < 2:
        return failed(
            f"the curve is nearest its 90 % level at record {cut}: too few records before it",
            cut,
            end_value,
        )
    if kept_t[-1] <= 0:
        return failed("the last kept step is 0", cut, end_value)
    z = np.log(kept_y - (kept_y.min() - PAPER_EPSILON))
    w = np.sqrt(kept_t[::-1] / kept_t[-1])  # residual weights (np.polyfit's convention)
    if np.count_nonzero(w > 0) < 2:
        return failed("fewer than two kept records have positive weight", cut, end_value)
    slope = float(np.polyfit(kept_t, z, 1, w=w)[0])
    if not np.isfinite(slope) or slope == 0.0:
        return failed(f"the fitted slope is {slope}", cut, end_value)
    rate = abs(slope)
    return Timescale(
        method="paper",
        rate_per_step=rate,
        tau_steps=1.0 / rate,
        log_tau=float(np.log10(rate)),
        slope_per_step=slope,
        ok=True,
        message="",
        first_index=0,
        cut_index=cut,
        cut_step=float(t[cut]),
        end_value=end_value,
    )


def _exponential(
    t: np.ndarray,
    y: np.ndarray,
    loss: np.ndarray,
    *,
    factor: float,
    window: int,
    level: float,
    min_r_squared: float,
) -> Timescale:
    plateau = loss_plateau_step(t, loss, factor=factor, window=window)
    first = int(np.flatnonzero(t >= plateau)[0])
    fit = fit_exponential(t[first:], y[first:], level=level, min_r_squared=min_r_squared)
    rate = 1.0 / fit.tau_steps
    return Timescale(
        method="exponential",
        rate_per_step=rate,
        tau_steps=fit.tau_steps,
        log_tau=float(np.log10(rate)) if fit.ok else 0.0,
        slope_per_step=-rate,
        ok=fit.ok,
        message=fit.message,
        first_index=first,
        cut_index=t.size,
        cut_step=float("nan"),
        end_value=float("nan"),
        exponential=fit,
    )


def sparsification_timescale(
    steps: np.ndarray,
    curve: np.ndarray,
    method: TimescaleMethod = "paper",
    *,
    loss: np.ndarray | None = None,
    factor: float = 2.0,
    window: int = 5,
    level: float = 0.95,
    min_r_squared: float = 0.5,
) -> Timescale:
    """The sparsification timescale of a curve of an activity statistic.

    ``method="paper"`` is the paper's procedure on the whole curve (see the module
    docstring): to compare with the ``log_tau`` of the published tables, pass the fraction
    of active units on evenly spaced records from step 0. ``method="exponential"`` fits
    ``a · exp(−(t − t0)/τ) + c`` from the loss plateau (:func:`loss_plateau_step`) on
    (:func:`fit_exponential`) and needs ``loss``.

    Args:
        steps: ``(records,)`` strictly increasing step numbers, ``>= 0``.
        curve: ``(records,)`` the statistic (the paper: fraction of active units; any
            constant scale, e.g. division by the first record, changes ``log_tau`` only
            through the ``1e-10`` offset).
        method: ``"paper"`` or ``"exponential"``.
        loss: ``(records,)`` training loss; needed by, and only used by, the exponential
            method.
        factor, window: loss-plateau parameters (exponential only).
        level, min_r_squared: confidence level and quality threshold of the exponential
            fit (exponential only).

    Returns:
        A :class:`Timescale`. A fit that fails is reported with ``ok = False`` and a
        message, never as an exception.
    """
    if method not in ("paper", "exponential"):
        raise ValueError(f"method must be 'paper' or 'exponential', got {method!r}")
    t, y = _checked_steps(steps, curve)
    if method == "paper":
        if loss is not None:
            raise ValueError("loss is used only by method='exponential'")
        return _paper(t, y)
    if loss is None:
        raise ValueError("method='exponential' needs the loss (to find the loss plateau)")
    return _exponential(
        t,
        y,
        np.asarray(loss, dtype=float),
        factor=factor,
        window=window,
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
    after = t >= plateau
    fit = fit_exponential(
        t[after], np.asarray(statistic, dtype=float)[after], min_r_squared=min_r_squared
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
