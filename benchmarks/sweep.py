"""Sweep throughput: ``table2-quick`` as a sweep against the same runs one by one, and ``table2``.

    python benchmarks/sweep.py [--sample 36] [--seed 0] [--only sample project device]
                               [--full [--workers 2] [--keep DIR]] [--blas-threads N]
                               [--batch-size 32] [--device-sample 0] [--device-workers N]
                               [--snapshot-threads T]

Three measurements, each printed with the CPU time (process + children: the headline on a
shared machine), the wall-clock time beside it, and the load of the machine meanwhile (the
1-minute load average, and the cores other processes kept busy, from ``/proc/stat``):

  sample   a seeded random sample of the ``table2-quick`` runs (``--sample`` runs,
           stratified over the preset's 14 parts: at least one of each part, the rest in
           proportion to the parts' sizes), run two ways in this process, on one XLA thread
           (``repdrift.cores.use_cores(1)``, as ``repdrift simulate`` and every sweep worker):

           one by one  each run through :func:`repdrift.simulation.simulate` — the path of
                       ``repdrift simulate`` — after ``jax.clear_caches()``, so that it pays
                       its compilations as a run in its own process does (*cold*), then
                       the same run again into another directory (*warm*: compilation
                       excluded). The compile time JAX reports (tracing, lowering, XLA)
                       is shown per run. The start-up of a fresh process (Python, imports,
                       JAX's backend), which ``repdrift simulate`` run by run also pays, is
                       measured once and shown apart; it is not in the ratio.
           as a sweep  the same runs as one sweep directory, batched as the sweep batches
                       them (:func:`repdrift.sweep.executor.plan_batches`: runs of one
                       learning rule and schedule train together, padded to common
                       shapes, at most 32 per batch), run by
                       :func:`repdrift.sweep.executor.run_sweep` with ``workers=1`` (in this
                       process; summaries and the results table included) — after
                       ``jax.clear_caches()`` (cold), then again into a new directory (warm).

           Throughput is run-steps (the runs' planned steps: a run that diverged or fell
           silent still occupied its batch) per CPU-second; the ratio sweep / one by one is
           the headline, cold (what a user pays) and warm (compilation excluded). The sample
           has fewer runs per batch than the whole preset (whose batches hold 22-32 runs),
           so its sweep figure is a lower bound for the preset's.
  project  the paper-scale ``table2`` preset (789 runs of 10^7 steps, 362 of 10^6): every
           batch of its plan, padded as the sweep pads it and timed through
           :func:`repdrift.engine.advance` for ``--project-steps`` steps (the compiled
           training loop with its measurements; compilation excluded, best of
           ``--repeats``). The engine's work depends on the rule, the noises, the padded
           shape and the number of runs, not on the numbers, so each batch is timed with
           stand-ins — its runs' configurations with a random task of the batch's padded
           shape — once per distinct (rule and schedule, padded shape, runs): drawing
           each of Table 2's task shapes would compile JAX's random functions for it,
           ~2 s a run. Plus the snapshots: each run computes ``len(snapshot_steps)``
           (118 on average) exact Hessian spectra with rate maps and SI, timed (the second
           call; the first, which compiles for the run's shapes, is counted once per run
           with the run's set-up) on ``--project-snapshots`` sampled runs at their initial
           parameters (all units active: an upper bound, sparser networks are cheaper).
           Projected: the CPU time of the whole sweep, and its wall time on ``--workers``
           cores, each worker taking the next batch in plan order as the local executor
           does (one worker per core, each core to itself).
           With ``--batch-size`` the plan is cut into batches of that many runs (a GPU
           wants hundreds). On an accelerator the batches are timed in wall-clock seconds,
           and the projection adds the training on the one device to the snapshots and
           set-up on the host's ``--workers`` cores (overlapped, or one after the other).
  device   (``--only device``) the same runs — every run of ``--preset``, or a stratified
           sample of ``--device-sample`` — as one sweep on JAX's default device (a GPU
           where JAX has one; ``--device-workers`` workers sharing it, each measuring
           its snapshots in ``--snapshot-threads`` threads) and as another on
           the CPU (``JAX_PLATFORMS=cpu``, ``--workers`` workers), both with
           ``--batch-size``, each through ``repdrift sweep resume`` in a subprocess:
           wall and CPU time of each, then ``repdrift sweep compare`` of the two (the same
           phenomena: no test of the statuses or summary columns differs, group by group).
  full     (``--full``) the whole ``table2-quick`` sweep as a user runs it,
           ``repdrift sweep --preset table2-quick --out DIR --workers N --quiet`` in a
           subprocess: wall time, CPU time of all its processes (``RUSAGE_CHILDREN``) and
           the peak resident memory of the sweep — the sum over the driver and its worker
           processes, polled every 0.1 s, as resident set sizes (shared libraries counted in
           every process) and as proportional set sizes (shared pages split between the
           processes: the memory the sweep occupies) — and of its largest process. About
           14 minutes of CPU (847 s, 2026-11-24). With ``project`` also run, the cost of an
           exact Hessian snapshot is measured again on the final parameters of sampled runs
           of this sweep
           (trained for 20,000 steps: less sparse networks than the paper's 10^7 steps).

``--blas-threads N`` sets ``OPENBLAS_NUM_THREADS`` (and the OpenMP and MKL equivalents) for
this process and the sweep's workers before NumPy starts; by default the environment is
left as it is (OpenBLAS then starts one thread per core in every process).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PRESET = "table2-quick"
PAPER = "table2"
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# ------------------------------------------------------------------------ measuring


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _busy_jiffies() -> int | None:
    """Busy CPU time of the whole machine (``/proc/stat``, clock ticks), or ``None``."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...
    return fields[0] + fields[1] + fields[2] + sum(fields[5:8])


