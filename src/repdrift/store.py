"""The run directory: configuration, records and snapshots on Zarr, checkpoints, status.

Layout of a run directory ``DIR``::

    DIR/config.toml            the validated configuration (written once, first)
    DIR/status.json            status, steps done / total, the current generation
    DIR/store/gNNNNNN/         one *generation*: everything stored at one checkpoint
        metrics.zarr           scalar records over ``step`` (xarray)
        snapshots.zarr         parameters, rate maps, SI, ... over snapshot ``step``
        checkpoint.npz         the full engine state (parameters, optimiser, keys, step)
        generation.json        the status this generation was stored with, its step, and
                               the size of every file above (checked when it is read)
    DIR/figures/               figures (PNG and PDF), when drawn
    DIR/running.pid            present while a process is writing the run

Every write is atomic: a generation is written under a temporary name and renamed into
place, then ``status.json`` is replaced (write, fsync, rename) to point at it, then older
generations are removed. A run killed at any instant therefore leaves ``status.json``
pointing at a complete generation (or no generation yet, before the first checkpoint).
Runs trained together remove their older generations only once every one of them has
stored its new one (``prune=False``, then :func:`prune_generations`), so that a batch
killed between two runs' writes can be put back to one step (:func:`roll_back`).

Statuses: ``starting`` (configuration and dataset written, nothing trained yet),
``running`` (a live process holds the run), ``partial`` (stopped before the end: resume
it), ``complete``; and two ends of runs the engine flagged: ``diverged`` (the loss became
non-finite or exceeded ``run.max_loss``) and ``silent`` (every hidden unit went silent on
every sample). A ``starting`` or ``running`` run whose process is gone reads as
``partial``.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import math
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr.core.sync as _zarr_sync  # here, so that the exit handler below runs before zarr's

from repdrift.terminal import first_line

STATUS_FILE = "status.json"
CONFIG_FILE = "config.toml"
PID_FILE = "running.pid"
GENERATION_FILE = "generation.json"
#: A run's task data, when the task draws it (:mod:`repdrift.runs`).
DATASET_FILE = "dataset.npz"
FORMAT_VERSION = 1


#: What ``status.json`` may hold (see the module docstring).
RUN_STATUSES = ("starting", "running", "partial", "complete", "diverged", "silent")


class StoreError(ValueError):
    """A run directory problem, stated in one line."""


def _stop_zarr_io_thread(timeout: float = 10.0) -> None:
    """Stop zarr's I/O event loop at exit, giving its thread time to finish.

    zarr 3 stops the loop of its I/O thread at exit, waits 0.2 s for the thread and then
    closes the loop whether it stopped or not; on a loaded machine (a sweep's worker
    processes ending together) the thread is often still running, and every process prints
    ``RuntimeError: Cannot close a running event loop``. Exit handlers run last-registered
    first, so this one, registered after zarr's, stops the loop and waits for it; zarr's
    own handler then closes a stopped loop.
    """
    loop = getattr(_zarr_sync, "loop", [None])[0]
    thread = getattr(_zarr_sync, "iothread", [None])[0]
    if loop is None or not isinstance(thread, threading.Thread) or loop.is_closed():
        return
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)


atexit.register(_stop_zarr_io_thread)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process's umask, read once: files and folders made through temporary names get the
#: modes a plain ``open`` or ``mkdir`` gives (tempfile makes them private, 0600 and 0700,
#: which a group sharing results, or Dask workers of another user, could not read).
_UMASK = _read_umask()


def temporary_dir(parent: Path, prefix: str, suffix: str = "") -> Path:
    """A new folder in ``parent`` with a unique hidden name, to be renamed into place; its
    mode is a plain ``mkdir``'s."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_parquet(table: Any, path: Path) -> None:
    """Write a DataFrame as Parquet to ``path`` atomically (:func:`atomic_write_bytes`),
    through Python's own file: pyarrow cannot open a name that is not UTF-8 (a folder
    named with such a byte), which Python writes as it was given."""
    import io

    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_run(path: Path) -> bool:
    """Whether ``path`` holds a repdrift run (at least its configuration)."""
    return (Path(path) / CONFIG_FILE).is_file()


