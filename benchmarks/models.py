"""Model speed: the similarity-matching network's fixed points, steps and measurements, and the toy.

    python benchmarks/models.py [--repeats R] [--cores C] [--train T] [--only CASE ...]
    python benchmarks/models.py --only preset [--steps S]

Cases (CPU time of the process, best of R repeats, compilation excluded):

  fixed-point  one fixed point of the similarity-matching network (``hebbian-ring``
               preset, N = 100 and 200) on the 200 probe inputs, solved one after another,
               at three stages of training (step 0, 300 and ``--train``): the plain
               dynamics from u = 0 (``solver = "dynamics"``, the method before) against the
               active-set solver (the default), with the dynamics' iterations, the
               active-set solver's linear solves, and the largest difference between the
               two solutions relative to the solution;
  step         one training step of a lone run after ``--train`` steps, as the engine runs
               it (``lax.fori_loop`` in ``vmap``), with both solvers, and the step's
               synaptic noise draws alone (``repdrift.noise``, as the model draws them);
  measure      one ``measure`` (fixed points of all 200 probes, the objective and the
               activity), both solvers;
  batch        a batch of 16 seeds against one run, µs per run-step, both solvers (on a
               CPU the step solves a batch's fixed points run by run:
               ``similarity_matching.step_fixed_point``), and one ``measure`` of the batch
               against one of a run (on a CPU run by run as well);
  toy          the toy model (``toy-manifold``: 1,000 trajectories) for 10⁵ steps through
               the engine (16 segments, a measurement after each);
  preset       ``repdrift simulate --preset hebbian-ring --no-figures`` as a subprocess
               (``--steps``, default the preset's 5,000; Fig. 4C runs 2 × 10⁴), its CPU
               and wall-clock time. Not in the default set.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from repdrift.cores import use_cores


def _best(fn, repeats: int) -> float:
    """Best CPU seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    import jax

    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        jax.block_until_ready(fn())
        best = min(best, time.process_time() - c0)
    return best


def _member(neurons: int, seed: int = 0, overrides=()):
    from repdrift import simulation
    from repdrift.config import load_config

    cfg = load_config(
        preset="hebbian-ring", overrides=[f"model.neurons={neurons}", *overrides], seed=seed
    )
    return simulation.build(cfg)


def _trainer(model, runs: bool = True):
    """``(states, data, hyper, n) -> states`` for stacked runs: the engine's inner loop
    (a ``fori_loop`` of steps that keeps a flagged run frozen), vmapped over runs."""
    import jax
    import jax.numpy as jnp

    def one(state, data, hyper, n):
        def body(_, s):
            new, loss = model.step(s, data, hyper)
            running = jnp.isfinite(loss)
            return jax.tree_util.tree_map(lambda a, b: jnp.where(running, a, b), new, s)

        return jax.lax.fori_loop(0, n, body, state)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None)))


def _stack(items):
    from repdrift import engine

    return engine.stack(list(items))


def _trained(neurons: int, steps: int, seeds=(0,)):
    """Stacked members' ``(model, states at 0, 300 and steps, data, hyper)``."""
    import jax

    members = [_member(neurons, s) for s in seeds]
    model = members[0].model
    data = _stack(m.data for m in members)
    hyper = _stack(m.hyper for m in members)
    state = _stack(m.initial for m in members)
    train = _trainer(model)
    stages = {0: state}
    done = 0
    for target in sorted({min(300, steps), steps}):
        state = jax.block_until_ready(train(state, data, hyper, target - done))
        stages[target] = state
        done = target
    return model, stages, data, hyper


def _first(tree):
    import jax

    return jax.tree_util.tree_map(lambda a: a[0], tree)


