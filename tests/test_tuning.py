"""Rate maps, Skaggs spatial information, shuffles and place units."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from repdrift.metrics import (
    ORIGINAL_SI_THRESHOLD,
    bin_index,
    binned_rates,
    place_units,
    rate_maps,
    shuffle_test,
    shuffle_threshold,
    shuffled_information,
    spatial_information,
    spatial_information_rate,
)


def test_uniform_tuning_carries_zero_bits():
    rates = np.full((3, 20), 0.7)
    occupancy = np.random.default_rng(0).uniform(1, 5, 20)
    np.testing.assert_allclose(spatial_information(rates, occupancy), 0.0, atol=1e-14)


@pytest.mark.parametrize("n", [2, 5, 50, 100])
def test_one_hot_over_equally_visited_bins_is_log2_n(n):
    rates = np.zeros((n, n))
    rates[np.arange(n), np.arange(n)] = 3.0  # unit i fires only in bin i
    si = spatial_information(rates, np.full(n, 10.0))
    np.testing.assert_allclose(si, np.log2(n), rtol=1e-13)


def test_one_hot_with_unequal_occupancy_is_minus_log2_p():
    occupancy = np.array([1.0, 2.0, 3.0, 4.0])
    rates = np.eye(4)
    np.testing.assert_allclose(
        spatial_information(rates, occupancy), -np.log2(occupancy / occupancy.sum()), rtol=1e-13
    )


def test_information_is_invariant_to_scaling_and_to_occupancy_units():
    rng = np.random.default_rng(1)
    rates = rng.exponential(size=(5, 30))
    occupancy = rng.integers(1, 10, 30).astype(float)
    si = spatial_information(rates, occupancy)
    assert np.all(si > 0.05)
    np.testing.assert_allclose(spatial_information(250.0 * rates, occupancy), si, rtol=1e-12)
    np.testing.assert_allclose(spatial_information(rates, occupancy / 30.0), si, rtol=1e-12)


def test_silent_unit_has_undefined_information_and_unvisited_bins_are_left_out():
    rates = np.array([[0.0, 0.0, 0.0], [1.0, np.nan, 0.0]])
    occupancy = np.array([1.0, 0.0, 1.0])
    si = spatial_information(rates, occupancy)
    assert np.isnan(si[0])
    assert si[1] == pytest.approx(1.0)  # one of two visited bins


def test_information_rate_is_bits_per_activity_times_mean_rate():
    rates = np.array([[4.0, 0.0, 0.0, 0.0]])  # events/s
    occupancy = np.full(4, 2.0)  # s
    assert spatial_information_rate(rates, occupancy)[0] == pytest.approx(2.0 * 1.0)


def test_unit_active_in_one_bin_of_one_direction_maps_there_only():
    frames = 4000
    rng = np.random.default_rng(2)
    position = rng.uniform(0, 1, frames)
    direction = np.where(rng.uniform(size=frames) < 0.5, 1, -1)
    maps_expected_bin = 7  # bin 7 of the -1 direction → overall bin 50 + 7
    in_bin = (np.floor(position * 50) == maps_expected_bin) & (direction == -1)
    activity = np.stack([np.where(in_bin, 2.5, 0.0), np.ones(frames)], axis=1)
    maps = rate_maps(activity, position, direction, bins=50, range=(0.0, 1.0))
    assert maps.dims == ("unit", "bin") and maps.shape == (2, 100)
    row = maps.sel(unit=0).values
    assert row[50 + maps_expected_bin] == pytest.approx(2.5)
    others = np.delete(row, 50 + maps_expected_bin)
    assert np.all(others[np.isfinite(others)] == 0.0)
    assert maps.direction.values[50 + maps_expected_bin] == -1
    assert maps.position.values[50 + maps_expected_bin] == pytest.approx(0.15)
    assert maps.occupancy.values.sum() == frames
    np.testing.assert_allclose(maps.attrs["bin_edges"], np.linspace(0, 1, 51))
    # the labelled map goes straight into the information (occupancy attached)
    si = spatial_information(maps)
    p_bin = maps.occupancy.values[50 + maps_expected_bin] / frames
    assert si[0] == pytest.approx(-np.log2(p_bin), rel=1e-12)
    assert si[1] == pytest.approx(0.0, abs=1e-12)


def test_unvisited_bins_are_nan_not_zero():
    position = np.array([0.05, 0.15, 0.95])  # bins 0, 1, 9 of 10
    maps = rate_maps(np.ones((3, 1)), position, bins=10, range=(0.0, 1.0))
    values = maps.values[0]
    assert np.all(np.isnan(values[2:9]))
    np.testing.assert_array_equal(values[[0, 1, 9]], 1.0)
    np.testing.assert_array_equal(maps.occupancy.values[2:9], 0.0)


def test_bin_index_leaves_out_bad_frames():
    idx, edges = bin_index(np.array([0.0, 0.5, 1.0, np.nan, 2.0]), bins=4, range=(0.0, 1.0))
    np.testing.assert_array_equal(idx, [0, 2, 3, -1, -1])
    assert edges.size == 5


def _random_walk(frames, rng):
    position = np.cumsum(rng.normal(0, 0.02, frames))
    return np.mod(position, 1.0)


def test_shuffle_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(101)
    frames, units, n_bins = 600, 300, 20
    position = _random_walk(frames, rng)
    index, _ = bin_index(position, bins=n_bins, range=(0.0, 1.0))
    # activity independent of position, no temporal structure: the null holds exactly
    activity = rng.exponential(size=(frames, units)) * (rng.uniform(size=(frames, units)) < 0.3)
    _, p = shuffle_test(activity, index, n_bins, n_shuffles=199, seed=1)
    assert scipy.stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.02 < np.mean(p < 0.05) < 0.09


def test_shuffle_detects_a_place_unit():
    rng = np.random.default_rng(5)
    frames, n_bins = 2000, 20
    position = _random_walk(frames, rng)
    index, _ = bin_index(position, bins=n_bins, range=(0.0, 1.0))
    place = np.exp(-((position - 0.5) ** 2) / (2 * 0.05**2))
    activity = np.stack([place, rng.exponential(size=frames)], axis=1)
    si, p = shuffle_test(activity, index, n_bins, n_shuffles=99, seed=0)
    assert p[0] == pytest.approx(1 / 100)
    assert p[1] > 0.05
    assert si[0] > 1.0


def test_shuffles_equal_a_loop_over_circular_shifts_and_are_keyed():
    rng = np.random.default_rng(6)
    frames, units, n_bins = 300, 4, 10
    index, _ = bin_index(_random_walk(frames, rng), bins=n_bins, range=(0.0, 1.0))
    activity = rng.exponential(size=(frames, units)) * (rng.uniform(size=(frames, units)) < 0.5)
    null = shuffled_information(activity, index, n_bins, n_shuffles=25, seed=9)
    shifts = np.random.default_rng(9).integers(1, frames, size=25) % frames
    for row, k in zip(null, shifts, strict=True):
        rates, occ = binned_rates(np.roll(activity, -k, axis=0), index, n_bins)
        np.testing.assert_allclose(row, spatial_information(rates, occ), rtol=1e-12)
    again = shuffled_information(activity, index, n_bins, n_shuffles=25, seed=9)
    other = shuffled_information(activity, index, n_bins, n_shuffles=25, seed=10)
    np.testing.assert_array_equal(null, again)
    assert not np.allclose(null, other)


def test_shuffle_threshold_is_the_percentile_of_each_units_null():
    null = np.stack([np.arange(101.0), 2 * np.arange(101.0), np.full(101, np.nan)], axis=1)
    np.testing.assert_allclose(shuffle_threshold(null, percentile=95)[:2], [95.0, 190.0])
    assert np.isnan(shuffle_threshold(null)[2])
    with pytest.raises(ValueError, match="percentile"):
        shuffle_threshold(null, percentile=101)


def test_place_units_fixed_and_per_unit_thresholds():
    si = np.array([0.005, 0.011, 0.5, np.nan])
    assert ORIGINAL_SI_THRESHOLD == 0.01
    np.testing.assert_array_equal(place_units(si), [False, True, True, False])
    np.testing.assert_array_equal(
        place_units(si, np.array([0.0, 0.02, 0.4, 0.0])), [True, False, True, False]
    )


# ------------------------------------------------- smoothing and peaks (Fig. 2D/E)

#: scipy.ndimage.gaussian_filter1d's kernel reaches int(4 σ + 0.5) bins either side.
SIGMA = 0.06 * 100  # the documented σ: 6 % of all bins, 6 of 100 (50 per direction)
RADIUS = int(4 * SIGMA + 0.5)


def _kernel(k):
    """The normalised Gaussian weights of ``gaussian_filter1d`` (σ = 6, truncated at 4 σ),
    written out: ``exp(−k²/2σ²) / Σ_{|j| ≤ 24} exp(−j²/2σ²)``, zero beyond 24 bins."""
    k = np.asarray(k, dtype=float)
    j = np.arange(-RADIUS, RADIUS + 1)
    norm = np.exp(-(j**2) / (2 * SIGMA**2)).sum()
    return np.where(np.abs(k) <= RADIUS, np.exp(-(k**2) / (2 * SIGMA**2)) / norm, 0.0)


def test_smoothing_a_delta_is_a_gaussian_within_its_direction_block_only():
    from scipy.ndimage import gaussian_filter1d

    from repdrift.metrics.tuning import SMOOTHING_FRACTION, smooth_rate_maps

    assert SMOOTHING_FRACTION == 0.06
    maps = np.zeros((3, 100))  # units × (50 bins running +1, then 50 running −1)
    maps[0, 25] = 1.0  # the middle of the first block
    maps[1, 2] = 1.0  # near the first block's left end
    maps[2, 50] = 1.0  # the first bin of the second block, beside the junction
    maps[2, 80] = np.nan  # unvisited: counts as 0
    got = smooth_rate_maps(maps, 50)
    j = np.arange(50)
    # Within its block: scipy's filter with σ = 6 bins and mode "reflect" (scipy's default,
    # as in the original's gaussian_filter(rate_map, 0.06 · nbins)), the block on its own.
    np.testing.assert_allclose(
        got[0, :50], gaussian_filter1d(maps[0, :50], SIGMA, mode="reflect"), atol=1e-15
    )
    np.testing.assert_allclose(
        got[2, 50:], gaussian_filter1d(np.nan_to_num(maps[2, 50:]), SIGMA, mode="reflect")
    )
    # By hand: far from the ends the kernel itself; near an end, "reflect" (d c b a | a b c
    # d) folds the mass that falls off the end back in, as a mirror image about the
    # block's edge: a delta at bin 2 also appears at bin −3, one at bin 0 at bin −1.
    np.testing.assert_allclose(got[0, :50], _kernel(j - 25), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[1, :50], _kernel(j - 2) + _kernel(j + 3), rtol=1e-12)
    np.testing.assert_allclose(got[2, 50:], _kernel(j) + _kernel(j + 1), rtol=1e-12)
    assert got[0, 25] == pytest.approx(1 / (SIGMA * np.sqrt(2 * np.pi)), rel=1e-3)
    # Nothing crosses into the other direction's block: exactly 0 there.
    assert np.all(got[:2, 50:] == 0.0) and np.all(got[2, :50] == 0.0)
    # Reflection keeps each unit's mass inside its block.
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="does not divide"):
        smooth_rate_maps(maps, 30)


def test_peak_spread_on_hand_placed_peaks():
    from repdrift.metrics.tuning import peak_spread

    maps = np.zeros((5, 10))
    maps[0, 2] = 1.0
    maps[1, 2] = 3.0
    maps[2, 7] = 2.0
    maps[3, 5] = 9.0  # not chosen
    maps[4, 9], maps[4, 4] = 5.0, 1.0  # its highest bin was never visited: peak at 4
    units = np.array([True, True, True, False, True])
    occupancy = np.ones(10)
    occupancy[9] = 0
    share, covered = peak_spread(maps, units, occupancy)
    # Chosen peaks at bins 2, 2, 7, 4: two of four units share bin 2; 3 of 9 visited bins
    # hold a peak.
    assert share == 2 / 4
    assert covered == pytest.approx(3 / 9, rel=1e-15)
    # Every chosen unit peaking in one bin: share 1, one visited bin covered.
    assert peak_spread(np.tile(maps[:1], (3, 1)), np.ones(3, bool), occupancy) == (1.0, 1 / 9)
    assert all(np.isnan(peak_spread(maps, np.zeros(5, bool), occupancy)))


def _fake_run(rate_map, si, steps, *, total, linear, bins):
    from types import SimpleNamespace

    import xarray as xr

    snapshots = xr.Dataset(
        {
            "rate_map": (("step", "unit", "bin"), rate_map),
            "si_bits_per_activity": (("step", "unit"), si),
        },
        coords={"step": steps},
    )
    record = SimpleNamespace(bins=bins, linear_snapshots=linear, si_threshold=ORIGINAL_SI_THRESHOLD)
    return SimpleNamespace(
        snapshots=snapshots,
        config=SimpleNamespace(record=record, run=SimpleNamespace(steps=total)),
        status=SimpleNamespace(steps_total=total),
    )


def test_place_map_correlations_on_maps_with_known_correlations():
    from scipy.ndimage import gaussian_filter1d

    from repdrift.plotting.fig2 import place_map_correlations

    rng = np.random.default_rng(0)
    units, bins = 5, 100  # 50 bins per direction
    steps = np.array([0, 1, 10, 50, 100])  # evenly spaced (2 linear snapshots): 0, 50, 100
    m = rng.uniform(0.1, 1.0, (units, bins))
    maps = rng.uniform(0.1, 1.0, (steps.size, units, bins))  # steps 1 and 10: never read
    si = np.full((steps.size, units), 0.5)
    # A linear smoothing that keeps constants keeps a map's affine images: r = +1 for
    # a·m + b (a > 0) and −1 for c − m, whatever the smoothing.
    maps[0] = m
    maps[3] = 2 * m + 1
    maps[3, 2] = 5 - m[2]  # unit 2 at step 50: r = −1 against steps 0 and 100
    maps[3, 3] = 5 - m[3]  # unit 3 at step 50: would be −1, but is not a place unit there
    si[3, 3] = 0.005  # below the 0.01-bit threshold
    maps[4] = 3 * m + 0.5
    # Unit 4: a field at bin 20 that moves to bin 23 (step 50) and 30 (step 100), running
    # +1. Unsmoothed, two deltas correlate at −1/99; smoothed by σ = 6 bins they overlap.
    for i, b in ((0, 20), (3, 23), (4, 30)):
        maps[i, 4] = 0.0
        maps[i, 4, b] = 1.0

    def smoothed(x):  # the documented smoothing: each 50-bin block on its own, σ = 6
        return np.concatenate(
            [gaussian_filter1d(x[k : k + 50], SIGMA, mode="reflect") for k in (0, 50)]
        )

    def r4(i, j):
        return np.corrcoef(smoothed(maps[i, 4]), smoothed(maps[j, 4]))[0, 1]

    assert 0.5 < r4(0, 3) < 0.99 and r4(0, 4) < r4(0, 3)  # known, and far from −1/99
    run = _fake_run(maps, si, steps, total=100, linear=2, bins=50)
    got_steps, corr = place_map_correlations(run)
    np.testing.assert_array_equal(got_steps, [0, 50, 100])
    # Means over units that are place units at both times: units 0–2 and 4 at (0, 50) and
    # (50, 100); all five at (0, 100).
    want = np.ones((3, 3))
    want[0, 1] = want[1, 0] = (1 + 1 - 1 + r4(0, 3)) / 4
    want[1, 2] = want[2, 1] = (1 + 1 - 1 + r4(3, 4)) / 4
    want[0, 2] = want[2, 0] = (1 + 1 + 1 + 1 + r4(0, 4)) / 5
    np.testing.assert_allclose(corr, want, rtol=1e-12)
