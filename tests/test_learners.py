"""Learning rules: statistical and exact properties of one update."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from repdrift import learners, network


def quadratic(curvature):
    """L(θ) = curvature · θ² / 2 on a scalar parameter; x and y unused."""
    return lambda params, x, y: 0.5 * curvature * params["theta"] ** 2


def test_noisy_gd_reaches_the_stationary_variance_of_a_quadratic():
    # θ ← θ − η(aθ + σξ) is AR(1) with stationary variance η σ² / (a (2 − η a)).
    a, lr, sigma = 2.0, 0.1, 0.5
    chains, burn, keep = 4096, 200, 400
    spec = learners.LearnerSpec("gd", update_noise=True)
    learner = learners.make(spec, loss=quadratic(a))
    hp = learners.hyper(lr, update_noise=sigma)
    dummy = jnp.zeros((1, 1))

    def run(key):
        params = {"theta": jnp.zeros(())}
        state = learner.init(key, params)

        def body(carry, _):
            params, state = carry
            params, state, _ = learner.step(state, params, hp, dummy, dummy)
            return (params, state), params["theta"]

        _, trace = jax.lax.scan(body, (params, state), None, length=burn + keep)
        return trace[burn:]

    samples = np.asarray(jax.vmap(run)(jax.random.split(jax.random.key(0), chains)))
    expected = lr * sigma**2 / (a * (2 - lr * a))
    # Samples 400 steps apart within a chain are nearly independent (ρ = 0.8^400), but
    # consecutive ones are not: use only every 20th step (ρ ≈ 0.01) for the error bar.
    thinned = samples[:, ::20].ravel()
    stderr = expected * np.sqrt(2.0 / thinned.size)
    assert abs(thinned.var() - expected) < 5 * stderr
    assert abs(samples.mean()) < 5 * np.sqrt(expected / thinned.size)


def _small_problem(key, n=8, d_in=5, hidden=16, d_out=3):
    kx, ky, kn = jax.random.split(key, 3)
    x = jax.random.normal(kx, (n, d_in))
    y = jax.random.normal(ky, (n, d_out))
    return x, y, network.init(kn, d_in, hidden, d_out)


def _mean_update(spec, hp, params, x, y, draws, key):
    learner = learners.make(spec)

    def update(k):
        new, _, _ = learner.step(learner.init(k, params), params, hp, x, y)
        return jax.tree_util.tree_map(jnp.subtract, new, params)

    updates = jax.vmap(update)(jax.random.split(key, draws))
    return jax.tree_util.tree_map(lambda u: u.mean(axis=0), updates), updates


@pytest.mark.parametrize("dist", ["gaussian", "uniform"])
def test_label_noise_gd_mean_update_is_the_clean_gradient(dist):
    x, y, params = _small_problem(jax.random.key(1))
    lr = 0.1
    spec = learners.LearnerSpec("gd", label_noise=dist)
    mean, updates = _mean_update(
        spec, learners.hyper(lr, label_noise=0.5), params, x, y, 20_000, jax.random.key(2)
    )
    clean = jax.grad(network.mse)(params, x, y)
    for name in params:
        got = -np.asarray(mean[name]) / lr
        want = np.asarray(clean[name])
        spread = np.asarray(updates[name]).std(axis=0) / lr / np.sqrt(20_000)
        # Every component within 5 standard errors, and the noise is really there.
        assert np.all(np.abs(got - want) <= 5 * spread + 1e-7), name
        assert spread.max() > 1e-4, name


def test_sed_mean_update_points_down_the_gradient():
    # Hidden = d_out so that every tensor's perturbation variance (0.01 / rows) is equal
    # and the mean update −η Σ ∇L is parallel to −∇L.
    x, y, params = _small_problem(jax.random.key(3), hidden=12, d_out=12)
    spec = learners.LearnerSpec("sed")
    mean, _ = _mean_update(spec, learners.hyper(1.0), params, x, y, 40_000, jax.random.key(4))
    clean = jax.grad(network.mse)(params, x, y)
    flat_update = jnp.concatenate([mean[k].ravel() for k in sorted(params)])
    flat_grad = jnp.concatenate([clean[k].ravel() for k in sorted(params)])
    cosine = -flat_update @ flat_grad / (jnp.linalg.norm(flat_update) * jnp.linalg.norm(flat_grad))
    assert cosine > 0.9


@pytest.mark.parametrize(
    ("kind", "reference"),
    [
        ("adam", lambda lr: optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8)),
        ("rmsprop", lambda lr: optax.rmsprop(lr, decay=0.999, eps=1e-8)),
    ],
)
def test_adaptive_rules_match_optax(kind, reference):
    x, y, params = _small_problem(jax.random.key(5))
    lr = 1e-3
    learner = learners.make(learners.LearnerSpec(kind))
    state = learner.init(jax.random.key(6), params)
    opt = reference(lr)
    opt_state = opt.init(params)
    ours, theirs = params, params
    for _ in range(5):
        ours, state, _ = learner.step(state, ours, learners.hyper(lr), x, y)
        grads = jax.grad(network.mse)(theirs, x, y)
        updates, opt_state = opt.update(grads, opt_state, theirs)
        theirs = optax.apply_updates(theirs, updates)
    for name in params:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-6, atol=1e-7)
        assert not np.allclose(ours[name], params[name])  # the rule really moved


def test_update_noise_is_gaussian_with_the_requested_sd():
    # On a flat loss the update is −η σ ξ: its entries must be N(0, (η σ)²).
    lr, sigma = 0.5, 0.2
    learner = learners.make(
        learners.LearnerSpec("gd", update_noise=True), loss=lambda p, x, y: 0.0 * p["w"].sum()
    )
    params = {"w": jnp.zeros((50_000,))}
    new, _, _ = learner.step(
        learner.init(jax.random.key(7), params),
        params,
        learners.hyper(lr, update_noise=sigma),
        jnp.zeros(1),
        jnp.zeros(1),
    )
    z = -np.asarray(new["w"]) / (lr * sigma)
    assert stats.kstest(z, "norm").pvalue > 0.01
    assert abs(z.std() - 1.0) < 0.02


def test_noise_free_gd_is_deterministic_and_equals_a_gradient_step():
    x, y, params = _small_problem(jax.random.key(8))
    learner = learners.make(learners.LearnerSpec("gd"))
    new, _, loss = learner.step(
        learner.init(jax.random.key(9), params), params, learners.hyper(0.1), x, y
    )
    grads = jax.grad(network.mse)(params, x, y)
    for name in params:
        np.testing.assert_allclose(new[name], params[name] - 0.1 * grads[name], rtol=1e-6)
    np.testing.assert_allclose(loss, network.mse(params, x, y), rtol=1e-6)


def test_input_noise_changes_the_step_and_averages_out_to_first_order():
    x, y, params = _small_problem(jax.random.key(10))
    spec = learners.LearnerSpec("gd", input_noise=True)
    mean, updates = _mean_update(
        spec, learners.hyper(0.1, input_noise=1e-3), params, x, y, 2_000, jax.random.key(11)
    )
    clean = jax.grad(network.mse)(params, x, y)
    assert np.asarray(updates["W1"]).std(axis=0).max() > 0
    np.testing.assert_allclose(-mean["W2"] / 0.1, clean["W2"], rtol=0.05, atol=1e-4)


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "sgdm"},
        {"label_noise": "cauchy"},
        {"activation": "sigmoidish"},
    ],
)
def test_bad_specs_raise_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"choose|must be|unknown"):
        learners.LearnerSpec(**bad)


def test_standard_normal_moments_and_symmetry():
    z = np.asarray(learners.standard_normal(jax.random.key(12), 1_000_000))
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    assert stats.kstest(z, "norm").pvalue > 0.01
    # Tails: P(|z| > 3) = 0.0027 within 5 standard errors.
    tail = np.mean(np.abs(z) > 3)
    assert abs(tail - 0.0026998) < 5 * np.sqrt(0.0027 / n)
    # Consecutive draws are uncorrelated.
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5 / np.sqrt(n)
