"""The random numbers of the learners (repdrift.noise): Threefry known answers, the
distribution of the Gaussians (moments, tails, the whole distribution function, KS),
independence across entries, steps, tensors and runs, invariance to padding, fixed values
for fixed keys — and the drift statistics a training run gets from them."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from repdrift import engine, learners, noise, simulation
from repdrift.config import load_config
from repdrift.metrics.timescale import sparsification_timescale

U32 = jnp.uint32


def _many_normals(n_keys=16, per_key=1 << 20, seed=0):
    """``n_keys × per_key`` draws from independent keys (a vmapped batch, as in a sweep)."""
    keys = jax.random.split(jax.random.key(seed), n_keys)
    z = jax.vmap(lambda k: noise.standard_normal(k, per_key))(keys)
    return np.asarray(z, np.float64).ravel()


@pytest.fixture(scope="module")
def normals():
    return _many_normals()


# ----------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "key,counter,expected",
    [  # Known-answer vectors of Threefry-2x32-20 (Random123's kat_vectors).
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ],
)
def test_threefry_gives_the_known_answers(key, counter, expected):
    y0, y1 = noise.threefry2x32(*(U32(v) for v in (*key, *counter)))
    assert (int(y0), int(y1)) == expected


def test_split_and_fold_in_give_distinct_keys_and_accept_only_threefry():
    key = jax.random.key(5)
    words = [tuple(np.asarray(jax.random.key_data(k)).tolist()) for k in noise.split(key, 4)]
    words += [
        tuple(np.asarray(jax.random.key_data(noise.fold_in(key, d))).tolist()) for d in range(4)
    ]
    assert len(set(words)) == 8
    with pytest.raises(ValueError, match="threefry"):
        noise.normal_like(jax.random.key(0, impl="rbg"), jnp.zeros(3))
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        noise.normal_like(key, jnp.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="65536"):
        noise.normal_like(key, jnp.zeros((3, 70_000)))


# ----------------------------------------------------------------- the Gaussian draws


def test_fixed_keys_give_fixed_draws():
    # Stored runs are reproduced only if these numbers never change.
    z = np.asarray(noise.standard_normal(jax.random.key(0), 4))
    np.testing.assert_allclose(z, [0.019465202, -0.51220196, -1.147971, 1.4088706], rtol=1e-6)
    again = np.asarray(noise.standard_normal(jax.random.key(0), 4))
    np.testing.assert_array_equal(z, again)


def test_moments_are_those_of_a_standard_normal(normals):
    z, n = normals, normals.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    # Sixth moment (15 for a normal): the tails carry the right weight.
    assert abs(np.mean(z**6) - 15) < 5 * np.sqrt((10395 - 15**2) / n)


def test_ks_and_tail_probabilities_match_the_normal(normals):
    z, n = normals, normals.size
    assert stats.kstest(z[: 1 << 22], "norm").pvalue > 0.01
    for t in (1.0, 2.0, 3.0, 4.0, 4.5):
        p = 2 * special.ndtr(-t)
        observed = np.mean(np.abs(z) > t)
        assert abs(observed - p) < 5 * np.sqrt(p * (1 - p) / n), t
    assert 5.0 < np.abs(z).max() <= 5.77


def test_the_distribution_function_is_the_normal_one_bin_by_bin():
    """Every main bin of |z| carries probability 2⁻¹²: the word that starts bin m maps to
    the normal quantile of m / 4096 (up to the variance scaling), and the map from words to
    |z| is increasing."""
    m = np.arange(4095, dtype=np.uint32)
    first = noise.gaussian_from_bits(jnp.asarray(m << 19))  # position 0 in bin m
    last = noise.gaussian_from_bits(jnp.asarray((m << 19) | 0x7FFFF))
    scale = np.sqrt(noise._SECOND_MOMENT)
    edges = special.ndtri((1 + m / 4096.0) / 2)
    np.testing.assert_allclose(np.asarray(first, np.float64) * scale, edges, atol=2e-5)
    upper = special.ndtri((1 + (m + 1) / 4096.0) / 2)
    np.testing.assert_allclose(np.asarray(last, np.float64) * scale, upper, rtol=1e-5, atol=2e-5)
    assert np.all(np.diff(np.asarray(first)) > 0)
    # Bit 31 is the sign, exactly.
    words = jax.random.bits(jax.random.key(1), (1000,), U32)
    np.testing.assert_array_equal(
        noise.gaussian_from_bits(words), -noise.gaussian_from_bits(words ^ U32(0x80000000))
    )


def test_the_tail_beyond_the_last_main_bin_is_the_normal_tail():
    # Words in the last main bin (bits 19-30 all set): |z| given |z| > q must follow the
    # normal tail, P(|Z| > t | |Z| > q) = Φ(−t) / Φ(−q).
    words = jax.random.bits(jax.random.key(2), (1 << 20,), U32) | U32(0x7FF80000)
    tail = np.abs(np.asarray(noise.gaussian_from_bits(words), np.float64))
    tail *= np.sqrt(noise._SECOND_MOMENT)
    q = special.ndtri(1 - 2.0**-13)

    def cdf(t):
        return 1 - special.ndtr(-t) / special.ndtr(-q)

    assert tail.min() >= q - 1e-5
    assert stats.kstest(tail, cdf).pvalue > 0.01


# ------------------------------------------------------------------------ independence


def _corr(a, b):
    return np.corrcoef(np.ravel(a), np.ravel(b))[0, 1]


def test_draws_are_uncorrelated_across_rows_columns_steps_tensors_and_runs():
    key = jax.random.key(3)
    like = jnp.zeros((512, 512))
    z = np.asarray(noise.normal_like(key, like))
    n = z.size
    bound = 5 / np.sqrt(n)
    assert abs(_corr(z[:, :-1], z[:, 1:])) < bound  # neighbouring columns
    assert abs(_corr(z[:-1], z[1:])) < bound  # neighbouring rows
    assert abs(_corr(z[:-1, :-1], z[1:, 1:])) < bound  # diagonal
    # Squares too (a dependence of magnitudes would not show in plain correlations).
    assert abs(_corr(z[:, :-1] ** 2, z[:, 1:] ** 2)) < bound * np.sqrt(2)

    # Steps: a learner splits its key every step.
    k = key
    per_step = []
    for _ in range(4):
        k, _, _, k_update = noise.split(k, 4)
        per_step.append(np.asarray(noise.normal_like(k_update, like)))
    for a, b in itertools.pairwise(per_step):
        assert abs(_corr(a, b)) < bound
    # Tensors of one step: leaves of a tree draw with their own keys, even at one shape.
    tree = noise.tree_like(key, {"a": like, "b": like})
    assert abs(_corr(tree["a"], tree["b"])) < bound
    # Runs: neighbouring seeds.
    other = np.asarray(noise.normal_like(jax.random.key(4), like))
    assert abs(_corr(z, other)) < bound


def test_flipping_any_counter_or_key_bit_flips_each_output_bit_half_the_time():
    """Avalanche of the keyed hash: a changed counter or key gives an unrelated word."""
    n = 20_000
    counters = jax.random.bits(jax.random.key(6), (n,), U32)
    key = np.asarray(jax.random.key_data(jax.random.key(7)))

    def words(c, k):
        return np.asarray(noise._mix(noise._mix(c ^ U32(k[0])) + (U32(k[1]) ^ U32(noise._GOLDEN))))

    base = words(counters, key)
    tol = 6 * 0.5 / np.sqrt(n)
    for bit in range(32):
        flipped = np.unpackbits((words(counters ^ U32(1 << bit), key) ^ base).view(np.uint8))
        assert np.all(np.abs(flipped.reshape(n, 32).mean(0) - 0.5) < tol), bit
    for bit in range(64):
        k = key.copy()
        k[bit // 32] ^= np.uint32(1 << (bit % 32))
        flipped = np.unpackbits((words(counters, k) ^ base).view(np.uint8))
        assert np.all(np.abs(flipped.reshape(n, 32).mean(0) - 0.5) < tol), bit


def test_words_are_uniform_bytewise():
    words = np.asarray(noise.bits_like(jax.random.key(8), jnp.zeros((1000, 1000))))
    for shift in (0, 8, 16, 24):
        counts = np.bincount((words >> shift).astype(np.uint8).ravel(), minlength=256)
        assert stats.chisquare(counts).pvalue > 1e-3, shift


# ----------------------------------------------------------------- padding, other laws


def test_an_entry_depends_on_its_index_only():
    key = jax.random.key(9)
    draw = jax.jit(noise.normal_like)
    small = np.asarray(draw(key, jnp.zeros((7, 9))))
    padded = np.asarray(draw(key, jnp.zeros((12, 15))))
    np.testing.assert_array_equal(small, padded[:7, :9])
    vector = np.asarray(draw(key, jnp.zeros(15)))
    np.testing.assert_array_equal(vector, padded[0])  # a vector is a one-row matrix
    with jax.enable_x64(True):  # float64 arrays get the same (float32-valued) draws
        z64 = draw(key, jnp.zeros((7, 9), jnp.float64))
        assert z64.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(z64, np.float32), small)


def test_uniform_and_sign_draws():
    key = jax.random.key(10)
    u = np.asarray(noise.uniform_like(key, jnp.zeros((1000, 1000))), np.float64).ravel()
    assert u.min() > 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 0.01
    s = np.asarray(noise.sign_like(key, jnp.zeros((1000, 1000)))).ravel()
    assert set(np.unique(s).tolist()) == {-1.0, 1.0}
    assert abs(s.mean()) < 5 / np.sqrt(s.size)
    assert abs(_corr(s[:-1], s[1:])) < 5 / np.sqrt(s.size)


def test_sign_update_noise_has_the_variance_of_the_gaussian():
    # On a flat loss the update is −η σ ξ.
    lr, sigma = 0.5, 0.2
    for dist in ("gaussian", "sign"):
        learner = learners.make(
            learners.LearnerSpec("gd", update_noise=True, update_noise_dist=dist),
            loss=lambda p, x, y: 0.0 * p["w"].sum(),
        )
        params = {"w": jnp.zeros((100_000,))}
        new, _, _ = learner.step(
            learner.init(jax.random.key(11), params),
            params,
            learners.hyper(lr, update_noise=sigma),
            jnp.zeros(1),
            jnp.zeros(1),
        )
        xi = -np.asarray(new["w"], np.float64) / (lr * sigma)
        assert abs(xi.var() - 1) < 5 * np.sqrt(2 / xi.size), dist
        if dist == "sign":
            np.testing.assert_allclose(np.abs(xi), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="gaussian' or 'sign"):
        learners.LearnerSpec("gd", update_noise=True, update_noise_dist="laplace")


# ----------------------------------------------------------------- drift statistics

SIGMA = 0.3  # fast sparsification: most units fall silent within the 16,000 steps
RUNS, SEGMENT, CALLS = 32, 100, 10


def _reference_normal_like(key, like):
    """N(0, 1) from JAX's own generator (``jax.random.normal``), the reference."""
    words = key if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else jax.random.key_data(key)
    return jax.random.normal(jax.random.wrap_key_data(words), like.shape, like.dtype)


