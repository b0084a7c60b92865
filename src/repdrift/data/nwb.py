"""Loader for Neurodata Without Borders (NWB) files; needs the optional extra ``nwb`` (pynwb).

What is read from one ``.nwb`` file (one session):

* **activity**: a ``RoiResponseSeries`` (time × ROIs) from any processing module; one whose
  name, or its container's, mentions events, spikes or deconvolution is preferred over
  fluorescence; negative values (e.g. ΔF/F baseline) are set to 0;
* **position**: the first ``SpatialSeries`` of a ``Position`` container (1-D, linearised),
  rescaled to ``[0, 1]`` between its minimum and maximum and interpolated to the imaging
  frames;
* **velocity**: a ``TimeSeries`` named like ``velocity`` or ``speed`` in a processing module
  (signed, cm/s), else the time derivative of the position in cm (the series' ``unit``
  must be a length: m, cm or mm);
* **trials**: the ``trials`` table, when present;
* **animal** ``subject.subject_id`` (else the file name), **track** from ``env…``/
  ``environment …`` in the ``session_id``, **day** from ``day<N>`` in the ``session_id``,
  identifier or description, else the date of ``session_start_time``;
* **cell registration**: a ``cell_id`` (or ``global_cell_id``) column of the ROIs'
  ``PlaneSegmentation``, when present.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .session import Session

_PREFERRED = re.compile(r"event|spike|deconv", re.IGNORECASE)
_DAY = re.compile(r"day[\s_-]*(\d+)", re.IGNORECASE)
_TRACK = re.compile(r"env(?:ironment)?[\s_-]*([A-Za-z0-9]+)", re.IGNORECASE)
_TO_CM = {
    "m": 100.0,
    "meter": 100.0,
    "meters": 100.0,
    "metre": 100.0,
    "metres": 100.0,
    "cm": 1.0,
    "centimeter": 1.0,
    "centimeters": 1.0,
    "mm": 0.1,
    "millimeters": 0.1,
}


def _import_pynwb(path: Path) -> Any:
    try:
        import pynwb
    except ImportError:
        raise DataError(
            path, "reading NWB files needs pynwb: pip install 'repdrift[nwb]'"
        ) from None
    return pynwb


def _timestamps(series: Any) -> np.ndarray:
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], dtype=float)
    n = len(series.data)
    return float(series.starting_time or 0.0) + np.arange(n) / float(series.rate)


def _data(series: Any) -> np.ndarray:
    return np.asarray(series.data[:], dtype=float) * float(getattr(series, "conversion", 1.0))


def _interfaces(nwbfile: Any) -> list[tuple[str, Any]]:
    out = []
    for module in nwbfile.processing.values():
        for name, interface in module.data_interfaces.items():
            out.append((name, interface))
    return out


def _activity_series(nwbfile: Any, pynwb: Any, path: Path) -> Any:
    candidates = []
    for container_name, interface in _interfaces(nwbfile):
        if isinstance(interface, pynwb.ophys.RoiResponseSeries):
            candidates.append((container_name, interface))
        elif hasattr(interface, "roi_response_series"):
            for name, series in interface.roi_response_series.items():
                candidates.append((f"{container_name}/{name}", series))
    if not candidates:
        raise DataError(path, "no RoiResponseSeries (cell activity) in any processing module")
    preferred = [c for c in candidates if _PREFERRED.search(c[0])]
    return (preferred or candidates)[0][1]


def _behaviour_series(nwbfile: Any, pynwb: Any, path: Path) -> tuple[Any, Any | None]:
    position = velocity = None
    for name, interface in _interfaces(nwbfile):
        if position is None and isinstance(interface, pynwb.behavior.Position):
            series = list(interface.spatial_series.values())
            if series:
                position = series[0]
        if (
            velocity is None
            and isinstance(interface, pynwb.base.TimeSeries)
            and re.search(r"velocity|speed", name, re.IGNORECASE)
        ):
            velocity = interface
    if position is None:
        raise DataError(path, "no Position / SpatialSeries (the animal's position)")
    return position, velocity


def load_nwb(path: str | Path) -> Session:
    """One session from an NWB file (see the module docstring for what is read)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    pynwb = _import_pynwb(path)
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
        nwbfile = io.read()
    except Exception as err:
        raise DataError(path, f"unreadable NWB file ({type(err).__name__}: {err})") from None
    try:
        return _session(nwbfile, pynwb, path)
    finally:
        io.close()


