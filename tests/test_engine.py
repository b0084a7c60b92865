"""The compiled engine: batching is exact, padding changes nothing, values do not recompile,
divergence and silence are data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from repdrift import engine, learners, network
from repdrift.metrics import sparsity
from repdrift.models import feedforward
from repdrift.models.feedforward import FeedForward


def _one(seed, dtype=jnp.float32, n=10, d_in=20, hidden=100, d_out=10):
    kx, ky, kn, kl = jax.random.split(jax.random.key(seed), 4)
    x = jax.random.uniform(kx, (n, d_in), dtype, -1, 1)
    y = jax.random.uniform(ky, (n, d_out), dtype, -1, 1)
    return (
        feedforward.make_data(x, y, dtype),
        network.init(kn, d_in, hidden, d_out, dtype=dtype),
        kl,
    )


def _problems(seeds, dtype=jnp.float32, **shape):
    parts = [_one(s, dtype, **shape) for s in seeds]
    data = engine.stack([p[0] for p in parts])
    params = engine.stack([p[1] for p in parts])
    keys = jnp.stack([p[2] for p in parts])
    return data, params, keys


def _hyper(values, dtype=jnp.float32):
    return engine.stack(
        [
            feedforward.NetworkHyper(learners.hyper(**v, dtype=dtype), jnp.asarray(1.0, dtype))
            for v in values
        ]
    )


def _states(spec, keys, params):
    learner = learners.make(spec.model.learner)
    return engine.init(
        jax.vmap(lambda k, p: feedforward.State(p, learner.init(k, p)))(keys, params)
    )


def _spec(learner, **kw):
    return engine.EngineSpec(FeedForward(100, learner), **kw)


def _run(spec, data, params, keys, hp, sched, state=None):
    state = _states(spec, keys, params) if state is None else state
    return _iterate(spec, state, engine.Batch(data, hp), sched, seconds=0.05)


def _iterate(spec, state, batch, sched, seconds):
    steps, records = [], {}
    for chunk in engine.iterate(spec, state, batch, sched, seconds_per_call=seconds):
        steps.append(chunk.steps)
        for k, v in chunk.records.items():
            records.setdefault(k, []).append(v)
        state = chunk.state
    return state, np.concatenate(steps), {k: np.concatenate(v) for k, v in records.items()}


def test_a_run_in_a_batch_equals_the_same_run_alone_float64():
    with jax.enable_x64(True):
        spec = _spec(learners.LearnerSpec("gd", update_noise=True, label_noise="gaussian"))
        values = [
            {"lr": 0.1, "update_noise": 0.03, "label_noise": 0.1},
            {"lr": 0.05, "update_noise": 0.01, "label_noise": 0.3},
            {"lr": 0.2, "update_noise": 0.02, "label_noise": 0.0},
            {"lr": 0.1, "update_noise": 0.05, "label_noise": 0.05},
        ]
        seeds = [11, 12, 13, 14]
        data, params, keys = _problems(seeds, jnp.float64)
        sched = engine.schedule(2000, dense_until=10, per_decade=10, snapshots=3)
        batched, steps, rec = _run(spec, data, params, keys, _hyper(values, jnp.float64), sched)
        assert batched.model.params["W1"].dtype == jnp.float64
        for i in (0, 2):
            di, pi, ki = _problems([seeds[i]], jnp.float64)
            alone, steps_i, rec_i = _run(spec, di, pi, ki, _hyper([values[i]], jnp.float64), sched)
            np.testing.assert_array_equal(steps, steps_i)
            for name in pi:
                np.testing.assert_allclose(
                    alone.model.params[name][0],
                    batched.model.params[name][i],
                    rtol=1e-6,
                    atol=1e-9,
                )
            np.testing.assert_allclose(rec_i["loss"][:, 0], rec["loss"][:, i], rtol=1e-6)
        assert int(batched.step) == 2000
        assert steps[0] == 0 and steps[-1] == 2000
        np.testing.assert_array_equal(steps, sched.record_steps)


def test_new_values_do_not_recompile_but_change_the_result():
    spec = _spec(learners.LearnerSpec("gd", update_noise=True))
    data, params, keys = _problems([1, 2])
    state = _states(spec, keys, params)
    lengths = jnp.full((spec.segments_per_call,), 5, jnp.int32)
    first, _ = engine.advance(
        spec, state, engine.Batch(data, _hyper([{"lr": 0.1, "update_noise": 0.01}] * 2)), lengths
    )
    compiled = engine.advance._cache_size()
    second, _ = engine.advance(
        spec,
        state,
        engine.Batch(data, _hyper([{"lr": 0.2, "update_noise": 0.05}] * 2)),
        lengths + 3,
    )
    assert engine.advance._cache_size() == compiled
    assert not np.allclose(first.model.params["W1"], second.model.params["W1"])
    assert int(second.step) == 8 * spec.segments_per_call


def test_divergence_is_flagged_per_run_and_the_others_continue():
    spec = _spec(learners.LearnerSpec("gd"))
    data, params, keys = _problems([3, 4, 5])
    hp = _hyper([{"lr": 0.1}, {"lr": 50.0}, {"lr": 0.1}])
    sched = engine.schedule(300, dense_until=10, per_decade=10, snapshots=2)
    state, _, rec = _run(spec, data, params, keys, hp, sched)
    status = np.asarray(state.status)
    assert status.tolist() == [engine.OK, engine.DIVERGED, engine.OK]
    assert 0 <= int(state.stopped_at[1]) < 300
    assert np.asarray(state.stopped_at)[[0, 2]].tolist() == [-1, -1]
    assert rec["loss"][-1, 0] < rec["loss"][0, 0]  # the healthy runs kept learning
    assert rec["status"][-1, 1] == engine.DIVERGED


def test_silent_and_nan_runs_get_their_own_statuses():
    spec = _spec(learners.LearnerSpec("gd"))
    data, params, keys = _problems([6, 7, 9])
    # Run 1: every unit silent (biases far below any pre-activation). Run 2: NaN weights.
    params["b1"] = params["b1"].at[1].set(-1e3)
    params["W2"] = params["W2"].at[2].set(jnp.nan)
    sched = engine.schedule(20, dense_until=5, per_decade=5, snapshots=2)
    state, _, rec = _run(spec, data, params, keys, _hyper([{"lr": 0.1}] * 3), sched)
    assert np.asarray(state.status).tolist() == [engine.OK, engine.SILENT, engine.DIVERGED]
    assert rec["fraction_active_units"][0, 1] == 0.0
    assert np.asarray(state.stopped_at).tolist()[1:] == [0, 0]


def test_records_equal_the_metric_functions_on_the_parameters():
    spec = _spec(learners.LearnerSpec("gd", update_noise=True))
    data, params, keys = _problems([21, 22])
    sched = engine.schedule(50, dense_until=5, per_decade=5, snapshots=2)
    state, _, rec = _run(
        spec, data, params, keys, _hyper([{"lr": 0.1, "update_noise": 0.05}] * 2), sched
    )
    for i in range(2):
        p = {k: v[i] for k, v in state.model.params.items()}
        out, hidden = network.apply(p, data.inputs[i])
        hidden = np.asarray(hidden, np.float64)
        assert rec["active_fraction"][-1, i] == pytest.approx(
            sparsity.active_fraction(hidden), abs=1e-6
        )
        assert rec["fraction_active_units"][-1, i] == pytest.approx(
            sparsity.fraction_active_units(hidden), abs=1e-6
        )
        y = np.asarray(data.targets[i], np.float64)
        # normalised as the original did: by PyTorch's y.var(), the unbiased variance
        mse = np.mean((np.asarray(out, np.float64) - y) ** 2) / np.var(y, ddof=1)
        assert rec["loss"][-1, i] == pytest.approx(mse, rel=1e-4)


@pytest.mark.parametrize(
    "learner,values",
    [
        (
            learners.LearnerSpec("gd", update_noise=True, label_noise="gaussian", input_noise=True),
            {"lr": 0.1, "update_noise": 0.03, "label_noise": 0.2, "input_noise": 0.05},
        ),
        (learners.LearnerSpec("gd", label_noise="uniform"), {"lr": 0.1, "label_noise": 0.5}),
        (learners.LearnerSpec("adam", update_noise=True), {"lr": 1e-3, "update_noise": 0.01}),
        (learners.LearnerSpec("sed"), {"lr": 0.9, "sed_perturbation": 0.01}),
    ],
)
def test_padding_changes_nothing_of_a_run(learner, values):
    """A problem padded with masked zeros (samples, inputs, outputs) trains exactly as alone."""
    with jax.enable_x64(True):
        spec = _spec(learner)
        data, params, keys = _problems([31], jnp.float64, n=7, d_in=9, d_out=4)
        sched = engine.schedule(300, dense_until=10, per_decade=10, snapshots=2)
        hp = _hyper([values], jnp.float64)
        alone, _, rec_alone = _run(spec, data, params, keys, hp, sched)
        one = jax.tree_util.tree_map(lambda v: v[0], (data, params))
        padded_data = engine.stack([feedforward.pad_data(one[0], (12, 15, 6))])
        state = _states(spec, keys, params)
        padded_state = state._replace(
            model=jax.tree_util.tree_map(
                lambda v: v[None],
                feedforward.pad_state(jax.tree_util.tree_map(lambda v: v[0], state.model), 15, 6),
            )
        )
        padded, _, rec_padded = _run(spec, padded_data, None, None, hp, sched, state=padded_state)
        for name in ("loss", "active_fraction", "fraction_active_units"):
            np.testing.assert_allclose(rec_padded[name], rec_alone[name], rtol=1e-9, atol=1e-12)
        cut = feedforward.unpad_state(jax.tree_util.tree_map(lambda v: v[0], padded.model), 9, 4)
        for name in ("W1", "b1", "W2"):
            np.testing.assert_allclose(
                cut.params[name], alone.model.params[name][0], rtol=1e-9, atol=1e-12
            )


def test_same_seed_same_records_and_chunking_does_not_matter():
    spec = _spec(learners.LearnerSpec("gd", update_noise=True), segments_per_call=4)
    data, params, keys = _problems([8])
    hp = _hyper([{"lr": 0.1, "update_noise": 0.02}])
    sched = engine.schedule(500, dense_until=20, per_decade=8, snapshots=4)
    a_state, _, a = _run(spec, data, params, keys, hp, sched)
    _, _, b = _run(spec, data, params, keys, hp, sched)
    np.testing.assert_array_equal(a["loss"], b["loss"])
    # A different cut of the same steps into calls gives the same trajectory.
    state = _states(spec, keys, params)
    batch = engine.Batch(data, hp)
    for n in (1, 99, 400):
        state, _ = engine.advance(spec, state, batch, jnp.asarray([n, 0, 0, 0], jnp.int32))
    np.testing.assert_allclose(
        state.model.params["W1"], a_state.model.params["W1"], rtol=1e-6, atol=1e-7
    )


def test_schedule_is_dense_then_log_spaced_and_contains_the_snapshots():
    sched = engine.schedule(10**6, dense_until=100, per_decade=50, snapshots=20)
    rs = sched.record_steps
    np.testing.assert_array_equal(rs[:101], np.arange(101))
    assert rs[-1] == 10**6
    assert set(sched.snapshot_steps.tolist()) <= set(rs.tolist())
    assert len(sched.snapshot_steps) == 20
    late = rs[rs > 1000]
    ratios = late[1:] / late[:-1]
    assert np.all(ratios < 10 ** (1 / 50) + 0.01)
    assert 4 * 50 - 5 < np.sum(rs > 100) <= 4 * 50 + 25
    with pytest.raises(ValueError, match="steps"):
        engine.schedule(0)


def test_where_a_run_is_flagged_does_not_depend_on_how_the_steps_are_cut_into_calls():
    """Under strong update noise a tiny network's units fall silent and wake again many
    times. Flags come from record steps only, so the flag, the step it carries and every
    record are the same whether a call covers 16 steps or hundreds."""
    hidden = 4
    spec = engine.EngineSpec(
        FeedForward(hidden, learners.LearnerSpec("gd", update_noise=True)), segments_per_call=16
    )
    seeds = list(range(8))
    data, params, keys = _problems(seeds, hidden=hidden, n=6, d_in=5, d_out=3)
    hp = _hyper([{"lr": 0.05, "update_noise": 1.5}] * len(seeds))
    batch = engine.Batch(data, hp)
    sched = engine.schedule(640, dense_until=10, per_decade=6, snapshots=2)

    # Every step's clean fraction of active units, nothing flagged (the reference).
    state = _states(spec, keys, params)
    trace = []
    for _ in range(640 // 16):
        state, out = engine.advance(
            spec, state, batch, jnp.ones(16, jnp.int32), jnp.zeros(16, bool)
        )
        trace.append(np.asarray(out["fraction_active_units"]))
    silent = np.concatenate(trace) == 0  # (step - 1, run)
    records = sched.record_steps[1:]
    expected = []
    transient = 0
    for i in range(len(seeds)):
        at_records = records[silent[records - 1, i]]
        expected.append(int(at_records[0]) if at_records.size else -1)
        first = np.flatnonzero(silent[:, i])
        if first.size and (not at_records.size or first[0] + 1 < at_records[0]):
            transient += 1  # silent at a step between records, awake again at the next one
    assert transient >= 3  # the case a check at every call's end would have flagged
    assert any(e > 0 for e in expected) and any(e < 0 for e in expected)

    results = []
    for seconds in (1e-9, 1e9):  # budget shrinks to 16 steps a call / grows without bound
        out = _iterate(spec, _states(spec, keys, params), batch, sched, seconds)
        results.append(out)
        state = out[0]
        assert np.asarray(state.stopped_at).tolist() == expected
        codes = [engine.SILENT if e > 0 else engine.OK for e in expected]
        assert np.asarray(state.status).tolist() == codes
    (_, steps_a, rec_a), (_, steps_b, rec_b) = results
    np.testing.assert_array_equal(steps_a, steps_b)
    for name in rec_a:
        np.testing.assert_array_equal(rec_a[name], rec_b[name])


def _dots(lowered) -> list[str]:
    return [line for line in lowered.as_text().splitlines() if "stablehlo.dot_general" in line]


@pytest.mark.parametrize("preset", ["sweep-member", "hebbian-ring"])
def test_every_product_of_the_compiled_loop_asks_for_full_precision(preset):
    """JAX's default lets a GPU compute float32 products in TensorFloat-32 (a 10-bit
    mantissa), which changed the drift on an NVIDIA H200 (docs/performance.md): every
    product of the compiled step and measurement asks for the arrays' own precision."""
    from repdrift import simulation
    from repdrift.config import load_config

    members = [simulation.build(load_config(preset=preset, seed=s)) for s in range(2)]
    batch, state = simulation._batch_of(members, [simulation._initial_state(m) for m in members])
    spec = engine.EngineSpec(members[0].model)
    lengths = jnp.full((spec.segments_per_call,), 2, jnp.int32)
    dots = _dots(engine.advance.lower(spec, state, batch, lengths))
    assert len(dots) >= 5
    assert all("precision = [HIGHEST, HIGHEST]" in line for line in dots), dots


def test_the_forward_pass_and_task_smoothing_ask_for_full_precision_outside_the_engine():
    from repdrift.tasks import signals

    data, params, _ = _one(0)
    dots = _dots(jax.jit(network.apply).lower(params, data.inputs))
    assert len(dots) == 2
    assert all("precision = [HIGHEST, HIGHEST]" in line for line in dots), dots
    text = signals.smooth_reflect.lower(jnp.ones((4, 50)), sigma=3.0, axis=1).as_text()
    convolutions = [line for line in text.splitlines() if "stablehlo.convolution" in line]
    assert len(convolutions) == 1
    assert "precision_config = [#stablehlo<precision HIGHEST>, " in convolutions[0]
