"""What the figures need computed, and computing it so that an interruption loses nothing.

A figure module declares *jobs*:

* :class:`RunJob` — one simulation, stored in ``DIR/runs/<name>``;
* :class:`SweepJob` — a sweep (a shipped sweep preset or a spec written here), stored in
  ``DIR/sweeps/<name>``;
* :class:`DataJob` — the analysis of recorded data (``repdrift data analyze``), stored in
  ``DIR/data/<name>``.

Jobs are identified by their name: two figures that need the same run declare the same
job, and it is computed once. :func:`execute` reuses what is finished, continues what was
stopped (runs from their checkpoints, sweeps with :func:`repdrift.sweep.resume`), and
refuses a directory that holds a different run or sweep under the same name.

**Where the work runs.** Single runs and data analyses are independent: they run on a
pool of worker processes, one per core, each computing on its one core
(:func:`repdrift.cores.use_cores`). Sweeps run afterwards, one at a time, each spread over
the cores by the sweep executor (:func:`repdrift.sweep.executor.run_sweep`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repdrift import store
from repdrift.config import Config
from repdrift.experiments.workspace import ReproduceError, Workspace

#: Run statuses that will not change any more.
FINISHED = ("complete", "diverged", "silent")


@dataclass(frozen=True)
class RunJob:
    """One simulation. ``figure`` names the figure that declared it (for the display)."""

    name: str
    config: Config
    figure: str


@dataclass(frozen=True)
class SweepJob:
    """A sweep: a shipped sweep ``preset`` or a ``spec`` (nested dict, see
    :mod:`repdrift.sweep.spec`), with ``overrides`` applied to every run; ``batch_size``
    bounds its batches (``None``: the sweep's default), fixed when it is created."""

    name: str
    figure: str
    spec: dict[str, Any] | None = None
    preset: str | None = None
    overrides: tuple[str, ...] = ()
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if (self.spec is None) == (self.preset is None):
            raise ValueError(f"sweep job {self.name}: give a spec or a preset, not both")


@dataclass(frozen=True)
class DataJob:
    """``repdrift data analyze PATH`` with ``shuffles`` circular shuffles per test."""

    name: str
    figure: str
    path: Path
    shuffles: int = 1000
    seed: int = 0


Job = RunJob | SweepJob | DataJob


class Reporter:
    """What :func:`execute` tells a display; this one tells nothing.

    ``key`` identifies a job; ``total`` is in steps (runs, sweeps: run-steps) or ``None``
    where progress cannot be counted (data analyses).
    """

    def start(self, key: str, description: str, total: int | None) -> None:  # pragma: no cover
        pass

    def update(self, key: str, completed: int) -> None:  # pragma: no cover
        pass

    def finish(self, key: str, message: str) -> None:  # pragma: no cover
        pass

    def note(self, text: str) -> None:  # pragma: no cover
        pass


def job_path(ws: Workspace, job: Job) -> Path:
    """Where a job's result is stored in the workspace."""
    if isinstance(job, RunJob):
        return ws.run_path(job.name)
    if isinstance(job, SweepJob):
        return ws.sweep_path(job.name)
    return ws.data_path(job.name)


def unique(jobs: Sequence[Job]) -> list[Job]:
    """Jobs in order, each name once; the same name must mean the same job."""
    seen: dict[str, Job] = {}
    for job in jobs:
        key = f"{type(job).__name__}:{job.name}"
        if key in seen:
            if _identity(seen[key]) != _identity(job):
                raise ValueError(f"two different jobs are both named {job.name!r}")
            continue
        seen[key] = job
    return list(seen.values())


def _identity(job: Job) -> Any:
    if isinstance(job, RunJob):
        return job.config.model_dump(mode="json")
    if isinstance(job, SweepJob):
        return (json.dumps(job.spec, sort_keys=True), job.preset, job.overrides, job.batch_size)
    return (str(job.path), job.shuffles, job.seed)


# ----------------------------------------------------------------------------- runs


def run_state(path: Path, config: Config) -> str:
    """``"new"``, ``"finished"`` or ``"stopped"`` for the run directory ``path``.

    Raises :class:`ReproduceError` when ``path`` holds another run or something else.
    """
    if not path.exists():
        return "new"
    if not store.is_run(path):
        leftovers = [p for p in path.iterdir() if not p.name.startswith(".")]
        if leftovers:
            raise ReproduceError(
                f"{path} is not a run directory; remove it or choose another --out"
            )
        return "new"
    from repdrift.runs import open_run

    try:
        stored = open_run(path).config
    except store.StoreError as err:
        raise ReproduceError(str(err)) from None
    if stored.model_dump(mode="json") != config.model_dump(mode="json"):
        raise ReproduceError(
            f"{path} holds a run of another configuration than this scale declares; "
            "choose a new --out"
        )
    status = store.read_status(path).status
    return "finished" if status in FINISHED else "stopped"


def ensure_run(path: str | Path, config_data: dict[str, Any]) -> str:
    """Make the run at ``path`` finished: simulate it, continue it, or leave it.

    Returns its final status. Runs in a worker process (arguments are plain data).
    """
    from repdrift import simulation
    from repdrift.config import validate

    path = Path(path)
    config = validate(config_data)
    state = run_state(path, config)
    if state == "new":
        if path.exists():  # only hidden leftovers of an attempt killed while starting
            shutil.rmtree(path)
        run = simulation.simulate(config, path)
    elif state == "stopped":
        run = simulation.resume(path)
    else:
        run = simulation.open_run(path)
    return run.status.status


def _steps_done(path: Path) -> int:
    try:
        return store.read_status(path).steps_done
    except (store.StoreError, OSError):
        return 0


# --------------------------------------------------------------------- data analyses


DATA_DONE = "regression.json"


def data_done(path: Path) -> bool:
    return (path / DATA_DONE).is_file()


def check_data(ws: Workspace, jobs: Sequence[Job]) -> None:
    """Read every recorded session that a data job still has to analyse, before anything
    runs: a missing, corrupt or mismatched file is an input error (:class:`ReproduceError`,
    one line naming the file) found in seconds, not after the hour of runs beside the
    analysis. Data not found at all are left to :func:`execute` (skipped, status
    ``missing``); analyses already in ``ws`` are not read again. Silent: on an error,
    stderr's one line is the error's."""
    from repdrift.data import DataError
    from repdrift.data.layouts import iter_sessions

    for job in jobs:
        if not isinstance(job, DataJob) or data_done(ws.data_path(job.name)):
            continue
        if not Path(job.path).exists():
            continue
        try:
            for _ in iter_sessions(job.path):
                pass
        except DataError as err:
            raise ReproduceError(f"recorded data {job.name}: {err}") from None


def check_sweeps(ws: Workspace, jobs: Sequence[Job]) -> None:
    """Refuse, before anything runs, a workspace whose sweep of a job holds another plan
    (made by an earlier repdrift whose settings for the scale differ): found when the
    sweeps start, it came after every single run. Reads only."""
    from repdrift.sweep import SweepError, directory
    from repdrift.sweep.spec import expand, load_spec, plan_digest

    for job in jobs:
        path = ws.sweep_path(job.name) if isinstance(job, SweepJob) else None
        if path is None or not directory.is_sweep(path):
            continue
        try:
            spec, _ = load_spec(job.spec, preset=job.preset)
            digest = plan_digest(expand(spec, list(job.overrides)))
            same = directory.holds_plan(directory.open_sweep(path), digest)
        except SweepError as err:
            raise ReproduceError(str(err)) from None
        if not same:
            raise ReproduceError(
                f"--out {ws.root}: its sweep {job.name} holds another plan than this "
                f"repdrift's {ws.scale}-scale one (made by an earlier version?); choose a "
                "new --out"
            )


def ensure_data(path: str | Path, source: str | Path, shuffles: int, seed: int) -> str:
    """Analyse the recorded data at ``source`` into ``path`` unless already there.

    Written into a temporary folder next to ``path`` and renamed: ``path`` holds a whole
    analysis or nothing (temporary folders of interrupted attempts are removed first; the
    reproduction holds its directory, so no other process writes there). Runs in a worker
    process.
    """
    from repdrift.data import AnalysisConfig
    from repdrift.data.report import analyze_path, write_report

    path = Path(path)
    if data_done(path):
        return "complete"
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by an interrupted attempt
        shutil.rmtree(stale, ignore_errors=True)
    tmp = store.temporary_dir(path.parent, f".{path.name}.", ".tmp")
    try:
        report = analyze_path(source, AnalysisConfig(n_shuffles=shuffles, seed=seed))
        write_report(report, tmp)
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return "complete"


# -------------------------------------------------------------------- worker processes


def _init_worker() -> None:
    from repdrift.cores import use_cores
    from repdrift.interrupts import init_worker

    init_worker()
    use_cores(1)


def _call(kind: str, *args: Any) -> str:
    from repdrift.interrupts import worker_stops

    # After a Ctrl-C the run is stored as partial (the analysis leaves nothing): the worker
    # ends instead of taking the next job of a reproduction that is being stopped.
    with worker_stops():
        if kind == "run":
            return ensure_run(*args)
        return ensure_data(*args)


@dataclass
class Outcome:
    """Status of each job that ran; messages of the ones that failed."""

    status: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def _error_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def _longest_first(job: RunJob | DataJob) -> tuple[int, float]:
    """A rough order of cost, so that the pool's last jobs are short ones: the
    similarity-matching network (a fixed-point solve per step and per probe) and data
    analyses first, then networks by steps × units × samples, the toy (trivial steps) last."""
    if isinstance(job, DataJob):
        return (0, 0.0)
    kind = job.config.model.kind
    if kind == "similarity_matching":
        return (0, -float(job.config.run.steps))
    if kind == "network":
        samples = getattr(job.config.task, "samples", 1)
        return (1, -float(job.config.run.steps * job.config.network.hidden * samples))
    return (2, -float(job.config.run.steps))


def _run_pool(
    ws: Workspace, jobs: Sequence[RunJob | DataJob], workers: int, reporter: Reporter
) -> Outcome:
    outcome = Outcome()
    tasks: dict[str, tuple[str, tuple, Path, int | None]] = {}
    for job in sorted(jobs, key=_longest_first):
        if isinstance(job, RunJob):
            path = ws.run_path(job.name)
            if run_state(path, job.config) == "finished":
                outcome.status[job.name] = store.read_status(path).status
                continue
            args = (str(path), job.config.model_dump(mode="json"))
            tasks[job.name] = ("run", args, path, job.config.run.steps)
            reporter.start(job.name, f"{job.figure}: run {job.name}", job.config.run.steps)
        else:
            path = ws.data_path(job.name)
            if data_done(path):
                outcome.status[job.name] = "complete"
                continue
            if not Path(job.path).exists():
                outcome.status[job.name] = "missing"
                reporter.note(f"{job.figure}: recorded data not found at {job.path}; skipped")
                continue
            args = (str(path), str(job.path), job.shuffles, job.seed)
            tasks[job.name] = ("data", args, path, None)
            reporter.start(job.name, f"{job.figure}: analyse recorded data {job.name}", None)
    if not tasks:
        return outcome
    import multiprocessing as mp

    from repdrift.interrupts import interrupt_workers, workers_start_deaf

    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(tasks))),
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
    ) as pool:
        futures: dict = {}
        try:
            with workers_start_deaf():  # a Ctrl-C while they import: no tracebacks
                for name, (kind, args, _, _) in tasks.items():
                    futures[pool.submit(_call, kind, *args)] = name
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for name, (kind, _, path, total) in tasks.items():
                    if kind == "run" and total:
                        reporter.update(name, _steps_done(path))
                for fut in done:
                    name = futures[fut]
                    try:
                        status = fut.result()
                    except BrokenProcessPool:
                        message = "a worker process died (out of memory?); run again to continue"
                        outcome.failed[name] = message
                        reporter.finish(name, f"failed: {message}")
                        continue
                    except Exception as err:  # a failed job is reported; the others carry on
                        outcome.failed[name] = _error_line(err)
                        reporter.finish(name, f"failed: {_error_line(err)}")
                        continue
                    outcome.status[name] = status
                    reporter.finish(name, status)
        except BaseException:
            # Interrupted (Ctrl-C reaches the workers too; a signal to this process alone
            # does not): nothing new starts, and the workers store their runs and stop.
            for fut in futures:  # (those running or done stay as they are)
                fut.cancel()
            interrupt_workers()
            raise
    return outcome