class Meter:
    """CPU time of this process and its reaped children, wall time, and the machine's load."""

    def __init__(self) -> None:
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time() + _children_cpu()
        self.busy0 = _busy_jiffies()
        self.load0 = os.getloadavg()[0]

    def stop(self) -> Meter:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() + _children_cpu() - self.cpu0
        busy = _busy_jiffies()
        self.load1 = os.getloadavg()[0]
        self.others = None
        if busy is not None and self.busy0 is not None and self.wall > 0:
            machine = (busy - self.busy0) / os.sysconf("SC_CLK_TCK")
            self.others = max(machine - self.cpu, 0.0) / self.wall
        return self

    @property
    def load(self) -> str:
        text = f"load {self.load0:.1f} → {self.load1:.1f}"
        if self.others is not None:
            text += f", other work kept {self.others:.1f} cores busy"
        return text


class MemoryPoll:
    """Peak resident memory of a process tree, polled in a thread: the sum of the resident
    set sizes over its processes every ``every`` seconds, the sum of their proportional set
    sizes (shared pages split between the processes sharing them) every ten polls, and the
    largest process."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(pid)
        self.every = every
        self.peak_sum = 0
        self.peak_pss = 0
        self.peak_one = 0
        self.most_processes = 0
        self.trace: list[tuple[float, int]] = []  # (seconds, summed RSS) every 100 polls
        self._t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        psutil = self._psutil
        tick = 0
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            sizes, shares = [], []
            for p in procs:
                with contextlib.suppress(psutil.Error):  # a process may end meanwhile
                    sizes.append(p.memory_info().rss)
                    if tick % 10 == 0:
                        shares.append(getattr(p.memory_full_info(), "pss", 0))
            if sizes:
                self.peak_sum = max(self.peak_sum, sum(sizes))
                self.peak_pss = max(self.peak_pss, sum(shares))
                self.peak_one = max(self.peak_one, max(sizes))
                self.most_processes = max(self.most_processes, len(sizes))
                if tick % 100 == 0:
                    self.trace.append((time.perf_counter() - self._t0, sum(sizes)))
            tick += 1
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class CompileClock:
    """Seconds JAX reports spending on compilation (tracing, lowering, XLA), as it goes."""

    EVENTS = ("jaxpr_trace_duration", "jaxpr_to_mlir_module_duration", "backend_compile_duration")

    def __init__(self) -> None:
        import jax.monitoring

        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event: str, duration: float, **_) -> None:
        if event.startswith("/jax/core/compile/") and event.rsplit("/", 1)[-1] in self.EVENTS:
            self.seconds += duration


def _blas_threads() -> str:
    """The BLAS libraries NumPy loaded and their thread counts (threadpoolctl), or the
    environment variables that set them."""
    blas = {k: os.environ[k] for k in BLAS_VARIABLES if k in os.environ}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return str(blas or "threads unset (one per core)")
    import numpy  # noqa: F401  (loads its BLAS)

    pools = [
        f"{p['internal_api']} {p['num_threads']} thread(s)"
        for p in threadpool_info()
        if p.get("user_api") == "blas"
    ]
    return ", ".join(dict.fromkeys(pools)) + (
        f" ({', '.join(f'{k}={v}' for k, v in blas.items())})"
        if blas
        else " (environment unset: one per core)"
    )


def _rate(run_steps: int, seconds: float) -> float:
    return run_steps / seconds if seconds > 0 else float("nan")


def _gb(nbytes: int) -> str:
    return f"{nbytes / 2**30:.2f} GB"


# --------------------------------------------------------------------------- sample


def stratified_sample(runs, size: int, seed: int):
    """``size`` runs drawn without replacement, at least one of each part, the rest in
    proportion to the parts' sizes (largest remainders); in plan order."""
    import numpy as np

    parts: dict[str, list] = {}
    for run in runs:
        parts.setdefault(run.part, []).append(run)
    if size < len(parts):
        raise SystemExit(f"--sample must be at least {len(parts)} (one run of each part)")
    names = list(parts)
    sizes = np.array([len(parts[n]) for n in names], dtype=float)
    extra = size - len(names)
    share = sizes / sizes.sum() * extra
    counts = np.floor(share).astype(int) + 1
    for i in np.argsort(-(share - np.floor(share)))[: size - int(counts.sum())]:
        counts[i] += 1
    counts = np.minimum(counts, sizes.astype(int))
    rng = np.random.default_rng(seed)
    chosen = set()
    for name, k in zip(names, counts, strict=True):
        for i in rng.choice(len(parts[name]), size=int(k), replace=False):
            chosen.add(parts[name][int(i)].run)
    return [r for r in runs if r.run in chosen]


