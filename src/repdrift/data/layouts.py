"""Recognise what a path holds and read its sessions.

Recognised layouts (:func:`describe`):

* ``multiple_maps``: one track folder (``finalEventsMat_<s>.mat`` …), a mouse folder of
  track folders, or a folder of mouse folders;
* ``spike_trains``: a folder of ``*spike_train.mat`` + ``*stimulus_trace.mat``;
* ``nwb``: one ``.nwb`` file or a folder of them;
* ``plain``: one ``.npz``/``.parquet`` session file or a folder of them.

Sessions come one at a time (:func:`iter_sessions`), grouped by series (animal and
track) and ordered by day, because a whole data set does not need to sit in memory.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import multiple_maps, plain, spike_trains
from .errors import DataError
from .session import Session

LAYOUTS = ("multiple_maps", "spike_trains", "nwb", "plain")


@dataclass(frozen=True)
class Layout:
    """What :func:`describe` found: the layout name and how to read each series."""

    name: str
    path: Path
    series: tuple[str, ...]  # one label per group of sessions that belong together
    readers: tuple[Callable[[], Iterator[Session]], ...]
    n_sessions: int

    def sessions(self) -> Iterator[Session]:
        for read in self.readers:
            yield from read()


def _track_folders(path: Path) -> list[Path]:
    """Track folders at ``path`` itself, one level down, or two levels down."""
    if multiple_maps.is_track_folder(path):
        return [path]
    subfolders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    tracks = [p for p in subfolders if multiple_maps.is_track_folder(p)]
    if tracks:
        return tracks
    return [
        t
        for mouse in subfolders
        for t in sorted(mouse.iterdir())
        if not t.name.startswith(".") and multiple_maps.is_track_folder(t)
    ]


def _numbered(sessions: list[Session]) -> list[Session]:
    """Sessions of one series ordered by day, numbered 1.. where no number was given."""
    sessions = sorted(sessions, key=lambda s: (s.day, s.session, s.source))
    if all(s.session > 0 for s in sessions):
        for a, b in itertools.pairwise(sorted(sessions, key=lambda s: s.session)):
            if a.session == b.session:
                raise DataError(
                    b.source,
                    f"is {b.label()}, as {a.source} is; give each session its own number",
                )
        return sessions
    return [dataclasses.replace(s, session=k) for k, s in enumerate(sessions, start=1)]


def _file_readers(
    files: list[Path], read: Callable[[Path], Session]
) -> tuple[tuple[str, ...], tuple[Callable[[], Iterator[Session]], ...], int]:
    # Single-session files are small enough to read once to learn their series.
    groups: dict[tuple[str, str], list[Session]] = {}
    for f in files:
        session = read(f)
        groups.setdefault(session.series, []).append(session)
    labels, readers = [], []
    for key in sorted(groups):
        members = _numbered(groups[key])
        labels.append("/".join(k for k in key if k))
        readers.append(lambda members=members: iter(members))
    return tuple(labels), tuple(readers), sum(len(g) for g in groups.values())


def describe(path: str | Path) -> Layout:
    """Recognise the layout at ``path``.

    Raises:
        DataError: the path does not exist or holds no recognised layout.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    if not (path.is_file() or path.is_dir()):
        raise DataError(path, "neither a regular file nor a folder (a device, pipe or socket)")
    from repdrift import store

    if store.is_run(path):
        raise DataError(
            path,
            "a repdrift simulation run, not a recording (`repdrift inspect` reads it; "
            "`repdrift infer predict MODEL RUN` infers its rule)",
        )
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".nwb":
            from .nwb import load_nwb

            labels, readers, n = _file_readers([path], load_nwb)
            return Layout("nwb", path, labels, readers, n)
        if suffix in plain.SUFFIXES:
            labels, readers, n = _file_readers([path], plain.load_plain)
            return Layout("plain", path, labels, readers, n)
        raise DataError(
            path,
            "not a recognised layout: give a .nwb, .npz or .parquet file, or a folder "
            "(multiple_maps tree, spike_train/stimulus_trace folder, or session files)",
        )
    tracks = _track_folders(path)
    if tracks:
        labels, readers = [], []
        n = 0
        for folder in tracks:
            animal = folder.resolve().parent.name
            labels.append(f"{animal}/{multiple_maps.track_name(folder)}")
            n += len(multiple_maps.session_numbers(folder))
            readers.append(lambda folder=folder: multiple_maps.iter_track(folder))
        return Layout("multiple_maps", path, tuple(labels), tuple(readers), n)
    if spike_trains.is_spike_train_folder(path):
        sessions = spike_trains.load_recordings(path)
        groups: dict[tuple[str, str], list[Session]] = {}
        for s in sessions:
            groups.setdefault(s.series, []).append(s)
        labels = tuple("/".join(k for k in key if k) for key in groups)
        readers = tuple(lambda g=g: iter(g) for g in groups.values())
        return Layout("spike_trains", path, labels, readers, len(sessions))
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    nwb_files = [p for p in files if p.suffix.lower() == ".nwb"]
    plain_files = [p for p in files if p.suffix.lower() in plain.SUFFIXES]
    if nwb_files and plain_files:
        raise DataError(path, "mixes .nwb and plain session files; keep one kind per folder")
    if nwb_files:
        from .nwb import load_nwb

        labels, readers, n = _file_readers(nwb_files, load_nwb)
        return Layout("nwb", path, labels, readers, n)
    if plain_files:
        labels, readers, n = _file_readers(plain_files, plain.load_plain)
        return Layout("plain", path, labels, readers, n)
    raise DataError(
        path,
        "not a recognised layout: expected a multiple_maps track/mouse/data-set folder "
        "(finalEventsMat_<s>.mat, behavior_<s>.mat, frameLog_<s>.csv), a folder of "
        "*spike_train.mat and *stimulus_trace.mat, or .nwb/.npz/.parquet session files",
    )


def iter_sessions(path: str | Path) -> Iterator[Session]:
    """Every session at ``path``, series by series, each series ordered by day."""
    yield from describe(path).sessions()


def load_sessions(path: str | Path) -> list[Session]:
    """Every session at ``path`` in memory (see :func:`iter_sessions` for large data)."""
    return list(iter_sessions(path))
