"""The summary columns of the published tables, on synthetic records, against hand
computations of ``collector.py``'s arithmetic."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from repdrift.sweep import summary
from repdrift.sweep.summary import summary_columns


def _get_tau(x: np.ndarray, y: np.ndarray) -> float:
    """The original ``utils.get_tau`` (the paper's Methods), written out here for the test."""
    y = np.copy(y)
    end_val = y.max() - (y.max() - y.min()) * 0.9
    end = np.abs(y - end_val).argmin()
    y = y[:end]
    y -= y.min() - 1e-10
    x = np.copy(x[:end])
    slope, _ = np.polyfit(x, np.log(y), 1, w=np.sqrt(np.flip(x / x.max())))
    return float(np.log10(abs(slope)))


def test_on_the_originals_own_grid_the_columns_are_collectors_arithmetic():
    # Records exactly on the original's grid (10,000 evenly spaced records, each after its
    # epoch's update: steps 1 ... T) and at step 0: resampling is the identity on the
    # grid, and every column is collector.py's expression on the raw arrays from step 1.
    grid = np.linspace(1, 1_000_000, summary.RECORDS)
    steps = np.r_[0.0, grid]
    rng = np.random.default_rng(0)
    units = 0.1 + 0.9 * np.exp(-steps / 60_000) + 0.01 * rng.random(steps.size)
    active = 0.05 + 0.45 * np.exp(-steps / 80_000)
    loss = 10 ** (-3 + 0.1 * rng.random(steps.size))
    loss[0] = 50.0  # before the first update: never one of the original's records
    h_steps = np.linspace(0, 1_000_000, summary.HESSIAN_RECORDS)
    trace = 50 * np.exp(-h_steps / 2e5) + 5 + rng.random(h_steps.size)
    top = 9 * np.exp(-h_steps / 3e5) + 1
    nonzero = 0.3 * np.exp(-h_steps / 1e5) + 0.02
    got = summary_columns(steps, units, active, loss, h_steps, trace, top, nonzero)
    assert got["active_units"] == pytest.approx(units[-11:-1].mean() / units[1], rel=1e-12)
    assert got["active"] == pytest.approx(active[-11:-1].mean() / active[1], rel=1e-12)
    assert got["loss"] == pytest.approx(np.log10(loss[-1]), rel=1e-12)
    assert got["loss_ok"] is True
    assert got["eig_sum"] == pytest.approx(trace[-11:-1].mean() / trace[0:10].mean(), rel=1e-12)
    assert got["eig_max"] == pytest.approx(top[-11:-1].mean() / top[0:10].mean(), rel=1e-12)
    assert got["eig_nonzero"] == pytest.approx(nonzero[-11:-1].mean(), rel=1e-12)
    assert got["log_tau"] == pytest.approx(_get_tau(grid, units[1:]), abs=1e-9)
    assert got["log_tau_ok"] is True


def test_log_spaced_records_are_resampled_onto_the_originals_grid():
    # A curve linear in the step is reproduced exactly by linear interpolation, so the
    # windows of the original's grid have closed forms.
    total = 2_000_000
    steps = np.unique(np.concatenate([np.arange(0, 101), np.geomspace(100, total, 200)]))
    units = 1.0 - 0.5 * steps / total
    active = 0.4 - 0.2 * steps / total
    loss = np.full(steps.size, 1e-4)
    h_steps = np.unique(np.concatenate([[0], np.geomspace(1, total, 15)]))
    a, b = 20.0, -10.0
    trace = a + b * h_steps / total
    top = 3.0 + h_steps / total
    nonzero = 0.5 - 0.4 * h_steps / total
    got = summary_columns(steps, units, active, loss, h_steps, trace, top, nonzero)
    # last 10 of 10,000 records before the final one, k = 9989..9998 of 9999, at steps
    # 1 + k (total - 1) / 9999; the first record is step 1
    tail = (1 + np.arange(9989, 9999) * (total - 1) / 9999) / total
    first = 1 / total
    assert got["active_units"] == pytest.approx(
        np.mean(1.0 - 0.5 * tail) / (1.0 - 0.5 * first), rel=1e-9
    )
    assert got["active"] == pytest.approx(np.mean(0.4 - 0.2 * tail) / (0.4 - 0.2 * first), rel=1e-9)
    # Hessian: 101 records, first 10 = k 0..9, last 10 = k 90..99 (of 100)
    first, last = np.arange(10) / 100, np.arange(90, 100) / 100
    assert got["eig_sum"] == pytest.approx(np.mean(a + b * last) / np.mean(a + b * first))
    assert got["eig_max"] == pytest.approx(np.mean(3 + last) / np.mean(3 + first))
    assert got["eig_nonzero"] == pytest.approx(np.mean(0.5 - 0.4 * last))
    assert got["loss"] == pytest.approx(-4.0)


def test_undefined_columns_are_nan_and_a_failed_fit_is_zero():
    steps = np.arange(0.0, 50.0)
    flat = np.full(steps.size, 0.8)
    got = summary_columns(steps, flat, flat, np.full(steps.size, 0.01))
    for name in ("eig_sum", "eig_max", "eig_nonzero"):
        assert math.isnan(got[name])  # no Hessian recorded
    assert got["log_tau"] == 0.0 and got["log_tau_ok"] is False  # constant: no decay
    assert got["active_units"] == pytest.approx(1.0)
    empty = summary_columns(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    assert all(math.isnan(empty[c]) for c in summary.COLUMNS)
    silent_start = summary_columns(steps, np.zeros(steps.size), flat, flat)
    assert math.isnan(silent_start["active_units"])  # zero first record: no ratio
    # A run stopped after one step (diverged at once, or `run.steps = 1`): the original's
    # grid would be 100 records of step 1, so no ratio and no timescale.
    one = summary_columns(np.array([0.0, 1.0]), flat[:2], flat[:2], np.array([0.5, np.inf]))
    for name in ("active", "active_units", "log_tau"):
        assert math.isnan(one[name]), name
    assert math.isnan(one["loss"]) and one["log_tau_ok"] is False and one["loss_ok"] is False


def test_summarise_run_reads_stored_arrays_and_skips_snapshots_without_a_hessian():
    steps = np.arange(0, 1001, 10)
    units = 1.0 - steps / 2000
    active = 0.5 - steps / 4000
    loss = np.full(steps.size, 0.02)
    metrics = xr.Dataset(
        {
            "fraction_active_units": ("step", units),
            "active_fraction": ("step", active),
            "loss": ("step", loss),
        },
        coords={"step": steps},
    )
    # The snapshot at step 50 has no Hessian (its trace is NaN) and wild values in the other
    # two summaries: it must be dropped from all three. The three curves are not
    # proportional to each other, so a column read from the wrong array gives another value.
    snap_steps = np.array([0, 50, 100, 900, 1000])
    snaps = xr.Dataset(
        {
            "hessian_trace": ("step", np.array([4.0, np.nan, 3.8, 2.2, 2.0])),
            "hessian_max": ("step", np.array([10.0, 99.0, 6.0, 3.0, 1.0])),
            "hessian_fraction_nonzero": ("step", np.array([0.5, 0.9, 0.4, 0.2, 0.1])),
        },
        coords={"step": snap_steps},
    )
    run = SimpleNamespace(path="fake", metrics=metrics, snapshots=snaps)
    got = summary.summarise_run(run)
    # By hand: the 101-point grid is 0, 10, …, 1000. The first window (0 … 90) lies on the
    # segment between the snapshots at 0 and 100 and the last (900 … 990) on the one
    # between 900 and 1000; a linear function's mean over evenly spaced points is its value
    # at their mean step, 45 and 945, i.e. 45 % of the way along each segment.
    first = {"trace": 4.0 - 0.2 * 0.45, "max": 10.0 - 4.0 * 0.45}  # 3.91, 8.2
    last = {"trace": 2.2 - 0.2 * 0.45, "max": 3.0 - 2.0 * 0.45, "nonzero": 0.2 - 0.1 * 0.45}
    assert got["eig_sum"] == pytest.approx(2.11 / 3.91, rel=1e-12)
    assert got["eig_sum"] == pytest.approx(last["trace"] / first["trace"], rel=1e-12)
    assert got["eig_max"] == pytest.approx(2.1 / 8.2, rel=1e-12)
    assert got["eig_max"] == pytest.approx(last["max"] / first["max"], rel=1e-12)
    assert got["eig_nonzero"] == pytest.approx(0.155, rel=1e-12)
    assert got["eig_nonzero"] == pytest.approx(last["nonzero"], rel=1e-12)
    # The same windows as collector.py's x[-11:-1] / x[0:10] on the np.interp-resampled
    # curves, written out independently of summary.py.
    keep = np.array([True, False, True, True, True])
    grid = np.linspace(0, 1000, 101)
    for column, name in (("eig_sum", "hessian_trace"), ("eig_max", "hessian_max")):
        x = np.interp(grid, snap_steps[keep], snaps[name].values[keep])
        assert got[column] == pytest.approx(x[-11:-1].mean() / x[0:10].mean(), rel=1e-12)
    x = np.interp(grid, snap_steps[keep], snaps["hessian_fraction_nonzero"].values[keep])
    assert got["eig_nonzero"] == pytest.approx(x[-11:-1].mean(), rel=1e-12)
    # The record columns, by hand: the curves are linear in the step, so the resampled
    # window x[-11:-1] of the 10,000-point grid from step 1 to 1000 (indices 9989 … 9998)
    # averages to the value at index 9993.5, step 1 + 999 · 9993.5 / 9999; the first
    # record is step 1.
    t = 1 + 999 * 9993.5 / 9999
    assert got["active_units"] == pytest.approx((1.0 - t / 2000) / (1.0 - 1 / 2000), rel=1e-12)
    assert got["active"] == pytest.approx((0.5 - t / 4000) / (0.5 - 1 / 4000), rel=1e-12)
    assert got["loss"] == pytest.approx(math.log10(0.02), rel=1e-12)
    grid = np.linspace(1, 1000, summary.RECORDS)
    assert got["log_tau"] == pytest.approx(_get_tau(grid, np.interp(grid, steps, units)), abs=1e-9)
    assert math.isnan(got["si_initial"]) and math.isnan(got["si"])  # no positions


def test_si_columns_are_the_first_and_last_defined_mean_si_of_place_units():
    si = np.array([np.nan, 1.25, 1.5, 2.5, np.nan])  # undefined where no unit is a place unit
    snaps = xr.Dataset({"mean_si_place_units": ("step", si)}, coords={"step": [0, 1, 2, 3, 4]})
    assert summary.si_columns(snaps) == {"si_initial": 1.25, "si": 2.5}
    none = xr.Dataset({"hessian_trace": ("step", np.ones(2))}, coords={"step": [0, 1]})
    assert all(math.isnan(v) for v in summary.si_columns(none).values())


@pytest.mark.parametrize(
    ("status", "log_loss", "kept"),
    [
        ("complete", -3.0, True),
        ("complete", 10.5, False),  # collector.py: final log10 loss > 10
        ("silent", -3.0, False),  # all units silent at some record
        ("diverged", float("nan"), False),
        ("partial", -3.0, False),  # did not finish
    ],
)
def test_included_mirrors_collectors_filter(status, log_loss, kept):
    assert summary.included(status, log_loss) is kept


@pytest.mark.parametrize(
    ("spike_at", "height", "ok"),
    [
        (None, 0.0, True),
        (5_000, 10.0, True),  # analyzer.py stops at loss > 10, not at 10
        (5_000, 10.5, False),  # above 10 at one of its records: stopped, then dropped
        (5_000, float("nan"), False),
        (9_999, 11.0, False),  # the last record
        (50.5, 1e3, True),  # between two of its records (every ~100 steps): never seen
        (0.0, 1e3, True),  # before the first update: its first record came after it
        (1.0, 1e3, False),  # after the first update: its first record
    ],
)
def test_a_loss_above_10_at_one_of_the_originals_records_leaves_the_run_out(spike_at, height, ok):
    # analyzer.py (line 55) stopped a run at the first of its 10,000 evenly spaced records
    # whose normalised clean loss exceeded 10, leaving zeros that collector.py dropped.
    # Records: the original's grid, plus every step of the first thousand (as repdrift's
    # dense records); ``spike_at`` indexes the grid, or is a step between its points.
    grid = np.linspace(1, 1_000_000, summary.RECORDS)
    steps = np.unique(np.r_[np.arange(0, 1_000), grid])
    loss = np.full(steps.size, 0.5)
    if spike_at is not None:
        at = grid[spike_at] if isinstance(spike_at, int) else spike_at
        loss[np.searchsorted(steps, at)] = height
    flat = np.ones(steps.size)
    got = summary_columns(steps, flat, flat, loss)
    assert got["loss_ok"] is ok
    assert summary.included("complete", got["loss"], got["loss_ok"]) is ok


def _eig_columns(snap_steps, trace, top, nonzero) -> dict:
    keep = np.isfinite(trace)
    steps = np.arange(0, int(snap_steps[-1]) + 1, max(1, int(snap_steps[-1]) // 200))
    flat = np.ones(steps.size)
    got = summary_columns(
        steps, flat, flat, flat, snap_steps[keep], trace[keep], top[keep], nonzero[keep]
    )
    return {k: got[k] for k in ("eig_sum", "eig_max", "eig_nonzero")}


def test_hessian_window_mask_on_table2s_schedule_is_the_originals_two_windows():
    # table2: 10^7 steps, 20 log-spaced and 101 evenly spaced snapshots. Its windows are
    # the original's Hessian records 0..9 and 90..99 of 0..100 (steps k·10^5), plus the
    # last: 21 snapshots, each on its own grid point.
    from repdrift import config, simulation

    cfg = config.load_config(
        preset="sweep-member",
        overrides=["record.snapshots=20", "record.linear_snapshots=100"],
        steps=10_000_000,
    )
    steps = simulation.schedule_of(cfg).snapshot_steps
    mask = summary.hessian_window_mask(steps)
    expected = np.r_[np.arange(0, 10), np.arange(90, 101)] * 100_000
    np.testing.assert_array_equal(steps[mask], expected)


@pytest.mark.parametrize(
    "snap_steps",
    [
        np.unique(np.r_[0, np.geomspace(1, 10**6, 12).round()]).astype(int),  # log only
        np.unique(np.r_[np.linspace(0, 12_345, 31).round(), [7, 50, 300]]).astype(int),
        np.unique(
            np.r_[0, np.geomspace(1, 999_999, 20).round(), np.linspace(0, 999_999, 101).round()]
        ).astype(int),
    ],
    ids=["log-only", "uneven-last", "log-and-linear"],
)
def test_spectra_at_the_window_mask_alone_give_the_same_eig_columns(snap_steps):
    # Any values at the snapshots the mask leaves out must not change the columns: NaN
    # there (what record.hessian_at = "windows" stores) gives the columns of all of them.
    rng = np.random.default_rng(len(snap_steps))
    trace = rng.uniform(1, 5, snap_steps.size)
    top = rng.uniform(0.5, 2, snap_steps.size)
    nonzero = rng.uniform(0, 1, snap_steps.size)
    mask = summary.hessian_window_mask(snap_steps)
    assert 0 < mask.sum() < snap_steps.size
    full = _eig_columns(snap_steps, trace, top, nonzero)
    hole = np.where(mask, 1.0, np.nan)
    windowed = _eig_columns(snap_steps, trace * hole, top * hole, nonzero * hole)
    assert windowed == full
    # and the mask is not larger than it need be: leaving out any one masked snapshot
    # (but the last, which fixes the grid) changes some column
    for i in np.flatnonzero(mask)[:-1]:
        fewer = hole.copy()
        fewer[i] = np.nan
        assert _eig_columns(snap_steps, trace * fewer, top * fewer, nonzero * fewer) != full
