"""Rate-map and population-vector correlations between snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from repdrift.metrics import (
    correlation_vs_lag,
    map_correlation,
    population_vector_correlation,
    population_vector_correlation_matrix,
    rate_map_correlation_matrix,
)


def random_maps(seed, snapshots=4, units=200, bins=100):
    return np.random.default_rng(seed).exponential(size=(snapshots, units, bins))


def test_map_correlation_known_values_and_nan_bins():
    a = np.array([[1.0, 2.0, 3.0, np.nan], [1.0, 1.0, 1.0, 1.0]])
    b = np.array([[2.0, 4.0, 6.0, 100.0], [0.0, 1.0, 2.0, 3.0]])
    r = map_correlation(a, b)
    assert r[0] == pytest.approx(1.0)  # the NaN bin is left out
    assert np.isnan(r[1])  # constant map: undefined
    assert map_correlation(a[:1], -b[:1])[0] == pytest.approx(-1.0)


@pytest.mark.parametrize("method", ["mean_unit", "pooled"])
def test_identical_snapshots_correlate_perfectly(method):
    one = random_maps(0, snapshots=1)
    maps = np.repeat(one, 3, axis=0)
    maps[:, :, 5] = np.nan  # an unvisited bin
    np.testing.assert_allclose(rate_map_correlation_matrix(maps, method=method), 1.0)
    np.testing.assert_allclose(population_vector_correlation_matrix(maps), 1.0)


@pytest.mark.parametrize("method", ["mean_unit", "pooled"])
def test_independent_maps_correlate_about_zero(method):
    maps = random_maps(1)  # 200 units × 100 bins, independent across snapshots
    c = rate_map_correlation_matrix(maps, method=method)
    np.testing.assert_allclose(np.diag(c), 1.0)
    off = c[~np.eye(4, dtype=bool)]
    assert np.all(np.abs(off) < 0.03)  # sd of the mean ≈ 0.1 / sqrt(200) = 0.007
    pv = population_vector_correlation_matrix(maps)[~np.eye(4, dtype=bool)]
    assert np.all(np.abs(pv) < 0.03)
    np.testing.assert_allclose(c, c.T)


def test_only_units_active_at_both_times_count():
    base = random_maps(2, snapshots=1, units=50, bins=40)[0]
    later = base.copy()
    later[:10] = base[:10, ::-1]  # the first ten units remap
    maps = np.stack([base, later])
    everyone = rate_map_correlation_matrix(maps)[0, 1]
    assert everyone < 0.9
    # silence the remapped units in the second snapshot: they no longer count
    later[:10] = 0.0
    assert rate_map_correlation_matrix(np.stack([base, later]))[0, 1] == pytest.approx(1.0)
    active = np.ones((2, 50), dtype=bool)
    active[1, :10] = False
    assert rate_map_correlation_matrix(maps, active=active)[0, 1] == pytest.approx(1.0)


def test_no_common_active_unit_gives_nan():
    maps = np.zeros((2, 3, 5))
    maps[0, 0] = [1, 2, 3, 4, 5]
    maps[1, 1] = [1, 2, 3, 4, 5]
    c = rate_map_correlation_matrix(maps)
    assert np.isnan(c[0, 1]) and c[0, 0] == pytest.approx(1.0)


def test_population_vector_correlation_per_bin():
    a = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]])  # units × bins
    b = np.array([[2.0, 2.0], [4.0, 1.0], [6.0, 0.0]])
    np.testing.assert_allclose(population_vector_correlation(a, b), [1.0, -1.0])
    np.testing.assert_allclose(
        population_vector_correlation(a, b, units=np.array([True, True, False])), [1.0, -1.0]
    )


def test_correlation_vs_lag_recovers_a_function_of_lag():
    steps = np.array([0, 10, 30, 60, 100])
    lag = np.abs(steps[:, None] - steps[None, :]).astype(float)
    matrix = np.exp(-lag / 50.0)
    lags, mean, n = correlation_vs_lag(matrix, steps)
    np.testing.assert_array_equal(lags, [10, 20, 30, 40, 50, 60, 70, 90, 100])
    np.testing.assert_allclose(mean, np.exp(-lags / 50.0))
    np.testing.assert_array_equal(n, [1, 1, 2, 1, 1, 1, 1, 1, 1])
    lags_i, mean_i, n_i = correlation_vs_lag(np.add.outer(np.arange(4.0), np.arange(4.0)))
    np.testing.assert_array_equal(lags_i, [1, 2, 3])
    np.testing.assert_allclose(mean_i, [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(n_i, [3, 2, 1])


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="snapshots, units, bins"):
        rate_map_correlation_matrix(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="active"):
        rate_map_correlation_matrix(np.zeros((2, 3, 4)), active=np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="method"):
        rate_map_correlation_matrix(np.ones((2, 3, 4)), method="median")
