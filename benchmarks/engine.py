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


class Case:
    """One compiled batch, timed per call."""

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
        self._ready(self._advance(self.spec, self.state, self.batch, self.lengths))  # compile
        self.best = float("inf")
        self.best_wall = float("inf")
        self.platform = jax.devices()[0].platform

    def time_once(self) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        self._ready(self._advance(self.spec, self.state, self.batch, self.lengths))
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


def _pair(name, preset, seeds, steps, repeats, shapes=None, dist=None):
    """Time the noisy and the noise-free variant of one case, alternating."""
    noisy = Case(_members(preset, seeds, shapes=shapes, dist=dist), steps)
    clean = Case(_members(preset, seeds, ["learner.update_noise=0"], shapes=shapes), steps)
    for _ in range(repeats):
        noisy.time_once()
        clean.time_once()
    ratio = noisy.us_per_run_step / clean.us_per_run_step
    shape = "×".join(str(v) for v in noisy.shape)
    print(
        f"{name:10s} {noisy.runs:4d} {shape:>10s} {noisy.us_per_run_step:10.2f} "
        f"{clean.us_per_run_step:10.2f} {ratio:7.2f}   wall {noisy.wall_us_per_run_step:.2f} / "
        f"{clean.wall_us_per_run_step:.2f}",
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
        f"{'ratio':>7s}   (µs per run-step; shape = samples×d_in×d_out)"
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
