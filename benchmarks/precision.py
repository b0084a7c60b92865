"""What reduced-precision matrix products do to the drift, emulated on a CPU.

Run from the repository root::

    python benchmarks/precision.py [--rule adam] [--runs 45] [--against GPU_RUNS.parquet]

By default JAX lets a GPU compute float32 matrix products in TensorFloat-32: each input is
rounded to a 10-bit mantissa, the sum kept in float32. ``repdrift.precision`` asks for
float32 products everywhere instead. This benchmark shows why, on a CPU: it runs the
``--rule`` runs of ``table2-quick`` (Adam: 45 runs of 20,000 steps) twice in this process,
as shipped and with every product of the network (forward and backward) made as a GPU's
TensorFloat-32 default makes it — both inputs rounded to 10 mantissa bits, to nearest even
— and prints the medians of the summary columns and a paired Wilcoxon test per column.
``--against`` adds a third column from a sweep's ``runs.parquet`` (e.g. the same preset
run on a GPU before the fix), paired by run id. A few minutes on two cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from repdrift.cores import use_cores

COLUMNS = ("loss", "active", "active_units", "eig_sum", "eig_max", "si")


def tf32_products():
    """A drop-in for :func:`repdrift.network.apply` whose products round their inputs to
    TensorFloat-32 (forward and backward), as JAX's default does on a recent NVIDIA GPU."""
    import jax
    import jax.numpy as jnp

    from repdrift import network

    def tf32(x):
        bits = jax.lax.bitcast_convert_type(x, jnp.uint32)
        bits = (bits + jnp.uint32(0xFFF) + ((bits >> 13) & 1)) & jnp.uint32(0xFFFFE000)
        return jax.lax.bitcast_convert_type(bits, jnp.float32)

    @jax.custom_vjp
    def product(a, b):
        return jnp.matmul(tf32(a), tf32(b), precision="highest")

    def forward(a, b):
        return product(a, b), (a, b)

    def backward(saved, g):
        a, b = saved
        return product(g, b.T), product(a.T, g)

    product.defvjp(forward, backward)

    def apply(params, x, act="relu"):
        hidden = network.activation(act)(product(x, params["W1"].T) + params["b1"])
        return product(hidden, params["W2"].T), hidden

    return apply


def run_all(runs, out: Path):
    import pandas as pd

    from repdrift import simulation
    from repdrift.sweep.summary import summarise_run

    rows = []
    for i in range(0, len(runs), 64):
        part = runs[i : i + 64]
        stored = simulation.simulate_batch(
            [r.config for r in part], [out / r.run for r in part], reopen=True
        )
        rows += [{"run": r.run, **summarise_run(s)} for r, s in zip(part, stored, strict=True)]
    return pd.DataFrame(rows).set_index("run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rule", default="adam", help="learning rule of the runs (adam)")
    parser.add_argument("--runs", type=int, default=0, help="at most this many runs (0: all)")
    parser.add_argument("--against", type=Path, default=None, help="a sweep's runs.parquet")
    args = parser.parse_args()
    use_cores(1)
    import jax
    import pandas as pd
    from scipy import stats

    from repdrift import network
    from repdrift.sweep import expand, load_spec

    spec, _ = load_spec(preset="table2-quick")
    runs = [r for r in expand(spec) if r.config.learner.kind == args.rule]
    if args.runs:
        runs = runs[: args.runs]
    if not runs:
        raise SystemExit(f"no {args.rule} runs in table2-quick")
    print(f"{len(runs)} {args.rule} runs of table2-quick, float32 products and TF32 products")
    shipped = network.apply
    with tempfile.TemporaryDirectory(prefix="repdrift-precision-") as tmp:
        full = run_all(runs, Path(tmp) / "float32")
        # The compiled training loop would otherwise be reused, traced with the shipped
        # products.
        jax.clear_caches()
        network.apply = tf32_products()
        try:
            reduced = run_all(runs, Path(tmp) / "tf32")
        finally:
            network.apply = shipped
            jax.clear_caches()
    other = None
    if args.against is not None:
        other = pd.read_parquet(args.against).set_index("run").reindex(full.index)
    head = f"{'column':12s} {'float32':>10s} {'TF32':>10s} {'p (paired)':>11s}"
    print(head + (f" {'--against':>10s} {'p vs TF32':>10s}" if other is not None else ""))
    for column in COLUMNS:
        a = full[column].to_numpy(float)
        b = reduced[column].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b)
        if not ok.any():
            continue
        p = stats.wilcoxon(a[ok], b[ok]).pvalue if ok.sum() >= 6 and np.any(a != b) else 1.0
        line = f"{column:12s} {np.median(a[ok]):10.4g} {np.median(b[ok]):10.4g} {p:11.2g}"
        if other is not None:
            c = other[column].to_numpy(float)
            both = np.isfinite(b) & np.isfinite(c)
            q = stats.wilcoxon(b[both], c[both]).pvalue if both.sum() >= 6 else float("nan")
            line += f" {np.median(c[both]):10.4g} {q:10.2g}"
        print(line)


if __name__ == "__main__":
    main()
