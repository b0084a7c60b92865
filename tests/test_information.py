"""Bias-corrected spatial information (repdrift.metrics.information)."""

from __future__ import annotations

import numpy as np
import pytest

from repdrift.metrics.information import (
    InformationCurves,
    bae_information,
    information_curves,
    information_from_sums,
    naive_information,
    ssr_information,
    unbiased_information,
)
from repdrift.metrics.tuning import binned_rates, spatial_information
from test_data_fixtures import require_data


def true_si(rates: np.ndarray, occupancy: np.ndarray) -> np.ndarray:
    """Skaggs information of known rate maps ``(cells, bins)`` under ``occupancy``."""
    p = occupancy / occupancy.sum()
    mean = rates @ p
    ratio = rates / mean[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(ratio > 0, ratio * np.log2(ratio), 0.0)
    return terms @ p


def sparse_population(seed: int = 3, frames: int = 2400, cells: int = 80, bins: int = 20):
    """Bernoulli events of Gaussian place fields; returns activity, stimulus, true SI."""
    rng = np.random.default_rng(seed)
    stimulus = np.clip(np.cumsum(rng.choice([-1, 0, 1], frames)) % (2 * bins), 0, None)
    stimulus = np.where(stimulus < bins, stimulus, 2 * bins - 1 - stimulus)
    centres = rng.uniform(0, bins, cells)
    widths = rng.uniform(1.0, 4.0, cells)
    peaks = rng.uniform(0.03, 0.25, cells)
    x = np.arange(bins)
    rates = 0.002 + peaks[:, None] * np.exp(-0.5 * ((x - centres[:, None]) / widths[:, None]) ** 2)
    activity = (rng.random((frames, cells)) < rates[:, stimulus].T).astype(float)
    occupancy = np.bincount(stimulus, minlength=bins).astype(float)
    return activity, stimulus, true_si(rates, occupancy)


def test_information_from_sums_equals_spatial_information():
    rng = np.random.default_rng(0)
    sums = rng.poisson(0.7, size=(5, 7, 12)).astype(float) * rng.uniform(0.5, 2, (5, 7, 12))
    occupancy = rng.integers(0, 30, size=(5, 1, 12)).astype(float)
    sums = np.where(occupancy > 0, sums, 0.0)
    sums[0, 0] = 0.0  # a silent map
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(occupancy > 0, sums / occupancy, np.nan)
    expected = spatial_information(rates, occupancy)
    got = information_from_sums(sums, occupancy)
    assert np.isnan(got[0, 0]) and np.isnan(expected[0, 0])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_bins", [4, 10, 25])
def test_naive_information_analytic_cases(n_bins):
    frames_per_bin = 6
    stimulus = np.repeat(np.arange(n_bins), frames_per_bin)
    one_hot = (stimulus == 1).astype(float)  # fires in one of n equally visited bins
    uniform = np.ones(stimulus.size)
    si = naive_information(np.column_stack([one_hot, uniform, 0 * uniform]), stimulus)
    np.testing.assert_allclose(si[:2], [np.log2(n_bins), 0.0], atol=1e-12)
    assert np.isnan(si[2])


def test_ssr_recovers_information_when_bias_scales_with_shuffle():
    sizes = np.array([100.0, 400.0, 1000.0])
    shuffle = np.array([[2.0, 0.8, 0.4], [1.0, 0.5, 0.1]])
    truth = np.array([[1.5], [0.3]])
    k = np.array([[0.7], [1.3]])
    curves = InformationCurves(sizes, truth + k * shuffle, shuffle)
    np.testing.assert_allclose(ssr_information(curves), truth[:, 0], rtol=1e-12)


def test_bae_recovers_the_asymptote_of_bounded_curves():
    sizes = np.linspace(150, 3000, 20)
    a = np.array([0.5, 1.7, 0.0])
    b = np.array([2.0, 0.8, 1.5])
    c = np.array([3e-3, 2e-4, 1e-2])
    naive = a[:, None] + b[:, None] / (1 + c[:, None] * sizes)
    curves = InformationCurves(sizes, naive, np.zeros_like(naive))
    np.testing.assert_allclose(bae_information(curves), a, atol=0.02)
    flat = InformationCurves(sizes, np.full((1, 20), 0.9), np.zeros((1, 20)))
    np.testing.assert_allclose(bae_information(flat), [0.9], atol=1e-9)


def test_information_curves_shape_and_full_size_is_naive():
    activity, stimulus, _ = sparse_population(frames=800, cells=10)
    curves = information_curves(activity, stimulus, seed=1, fractions=(0.1, 0.5), repetitions=4)
    assert curves.naive.shape == curves.shuffle.shape == (10, 3)
    np.testing.assert_array_equal(curves.sizes, [80, 400, 800])
    rates, occupancy = binned_rates(activity, stimulus, 20)
    np.testing.assert_allclose(curves.naive[:, -1], spatial_information(rates, occupancy))
    # Less data, more bias: the naive and the shuffle information fall with sample size.
    assert np.all(np.nanmean(curves.naive, axis=0)[:-1] > np.nanmean(curves.naive[:, -1]))
    assert np.all(np.diff(np.nanmean(curves.shuffle, axis=0)) < 0)


def test_corrections_remove_most_of_the_bias_on_simulated_place_cells():
    activity, stimulus, truth = sparse_population()
    estimates = {
        m: unbiased_information(activity, stimulus, method=m, seed=2)
        for m in ("naive", "ssr", "bae")
    }
    cells = np.isfinite(estimates["naive"])
    assert cells.sum() > 60
    bias = {m: abs(np.mean(v[cells]) - np.mean(truth[cells])) for m, v in estimates.items()}
    error = {m: np.mean(np.abs(v[cells] - truth[cells])) for m, v in estimates.items()}
    assert np.mean(estimates["naive"][cells] - truth[cells]) > 0.15  # the upward bias
    assert bias["ssr"] < bias["naive"] / 3
    assert bias["bae"] < bias["naive"] / 2
    assert error["ssr"] < error["naive"] and error["bae"] < error["naive"]


def test_unbiased_information_is_seeded_and_validates():
    activity, stimulus, _ = sparse_population(frames=600, cells=12)
    a = unbiased_information(activity, stimulus, method="ssr", seed=4, repetitions=3)
    b = unbiased_information(activity, stimulus, method="ssr", seed=4, repetitions=3)
    c = unbiased_information(activity, stimulus, method="ssr", seed=5, repetitions=3)
    np.testing.assert_array_equal(a, b)
    finite = np.isfinite(a)
    assert finite.any() and not np.allclose(a[finite], c[finite])
    few = (activity > 0).sum(axis=0) < 10
    assert np.all(np.isnan(a[few])) and np.all(np.isfinite(a[~few]))
    with pytest.raises(ValueError, match="method must be one of"):
        unbiased_information(activity, stimulus, method="jackknife")
    with pytest.raises(ValueError, match="one bin per frame"):
        unbiased_information(activity, stimulus[:-1])
    with pytest.raises(ValueError, match="non-negative"):
        unbiased_information(-activity, stimulus)
    with pytest.raises(ValueError, match="integer bin"):
        unbiased_information(activity, stimulus + 0.5)


def test_left_out_frames_are_ignored():
    activity, stimulus, _ = sparse_population(frames=900, cells=8)
    kept = np.arange(900) % 3 != 0
    masked = np.where(kept, stimulus, -1)
    a = unbiased_information(activity, masked, method="bae", seed=7, repetitions=3)
    b = unbiased_information(activity[kept], stimulus[kept], method="bae", seed=7, repetitions=3)
    np.testing.assert_array_equal(a, b)


def _bias_and_error(folder, methods=("naive", "ssr", "bae")):
    bias = {m: [] for m in methods}
    error = {m: [] for m in methods}
    from repdrift.data import simulated_recordings

    for _, activity, stimulus, truth in simulated_recordings(folder):
        for m in methods:
            estimate = unbiased_information(activity, stimulus, method=m, seed=0, n_bins=24)
            cells = np.isfinite(estimate)
            bias[m].append(abs(estimate[cells].mean() - truth[cells].mean()))
            error[m].append(np.mean(np.abs(estimate[cells] - truth[cells])))
    return {m: np.mean(v) for m, v in bias.items()}, {m: np.mean(v) for m, v in error.items()}


@pytest.mark.data
def test_acceptance_on_the_simulated_sample():
    bias, error = _bias_and_error(require_data("si_bias", "simulated_sample"))
    assert bias["naive"] > 0.15
    assert bias["ssr"] <= bias["naive"] / 3
    assert error["ssr"] < error["naive"]
    assert bias["bae"] < bias["naive"]


@pytest.mark.data
@pytest.mark.slow
def test_acceptance_on_the_full_simulated_sets():
    bias, error = _bias_and_error(require_data("si_bias", "simulated_full"))
    assert bias["naive"] > 0.2
    assert bias["ssr"] <= bias["naive"] / 3
    assert error["ssr"] < error["naive"]
    assert bias["bae"] < bias["naive"]
