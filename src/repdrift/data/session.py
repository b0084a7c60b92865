"""One recorded session in memory, whatever file layout it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataError


@dataclass(frozen=True, eq=False)
class Session:
    """Activity and behaviour of one imaging session on one track.

    Frames are the imaging frames, already restricted to the trials that are analysed
    (for the ``multiple_maps`` data: trials 2–6) and aligned with the behaviour.

    Attributes:
        activity: ``(frames, cells)`` non-negative event amplitude (or spike count) per
            frame and cell.
        position: ``(frames,)`` position along the linear track as a fraction of its
            length, ``[0, 1]`` (NaN where unknown).
        time_s: ``(frames,)`` time of each frame in seconds.
        velocity_cm_s: ``(frames,)`` running velocity in cm/s, the sign giving the running
            direction (``+`` towards position 1), unsmoothed; ``None`` when the recording
            has no behaviour (then ``direction`` must be given).
        direction: ``(frames,)`` running direction ``+1``/``-1`` (``0`` = not running) when
            it is known without a velocity (e.g. recordings that keep running frames
            only); ``None`` to derive it from ``velocity_cm_s``.
        trial: ``(frames,)`` trial number of each frame (smoothing never crosses trials).
        animal: animal identifier (e.g. ``"C6_M4"``).
        track: environment identifier (e.g. ``"A"``); ``""`` when there is one.
        session: session number within the animal and track, from 1.
        day: day of the session (from the file names, or the session number when
            unknown; see ``day_known``).
        day_known: whether ``day`` is a real day rather than the session number.
        cell_ids: ``(cells,)`` registered identity of each cell across the animal's
            sessions on this track, ``-1`` where a cell is not registered; ``None`` when
            no registration is known.
        frame_rate_hz: imaging frame rate.
        source: where the session was read from.
        notes: what the loader had to repair or leave out (shown to the user).
    """

    activity: np.ndarray
    position: np.ndarray
    time_s: np.ndarray
    velocity_cm_s: np.ndarray | None
    trial: np.ndarray
    animal: str
    track: str = ""
    session: int = 1
    day: float = 1.0
    day_known: bool = True
    cell_ids: np.ndarray | None = None
    direction: np.ndarray | None = None
    frame_rate_hz: float = 20.0
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        where = self.source or f"session {self.animal} {self.track} {self.session}"
        activity = np.asarray(self.activity, dtype=float)
        if activity.ndim != 2:
            raise DataError(where, f"activity must be frames × cells, got shape {activity.shape}")
        if not np.all(np.isfinite(activity)) or np.any(activity < 0):
            raise DataError(where, "activity must be finite and non-negative")
        frames = activity.shape[0]
        object.__setattr__(self, "activity", activity)
        for name in ("position", "time_s", "velocity_cm_s", "trial", "direction"):
            value = getattr(self, name)
            if value is None:
                continue
            value = np.asarray(value).ravel()
            if value.shape != (frames,):
                raise DataError(
                    where, f"{name} has {value.size} frames but the activity has {frames}"
                )
            object.__setattr__(self, name, value)
        object.__setattr__(self, "position", self.position.astype(float))
        object.__setattr__(self, "time_s", self.time_s.astype(float))
        object.__setattr__(self, "trial", self.trial.astype(np.int64))
        if self.velocity_cm_s is None and self.direction is None:
            raise DataError(where, "a session needs a velocity or a running direction")
        if self.velocity_cm_s is not None:
            object.__setattr__(self, "velocity_cm_s", self.velocity_cm_s.astype(float))
        if self.direction is not None:
            object.__setattr__(self, "direction", np.sign(self.direction).astype(np.int64))
        if self.cell_ids is not None:
            ids = np.asarray(self.cell_ids).ravel().astype(np.int64)
            if ids.shape != (activity.shape[1],):
                raise DataError(
                    where, f"cell_ids has {ids.size} entries for {activity.shape[1]} cells"
                )
            registered = ids[ids >= 0]
            if np.unique(registered).size != registered.size:
                raise DataError(where, "cell_ids repeats a registered identity")
            object.__setattr__(self, "cell_ids", ids)
        if not self.frame_rate_hz > 0:
            raise DataError(where, f"frame_rate_hz must be positive, got {self.frame_rate_hz}")
        object.__setattr__(self, "notes", tuple(self.notes))
        for name in ("animal", "track", "source"):
            object.__setattr__(self, name, _text(getattr(self, name)))

    @property
    def n_frames(self) -> int:
        return int(self.activity.shape[0])

    @property
    def n_cells(self) -> int:
        return int(self.activity.shape[1])

    @property
    def series(self) -> tuple[str, str]:
        """``(animal, track)``: sessions of one series are compared with each other."""
        return (self.animal, self.track)

    def label(self) -> str:
        track = f" {self.track}" if self.track else ""
        return f"{self.animal}{track} session {self.session}"


def _text(value: object) -> str:
    """``value`` as text that UTF-8 can encode, as the tables are written (Parquet, CSV):
    a byte of a file name that is not UTF-8 (which Python keeps as a lone surrogate)
    becomes U+FFFD."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:  # a surrogate that is no escaped byte
            return text.encode("utf-8", "replace").decode("utf-8")
    return text
