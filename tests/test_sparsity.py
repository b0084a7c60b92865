"""Active fraction, fraction of active units, Treves–Rolls sparseness."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from repdrift.metrics import (
    active_fraction,
    active_units,
    fraction_active_units,
    lifetime_sparseness,
    population_sparseness,
    treves_rolls,
)

# samples × units: unit 0 always on, unit 1 on one sample, unit 2 never, unit 3 half
HIDDEN = np.array(
    [
        [1.0, 0.0, 0.0, 2.0],
        [2.0, 0.0, 0.0, 0.0],
        [3.0, 5.0, 0.0, 2.0],
        [4.0, 0.0, 0.0, 0.0],
    ]
)


def test_active_fraction_and_active_units_on_a_known_matrix():
    np.testing.assert_array_equal(active_units(HIDDEN), [True, True, False, True])
    assert active_fraction(HIDDEN) == pytest.approx(7 / 16)
    assert fraction_active_units(HIDDEN) == pytest.approx(3 / 4)
    assert active_fraction(HIDDEN, threshold=2.5) == pytest.approx(3 / 16)
    assert fraction_active_units(HIDDEN, threshold=2.5) == pytest.approx(2 / 4)


def test_leading_axes_are_kept():
    batch = np.stack([HIDDEN, np.zeros_like(HIDDEN), np.ones_like(HIDDEN)])  # (runs, s, u)
    np.testing.assert_allclose(active_fraction(batch), [7 / 16, 0.0, 1.0])
    np.testing.assert_allclose(fraction_active_units(batch), [0.75, 0.0, 1.0])
    assert population_sparseness(batch).shape == (3, 4)
    assert lifetime_sparseness(batch).shape == (3, 4)


def test_treves_rolls_analytic_values():
    n = 8
    assert treves_rolls(np.full(n, 3.0)) == pytest.approx(1.0)
    assert treves_rolls(np.eye(n)[2]) == pytest.approx(1 / n)
    assert treves_rolls(np.array([1.0, 0.0, 1.0, 0.0])) == pytest.approx(0.5)
    r = np.random.default_rng(0).exponential(size=50)
    assert treves_rolls(7.0 * r) == pytest.approx(treves_rolls(r), rel=1e-12)
    assert np.isnan(treves_rolls(np.zeros(4)))
    with pytest.raises(ValueError, match="non-negative"):
        treves_rolls(np.array([1.0, -1.0]))


def test_population_and_lifetime_sparseness_on_a_known_matrix():
    # sample 0: rates (1, 0, 0, 2): (3/4)² / (5/4) = 0.45
    assert population_sparseness(HIDDEN)[0] == pytest.approx(0.45)
    # unit 1 is on for one sample of four: 1/4; unit 2 is silent: NaN
    life = lifetime_sparseness(HIDDEN)
    assert life[1] == pytest.approx(0.25)
    assert np.isnan(life[2])
    # unit 0: (10/4)² / (30/4) = 5/6
    assert life[0] == pytest.approx(5 / 6)


def test_same_numbers_inside_jit():
    fns = (active_fraction, fraction_active_units, population_sparseness, lifetime_sparseness)
    for fn in fns:
        out = jax.jit(fn)(jnp.asarray(HIDDEN))
        np.testing.assert_allclose(np.asarray(out), fn(HIDDEN), rtol=1e-6, equal_nan=True)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match="samples, units"):
        active_fraction(np.ones(3))
