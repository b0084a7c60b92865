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


@pytest.mark.parametrize("method", ["mean_unit", "pooled"])
def test_only_units_active_at_both_times_count(method):
    base = random_maps(2, snapshots=1, units=50, bins=40)[0]
    later = base.copy()
    later[:10] = base[:10, ::-1]  # the first ten units remap
    maps = np.stack([base, later])
    everyone = rate_map_correlation_matrix(maps, method=method)[0, 1]
    # Exactly: numpy's Pearson r per unit, averaged (mean_unit), or of the concatenated
    # maps (pooled).
    if method == "mean_unit":
        want = np.mean([np.corrcoef(base[k], later[k])[0, 1] for k in range(50)])
    else:
        want = np.corrcoef(base.ravel(), later.ravel())[0, 1]
    assert everyone == pytest.approx(want, rel=1e-12)
    # In expectation: 40 units keep their maps (r = 1). A map of n = 40 i.i.d. bins against
    # its reverse has E r = −1/(n − 1) (the centred bins covary at −σ²/n) and, its 20 bin
    # pairs each counted twice, sd √(4·20)/40 ≈ 0.22: the mean over 50 units is
    # 0.8 − 10/(50·39) = 0.795 ± 0.014. Pooled, the later maps are a permutation of the
    # earlier values (same mean and variance), so r is the 40 kept units' share of the sum
    # of squares, 0.8, ± 0.029 (exponential bins: Var (x − 1)² = 8). Within 3 sd:
    if method == "mean_unit":
        assert everyone == pytest.approx(0.8 - 10 / (50 * 39), abs=0.045)
    else:
        assert everyone == pytest.approx(0.8, abs=0.087)
    # silence the remapped units in the second snapshot: they no longer count
    silent = later.copy()
    silent[:10] = 0.0
    got = rate_map_correlation_matrix(np.stack([base, silent]), method=method)[0, 1]
    assert got == pytest.approx(1.0, abs=1e-12)
    active = np.ones((2, 50), dtype=bool)
    active[1, :10] = False
    got = rate_map_correlation_matrix(maps, active=active, method=method)[0, 1]
    assert got == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("rho", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("method", ["mean_unit", "pooled"])
def test_maps_built_with_a_known_correlation_recover_it(method, rho):
    # Each snapshot is ρ × the previous one plus √(1 − ρ²) × fresh unit-variance noise, so
    # snapshots k apart correlate at ρ^k in every unit, every bin and pooled. With 200
    # units × 100 bins the sample r of one unit has sd (1 − ρ^2k)/√100 ≤ 0.1, its mean over
    # 200 units sd ≤ 0.007, its bias −ρ(1 − ρ²)/200 ≤ 0.002; pooled (20,000 entries) and
    # per-bin PV means (over 200 units, 100 bins) have the same sd: 0.025 is ≥ 3.5 sd.
    rng = np.random.default_rng(3)
    units, bins = 200, 100
    a = rng.standard_normal((units, bins))
    b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal((units, bins))
    c = rho * b + np.sqrt(1 - rho**2) * rng.standard_normal((units, bins))
    maps = 10.0 + np.stack([a, b, c])  # positive rates; correlations ignore the offset
    assert (maps > 0).all()
    want = rho ** np.abs(np.subtract.outer(np.arange(3), np.arange(3)))
    got = rate_map_correlation_matrix(maps, method=method)
    np.testing.assert_allclose(got, want, atol=0.025)
    np.testing.assert_allclose(population_vector_correlation_matrix(maps), want, atol=0.025)


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
