"""Structured Hessian spectrum against dense ``jax.hessian`` + ``eigvalsh`` in float64."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from repdrift import network
from repdrift.metrics import (
    gauss_newton_eigenvalues,
    hessian_eigenvalues,
    hessian_matrix,
    hessian_summary,
    hessian_trace,
    reduced_hessian,
)


@functools.cache
def _dense_hessian_fn(shapes, act):
    """Compiled dense Hessian of ``network.mse`` for parameter ``shapes`` (one per shape)."""
    with jax.enable_x64(True):
        template = {k: jnp.zeros(s, dtype=jnp.float64) for k, s in shapes}
        _, unravel = ravel_pytree(template)
        return jax.jit(jax.hessian(lambda th, x, y: network.mse(unravel(th), x, y, act)))


def dense_reference(params, inputs, targets, act="relu"):
    """Dense Hessian of ``network.mse`` over all parameters and its spectrum, float64."""
    with jax.enable_x64(True):
        p64 = {k: jnp.asarray(np.asarray(v), dtype=jnp.float64) for k, v in params.items()}
        flat, _ = ravel_pytree(p64)
        fn = _dense_hessian_fn(tuple((k, v.shape) for k, v in sorted(p64.items())), act)
        x = jnp.asarray(inputs, dtype=jnp.float64)
        y = jnp.asarray(targets, dtype=jnp.float64)
        hess = np.asarray(fn(flat, x, y))
    return hess, np.sort(np.linalg.eigvalsh(hess))[::-1]


def outputs64(params, inputs, act="relu"):
    with jax.enable_x64(True):
        p64 = {k: jnp.asarray(np.asarray(v), dtype=jnp.float64) for k, v in params.items()}
        out, hidden = network.apply(p64, jnp.asarray(inputs, dtype=jnp.float64), act)
        return np.asarray(out), np.asarray(hidden)


def problem(seed, samples, d_in, hidden, d_out, *, n_dead, residual):
    """Random network with ``n_dead`` silenced units; targets at distance ``residual``."""
    rng = np.random.default_rng(seed)
    params = {
        "W1": rng.standard_normal((hidden, d_in)) * np.sqrt(2.0 / d_in),
        "b1": rng.standard_normal(hidden) * np.sqrt(2.0 / d_in),
        "W2": rng.standard_normal((d_out, hidden)) * np.sqrt(2.0 / hidden),
    }
    params["b1"][:n_dead] = -50.0
    inputs = rng.standard_normal((samples, d_in))
    out, _ = outputs64(params, inputs)
    targets = out + residual * rng.standard_normal(out.shape)
    return params, inputs, targets


def assert_same_spectrum(structured, dense):
    scale = np.abs(dense).max()
    assert structured.shape == dense.shape
    assert structured.dtype == np.float64
    assert np.all(np.diff(structured) <= 0), "not in descending order"
    big = np.abs(dense) > 1e-6 * scale
    rel = np.abs(structured[big] - dense[big]) / np.abs(dense[big])
    assert rel.max() <= 1e-8
    assert np.abs(structured - dense).max() <= 1e-11 * scale
    assert hessian_summary(structured).n_nonzero == hessian_summary(dense).n_nonzero


SHAPES = [
    # samples, d_in, hidden, d_out, dead units
    (6, 4, 9, 3, 3),  # fewer samples than d_in + 1: reduced input-weight space
    (15, 3, 7, 2, 2),  # more samples than d_in + 1
    (4, 5, 6, 4, 5),  # one live unit
]


@pytest.mark.parametrize("residual", [1.0, 1e-3], ids=["away", "near-zero-loss"])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_structured_spectrum_equals_dense(shape, residual):
    samples, d_in, hidden, d_out, n_dead = shape
    params, x, y = problem(7, samples, d_in, hidden, d_out, n_dead=n_dead, residual=residual)
    _, dense = dense_reference(params, x, y)
    ev = hessian_eigenvalues(params, x, y)
    assert ev.size == hidden * (d_in + 1 + d_out)
    assert_same_spectrum(ev, dense)
    # Away from zero loss the residual term makes the Hessian indefinite.
    if residual == 1.0:
        assert ev[-1] < -1e-6 * ev[0]


def test_dead_unit_rows_and_columns_are_exactly_zero():
    params, x, y = problem(3, 8, 4, 6, 3, n_dead=2, residual=1.0)
    hess, _ = dense_reference(params, x, y)
    _, hidden = outputs64(params, x)
    assert np.all(hidden[:, :2] == 0) and np.all(hidden[:, 2:].max(axis=0) > 0)
    hidden_units, d_in, d_out = 6, 4, 3
    idx = np.arange(hidden_units * d_in + hidden_units + d_out * hidden_units)
    # ravel_pytree orders keys W1, W2, b1
    w1 = idx[: hidden_units * d_in].reshape(hidden_units, d_in)
    w2 = idx[hidden_units * d_in : hidden_units * (d_in + d_out)].reshape(d_out, hidden_units)
    b1 = idx[hidden_units * (d_in + d_out) :]
    dead = np.concatenate([w1[:2].ravel(), w2[:, :2].ravel(), b1[:2]])
    live = np.setdiff1d(idx, dead)
    assert np.all(hess[dead] == 0.0) and np.all(hess[:, dead] == 0.0)
    assert np.count_nonzero(hess[np.ix_(live, live)]) > 0
    # the zero rows show up as zero eigenvalues: at least 2 × (d_in + 1 + d_out)
    s = hessian_summary(hessian_eigenvalues(params, x, y))
    assert s.n_params - s.n_nonzero >= 2 * (d_in + 1 + d_out)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_originals_count_of_positive_eigenvalues_takes_in_round_off(seed):
    """Why ``eig_nonzero`` counts ``|λ| > 10⁻¹⁰ max|λ|`` (docs/reproduce.md, claim C8).

    The original took the eigenvalues of its float32 Hessian with the general solver
    (``torch.linalg.eig``, LAPACK ``geev``, as ``np.linalg.eig`` here) and counted
    ``λ > 0``. A dead unit's parameters give exact zeros, but the null directions among the
    live units' parameters come out as round-off of either sign, and about half of them
    were counted: a count that follows the live parameters whatever the curvature's rank.
    """
    samples, d_in, hidden, d_out, n_dead = 5, 20, 40, 5, 30
    params, x, y = problem(seed, samples, d_in, hidden, d_out, n_dead=n_dead, residual=1e-3)
    hess, _ = dense_reference(params, x, y)
    ev = np.linalg.eig(hess.astype(np.float32))[0].real
    strict = hessian_summary(hessian_eigenvalues(params, x, y))
    dead_params = n_dead * (d_in + 1 + d_out)
    live_params = hess.shape[0] - dead_params
    assert np.sum(ev == 0.0) >= dead_params
    # the live units' null directions: far more of them than of curvature
    null = live_params - strict.n_nonzero
    assert null > 2 * strict.n_nonzero
    counted = np.sum(ev > 0) - (strict.n_nonzero - strict.n_negative)
    assert 0.25 * null < counted < 0.75 * null


def test_trace_equals_dense_diagonal():
    params, x, y = problem(11, 10, 5, 8, 3, n_dead=3, residual=0.5)
    hess, _ = dense_reference(params, x, y)
    expected = np.trace(hess)
    assert hessian_summary(hessian_eigenvalues(params, x, y)).trace == pytest.approx(
        expected, rel=1e-10
    )
    assert hessian_trace(params, x, y) == pytest.approx(expected, rel=1e-12)


def test_reduced_dimension_counts_live_units_and_sample_span():
    samples, d_in, hidden, d_out = 5, 8, 10, 3
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.standard_normal((hidden, d_in)) * 0.1,
        "b1": np.r_[np.full(4, -10.0), np.full(6, 5.0)],  # 4 dead, 6 active on every sample
        "W2": rng.standard_normal((d_out, hidden)),
    }
    x = rng.standard_normal((samples, d_in))
    y = rng.standard_normal((samples, d_out))
    hr, n_params = reduced_hessian(params, x, y)
    assert n_params == hidden * (d_in + 1 + d_out)
    # each live unit: min(samples, d_in + 1) input-weight directions + d_out readout weights
    assert hr.shape == (6 * (samples + d_out),) * 2
    np.testing.assert_array_equal(hr, hr.T)


@pytest.mark.parametrize("act", ["tanh", "leaky_relu", "softplus"])
def test_other_activations_equal_dense(act):
    params, x, _ = problem(5, 7, 3, 5, 2, n_dead=0, residual=0.0)
    y = np.random.default_rng(1).standard_normal((7, 2))
    _, dense = dense_reference(params, x, y, act)
    assert_same_spectrum(hessian_eigenvalues(params, x, y, act=act), dense)
    hess, _ = dense_reference(params, x, y, act)
    assert hessian_trace(params, x, y, act=act) == pytest.approx(np.trace(hess), rel=1e-12)


def test_dense_method_and_matrix_agree_with_reference():
    params, x, y = problem(2, 6, 3, 5, 2, n_dead=1, residual=1.0)
    hess, dense = dense_reference(params, x, y)
    ours = hessian_matrix(params, x, y)
    # different parameter order (W1, b1, W2 here): compare invariants
    assert np.trace(ours) == pytest.approx(np.trace(hess), rel=1e-12)
    assert np.sum(ours**2) == pytest.approx(np.sum(hess**2), rel=1e-12)
    assert_same_spectrum(hessian_eigenvalues(params, x, y, method="dense"), dense)


def test_gauss_newton_is_the_hessian_at_zero_loss():
    params, x, _ = problem(4, 9, 4, 12, 3, n_dead=4, residual=0.0)
    y, _ = outputs64(params, x)  # exact zero loss (up to float64 rounding)
    _, dense = dense_reference(params, x, y)
    gn = gauss_newton_eigenvalues(params, x)
    assert_same_spectrum(gn, dense)
    s = hessian_summary(gn)
    assert s.n_negative == 0 and s.n_nonzero <= 9 * 3


def test_gauss_newton_is_not_the_hessian_away_from_zero_loss():
    params, x, y = problem(4, 9, 4, 12, 3, n_dead=4, residual=1.0)
    gn = gauss_newton_eigenvalues(params, x)
    ev = hessian_eigenvalues(params, x, y)
    assert np.abs(gn - ev).max() > 1e-3 * ev[0]
    assert hessian_summary(gn).trace == pytest.approx(hessian_summary(ev).trace, rel=1e-10)


def test_all_units_dead_gives_zero_spectrum():
    params, x, y = problem(0, 5, 3, 4, 2, n_dead=4, residual=1.0)
    ev = hessian_eigenvalues(params, x, y)
    assert ev.shape == (4 * 6,)
    assert np.all(ev == 0.0)
    assert hessian_trace(params, x, y) == 0.0


def test_float32_params_are_evaluated_in_float64():
    params, x, y = problem(8, 6, 3, 5, 2, n_dead=1, residual=1.0)
    p32 = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in params.items()}
    p_rounded = {k: np.asarray(v, dtype=np.float64) for k, v in p32.items()}
    _, dense = dense_reference(p_rounded, x, y)
    assert_same_spectrum(hessian_eigenvalues(p32, x, y), dense)


def test_summary_of_known_spectrum():
    ev = np.array([3.0, 2.0, 1e-14, 0.0, -1.0])
    s = hessian_summary(ev)
    assert (s.n_params, s.n_nonzero, s.n_negative) == (5, 3, 1)
    assert s.fraction_nonzero == pytest.approx(0.6)
    assert s.trace == pytest.approx(4.0)
    assert s.log_sum == pytest.approx(np.log(6.0))
    assert s.max == 3.0
    assert hessian_summary(ev, rtol=1e-15).n_nonzero == 4
    assert s.as_dict()["n_nonzero"] == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"W1": np.zeros((3, 2)), "b1": np.zeros(4), "W2": np.zeros((1, 3))},
        {"W1": np.zeros((3, 2)), "b1": np.zeros(3), "W2": np.zeros((1, 2))},
        {"W1": np.zeros((3, 2)), "b1": np.zeros(3)},
    ],
)
def test_bad_params_raise(bad):
    with pytest.raises(ValueError, match="params"):
        hessian_eigenvalues(bad, np.zeros((4, 2)), np.zeros((4, 1)))


def test_bad_data_raise():
    params, x, y = problem(0, 5, 3, 4, 2, n_dead=0, residual=1.0)
    with pytest.raises(ValueError, match="inputs"):
        hessian_eigenvalues(params, x[:, :2], y)
    with pytest.raises(ValueError, match="targets"):
        hessian_eigenvalues(params, x, y[:, :1])
    with pytest.raises(ValueError, match="method"):
        hessian_eigenvalues(params, x, y, method="lanczos")
    with pytest.raises(ValueError, match="activation"):
        hessian_eigenvalues(params, x, y, act="gelu")
    with pytest.raises(ValueError):
        hessian_summary(np.zeros(0))


@pytest.mark.slow
def test_structured_equals_dense_sweep_member_size():
    """20 → 100 → 10 with 10 samples (P = 3,100), 60 dead units, near zero loss."""
    params, x, y = problem(1, 10, 20, 100, 10, n_dead=60, residual=1e-2)
    _, dense = dense_reference(params, x, y)
    assert_same_spectrum(hessian_eigenvalues(params, x, y), dense)


def test_two_stage_solver_matches_numpy(monkeypatch):
    from repdrift.metrics import hessian as module

    if module._two_stage_solver() is None:
        pytest.skip("NumPy is not linked against a LAPACK with dsyevd_2stage")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 300))
    a = a + a.T
    np.testing.assert_allclose(
        np.sort(module._two_stage_solver()(a.copy())), np.linalg.eigvalsh(a), atol=1e-11
    )
    monkeypatch.setattr(module, "TWO_STAGE_MIN_SIZE", 1)
    params, x, y = problem(9, 6, 4, 9, 3, n_dead=3, residual=1.0)
    _, dense = dense_reference(params, x, y)
    assert_same_spectrum(hessian_eigenvalues(params, x, y), dense)
