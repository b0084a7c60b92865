"""The compiled engine: batching is exact, values do not recompile, divergence is data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from repdrift import engine, learners, network


def _problems(seeds, dtype=jnp.float32, n=10, d_in=20, hidden=100, d_out=10):
    def one(seed):
        kx, ky, kn, kl = jax.random.split(jax.random.key(seed), 4)
        x = jax.random.uniform(kx, (n, d_in), dtype, -1, 1)
        y = jax.random.uniform(ky, (n, d_out), dtype, -1, 1)
        return x, y, network.init(kn, d_in, hidden, d_out, dtype=dtype), kl

    parts = [one(s) for s in seeds]
    x = jnp.stack([p[0] for p in parts])
    y = jnp.stack([p[1] for p in parts])
    params = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[p[2] for p in parts])
    keys = jnp.stack([p[3] for p in parts])
    return x, y, params, keys


def _hyper(values, dtype=jnp.float32):
    return jax.tree_util.tree_map(
        lambda *a: jnp.stack(a), *[learners.hyper(**v, dtype=dtype) for v in values]
    )


def _run(spec, x, y, params, keys, hp, sched):
    state = engine.init(spec, keys, params)
    batch = engine.Batch(x, y, hp)
    steps, records = [], {}
    for chunk in engine.iterate(spec, state, batch, sched, seconds_per_call=0.05):
        steps.append(chunk.steps)
        for k, v in chunk.records.items():
            records.setdefault(k, []).append(v)
        state = chunk.state
    return state, np.concatenate(steps), {k: np.concatenate(v) for k, v in records.items()}


def test_a_run_in_a_batch_equals_the_same_run_alone_float64():
    with jax.enable_x64(True):
        spec = engine.EngineSpec(
            learners.LearnerSpec("gd", update_noise=True, label_noise="gaussian")
        )
        values = [
            {"lr": 0.1, "update_noise": 0.03, "label_noise": 0.1},
            {"lr": 0.05, "update_noise": 0.01, "label_noise": 0.3},
            {"lr": 0.2, "update_noise": 0.02, "label_noise": 0.0},
            {"lr": 0.1, "update_noise": 0.05, "label_noise": 0.05},
        ]
        seeds = [11, 12, 13, 14]
        x, y, params, keys = _problems(seeds, jnp.float64)
        sched = engine.schedule(2000, dense_until=10, per_decade=10, snapshots=3)
        batched, steps, rec = _run(spec, x, y, params, keys, _hyper(values, jnp.float64), sched)
        assert batched.params["W1"].dtype == jnp.float64
        for i in (0, 2):
            xi, yi, pi, ki = _problems([seeds[i]], jnp.float64)
            alone, steps_i, rec_i = _run(
                spec, xi, yi, pi, ki, _hyper([values[i]], jnp.float64), sched
            )
            np.testing.assert_array_equal(steps, steps_i)
            for name in pi:
                np.testing.assert_allclose(
                    alone.params[name][0], batched.params[name][i], rtol=1e-6, atol=1e-9
                )
            np.testing.assert_allclose(rec_i["loss"][:, 0], rec["loss"][:, i], rtol=1e-6)
        assert int(batched.step) == 2000
        assert steps[0] == 0 and steps[-1] == 2000
        np.testing.assert_array_equal(steps, sched.record_steps)


def test_new_values_do_not_recompile_but_change_the_result():
    spec = engine.EngineSpec(learners.LearnerSpec("gd", update_noise=True))
    x, y, params, keys = _problems([1, 2])
    state = engine.init(spec, keys, params)
    lengths = jnp.full((spec.segments_per_call,), 5, jnp.int32)
    first, _ = engine.advance(
        spec, state, engine.Batch(x, y, _hyper([{"lr": 0.1, "update_noise": 0.01}] * 2)), lengths
    )
    compiled = engine.advance._cache_size()
    second, _ = engine.advance(
        spec,
        state,
        engine.Batch(x, y, _hyper([{"lr": 0.2, "update_noise": 0.05}] * 2)),
        lengths + 3,
    )
    assert engine.advance._cache_size() == compiled
    assert not np.allclose(first.params["W1"], second.params["W1"])
    assert int(second.step) == 8 * spec.segments_per_call


def test_divergence_is_flagged_per_run_and_the_others_continue():
    spec = engine.EngineSpec(learners.LearnerSpec("gd"))
    x, y, params, keys = _problems([3, 4, 5])
    hp = _hyper([{"lr": 0.1}, {"lr": 50.0}, {"lr": 0.1}])
    sched = engine.schedule(300, dense_until=10, per_decade=10, snapshots=2)
    state, _, rec = _run(spec, x, y, params, keys, hp, sched)
    status = np.asarray(state.status)
    assert status.tolist() == [engine.OK, engine.DIVERGED, engine.OK]
    assert 0 <= int(state.stopped_at[1]) < 300
    assert np.asarray(state.stopped_at)[[0, 2]].tolist() == [-1, -1]
    assert rec["loss"][-1, 0] < rec["loss"][0, 0]  # the healthy runs kept learning
    assert rec["status"][-1, 1] == engine.DIVERGED


def test_all_units_dead_is_flagged():
    spec = engine.EngineSpec(learners.LearnerSpec("gd"))
    x, y, params, keys = _problems([6, 7])
    # Kill every unit of run 1: biases far below any pre-activation.
    params["b1"] = params["b1"].at[1].set(-1e3)
    sched = engine.schedule(20, dense_until=5, per_decade=5, snapshots=2)
    state, _, rec = _run(spec, x, y, params, keys, _hyper([{"lr": 0.1}] * 2), sched)
    assert np.asarray(state.status).tolist() == [engine.OK, engine.DEAD]
    assert rec["active_units_fraction"][0, 1] == 0.0


def test_same_seed_same_records_and_chunking_does_not_matter():
    spec = engine.EngineSpec(learners.LearnerSpec("gd", update_noise=True), segments_per_call=4)
    x, y, params, keys = _problems([8])
    hp = _hyper([{"lr": 0.1, "update_noise": 0.02}])
    sched = engine.schedule(500, dense_until=20, per_decade=8, snapshots=4)
    a_state, _, a = _run(spec, x, y, params, keys, hp, sched)
    _, _, b = _run(spec, x, y, params, keys, hp, sched)
    np.testing.assert_array_equal(a["loss"], b["loss"])
    # A different cut of the same steps into calls gives the same trajectory.
    state = engine.init(spec, keys, params)
    batch = engine.Batch(x, y, hp)
    for n in (1, 99, 400):
        state, _ = engine.advance(spec, state, batch, jnp.asarray([n, 0, 0, 0], jnp.int32))
    np.testing.assert_allclose(state.params["W1"], a_state.params["W1"], rtol=1e-6, atol=1e-7)


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
