"""Loader for the information-estimation layout (Sheintuch et al. 2022, PLoS Comput Biol).

A folder with MATLAB files, optionally prefixed by the mouse (``C5M1_``):

* ``spike_train.mat`` (or ``simulated_spike_train.mat``): frames × cells inferred spike
  amplitudes or counts, running frames only — or a cell array of them, tracks × sessions
  × running directions (the full data sets are 2 × 4 × 2);
* ``stimulus_trace.mat``: the position bin (1-based) of each frame, same layout;
* ``true_information.mat`` (simulated data only): struct with ``SI_bit_spike``,
  ``SI_bit_sec`` and ``MI``, each 1 × cells per recording, same layout.

The variable inside each file may have any name (the files use ``spike_train``,
``simulated_spike_train`` and ``stimulus_trace``). The two running directions of a session
share their cells and become one :class:`Session` with ``direction`` ``+1`` (first) and
``-1`` (second); cells are not registered across sessions; the session number stands in
for the day (``day_known=False``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .matfile import load_mat
from .session import Session

FRAME_RATE_HZ = 20.0
TRACK_BINS = 24
_SPIKES = re.compile(r"^(?P<prefix>.*?)(?:simulated_)?spike_train\.mat$", re.IGNORECASE)


def find_recordings(folder: Path) -> dict[str, dict[str, Path]]:
    """Files by prefix: ``{prefix: {"spikes": ..., "stimulus": ..., ["truth": ...]}}``."""
    found: dict[str, dict[str, Path]] = {}
    if not folder.is_dir():
        return found
    files = sorted(p for p in folder.iterdir() if p.is_file())
    by_lower_name = {p.name.lower(): p for p in files}
    for path in files:
        match = _SPIKES.match(path.name)
        if not match:
            continue
        prefix = match.group("prefix")
        entry = found.setdefault(prefix, {})
        entry["spikes"] = path
        for kind, suffix in (("stimulus", "stimulus_trace.mat"), ("truth", "true_information.mat")):
            other = by_lower_name.get(f"{prefix}{suffix}".lower())
            if other is not None:
                entry[kind] = other
    return found


def is_spike_train_folder(folder: Path) -> bool:
    return bool(find_recordings(folder))


def _only_variable(path: Path) -> Any:
    variables = load_mat(path)
    if len(variables) != 1:
        raise DataError(
            path, f"expected one variable, found {len(variables)} ({', '.join(variables)})"
        )
    return next(iter(variables.values()))


def _as_grid(value: Any, path: Path) -> np.ndarray:
    """A cell array (tracks × sessions × directions), or one matrix as a 1 × 1 × 1 grid."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        grid = value
        while grid.ndim < 3:
            grid = grid[..., None]
        if grid.ndim != 3:
            raise DataError(path, f"expected tracks × sessions × directions, got {value.shape}")
        return grid
    if isinstance(value, np.ndarray) and value.ndim == 2:
        grid = np.empty((1, 1, 1), dtype=object)
        grid[0, 0, 0] = value
        return grid
    raise DataError(path, "expected a frames × cells matrix or a cell array of them")


def load_recordings(
    folder: str | Path, *, track_bins: int = TRACK_BINS, frame_rate_hz: float = FRAME_RATE_HZ
) -> list[Session]:
    """All sessions of an information-estimation folder.

    Args:
        folder: the folder holding ``*spike_train.mat`` and ``*stimulus_trace.mat``.
        track_bins: number of position bins the stimulus indexes (24 in these data).
        frame_rate_hz: frame rate of the spike trains (20 Hz in these data).
    """
    folder = Path(folder)
    recordings = find_recordings(folder)
    if not recordings:
        raise DataError(folder, "no *spike_train.mat file")
    sessions = []
    for prefix, files in recordings.items():
        if "stimulus" not in files:
            raise DataError(
                files["spikes"], f"no matching {prefix}stimulus_trace.mat in the folder"
            )
        spikes = _as_grid(_only_variable(files["spikes"]), files["spikes"])
        stimulus = _as_grid(_only_variable(files["stimulus"]), files["stimulus"])
        if spikes.shape != stimulus.shape:
            raise DataError(
                files["stimulus"],
                f"layout {stimulus.shape} differs from the spike trains' {spikes.shape}",
            )
        animal = prefix.rstrip("_-") or folder.name
        n_tracks, n_sessions, _ = spikes.shape
        for e in range(n_tracks):
            for s in range(n_sessions):
                sessions.append(
                    _session(
                        spikes[e, s],
                        stimulus[e, s],
                        files,
                        animal=animal,
                        track=str(e + 1) if n_tracks > 1 else "",
                        number=s + 1,
                        track_bins=track_bins,
                        frame_rate_hz=frame_rate_hz,
                    )
                )
    return sessions


