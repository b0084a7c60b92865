"""Science smoke test: noisy GD sparsifies after the loss plateau, noise-free GD does not.

Settings (random mapping, the paper's sweep-member shape): 10 samples, 20 → 100 → 10,
ReLU, lazy readout, full-batch GD with η = 0.5, 25,000 steps, 4 seeds; update noise
σ_u = 0.02 against σ_u = 0 (the control), both in one compiled batch. η is five times the
paper's 0.1 so that the drift (∝ η² σ_u²) shows within seconds instead of hours.
"""

import jax
import jax.numpy as jnp
import numpy as np

from repdrift import engine, learners, network, tasks

SEEDS = 4
STEPS = 25_000
PLATEAU_STEP = 1_000


def test_update_noise_sparsifies_after_the_plateau_and_noise_free_gd_does_not():
    keys = jax.random.split(jax.random.key(2024), 2 * SEEDS)
    data = [tasks.make(k, tasks.RandomParams(samples=10, d_in=20, d_out=10)) for k in keys]
    params = jax.vmap(lambda k: network.init(k, 20, 100, 10))(
        jax.random.split(jax.random.key(7), 2 * SEEDS)
    )
    sigma = jnp.array([0.02] * SEEDS + [0.0] * SEEDS)
    hp = jax.vmap(lambda s: learners.hyper(0.5, update_noise=s))(sigma)
    spec = engine.EngineSpec(learners.LearnerSpec("gd", update_noise=True))
    batch = engine.Batch(
        jnp.stack([d.inputs for d in data]), jnp.stack([d.targets for d in data]), hp
    )
    state = engine.init(spec, jax.random.split(jax.random.key(8), 2 * SEEDS), params)
    sched = engine.schedule(STEPS, dense_until=10, per_decade=10, snapshots=2)
    steps, loss, units = [], [], []
    for chunk in engine.iterate(spec, state, batch, sched, seconds_per_call=2.0):
        steps.append(chunk.steps)
        loss.append(chunk.records["loss"])
        units.append(chunk.records["active_units_fraction"])
        status = np.asarray(chunk.state.status)
    steps, loss, units = np.concatenate(steps), np.concatenate(loss), np.concatenate(units)
    assert np.all(status == engine.OK)
    late = steps >= STEPS // 2

    # The plateau: the first step at which the loss is within a factor 2 of its late
    # median (far below its initial value); it must come early in the run.
    late_loss = np.median(loss[late], axis=0)
    assert np.all(late_loss < 0.05 * loss[0])
    at_plateau = np.argmax(loss <= 2 * late_loss + 1e-6, axis=0)  # (runs,)
    assert np.all(steps[at_plateau] <= PLATEAU_STEP), steps[at_plateau]

    noisy, clean = slice(0, SEEDS), slice(SEEDS, 2 * SEEDS)
    runs = np.arange(2 * SEEDS)
    drop = 1 - units[-1] / units[at_plateau, runs]
    # Noisy GD: the fraction of active units falls by at least 30 % after the plateau.
    assert np.all(drop[noisy] >= 0.30), drop
    # Noise-free GD: it stays within 1 % of its value at the plateau.
    assert np.all(np.abs(drop[clean]) <= 0.01), drop