def _session(nwbfile: Any, pynwb: Any, path: Path) -> Session:
    series = _activity_series(nwbfile, pynwb, path)
    activity = _data(series)
    times = _timestamps(series)
    if activity.ndim == 1:
        activity = activity[:, None]
    if activity.ndim != 2 or activity.shape[0] != times.size:
        raise DataError(
            path,
            f"{series.name}: data {activity.shape} does not match its "
            f"{times.size} timestamps (NWB stores time first)",
        )
    activity = np.clip(np.nan_to_num(activity, nan=0.0), 0.0, None)
    position_series, velocity_series = _behaviour_series(nwbfile, pynwb, path)
    raw = _data(position_series)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise DataError(
            path,
            f"{position_series.name}: position must be 1-D (linearised), got shape {raw.shape}",
        )
    position_times = _timestamps(position_series)
    if position_times.size != raw.size or raw.size < 2:
        raise DataError(path, f"{position_series.name}: data and timestamps differ in length")
    finite = np.isfinite(raw)
    if np.count_nonzero(finite) < 2:
        raise DataError(
            path, f"{position_series.name}: fewer than two positions are finite numbers"
        )
    low, high = np.min(raw[finite]), np.max(raw[finite])
    if not high > low:
        raise DataError(path, f"{position_series.name}: the position never changes")
    inside = (times >= position_times[0]) & (times <= position_times[-1])
    position = np.where(inside, np.interp(times, position_times[finite], raw[finite]), np.nan)
    position = (position - low) / (high - low)
    if velocity_series is not None:
        velocity_raw = _data(velocity_series).ravel()
        velocity = np.interp(times, _timestamps(velocity_series), velocity_raw)
    else:
        unit = str(position_series.unit).strip().lower()
        if unit not in _TO_CM:
            raise DataError(
                path,
                f"{position_series.name}: unit {position_series.unit!r} is "
                "not a length (m, cm, mm); add a velocity TimeSeries in cm/s",
            )
        speed = np.gradient(raw[finite] * _TO_CM[unit], position_times[finite])
        velocity = np.interp(times, position_times[finite], speed)
    trial = np.zeros(times.size, dtype=np.int64)
    if nwbfile.trials is not None and len(nwbfile.trials) > 0:
        starts = np.asarray(nwbfile.trials["start_time"][:], dtype=float)
        stops = np.asarray(nwbfile.trials["stop_time"][:], dtype=float)
        for k, (start, stop) in enumerate(zip(starts, stops, strict=True), start=1):
            trial[(times >= start) & (times < stop)] = k
    text = " ".join(
        str(x) for x in (nwbfile.session_id, nwbfile.identifier, nwbfile.session_description) if x
    )
    day_match = _DAY.search(text)
    track_match = _TRACK.search(str(nwbfile.session_id or ""))
    if day_match:
        day = float(day_match.group(1))
    else:
        start = nwbfile.session_start_time
        day = start.timestamp() / 86400.0
    subject = nwbfile.subject.subject_id if nwbfile.subject is not None else None
    cell_ids = None
    rois = getattr(series, "rois", None)
    if rois is not None:
        table = rois.table
        for column in ("cell_id", "global_cell_id"):
            if column in table.colnames:
                rows = np.asarray(rois.data[:], dtype=np.int64)
                cell_ids = np.asarray(table[column][:], dtype=np.int64)[rows]
                break
    steps = np.diff(times)
    rate = 1.0 / float(np.median(steps)) if steps.size and np.median(steps) > 0 else 20.0
    return Session(
        activity=activity,
        position=position,
        time_s=times,
        velocity_cm_s=velocity,
        trial=trial,
        animal=str(subject or path.stem),
        track=track_match.group(1) if track_match else "",
        session=0,
        day=day,
        day_known=True,
        cell_ids=cell_ids,
        frame_rate_hz=rate,
        source=str(path),
    )