def one_by_one(sample, root: Path, clock: CompileClock):
    """Each run cold (caches cleared) and warm, one per line; returns the total CPU and
    wall seconds, cold and warm, and the seconds JAX reported compiling."""
    import jax

    from repdrift import simulation

    print(
        f"  {'run':7s} {'part':24s} {'task':21s} {'shape':>9s} {'status':9s} "
        f"{'cold CPU':>8s} {'wall':>6s} {'compile':>7s} {'warm CPU':>8s} {'wall':>6s}"
    )
    cold_cpu = cold_wall = warm_cpu = warm_wall = compile_s = 0.0
    for planned in sample:
        cfg = planned.config
        jax.clear_caches()
        c0 = clock.seconds
        m = Meter()
        run = simulation.simulate(cfg, root / "cold" / planned.run)
        m.stop()
        compiled = clock.seconds - c0
        w = Meter()
        simulation.simulate(cfg, root / "warm" / planned.run)
        w.stop()
        cold_cpu += m.cpu
        cold_wall += m.wall
        warm_cpu += w.cpu
        warm_wall += w.wall
        compile_s += compiled
        shape = "×".join(str(v) for v in _data_shape(cfg))
        print(
            f"  {planned.run:7s} {planned.part:24s} {cfg.task.kind:21s} {shape:>9s} "
            f"{run.status.status:9s} {m.cpu:8.2f} {m.wall:6.2f} {compiled:7.2f} "
            f"{w.cpu:8.2f} {w.wall:6.2f}",
            flush=True,
        )
    return cold_cpu, cold_wall, warm_cpu, warm_wall, compile_s


def as_sweep(sample, root: Path, name: str, text: str):
    """The sample as one sweep directory, run in this process; returns its meter, the
    sweep's result and its batches."""
    from repdrift.sweep import directory
    from repdrift.sweep.executor import plan_batches, run_sweep

    batches = plan_batches(sample)
    sweep = directory.create(root, name=name, spec_text=text, runs=sample, batches=batches)
    m = Meter()
    result = run_sweep(sweep, workers=1)
    m.stop()
    if result.failed:
        print(f"  failed batches: {result.failed}")
    return m, result, batches


