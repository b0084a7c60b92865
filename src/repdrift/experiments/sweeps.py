"""The sweeps behind Figs. 4, 5B, S1, S2 and Table 1, at each scale.

``paper`` runs the shipped sweep presets ``table2`` (the published mix: 1,151 runs of
10^6–10^7 steps) and ``fig4b`` (118 runs of one shape, σ_u log-spaced over 0.01–0.1,
10^7 steps). ``quick`` runs the spec below for ``table2`` and the shipped preset
``fig4b-quick`` for ``fig4b``, sized so that ``repdrift reproduce all`` finishes within 45
minutes on a 2-core CPU; ``smoke`` a few runs of a few thousand steps.

What ``quick`` changes, and why the effects survive:

* **Fewer, shorter runs.** ``table2``: 24 runs of GD with update noise (5·10^5 steps),
  24 of GD with label noise, 12 of Adam, 8 of SED and 6 of noise-free GD (the control;
  2·10^5 steps each) over the paper's tasks and shapes (d_in, d_out 5–29, 5–14 samples)
  and both readout scales. ``fig4b``: the preset ``fig4b-quick``, the published 118 runs
  (the shape 20 → 100 → 5, 5 samples, readout sd √(2/N), lr 0.1; random, smoothed and ring
  tasks) at 10^6 steps instead of 10^7.
* **Not changed: the data.** Like the presets, GD and Adam train on inputs and targets in
  [0, 1] (``task.scaling = "unit"``) and SED on [−1, 1], as the published runs did.
* **A narrower band of drift speeds.** Drift along the zero-loss manifold goes as η²σ²
  per step (update noise; label noise: η²s²), the loss floor as ησ². The paper drew
  lr from 0.05–0.15 and σ_u from 0.01–0.1 (s from 0.1–1), a 100-fold spread of η²σ²
  that 10^7 steps accommodate. In 5·10^5 steps the slow end would not sparsify and the
  fast end (σ_u ≥ 0.1, or lr ≥ 0.2) kills the network (measured: units silent, loss ≈
  var y). Quick draws lr from 0.08–0.12, σ_u log-uniformly from 0.03–0.06 and s from
  0.7–1.4 (uniform (U − ½)·s, as the original drew it): the middle of the paper's ranges.
* **Adam** runs at 5 × the paper's learning rate (2.5–7.5·10^-3 instead of
  0.5–1.5·10^-3); its sparsification rate grows about linearly with it (measured at
  10^-3, 3·10^-3, 10^-2: 0.9, 0.24, 0.10 of the units left after 2·10^5 steps).
* **SED** keeps the paper's settings (η 0.9–1.0, perturbation variance 0.01 / rows). It
  cannot be sped up: its effective learning rate is η·σ_δ² per coordinate, and runs with
  η·σ_δ² ≥ 0.02 diverged. Its published sparsification rate is 10^-6.8 per step, so at
  quick scale it has barely converged and has not sparsified (claim C6 says so).
* **fig4b**: σ_u log-spaced over 0.025–0.075 (the published runs span 0.01–0.091; below
  0.025 the fall takes more than 10^6 steps at lr 0.1, above 0.075 most runs lose the
  task). All 118 runs, not a few: the exponent of a power law fitted over a threefold
  range of σ needs them (16 runs of two tasks gave σ^1.49, the 118 give σ^2.11, the
  published σ^2.07). On the [0, 1] data of the published runs drift is about 1.7 × as
  fast as on [−1, 1] (measured at 10^7 steps, docs/reproduce.md), so the ``table2`` σ
  range is the one once tuned on [−1, 1] (0.04–0.08) scaled by 1/√1.7.
* **The Hessian.** ``fig4b`` records the exact spectrum (the fraction of non-zero
  eigenvalues of claim C8 needs the residual term). ``table2`` records the Gauss–Newton
  spectrum, which is 10–100 × cheaper on the larger shapes: for ReLU its trace equals
  the Hessian's (the residual term has no diagonal) and its largest eigenvalue agrees
  near zero loss, but its count of non-zero eigenvalues is the rank of the Jacobian, at
  most samples × d_out, so S1/S2's ``eig_nonzero`` are not comparable with the published
  ones at quick scale.
"""

