"""Learning rules: statistical and exact properties of one update."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from repdrift import config, learners, network


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

    updates = jax.jit(jax.vmap(update))(jax.random.split(key, draws))
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


def test_adam_matches_optax():
    x, y, params = _small_problem(jax.random.key(5))
    lr = 1e-3
    learner = learners.make(learners.LearnerSpec("adam"))
    state = learner.init(jax.random.key(6), params)
    opt = optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8)
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


def _rmsprop_by_hand(params, x, y, lr, decay, eps, steps, eps_in_sqrt=False):
    """RMSprop written out (PyTorch's): v ← ρ v + (1 − ρ) g², θ ← θ − η g / (√v + ε), v₀ = 0.

    The arithmetic is float64 NumPy; parameters are kept float32 between steps (as the
    learner's) so that both see the same gradients up to rounding.
    """
    theta = {k: np.asarray(v, np.float64) for k, v in params.items()}
    v = {k: np.zeros_like(t) for k, t in theta.items()}
    for _ in range(steps):
        as32 = {k: jnp.asarray(t, jnp.float32) for k, t in theta.items()}
        grads = jax.grad(network.mse)(as32, x, y)
        for k in theta:
            g = np.asarray(grads[k], np.float64)
            v[k] = decay * v[k] + (1.0 - decay) * g**2
            scale = np.sqrt(v[k] + eps) if eps_in_sqrt else np.sqrt(v[k]) + eps
            theta[k] = np.asarray(np.float32(theta[k] - lr * g / scale), np.float64)
    return theta


@pytest.mark.parametrize(
    ("options", "decay", "eps"),
    [({}, 0.99, 1e-8), ({"rms_decay": 0.9, "eps": 1e-2}, 0.9, 1e-2)],
)
def test_rmsprop_matches_the_update_written_out(options, decay, eps):
    x, y, params = _small_problem(jax.random.key(5))
    lr, steps = 1e-3, 6
    spec = learners.LearnerSpec("rmsprop", **options)
    assert (spec.rms_decay, spec.eps) == (decay, eps)
    learner = learners.make(spec)
    state = learner.init(jax.random.key(6), params)
    step = jax.jit(learner.step)
    ours = params
    for _ in range(steps):
        ours, state, _ = step(state, ours, learners.hyper(lr), x, y)
    expected = _rmsprop_by_hand(params, x, y, lr, decay, eps, steps)
    for name in params:
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-5, atol=1e-7)
        assert not np.allclose(ours[name], params[name])  # the rule really moved
    # The test tells the conventions apart: Adam's β₂ as the decay, or ε inside the root.
    wrong_decay = _rmsprop_by_hand(params, x, y, lr, 0.999, eps, steps)
    assert any(np.max(np.abs(np.asarray(ours[k]) - wrong_decay[k])) > 1e-4 for k in params)
    if eps > 1e-4:
        inside = _rmsprop_by_hand(params, x, y, lr, decay, eps, steps, eps_in_sqrt=True)
        assert any(np.max(np.abs(np.asarray(ours[k]) - inside[k])) > 1e-4 for k in params)


def test_rmsprop_decay_comes_from_its_own_config_field():
    cfg = config.load_config(
        preset="sweep-member",
        overrides=['learner.kind="rmsprop"', "learner.rms_decay=0.9", "learner.b2=0.95"],
    )
    spec = cfg.learner_spec()
    assert (spec.kind, spec.rms_decay, spec.b2) == ("rmsprop", 0.9, 0.95)
    assert config.load_config().learner_spec().rms_decay == 0.99  # PyTorch's default
    with pytest.raises(ValueError, match="rms_decay"):
        learners.LearnerSpec("rmsprop", rms_decay=1.0)


def _revealed_noise(spec, hp, into: str, seed: int) -> np.ndarray:
    """The noise a GD step adds to the targets (``into="label"``) or to the inputs
    (``"input"``), drawn with 10 keys: with L = Σ w·v (v the targets or the inputs) and
    η = 1 the step is w ← w − ṽ, so the noise is −new_w − v. ``(10 keys, 10,000)``."""
    v = jnp.linspace(-1.0, 1.0, 200 * 50).reshape(200, 50)
    other = jnp.zeros((200, 1))
    x, y = (other, v) if into == "label" else (v, other)

    def loss(params, x, y):
        return jnp.sum(params["w"] * (y if into == "label" else x))

    learner = learners.make(spec, loss)
    params = {"w": jnp.zeros_like(v)}

    def noise(key):
        new, _, _ = learner.step(learner.init(key, params), params, hp, x, y)
        return (-new["w"] - v).ravel()

    return np.asarray(jax.jit(jax.vmap(noise))(jax.random.split(jax.random.key(seed), 10)))


@pytest.mark.parametrize(
    ("dist", "variance", "cdf"),
    [
        ("gaussian", 1.0, stats.norm.cdf),
        ("uniform", 1.0 / 12.0, stats.uniform(loc=-0.5, scale=1.0).cdf),
    ],
)
def test_label_noise_has_the_documented_distribution(dist, variance, cdf):
    s = 0.3
    spec = learners.LearnerSpec("gd", label_noise=dist)
    per_key = _revealed_noise(spec, learners.hyper(1.0, label_noise=s), "label", seed=13)
    draws = per_key.ravel()
    n = draws.size  # 100,000
    assert abs(draws.mean()) < 5 * s * np.sqrt(variance / n)
    # Var of the sample variance: (μ₄ − σ⁴)/n, μ₄ = 3σ⁴ (normal) or 1.8σ⁴ (uniform).
    kurtosis = 3.0 if dist == "gaussian" else 1.8
    sd_of_var = s**2 * variance * np.sqrt((kurtosis - 1.0) / n)
    assert abs(draws.var() - s**2 * variance) < 5 * sd_of_var
    assert stats.kstest(draws[:20_000] / s, cdf).pvalue > 0.01
    if dist == "uniform":
        assert np.all(np.abs(draws) <= s / 2 + 1e-6)
    # Each key draws fresh noise: the draws of two keys are uncorrelated.
    assert abs(np.corrcoef(per_key[0], per_key[1])[0, 1]) < 5 / np.sqrt(per_key.shape[1])


def _is_moved(params, x, y):
    """0 at θ = 0 and 1 anywhere else: an SED step from 0 with η = 1 is exactly −δ."""
    total = sum(jnp.sum(jnp.abs(p)) for p in jax.tree_util.tree_leaves(params))
    return (total > 0).astype(jnp.float32)


@pytest.mark.parametrize(
    "shapes",
    [
        {"W1": (400, 100), "b1": (400,), "W2": (20, 400)},  # the network's tensors
        {"a": (7, 2_000), "b": (10_000,), "c": (1_000, 11)},  # any pytree: rows = shape[0]
    ],
)
def test_sed_perturbation_variance_is_per_tensor_over_rows(shapes):
    perturbation = 0.04
    learner = learners.make(learners.LearnerSpec("sed"), _is_moved)
    params = {k: jnp.zeros(shape) for k, shape in shapes.items()}
    new, _, loss = jax.jit(learner.step)(
        learner.init(jax.random.key(14), params),
        params,
        learners.hyper(1.0, sed_perturbation=perturbation),
        jnp.zeros((1, 1)),
        jnp.zeros((1, 1)),
    )
    assert float(loss) == 0.0
    for name, shape in shapes.items():
        delta = -np.asarray(new[name]).ravel()
        expected = perturbation / shape[0]
        assert abs(delta.mean()) < 5 * np.sqrt(expected / delta.size), name
        assert abs(delta.var() / expected - 1.0) < 5 * np.sqrt(2.0 / delta.size), name
    # Different tensors are independent.
    a, b = (-np.asarray(new[k]).ravel()[:400] for k in list(shapes)[:2])
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(400)


@pytest.mark.parametrize(
    ("spec", "hp", "steps", "factor"),
    [
        (learners.LearnerSpec("adam"), learners.hyper(1e-3), 300, 10.0),
        (learners.LearnerSpec("rmsprop"), learners.hyper(1e-3), 300, 10.0),
        (learners.LearnerSpec("sed"), learners.hyper(1.0), 300, 3.0),
        (
            learners.LearnerSpec("gd", label_noise="uniform"),
            learners.hyper(0.1, label_noise=0.5),
            300,
            100.0,
        ),
    ],
    ids=["adam", "rmsprop", "sed", "gd-uniform-label-noise"],
)
def test_rules_learn_a_small_problem_in_a_compiled_loop(spec, hp, steps, factor):
    x, y, params = _small_problem(jax.random.key(21))
    learner = learners.make(spec)

    @jax.jit
    def train(params):
        def body(carry, _):
            params, state = carry
            params, state, loss = learner.step(state, params, hp, x, y)
            return (params, state), loss

        (params, _), losses = jax.lax.scan(
            body, (params, learner.init(jax.random.key(3), params)), None, length=steps
        )
        return params, losses

    trained, losses = train(params)
    before, after = float(network.mse(params, x, y)), float(network.mse(trained, x, y))
    assert np.all(np.isfinite(np.asarray(losses)))
    if spec.label_noise is None:  # the first loss is the clean loss before any update
        assert float(losses[0]) == pytest.approx(before, rel=1e-5)
    assert after < before / factor


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


# ------------------------------------------------- SED's learning rate and mean update


def test_sed_update_is_proportional_to_the_learning_rate():
    # θ ← θ − η (L(θ + δ) − L(θ)) δ: for one key (one δ) the update is linear in η.
    x, y, params = _small_problem(jax.random.key(22))
    learner = learners.make(learners.LearnerSpec("sed"))
    state = learner.init(jax.random.key(23), params)
    step = jax.jit(learner.step)
    half, _, _ = step(state, params, learners.hyper(0.5), x, y)
    full, _, _ = step(state, params, learners.hyper(1.0), x, y)
    for name in params:
        p = np.asarray(params[name], np.float64)
        du_half = np.asarray(half[name], np.float64) - p
        du_full = np.asarray(full[name], np.float64) - p
        assert np.abs(du_full).max() > 1e-4, name  # the step really moved
        # Up to the float32 rounding of θ − update (a few ulp of |θ|).
        np.testing.assert_allclose(du_half, 0.5 * du_full, rtol=0, atol=4e-7 * np.abs(p).max())


def test_sed_mean_update_is_minus_lr_times_the_perturbation_covariance_times_the_gradient():
    # E[(L(θ + δ) − L(θ)) δ] = Σ ∇L + O(σ⁴) (Cauwenberghs 1992; the ½ δᵀHδ term gives
    # third moments of a centred Gaussian, which vanish), with Σ diagonal: variance
    # sed_perturbation / rows per tensor (rows = 16 hidden units for W1 and b1, 3 outputs
    # for W2 — unequal on purpose). So the mean update is −η Σ ∇L. A small perturbation
    # (0.001) keeps the O(σ⁴) bias well inside the statistical error.
    lr, perturbation, draws = 0.5, 1e-3, 40_000
    hidden, d_out = 16, 3
    x, y, params = _small_problem(jax.random.key(3), hidden=hidden, d_out=d_out)
    hp = learners.hyper(lr, sed_perturbation=perturbation)
    _, updates = _mean_update(
        learners.LearnerSpec("sed"), hp, params, x, y, draws, jax.random.key(4)
    )
    grads = jax.grad(network.mse)(params, x, y)
    rows = {"W1": hidden, "b1": hidden, "W2": d_out}
    for name in params:
        u = np.asarray(updates[name], np.float64).reshape(draws, -1)
        step = -(perturbation / rows[name]) * np.asarray(grads[name], np.float64).ravel()
        # Every component within 5 standard errors of −η Σ ∇L ...
        mean, stderr = u.mean(axis=0), u.std(axis=0) / np.sqrt(draws)
        assert np.all(np.abs(mean - lr * step) <= 5 * stderr), name
        # ... and the tensor's update projected on −Σ∇L: its coefficient is η, with 5
        # standard errors below η/2 (so η = 1, i.e. a dropped learning rate, is far outside).
        coefficient = u @ step / (step @ step)
        c_err = coefficient.std() / np.sqrt(draws)
        assert 5 * c_err < lr / 2, name
        assert abs(coefficient.mean() - lr) < 5 * c_err, name


# ------------------------------------------------------------- the size of input noise


def test_input_noise_is_normal_with_the_requested_sd():
    sigma = 0.3
    spec = learners.LearnerSpec("gd", input_noise=True)
    draws = _revealed_noise(spec, learners.hyper(1.0, input_noise=sigma), "input", seed=24)
    z = draws.ravel()
    n = z.size  # 100,000
    assert abs(z.mean()) < 5 * sigma / np.sqrt(n)
    # Sample variance of a normal: standard error σ² sqrt(2 / n) (±2.2 % at 5 of them).
    assert abs(z.var() - sigma**2) < 5 * sigma**2 * np.sqrt(2.0 / n)
    assert stats.kstest(z[:20_000] / sigma, "norm").pvalue > 0.01
    # Fresh noise for every key.
    assert abs(np.corrcoef(draws[0], draws[1])[0, 1]) < 5 / np.sqrt(draws.shape[1])


# ----------------------------------------- update noise enters Adam / RMSprop as a gradient


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_update_noise_enters_adam_and_rmsprop_through_the_gradient(kind, slope):
    # L = c Σ w has the gradient c everywhere; the noisy gradient is g = c + σ ξ. The first
    # step from zero moments, with the noise added *before* the optimiser:
    #   Adam (optax, ε outside the root, bias-corrected): m̂ = g, v̂ = g², so
    #     Δ = −η g / (|g| + ε)                             ≈ −η sign(g);
    #   RMSprop (PyTorch's, v₀ = 0, no bias correction): v = (1 − ρ) g², so
    #     Δ = −η g / (sqrt(1 − ρ) |g| + ε)                 ≈ −η sign(g) / sqrt(1 − ρ).
    # Every entry has the same magnitude, and P(Δ < 0) = P(g > 0) = Φ(c / σ). Noise added
    # after the optimiser would instead give Δ = −η (c / (|c| + ε) + σ ξ): Gaussian entries.
    lr, sigma, n = 1e-3, 0.2, 50_000
    spec = learners.LearnerSpec(kind, update_noise=True)
    size = lr if kind == "adam" else lr / np.sqrt(1.0 - spec.rms_decay)

    def loss(params, x, y):
        return slope * jnp.sum(params["w"])

    params = {"w": jnp.zeros((n,))}
    hp = learners.hyper(lr, update_noise=sigma)
    key = jax.random.key(25)
    learner = learners.make(spec, loss)
    new, _, _ = learner.step(learner.init(key, params), params, hp, jnp.zeros(1), jnp.zeros(1))
    delta = np.asarray(new["w"], np.float64)

    magnitude = np.abs(delta) / size
    assert magnitude.max() <= 1.0 + 1e-6
    # |Δ| / size = |g| / (|g| + ε'), ε' ≤ 1e-7: below 1 − 1e-3 only where |g| < 1e-4,
    # probability < 4e-4.
    assert np.mean(magnitude > 1.0 - 1e-3) > 0.998
    p_down = stats.norm.cdf(slope / sigma)
    assert abs(np.mean(delta < 0) - p_down) < 5 * np.sqrt(p_down * (1 - p_down) / n)

    # Exactly, entry by entry: the same key gives GD (η = 1) the same noise, and its step
    # is −g, which reveals g.
    gd = learners.make(learners.LearnerSpec("gd", update_noise=True), loss)
    revealed, _, _ = gd.step(
        gd.init(key, params), params, learners.hyper(1.0, update_noise=sigma), 0, 0
    )
    g = -np.asarray(revealed["w"], np.float64)
    if kind == "adam":
        expected = -lr * g / (np.abs(g) + spec.eps)
    else:
        expected = -lr * g / (np.sqrt(1.0 - spec.rms_decay) * np.abs(g) + spec.eps)
    np.testing.assert_allclose(delta, expected, rtol=1e-5, atol=1e-9)