def case_fixed_point(neurons: int, train: int, repeats: int) -> None:
    import jax
    import jax.numpy as jnp

    from repdrift.models import similarity_matching as sm

    model, stages, data, _ = _trained(neurons, train)
    data = _first(data)
    probes = data.inputs[:, data.probe]
    fast = model._solver()
    plain = dataclasses.replace(model, solver="dynamics")._solver()

    def one_by_one(solver):
        @jax.jit
        def run(W, M, b):
            def body(i, acc):
                y, _ = sm.fixed_point(
                    W, M, b, probes[:, i], data.lambda1, data.lambda2, data.alpha, **solver
                )
                return acc + y

            return jax.lax.fori_loop(0, probes.shape[1], body, jnp.zeros(neurons, W.dtype))

        return run

    run_plain, run_fast = one_by_one(plain), one_by_one(fast)
    for step, state in stages.items():
        s = _first(state)
        args = (s.W, s.M, s.b, probes, data.lambda1, data.lambda2, data.alpha)
        old = sm.solve_all(*args, **plain)
        # Each input alone, as the training step solves it (solve_all chains the probes).
        new = jax.jit(
            jax.vmap(partial(sm.solve, s.W, s.M, s.b, **fast), in_axes=(0, None, None, None))
        )(probes.T, data.lambda1, data.lambda2, data.alpha)
        y_old, y_new = np.asarray(old.y, np.float64), np.asarray(new.y, np.float64)
        scale = np.maximum(np.linalg.norm(y_old, axis=1), 1e-12)
        diff = np.max(np.linalg.norm(y_new - y_old, axis=1) / scale)
        active = np.sum(y_new > 0, axis=1)
        t_old = _best(lambda s=s: run_plain(s.W, s.M, s.b), repeats) / probes.shape[1]
        t_new = _best(lambda s=s: run_fast(s.W, s.M, s.b), repeats) / probes.shape[1]
        it_old, solves, it_new = (
            np.asarray(v) for v in (old.iterations, new.solves, new.iterations)
        )
        print(
            f"N={neurons:3d} step {step:5d}  active {active.mean():5.1f} (max {active.max():3d})  "
            f"dynamics {it_old.mean():5.0f} it (max {it_old.max():5d}) {t_old * 1e6:8.1f} µs  |  "
            f"active set {solves.mean():4.1f} solves (max {solves.max():2d}) + "
            f"{it_new.mean():5.1f} it (max {it_new.max():4d}) {t_new * 1e6:7.1f} µs  "
            f"×{t_old / t_new:5.1f}   max rel. diff {diff:.1e}",
            flush=True,
        )


def case_step_measure(neurons: int, train: int, repeats: int, only: set[str]) -> None:
    import jax
    import jax.numpy as jnp

    from repdrift import noise as rnoise

    model, stages, data, hyper = _trained(neurons, train)
    state = stages[train]
    plain = dataclasses.replace(model, solver="dynamics")
    n = 200
    if "step" in only:
        rows = []
        for name, m in (("dynamics", plain), ("active set", model)):
            train_fn = _trainer(m)
            t = _best(lambda f=train_fn: f(state, data, hyper, n), repeats) / n
            rows.append((name, t))
        base = rows[0][1]
        for name, t in rows:
            print(
                f"N={neurons:3d} step  {name:18s} {t * 1e6:8.1f} µs  ×{base / t:5.1f}", flush=True
            )
        # The step's synaptic noise alone: the same keys and draws as SimilarityMatching.step.
        W, M = state.W[0], state.M[0]

        @jax.jit
        def noise(key):
            def body(_, carry):
                key, acc = carry
                key, _, k_w, k_m = rnoise.split(key, 4)
                acc = acc + rnoise.normal_like(k_w, W).sum()
                return key, acc + rnoise.normal_like(k_m, M).sum()

            return jax.lax.fori_loop(0, n, body, (key, jnp.zeros((), W.dtype)))[1]

        t = _best(lambda: noise(jax.random.key(0)), repeats) / n
        print(
            f"N={neurons:3d} step  {'its noise draws':18s} {t * 1e6:8.1f} µs  "
            f"({W.size + M.size} Gaussians)",
            flush=True,
        )
    if "measure" in only:
        base = None
        for name, m in (("dynamics", plain), ("active set", model)):
            measure = jax.jit(jax.vmap(m.measure))
            t = _best(lambda f=measure: f(state, data), repeats)
            base = base or t
            rec = measure(state, data)
            print(
                f"N={neurons:3d} measure {name:16s} {t * 1e3:8.2f} ms  ×{base / t:5.1f}   "
                f"loss {float(rec['loss'][0]):.4f} active {float(rec['active_fraction'][0]):.4f} "
                f"unconverged {float(rec['unconverged_fraction'][0]):.2f}",
                flush=True,
            )


