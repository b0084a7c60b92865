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
