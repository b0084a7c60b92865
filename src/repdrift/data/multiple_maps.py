"""Loader for the ``multiple_maps`` layout (Sheintuch, Geva et al. 2020, Curr Biol 30:1–10).

One folder per mouse and track (``<mouse>/Environment A``), holding for each session
``s = 1..8``:

* ``finalEventsMat_s.mat`` — ``allEventsMat``, frames × cells event amplitudes;
* ``behavior_s.mat`` — ``my_mvmt``, a cell array with one struct per trial (trial ``k`` in
  cell ``k``; empty cells for trials without tracking): ``position`` (0–1) or
  ``rough_linearized_location`` (L-shaped track), ``velocity`` or ``velocity_VER2``
  (cm/s, signed), ``filename`` (holds the day, ``..._Day3_...``);
* ``frameLog_s.csv`` — session, trial, first and last frame (1-based) of each trial in
  the events matrix;

and ``cell_registration.mat`` (``cell_to_index_map``, registered cells × sessions, 1-based
index of each cell in that session's events matrix, 0 where it was not detected).

What the published analysis did, and this loader does: trials 2–6 (the linear-track
trials; 1 and 7 are in a bucket); the first behavioural frame of a trial has no imaging
frame and is dropped; behaviour and imaging of a trial are then cut to the shorter of
the two; position is rescaled per trial to ``[0, 1]`` over ``[min(0, lowest),
max(1, highest)]``. The L-shaped track's ``rough_linearized_location`` already runs
monotonically from one end to the other (the published code reversed bins 1–13 of its
``binned`` field to the same effect), and its velocity is ``velocity_VER2``.

Repairs beyond the published code (each recorded in ``Session.notes``). Behaviour and
imaging of a trial should have the same number of frames; the published code cut them to
the shorter whatever the difference. Here a difference of up to ``frame_tolerance``
frames (default 10, half a second) is cut the same way; beyond it, the imaging of the
trial may have been split in two consecutive frame-log trials (which shifts the later
trials by one), recognised by their summed frame count. A trial that still does not
match is left out rather than misaligned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .matfile import load_mat
from .session import Session

RELEVANT_TRIALS: tuple[int, ...] = (2, 3, 4, 5, 6)
FRAME_RATE_HZ = 20.0
_EVENTS = re.compile(r"^finalEventsMat_(\d+)\.mat$", re.IGNORECASE)
_BEHAVIOUR = re.compile(r"^behavior_(\d+)\.mat$", re.IGNORECASE)
_DAY = re.compile(r"day\s*_?(\d+)", re.IGNORECASE)


def is_track_folder(folder: Path) -> bool:
    """Whether ``folder`` looks like one mouse-and-track folder of this layout."""
    return folder.is_dir() and any(_EVENTS.match(p.name) for p in folder.iterdir())


def track_name(folder: Path) -> str:
    """``"Environment A"`` → ``"A"``; other names are kept as they are."""
    match = re.fullmatch(r"(?:environment|env)[\s_-]*(.+)", folder.name, re.IGNORECASE)
    return match.group(1) if match else folder.name


def session_numbers(folder: Path) -> list[int]:
    """Session numbers ``s`` of the ``finalEventsMat_s.mat`` files, sorted.

    A session with a behaviour file but no events file is an error, not a session left
    out: the days of the others would be analysed as if it had never been recorded.
    """
    numbers = sorted(int(m.group(1)) for p in folder.iterdir() if (m := _EVENTS.match(p.name)))
    if not numbers:
        raise DataError(folder, "no finalEventsMat_<session>.mat files")
    behaviour = {int(m.group(1)) for p in folder.iterdir() if (m := _BEHAVIOUR.match(p.name))}
    orphans = sorted(behaviour - set(numbers))
    if orphans:
        raise DataError(
            folder / f"finalEventsMat_{orphans[0]}.mat",
            f"file not found (session {orphans[0]} has behaviour but no events)",
        )
    return numbers


def read_frame_log(path: Path, n_frames: int) -> pd.DataFrame:
    """Frame log as ``trial, first, last`` (0-based, ``last`` exclusive), validated."""
    if not path.is_file():
        raise DataError(path, "file not found (every session needs its frame log)")
    try:
        table = pd.read_csv(path)
    except Exception as err:
        raise DataError(path, f"unreadable frame log ({type(err).__name__}: {err})") from None
    if table.shape[1] < 4 or len(table) == 0:
        raise DataError(path, "expected columns session, trial, first frame, last frame")
    try:
        values = table.iloc[:, 1:4].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise DataError(path, "trial and frame columns must be numbers") from None
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise DataError(path, "trial and frame columns must be whole numbers")
    trial, first, last = values.astype(np.int64).T
    if np.any(first < 1) or np.any(last < first):
        raise DataError(path, "frame ranges must be 1-based with last ≥ first")
    if last.max() > n_frames:
        raise DataError(
            path,
            f"frame log reaches frame {last.max()} but the events matrix has {n_frames} frames",
        )
    if np.unique(trial).size != trial.size:
        raise DataError(path, "a trial number appears twice")
    return pd.DataFrame({"trial": trial, "first": first - 1, "last": last})


def _field(trial: dict[str, Any], names: tuple[str, ...], path: Path, k: int) -> np.ndarray:
    for name in names:
        if name in trial:
            value = np.asarray(trial[name], dtype=float).ravel()
            return value
    raise DataError(path, f"trial {k} has none of the fields {', '.join(names)}")


def read_behaviour(path: Path) -> dict[int, dict[str, Any]]:
    """Trials of ``my_mvmt`` by trial number (empty cells left out)."""
    movement = load_mat(path, ["my_mvmt"])["my_mvmt"]
    if isinstance(movement, dict):  # a single trial stored as a struct
        movement = np.array([movement], dtype=object)
    if not isinstance(movement, np.ndarray) or movement.dtype != object:
        raise DataError(path, "my_mvmt must be a cell array with one struct per trial")
    trials = {}
    for k, entry in enumerate(movement.ravel(), start=1):
        if isinstance(entry, dict) and entry:
            trials[k] = entry
        elif (
            isinstance(entry, np.ndarray)
            and entry.dtype == object
            and entry.size == 1
            and isinstance(entry.flat[0], dict)
        ):
            trials[k] = entry.flat[0]
    return trials


def _day_from(trials: dict[int, dict[str, Any]], path: Path) -> int | None:
    days = set()
    for entry in trials.values():
        name = entry.get("filename", "")
        name = name if isinstance(name, str) else " ".join(map(str, np.ravel(name)))
        days.update(int(d) for d in _DAY.findall(name))
    if len(days) > 1:
        raise DataError(path, f"trial file names disagree on the day ({sorted(days)})")
    return days.pop() if days else None


def _match_trial(
    k: int, length: int, rows: dict[int, tuple[int, int]], offset: int, tolerance: int
) -> tuple[int, int, list[int], int] | None:
    """Frame-log rows for behaviour trial ``k`` of ``length`` frames.

    Tries frame-log trial ``k + offset``, then that trial merged with the next one (the
    imaging of one trial split in two files), which shifts the later trials by one
    (``offset`` grows). Matching any other trial by its length alone would be unsafe:
    most trials last about three minutes.

    Returns:
        ``(first, last, log_trials, offset)`` or ``None`` when nothing matches.
    """
    expected = k + offset

    def fits(first: int, last: int) -> bool:
        return abs(last - first - length) <= tolerance

    if expected in rows and fits(*rows[expected]):
        return rows[expected][0], rows[expected][1], [expected], offset
    after = expected + 1
    contiguous = expected in rows and after in rows and rows[after][0] == rows[expected][1]
    if contiguous and fits(rows[expected][0], rows[after][1]):
        return rows[expected][0], rows[after][1], [expected, after], offset + 1
    return None


def load_session(
    folder: Path,
    number: int,
    registration: np.ndarray | None,
    *,
    animal: str,
    track: str,
    trials: tuple[int, ...] = RELEVANT_TRIALS,
    frame_tolerance: int = 10,
) -> Session:
    """Load session ``number`` of one mouse-and-track folder."""
    events_path = folder / f"finalEventsMat_{number}.mat"
    behaviour_path = folder / f"behavior_{number}.mat"
    log_path = folder / f"frameLog_{number}.csv"
    if not behaviour_path.is_file():
        raise DataError(behaviour_path, "file not found (every session needs its behaviour)")
    events = load_mat(events_path, ["allEventsMat"])["allEventsMat"]
    events = np.asarray(events)
    if events.ndim != 2 or events.dtype.kind not in "biuf" or events.size == 0:
        raise DataError(
            events_path,
            f"allEventsMat must be a numeric frames × cells matrix, got shape {events.shape}",
        )
    events = events.astype(float)
    if not np.all(np.isfinite(events)) or np.any(events < 0):
        raise DataError(events_path, "allEventsMat has negative or non-finite values")
    log = read_frame_log(log_path, events.shape[0])
    behaviour = read_behaviour(behaviour_path)
    day = _day_from(behaviour, behaviour_path)
    notes: list[str] = []
    label = f"{animal} {track} session {number}"
    if day is None:
        notes.append(f"{label}: no day in the trial file names; the session number is used")
    pieces: dict[str, list[np.ndarray]] = {k: [] for k in ("act", "pos", "vel", "trial", "t")}
    rows = {int(t): (int(f), int(l_)) for t, f, l_ in log.itertuples(index=False)}
    offset = 0
    for k in trials:
        if k not in behaviour:
            notes.append(f"{label}: trial {k} has no behaviour in {behaviour_path.name}; left out")
            continue
        entry = behaviour[k]
        position = _field(entry, ("position", "rough_linearized_location"), behaviour_path, k)
        velocity = _field(entry, ("velocity", "velocity_VER2"), behaviour_path, k)
        if position.size != velocity.size or position.size < 2:
            raise DataError(
                behaviour_path,
                f"trial {k}: position and velocity lengths differ "
                f"({position.size} and {velocity.size})",
            )
        # The first behavioural frame has no imaging frame (as in the published code).
        position, velocity = position[1:], velocity[1:]
        match = _match_trial(k, position.size, rows, offset, frame_tolerance)
        if match is None:
            expected = rows.get(k + offset)
            imaging = (
                f"frame-log trial {k + offset} has {expected[1] - expected[0]} imaging frames"
                if expected is not None
                else f"the frame log has no trial {k + offset}"
            )
            notes.append(
                f"{label}: trial {k} has {position.size} behaviour frames but {imaging}; left out"
            )
            continue
        first, last, log_trials, offset = match
        if log_trials != [k]:
            notes.append(
                f"{label}: behaviour trial {k} matched to frame-log trial(s) "
                f"{'+'.join(map(str, log_trials))} by frame count"
            )
        n = min(position.size, last - first)
        finite = position[np.isfinite(position)]
        if finite.size == 0:
            raise DataError(behaviour_path, f"trial {k} has no finite position")
        low, high = min(0.0, finite.min()), max(1.0, finite.max())
        pieces["pos"].append((position[:n] - low) / (high - low))
        pieces["vel"].append(velocity[:n])
        pieces["act"].append(events[first : first + n])
        pieces["trial"].append(np.full(n, k))
        pieces["t"].append((first + np.arange(n)) / FRAME_RATE_HZ)
    if not pieces["act"]:
        raise DataError(
            behaviour_path, f"none of trials {list(trials)} could be aligned with the frame log"
        )
    cell_ids = None
    if registration is not None:
        column = registration[:, number - 1]
        if column.max(initial=0) > events.shape[1]:
            raise DataError(
                folder / "cell_registration.mat",
                f"session {number} refers to cell {int(column.max())} but "
                f"{events_path.name} has {events.shape[1]} cells",
            )
        cell_ids = np.full(events.shape[1], -1, dtype=np.int64)
        rows = np.flatnonzero(column > 0)
        cell_ids[column[rows].astype(np.int64) - 1] = rows
    return Session(
        activity=np.concatenate(pieces["act"]),
        position=np.concatenate(pieces["pos"]),
        time_s=np.concatenate(pieces["t"]),
        velocity_cm_s=np.concatenate(pieces["vel"]),
        trial=np.concatenate(pieces["trial"]),
        animal=animal,
        track=track,
        session=number,
        day=float(day if day is not None else number),
        day_known=day is not None,
        cell_ids=cell_ids,
        frame_rate_hz=FRAME_RATE_HZ,
        source=str(folder),
        notes=tuple(notes),
    )


def read_registration(folder: Path, n_sessions: int) -> np.ndarray | None:
    """``cell_to_index_map`` (registered cells × sessions) or ``None`` when absent."""
    path = folder / "cell_registration.mat"
    if not path.is_file():
        return None
    mapping = np.asarray(load_mat(path, ["cell_to_index_map"])["cell_to_index_map"])
    if mapping.ndim != 2 or mapping.dtype.kind not in "biuf":
        raise DataError(path, "cell_to_index_map must be a numeric cells × sessions matrix")
    if mapping.shape[1] < n_sessions:
        raise DataError(
            path,
            f"cell_to_index_map has {mapping.shape[1]} sessions but the folder has {n_sessions}",
        )
    if np.any(mapping < 0) or np.any(mapping != np.round(mapping)):
        raise DataError(path, "cell_to_index_map must hold non-negative whole numbers")
    mapping = mapping.astype(np.int64)
    for k, column in enumerate(mapping.T):
        cells, counts = np.unique(column[column > 0], return_counts=True)
        if np.any(counts > 1):
            cell = int(cells[np.argmax(counts > 1)])
            rows = (np.flatnonzero(column == cell) + 1).tolist()
            raise DataError(
                path,
                f"cell_to_index_map gives cell {cell} of session {k + 1} to more than one "
                f"registered cell (rows {', '.join(map(str, rows))})",
            )
    return mapping


def iter_track(
    folder: str | Path,
    *,
    animal: str | None = None,
    trials: tuple[int, ...] = RELEVANT_TRIALS,
    frame_tolerance: int = 10,
) -> Iterator[Session]:
    """Sessions of one mouse-and-track folder, one at a time (they are large).

    Args:
        folder: e.g. ``multiple_maps/C6_M4/Environment A``.
        animal: animal name; the parent folder's name when ``None``.
        trials: trial numbers to analyse.
        frame_tolerance: frames by which a behaviour trial and its imaging may differ.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "folder not found")
    numbers = session_numbers(folder)
    registration = read_registration(folder, max(numbers))
    animal = animal or folder.resolve().parent.name
    track = track_name(folder)
    for number in numbers:
        yield load_session(
            folder,
            number,
            registration,
            animal=animal,
            track=track,
            trials=trials,
            frame_tolerance=frame_tolerance,
        )


def load_track(folder: str | Path, **kwargs: Any) -> list[Session]:
    """All sessions of one mouse-and-track folder (see :func:`iter_track`)."""
    return list(iter_track(folder, **kwargs))
