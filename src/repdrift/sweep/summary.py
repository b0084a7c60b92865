"""The summary columns of the paper's tables, computed from a stored run.

The published tables (``Tables/All.csv`` of the original code, built by ``collector.py``;
``../shared/reference/driftreg_all_runs.csv`` here) hold one row per simulation with

=================  ==========================================================================
column             definition in ``collector.py``
=================  ==========================================================================
``active``         mean of the last 10 records (the 10 before the final one: ``x[-11:-1]``)
                   of the *active fraction* (unit × sample pairs with h > 0), divided by the
                   first record (after the first update)
``active_units``   the same for the *fraction of active units* (units with h > 0 on at least
                   one sample)
``eig_sum``        mean of the last 10 Hessian records (``[-11:-1]``) of the sum of the
                   eigenvalues (the trace), divided by the mean of the first 10 (``[0:10]``)
``eig_max``        the same for the largest eigenvalue
``eig_nonzero``    mean over the last 10 Hessian records of the fraction of eigenvalues > 0
``loss``           the final record of log10(MSE / var y)
``log_tau``        log10 of the paper's sparsification rate of the fraction of active units
                   (:func:`repdrift.metrics.timescale.sparsification_timescale`,
                   ``method="paper"``); 0 where the fit failed
=================  ==========================================================================

repdrift adds, for tasks with positions, ``si_initial`` and ``si``: the mean spatial
information of place units (bits per unit activity) at the first and the last snapshot.

**How our records map to the original's.** The original recorded evenly spaced steps:
10,000 records per run (``Analyzer.num_sample``) and 101 Hessian records
(``num_sample_hess = 100``, plus the last). repdrift records every step up to
``record.dense_until``, then log-spaced steps, and computes the Hessian at its parameter
*snapshots* (log-spaced, plus ``record.linear_snapshots + 1`` evenly spaced ones). To apply
``collector.py``'s arithmetic unchanged, each curve is first resampled, by linear
interpolation in the step, onto the original's evenly spaced grid up to the run's last
stored step — :data:`RECORDS` points for the records, from step 1 (the original recorded
after each epoch's update: :func:`record_grid`), :data:`HESSIAN_RECORDS` for the Hessian
summaries, from step 0 (one update changes a spectrum by nothing that matters, and the
snapshots stay on the grid) — and the windows above are taken on the resampled curve.
So "the last 10 records" is the last 0.1 % of the run, "the first 10 Hessian records" the first 9 %
(steps 0 … 0.09 T) and "the last 10" 0.90 T … 0.99 T, as in the original. With
``record.linear_snapshots = 100`` the Hessian grid points are snapshots (to a step), and
nothing is interpolated; with fewer snapshots the Hessian summaries are interpolated
between them. The same resampled fraction of active units feeds ``log_tau``, whose
weights assume evenly spaced records.

**Deliberate differences.** ``eig_nonzero`` counts eigenvalues with ``|λ| > 10⁻¹⁰ max|λ|``
(:func:`repdrift.metrics.hessian.hessian_summary`) where the original counted ``λ > 0``
with no tolerance (so its count included round-off, and excluded negative eigenvalues).
With ``record.hessian = "gauss_newton"`` the eigenvalues are those of the Gauss–Newton
matrix, equal to the Hessian's at zero loss. Rows are kept for every run; the
``included`` column marks the runs the original would have kept. ``collector.py`` dropped
runs whose records held a zero active fraction, and those whose final log10 loss exceeded
10; the zeros were left by ``analyzer.py``, which stopped a run at the first of its
evenly spaced records at which all units were silent or the normalised clean loss was NaN
or above 10 (``loss > 10``, ``analyzer.py`` line 55), and by a run that did not finish.
repdrift trains such a run to its end (it flags only losses above ``run.max_loss``, 10⁶),
records ``loss_ok`` — the resampled loss stays at or below :data:`MAX_LOSS` on the
:data:`RECORDS` grid — and leaves the run out of ``included`` when it is false.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from repdrift.metrics.timescale import sparsification_timescale

#: Records per run of the original (``Analyzer.num_sample``), evenly spaced from step 0.
RECORDS = 10_000
#: Hessian records per run of the original (``num_sample_hess + 1``).
HESSIAN_RECORDS = 101
#: Records in each window of ``collector.py``.
WINDOW = 10
#: The summary columns, in the published tables' order.
COLUMNS: tuple[str, ...] = (
    "loss",
    "active",
    "active_units",
    "log_tau",
    "eig_sum",
    "eig_max",
    "eig_nonzero",
    "si_initial",
    "si",
)
#: Columns of the published tables; the others are repdrift's.
PAPER_COLUMNS = COLUMNS[:7]
#: ``collector.py`` dropped runs whose final log10 loss exceeded this.
MAX_LOG_LOSS = 10.0
#: ``analyzer.py`` stopped a run (which ``collector.py`` then dropped) at the first record
#: whose normalised clean loss exceeded this.
MAX_LOSS = 10.0


def record_grid(last_step: float) -> np.ndarray:
    """The steps of the original's :data:`RECORDS` records in a run of ``last_step`` steps.

    ``analyzer.py`` recorded at the epochs ``linspace(0, T - 1, RECORDS)``, each *after*
    that epoch's update: its first record is the state after one update (step 1 here), its
    last the state after all ``T`` (step ``T``). So the loss before any update, above 10 ×
    var y in many runs on [0, 1] targets, was never checked (nor divided by).
    """
    return np.linspace(min(1.0, last_step), last_step, RECORDS)


def _resample(grid: np.ndarray, steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.interp(grid, np.asarray(steps, float), np.asarray(values, float))


def _last(values: np.ndarray) -> float:
    """Mean of the last :data:`WINDOW` records before the final one (``x[-11:-1]``)."""
    return float(np.mean(values[-(WINDOW + 1) : -1]))


def _first(values: np.ndarray) -> float:
    """Mean of the first :data:`WINDOW` records (``x[0:10]``)."""
    return float(np.mean(values[:WINDOW]))


def hessian_window_mask(snapshot_steps: np.ndarray) -> np.ndarray:
    """Which snapshots the Hessian columns (``eig_sum``, ``eig_max``, ``eig_nonzero``) read.

    Those columns resample the Hessian summaries onto :data:`HESSIAN_RECORDS` evenly spaced
    points from step 0 to the last snapshot and average the first and the last
    :data:`WINDOW` before the final one (:func:`summary_columns`). A resampled point is
    the linear interpolation between the snapshots just below and just above it (the
    snapshot itself where one falls on it), so those snapshots, with the last, are all the
    columns need: with spectra at them alone, the columns are equal to those from spectra
    at every snapshot. ``table2``'s schedule (20 log-spaced and 101 evenly spaced
    snapshots, 119 distinct steps) needs 21 of them. Used by ``record.hessian_at = "windows"``.

    Args:
        snapshot_steps: ``(snapshots,)`` increasing steps, the last the run's last.

    Returns:
        ``(snapshots,)`` boolean mask.
    """
    steps = np.asarray(snapshot_steps, float)
    mask = np.zeros(steps.shape, bool)
    if steps.size == 0:
        return mask
    grid = np.linspace(0.0, steps[-1], HESSIAN_RECORDS)
    read = np.r_[grid[:WINDOW], grid[-(WINDOW + 1) : -1]]
    below = np.searchsorted(steps, read, side="right") - 1
    above = np.searchsorted(steps, read, side="left")
    mask[below[below >= 0]] = True
    mask[above[above < steps.size]] = True
    mask[-1] = True
    return mask


def _ratio(a: float, b: float) -> float:
    return a / b if b != 0 and math.isfinite(a) and math.isfinite(b) else math.nan


def summary_columns(
    steps: np.ndarray,
    fraction_active_units: np.ndarray,
    active_fraction: np.ndarray,
    loss: np.ndarray,
    hessian_steps: np.ndarray | None = None,
    hessian_trace: np.ndarray | None = None,
    hessian_max: np.ndarray | None = None,
    hessian_fraction_nonzero: np.ndarray | None = None,
) -> dict[str, Any]:
    """The paper's summary columns of one run (see the module docstring).

    Args:
        steps: ``(records,)`` increasing record steps, the first 0.
        fraction_active_units, active_fraction: ``(records,)`` clean-pass records.
        loss: ``(records,)`` MSE / var(targets) (not its log).
        hessian_steps: ``(snapshots,)`` steps of the Hessian summaries (``None``: no Hessian).
        hessian_trace, hessian_max, hessian_fraction_nonzero: ``(snapshots,)``.

    Returns:
        ``{column: value}`` for :data:`COLUMNS` (NaN where undefined: too few records,
        no Hessian, a zero first record), plus ``log_tau_ok`` (the fit of ``log_tau``
        succeeded) and ``loss_ok`` (the loss stayed finite and at or below
        :data:`MAX_LOSS` on the original's records: the run was not stopped there).
    """
    t = np.asarray(steps, float)
    out: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
    out["log_tau_ok"] = False
    out["loss_ok"] = False
    if t.size == 0:
        return out
    losses = np.asarray(loss, float)
    final_loss = float(losses[-1])
    out["loss"] = (
        math.log10(final_loss) if final_loss > 0 and math.isfinite(final_loss) else math.nan
    )
    out["loss_ok"] = bool(np.all(losses[:1] <= MAX_LOSS) and final_loss <= MAX_LOSS)
    if t.size >= 2 and t[-1] > 1:  # (a run stopped at step 1: every record of the grid is 1)
        grid = record_grid(t[-1])
        resampled = _resample(grid, t, losses)
        out["loss_ok"] = bool(np.all(resampled <= MAX_LOSS))  # (NaN compares false)
        units = _resample(grid, t, fraction_active_units)
        active = _resample(grid, t, active_fraction)
        out["active"] = _ratio(_last(active), active[0])
        out["active_units"] = _ratio(_last(units), units[0])
        fit = sparsification_timescale(grid, units, method="paper")
        out["log_tau"] = float(fit.log_tau)
        out["log_tau_ok"] = bool(fit.ok)
    if hessian_steps is not None and len(hessian_steps) >= 2:
        h = np.asarray(hessian_steps, float)
        grid = np.linspace(0.0, h[-1], HESSIAN_RECORDS)
        if hessian_trace is not None:
            trace = _resample(grid, h, hessian_trace)
            out["eig_sum"] = _ratio(_last(trace), _first(trace))
        if hessian_max is not None:
            top = _resample(grid, h, hessian_max)
            out["eig_max"] = _ratio(_last(top), _first(top))
        if hessian_fraction_nonzero is not None:
            out["eig_nonzero"] = _last(_resample(grid, h, hessian_fraction_nonzero))
    return out


def _first_of(ds, *names: str) -> np.ndarray | None:
    for name in names:
        if name in ds.data_vars:
            return np.asarray(ds[name].values, float)
    return None


def summarise_run(run) -> dict[str, Any]:
    """:func:`summary_columns` of a reopened :class:`repdrift.runs.Run`."""
    metrics, snaps = run.metrics, run.snapshots
    if metrics.sizes.get("step", 0) == 0:
        return summary_columns(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    units = _first_of(metrics, "fraction_active_units")
    active = _first_of(metrics, "active_fraction")
    loss = _first_of(metrics, "loss")
    if units is None or active is None or loss is None:
        raise ValueError(f"run {run.path} has no activity records (not a network run)")
    hessian = {}
    if "hessian_trace" in snaps.data_vars and snaps.sizes.get("step", 0):
        finite = np.isfinite(np.asarray(snaps["hessian_trace"].values, float))
        hessian = {
            "hessian_steps": np.asarray(snaps["step"].values, float)[finite],
            "hessian_trace": _first_of(snaps, "hessian_trace")[finite],
            "hessian_max": _first_of(snaps, "hessian_max")[finite],
            "hessian_fraction_nonzero": _first_of(snaps, "hessian_fraction_nonzero")[finite],
        }
    out = summary_columns(np.asarray(metrics["step"].values, float), units, active, loss, **hessian)
    out.update(si_columns(snaps))
    return out


def si_columns(snapshots) -> dict[str, float]:
    """``si_initial`` and ``si``: the mean spatial information of place units (bits per
    unit activity, :func:`repdrift.simulation.snapshot_metrics`) at the first and at the
    last snapshot where it is defined; NaN for tasks without positions."""
    out = {"si_initial": math.nan, "si": math.nan}
    if "mean_si_place_units" in snapshots.data_vars:
        si = np.asarray(snapshots["mean_si_place_units"].values, float)
        si = si[np.isfinite(si)]
        if si.size:
            out["si_initial"], out["si"] = float(si[0]), float(si[-1])
    return out


def included(status: str, log_loss: float, loss_ok: bool = True) -> bool:
    """Whether the original would have kept the run (see the module docstring):
    ``loss_ok`` is :func:`summary_columns`' (summaries stored before it count it true)."""
    return (
        status == "complete"
        and loss_ok
        and not (math.isfinite(log_loss) and log_loss > MAX_LOG_LOSS)
    )