def sample_case(args, runs, text: str, root: Path, clock: CompileClock) -> dict:
    import jax

    sample = stratified_sample(runs, args.sample, args.seed)
    run_steps = sum(r.config.run.steps for r in sample)
    counts: dict[str, int] = {}
    for r in sample:
        counts[r.part] = counts.get(r.part, 0) + 1
    print(
        f"\n{args.preset} sample: {len(sample)} of the {len(runs):,} runs (seed {args.seed}), "
        f"{run_steps:,} run-steps; " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )

    # Start-up of a fresh process, as `repdrift simulate` run by run pays it.
    m = Meter()
    subprocess.run(
        [sys.executable, "-c", "import jax, repdrift.cli, repdrift.simulation; jax.devices()"],
        check=True,
    )
    startup = m.stop()

    # One by one first: a sweep keeps its compilations in a persistent cache on disk for
    # the rest of its process (repdrift.cores.cache_compiled), which would warm these.
    print("\none by one (repdrift.simulation.simulate; seconds):")
    meter = Meter()
    cold_cpu, cold_wall, warm_cpu, warm_wall, compile_s = one_by_one(sample, root / "single", clock)
    meter.stop()
    print(
        f"  total: cold {cold_cpu:.1f} s CPU, {cold_wall:.1f} s wall (JAX compiling "
        f"{compile_s:.1f} s); warm {warm_cpu:.1f} s CPU, {warm_wall:.1f} s wall   "
        f"({meter.load})"
    )
    print(
        f"  a fresh process (Python, imports, JAX's backend) costs {startup.cpu:.1f} s CPU, "
        f"{startup.wall:.1f} s wall more per run from the command line (not counted below)"
    )

    print("\nas a sweep (repdrift.sweep.executor.run_sweep, workers=1, in this process):")
    jax.clear_caches()
    name = f"{args.preset}-sample"
    cold, result, batches = as_sweep(sample, root / "sweep-cold", name, text)
    statuses = result.table["status"].value_counts().to_dict()
    print(
        f"  {len(batches)} batches of {', '.join(str(len(b)) for b in batches)} runs; "
        f"statuses {statuses}"
    )
    print(f"  cold: {cold.cpu:7.1f} s CPU, {cold.wall:7.1f} s wall   ({cold.load})")
    warm, _, _ = as_sweep(sample, root / "sweep-warm", name, text)
    print(f"  warm: {warm.cpu:7.1f} s CPU, {warm.wall:7.1f} s wall   ({warm.load})")

    rows = [
        ("one by one, cold", cold_cpu, cold_wall),
        ("one by one, warm", warm_cpu, warm_wall),
        ("sweep, cold", cold.cpu, cold.wall),
        ("sweep, warm", warm.cpu, warm.wall),
    ]
    print(f"\n  {'':18s} {'run-steps/s CPU':>16s} {'(wall)':>10s} {'CPU s':>8s} {'wall s':>8s}")
    for label, cpu, wall in rows:
        print(
            f"  {label:18s} {_rate(run_steps, cpu):16,.0f} {_rate(run_steps, wall):10,.0f} "
            f"{cpu:8.1f} {wall:8.1f}"
        )
    ratio_cold = cold_cpu / cold.cpu
    ratio_warm = warm_cpu / warm.cpu
    print(
        f"  sweep / one by one: {ratio_cold:.1f}× with compilation (target ≥ 5×), "
        f"{ratio_warm:.1f}× without; wall {cold_wall / cold.wall:.1f}× and "
        f"{warm_wall / warm.wall:.1f}×; with a fresh process per run, as from the command "
        f"line, {(cold_cpu + len(sample) * startup.cpu) / cold.cpu:.1f}×"
    )
    return {
        "one_by_one_cold": _rate(run_steps, cold_cpu),
        "sweep_cold": _rate(run_steps, cold.cpu),
        "ratio_cold": ratio_cold,
        "ratio_warm": ratio_warm,
    }


# -------------------------------------------------------------------------- project


def _data_shape(config) -> tuple[int, int, int]:
    """``(samples, d_in, d_out)`` of a run's task, traced without drawing it (drawing a
    dataset of a new shape compiles JAX's random functions for it: ~2 s per run)."""
    import jax

    from repdrift import tasks

    ds = jax.eval_shape(lambda k: tasks.make(k, config.task_params()), jax.random.key(0))
    return (int(ds.inputs.shape[0]), int(ds.inputs.shape[1]), int(ds.targets.shape[1]))


def _stand_ins(batch, shape):
    """Members with the batch's configurations but a random task of the batch's padded
    shape: the engine's work depends on the rule, the noises, the padded shape and the
    number of runs, not on the numbers in the arrays."""
    from repdrift import config as config_mod
    from repdrift import simulation

    samples, d_in, d_out = shape
    members = []
    for planned in batch:
        data = planned.config.model_dump(mode="json")
        data["task"] = {"kind": "random", "samples": samples, "d_in": d_in, "d_out": d_out}
        members.append(simulation.build(config_mod.validate(data)))
    return members


def jax_device() -> str:
    import jax

    d = jax.devices()[0]
    return f"{d.platform} ({d.device_kind}, {len(jax.devices())} device(s))"


def _on_accelerator() -> bool:
    import jax

    return jax.devices()[0].platform != "cpu"