def _log_tau(dist: str, sigma: float, segment: int = SEGMENT) -> np.ndarray:
    """The paper's sparsification rate (log10 per step) of each run of a fixed batch: sweep
    members (random task, 10 samples, 20 → 100 → 10, lr 0.1) with update noise ``sigma``,
    the fraction of active units recorded every ``segment`` steps (``CALLS`` calls)."""
    members = [
        simulation.build(
            load_config(
                preset="sweep-member",
                seed=seed,
                overrides=[
                    f"learner.update_noise={sigma}",
                    f"learner.update_noise_dist={dist}",
                    "record.hessian='none'",
                ],
            )
        )
        for seed in range(RUNS)
    ]
    spec = engine.EngineSpec(members[0].model)
    state = engine.init(engine.stack([m.initial for m in members]))
    batch = engine.Batch(
        engine.stack([m.data for m in members]), engine.stack([m.hyper for m in members])
    )
    lengths = jnp.full((spec.segments_per_call,), segment, jnp.int32)
    curves = [np.asarray(engine.measure(spec, state, batch)["fraction_active_units"])[None]]
    for _ in range(CALLS):
        state, records = engine.advance(spec, state, batch, lengths)
        curves.append(np.asarray(records["fraction_active_units"]))
    curves = np.concatenate(curves)  # (records, runs)
    steps = segment * np.arange(curves.shape[0])
    assert curves[-1].mean() < 0.5 * curves[0].mean()  # the runs did sparsify
    return np.array([sparsification_timescale(steps, c).log_tau for c in curves.T])


