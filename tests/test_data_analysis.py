"""Per-session analysis: speed filter, bins, place cells, corrected SI."""

from __future__ import annotations

import numpy as np
import pytest

from repdrift.data import AnalysisConfig, Session, analyze_session
from repdrift.data.analysis import running_direction, smooth_velocity, usable_bin
from test_data_fixtures import place_cell_activity, require_data, shuttle_run


def synthetic_session(seed: int = 0, frames: int = 6000, **kw) -> tuple[Session, np.ndarray]:
    rng = np.random.default_rng(seed)
    position, velocity = shuttle_run(frames, rng)
    activity, centres = place_cell_activity(position, velocity, rng)
    session = Session(
        activity=activity,
        position=position,
        time_s=np.arange(frames) / 20.0,
        velocity_cm_s=velocity,
        trial=np.repeat(np.arange(2, 8), frames // 6),
        animal="M",
        track="A",
        session=1,
        day=1.0,
        **kw,
    )
    return session, centres


def test_smooth_velocity_is_a_moving_average_within_trials():
    velocity = np.r_[np.full(10, 4.0), np.full(10, -2.0)]
    trial = np.repeat([1, 2], 10)
    # Constant within each trial: unchanged, also at the trial ends (normalised there).
    np.testing.assert_allclose(smooth_velocity(velocity, trial, 8), velocity)
    spike = np.zeros(20)
    spike[5] = 8.0
    smoothed = smooth_velocity(spike, np.ones(20), 4)
    # MATLAB's conv(v, ones(1, 4), 'same') averages frames i-1..i+2 (e.g. its documented
    # conv([-1 2 3 -2 0 1 2], [2 4 -1 1], 'same') starts at the full result's third value),
    # so the spike at frame 5 reaches frames 3..6...
    expected = np.zeros(20)
    expected[3:7] = 2.0
    np.testing.assert_allclose(smoothed, expected)
    # ...and the ends are normalised by the part of the window inside the trial.
    ramp = smooth_velocity(np.arange(6.0), np.ones(6), 4)
    np.testing.assert_allclose(ramp, [1.0, 1.5, 2.5, 3.5, 4.0, 4.5])
    # A window longer than twice the trial averages the whole trial (a frame rate of
    # 1e12 Hz asks for 5e11 frames: answered without allocating them).
    uneven = np.r_[np.arange(6.0), [np.nan, 10.0, 20.0]]
    for window in (13, 14, 10**12):
        np.testing.assert_allclose(
            smooth_velocity(uneven, np.repeat([1, 2], [6, 3]), window),
            np.r_[np.full(6, 2.5), np.full(3, 15.0)],
        )


def test_running_direction_and_usable_bins():
    frames = 6
    session = Session(
        activity=np.zeros((frames, 1)),
        position=np.array([0.0, 0.1, 0.5, 0.9, 0.95, 1.0]),
        time_s=np.arange(frames) / 20.0,
        velocity_cm_s=np.array([5.0, 1.0, 0.99, -0.99, -1.0, -7.0]),
        trial=np.arange(frames),  # one frame per trial: no smoothing across frames
        animal="M",
    )
    np.testing.assert_array_equal(
        running_direction(session, AnalysisConfig()), [1, 1, 0, 0, -1, -1]
    )
    # 24 bins, 2 left out at each end: 0.1 → bin 2 → first usable (0); 0.9 → bin 21 → 19.
    np.testing.assert_array_equal(usable_bin(session, AnalysisConfig()), [-1, 0, 10, 19, -1, -1])
    np.testing.assert_array_equal(
        usable_bin(session, AnalysisConfig(bins=10, edge_bins=0)), [0, 1, 5, 9, 9, 9]
    )


def test_place_cells_are_found_in_their_running_direction():
    session, centres = synthetic_session()
    config = AnalysisConfig(n_shuffles=400, seed=1)
    result = analyze_session(session, config)
    direction = running_direction(session, config)
    bins = usable_bin(session, config)
    assert result.n_running_frames == int(((direction != 0) & (bins >= 0)).sum())
    assert result.n_active == 12 and result.n_cells == 12
    # Cells 0–5 fire in one direction (even cells +, odd cells −); 6–11 are untuned.
    assert result.place[:6].all()
    assert result.place[6:].sum() <= 1
    for c in range(6):
        d = 0 if c % 2 == 0 else 1
        assert result.p_value[c, d] < 0.01
        assert result.events[c, 1 - d] == 0 and result.p_value[c, 1 - d] == 1.0
    assert result.fraction_place == result.n_place / 12
    significant = result.p_value < 0.05
    assert result.mean_si_naive == pytest.approx(result.si_naive[significant].mean())
    # The corrections lower the (upward-biased) naive SI of the same cell-directions.
    corrected = np.isfinite(result.si_ssr)
    assert corrected.sum() == result.n_corrected >= 6
    assert result.mean_si_ssr < result.mean_si_naive_corrected_cells
    assert result.mean_si_bae < result.mean_si_naive_corrected_cells
    maps = result.rate_map_array()
    assert maps.dims == ("cell", "bin") and maps.shape == (12, 40)
    np.testing.assert_array_equal(maps.occupancy, result.occupancy)
    for c, centre in enumerate(centres):
        sign = 1 if c % 2 == 0 else -1
        own = maps.isel(cell=c).where(maps.direction == sign, drop=True)
        assert abs(float(own.position[int(np.nanargmax(own.values))]) - centre) <= 1 / 24
    again = analyze_session(session, config)
    np.testing.assert_array_equal(again.p_value, result.p_value)
    np.testing.assert_array_equal(again.si_ssr, result.si_ssr)


def test_thresholds_change_what_is_counted():
    session, _ = synthetic_session(seed=2, frames=3000)
    strict = analyze_session(session, AnalysisConfig(n_shuffles=50, min_events=10_000))
    assert strict.n_active == 0 and strict.n_place == 0 and np.isnan(strict.fraction_place)
    fast = analyze_session(session, AnalysisConfig(n_shuffles=50, speed_threshold_cm_s=1e6))
    assert fast.n_running_frames == 0 and fast.n_place == 0


def test_known_direction_without_velocity():
    session, _ = synthetic_session(seed=3, frames=3000)
    direction = np.sign(np.round(session.velocity_cm_s, 6)).astype(int)
    no_velocity = Session(**{**session.__dict__, "velocity_cm_s": None, "direction": direction})
    result = analyze_session(no_velocity, AnalysisConfig(n_shuffles=50))
    assert result.n_running_frames == int(
        ((direction != 0) & (usable_bin(session, AnalysisConfig()) >= 0)).sum()
    )


@pytest.mark.data
@pytest.mark.slow
def test_real_session_summary():
    from repdrift.data.multiple_maps import iter_track

    folder = require_data("multiple_maps", "C6_M4", "Environment A")
    session = next(iter_track(folder))
    result = analyze_session(session)
    assert result.n_cells == 433
    assert 150 < result.n_active < 400
    assert 0.2 < result.fraction_place < 0.9
    # Bias correction lowers the mean SI of the place cells.
    assert result.mean_si_ssr < result.mean_si_naive_corrected_cells
