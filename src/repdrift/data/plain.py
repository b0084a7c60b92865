"""A plain file format for your own recordings: one session per ``.npz`` or ``.parquet`` file.

**NumPy** ``.npz`` (``np.savez``), arrays by name:

==================  =========================================================================
``activity``        ``(frames, cells)`` event amplitude or spike count, non-negative (required)
``position``        ``(frames,)`` position along the track (required): a fraction of its
                    length in ``[0, 1]``, or any unit together with ``position_range``
``position_range``  ``(2,)`` track ends in the unit of ``position`` (optional)
``velocity_cm_s``   ``(frames,)`` signed running velocity, cm/s (required unless
                    ``direction`` is given); smoothed and thresholded by the analysis
``direction``       ``(frames,)`` ``+1``/``-1``/``0`` running direction (optional)
``time_s``          ``(frames,)`` frame times in s (optional: ``arange / frame_rate_hz``)
``frame_rate_hz``   scalar (optional: from ``time_s``, else 20)
``trial``           ``(frames,)`` trial number (optional: all 1)
``cell_ids``        ``(cells,)`` registered identity of each cell across the animal's
                    sessions, ``-1`` if unregistered (optional)
``animal``          string (optional: the file name)
``track``           string (optional: ``""``)
``session``         integer (optional: order by day within the animal and track)
``day``             number, the day of the session (optional: the session number)
==================  =========================================================================

**Parquet**: one row per frame with columns ``position``, ``velocity_cm_s`` and/or
``direction``, optionally ``time_s`` and ``trial``, and one column per cell named
``cell_<k>`` (``k`` = 0, 1, …). The scalars (``animal``, ``track``, ``session``, ``day``,
``frame_rate_hz``, ``position_range``, ``cell_ids``) go in the file's key-value metadata
under ``repdrift`` as JSON, or as constant columns of the same names.
:func:`save_session` writes both formats.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .session import Session

SUFFIXES = (".npz", ".parquet")
_CELL = re.compile(r"^cell_(\d+)$")
_SCALARS = ("animal", "track", "session", "day", "frame_rate_hz")


def _scalar(value: Any) -> Any:
    array = np.asarray(value)
    return array.item() if array.size == 1 else array


#: What a non-numeric array holds, in words (objects left here hold text).
_KINDS = {"U": "text", "S": "bytes", "O": "text", "M": "dates", "m": "durations"}


def _shown(value: Any) -> str:
    """``value`` in a few words, for an error message."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return type(value).__name__
    if array.size != 1:
        return f"{array.size} values"
    shown = repr(array.item())
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _numbers(path: Path, name: str, value: Any) -> np.ndarray:
    """``value`` as a float array; refused, naming ``name``, unless it holds numbers."""
    try:
        array = np.asarray(value)
        if array.dtype.kind == "O" and not any(isinstance(v, str | bytes) for v in array.flat):
            array = array.astype(float)  # None is NaN; a list or dict in a cell is refused
    except (TypeError, ValueError, OverflowError):
        raise DataError(path, f"{name!r} must hold numbers") from None
    if array.dtype.kind not in "biuf":
        kind = _KINDS.get(array.dtype.kind, f"{array.dtype} values")
        raise DataError(path, f"{name!r} must hold numbers, got {kind}")
    return array.astype(float)


def _whole_numbers(path: Path, name: str, value: Any, what: str) -> np.ndarray:
    """``value`` as an int64 array of whole numbers (``what`` says what they are)."""
    array = _numbers(path, name, value)
    if not np.all(np.isfinite(array) & (array == np.round(array)) & (np.abs(array) < 2**62)):
        raise DataError(path, f"{name!r} must hold whole numbers ({what})")
    return array.astype(np.int64)


def _number(path: Path, name: str, value: Any, what: str) -> float:
    """One finite number; ``what`` says what it is."""
    try:
        scalar = _scalar(value)
        ok = isinstance(scalar, int | float) and not isinstance(scalar, bool)
        ok = ok and math.isfinite(scalar)
    except (TypeError, ValueError, OverflowError):  # ragged lists, ints beyond floats
        ok = False
    if not ok:
        raise DataError(path, f"{name!r} must be one finite number ({what}), got {_shown(value)}")
    return float(scalar)


