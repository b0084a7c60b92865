"""Running a sweep: batches of runs on local worker processes or on a Dask cluster.

**Batches.** When a sweep is created its runs are grouped by
:func:`repdrift.simulation.batch_key` (runs of one group train together in one compiled,
vmapped program) and each group is cut into near-equal batches of at most ``batch_size``
runs (:func:`plan_batches`); the batches are stored with the plan and never change. A batch
is the unit of work: a worker runs it with :func:`run_batch`, which starts the batch's runs
that never trained with :func:`repdrift.simulation.simulate_batch`, continues its stopped
ones from their checkpoints with :func:`repdrift.simulation.resume_batch`, leaves its
finished ones alone, and writes the summary columns of every finished run. A batch run
twice — after a kill, or when Dask re-runs the task of a lost worker on another one —
therefore continues where the first attempt stopped, with the same batch mates (so the
same padded shapes, on which float rounding depends), and each run is stored once, in its
own directory.

**Local executor** (default): one worker process per core (``workers``), each with a
one-thread XLA pool (see :mod:`repdrift.cores`: on these small networks one thread per
process is fastest, and the operating system spreads the processes over the cores). With
``workers = 1`` the batches run in the calling process, also on one thread. Workers die with
the sweep process (``kill -9`` included), so that a resumed sweep never meets a run still
being written by an orphan.

**Dask executor** (``scheduler = "tcp://host:8786"`` or a ``distributed.Client``): one task
per batch. Workers need this package and the sweep directory on a shared file system; start
them with one thread each (``dask worker ADDRESS --nworkers N --nthreads 1``). See
``docs/sweeps.md`` for SLURM with ``dask-jobqueue``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repdrift import config as config_mod
from repdrift import store
from repdrift.sweep import directory, summary, table, timecourses
from repdrift.sweep.directory import FINISHED, Sweep
from repdrift.sweep.spec import PlannedRun, SweepError

#: Largest batch by default: "a few dozen" runs per compiled program.
DEFAULT_BATCH_SIZE = 32
#: A writer mark from another host is stale after this long without a status update.
STALE_AFTER_S = 1800.0
#: Seconds to reach a Dask scheduler before giving up (a mistyped address fails fast).
CONNECT_TIMEOUT_S = 5.0
#: Least time between two rewrites of the table while a sweep runs.
TABLE_EVERY_S = 10.0

ProgressFn = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class Batch:
    """Runs that train together: ``items`` are ``(run id, config as JSON data)``."""

    index: int
    items: tuple[tuple[str, dict[str, Any]], ...]
    steps: int

    @property
    def run_ids(self) -> list[str]:
        return [rid for rid, _ in self.items]


def plan_batches(
    runs: Sequence[PlannedRun], batch_size: int = DEFAULT_BATCH_SIZE
) -> list[list[str]]:
    """Run ids grouped by batch key (in order of first appearance), each group cut into
    near-equal batches of at most ``batch_size`` runs."""
    from repdrift import simulation

    if batch_size < 1:
        raise SweepError(f"--batch-size must be at least 1, got {batch_size}")
    groups: dict[Any, list[str]] = {}
    for run in runs:
        groups.setdefault(simulation.batch_key(run.config), []).append(run.run)
    batches = []
    for members in groups.values():
        count = math.ceil(len(members) / batch_size)
        size = math.ceil(len(members) / count)
        batches.extend(members[start : start + size] for start in range(0, len(members), size))
    return batches


def _batches_to_run(sweep: Sweep, unfinished: set[str]) -> list[Batch]:
    by_id = sweep.by_id()
    batches = []
    for index, ids in enumerate(sweep.batches):
        if not unfinished.intersection(ids):
            continue
        items = tuple((rid, by_id[rid].config.model_dump(mode="json")) for rid in ids)
        batches.append(Batch(index, items, by_id[ids[0]].config.run.steps))
    return batches


# ----------------------------------------------------------------- the worker's side


def run_batch(
    sweep_path: str | Path,
    items: Sequence[tuple[str, dict[str, Any]]],
    *,
    progress: ProgressFn | None = None,
    snapshot_threads: int = 1,
) -> list[tuple[str, str]]:
    """Run, continue or leave alone each run of a batch; write their summaries.

    Returns ``(run id, status)`` per run. Runs that never trained (no directory yet, or
    one set up by an attempt killed before its first checkpoint) are started together;
    stopped runs are continued from their checkpoints; finished runs are not run again.
    Summaries are written for every finished run that lacks one. ``snapshot_threads``:
    threads measuring the batch's snapshots at once
    (:func:`repdrift.simulation.simulate_batch`).

    What the batch compiled is given back twice, after its set-up and at its end
    (:func:`repdrift.cores.release_compiled`): a worker process otherwise keeps every
    program it ever compiled and grew by 60–90 MB a batch; so it peaks near 0.7 GB.
    """
    from repdrift import simulation
    from repdrift.cores import release_compiled

    root = Path(sweep_path)
    configs = {rid: config_mod.validate(data) for rid, data in items}
    paths = {rid: root / directory.RUNS_DIR / rid for rid in configs}
    for path in paths.values():
        directory.clear_unstarted(path)
        if store.is_run(path):
            directory.remove_stale_lock(path, older_than_s=STALE_AFTER_S)
    _align(root, paths)
    fresh, stopped, finished = [], [], 0
    for rid, path in paths.items():
        if not store.is_run(path):
            fresh.append(rid)
            continue
        status = store.read_status(path)
        if status.status in FINISHED:
            finished += 1
            continue
        if status.generation is None and status.status != "running":
            fresh.append(rid)  # set up, never trained: nothing stored to keep
        else:
            stopped.append(rid)
    if fresh and stopped and not finished:
        # Killed while the batch stored its first checkpoint, run by run: some runs have
        # one, their mates none. Continued apart, each would be padded to its own shapes
        # and differ in the last bits from the batch; so all start again together.
        fresh, stopped = [r for r in paths if r in fresh or r in stopped], []
    if fresh:
        # Runs that never trained start together, as in an uninterrupted batch; a run
        # directory replaced here holds only its configuration and dataset.
        simulation.simulate_batch(
            [configs[r] for r in fresh],
            [paths[r] for r in fresh],
            overwrite=True,
            progress=progress,
            reopen=False,
            release=True,
            snapshot_threads=snapshot_threads,
        )
    if stopped:
        simulation.resume_batch(
            [paths[r] for r in stopped],
            progress=progress,
            reopen=False,
            release=True,
            snapshot_threads=snapshot_threads,
        )
    results = []
    for rid, path in paths.items():
        status = store.read_status(path).status
        if status in FINISHED and directory.read_summary(root, rid) is None:
            directory.write_summary(root, rid, summary.summarise_run(simulation.open_run(path)))
        results.append((rid, status))
    release_compiled()  # the next batch has other shapes: a worker stays near 0.45 GB
    return results


def _align(root: Path, paths: dict[str, Path]) -> None:
    """Put a batch killed between two runs' checkpoint writes back to one step.

    A batch stores its runs one after another and removes their older generations only
    once all have stored the new one (:func:`repdrift.simulation.simulate_batch`), so after
    a kill in between, the runs ahead — stopped, or finished if the kill came during the
    final writes — still hold a generation at their mates' step. They are rolled back to it
    (a finished one loses its summary), and the batch continues together, as it would have
    without the kill; continued apart, each run would be padded to other shapes and differ
    in the last bits. Runs stored before generations recorded their step cannot be put
    back and are left as they are.
    """
    steps: dict[str, int] = {}
    for rid, path in paths.items():
        if not store.is_run(path):
            return  # a run never set up: handled by starting again (run_batch)
        status = store.read_status(path)
        if status.generation is None or status.status == "running":
            return  # nothing stored yet, or a live process holds it (refused below)
        step = store.generation_step(path, status.generation)
        if step is None:
            return
        steps[rid] = step
    target = min(steps.values(), default=0)
    ahead = {
        rid: store.find_generation(paths[rid], target) for rid, s in steps.items() if s > target
    }
    if not all(ahead.values()):
        return
    for rid, generation in ahead.items():
        with contextlib.suppress(FileNotFoundError):
            directory.summary_file(root, rid).unlink()  # before: the run reads finished till then
        store.roll_back(paths[rid], generation)
    for rid, path in paths.items():
        if rid not in ahead:  # generations a kill left behind (a finished run's older ones)
            store.prune_generations(path, store.read_status(path).generation)


def check_runs(sweep: Sweep, *, full: bool = False) -> dict[str, str]:
    """Read the sweep's stored runs, write the summaries missing, and return the runs that
    cannot be used, each with why (``{run id: reason}``).

    Always read: a run's status; every run the sweep will continue (stopped, or set up and
    never trained): its configuration, which must be the plan's, its dataset and its stored
    generation (records, snapshots, checkpoint); and a finished run without its summary (a
    sweep killed between a run's end and its summary), which gets it here. With ``full``
    (``repdrift sweep resume --repair``) every finished run is read whole as well, and a
    summary that differs from the one its records give is rewritten.
    """
    from repdrift import runs

    damaged: dict[str, str] = {}
    for planned in sweep.runs:
        rid, path = planned.run, sweep.run_path(planned.run)
        status = directory.run_status(sweep, planned)
        if status.status == "pending":
            continue
        if status.status == "corrupt":
            damaged[rid] = status.message
            continue
        finished = status.status in FINISHED
        stored = _stored_summary(sweep, rid) if finished else None
        if finished and stored is not None and not full:
            continue
        try:
            run = runs.open_run(path)
        except store.StoreError as err:
            damaged[rid] = str(err)
            continue
        if run.config != planned.config:
            damaged[rid] = f"run {path}: its {store.CONFIG_FILE} is not the one the plan gives it"
        elif finished:
            columns = summary.summarise_run(run)
            if stored != directory.summary_text(columns):
                directory.write_summary(sweep.path, rid, columns)
    return damaged


def _stored_summary(sweep: Sweep, run_id: str) -> str | None:
    """The stored summary's text; ``None`` when it is missing or damaged (not a table of
    numbers: :func:`repdrift.sweep.directory.read_summary`)."""
    if directory.read_summary(sweep.path, run_id) is None:
        return None
    try:
        return directory.summary_file(sweep.path, run_id).read_text()
    except OSError:
        return None


_WORKER: dict[str, Any] = {}


def _init_worker(queue, parent_pid: int) -> None:
    """A local worker: a one-thread XLA pool, death with the sweep process, a progress queue,
    a GPU shared with the other workers."""
    from repdrift.cores import cache_compiled, share_accelerator, use_cores
    from repdrift.interrupts import init_worker

    init_worker()  # dies with the sweep process; stops at its first Ctrl-C
    share_accelerator()
    use_cores(1)
    cache_compiled()
    _WORKER.update(queue=queue, parent_pid=parent_pid)


def _worker_progress(batch_index: int) -> ProgressFn:
    queue = _WORKER.get("queue")
    parent = _WORKER.get("parent_pid")
    last = [0.0]

    def report(step: int, total: int, metrics: dict[str, float]) -> None:
        if parent is not None and os.getppid() != parent:
            os._exit(1)  # the sweep process is gone: stop at once, as after kill -9
        now = time.monotonic()
        if queue is not None and (now - last[0] >= 0.5 or step >= total):
            last[0] = now
            queue.put((batch_index, int(step)))

    return report


def _run_batch_task(
    sweep_path: str, batch_index: int, items, snapshot_threads: int = 1
) -> list[tuple[str, str]]:
    """The task a local or Dask worker runs for one batch."""
    from repdrift.cores import cache_compiled, use_cores

    use_cores(1)  # a Dask worker's first batch starts its backend with a one-thread pool
    cache_compiled()
    if not _WORKER:  # a Dask worker
        return run_batch(sweep_path, items, snapshot_threads=snapshot_threads)
    from repdrift.interrupts import worker_stops

    with worker_stops():  # a local worker: after a Ctrl-C its runs are stored; it ends
        return run_batch(
            sweep_path,
            items,
            progress=_worker_progress(batch_index),
            snapshot_threads=snapshot_threads,
        )


# --------------------------------------------------------------------- the executors


@dataclass
class Outcome:
    """What happened to the batches of one sweep call."""

    done: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


BatchDone = Callable[[Batch, list[tuple[str, str]]], None]
BatchStep = Callable[[Batch, int], None]


def _error_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def run_inline(
    sweep: Sweep,
    batches: Sequence[Batch],
    on_done: BatchDone,
    on_step: BatchStep,
    snapshot_threads: int = 1,
):
    """Run the batches one after another in this process (a one-thread XLA pool)."""
    from repdrift.cores import caching_compiled, use_cores

    use_cores(1)
    with caching_compiled():
        return _run_in_turn(sweep, batches, on_done, on_step, snapshot_threads)


def _run_in_turn(
    sweep: Sweep,
    batches: Sequence[Batch],
    on_done: BatchDone,
    on_step: BatchStep,
    snapshot_threads: int = 1,
):
    outcome = Outcome()
    for batch in batches:
        try:
            result = run_batch(
                sweep.path,
                batch.items,
                progress=lambda s, t, m, b=batch: on_step(b, s),
                snapshot_threads=snapshot_threads,
            )
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:
            outcome.failed[batch.index] = _error_line(err)
            continue
        outcome.done[batch.index] = result
        on_done(batch, result)
    return outcome


def run_local(
    sweep: Sweep,
    batches: Sequence[Batch],
    workers: int,
    on_done: BatchDone,
    on_step: BatchStep,
    snapshot_threads: int = 1,
) -> Outcome:
    """Run the batches on ``workers`` local processes, each with a one-thread XLA pool
    (and ``snapshot_threads`` threads for its snapshots)."""
    import multiprocessing as mp
    import queue as queue_mod

    from repdrift.interrupts import workers_start_deaf

    ctx = mp.get_context("spawn")
    progress_queue = ctx.Queue()
    outcome = Outcome()
    by_index = {b.index: b for b in batches}
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(progress_queue, os.getpid()),
    ) as pool:
        futures: dict = {}
        try:
            with workers_start_deaf():  # (the pool starts its processes as jobs come)
                for b in batches:
                    futures[
                        pool.submit(
                            _run_batch_task, str(sweep.path), b.index, b.items, snapshot_threads
                        )
                    ] = b.index
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        index, step = progress_queue.get_nowait()
                    except queue_mod.Empty:
                        break
                    on_step(by_index[index], step)
                for fut in finished:
                    index = futures[fut]
                    try:
                        result = fut.result()
                    except BrokenProcessPool as err:
                        raise SweepError(
                            "a sweep worker process died (out of memory? or, from Python, "
                            "a script that starts a sweep without `if __name__ == "
                            '"__main__":`); '
                            f"`repdrift sweep resume {sweep.path}` continues: {err}"
                        ) from None
                    except Exception as err:
                        outcome.failed[index] = _error_line(err)
                        continue
                    outcome.done[index] = result
                    on_done(by_index[index], result)
        except BaseException as err:
            for fut in futures:  # (those running or done stay as they are)
                fut.cancel()
            if isinstance(err, KeyboardInterrupt):
                # the workers store their runs and end (a signal to this process alone
                # does not reach them): the pool is left at once, not after their batches
                from repdrift.interrupts import interrupt_workers

                interrupt_workers()
            raise
    return outcome


def run_dask(
    sweep: Sweep,
    batches: Sequence[Batch],
    scheduler: Any,
    on_done: BatchDone,
    on_step: BatchStep,
    snapshot_threads: int = 1,
) -> Outcome:
    """Run the batches as tasks of a Dask distributed cluster (``scheduler``: an address
    or a ``distributed.Client``)."""
    with connected(scheduler) as client:
        from distributed import as_completed

        futures = {
            client.submit(
                _run_batch_task,
                str(sweep.path.resolve()),
                b.index,
                b.items,
                snapshot_threads,
                key=f"repdrift-sweep-{sweep.digest[:12]}-b{b.index:05d}-{time.time_ns()}",
                pure=False,
            ): b
            for b in batches
        }
        outcome = Outcome()
        for fut in as_completed(list(futures)):
            batch = futures[fut]
            try:
                result = fut.result()
            except Exception as err:
                outcome.failed[batch.index] = _error_line(err)
                continue
            outcome.done[batch.index] = result
            on_done(batch, result)
    return outcome


@contextlib.contextmanager
def connected(scheduler: Any):
    """A ``distributed.Client`` of the scheduler at address ``scheduler``, closed at the
    end; a client (or ``None``) is handed through as it is.

    Raises:
        SweepError: Dask distributed is missing, or no scheduler answers at the address
            within :data:`CONNECT_TIMEOUT_S` seconds.
    """
    if not isinstance(scheduler, str):
        yield scheduler
        return
    try:
        from distributed import Client
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        raise SweepError(
            "--scheduler needs Dask distributed: pip install 'dask[distributed]'"
        ) from None
    try:
        # a malformed TCP address is refused before a client exists: a client that fails
        # to start warns about its own clean-up when the process ends
        protocol, location = parse_address(scheduler)
        if protocol in ("tcp", "tls"):
            parse_host_port(location)
        # not the default client: a client that fails to start would otherwise leave Dask's
        # global scheduler set to "dask.distributed" for the rest of the process
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (ValueError, TypeError) as err:
        raise SweepError(
            f"--scheduler {scheduler}: not a scheduler address: {_error_line(err)}"
        ) from None
    except (OSError, TimeoutError) as err:
        raise SweepError(
            f"--scheduler {scheduler}: no scheduler answered within {CONNECT_TIMEOUT_S:g} s: "
            f"{_error_line(err)}"
        ) from None
    try:
        yield client
    finally:
        client.close()


# ------------------------------------------------------------------------- the driver


@dataclass(frozen=True)
class SweepProgress:
    """A snapshot of a sweep's progress, handed to the progress callback."""

    runs_total: int
    runs_finished: int
    run_steps_total: int
    run_steps_done: int