def _session(
    spikes: np.ndarray,
    stimulus: np.ndarray,
    files: dict[str, Path],
    *,
    animal: str,
    track: str,
    number: int,
    track_bins: int,
    frame_rate_hz: float,
) -> Session:
    activity, bins, direction = [], [], []
    n_cells = None
    for d, (train, trace) in enumerate(zip(spikes, stimulus, strict=True)):
        train = np.asarray(train)
        trace = np.asarray(trace).ravel()
        if train.ndim != 2 or train.dtype.kind not in "biuf":
            raise DataError(
                files["spikes"],
                f"recording {track or 1}/{number}/{d + 1} is not a numeric frames × cells matrix",
            )
        if trace.size != train.shape[0]:
            raise DataError(
                files["stimulus"],
                f"recording {track or 1}/{number}/{d + 1} has "
                f"{trace.size} stimulus frames for {train.shape[0]} spike-train frames",
            )
        if n_cells is not None and train.shape[1] != n_cells:
            raise DataError(
                files["spikes"],
                f"the directions of session {number} have {n_cells} and {train.shape[1]} cells",
            )
        n_cells = train.shape[1]
        if trace.size and (trace.min() < 1 or trace.max() > track_bins):
            raise DataError(
                files["stimulus"],
                f"stimulus bins must lie in 1..{track_bins}, found {trace.min()}..{trace.max()}",
            )
        activity.append(train.astype(float))
        bins.append(trace.astype(float))
        direction.append(np.full(trace.size, 1 if d == 0 else -1))
    bins_all = np.concatenate(bins)
    frames = bins_all.size
    return Session(
        activity=np.concatenate(activity),
        position=(bins_all - 0.5) / track_bins,  # bin centres as a fraction of the track
        time_s=np.arange(frames) / frame_rate_hz,
        velocity_cm_s=None,
        direction=np.concatenate(direction),
        trial=np.concatenate([np.full(b.size, d + 1) for d, b in enumerate(bins)]),
        animal=animal,
        track=track,
        session=number,
        day=float(number),
        day_known=False,
        frame_rate_hz=frame_rate_hz,
        source=str(files["spikes"]),
    )


def load_true_information(path: str | Path, measure: str = "SI_bit_spike") -> np.ndarray:
    """Ground truth of a simulated set: ``(tracks, sessions, directions)`` object array of
    ``(cells,)`` arrays (a 1 × 1 × 1 grid for a single recording).

    Args:
        path: ``true_information.mat`` (or ``<prefix>true_information.mat``).
        measure: ``SI_bit_spike``, ``SI_bit_sec`` or ``MI``.
    """
    path = Path(path)
    truth = _only_variable(path)
    if not isinstance(truth, dict) or measure not in truth:
        raise DataError(path, f"expected a struct with field {measure!r}")
    value = truth[measure]
    if isinstance(value, np.ndarray) and value.dtype != object:
        grid = np.empty((1, 1, 1), dtype=object)
        grid[0, 0, 0] = np.asarray(value, dtype=float).ravel()
        return grid
    grid = _as_grid(value, path)
    out = np.empty(grid.shape, dtype=object)
    for index in np.ndindex(grid.shape):
        out[index] = np.asarray(grid[index], dtype=float).ravel()
    return out


def simulated_recordings(folder: str | Path, *, n_bins: int = 24):
    """Each recording of a simulated set with known information, for testing estimators.

    ``folder`` holds ``*spike_train.mat``, ``*stimulus_trace.mat`` and
    ``*true_information.mat`` (the ``si_bias/simulated_*`` layout). Yields
    ``(set name, activity (frames, cells), stimulus (frames,) 0-based bins, true SI
    (cells,) in bits per event)`` per track × session × running direction.
    """
    folder = Path(folder)
    truths = {}
    for truth_file in sorted(folder.glob("*true_information.mat")):
        prefix = truth_file.name[: -len("true_information.mat")].rstrip("_") or folder.name
        truths[prefix] = load_true_information(truth_file)
    for session in load_recordings(folder):
        if session.animal not in truths:
            raise DataError(folder, f"no true_information file for {session.animal!r}")
        grid = truths[session.animal]
        track = int(session.track) - 1 if session.track else 0
        for d, sign in enumerate((1, -1)):
            frames = session.direction == sign
            if not frames.any():  # a single-recording file has one direction
                continue
            stimulus = np.round(session.position[frames] * n_bins - 0.5).astype(int)
            truth = grid[track, session.session - 1, d]
            yield session.animal, session.activity[frames], stimulus, truth