def _label(path: Path, name: str, value: Any) -> str:
    """One name (a string or a number), as a string."""
    try:
        scalar = _scalar(value)
    except (TypeError, ValueError):
        scalar = None
    if isinstance(scalar, bool) or not isinstance(scalar, str | int | float):
        raise DataError(path, f"{name!r} must be one string, got {_shown(value)}")
    return str(scalar)


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as err:
        raise DataError(path, f"unreadable .npz file ({type(err).__name__}: {err})") from None


def _read_parquet(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    try:
        # through a Python file: pyarrow cannot open a name that is not UTF-8
        with open(path, "rb") as fh:
            table = pq.read_table(fh)
        frame = table.to_pandas()
    except Exception as err:
        raise DataError(path, f"unreadable Parquet file ({type(err).__name__}: {err})") from None
    meta = table.schema.metadata or {}
    fields: dict[str, Any] = {}
    if b"repdrift" in meta:
        try:
            scalars = json.loads(meta[b"repdrift"])
        except ValueError:
            raise DataError(path, "the 'repdrift' metadata is not valid JSON") from None
        if not isinstance(scalars, dict):
            raise DataError(
                path,
                "the 'repdrift' metadata must be a JSON object of named values, got "
                f"{type(scalars).__name__}",
            )
        fields.update(scalars)
    cells = sorted(
        ((int(m.group(1)), c) for c in frame.columns if (m := _CELL.match(str(c)))),
    )
    if not cells:
        raise DataError(path, "no cell_<k> columns")
    if [k for k, _ in cells] != list(range(len(cells))):
        raise DataError(path, "cell columns must be cell_0, cell_1, … without gaps")
    fields["activity"] = np.column_stack([_numbers(path, c, frame[c].to_numpy()) for _, c in cells])
    for name in ("position", "velocity_cm_s", "direction", "time_s", "trial"):
        if name in frame.columns:
            fields[name] = frame[name].to_numpy()
    for name in _SCALARS:
        if name in frame.columns and name not in fields:
            try:
                values = frame[name].unique()
            except TypeError:  # lists in the cells
                values = ()
            if len(values) != 1:
                raise DataError(path, f"column {name!r} must hold one value")
            fields[name] = values[0]
    return fields


def load_plain(path: str | Path) -> Session:
    """One session from a ``.npz`` or ``.parquet`` file in the plain format.

    Raises:
        DataError: naming the file and the field, for a missing, unreadable, mistyped or
            out-of-range field.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(path, f"not a plain-format file (expected {' or '.join(SUFFIXES)})")
    fields = _read_npz(path) if suffix == ".npz" else _read_parquet(path)
    for name in ("activity", "position"):
        if name not in fields:
            raise DataError(path, f"missing {name!r}")
    if "velocity_cm_s" not in fields and "direction" not in fields:
        raise DataError(path, "needs 'velocity_cm_s' or 'direction'")
    activity = np.asarray(fields["activity"])
    if activity.ndim != 2 or activity.dtype.kind not in "biuf":
        raise DataError(
            path, f"'activity' must be a numeric frames × cells array, got shape {activity.shape}"
        )
    frames = activity.shape[0]
    if frames < 2 or activity.shape[1] < 1:
        raise DataError(
            path, f"'activity' needs at least 2 frames and 1 cell, got shape {activity.shape}"
        )
    position = _numbers(path, "position", fields["position"]).ravel()
    if "position_range" in fields:
        ends = _numbers(path, "position_range", fields["position_range"]).ravel()
        if ends.size != 2:
            raise DataError(
                path, f"'position_range' must be two numbers (low, high), got {ends.size}"
            )
        low, high = ends
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise DataError(path, "'position_range' must be (low, high) with high > low")
        position = (position - low) / (high - low)
    known = position[~np.isnan(position)]  # NaN: unknown position; ±inf is out of range
    if known.size and (known.min() < -1e-9 or known.max() > 1 + 1e-9):
        raise DataError(
            path,
            "'position' must be a fraction of the track length in [0, 1]; give "
            "'position_range' for other units",
        )
    velocity = fields.get("velocity_cm_s")
    if velocity is not None:
        velocity = _numbers(path, "velocity_cm_s", velocity)
    direction = fields.get("direction")
    if direction is not None:
        direction = _numbers(path, "direction", direction)
        if not np.all(np.isin(direction, (-1.0, 0.0, 1.0))):
            raise DataError(
                path, "'direction' must hold +1, -1 or 0 (running towards 1, towards 0, or not)"
            )
    trial = fields.get("trial")
    trial = (
        np.ones(frames, dtype=np.int64)
        if trial is None
        else _whole_numbers(path, "trial", trial, "trial numbers")
    )
    cell_ids = fields.get("cell_ids")
    if cell_ids is not None:
        cell_ids = _whole_numbers(path, "cell_ids", cell_ids, "cell identities, -1 if none")
    if "time_s" in fields:
        time_s = _numbers(path, "time_s", fields["time_s"]).ravel()
        steps = np.diff(time_s)
        default_rate = 1.0 / np.median(steps) if steps.size and np.median(steps) > 0 else 20.0
    else:
        time_s = None
        default_rate = 20.0
    try:
        rate = float(_scalar(fields.get("frame_rate_hz", default_rate)))
    except (TypeError, ValueError, OverflowError):
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise DataError(path, "'frame_rate_hz' must be a positive number of frames per second")
    if time_s is None:
        time_s = np.arange(frames) / rate
    session = fields.get("session")
    session = 0.0 if session is None else _number(path, "session", session, "the session number")
    if session != round(session) or abs(session) >= 2**62:
        raise DataError(
            path, f"'session' must be a whole number (the session number), got {session:g}"
        )
    day = fields.get("day")
    if day is not None:
        day = _number(path, "day", day, "the day of the session")
    animal = _label(path, "animal", fields.get("animal", path.stem))
    track = _label(path, "track", fields.get("track", ""))
    try:
        return Session(
            activity=activity,
            position=position,
            time_s=time_s,
            velocity_cm_s=velocity,
            direction=direction,
            trial=trial,
            animal=animal,
            track=track,
            session=int(session),
            day=day if day is not None else session,
            day_known=day is not None,
            cell_ids=cell_ids,
            frame_rate_hz=rate,
            source=str(path),
        )
    except DataError as err:
        raise DataError(path, err.problem) from None
    except (TypeError, ValueError) as err:
        raise DataError(path, f"invalid field ({err})") from None


def save_session(session: Session, path: str | Path) -> Path:
    """Write ``session`` in the plain format; the suffix (``.npz``/``.parquet``) decides."""
    path = Path(path)
    scalars: dict[str, Any] = {
        "animal": session.animal,
        "track": session.track,
        "session": int(session.session),
        "frame_rate_hz": float(session.frame_rate_hz),
    }
    if session.day_known:
        scalars["day"] = float(session.day)
    arrays: dict[str, np.ndarray] = {
        "position": session.position,
        "time_s": session.time_s,
        "trial": session.trial,
    }
    if session.velocity_cm_s is not None:
        arrays["velocity_cm_s"] = session.velocity_cm_s
    if session.direction is not None:
        arrays["direction"] = session.direction
    if path.suffix.lower() == ".npz":
        extra = {} if session.cell_ids is None else {"cell_ids": session.cell_ids}
        np.savez_compressed(
            path,
            activity=session.activity,
            **arrays,
            **extra,
            **{k: np.asarray(v) for k, v in scalars.items()},
        )
        return path
    if path.suffix.lower() != ".parquet":
        raise ValueError(f"suffix must be .npz or .parquet, got {path.suffix!r}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {k: pa.array(v) for k, v in arrays.items()}
    columns.update({f"cell_{k}": pa.array(session.activity[:, k]) for k in range(session.n_cells)})
    if session.cell_ids is not None:
        scalars["cell_ids"] = session.cell_ids.tolist()
    table = pa.table(columns).replace_schema_metadata({"repdrift": json.dumps(scalars)})
    pq.write_table(table, path)
    return path
