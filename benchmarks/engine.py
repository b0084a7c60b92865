"""Engine speed: microseconds per run-step of the compiled training loop.

    python benchmarks/engine.py [--steps N] [--repeats R] [--cores C]

Cases (whole loop: noise, gradient, update, divergence check; measurements excluded):
  (a) a typical sweep member — random task, 10 samples, 20 → 100 → 10, GD with update
      noise σ_u = 0.03 — alone and in a vmapped batch of 64;
  (b) the Fig. 2 corridor — 150 samples, 19 → 500 → 17, GD with σ_u = 0.0139 — alone.
Also (c) the sweep member without noise, to show what the random numbers cost.
For comparison, the original code needs ~700 µs (a) and ~2,200 µs (b) per step on a
2-core CPU. Compilation is excluded (one warm-up call); the best of R repeats is shown.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp

from repdrift import engine, learners, network, tasks
from repdrift.cores import use_cores


def _case(task_params, hidden, runs, sigma, lr=0.1):
    keys = jax.random.split(jax.random.key(0), runs)
    data = [tasks.make(k, task_params) for k in keys]
    x = jnp.stack([d.inputs for d in data])
    y = jnp.stack([d.targets for d in data])
    params = jax.vmap(lambda k: network.init(k, x.shape[-1], hidden, y.shape[-1]))(keys)
    spec = engine.EngineSpec(learners.LearnerSpec("gd", update_noise=sigma > 0))
    hp = jax.vmap(lambda _: learners.hyper(lr, sigma))(jnp.arange(runs))
    state = engine.init(spec, jax.random.split(jax.random.key(1), runs), params)
    return spec, state, engine.Batch(x, y, hp)


def time_case(name, task_params, hidden, runs, sigma, steps, repeats):
    spec, state, batch = _case(task_params, hidden, runs, sigma)
    k = spec.segments_per_call
    lengths = jnp.full((k,), max(1, steps // k), jnp.int32)
    out = engine.advance(spec, state, batch, lengths)  # compile
    jax.block_until_ready(out)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = engine.advance(spec, state, batch, lengths)
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - t0)
    per = best / (int(lengths.sum()) * runs) * 1e6
    print(f"{name:48s} {per:9.1f} µs/run-step   ({runs} run{'s' * (runs > 1)})")
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4000, help="steps per timed call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cores",
        type=int,
        default=None,
        help="restrict to this many cores (the command line's default is 1); all if omitted",
    )
    args = parser.parse_args()
    allowed = use_cores(args.cores)
    cores = allowed or len(os.sched_getaffinity(0))
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {cores} core(s)")
    member = tasks.RandomParams(samples=10, d_in=20, d_out=10)
    corridor = tasks.CorridorParams()
    time_case(
        "(a) sweep member, GD σ_u=0.03, alone", member, 100, 1, 0.03, args.steps, args.repeats
    )
    time_case(
        "(a) sweep member, GD σ_u=0.03, batch of 64",
        member,
        100,
        64,
        0.03,
        args.steps // 8,
        args.repeats,
    )
    time_case(
        "(b) Fig. 2 corridor 19→500→17, σ_u=0.0139, alone",
        corridor,
        500,
        1,
        0.0139,
        args.steps // 2,
        args.repeats,
    )
    time_case(
        "(c) sweep member, noise-free GD, batch of 64",
        member,
        100,
        64,
        0.0,
        args.steps // 8,
        args.repeats,
    )


if __name__ == "__main__":
    main()