@dataclass
class SweepResult:
    """The end of one ``run_sweep`` call: the table, the batches that failed, and the runs
    that ``repair`` set aside and ran again (``{run id: (why, the folder it went to)}``)."""

    table: Any
    failed: dict[int, str]
    batches: int
    set_aside: dict[str, tuple[str, Path]] = field(default_factory=dict)
    #: the runs continued from steps computed elsewhere (another processor, device, thread
    #: count or JAX): ``{run id: ["JAX 0.10.2 → 0.11.0", ...]}``
    #: (:func:`repdrift.cores.computed_elsewhere`)
    moved: dict[str, list[str]] = field(default_factory=dict)


def moved_note(moved: dict[str, list[str]]) -> str | None:
    """:attr:`SweepResult.moved` in one line; ``None`` where no run moved."""
    if not moved:
        return None
    differs = list(dict.fromkeys(d for found in moved.values() for d in found))
    runs = f"{len(moved):,} run{'' if len(moved) == 1 else 's'}"
    return (
        f"{runs} continued from steps computed elsewhere ({'; '.join(differs)}): their "
        "records need not match an uninterrupted sweep's in the last bits"
    )


def _moved(sweep: Sweep, before: dict[str, int]) -> dict[str, list[str]]:
    """The runs whose record names one more earlier place than ``before`` counted: they
    were continued elsewhere than their last stored steps were computed. The workers know
    where they compute; this process need not start a device to tell."""
    from repdrift.cores import computed_elsewhere

    moved = {}
    for rid, count in before.items():
        path = sweep.run_path(rid)
        earlier = store.read_computed_earlier(path)
        if len(earlier) > count:
            now = store.read_computed_on(path) or {}
            moved[rid] = computed_elsewhere(earlier[-1]["computed_on"], now)
    return moved


