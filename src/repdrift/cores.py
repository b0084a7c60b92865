"""How many CPU cores a process lets XLA use.

The networks of the paper are small: one training step is a few small matrix products
and a few thousand random numbers. XLA's CPU backend splits such work across every core
it sees, and on the 2-core machines we measure on, the hand-offs between threads cost
more than they save: one Fig. 2 step takes ~470 µs on two cores and ~330 µs on one
(``benchmarks/engine.py --cores``). So the ``repdrift`` command runs a simulation on one
core by default (``--cores``), which also leaves the other cores free for other runs.

XLA sizes its thread pool from the cores the process may run on when the backend first
starts, so :func:`use_cores` must run before the first JAX computation.
"""

from __future__ import annotations

import os


def use_cores(n: int | None) -> int | None:
    """Restrict this process to ``n`` of the cores it may run on (``None``: leave as is).

    Returns the number of cores now allowed, or ``None`` where the platform offers no
    affinity control (then nothing changes). Results can differ in the last bits between
    core counts (XLA may split reductions differently); a run and its resumption should
    use the same count, as the command line does by default.
    """
    if n is None or not hasattr(os, "sched_setaffinity"):
        return None
    if n < 1:
        raise ValueError(f"cores must be at least 1, got {n}")
    allowed = sorted(os.sched_getaffinity(0))
    chosen = set(allowed[: min(n, len(allowed))])
    os.sched_setaffinity(0, chosen)
    return len(chosen)