def runs_folder_owner(path: str | Path, marker: str) -> Path | None:
    """The directory whose ``runs/`` folder ``path`` is (or would be) in, when that
    directory holds the file ``marker`` (a sweep's or a reproduction's record), else
    ``None``: those write their runs themselves."""
    parent = Path(path).absolute().parent
    with contextlib.suppress(OSError):
        parent = parent.resolve()
    if parent.name != "runs" or not (parent.parent / marker).is_file():
        return None
    return parent.parent


def check_writable(path: Path, named: Path | None = None) -> None:
    """Refuse an existing folder ``path`` that this process may not write in.

    Replacing a folder needs only its parent to be writable: without this check a result
    made read-only on purpose would be renamed aside and replaced. Errors name ``named``
    (the path as the user gave it), by default ``path``.

    Raises:
        StoreError: one line naming the folder.
    """
    if Path(path).is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise StoreError(f"--out {path if named is None else named}: no permission to write in it")


def few(names: Sequence[str], shown: int = 3) -> str:
    """The first ``shown`` of ``names``, comma-separated, and how many more there are."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _check_place(path: Path, named: Path | None = None) -> None:
    """The folder ``path`` exists and this process may write in it, or it may be created:
    its nearest existing ancestor is a directory this process may write in.

    Raises:
        StoreError: one line naming ``named`` (the path as given; default ``path``).
        OSError: the file system cannot be asked.
    """
    named = path if named is None else named
    parent = next((p for p in path.parents if p.exists()), path)
    if not parent.is_dir():
        raise StoreError(f"--out {named}: {parent} is a file, not a directory")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"--out {named}: no permission to create it in {parent}")
    if path.exists() and not path.is_dir():
        raise StoreError(f"--out {named} exists and is not a directory")
    check_writable(path, named)


#: The entries a run writes into its directory (``figures``: ``repdrift simulate``'s).
RUN_ENTRIES = frozenset({CONFIG_FILE, STATUS_FILE, PID_FILE, DATASET_FILE, "store", "figures"})


def _foreign_to_run(path: Path) -> list[str]:
    """The entries of the run directory ``path`` that no run writes: a folder that merely
    holds a ``config.toml`` (a project's, a thesis's) is not replaced whole. A hidden
    entry named after a run's (``.status.json.x1y2``, an atomic write cut short) is the
    run's."""
    return sorted(
        p.name
        for p in path.iterdir()
        if p.name not in RUN_ENTRIES
        and not (p.name.startswith(".") and p.name[1:].split(".")[0] in _RUN_STEMS)
    )


_RUN_STEMS = frozenset(name.split(".")[0] for name in RUN_ENTRIES)


def check_out(path: Path, *, overwrite: bool) -> bool:
    """Check, without changing anything, that ``path`` may receive a new run.

    Returns whether an existing run there will have to be replaced. A non-empty directory
    is refused without ``overwrite``, and even with it unless it is a repdrift run holding
    nothing a run does not write (so that a mistyped ``--out`` never deletes unrelated
    files); an ``--out`` under a file, or where this process may not write, is refused.

    Raises:
        StoreError: one line naming ``path`` and the problem.
    """
    path = Path(path)
    try:
        _check_place(path)
        if not (path.is_dir() and any(path.iterdir())):
            return False
        if not overwrite:
            hint = ""
            with contextlib.suppress(StoreError, OSError):  # (a damaged run: no hint)
                if is_run(path) and read_status(path).status in ("starting", "running", "partial"):
                    hint = f" (its run is unfinished: `repdrift resume {path}` continues it)"
            raise StoreError(
                f"--out {path} exists and is not empty; choose a new directory or pass "
                f"--overwrite{hint}"
            )
        if not is_run(path):
            raise StoreError(
                f"--out {path} is not empty and is not a repdrift run; refusing to overwrite it"
            )
        if foreign := _foreign_to_run(path):
            shown = few(foreign)
            raise StoreError(
                f"--out {path} holds files a run did not write ({shown}); refusing to overwrite it"
            )
        pid = _live_pid(path)
        if pid is not None:
            raise StoreError(f"run {path} is being written by process {pid}")
        if path.is_symlink():
            raise StoreError(f"--out {path} is a link; give the directory it points to")
        old = path.resolve()
        here = Path.cwd().resolve()
        if old == here or old in here.parents:
            raise StoreError(f"--out {path} is or holds the current directory; not replacing it")
        return True
    except OSError as err:
        raise StoreError(f"--out {path}: {err.strerror or err}") from None


