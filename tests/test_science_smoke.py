"""Science smoke test: noisy GD sparsifies after the loss plateau, noise-free GD does not.

Settings (random mapping, the paper's sweep-member shape): 10 samples, 20 → 100 → 10,
ReLU, full-batch GD with η = 0.5, 25,000 steps, 4 seeds; update noise σ_u = 0.02 against
σ_u = 0 (the control), each set of seeds one batch through ``simulate_batch``. η is five
times the paper's 0.1 so that the drift (∝ η² σ_u²) shows within seconds instead of hours.
"""

import numpy as np

import repdrift
from repdrift import simulation

SEEDS = 4
STEPS = 25_000
PLATEAU_STEP = 1_000


def _batch(tmp_path, sigma):
    configs = [
        repdrift.load_config(
            preset="random",
            overrides=[
                f"learner.update_noise={sigma}",
                "learner.lr=0.5",
                f"run.seed={seed}",
                f"run.steps={STEPS}",
                "record.per_decade=10",
                "record.snapshots=2",
            ],
        )
        for seed in range(SEEDS)
    ]
    outs = [tmp_path / f"s{sigma}-{seed}" for seed in range(SEEDS)]
    runs = simulation.simulate_batch(configs, outs)
    steps = runs[0].metrics["step"].values
    loss = np.stack([r.metrics["loss"].values for r in runs], axis=1)
    units = np.stack([r.metrics["fraction_active_units"].values for r in runs], axis=1)
    assert all(r.status.status == "complete" for r in runs)
    return steps, loss, units


def test_update_noise_sparsifies_after_the_plateau_and_noise_free_gd_does_not(tmp_path):
    for sigma, lower, upper in ((0.02, 0.30, 1.0), (0.0, -0.01, 0.01)):
        steps, loss, units = _batch(tmp_path, sigma)
        late = steps >= STEPS // 2
        # The plateau: the first step at which the loss is within a factor 2 of its late
        # median (far below its initial value); it must come early in the run.
        late_loss = np.median(loss[late], axis=0)
        assert np.all(late_loss < 0.05 * loss[0])
        at_plateau = np.argmax(loss <= 2 * late_loss + 1e-6, axis=0)  # (runs,)
        assert np.all(steps[at_plateau] <= PLATEAU_STEP), steps[at_plateau]
        drop = 1 - units[-1] / units[at_plateau, np.arange(SEEDS)]
        # Noisy GD: the fraction of active units falls by at least 30 % after the plateau;
        # noise-free GD: it stays within 1 % of its value at the plateau.
        assert np.all((drop >= lower) & (drop <= upper)), (sigma, drop)