def case_batch(neurons: int, train: int, repeats: int, runs: int = 16) -> None:
    import jax

    seeds = tuple(range(runs))
    model, stages, data, hyper = _trained(neurons, train, seeds)
    state = stages[train]
    n = 200
    one = jax.tree_util.tree_map(lambda a: a[:1], (state, data, hyper))
    for name, m in (
        ("dynamics", dataclasses.replace(model, solver="dynamics")),
        ("active set", model),
    ):
        train_fn = _trainer(m)
        t1 = _best(lambda f=train_fn: f(*one, n), repeats) / n
        tb = _best(lambda f=train_fn: f(state, data, hyper, n), repeats) / n
        print(
            f"N={neurons:3d} batch {name:12s} one run {t1 * 1e6:8.1f} µs/step; {runs} runs "
            f"{tb * 1e6:8.1f} µs/step = {tb / runs * 1e6:7.1f} µs per run-step: "
            f"{tb / t1:5.1f} × one run",
            flush=True,
        )
    # The measurement of every record (the probes' fixed points), as the engine runs it:
    # vmapped over the batch.
    measure = jax.jit(jax.vmap(model.measure))
    m1 = _best(lambda: measure(one[0], one[1]), repeats)
    mb = _best(lambda: measure(state, data), repeats)
    print(
        f"N={neurons:3d} batch measure      one run {m1 * 1e3:8.2f} ms; {runs} runs "
        f"{mb * 1e3:8.2f} ms = {mb / runs * 1e3:7.2f} ms per run: {mb / m1:5.1f} × one run",
        flush=True,
    )


def case_toy(repeats: int, steps: int = 100_000) -> None:
    import jax.numpy as jnp

    from repdrift import engine, simulation
    from repdrift.config import load_config

    member = simulation.build(load_config(preset="toy-manifold"))
    spec = engine.EngineSpec(member.model)
    state = engine.init(engine.stack([member.initial]))
    batch = engine.Batch(engine.stack([member.data]), engine.stack([member.hyper]))
    k = spec.segments_per_call
    lengths = jnp.full((k,), steps // k, jnp.int32)
    t = _best(lambda: engine.advance(spec, state, batch, lengths), repeats)
    particles = member.model.particles
    print(
        f"toy   {particles} trajectories × {int(lengths.sum())} steps: {t:6.2f} s "
        f"({t / int(lengths.sum()) * 1e6:.1f} µs per step of all {particles})",
        flush=True,
    )


def case_preset(steps: int | None, cores: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [
            str(Path(sys.executable).parent / "repdrift"), "simulate", "--preset", "hebbian-ring",
            "--out", str(out), "--no-figures", "--quiet", "--cores", str(cores or 1),
        ]  # fmt: skip
        if steps is not None:
            cmd += ["--steps", str(steps)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    label = steps if steps is not None else "preset's"
    print(f"preset hebbian-ring, {label} steps: {cpu:7.1f} s CPU, {wall:7.1f} s wall", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--cores",
        type=int,
        default=1,
        help="restrict to this many cores (default 1, as the command line)",
    )
    parser.add_argument("--train", type=int, default=3000, help="training steps before timing")
    parser.add_argument("--neurons", type=int, nargs="*", default=[100, 200])
    parser.add_argument("--steps", type=int, default=None, help="steps of the preset case")
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="cases: fixed-point step measure batch toy preset (default all but preset)",
    )
    args = parser.parse_args()
    allowed = use_cores(args.cores)
    import jax

    cores = allowed or len(os.sched_getaffinity(0))
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {cores} core(s)", flush=True)
    only = set(args.only or ("fixed-point", "step", "measure", "batch", "toy"))
    r = args.repeats
    for n in args.neurons:
        if "fixed-point" in only:
            case_fixed_point(n, args.train, r)
        if only & {"step", "measure"}:
            case_step_measure(n, args.train, r, only)
        if "batch" in only:
            case_batch(n, args.train, r)
    if "toy" in only:
        case_toy(r)
    if "preset" in only:
        case_preset(args.steps, args.cores)


if __name__ == "__main__":
    main()