def check_results_out(
    out: Path,
    *,
    overwrite: bool,
    owned: Callable[[Path], Collection[str] | None],
    what: str,
    named: Path | None = None,
) -> None:
    """Check, changing nothing, that the folder ``out`` may receive a command's results.

    ``out`` may be absent or empty; with ``overwrite`` it may also hold an earlier result
    of the same command, and nothing else: ``owned(out)`` gives the names of the entries
    that result wrote (read from its manifest), or ``None`` when ``out`` is not one.
    Refused: a file, a folder this process may not write in or create, the current folder
    or one holding it, and any folder with entries the earlier result did not write (so that a
    mistyped ``--out --overwrite`` never deletes unrelated files). ``what`` names the
    result in the message, e.g. "an earlier result of `repdrift data analyze`".

    Raises:
        StoreError: one line starting with ``named`` (the path as given; default ``out``).
    """
    out = Path(out)
    named = out if named is None else named
    try:
        _check_place(out, named)
        here = Path.cwd().resolve()
        if out.resolve() == here or out.resolve() in here.parents:
            raise StoreError(f"{named}: --out is the current folder or holds it; choose a new one")
        if not (out.is_dir() and any(out.iterdir())):
            return
        if not overwrite:
            raise StoreError(
                f"{named}: --out exists and is not empty (use --overwrite to replace it)"
            )
        ours = owned(out)
        if ours is None:
            raise StoreError(
                f"{named}: --out is not empty and is not {what}; refusing to replace it"
            )
        foreign = sorted(p.name for p in out.iterdir() if p.name not in set(ours))
    except OSError as err:
        raise StoreError(f"{named}: cannot use --out ({err.strerror or err})") from None
    if foreign:
        shown = few(foreign)
        raise StoreError(
            f"{named}: --out holds files that {what} did not write ({shown}); "
            "refusing to replace it"
        )


def prepare_out(path: Path, *, overwrite: bool) -> Path:
    """Check ``path`` (:func:`check_out`) and make it an empty directory for a new run; an
    old run there is deleted (:func:`set_aside`, then :meth:`Replaced.discard`).

    Raises:
        StoreError: one line naming ``path`` and the problem.
    """
    path, replaced = set_aside(path, overwrite=overwrite)
    if replaced is not None:
        replaced.discard()
    return path


@dataclass(frozen=True)
class Replaced:
    """An earlier run that ``--overwrite`` replaces, kept aside (a hidden sibling) until
    the new run has stored its first steps."""

    path: Path
    aside: Path

    def discard(self) -> None:
        shutil.rmtree(self.aside, ignore_errors=True)

    def restore(self) -> None:
        """Put the earlier run back, in place of a new run that stored nothing."""
        _put_back(self.aside, self.path)


def aside_path(path: Path) -> Path:
    """Where this process keeps the folder ``path`` while it replaces it: a hidden
    sibling named after the folder, this host and this process (``.NAME.old-HOST-PID``)."""
    path = Path(path)
    return path.with_name(f".{path.name}{_ASIDE}{socket.gethostname()}-{os.getpid()}")


_ASIDE = ".old-"


