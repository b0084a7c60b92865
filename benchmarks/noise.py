"""The noise generator alone: nanoseconds per draw, and whether XLA vectorized it.

    python benchmarks/noise.py [--cores 1] [--size N] [--seconds S] [--repeats R]

Each case draws ``N`` numbers (default 3,100 × 64: a batch of 64 sweep members' update
noise for one step) and adds them to a float32 array, step after step in a ``fori_loop``
with a new key each step, compiled once, for at least ``S`` seconds a call (default 0.25);
the best of ``R`` alternating repeats is shown, in CPU time of the process per draw (with
``--cores 1``, what the one core spends). It measures XLA's CPU backend, also where a GPU
is present (``JAX_PLATFORMS=cpu`` unless set); ``benchmarks/engine.py`` times the GPU.
*net* subtracts the loop with no draw (``none``), the cost of reading and writing the
array:

  none      the loop's own cost (``y · 0.999 + 1``)
  bits      :func:`repdrift.noise.bits_like`: the keyed integer hash, converted to float
  sign      :func:`repdrift.noise.sign_like` (``--dist sign``): the hash's top bit
  uniform   :func:`repdrift.noise.uniform_like`
  gaussian  :func:`repdrift.noise.normal_like`, the default update noise: the hash and two
            table reads
  jax       ``jax.random.normal`` (threefry words through ``erf_inv``), for comparison

*vector* says how XLA compiled each case's fused loop, read from the LLVM IR it writes with
``--xla_dump_to``: the lanes of the generator's 32-bit integer arithmetic (its multiplies;
for ``jax``, its xors), ``8`` for XLA's default 256-bit vectors, or ``scalar``. The
Gaussian reads two tables at indices that differ per element, which needs vector gather
instructions; LLVM emits them with AVX-512, but with AVX2 only for CPUs it tunes as having
fast gathers (Intel's since Skylake). Elsewhere (an AVX2-only AMD EPYC, Zen 3, is measured
in ``docs/performance.md``) the loop vectorizer reads the tables one element at a time and
computes the hash that feeds those reads one element at a time too: the Gaussian prints
``scalar`` there and costs more than ten times the sign.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

from repdrift.cores import use_cores

CASES = ("none", "bits", "sign", "uniform", "gaussian", "jax")


def _draws():
    import jax
    import jax.numpy as jnp

    from repdrift import noise

    return {
        "none": lambda key, y: jnp.float32(1.0),
        "bits": lambda key, y: noise.bits_like(key, y).astype(jnp.float32),
        "sign": noise.sign_like,
        "uniform": noise.uniform_like,
        "gaussian": noise.normal_like,
        "jax": lambda key, y: jax.random.normal(key, y.shape, y.dtype),
    }


def _loop(name: str, draw):
    import jax
    import jax.numpy as jnp

    def body(i, y_key):
        y, key = y_key
        key = jax.random.fold_in(key, i)
        return y * jnp.float32(0.999) + draw(key, y), key

    def run(key, y, steps):
        return jax.lax.fori_loop(0, steps, body, (y, key))[0]

    run.__name__ = f"noise_bench_{name}"  # names XLA's module, to find its IR
    return jax.jit(run)


def _vector_width(dump: Path, name: str) -> str:
    """Lanes of the case's 32-bit integer multiplies (else xors) in its optimised LLVM IR."""
    texts = [ir.read_text() for ir in dump.glob(f"*noise_bench_{name}*ir-with-opt.ll")]
    for op in ("mul", "xor"):
        widths = sorted(
            {int(w) for t in texts for w in re.findall(rf"= {op}(?: nuw| nsw)* <(\d+) x i32>", t)}
        )
        scalar = any(re.search(rf"= {op}(?: nuw| nsw)* i32 ", t) for t in texts)
        if widths or scalar:
            shown = "/".join(map(str, widths))
            return f"{shown} + scalar" if widths and scalar else shown or "scalar"
    return "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=3100 * 64, help="draws per step")
    parser.add_argument(
        "--seconds", type=float, default=0.25, help="CPU seconds per timed call, at least"
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--cores", type=int, default=1, help="restrict to this many cores (default 1)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="repdrift-noise-ir-") as dump:
        _measure(args, Path(dump))


def _measure(args, dump: Path) -> None:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a CPU benchmark, on a GPU host too
    flags = os.environ.get("XLA_FLAGS", "")
    # read by XLA's CPU backend when it starts (in use_cores): set before
    os.environ["XLA_FLAGS"] = (
        f"{flags} --xla_dump_to={dump} --xla_dump_hlo_module_re=noise_bench_.*"
    ).strip()
    allowed = use_cores(args.cores)
    import jax
    import jax.numpy as jnp

    cores = allowed or len(os.sched_getaffinity(0))
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {cores} core(s)")
    if flags:
        print(f"XLA_FLAGS={flags}")
    key = jax.random.key(0)
    y = jnp.zeros((args.size,), jnp.float32)
    loops = {name: _loop(name, draw) for name, draw in _draws().items()}
    steps = {}
    for name, f in loops.items():
        f(key, y, 1).block_until_ready()  # compile
        start = time.perf_counter()
        f(key, y, 10).block_until_ready()
        took = time.perf_counter() - start
        # long enough calls: CPU time may be counted in ticks of a few ms
        steps[name] = max(10, int(10 * args.seconds / max(took, 1e-6)))
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(args.repeats):
        for name, f in loops.items():
            start = time.process_time()
            f(key, y, steps[name]).block_until_ready()
            best[name] = min(best[name], time.process_time() - start)
    per = {name: best[name] / (steps[name] * args.size) * 1e9 for name in loops}
    print(f"{'case':10s} {'ns/draw':>8s} {'net ns':>7s} {'vector':>11s}   ({args.size:,} draws)")
    for name in CASES:
        net = per[name] - per["none"]
        print(f"{name:10s} {per[name]:8.2f} {net:7.2f} {_vector_width(dump, name):>11s}")


if __name__ == "__main__":
    main()
