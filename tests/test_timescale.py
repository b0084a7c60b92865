"""Sparsification timescale and phases on synthetic curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from repdrift.metrics import (
    fit_exponential,
    loss_plateau_step,
    phases,
    sparsification_timescale,
)

TAU_LOSS = 2_000.0
FLOOR = 1e-3
PLATEAU = TAU_LOSS * np.log((1.0 - FLOOR) / FLOOR)  # loss within 2 × FLOOR from here on
TAU_DRIFT = 30_000.0


def synthetic_run(seed, last_step=200_000, every=100):
    """Loss decays to a noise floor; the fraction of active units decays after PLATEAU."""
    rng = np.random.default_rng(seed)
    steps = np.arange(0, last_step + 1, every, dtype=float)
    loss = (FLOOR + (1.0 - FLOOR) * np.exp(-steps / TAU_LOSS)) * np.exp(
        0.1 * rng.standard_normal(steps.size)
    )
    decay = np.exp(-np.clip(steps - PLATEAU, 0.0, None) / TAU_DRIFT)
    active = 0.1 + 0.9 * decay + 0.01 * rng.standard_normal(steps.size)
    return steps, loss, active


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_tau_of_a_noisy_exponential(seed):
    rng = np.random.default_rng(seed)
    tau = 12_345.0
    steps = np.linspace(5_000, 5_000 + 8 * tau, 300)
    values = 0.6 * np.exp(-(steps - 5_000) / tau) + 0.2 + 0.02 * rng.standard_normal(300)
    fit = fit_exponential(steps, values)
    assert fit.ok and fit.converged and fit.message == ""
    assert fit.tau_steps == pytest.approx(tau, rel=0.05)
    low, high = fit.tau_ci_steps
    assert low < tau < high and high / low < 1.3
    assert fit.amplitude == pytest.approx(0.6, rel=0.05)
    assert fit.offset == pytest.approx(0.2, abs=0.01)
    assert fit.r_squared > 0.95
    np.testing.assert_allclose(fit.predict(steps[:3]), values[:3], atol=0.08)


def test_works_on_log_spaced_records():
    steps = np.unique(np.round(np.logspace(2, 7, 200)))
    values = 0.5 * np.exp(-(steps - steps[0]) / 1e6) + 0.05
    values += 0.005 * np.random.default_rng(3).standard_normal(steps.size)
    fit = fit_exponential(steps, values)
    assert fit.ok and fit.tau_steps == pytest.approx(1e6, rel=0.05)


def test_noise_without_decay_is_flagged_not_zero():
    rng = np.random.default_rng(4)
    steps = np.arange(200.0)
    fit = fit_exponential(steps, 0.5 + 0.01 * rng.standard_normal(200))
    assert not fit.ok and fit.message
    assert fit.tau_steps != 0.0


def test_constant_and_too_short_data_fail_with_nan():
    constant = fit_exponential(np.arange(10.0), np.full(10, 0.3))
    assert not constant.ok and np.isnan(constant.tau_steps) and "constant" in constant.message
    short = fit_exponential(np.arange(3.0), np.array([1.0, 0.5, 0.25]))
    assert not short.ok and np.isnan(short.tau_steps) and "few" in short.message


def test_loss_plateau_of_a_synthetic_curve():
    steps, loss, _ = synthetic_run(0)
    assert loss_plateau_step(steps, loss) == pytest.approx(PLATEAU, rel=0.05)


@pytest.mark.parametrize("seed", [0, 1])
def test_phases_of_a_synthetic_run(seed):
    steps, loss, active = synthetic_run(seed)
    found = phases(steps, loss, active)
    assert found.fast_learning_end == pytest.approx(PLATEAU, rel=0.05)
    assert found.fit.ok
    assert found.fit.tau_steps == pytest.approx(TAU_DRIFT, rel=0.05)
    drift_end = PLATEAU + TAU_DRIFT * np.log(20.0)
    assert found.directed_drift_end == pytest.approx(drift_end, rel=0.05)
    assert found.steady_state == (found.directed_drift_end, steps[-1])
    assert found.message == ""
    timescale = sparsification_timescale(steps, active, loss)
    assert timescale.tau_steps == found.fit.tau_steps


def test_run_that_ends_during_directed_drift_has_no_steady_state():
    steps, loss, active = synthetic_run(0, last_step=60_000)
    found = phases(steps, loss, active)
    assert found.fast_learning_end == pytest.approx(PLATEAU, rel=0.05)
    assert found.directed_drift_end is None and found.steady_state is None
    assert found.message


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        fit_exponential(np.arange(5.0), np.arange(4.0))
    with pytest.raises(ValueError, match="factor"):
        loss_plateau_step(np.arange(5.0), np.ones(5), factor=1.0)
    with pytest.raises(ValueError, match="within"):
        phases(np.arange(5.0), np.ones(5), np.ones(5), within=1.5)
