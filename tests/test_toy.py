"""The 2-D toy loss of Fig. 5A: noisy GD drifts along the zero-loss manifold to its flat end.

**Theory** (leading orders in the learning rate η; the tests compare with these numbers).

``L = x²y²``, ``∇L = (2xy², 2x²y)``. Near the x-axis (``|y| ≪ |x|``) ``x`` moves slowly
and ``y`` relaxes fast, so ``y`` is averaged at fixed ``x``.

*Update noise*, ``θ ← θ − η(∇L + σξ)``:

    y' = (1 − 2ηx²) y − ησξ_y        (an AR(1) / Ornstein–Uhlenbeck process)
    Var y = η²σ² / (1 − (1 − 2ηx²)²) = ησ² / (4x²(1 − ηx²))
    x' = x − 2ηx y² − ησξ_x
    E[Δx]    = −2ηx E[y²] = −η²σ² / (2x(1 − ηx²))
    E[Δx²]   = η²σ² + O(η⁴),   E[Δ(x²)] = 2x E[Δx] + E[Δx²] = −η³σ²x²/(1 − ηx²) = O(η³)
    E[Δ log|x|] = E[Δx]/x − E[Δx²]/(2x²) = −(η²σ²/(2x²)) (1 + 1/(1 − ηx²)) ≈ −η²σ²/x².

So ``log|x|`` drifts down at rate ``η²σ²/x²`` while ``E[x²]`` is constant to order η²: the
drift of ``x`` towards the origin is exactly the one that keeps a driftless diffusion of
``x²``. Along the axis ``x`` is a diffusion with variance ``D = η²σ²`` per step and drift
``μ(x) = E[Δx]``; between reflecting walls the stationary density has zero flux,
``μ p = (D/2) p'``, so ``p'/p = 2μ/D = −1/(x(1 − ηx²))`` and

    p(x) ∝ √(1 − ηx²) / x  ≈ 1/x:

``log x`` is uniform; the walk spends as much time in ``[a, √(ab)]`` as in ``[√(ab), b]``.

*Label noise*, ``L = (xy − sξ)²``, ``θ ← θ − 2η(xy − sξ)(y, x)``:

    y' = (1 − 2ηx²) y + 2ηsxξ,   Var y = 4η²s²x² / (4ηx²(1 − ηx²)) = ηs² / (1 − ηx²)
    E[Δx] = −2ηx E[y²] + 2ηs E[ξ y] = −2η²s²x / (1 − ηx²)     (ξ is independent of y)

so ``E[x] ≈ x0 exp(−2η²s²t)``; integrating the corrected rate,
``ln x − ηx²/2 = ln x0 − ηx0²/2 − 2η²s²t``. The Hessian trace ``2(x² + y²) ≈ 2x²`` falls
as ``exp(−4η²s²t)``.

*No noise*: ``y' = (1 − 2ηx²) y`` → 0 geometrically; ``x² − y²`` is conserved by the
gradient flow and changes per GD step by ``4η²x²y²(y² − x²)``, so summing over the
geometric decay of ``y²`` (``Σ y² ≈ y0²/(4ηx²)``) gives ``x∞² ≈ x0² − y0² − ηx0²y0²``.
Once ``y`` underflows (``|1 − 2ηx²| < 1``), both coordinates stop exactly.

Numbers at η = 0.01, σ = s = 1, x0 = 3 (the set-up checked in the design notes).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.optimize
import scipy.stats

from repdrift.models import toy

ETA, SIGMA, X0 = 0.01, 1.0, 3.0


def drive(model, data, hyper, key, *, runs, steps, record_every):
    """A minimal engine: ``runs`` vmapped runs, ``steps // record_every`` records.

    Returns ``(initial, records, final_state)``: ``initial`` the measurement at step 0,
    ``records`` stacked ``(runs, records, ...)``, measured after every ``record_every``
    steps.
    """

    def one(k):
        state = model.init(k, data, hyper)
        first = model.measure(state, data)

        def chunk(s, _):
            s, _ = jax.lax.scan(lambda s, _: model.step(s, data, hyper), s, None, record_every)
            return s, model.measure(s, data)

        state, recs = jax.lax.scan(chunk, state, None, steps // record_every)
        return first, recs, state

    return jax.jit(jax.vmap(one))(jax.random.split(key, runs))


def setup(**kw):
    params = toy.ToyParams(**kw)
    return toy.make_model(params), toy.make_data(None, params), toy.make_hyper(params)


# ---------------------------------------------------------------------------- basics


def test_hessian_eigenvalues_match_finite_differences():
    """The analytic eigenvalues equal those of the Hessian of ``x²y²`` by central second
    differences (error O(h²) · fourth derivative = 24 h² for this quartic)."""
    pts = np.random.default_rng(0).normal(size=(50, 2)) * 3
    h = 1e-3

    def loss(p):
        return (p[..., 0] * p[..., 1]) ** 2

    e = np.eye(2) * h
    dense = np.empty((50, 2, 2))
    for i in range(2):
        for j in range(2):
            dense[:, i, j] = (
                loss(pts + e[i] + e[j])
                - loss(pts + e[i] - e[j])
                - loss(pts - e[i] + e[j])
                + loss(pts - e[i] - e[j])
            ) / (4 * h**2)
    mine = toy.hessian_eigenvalues(pts[:, 0], pts[:, 1])
    np.testing.assert_allclose(mine[:, ::-1], np.linalg.eigvalsh(dense), rtol=1e-5, atol=1e-4)
    # On the axis: diag(0, 2x²).
    np.testing.assert_allclose(
        toy.hessian_eigenvalues(np.array([3.0]), np.array([0.0])), [[18.0, 0.0]]
    )


def test_params_validate_at_the_edge():
    with pytest.raises(ValueError, match="noise"):
        toy.ToyParams(noise="gaussian")
    with pytest.raises(ValueError, match="walls"):
        toy.ToyParams(reflect=True, x_min=2.0, x_max=1.0)
    with pytest.raises(ValueError, match="x0"):
        toy.ToyParams(reflect=True, x_min=1.0, x_max=2.0, x0=3.0)


def test_interface_shapes_and_snapshot_metrics():
    model, data, hyper = setup(particles=7)
    state = model.init(jax.random.key(0), data, hyper)
    state, loss = model.step(state, data, hyper)
    rec = model.measure(state, data)
    assert set(model.record_dims) <= set(rec) and "loss" in rec
    for name, dims in model.record_dims.items():
        assert rec[name].shape == (7,) and dims == ("particle",)
    for name in ("loss", "mean_x", "mean_log_abs_x", "mean_x2", "hessian_trace"):
        assert rec[name].shape == ()
    # The step's loss is the clean loss before the step: every particle at (x0, y0).
    assert float(loss) == pytest.approx((X0 * 0.01) ** 2, rel=1e-6)
    snap = {k: np.asarray(v) for k, v in model.snapshot(state).items()}
    eig = model.snapshot_metrics(snap, data)["hessian_eigenvalues"]
    assert eig.shape == (7, 2)
    np.testing.assert_allclose(eig.sum(1), 2 * (snap["x"] ** 2 + snap["y"] ** 2), rtol=1e-6)
    assert hash(model) == hash(toy.Toy(particles=7))


def test_vmapped_runs_equal_looped_runs():
    model, data, hyper = setup(particles=16)
    keys = jax.random.split(jax.random.key(3), 2)

    def final(k):
        s = model.init(k, data, hyper)
        return jax.lax.scan(lambda s, _: model.step(s, data, hyper), s, None, 20)[0].x

    batched = jax.jit(jax.vmap(final))(keys)
    looped = np.stack([jax.jit(final)(k) for k in keys])
    np.testing.assert_allclose(batched, looped, rtol=1e-6)


# ------------------------------------------------------------------ update noise


@pytest.mark.parametrize(
    ("runs", "x2_fraction"),
    [(4, 0.5), pytest.param(20, 0.25, marks=pytest.mark.slow)],
    ids=["20k", "100k"],
)
def test_update_noise_log_x_drifts_down_while_x_squared_stays(runs, x2_fraction):
    """E[Δ log|x|] = −η²σ²/x² per step (within 20 %); E[x²] constant to order η².

    Over T = 2,000 steps from x0 = 3: predicted Δ E[log|x|] = −0.0222 (leading order),
    −0.0233 with the 1/(1 − ηx²) correction, −0.024 with E[1/x²] of the spreading
    particles (σ_x after T steps ≈ ησ√T = 0.45); the sampling error of the mean is
    ≈ 0.15/√particles (0.0011 for 20,000). Δ E[x²] is predicted −η³σ²x²T/(1 − ηx²) =
    −0.020, against −0.22 if the drift of x were not compensated by its diffusion
    (2x E[Δx] T alone); the sampling error is ≈ 2.7/√particles (0.019 for 20,000), so the
    bound on |Δ E[x²]| is half (quarter, for 100,000 particles) of the uncompensated value.
    """
    steps, every = 2000, 100
    model, data, hyper = setup(particles=5000, x0=X0, y0=0.01)
    _, recs, state = drive(
        model, data, hyper, jax.random.key(0), runs=runs, steps=steps, record_every=every
    )
    x = np.asarray(state.x, np.float64).ravel()
    log_change = np.log(np.abs(x) / X0)
    rate = log_change.mean() / steps
    rate_se = log_change.std() / np.sqrt(x.size) / steps
    leading = -(ETA**2) * SIGMA**2 / X0**2
    assert rate == pytest.approx(leading, rel=0.2)
    # Tighter: the corrected per-step drift averaged over the particles' own positions
    # (E[1/x²] grows as the particles spread), summed over the run.
    xs = np.concatenate(
        [
            np.full((1, x.size), X0),
            np.asarray(recs["x"], np.float64).transpose(1, 0, 2).reshape(-1, x.size),
        ]
    )  # (records + 1, particles) at steps 0, every, ..., steps
    drift = (-(ETA**2) * SIGMA**2 / (2 * xs**2) * (1 + 1 / (1 - ETA * xs**2))).mean(1)
    predicted = np.sum((drift[1:] + drift[:-1]) / 2) * every / steps
    assert abs(rate - predicted) < 4 * rate_se
    # The record's summary is the same quantity.
    assert float(np.mean(recs["mean_log_abs_x"][:, -1])) == pytest.approx(
        np.mean(np.log(np.abs(x))), rel=1e-5
    )

    change_x2 = x**2 - X0**2
    se_x2 = change_x2.std() / np.sqrt(x.size)
    predicted_x2 = -(ETA**3) * SIGMA**2 * X0**2 * steps / (1 - ETA * X0**2)
    uncompensated = -(ETA**2) * SIGMA**2 * steps / (1 - ETA * X0**2)
    assert abs(change_x2.mean() - predicted_x2) < 4 * se_x2
    assert abs(change_x2.mean()) < x2_fraction * abs(uncompensated)
    # The valley stays: y is an OU process of variance ησ²/(4x²(1 − ηx²)).
    y = np.asarray(state.y, np.float64).ravel()
    assert np.mean(y**2 * x**2) == pytest.approx(
        ETA * SIGMA**2 / 4 / (1 - ETA * np.mean(x**2)), rel=0.05
    )


def _stationary_cdf(a: float, b: float, eta: float):
    """CDF of p(x) ∝ √(1 − ηx²)/x on [a, b] (module docstring), by quadrature."""
    xs = np.linspace(a, b, 20_001)
    pdf = np.sqrt(1 - eta * xs**2) / xs
    cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(xs))])
    cdf /= cdf[-1]
    return lambda x: np.interp(x, xs, cdf)


def _check_stationary(x: np.ndarray, a: float, b: float, eta: float) -> None:
    # Independent particles: their final positions are independent draws.
    assert scipy.stats.kstest(x, _stationary_cdf(a, b, eta)).pvalue > 1e-3
    # 1/x: half of the mass below the geometric mean (uniform would put 1/3 + ... there:
    # (√(ab) − a)/(b − a) = 0.366 for [1, 3]).
    low = np.mean(x < np.sqrt(a * b))
    assert low == pytest.approx(0.5, abs=4 * 0.5 / np.sqrt(x.size) + 0.01)
    # ... and not uniform, which the walk would be without the drift.
    assert scipy.stats.kstest(x, "uniform", args=(a, b - a)).statistic > 0.1


def test_update_noise_stationary_density_is_one_over_x():
    """Between reflecting walls at 1 and 3 the walk settles to p ∝ √(1 − ηx²)/x ≈ 1/x.

    η = 0.01, σ = 2 (per-step variance of x: D = 4e-4): the slowest relaxation of a
    diffusion on [1, 3] is L²/(π² D/2) ≈ 2,000 steps; 8,000 steps from x0 = 2 leave
    e^{-4} of the start. 3,000 independent particles: the KS distance to uniform is
    ≈ 0.14 against a 1 % critical value of 0.03.
    """
    a, b, eta = 1.0, 3.0, 0.01
    model, data, hyper = setup(
        particles=1500, lr=eta, noise_std=2.0, x0=2.0, reflect=True, x_min=a, x_max=b
    )
    _, _, state = drive(
        model, data, hyper, jax.random.key(1), runs=2, steps=8000, record_every=8000
    )
    x = np.asarray(state.x, np.float64).ravel()
    assert x.min() >= a and x.max() <= b
    _check_stationary(x, a, b, eta)


@pytest.mark.slow
def test_update_noise_stationary_density_published_noise():
    """As above at the design notes' σ = 1 (relaxation ≈ 8,100 steps; 48,000 steps),
    20,000 particles."""
    a, b, eta = 1.0, 3.0, ETA
    model, data, hyper = setup(
        particles=5000, lr=eta, noise_std=SIGMA, x0=2.0, reflect=True, x_min=a, x_max=b
    )
    _, _, state = drive(
        model, data, hyper, jax.random.key(2), runs=4, steps=48_000, record_every=48_000
    )
    x = np.asarray(state.x, np.float64).ravel()
    _check_stationary(x, a, b, eta)


# -------------------------------------------------------------------- label noise


def test_label_noise_x_and_trace_decay_exponentially():
    """E[x] ≈ x0 exp(−2η²s²t) (within 10 %; within 2 % of the corrected solution); the
    Hessian trace 2(x² + y²) falls like 2 E[x²].

    At T = 2,000: leading order 3 e^{-0.4} = 2.011, corrected (ln x − ηx²/2 rule) 1.960.
    """
    steps, every = 2000, 200
    model, data, hyper = setup(particles=5000, noise="label", x0=X0, y0=0.01)
    first, recs, state = drive(
        model, data, hyper, jax.random.key(4), runs=4, steps=steps, record_every=every
    )
    t = np.arange(1, steps // every + 1) * every
    mean_x = np.asarray(recs["mean_x"], np.float64).mean(0)
    leading = X0 * np.exp(-2 * ETA**2 * SIGMA**2 * t)
    np.testing.assert_allclose(mean_x, leading, rtol=0.1)

    def corrected(tt):
        c = np.log(X0) - ETA * X0**2 / 2 - 2 * ETA**2 * SIGMA**2 * tt
        return scipy.optimize.brentq(lambda x: np.log(x) - ETA * x**2 / 2 - c, 0.1, X0)

    np.testing.assert_allclose(mean_x, [corrected(tt) for tt in t], rtol=0.02)

    trace = np.asarray(recs["hessian_trace"], np.float64).mean(0)
    assert float(first["hessian_trace"][0]) == pytest.approx(2 * (X0**2 + 0.01**2), rel=1e-6)
    assert np.all(np.diff(trace) < 0)
    x2 = np.asarray(state.x, np.float64) ** 2
    assert trace[-1] == pytest.approx(2 * x2.mean(), rel=0.02)
    assert trace[-1] / trace[0] < 0.6
    # Var y = ηs²/(1 − ηx²): the particles sit in the valley, not on its floor.
    y2 = np.asarray(state.y, np.float64) ** 2
    assert y2.mean() == pytest.approx(ETA * SIGMA**2 / (1 - ETA * x2.mean()), rel=0.05)


# ----------------------------------------------------------------------- no noise


def test_noise_free_gd_converges_and_stops():
    """Plain GD reaches the axis, x∞² ≈ x0² − y0² − ηx0²y0², and nothing moves after."""
    y0 = 0.5
    model, data, hyper = setup(particles=4, noise="none", x0=X0, y0=y0, noise_std=1.0)
    _, recs, _ = drive(model, data, hyper, jax.random.key(5), runs=2, steps=2000, record_every=500)
    x = np.asarray(recs["x"])  # (runs, records, particles)
    y = np.asarray(recs["y"])
    # Converged within the first 500 steps: y underflows, the loss is exactly 0 ...
    assert np.all(np.abs(y[:, 0]) < 1e-30)
    assert np.all(np.asarray(recs["loss"])[:, 1:] == 0)
    # ... and the later records are bitwise identical.
    assert np.array_equal(x[:, 1:], np.broadcast_to(x[:, 1:2], x[:, 1:].shape))
    assert np.array_equal(y[:, 1:], np.broadcast_to(y[:, 1:2], y[:, 1:].shape))
    # All particles agree (nothing random) and land where the conservation law says.
    assert np.all(x == x[0, 0, 0])
    expected = X0**2 - y0**2 - ETA * X0**2 * y0**2
    assert float(x[0, -1, 0]) ** 2 == pytest.approx(expected, abs=0.01)