def _time_batch(members, steps: int, repeats: int) -> float:
    """Seconds per run-step of one batch, built as the sweep's driver builds it and timed
    through the compiled loop (best of ``repeats``, compilation excluded): CPU seconds of
    this process on a CPU, wall-clock seconds on an accelerator."""
    import jax
    import jax.numpy as jnp

    from repdrift import engine, simulation

    clock = time.perf_counter if _on_accelerator() else time.process_time

    batch, state = simulation._batch_of(members, [simulation._initial_state(m) for m in members])
    spec = engine.EngineSpec(members[0].model, max_loss=members[0].config.run.max_loss)
    k = spec.segments_per_call
    lengths = jnp.full((k,), max(1, steps // k), jnp.int32)
    n = int(lengths.sum())
    state, _ = jax.block_until_ready(engine.advance(spec, state, batch, lengths))  # compile
    best = float("inf")
    for _ in range(repeats):
        c0 = clock()
        state, _ = jax.block_until_ready(engine.advance(spec, state, batch, lengths))
        best = min(best, clock() - c0)
    return best / (n * len(members))


def _snapshot_seconds(member, params, *, hessian: bool = True) -> float:
    """CPU seconds of one snapshot's metrics (rate maps, SI, the configured Hessian unless
    ``hessian`` is false)."""
    from repdrift import simulation

    c0 = time.process_time()
    simulation.snapshot_metrics(member.config, member.dataset, params, hessian=hessian)
    return time.process_time() - c0


def _initial_params(member) -> dict:
    import numpy as np

    snap = member.model.snapshot(member.initial)
    return {k: np.asarray(v) for k, v in snap.items()}


def _makespan(durations: list[float], workers: int) -> float:
    """Wall time of batches taken in order by ``workers`` workers, each the next free."""
    import heapq

    free = [0.0] * workers
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def _projection(
    plan: dict, snap_each: float, run_fixed: float, workers: int, *, hessian_at: str = "all"
):
    """CPU and wall seconds of the plan: each batch trains its runs, computes their
    snapshots with a Hessian spectrum at ``snap_each`` seconds each and those without
    (``record.hessian_at``) at the plan's measured cost (none when ``snap_each`` is 0),
    and pays ``run_fixed`` per run."""
    plain_each = plan["plain"] if snap_each else 0.0

    def snapshots(run) -> float:
        n, spectra = plan["snaps"][hessian_at][run]
        return spectra * snap_each + (n - spectra) * plain_each

    durations = [
        cost * len(b) * b[0].config.run.steps
        + sum(snapshots(r.run) for r in b)
        + len(b) * run_fixed
        for b, cost in plan["per_batch"]
    ]
    return sum(durations), _makespan(durations, workers)


def _snapshot_counts(runs) -> dict[str, dict[str, tuple[int, int]]]:
    """Per ``record.hessian_at`` value, each run's snapshots and spectra among them."""
    from repdrift import simulation

    out: dict[str, dict[str, tuple[int, int]]] = {"all": {}, "windows": {}}
    for r in runs:
        steps = simulation.schedule_of(r.config).snapshot_steps
        for at, counts in out.items():
            cfg = r.config.model_copy(
                update={"record": r.config.record.model_copy(update={"hessian_at": at})}
            )
            counts[r.run] = (len(steps), len(simulation.spectrum_steps(cfg, steps)))
    return out


def project_case(args) -> dict:
    import numpy as np

    from repdrift import simulation
    from repdrift.sweep import expand, load_spec
    from repdrift.sweep.executor import plan_batches

    spec, _ = load_spec(preset=PAPER)
    runs = expand(spec)
    by_id = {r.run: r for r in runs}
    batches = [[by_id[i] for i in b] for b in plan_batches(runs, args.batch_size)]
    run_steps = sum(r.config.run.steps for r in runs)
    steps_of = {r.config.run.steps for r in runs}
    accelerator = _on_accelerator()
    print(
        f"\n{PAPER} at paper scale: {len(runs):,} runs, {run_steps:.3g} run-steps "
        f"(steps {sorted(steps_of)}), {len(batches)} batches of at most {args.batch_size} "
        f"runs; training timed in {'wall-clock' if accelerator else 'CPU'} seconds"
    )
    m = Meter()
    timed: dict[tuple, float] = {}
    per_batch = []
    print(
        f"  {'rule':6s} {'noise':6s} {'steps':>9s} {'batches':>7s} {'runs':>5s} "
        f"{'padded shapes':>22s} {'µs/run-step':>11s}"
    )
    groups: dict[tuple, list] = {}
    for b in batches:
        shape = tuple(max(v) for v in zip(*(_data_shape(r.config) for r in b), strict=True))
        key = (simulation.batch_key(b[0].config), shape, len(b))
        if key not in timed:
            timed[key] = _time_batch(_stand_ins(b, shape), args.project_steps, args.repeats)
        cost = timed[key]
        per_batch.append((b, cost))
        cfg = b[0].config
        lc = cfg.learner
        noise = "update" if lc.update_noise else ("label" if lc.label_noise else "none")
        g = groups.setdefault((lc.kind, noise, cfg.run.steps), [0, 0, 0.0, set()])
        g[0] += 1
        g[1] += len(b)
        g[2] += cost * len(b) * cfg.run.steps
        g[3].add("×".join(str(v) for v in shape))
    train_cpu = 0.0
    for (rule, noise, steps), (nb, nr, cpu, shapes) in groups.items():
        train_cpu += cpu
        print(
            f"  {rule:6s} {noise:6s} {steps:9.0e} {nb:7d} {nr:5d} "
            f"{', '.join(sorted(shapes)):>22s} {cpu / (nr * steps) * 1e6:11.2f}"
        )

    # Snapshots: a sample of runs, each timed at its initial parameters (all units active).
    rng = np.random.default_rng(args.seed)
    picks = rng.choice(len(runs), size=min(args.project_snapshots, len(runs)), replace=False)
    warm, plain, per_run = [], [], []
    for i in sorted(picks):
        c0 = time.process_time()
        member = simulation.build(runs[int(i)].config)
        built = time.process_time() - c0
        params = _initial_params(member)
        first = _snapshot_seconds(member, params)
        warm.append(min(_snapshot_seconds(member, params) for _ in range(2)))
        plain.append(min(_snapshot_seconds(member, params, hessian=False) for _ in range(2)))
        per_run.append(built + first - warm[-1])
        print(
            f"    {runs[int(i)].run} ({member.config.task.kind}, "
            f"{'×'.join(str(v) for v in _data_shape(member.config))}): a snapshot "
            f"{warm[-1]:.2f} s CPU; the run's set-up {built:.2f} s and first snapshot "
            f"{first:.2f} s (compiling for its shapes)",
            flush=True,
        )
    snap_each = float(np.mean(warm))
    plain_each = float(np.mean(plain))
    run_fixed = float(np.mean(per_run))
    snaps = _snapshot_counts(runs)
    snap_total = sum(n for n, _ in snaps["all"].values())
    spectra = {at: sum(k for _, k in counts.values()) for at, counts in snaps.items()}

    def host_cpu_of(at: str) -> float:
        return spectra[at] * snap_each + (snap_total - spectra[at]) * plain_each

    m.stop()
    print(
        f"  snapshots: {snap_total:,} ({snap_total / len(runs):.0f} per run), exact Hessian: "
        f"{snap_each:.2f} s CPU each at initial parameters (mean of {len(warm)} runs, "
        f"{min(warm):.2f}-{max(warm):.2f} s), without it {plain_each:.3f} s → at most "
        f"{snap_total * snap_each / 3600:,.1f} h CPU; compiling for each run's own shapes "
        f"{run_fixed:.1f} s CPU per run → {run_fixed * len(runs) / 3600:.1f} h\n"
        f"  with record.hessian_at = 'windows' (the spectra the summary columns read): "
        f"{spectra['windows']:,} spectra ({spectra['windows'] / len(runs):.0f} per run) → "
        f"{host_cpu_of('windows') / 3600:,.1f} h CPU"
    )
    plan = {"per_batch": per_batch, "snaps": snaps, "run_fixed": run_fixed, "plain": plain_each}
    rate = run_steps / train_cpu
    if accelerator:
        # One device trains the batches one after another; the snapshots (NumPy's LAPACK)
        # and each run's set-up run on the host's cores, beside the training when the
        # sweep has several workers.
        print(
            f"  projected on {jax_device()}: training {train_cpu / 3600:,.2f} h "
            f"({rate:,.0f} run-steps/s; one hour needs {run_steps / 3600:,.0f})"
        )
        for at in ("all", "windows"):
            host = (host_cpu_of(at) + run_fixed * len(runs)) / args.workers
            print(
                f"    hessian_at = {at!r}: snapshots and set-up at initial cost on "
                f"{args.workers} host cores {host / 3600:,.2f} h; the sweep between "
                f"{max(train_cpu, host) / 3600:,.2f} h (overlapped) and "
                f"{(train_cpu + host) / 3600:,.2f} h"
            )
    else:
        cpu0, wall0 = _projection(plan, 0.0, 0.0, args.workers)
        print(
            f"  projected: training {cpu0 / 3600:,.1f} h CPU ({rate:,.0f} run-steps/s per "
            f"core), {wall0 / 3600:,.1f} h on {args.workers} cores; with snapshots at initial "
            "cost (an upper bound):"
        )
        for at in ("all", "windows"):
            cpu1, wall1 = _projection(plan, snap_each, run_fixed, args.workers, hessian_at=at)
            print(
                f"    hessian_at = {at!r}: {cpu1 / 3600:,.1f} h CPU, {wall1 / 3600:,.1f} h on "
                f"{args.workers} cores"
            )
    print(f"  measured in {m.cpu:.0f} s CPU, {m.wall:.0f} s wall ({m.load})")
    return plan


def trained_snapshot_cost(sweep_dir: Path, runs, count: int, seed: int) -> float:
    """Mean CPU seconds of an exact-Hessian snapshot on the final parameters of ``count``
    sampled runs of a finished ``table2-quick`` sweep."""
    import numpy as np

    from repdrift import simulation

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(runs), size=min(count, len(runs)), replace=False)
    costs = []
    for i in sorted(picks):
        planned = runs[int(i)]
        run = simulation.open_run(sweep_dir / "runs" / planned.run)
        if run.snapshots.sizes.get("step", 0) == 0:
            continue
        params = {k: run.snapshots[k].values[-1] for k in ("W1", "b1", "W2")}
        cfg = run.config.model_copy(
            update={"record": run.config.record.model_copy(update={"hessian": "exact"})}
        )
        member = simulation.Member(cfg, None, run.dataset, None, None, None, None)
        _snapshot_seconds(member, params)  # compiles for the run's shapes
        costs.append(min(_snapshot_seconds(member, params) for _ in range(2)))
    return float(np.mean(costs)) if costs else float("nan")


# --------------------------------------------------------------------------- device


def _repdrift_command() -> list[str]:
    exe = Path(sys.executable).with_name("repdrift")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "repdrift"]