def default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_sweep(
    sweep: Sweep,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: Callable[[SweepProgress], None] | None = None,
    snapshot_threads: int = 1,
    repair: bool = False,
) -> SweepResult:
    """Run every run of the sweep that has not finished; return the final table.

    Each batch of the plan with unfinished runs is run (:func:`run_batch`): finished runs
    are not run again; stopped runs continue from their checkpoints. The table
    ``DIR/runs.parquet`` is rewritten as batches finish and at the end. Batches that fail
    are reported in the result (``repdrift sweep resume`` retries them); the sweep itself
    carries on with the others. One process at a time drives a sweep.

    ``snapshot_threads``: threads of each worker that measure its batch's snapshots at
    once — the exact Hessian spectra are most of the host's work, so with an accelerator
    training, workers × threads up to the host's cores; the records are the same with any
    number.

    First the stored runs are read (:func:`check_runs`). A run that cannot be read (its
    files damaged from outside: all writes are atomic) stops the call with a
    :class:`SweepError` before anything runs, unless ``repair``: then every stored run is
    read whole, and each damaged one is moved with its summary to ``DIR/damaged/``
    (:func:`repdrift.sweep.directory.set_aside`) and run again — alone, if its batch mates
    have finished, so its last bits may differ from an uninterrupted batch's — and the time
    courses are rebuilt.
    """
    if workers is not None and workers < 1:
        raise SweepError(f"--workers must be at least 1, got {workers}")
    if snapshot_threads < 1:
        raise SweepError(f"--snapshot-threads must be at least 1, got {snapshot_threads}")
    with _driving(sweep):
        (sweep.path / directory.RUNS_DIR).mkdir(exist_ok=True)
        (sweep.path / directory.SUMMARIES_DIR).mkdir(exist_ok=True)
        damaged = check_runs(sweep, full=repair)
        if damaged and not repair:
            raise SweepError(directory.damaged_line(sweep, damaged))
        set_aside = {rid: (why, directory.set_aside(sweep, rid)) for rid, why in damaged.items()}
        statuses = {r.run: directory.run_status(sweep, r) for r in sweep.runs}
        unfinished = {r.run for r in sweep.runs if statuses[r.run].status not in FINISHED}
        batches = _batches_to_run(sweep, unfinished)
        places_before = {
            rid: len(store.read_computed_earlier(sweep.run_path(rid)))
            for rid in unfinished
            if statuses[rid].generation is not None
        }
        tracker = _Tracker(sweep, statuses, unfinished, progress)
        tracker.report()
        table.write_table(sweep)
        try:
            if not batches:
                outcome = Outcome()
            elif scheduler is not None:
                outcome = run_dask(
                    sweep, batches, scheduler, tracker.on_done, tracker.on_step, snapshot_threads
                )
            else:
                n = min(workers or default_workers(), len(batches))
                if n <= 1:
                    outcome = run_inline(
                        sweep, batches, tracker.on_done, tracker.on_step, snapshot_threads
                    )
                else:
                    outcome = run_local(
                        sweep, batches, n, tracker.on_done, tracker.on_step, snapshot_threads
                    )
        except KeyboardInterrupt:
            table.write_table(sweep)  # the runs stopped by it read as partial in the table
            raise
        df = table.write_table(sweep)
        timecourses.write(sweep, df, force=repair)
    return SweepResult(df, outcome.failed, len(batches), set_aside, _moved(sweep, places_before))