from __future__ import annotations

import copy
from typing import Any

from repdrift.experiments.jobs import SweepJob
from repdrift.experiments.settings import Settings
from repdrift.experiments.workspace import ReproduceError

TABLE2 = "table2"
FIG4B = "fig4b"
#: The sweep preset of ``fig4b`` at quick scale.
FIG4B_QUICK = "fig4b-quick"
#: Runs per batch of the quick and smoke sweeps: small batches of one rule and noise keep
#: both cores busy to the end (the sweep's default, 32, suits a GPU).
LOCAL_BATCH = 8

_SHAPES = {
    "samples": {"integers": [5, 14]},
    "d_in": {"integers": [5, 29]},
    "d_out": {"integers": [5, 29]},
}
_AUTO = {"samples": {"integers": [5, 14]}, "d_in": {"integers": [5, 29]}}
_RING = {
    "samples": {"integers": [5, 14]},
    "view_size": {"integers": [5, 29]},
    "step": 120.0,
    "step_spread": 1.0,
}


def _tasks(scaling: str) -> list[dict[str, Any]]:
    """The tasks of the paper's random sweep, with its ranges of shapes, on data scaled to
    ``scaling``."""
    return [
        {"kind": "random", "scaling": scaling, **_SHAPES},
        {"kind": "smoothed", "scaling": scaling, **_SHAPES},
        {"kind": "ring", "scaling": scaling, **_RING},
        {"kind": "random_autoencoder", "scaling": scaling, **_AUTO},
        {"kind": "smoothed_autoencoder", "scaling": scaling, **_AUTO},
    ]


#: The tasks of the published 10^7-step GD and Adam runs: data in [0, 1].
TASKS = _tasks("unit")
#: The tasks of the published SED runs: data in [-1, 1] (docs/reproduce.md, C9).
SED_TASKS = _tasks("symmetric")


def _part(
    name: str,
    n: int,
    learner: dict[str, Any],
    *,
    steps: int | None = None,
    noise: dict[str, Any] | None = None,
    tasks: list[dict[str, Any]] | None = None,
):
    """One part of a random mix: ``n`` draws of task, readout and learner."""
    random: dict[str, Any] = {
        "n": n,
        "task": {"choice": TASKS if tasks is None else tasks},
        "network.readout": {"choice": ["lazy", "rich"]},
        "learner": learner,
    }
    if noise is not None:
        random["noise"] = noise
    part: dict[str, Any] = {"name": name, "random": random}
    if steps is not None:
        part["base"] = {"run.steps": steps}
    return part


def _mix(
    description: str, seed: int, steps: int, parts: list[dict[str, Any]], record: dict[str, Any]
) -> dict[str, Any]:
    return {
        "description": description,
        "seed": seed,
        "base": {
            "task": {"kind": "random"},
            "network": {"hidden": 100},
            "learner": {"label_noise_dist": "uniform"},
            "record": record,
            "run": {"steps": steps, "checkpoint_every_s": 60.0},
        },
        "parts": parts,
    }


_GD = {"kind": "gd", "lr": {"uniform": [0.08, 0.12]}}

