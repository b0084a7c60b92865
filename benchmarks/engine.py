"""Engine speed: microseconds per run-step of the compiled training loop, and what noise costs.

    python benchmarks/engine.py [--cores 1] [--scale S] [--repeats R] [--dist sign]
                                [--runs N] [--only batched single corridor padded]

Every case is built from the shipped presets through :func:`repdrift.simulation.build`, as a
simulation builds it, padded and stacked as :func:`repdrift.simulation.simulate_batch` does,
and timed through :func:`repdrift.engine.advance` (the whole loop: noise, gradient, update,
divergence checks, a clean measurement every ``steps / 16`` steps), with and without update
noise in the same process. The two timings of a pair alternate, so their ratio holds on a
loaded machine:

  batched   the sweep member (``sweep-member``: random task, 10 samples, 20 → 100 → 10,
            GD, lr 0.1, σ_u = 0.03) in a vmapped batch of 64 seeds;
  single    the same member alone;
  corridor  the Fig. 2 run (``fig2``: 150 samples, 19 → 500 → 17, σ_u = 0.0139, readout
            2/N, inputs and targets in [0, 1]) alone;
  padded    64 members with Table 2's shapes (samples 5..14, d_in and d_out 5..29, drawn
            with a fixed seed), padded to common sizes in one batch; the last line compares
            its cost per *real* parameter-step with the unpadded batch's.

Beside each pair, *bare* is the floor of its shapes: a full-batch gradient step of the same
network on arrays of the same (padded) shapes written directly in JAX (``jax.grad`` of the
mean squared error in a ``fori_loop``, vmapped over the runs; no noise, no checks, no
measurements), timed alternately with the pair; *clean/bare* is how far the engine's
noise-free step is from it.

The headline figure is the CPU time of the process per run-step: with ``--cores 1`` it is
what the one core spends, whatever else runs on the machine (the wall-clock time is shown
beside it). On a GPU the headline is the wall-clock time; use ``--runs`` to give it a
batch large enough to fill it (e.g. ``--runs 4096``; past 256 runs the built members repeat,
which changes the work of no step). Compilation is excluded (one warm-up
call); the best of R repeats is shown.
``--dist sign`` times the ±σ sign noise instead of the Gaussian. XLA options are taken from
``XLA_FLAGS`` (printed when set), e.g. ``--xla_cpu_prefer_vector_width=512``.
The original code (PyTorch, float64, a Python loop) needs ~700 µs per step for the sweep
member and ~2,200 µs for the corridor on the same 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from repdrift.cores import use_cores

#: Members built at most per case; a larger batch repeats them (below).
DISTINCT = 256


def _members(preset: str, seeds, overrides=(), shapes=None, dist: str | None = None):
    """The runs of a case, built as a simulation builds them. Past :data:`DISTINCT` runs the
    built members repeat cyclically: the engine's work depends on the shapes and the number
    of runs, not on the numbers in the arrays, and building a member costs ~4 ms on a CPU
    and ~20 ms on a GPU host (its task drawn there, op by op), minutes for 2 × 4,096."""
    from repdrift import simulation
    from repdrift.config import load_config

    seeds = list(seeds)
    members = []
    for i, seed in enumerate(seeds[:DISTINCT]):
        extra = list(overrides)
        if shapes is not None:
            s, d_in, d_out = shapes[i]
            extra += [f"task.samples={s}", f"task.d_in={d_in}", f"task.d_out={d_out}"]
        if dist is not None:
            extra.append(f"learner.update_noise_dist={dist}")
        members.append(simulation.build(load_config(preset=preset, overrides=extra, seed=seed)))
    return [members[i % len(members)] for i in range(len(seeds))]


def _batch(members):
    """Members stacked (padded to common shapes) into the engine's spec, state and batch."""
    from repdrift import engine
    from repdrift.models import feedforward

    shapes = np.array([feedforward.shape_of(m.data) for m in members])
    shape = tuple(int(v) for v in shapes.max(axis=0))
    _, d_in, d_out = shape
    data = engine.stack([feedforward.pad_data(m.data, shape) for m in members])
    hyper = engine.stack([m.hyper for m in members])
    states = engine.stack([feedforward.pad_state(m.initial, d_in, d_out) for m in members])
    spec = engine.EngineSpec(members[0].model)
    return spec, engine.init(states), engine.Batch(data, hyper), shape


