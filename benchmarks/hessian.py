"""Wall-clock seconds of the Hessian spectrum for the paper's two network sizes.

Run from the repository root::

    python benchmarks/hessian.py            # (a), (b), (d) and the dense reference for (a)
    python benchmarks/hessian.py --full     # adds (c): Fig. 2 network, all units active

(a) sweep member, 20 → 100 → 10 with 10 samples (P = 3,100), exact spectrum with about all
    units active and after sparsification (10 % of units active); for comparison the
    dense route: building the 3,100 × 3,100 matrix with ``jax.hessian`` and solving it
    with the same symmetric solver (timed separately);
(b) Fig. 2 network, 19 → 500 → 17 with 150 samples (P = 18,500), 30 % of units active, exact;
(c) the same with all units active, exact (slow: minutes);
(d) Gauss–Newton spectrum of the Fig. 2 network, all units active.

Each figure is the best of ``--repeat`` runs (default 3) after one untimed run; (c) is
one run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from repdrift.metrics import (
    gauss_newton_eigenvalues,
    hessian_eigenvalues,
    hessian_matrix,
    hessian_summary,
)


def _problem(
    seed: int, samples: int, d_in: int, hidden: int, d_out: int, active: float
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """He-initialised network; a fraction ``1 − active`` of units silenced by a negative bias."""
    rng = np.random.default_rng(seed)
    params = {
        "W1": rng.standard_normal((hidden, d_in)) * np.sqrt(2.0 / d_in),
        "b1": np.abs(rng.standard_normal(hidden)) * np.sqrt(2.0 / d_in) + 0.5,
        "W2": rng.standard_normal((d_out, hidden)) * np.sqrt(2.0 / hidden),
    }
    n_dead = hidden - round(active * hidden)
    params["b1"][:n_dead] = -1e3
    inputs = rng.standard_normal((samples, d_in))
    targets = rng.standard_normal((samples, d_out))
    return params, inputs, targets


def _best_of(
    fn: Callable[[], np.ndarray], repeat: int, *, warmup: bool = True
) -> tuple[float, np.ndarray]:
    """Best wall-clock time of ``repeat`` calls, after one untimed call if ``warmup``."""
    if warmup:
        fn()
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _report(label: str, seconds: float, eigenvalues: np.ndarray) -> None:
    s = hessian_summary(eigenvalues)
    print(
        f"{label:<58s} {seconds:8.2f} s   P={s.n_params:6d}  nonzero={s.n_nonzero:6d}  "
        f"max={s.max:.3g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also (c): Fig. 2, all active")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-dense", action="store_true", help="skip the dense reference")
    args = parser.parse_args()

    for active in (1.0, 0.1):
        p, x, y = _problem(0, 10, 20, 100, 10, active)
        sec, ev = _best_of(lambda p=p, x=x, y=y: hessian_eigenvalues(p, x, y), args.repeat)
        _report(f"(a) sweep 20-100-10, {active:.0%} active, exact", sec, ev)
    if not args.no_dense:
        p, x, y = _problem(0, 10, 20, 100, 10, 1.0)
        sec_build, dense = _best_of(lambda: hessian_matrix(p, x, y), args.repeat)
        sec_solve, ev = _best_of(lambda: np.linalg.eigvalsh(dense)[::-1], args.repeat)
        _report("(a) sweep 20-100-10, 100% active, dense jax.hessian", sec_build, ev)
        _report("(a) sweep 20-100-10, 100% active, dense eigvalsh", sec_solve, ev)

    p, x, y = _problem(1, 150, 19, 500, 17, 0.3)
    sec, ev = _best_of(lambda: hessian_eigenvalues(p, x, y), args.repeat)
    _report("(b) Fig. 2 19-500-17, 30% active, exact", sec, ev)

    if args.full:
        p, x, y = _problem(1, 150, 19, 500, 17, 1.0)
        sec, ev = _best_of(lambda: hessian_eigenvalues(p, x, y), 1, warmup=False)
        _report("(c) Fig. 2 19-500-17, 100% active, exact", sec, ev)

    p, x, _ = _problem(1, 150, 19, 500, 17, 1.0)
    sec, ev = _best_of(lambda: gauss_newton_eigenvalues(p, x), args.repeat)
    _report("(d) Fig. 2 19-500-17, 100% active, Gauss-Newton", sec, ev)


if __name__ == "__main__":
    main()