@pytest.fixture(scope="module")
def drift(request):
    out = {
        "gaussian": _log_tau("gaussian", SIGMA),
        "sign": _log_tau("sign", SIGMA),
        "half variance": _log_tau("gaussian", SIGMA / np.sqrt(2)),
        "half variance, twice as long": _log_tau("gaussian", SIGMA / np.sqrt(2), 2 * SEGMENT),
    }
    # The same runs with JAX's own Gaussians. The engine's compiled programs are cached by
    # their (static) model, so the caches are cleared around the substitution.
    patch = pytest.MonkeyPatch()
    jax.clear_caches()
    patch.setattr(noise, "normal_like", _reference_normal_like)
    try:
        out["jax.random"] = _log_tau("gaussian", SIGMA)
    finally:
        patch.undo()
        jax.clear_caches()
    return out


def _paired_t(a, b):
    d = a - b
    return d.mean() / (d.std(ddof=1) / np.sqrt(d.size))


@pytest.mark.slow
@pytest.mark.long
def test_drift_statistics_agree_with_jax_random_and_with_sign_noise(drift):
    """Paired over the same tasks and initial weights, the sparsification rate under the
    project's Gaussians, under ``jax.random.normal`` and under ±σ signs agree within their
    99.9 % confidence interval — while halving the noise variance, which halves the rate
    (the paper: rate ∝ σ²), is detected: the comparison has the power to see a wrong
    variance."""
    critical = stats.t.ppf(0.9995, RUNS - 1)
    assert abs(_paired_t(drift["gaussian"], drift["jax.random"])) < critical
    assert abs(_paired_t(drift["gaussian"], drift["sign"])) < critical
    assert _paired_t(drift["gaussian"], drift["half variance"]) > critical
    # rate ∝ σ² (the paper's diffusion argument; Fig. 4B's exponent 2.07): with half the
    # variance a run's curve is the same over twice the steps, so on records spaced twice as
    # far apart the paper's procedure gives half the rate, log10 2 = 0.30 lower, within the
    # 99.9 % interval of the paired difference — which excludes rate ∝ σ (0.15 lower).
    # (Over the same steps the slower runs have not finished falling, and the procedure
    # gives ~0.22 instead.)
    halved = drift["gaussian"] - drift["half variance, twice as long"]
    half_width = critical * halved.std(ddof=1) / np.sqrt(halved.size)
    assert abs(halved.mean() - np.log10(2)) < half_width
    assert abs(halved.mean() - np.log10(2) / 2) > half_width