def _real_parameters(members) -> int:
    from repdrift.models import feedforward

    total = 0
    for m in members:
        _, d_in, d_out = feedforward.shape_of(m.data)
        hidden = m.model.hidden
        total += hidden * (d_in + 1 + d_out)
    return total


class _Timed:
    """A compiled call (``_call``), timed: the best CPU and wall-clock time of its calls."""

    best = best_wall = float("inf")
    runs = steps = 1
    platform = "cpu"

    def _call(self):
        raise NotImplementedError

    def time_once(self) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        self._ready(self._call())
        self.best = min(self.best, time.process_time() - c0)
        self.best_wall = min(self.best_wall, time.perf_counter() - t0)

    @property
    def us_per_run_step(self) -> float:
        """CPU time of the process per run-step (what one core spends on it); on an
        accelerator, the wall-clock time."""
        best = self.best if self.platform == "cpu" else self.best_wall
        return best / (self.steps * self.runs) * 1e6

    @property
    def wall_us_per_run_step(self) -> float:
        return self.best_wall / (self.steps * self.runs) * 1e6


class Case(_Timed):
    """One compiled batch of the engine, timed per call."""

    def __init__(self, members, steps: int):
        import jax
        import jax.numpy as jnp

        from repdrift import engine

        self.spec, self.state, self.batch, self.shape = _batch(members)
        self.runs = len(members)
        k = self.spec.segments_per_call
        self.lengths = jnp.full((k,), max(1, steps // k), jnp.int32)
        self.steps = int(self.lengths.sum())
        self._advance = engine.advance
        self._ready = jax.block_until_ready
        self._ready(self._call())  # compile
        self.platform = jax.devices()[0].platform

    def _call(self):
        return self._advance(self.spec, self.state, self.batch, self.lengths)


class Bare(_Timed):
    """The floor of a case: a bare full-batch gradient step of the same network on arrays
    of the same (padded) shapes, written directly in JAX — ``h = relu(X W1ᵀ + b1)``,
    ``y = h W2ᵀ``, ``jax.grad`` of the mean squared error, ``W ← W − η ∇`` — in a
    ``fori_loop``, vmapped over the runs: no noise, no divergence checks, no measurements.
    What XLA makes of the arithmetic alone; the engine's noise-free step is compared with it."""

    def __init__(self, runs: int, shape: tuple[int, int, int], hidden: int, steps: int):
        import jax
        import jax.numpy as jnp

        samples, d_in, d_out = shape
        keys = jax.random.split(jax.random.PRNGKey(0), 4)
        x = jax.random.uniform(keys[0], (runs, samples, d_in))
        y = jax.random.uniform(keys[1], (runs, samples, d_out))
        params = (
            jax.random.normal(keys[2], (runs, hidden, d_in)) / jnp.sqrt(d_in),
            jnp.zeros((runs, hidden)),
            jax.random.normal(keys[3], (runs, d_out, hidden)) * jnp.sqrt(2.0 / hidden),
        )

        def loss(p, x, y):
            w1, b1, w2 = p
            h = jax.nn.relu(x @ w1.T + b1)
            return jnp.mean((h @ w2.T - y) ** 2)

        def train(p, x, y):
            def step(_, p):
                return jax.tree.map(lambda a, g: a - 0.1 * g, p, jax.grad(loss)(p, x, y))

            return jax.lax.fori_loop(0, steps, step, p)

        self._run = jax.jit(jax.vmap(train))
        self._args = (params, x, y)
        self._ready = jax.block_until_ready
        self._ready(self._run(*self._args))  # compile
        self.runs, self.steps = runs, steps
        self.platform = jax.devices()[0].platform

    def _call(self):
        return self._run(*self._args)


def _pair(name, preset, seeds, steps, repeats, shapes=None, dist=None):
    """Time the noisy and the noise-free variant of one case and its bare floor, alternating."""
    noisy = Case(_members(preset, seeds, shapes=shapes, dist=dist), steps)
    members = _members(preset, seeds, ["learner.update_noise=0"], shapes=shapes)
    clean = Case(members, steps)
    bare = Bare(clean.runs, clean.shape, members[0].model.hidden, clean.steps)
    for _ in range(repeats):
        noisy.time_once()
        clean.time_once()
        bare.time_once()
    ratio = noisy.us_per_run_step / clean.us_per_run_step
    shape = "×".join(str(v) for v in noisy.shape)
    print(
        f"{name:10s} {noisy.runs:4d} {shape:>10s} {noisy.us_per_run_step:10.2f} "
        f"{clean.us_per_run_step:10.2f} {ratio:7.2f} {bare.us_per_run_step:9.2f} "
        f"{clean.us_per_run_step / bare.us_per_run_step:6.2f}   "
        f"wall {noisy.wall_us_per_run_step:.2f} / {clean.wall_us_per_run_step:.2f}",
        flush=True,
    )
    return noisy, clean


def table2_shapes(runs: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """Shapes ``(samples, d_in, d_out)`` of Table 2's randomized sweep (fixed seed)."""
    rng = np.random.default_rng(seed)
    return [
        (int(rng.integers(5, 15)), int(rng.integers(5, 30)), int(rng.integers(5, 30)))
        for _ in range(runs)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the steps per timed call"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--cores",
        type=int,
        default=None,
        help="restrict to this many cores (the command line's default is 1); all if omitted",
    )
    parser.add_argument(
        "--dist",
        choices=("gaussian", "sign"),
        default=None,
        help="update-noise distribution (default: the configuration's, Gaussian)",
    )
    parser.add_argument(
        "--only", nargs="*", default=None, help="cases to run (batched single corridor padded)"
    )
    parser.add_argument(
        "--runs", type=int, default=64, help="runs of the batched and padded cases (64)"
    )
    args = parser.parse_args()
    allowed = use_cores(args.cores)
    import jax

    cores = allowed or len(os.sched_getaffinity(0))
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {cores} core(s)")
    flags = os.environ.get("XLA_FLAGS")
    if flags:
        print(f"XLA_FLAGS={flags}")
    print(
        f"{'case':10s} {'runs':>4s} {'shape':>10s} {'noisy µs':>10s} {'clean µs':>10s} "
        f"{'ratio':>7s} {'bare µs':>9s} {'clean/bare':>6s}   "
        "(µs per run-step; shape = samples×d_in×d_out)"
    )
    s = args.scale
    only = set(args.only or ("batched", "single", "corridor", "padded"))
    r = args.repeats
    seeds = range(args.runs)
    batched = None
    if "batched" in only:
        batched = _pair("batched", "sweep-member", seeds, int(800 * s), r, dist=args.dist)
    if "single" in only:
        _pair("single", "sweep-member", [0], int(8000 * s), r, dist=args.dist)
    if "corridor" in only:
        _pair("corridor", "fig2", [0], int(800 * s), r, dist=args.dist)
    if "padded" in only:
        shapes = table2_shapes(args.runs)
        noisy, clean = _pair(
            "padded", "sweep-member", seeds, int(800 * s), r, shapes=shapes, dist=args.dist
        )
        members = _members("sweep-member", seeds, shapes=shapes)
        real = _real_parameters(members)
        padded = noisy.runs * members[0].model.hidden * (noisy.shape[1] + 1 + noisy.shape[2])
        line = (
            f"{'':10s} padded: {real / padded:.0%} of the parameters are real; per real "
            f"parameter-step {noisy.us_per_run_step * noisy.runs / real * 1e3:.2f} ns noisy, "
            f"{clean.us_per_run_step * clean.runs / real * 1e3:.2f} ns clean"
        )
        if batched is not None:
            n = batched[0].runs * members[0].model.hidden * (20 + 1 + 10)
            line += (
                f" (unpadded: {batched[0].us_per_run_step * batched[0].runs / n * 1e3:.2f}"
                f" / {batched[1].us_per_run_step * batched[1].runs / n * 1e3:.2f} ns)"
            )
        print(line)


if __name__ == "__main__":
    main()
