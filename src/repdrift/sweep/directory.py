"""The sweep directory: its plan, one run directory per run, summaries and the table.

Layout of a sweep directory ``DIR``::

    DIR/sweep.json            format, name, the spec's text and the expanded runs (the plan),
                              written once, atomically, before anything else
    DIR/spec.toml             the spec as given (for reading; the plan is the truth)
    DIR/runs/r00000/          one run directory per run, as `repdrift simulate` writes it
    DIR/summaries/r00000.json the run's summary columns, written once it has finished
    DIR/runs.parquet          the results table (rewritten atomically as runs finish)
    DIR/running.pid           present while a sweep process drives the sweep
    DIR/damaged/r00000-T/     a run that could not be read, set aside by
                              ``repdrift sweep resume --repair`` (``run/`` and ``summary.json``)

Nothing is ever deleted or overwritten in a sweep directory except the table (replaced
atomically by a newer one computed from the run directories), files the store itself
replaces inside a run directory, the summary of a finished run that a resumed batch
puts back to its mates' checkpoint (see ``executor._align``: it finishes again, to the same
numbers), and a summary that ``--repair`` finds different from its run's records; a run is
stored in ``runs/<id>``, and a damaged one is moved, never deleted, to ``damaged/``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repdrift import store
from repdrift.sweep.spec import PlannedRun, SweepError, plan_digest, stored_digest
from repdrift.terminal import first_line

SWEEP_FILE = "sweep.json"
SPEC_FILE = "spec.toml"
TABLE_FILE = "runs.parquet"
RUNS_DIR = "runs"
SUMMARIES_DIR = "summaries"
DAMAGED_DIR = "damaged"
FORMAT_VERSION = 1
#: A run id (as :func:`repdrift.sweep.spec.expand` names runs): ``r00000``, ``r00001``, ...
RUN_ID = re.compile(r"r[0-9]+")

#: Run statuses that will not change any more.
FINISHED = ("complete", "diverged", "silent")


@dataclass(frozen=True)
class Sweep:
    """An opened sweep directory.

    Attributes:
        path: the directory.
        name: the preset name or the spec file's name.
        spec_text: the spec's TOML text.
        runs: the expanded runs, in order.
        digest: :func:`repdrift.sweep.spec.plan_digest` of ``runs``.
        created: creation time (seconds since the epoch).
        batches: the run ids of each batch, fixed when the sweep is created, so that a
            resumed or retried batch trains with the same batch mates (and so the same
            padded shapes) as an uninterrupted one.
    """

    path: Path
    name: str
    spec_text: str
    runs: tuple[PlannedRun, ...]
    digest: str
    created: float
    batches: tuple[tuple[str, ...], ...]

    def run_path(self, run_id: str) -> Path:
        return self.path / RUNS_DIR / run_id

    def summary_path(self, run_id: str) -> Path:
        return summary_file(self.path, run_id)

    @property
    def table_path(self) -> Path:
        return self.path / TABLE_FILE

    def by_id(self) -> dict[str, PlannedRun]:
        return {r.run: r for r in self.runs}


def is_sweep(path: str | Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def holds_plan(sweep: Sweep, digest: str) -> bool:
    """Whether ``sweep`` holds the plan of :func:`~repdrift.sweep.spec.plan_digest`
    ``digest``. A sweep made before a configuration field was added stored its runs without
    it: its own digest differs, but its runs read by this version (the new field at its
    default, which keeps the old behaviour) are the plan, and it continues."""
    return sweep.digest == digest or plan_digest(sweep.runs) == digest


def create(
    out: str | Path,
    *,
    name: str,
    spec_text: str,
    runs: list[PlannedRun],
    batches: list[list[str]],
) -> Sweep:
    """Create the sweep directory ``out`` for ``runs`` in ``batches`` (lists of run ids), or
    open it if it holds this very plan (then its own batches are kept), also when it was
    created by an earlier version whose configurations lacked fields added since.

    Refused (:class:`SweepError`) when ``out`` is a file, a non-empty directory that is not
    a sweep, or a sweep of another plan.
    """
    ids = [r.run for r in runs]
    if sorted(i for b in batches for i in b) != sorted(ids):
        raise ValueError("batches must hold every run exactly once")
    out = Path(out)
    digest = plan_digest(runs)
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out} exists and is not a directory")
    if is_sweep(out):
        existing = open_sweep(out)
        if not holds_plan(existing, digest):
            raise SweepError(
                f"--out {out} holds another sweep ({existing.name!r}, {len(existing.runs)} "
                "runs); choose a new directory, or continue that one with "
                f"`repdrift sweep resume {out}`"
            )
        return existing
    if out.is_dir() and any(out.iterdir()):
        raise SweepError(
            f"--out {out} exists, is not empty and is not a repdrift sweep; choose a new directory"
        )
    out.mkdir(parents=True, exist_ok=True)
    created = time.time()
    record = {
        "format": FORMAT_VERSION,
        "kind": "repdrift-sweep",
        "name": name,
        "created": created,
        "digest": digest,
        "spec": spec_text,
        "runs": [r.to_json() for r in runs],
        "batches": [list(b) for b in batches],
    }
    store.atomic_write_text(out / SWEEP_FILE, json.dumps(record, indent=0))
    store.atomic_write_text(out / SPEC_FILE, spec_text)
    (out / RUNS_DIR).mkdir(exist_ok=True)
    (out / SUMMARIES_DIR).mkdir(exist_ok=True)
    return Sweep(
        out, name, spec_text, tuple(runs), digest, created, tuple(tuple(b) for b in batches)
    )


def open_sweep(path: str | Path) -> Sweep:
    """Open a sweep directory (raises :class:`SweepError` if it is not one)."""
    path = Path(path)
    if not path.is_dir():
        raise SweepError(f"{path} does not exist or is not a directory")
    if not is_sweep(path):
        hint = (
            " (it is a run: `repdrift inspect` and `repdrift resume` read runs)"
            if store.is_run(path)
            else ""
        )
        raise SweepError(f"{path} is not a repdrift sweep (no {SWEEP_FILE}){hint}")
    try:
        record = json.loads((path / SWEEP_FILE).read_text())
        if not isinstance(record, dict) or record.get("kind") != "repdrift-sweep":
            raise ValueError("not a sweep record")
        if record.get("format") != FORMAT_VERSION:
            raise SweepError(
                f"sweep {path} has format {record.get('format')!r}; this repdrift reads "
                f"format {FORMAT_VERSION}"
            )
        _check_record(record)
        runs = []
        for i, data in enumerate(record["runs"]):
            try:
                runs.append(PlannedRun.from_json(data))
            except Exception as err:
                raise ValueError(f"runs[{i}] ({data['run']}): {first_line(err)}") from None
        if stored_digest(record["runs"]) != record["digest"]:
            # An edited run would train under the plan's id with another configuration
            # than its finished mates, and the table would mix the two.
            raise ValueError(
                "its runs do not match its digest (the plan was changed after the sweep "
                "was created)"
            )
        sweep = Sweep(
            path,
            record["name"],
            record["spec"],
            tuple(runs),
            record["digest"],
            float(record["created"]),
            tuple(tuple(b) for b in record["batches"]),
        )
    except SweepError:
        raise
    except Exception as err:
        raise SweepError(f"sweep {path} is corrupt: {SWEEP_FILE}: {first_line(err)}") from None
    return sweep  # opened, not changed: `sweep inspect` reads a sweep it may not write


def _check_record(record: dict[str, Any]) -> None:
    """The structure of a sweep record (raises ``ValueError`` naming the first problem):
    its texts are texts, its runs a non-empty list with distinct run ids, and its batches
    lists of those ids holding every run exactly once — what the sweep is read and run by
    (a run id is also a folder name in ``runs/``)."""
    for key in ("name", "spec", "digest"):
        if not isinstance(record.get(key), str):
            raise ValueError(f"{key} is {_shown(record.get(key))}, not a text")
    created = record.get("created")
    if isinstance(created, bool) or not isinstance(created, int | float):
        raise ValueError(f"created is {_shown(created)}, not a time")
    runs = record.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ValueError(f"runs is {_shown(runs)}, not a list of runs")
    ids: set[str] = set()
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise ValueError(f"runs[{i}] is {_shown(run)}, not a run")
        rid = run.get("run")
        if not isinstance(rid, str) or not RUN_ID.fullmatch(rid):
            raise ValueError(f"runs[{i}].run is {_shown(rid)}, not a run id (r00000, ...)")
        if rid in ids:
            raise ValueError(f"runs[{i}].run: run id {rid} is listed twice")
        ids.add(rid)
        if not isinstance(run.get("part"), str):
            raise ValueError(f"runs[{i}].part is {_shown(run.get('part'))}, not a text")
        if not isinstance(run.get("config"), dict):
            raise ValueError(f"runs[{i}].config is {_shown(run.get('config'))}, not a table")
    batches = record.get("batches")
    if not isinstance(batches, list) or not all(
        isinstance(b, list) and all(isinstance(i, str) for i in b) for b in batches
    ):
        raise ValueError(f"batches is {_shown(batches)}, not lists of run ids")
    seen: set[str] = set()
    for i, batch in enumerate(batches):
        for rid in batch:
            if rid not in ids:
                raise ValueError(
                    f"batches[{i}] names {_shown(rid)}, which is not a run of the sweep"
                )
            if rid in seen:
                raise ValueError(f"batches[{i}]: run {rid} is in the batches more than once")
            seen.add(rid)
    missing = [r["run"] for r in runs if r["run"] not in seen]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"batches leave out {len(missing)} of its runs ({shown})")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def sweep_holding(path: str | Path) -> Path | None:
    """The sweep directory whose ``runs/`` folder ``path`` is (or would be) in, else ``None``.

    A sweep's runs are written only by the sweep (``repdrift sweep run`` / ``resume``):
    ``repdrift simulate --out`` there would put a run of another configuration, or another
    batch, under a run id of the plan.
    """
    return store.runs_folder_owner(path, SWEEP_FILE)


def run_status(sweep: Sweep, planned: PlannedRun) -> store.Status:
    """The stored status of a run; ``pending`` when nothing of it is stored yet."""
    path = sweep.run_path(planned.run)
    if not store.is_run(path):
        return store.Status("pending", 0, planned.config.run.steps, None, 0.0)
    try:
        return store.read_status(path)
    except store.StoreError as err:
        return store.Status("corrupt", 0, 0, None, 0.0, str(err))


def lost_runs(
    sweep: Sweep, table_status: dict[str, str], statuses: dict[str, store.Status]
) -> dict[str, str]:
    """The runs whose stored status cannot be read, or that the table ``{run id:
    status}`` calls finished but whose folder is gone (``{run id: why}``), from each
    run's :func:`run_status` (``statuses``, by run id): what ``repdrift sweep inspect``
    checks before it reports the table."""
    lost: dict[str, str] = {}
    for planned in sweep.runs:
        status = statuses[planned.run]
        if status.status == "corrupt":
            lost[planned.run] = status.message
        elif status.status == "pending" and table_status.get(planned.run) in FINISHED:
            lost[planned.run] = f"{RUNS_DIR}/{planned.run} is gone"
    return lost


def damaged_line(sweep: Sweep, damaged: dict[str, str]) -> str:
    """One line naming the runs that cannot be read, and how to go on."""
    (first, reason), others = next(iter(damaged.items())), list(damaged)[1:]
    more = ""
    if others:
        more = f"; and {len(others)} more: {', '.join(others[:5])}"
        more += " ..." if len(others) > 5 else ""
    one = not others
    return (
        f"sweep {sweep.path}: {'a run' if one else f'{len(damaged)} runs'} cannot be read "
        f"({first}: {reason}{more}); `repdrift sweep resume {sweep.path} --repair` moves "
        f"{'it' if one else 'them'} to {sweep.path / DAMAGED_DIR} and runs "
        f"{'it' if one else 'them'} again"
    )


def clear_unstarted(path: Path) -> None:
    """Remove a run directory that holds no configuration: nothing of a run is in it.

    A process killed while ``simulate_batch`` created the directory can leave it empty or
    holding only a temporary file of the first atomic write; the next attempt needs it
    empty. A directory with anything else in it is left alone (and the run fails with the
    store's message).
    """
    if not path.is_dir() or store.is_run(path):
        return
    entries = list(path.iterdir())
    if all(e.name.startswith(".") and e.is_file() for e in entries):
        for e in entries:
            with contextlib.suppress(FileNotFoundError):
                e.unlink()


def summary_file(root: str | Path, run_id: str) -> Path:
    """Where the summary columns of run ``run_id`` of the sweep in ``root`` are stored."""
    return Path(root) / SUMMARIES_DIR / f"{run_id}.json"


def read_summary(root: str | Path, run_id: str) -> dict[str, Any] | None:
    """The stored summary columns of a run: ``None`` if not written yet, or if what is
    stored is not a table of numbers (damaged: it is derived data, which
    ``repdrift sweep resume`` writes again from the run)."""
    try:
        data = json.loads(summary_file(root, run_id).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(
        v is None or isinstance(v, int | float) for v in data.values()
    ):
        return None
    return {k: (math.nan if v is None else v) for k, v in data.items()}


def summary_text(columns: dict[str, Any]) -> str:
    """The stored form of a run's summary columns (JSON, NaN as null)."""
    return json.dumps(
        {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in columns.items()
        }
    )


def write_summary(root: str | Path, run_id: str, columns: dict[str, Any]) -> None:
    """Store a run's summary columns atomically (NaN as null)."""
    path = summary_file(root, run_id)
    path.parent.mkdir(exist_ok=True)
    store.atomic_write_text(path, summary_text(columns))


def set_aside(sweep: Sweep, run_id: str) -> Path:
    """Move a damaged run and its summary out of the sweep, to ``DIR/damaged/<id>-<time>/``
    (``run/``, ``summary.json``), so that the sweep runs it again; returns that folder.

    The summary goes first: a kill in between leaves the run in place, still damaged, and
    never a summary beside a run that is run again (a finished run's summary is written
    only where none is).
    """
    base = sweep.path / DAMAGED_DIR / f"{run_id}-{time.strftime('%Y%m%dT%H%M%S')}"
    dest, n = base, 1
    while dest.exists():
        dest, n = base.with_name(f"{base.name}.{n}"), n + 1
    dest.mkdir(parents=True)
    with contextlib.suppress(FileNotFoundError):
        os.rename(summary_file(sweep.path, run_id), dest / "summary.json")
    with contextlib.suppress(FileNotFoundError):
        os.rename(sweep.run_path(run_id), dest / "run")
    return dest


def remove_stale_lock(path: Path, *, older_than_s: float) -> bool:
    """Remove a run's writer mark left by a process on *another host* that is gone.

    The store cannot check another host's processes and treats such a mark as live; a
    cluster worker that died leaves one behind. It is removed only when the run's status
    has not been updated for ``older_than_s`` seconds (a live writer updates it at every
    checkpoint). Returns whether a mark was removed.
    """
    import socket

    pid_file = path / store.PID_FILE
    try:
        info = json.loads(pid_file.read_text())
        status = json.loads((path / store.STATUS_FILE).read_text())
    except (OSError, ValueError):
        return False
    if info.get("host") == socket.gethostname():
        return False  # the store checks processes of this host itself
    if time.time() - float(status.get("updated", 0.0)) < older_than_s:
        return False
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return True


__all__ = [
    "DAMAGED_DIR",
    "FINISHED",
    "SPEC_FILE",
    "SUMMARIES_DIR",
    "SWEEP_FILE",
    "TABLE_FILE",
    "Sweep",
    "clear_unstarted",
    "create",
    "is_sweep",
    "open_sweep",
    "read_summary",
    "remove_stale_lock",
    "run_status",
    "set_aside",
    "summary_file",
    "summary_text",
    "sweep_holding",
    "write_summary",
]