# -------------------------------------------------------------------------- sweeps


def _run_sweep(
    ws: Workspace, job: SweepJob, workers: int, scheduler: Any, reporter: Reporter
) -> tuple[str, str]:
    from repdrift import sweep
    from repdrift.sweep.executor import moved_note, run_sweep

    try:
        opened = sweep.create(
            job.spec,
            out=ws.sweep_path(job.name),
            preset=job.preset,
            overrides=list(job.overrides),
            batch_size=job.batch_size,
        )
    except sweep.SweepError as err:
        raise ReproduceError(str(err)) from None
    total = sum(r.config.run.steps for r in opened.runs)
    reporter.start(job.name, f"{job.figure}: sweep {job.name} ({len(opened.runs):,} runs)", total)
    result = None
    for _attempt in range(2):  # a failed batch is retried once
        result = run_sweep(
            opened,
            workers=workers,
            scheduler=scheduler,
            progress=lambda p: reporter.update(job.name, p.run_steps_done),
        )
        if not result.failed:
            break
    if result.failed:
        message = "; ".join(f"batch {i}: {m}" for i, m in sorted(result.failed.items()))
        reporter.finish(job.name, f"failed: {message}")
        return "failed", message
    counts = result.table["status"].value_counts().to_dict()
    done = ", ".join(f"{n} {s}" for s, n in counts.items())
    note = moved_note(result.moved)
    reporter.finish(job.name, done if note is None else f"{done}; {note}")
    return "complete", ""


def execute(
    ws: Workspace,
    jobs: Sequence[Job],
    *,
    workers: int | None = None,
    scheduler: Any = None,
    reporter: Reporter | None = None,
) -> Outcome:
    """Compute every job that is not finished yet (see the module docstring).

    ``workers``: processes for single runs and local sweeps (default: one per core);
    ``scheduler``: a Dask scheduler address or a connected ``distributed.Client`` for the
    sweeps (see :func:`repdrift.sweep.executor.connected`).
    Recorded data that are not found are skipped (status ``missing``), not failed.
    """
    reporter = reporter or Reporter()
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    jobs = unique(jobs)
    outcome = _run_pool(ws, [j for j in jobs if not isinstance(j, SweepJob)], workers, reporter)
    for job in jobs:
        if isinstance(job, SweepJob):
            started = time.monotonic()
            status, message = _run_sweep(ws, job, workers, scheduler, reporter)
            outcome.status[job.name] = status
            if message:
                outcome.failed[job.name] = message
            reporter.note(f"sweep {job.name}: {status} in {time.monotonic() - started:,.0f} s")
    return outcome