def device_case(args, runs, text: str, root: Path) -> dict:
    """The same runs as a sweep on JAX's default device and on the CPU, compared."""
    from repdrift.sweep import directory
    from repdrift.sweep.executor import plan_batches

    sample = (
        runs if args.device_sample == 0 else stratified_sample(runs, args.device_sample, args.seed)
    )
    batches = plan_batches(sample, args.batch_size)
    run_steps = sum(r.config.run.steps for r in sample)
    device = jax_device()
    print(
        f"\n{args.preset} on {device} and on the CPU: {len(sample):,} runs, {run_steps:,} "
        f"run-steps, {len(batches)} batches of at most {args.batch_size} runs"
    )
    if not _on_accelerator():
        print("  (no accelerator here: both sweeps run on the CPU)")
    if args.device_sample:
        sizes: dict[str, int] = {}
        for r in sample:
            sizes[r.config.learner.kind] = sizes.get(r.config.learner.kind, 0) + 1
        rule, n = min(sizes.items(), key=lambda item: item[1])
        print(
            f"  (a sample: its smallest group, {rule}, has {n} runs; a shift the whole preset "
            "shows can pass unseen in so few — with 8 Adam runs of 192, TensorFloat-32's did)"
        )
    out = {}
    legs = (
        ("device", {}, args.device_workers, args.snapshot_threads),
        ("cpu", {"JAX_PLATFORMS": "cpu"}, args.workers, 1),
    )
    for label, env, workers, threads in legs:
        path = root / label
        directory.create(
            path, name=f"{args.preset}-{label}", spec_text=text, runs=sample, batches=batches
        )
        command = [*_repdrift_command(), "sweep", "resume", str(path), "--quiet"]
        command += ["--workers", str(workers), "--snapshot-threads", str(threads)]
        m = Meter()
        proc = subprocess.run(command, env={**os.environ, **env}, check=False)
        m.stop()
        print(
            f"  {label:6s} {workers:3d} workers × {threads} snapshot threads: {m.wall:8.1f} s "
            f"wall, {m.cpu:8.1f} s CPU; "
            f"{_rate(run_steps, m.wall):12,.0f} run-steps per wall-second"
            + (f"; exit status {proc.returncode}" if proc.returncode else "")
        )
        out[label] = {"wall": m.wall, "cpu": m.cpu, "rc": proc.returncode}
    # The comparison's table is printed by the command; its exit status is the verdict
    # (0: no test differs, 1: some differ).
    verdict = subprocess.run(
        [*_repdrift_command(), "sweep", "compare", str(root / "device"), str(root / "cpu")],
        check=False,
    )
    out["agree"] = verdict.returncode == 0
    return out