@contextlib.contextmanager
def _driving(sweep: Sweep):
    """Mark the sweep as driven by this process (refused while another one drives it)."""
    try:
        held = store.hold(sweep.path)
        held.__enter__()
    except store.StoreError:
        other = store.writer_pid(sweep.path)
        by = "another process" if other is None else f"process {other}"
        raise SweepError(f"sweep {sweep.path} is being run by {by}") from None
    try:
        yield
    finally:
        held.__exit__(None, None, None)


class _Tracker:
    """Progress of a sweep in run-steps and finished runs; rewrites the table now and then."""

    def __init__(self, sweep: Sweep, statuses, unfinished: set[str], progress) -> None:
        self.sweep = sweep
        self.progress = progress
        self.unfinished = unfinished
        self.total_runs = len(sweep.runs)
        self.finished = self.total_runs - len(unfinished)
        self.steps_total = sum(r.config.run.steps for r in sweep.runs)
        self.steps_base = sum(
            statuses[r.run].steps_total for r in sweep.runs if r.run not in unfinished
        )
        self.batch_steps: dict[int, int] = {}
        self.table_at = time.monotonic()

    def _open(self, batch: Batch) -> int:
        return sum(1 for rid in batch.run_ids if rid in self.unfinished)

    def report(self) -> None:
        if self.progress is None:
            return
        done = self.steps_base + sum(self.batch_steps.values())
        self.progress(SweepProgress(self.total_runs, self.finished, self.steps_total, done))

    def on_step(self, batch: Batch, step: int) -> None:
        self.batch_steps[batch.index] = self._open(batch) * min(step, batch.steps)
        self.report()

    def on_done(self, batch: Batch, result: list[tuple[str, str]]) -> None:
        for rid, status in result:
            if rid in self.unfinished and status in FINISHED:
                self.unfinished.discard(rid)
                self.finished += 1
                self.steps_base += batch.steps
        self.batch_steps.pop(batch.index, None)
        self.report()
        now = time.monotonic()
        if now - self.table_at >= TABLE_EVERY_S:
            table.write_table(self.sweep)
            self.table_at = now