TABLE2_QUICK: dict[str, Any] = _mix(
    "repdrift reproduce, quick scale: the paper's random mix (Table 2) with fewer, shorter "
    "runs and faster drift (see repdrift.experiments.sweeps).",
    2024,
    200_000,
    [
        _part(
            "gd-update",
            24,
            _GD,
            steps=500_000,
            noise={"kind": "update", "update": {"log_uniform": [0.03, 0.06]}},
        ),
        _part("gd-label", 24, _GD, noise={"kind": "label", "label": {"log_uniform": [0.7, 1.4]}}),
        _part("adam", 12, {"kind": "adam", "lr": {"uniform": [0.0025, 0.0075]}}),
        _part("sed", 8, {"kind": "sed", "lr": {"uniform": [0.9, 1.0]}}, tasks=SED_TASKS),
        _part("noise-free", 6, {**_GD, "update_noise": 0.0, "label_noise": 0.0}),
    ],
    {
        "dense_until": 100,
        "per_decade": 30,
        "snapshots": 10,
        "linear_snapshots": 20,
        "hessian": "gauss_newton",
    },
)

#: ``smoke``: a handful of tiny runs of each group, seconds in all.
TABLE2_SMOKE: dict[str, Any] = _mix(
    "repdrift reproduce, smoke scale: a few tiny runs of each group (the machinery only).",
    7,
    2_000,
    [
        _part("gd-update", 3, {"kind": "gd", "lr": 0.1}, noise={"kind": "update", "update": 0.1}),
        _part("gd-label", 3, {"kind": "gd", "lr": 0.1}, noise={"kind": "label", "label": 1.0}),
        _part("adam", 2, {"kind": "adam", "lr": 0.01}),
        _part("sed", 2, {"kind": "sed", "lr": 0.95}, tasks=SED_TASKS),
        _part("noise-free", 2, {"kind": "gd", "lr": 0.1}),
    ],
    {
        "dense_until": 50,
        "per_decade": 20,
        "snapshots": 4,
        "linear_snapshots": 6,
        "hessian": "gauss_newton",
    },
)


_FIG4B_SHAPE = {"scaling": "unit", "samples": 5, "d_in": 20, "d_out": 5}

#: Four tiny runs of the Fig. 4B shape (quick and paper scale run sweep presets).
FIG4B_SMOKE: dict[str, Any] = {
    "description": "repdrift reproduce, smoke scale: four tiny runs of the Fig. 4B shape.",
    "seed": 4,
    "base": {
        "task": {"kind": "random", **_FIG4B_SHAPE},
        "network": {"hidden": 100, "readout": "lazy"},
        "learner": {"kind": "gd", "lr": 0.1},
        "record": {
            "dense_until": 100,
            "per_decade": 30,
            "snapshots": 4,
            "linear_snapshots": 6,
            "hessian": "exact",
        },
        "run": {"steps": 3_000, "checkpoint_every_s": 60.0},
    },
    "grid": {
        "task": [{"kind": "random", **_FIG4B_SHAPE}],
        "learner.update_noise": {"geomspace": [0.05, 0.2, 4]},
    },
}


def _preset_job(name: str, figure: str) -> SweepJob:
    from repdrift.sweep import preset_names

    if name not in preset_names():
        raise ReproduceError(
            f"--scale paper needs the sweep preset {name!r}, which this repdrift does not ship "
            f"(it has: {', '.join(preset_names())})"
        )
    return SweepJob(name, figure, preset=name)


def table2_job(settings: Settings, figure: str) -> SweepJob:
    """The Table-2 mix (Figs. 4A, S1, S2, Table 1)."""
    if settings.scale == "paper":
        return _preset_job(TABLE2, figure)
    spec = TABLE2_QUICK if settings.scale == "quick" else TABLE2_SMOKE
    return SweepJob(TABLE2, figure, spec=copy.deepcopy(spec), batch_size=LOCAL_BATCH)


def fig4b_job(settings: Settings, figure: str) -> SweepJob:
    """GD with update noise only, one shape (Figs. 4B, 5B)."""
    if settings.scale == "paper":
        return _preset_job(FIG4B, figure)
    if settings.scale == "quick":
        # batches of the sweep's default size: measured so (docs/sweeps.md)
        return SweepJob(FIG4B, figure, preset=FIG4B_QUICK)
    return SweepJob(FIG4B, figure, spec=copy.deepcopy(FIG4B_SMOKE), batch_size=LOCAL_BATCH)