# ----------------------------------------------------------------------------- full


def full_case(args, out: Path) -> dict:
    exe = Path(sys.executable).with_name("repdrift")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "repdrift"]
    command += [
        "sweep",
        "--preset",
        args.preset,
        "--out",
        str(out),
        "--workers",
        str(args.workers),
        "--quiet",
    ]
    print(f"\nfull {args.preset} sweep: {' '.join(command[1:])}", flush=True)
    m = Meter()
    proc = subprocess.Popen(command)
    poll = MemoryPoll(proc.pid)
    rc = proc.wait()
    poll.stop()
    m.stop()
    if rc != 0:
        print(f"  the sweep exited with status {rc}")
    import pandas as pd

    df = pd.read_parquet(out / "runs.parquet")
    run_steps = int(df["run.steps"].sum())
    step = max(1, len(poll.trace) // 12)
    trace = ", ".join(f"{t / 60:.0f} min {_gb(v)}" for t, v in poll.trace[::step])
    print(
        f"  {len(df):,} runs {df['status'].value_counts().to_dict()}, {run_steps:,} run-steps\n"
        f"  {m.cpu:,.0f} s CPU ({m.cpu / 60:.1f} min), {m.wall:,.0f} s wall "
        f"({m.wall / 60:.1f} min) on {args.workers} workers; "
        f"{_rate(run_steps, m.cpu):,.0f} run-steps per CPU-second, "
        f"{_rate(run_steps, m.wall):,.0f} per wall-second\n"
        f"  peak resident memory: {_gb(poll.peak_sum)} summed over the sweep's processes "
        f"(up to {poll.most_processes}; proportional set size, shared pages counted once: "
        f"{_gb(poll.peak_pss)}), {_gb(poll.peak_one)} the largest process; target ≤ 2 GB\n"
        f"  summed over time: {trace}\n"
        f"  ({m.load})"
    )
    return {
        "cpu": m.cpu,
        "wall": m.wall,
        "run_steps": run_steps,
        "rss": poll.peak_sum,
        "pss": poll.peak_pss,
    }


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset", default=PRESET, help=f"the sweep preset of the sample and --full ({PRESET})"
    )
    parser.add_argument("--sample", type=int, default=36, help="runs in the sample (36)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples (0)")
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="cases to run (sample project device); default sample and project",
    )
    parser.add_argument(
        "--full", action="store_true", help=f"also run the whole {PRESET} sweep (~14 min CPU)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="workers of the full sweep and the projection (2)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the sweeps in this folder")
    parser.add_argument(
        "--project-steps", type=int, default=800, help="steps per timed call of a batch (800)"
    )
    parser.add_argument(
        "--project-snapshots", type=int, default=12, help="runs whose snapshot is timed (12)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per batch (3)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="most runs per batch of the projection and the device case (32, the sweep's "
        "default; larger on a GPU)",
    )
    parser.add_argument(
        "--device-sample",
        type=int,
        default=0,
        help="runs of the device case, a stratified sample (0: every run of --preset)",
    )
    parser.add_argument(
        "--device-workers",
        type=int,
        default=None,
        help="workers of the device case's sweep on the default device (--workers)",
    )
    parser.add_argument(
        "--snapshot-threads",
        type=int,
        default=1,
        help="snapshot threads of each worker of the device case's sweep on the default "
        "device (1; the CPU leg uses 1)",
    )
    parser.add_argument(
        "--blas-threads", type=int, default=None, help="OPENBLAS_NUM_THREADS etc. (unset)"
    )
    parser.add_argument(
        "--cores",
        type=int,
        default=1,
        help="XLA threads of this process (1, as repdrift simulate and the sweep's workers)",
    )
    args = parser.parse_args()
    if args.device_workers is None:
        args.device_workers = args.workers
    if args.blas_threads is not None:
        # Read when NumPy loads OpenBLAS: set before anything imports repdrift (which
        # imports NumPy), here and, inherited, in the sweep's worker processes.
        assert "numpy" not in sys.modules
        for name in BLAS_VARIABLES:
            os.environ[name] = str(args.blas_threads)
    only = set(args.only if args.only is not None else ("sample", "project"))
    from repdrift.cores import use_cores

    use_cores(args.cores)
    import jax

    from repdrift.sweep import expand, load_spec

    clock = CompileClock()
    cores = len(os.sched_getaffinity(0))
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, {cores} core(s), "
        f"{args.cores} XLA thread(s); BLAS: {_blas_threads()}; "
        f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )
    spec, text = load_spec(preset=args.preset)
    runs = expand(spec)
    root = args.keep or Path(tempfile.mkdtemp(prefix="repdrift-bench-sweep-"))
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    try:
        if "sample" in only:
            results["sample"] = sample_case(args, runs, text, root / "sample", clock)
        if "project" in only:
            results["project"] = project_case(args)
        if "device" in only:
            results["device"] = device_case(args, runs, text, root / "device")
        if args.full:
            results["full"] = full_case(args, root / "full")
            if "project" in results:
                plan = results["project"]
                each = trained_snapshot_cost(root / "full", runs, args.project_snapshots, args.seed)
                print(
                    f"\n  exact Hessian on the final parameters of {args.project_snapshots} "
                    f"{args.preset} runs: {each:.3f} s CPU each → projected {PAPER} with "
                    f"snapshots at that cost:"
                )
                for at in ("all", "windows"):
                    cpu, wall = _projection(
                        plan, each, plan["run_fixed"], args.workers, hessian_at=at
                    )
                    print(
                        f"    hessian_at = {at!r}: {cpu / 3600:,.1f} h CPU, "
                        f"{wall / 3600:,.1f} h on {args.workers} cores"
                    )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average at the end {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