def _put_back(aside: Path, path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    aside.rename(path)


def recover_replaced(path: Path, keep_new: Callable[[Path], bool] = Path.exists) -> bool:
    """Finish a replacement of the folder ``path`` that a killed process left half done.

    A folder being replaced is first renamed aside (:func:`aside_path`); a process killed
    (``kill -9``, a power cut) before it removed the aside leaves it there, hidden. Each
    aside whose process is gone is put back in place of ``path`` when ``path`` is missing
    or ``keep_new(path)`` is false (a new run that stored no steps yet), and deleted
    otherwise (the replacement had finished). Asides of live processes, and of other
    hosts (whose processes cannot be checked from here), are left alone.

    Returns whether an earlier folder was put back.
    """
    path = Path(path)
    prefix = f".{path.name}{_ASIDE}"
    here = socket.gethostname()
    found = []
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            host, _, pid = entry.name[len(prefix) :].rpartition("-")
            if entry.name.startswith(prefix) and host == here and pid.isdigit():
                with contextlib.suppress(OSError):  # (one gone meanwhile: the others count)
                    found.append((int(pid), entry.stat().st_mtime, entry))
    restored = False
    for pid, _, aside in sorted(found, key=lambda f: f[1]):
        if _process_alive(pid):
            continue
        if path.exists() and keep_new(path):
            shutil.rmtree(aside, ignore_errors=True)
        else:
            _put_back(aside, path)
            restored = True
    return restored


def publish_dir(tmp: Path, final: Path) -> None:
    """Put the finished folder ``tmp`` at ``final``, replacing what is there.

    ``final`` is at every moment the old folder, or missing for the instant between two
    renames (the old one then waits aside, and :func:`recover_replaced`, which this calls
    first, puts it back), or the new one: never half-written.
    """
    tmp, final = Path(tmp), Path(final)
    recover_replaced(final)
    if not (final.exists() or final.is_symlink()):
        tmp.rename(final)
        return
    aside = aside_path(final)
    final.rename(aside)  # aside first: a stop before the next rename leaves it whole
    try:
        tmp.rename(final)
    except OSError:
        aside.rename(final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def set_aside(path: Path, *, overwrite: bool) -> tuple[Path, Replaced | None]:
    """Check ``path`` (:func:`check_out`) and make it an empty directory for a new run.

    An old run there is renamed aside, not deleted: returned as :class:`Replaced`, it is
    the caller's to discard once the new run stands, or to restore if the new run fails
    before storing anything.

    Raises:
        StoreError: one line naming ``path`` and the problem.
    """
    path = Path(path)
    recover_replaced(path, holds_generations)
    replace = check_out(path, overwrite=overwrite)
    replaced = None
    try:
        if replace:
            old = path.resolve()
            aside = aside_path(old)
            old.rename(aside)  # aside first: a failure below leaves the old run whole
            replaced = Replaced(old, aside)
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        if replaced is not None:
            replaced.aside.rename(replaced.path)
        raise StoreError(f"--out {path}: {err.strerror or err}") from None
    check_writable(path)
    return path, replaced


def holds_generations(path: Path) -> bool:
    """Whether the run in ``path`` has stored steps (a generation)."""
    stored = Path(path) / "store"
    return stored.is_dir() and any(not p.name.startswith(".") for p in stored.iterdir())


def _live_pid(path: Path) -> int | None:
    """The pid holding the run, if that process is alive on this host."""
    try:
        info = json.loads((Path(path) / PID_FILE).read_text())
        pid, host = int(info["pid"]), info["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None  # this process: not another writer
    if host != socket.gethostname():
        return pid  # cannot check another host's processes: assume it is alive
    return pid if _process_alive(pid) else None


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def writer_pid(path: Path) -> int | None:
    """The process writing the folder ``path`` (:func:`hold`), if alive on this host."""
    return _live_pid(Path(path))


@contextlib.contextmanager
def hold(path: Path):
    """Mark the run as being written by this process for the duration of the block."""
    path = Path(path)
    other = _live_pid(path)
    if other is not None:
        raise StoreError(f"run {path} is being written by process {other}")
    atomic_write_text(
        path / PID_FILE, json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
    )
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            (path / PID_FILE).unlink()


@dataclass(frozen=True)
class Status:
    status: str
    steps_done: int
    steps_total: int
    generation: str | None
    updated: float
    message: str = ""
    #: The generation describes itself (holds generation.json, with its files' sizes): every
    #: generation written by this version does; one written before they did need not.
    described: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "status": self.status,
            "steps_done": self.steps_done,
            "steps_total": self.steps_total,
            "generation": self.generation,
            "updated": self.updated,
            "message": self.message,
            "described": self.described,
        }


def write_status(path: Path, status: Status) -> None:
    atomic_write_text(Path(path) / STATUS_FILE, json.dumps(status.to_json(), indent=1))


def read_status(path: Path) -> Status:
    """The stored status; ``running`` only while a live process holds the run.

    An earlier run that a killed ``--overwrite`` left aside is put back first, when the
    run replacing it had stored no steps (:func:`recover_replaced`; only then: a sweep
    reads the status of each of its runs, and this lists their folder).
    """
    path = Path(path)
    if not holds_generations(path):
        recover_replaced(path, holds_generations)
    if not path.is_dir():
        raise StoreError(f"{path} does not exist or is not a directory")
    if not (path / CONFIG_FILE).is_file():
        raise StoreError(f"{path} is not a repdrift run (no {CONFIG_FILE})")
    try:
        data = json.loads((path / STATUS_FILE).read_text())
        status = Status(
            status=data["status"],
            steps_done=data["steps_done"],
            steps_total=data["steps_total"],
            generation=data["generation"],
            updated=data["updated"],
            message=data.get("message", ""),
            described=data.get("described", False) is True,
        )
    except FileNotFoundError:
        if holds_generations(path):
            # resuming it from step 0 would delete what was stored
            raise StoreError(
                f"run {path} is corrupt: {STATUS_FILE} is missing but it holds stored steps"
            ) from None
        # Killed between writing the configuration and the first status: nothing ran.
        return Status("partial", 0, 0, None, 0.0, "stopped before it started")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise StoreError(f"run {path} is corrupt: {STATUS_FILE} is unreadable") from None
    problem = _status_problem(status)
    if (
        problem is None
        and status.generation is None
        and status.steps_done > 0
        and holds_generations(path)
    ):
        # (with 0 steps done, a generation without a status naming it is the first one,
        # written just before a kill: the run starts again)
        problem = f"names no stored generation for its {status.steps_done:,} steps done"
    if problem is not None:
        raise StoreError(f"run {path} is corrupt: {STATUS_FILE} {problem}")
    if status.status in ("running", "starting") and _live_pid(path) is None:
        status = dataclasses.replace(status, status="partial")
    elif status.status == "partial" and _live_pid(path) is not None:
        status = dataclasses.replace(status, status="running")
    return status


#: A stored generation's name (:func:`write_generation`): its step, and a suffix when a
#: later generation is stored at the same step.
_GENERATION_NAME = re.compile(r"g\d{12}(-\d+)?")


def _status_problem(status: Status) -> str | None:
    """What is wrong with a parsed ``status.json``, or ``None`` (types, ranges, agreement)."""

    def count(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if status.status not in RUN_STATUSES:
        return f"holds status {status.status!r} (a status is one of {', '.join(RUN_STATUSES)})"
    if not (count(status.steps_done) and count(status.steps_total)):
        return (
            f"holds steps {status.steps_done!r} of {status.steps_total!r} "
            "(whole numbers from 0 are expected)"
        )
    if status.steps_total and status.steps_done > status.steps_total:
        return f"holds {status.steps_done:,} steps done of {status.steps_total:,}"
    if status.status == "complete" and status.steps_done != status.steps_total:
        return f"says complete at {status.steps_done:,} of {status.steps_total:,} steps"
    if status.generation is not None and not (
        isinstance(status.generation, str) and _GENERATION_NAME.fullmatch(status.generation)
    ):
        return f"names the generation {status.generation!r}"
    if not (
        isinstance(status.updated, int | float)
        and not isinstance(status.updated, bool)
        and math.isfinite(status.updated)
    ):
        return f"holds the time {status.updated!r}"
    if not isinstance(status.message, str):
        return f"holds the message {status.message!r}"
    return None


# ------------------------------------------------------------------------ generations


def generation_path(path: Path, generation: str) -> Path:
    return Path(path) / "store" / generation


def write_generation(
    path: Path,
    *,
    steps_done: int,
    metrics: xr.Dataset,
    snapshots: xr.Dataset,
    checkpoint: dict[str, np.ndarray],
    status: Status,
    step: int | None = None,
    prune: bool = True,
    computed_on: dict[str, Any] | None = None,
    computed_earlier: Sequence[dict[str, Any]] = (),
) -> Status:
    """Store one checkpoint atomically and point ``status.json`` at it.

    ``step`` is the step the checkpoint's state is at (default ``steps_done``; a flagged
    run's ``steps_done`` is where it stopped while its state goes on with its batch).
    ``prune=False`` keeps the older generations (see :func:`prune_generations`).
    ``computed_on``: where the steps were computed (:func:`repdrift.cores.computed_on`),
    kept in the generation's ``generation.json`` (:func:`read_computed_on`);
    ``computed_earlier``: where the run's earlier steps were, if elsewhere
    (:func:`read_computed_earlier`).
    """
    path = Path(path)
    root = path / "store"
    root.mkdir(exist_ok=True)
    previous = status.generation
    name = f"g{steps_done:012d}"
    if name == previous:
        name = f"{name}-{time.time_ns()}"
    new = Status(
        status.status, steps_done, status.steps_total, name, time.time(), status.message, True
    )
    tmp = temporary_dir(root, f".{name}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's notes about consolidated metadata, codecs
        for ds, file in ((metrics, "metrics.zarr"), (snapshots, "snapshots.zarr")):
            ds.to_zarr(tmp / file, mode="w", consolidated=True, encoding=_checksummed(ds))
    with open(tmp / "checkpoint.npz", "wb") as fh:
        np.savez(fh, **checkpoint)
        fh.flush()
        os.fsync(fh.fileno())
    described = {
        **new.to_json(),
        "step": int(steps_done if step is None else step),
        "files": _file_sizes(tmp),
        **({} if computed_on is None else {"computed_on": computed_on}),
        **({"computed_earlier": list(computed_earlier)} if computed_earlier else {}),
    }
    atomic_write_text(tmp / GENERATION_FILE, json.dumps(described, indent=1))
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(root)
    write_status(path, new)
    if prune:
        prune_generations(path, name)
    return new


def _file_sizes(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its size: what a generation holds when written."""
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _check_files(path: Path, gen: Path) -> None:
    """Refuse a generation that lost or cut a file it was written with.

    Zarr reads a missing chunk, or a whole missing array under consolidated metadata, as its
    fill value: without this check a deleted ``loss`` array reads as NaN and a deleted
    ``step`` as zeros, and a resumed run completes on them. (Generations written before
    they listed their files are not checked.)
    """
    try:
        written = json.loads((gen / GENERATION_FILE).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        raise StoreError(
            f"run {path} is corrupt: {gen.name}/{GENERATION_FILE} is unreadable"
        ) from None
    if not isinstance(written, dict):
        return
    for name, size in written.items():
        try:
            actual = (gen / name).stat().st_size
        except OSError:
            raise StoreError(f"run {path} is corrupt: {gen.name}/{name} is missing") from None
        if actual != size:
            raise StoreError(
                f"run {path} is corrupt: {gen.name}/{name} has {actual:,} bytes, "
                f"written with {size:,}"
            )


def prune_generations(path: Path, keep: str) -> None:
    """Remove every generation of the run but ``keep`` (and leftovers of killed writes)."""
    root = Path(path) / "store"
    if not root.is_dir():
        return
    for old in root.iterdir():
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def generation_step(path: Path, generation: str) -> int | None:
    """The step a stored generation's state is at; ``None`` if it does not say (a
    generation stored before generations described themselves, or a missing one)."""
    try:
        data = json.loads((generation_path(path, generation) / GENERATION_FILE).read_text())
        return int(data["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_computed_on(path: Path) -> dict[str, Any] | None:
    """Where the run's current generation was computed (:func:`write_generation`);
    ``None`` where it does not say: no generation yet, one written before generations
    recorded it, or an unreadable status or description (reading the run says why)."""
    return read_computed(path)[0]


def read_computed(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """:func:`read_computed_on` and :func:`read_computed_earlier` in one read."""
    described = _described(path)
    found = described.get("computed_on")
    return (found if isinstance(found, dict) else None), _earlier(described)


def read_computed_earlier(path: Path) -> list[dict[str, Any]]:
    """Where the run's earlier steps were computed, where that was not where its last
    steps were: ``[{"until_step": 100, "computed_on": {...}}, ...]``, oldest first, each
    place until the step its successor took over (a run resumed on another machine,
    device, thread count or JAX; :func:`repdrift.cores.computed_elsewhere`). Empty where
    all its steps were computed in one place, or the run does not say."""
    return _earlier(_described(path))


def _earlier(described: dict[str, Any]) -> list[dict[str, Any]]:
    found = described.get("computed_earlier")
    if not isinstance(found, list):
        return []
    return [
        e
        for e in found
        if isinstance(e, dict)
        and isinstance(e.get("until_step"), int)
        and isinstance(e.get("computed_on"), dict)
    ]


def _described(path: Path) -> dict[str, Any]:
    """The current generation's ``generation.json`` (empty where it cannot be read)."""
    try:
        generation = json.loads((Path(path) / STATUS_FILE).read_text())["generation"]
        data = json.loads((generation_path(path, generation) / GENERATION_FILE).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def find_generation(path: Path, step: int) -> str | None:
    """The stored generation of the run whose state is at ``step`` (the newest if several)."""
    root = Path(path) / "store"
    if not root.is_dir():
        return None
    names = sorted(
        (p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda n: (len(n), n),
    )
    found = [n for n in names if generation_step(path, n) == step]
    return found[-1] if found else None


def roll_back(path: Path, generation: str) -> Status:
    """Point the run back at an older stored ``generation`` and remove the newer ones.

    The run reads as stopped (``partial``) with the steps and message it was stored with
    then; resuming it retraces what was removed. For runs of one batch killed while their
    new generations were being written one after another: put back to their common step,
    they are continued together again (with the same padded shapes, on which the last bits
    of their records depend).

    Raises:
        StoreError: the generation is not stored or does not describe itself.
    """
    path = Path(path)
    try:
        data = json.loads((generation_path(path, generation) / GENERATION_FILE).read_text())
        old = Status(
            "partial",
            int(data["steps_done"]),
            int(data["steps_total"]),
            generation,
            time.time(),
            str(data.get("message", "")),
            described=True,
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise StoreError(f"run {path}: generation {generation} cannot be rolled back to") from None
    write_status(path, old)
    prune_generations(path, generation)
    return old


def _checksummed(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Zarr encodings that store each chunk with a checksum of its content (zstd's), so
    that a chunk damaged in place, its size unchanged, is read as corrupt, not as other
    numbers (the sizes in ``generation.json`` catch only chunks lost or cut short)."""
    from zarr.codecs import ZstdCodec

    codec = ZstdCodec(level=0, checksum=True)  # zarr's default, with the checksum
    return {name: {"compressors": (codec,)} for name in ds.variables}


def read_generation(path: Path, status: Status) -> tuple[xr.Dataset, xr.Dataset, dict]:
    """``(metrics, snapshots, checkpoint)`` of the current generation, loaded in memory."""
    if status.generation is None:
        raise StoreError(
            f"run {path} has no stored records yet (it stopped before its first "
            "checkpoint); run `repdrift resume` on it"
        )
    gen = generation_path(path, status.generation)
    if (gen / GENERATION_FILE).exists():
        _check_files(path, gen)
    elif status.described and gen.is_dir():
        # without it, a lost chunk or array would read as its fill value (see _check_files)
        raise StoreError(f"run {path} is corrupt: {gen.name}/{GENERATION_FILE} is missing")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metrics = xr.open_zarr(gen / "metrics.zarr", consolidated=True, chunks=None).load()
            snapshots = xr.open_zarr(gen / "snapshots.zarr", consolidated=True, chunks=None).load()
        with np.load(gen / "checkpoint.npz") as npz:
            checkpoint = {k: npz[k] for k in npz.files}
    except Exception as err:
        reason = first_line(err)
        raise StoreError(f"run {path} is corrupt: cannot read {gen.name}: {reason}") from None
    return metrics, snapshots, checkpoint
