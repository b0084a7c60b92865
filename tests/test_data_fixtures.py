"""Builders of small synthetic recordings in every supported layout (used by the data tests).

Nothing here reads ``../shared/data``: each layout is written from scratch, so the loader
tests know the exact numbers to expect. ``data_root()`` locates the real data for the
tests that need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

FRAME_RATE = 20.0
TRACK_CM = 96.0


def data_root() -> Path:
    """The shared recorded data (``REPDRIFT_DATA`` overrides ``<repo>/../shared/data``)."""
    env = os.environ.get("REPDRIFT_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def require_data(*parts: str) -> Path:
    """Path under the shared data, or skip the test with the reason."""
    path = data_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"recorded data not found at {path} (set REPDRIFT_DATA to its folder)")
    return path


# ----------------------------------------------------------------------------- MATLAB 7.3


def write_mat73(path: Path, variables: dict) -> Path:
    """Write ``variables`` as a MATLAB v7.3 (HDF5) MAT-file, as MATLAB lays it out.

    Supports float/int/bool arrays (MATLAB shape, at least 2-D), ``str``, cell arrays (object
    ndarrays), scalar structs (``dict``), struct arrays (object ndarrays of dicts with the
    same fields, passed as ``("struct_array", array)``) and empty arrays.
    """
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        counter = [0]

        def new_name() -> str:
            counter[0] += 1
            return f"r{counter[0]}"

        def put(parent, name, value):
            if isinstance(value, tuple) and value[0] == "struct_array":
                array = value[1]
                group = parent.create_group(name)
                group.attrs["MATLAB_class"] = np.bytes_("struct")
                fields = list(array.flat[0])
                for field in fields:
                    ref_array = np.empty(array.shape, dtype=h5py.ref_dtype)
                    for index in np.ndindex(array.shape):
                        child = new_name()
                        put(refs, child, array[index][field])
                        ref_array[index] = refs[child].ref
                    group.create_dataset(field, data=ref_array.T)
                return
            if isinstance(value, dict):
                group = parent.create_group(name)
                group.attrs["MATLAB_class"] = np.bytes_("struct")
                for field, item in value.items():
                    put(group, field, item)
                return
            if isinstance(value, str):
                codes = np.array([[ord(c) for c in value]], dtype=np.uint16)
                if codes.size == 0:
                    ds = parent.create_dataset(name, data=np.array([0, 0], dtype=np.uint64))
                    ds.attrs["MATLAB_empty"] = np.uint8(1)
                else:
                    ds = parent.create_dataset(name, data=codes.T)
                ds.attrs["MATLAB_class"] = np.bytes_("char")
                ds.attrs["MATLAB_int_decode"] = np.int32(2)
                return
            array = np.asarray(value)
            if array.dtype == object:
                ref_array = np.empty(array.shape, dtype=h5py.ref_dtype)
                for index in np.ndindex(array.shape):
                    child = new_name()
                    put(refs, child, array[index])
                    ref_array[index] = refs[child].ref
                ds = parent.create_dataset(name, data=ref_array.T)
                ds.attrs["MATLAB_class"] = np.bytes_("cell")
                return
            if array.ndim < 2:
                array = array.reshape(1, -1) if array.ndim == 1 else array.reshape(1, 1)
            if array.size == 0:
                ds = parent.create_dataset(name, data=np.array(array.shape[::-1], dtype=np.uint64))
                ds.attrs["MATLAB_empty"] = np.uint8(1)
                ds.attrs["MATLAB_class"] = np.bytes_("double")
                return
            cls = {"f": "double", "b": "logical"}.get(array.dtype.kind, str(array.dtype))
            data = array.astype(np.uint8) if array.dtype == bool else array
            ds = parent.create_dataset(name, data=data.T)
            ds.attrs["MATLAB_class"] = np.bytes_(cls)

        for name, value in variables.items():
            put(f, name, value)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116) + b"\0" * 8 + b"\x00\x02IM")
    return path


def save_mat(path: Path, variables: dict, version: str = "5") -> Path:
    """Write a MAT-file in version ``"5"`` (scipy) or ``"7.3"`` (h5py)."""
    if version == "7.3":
        return write_mat73(path, variables)
    scipy.io.savemat(path, variables, do_compression=True)
    return path


# ----------------------------------------------------------------------------- behaviour


def shuttle_run(
    frames: int,
    rng: np.random.Generator,
    *,
    lap_frames: tuple[int, int] = (110, 260),
    pause_frames: tuple[int, int] = (10, 60),
) -> tuple[np.ndarray, np.ndarray]:
    """Position (0–1) and velocity (cm/s) of a mouse shuttling along the track.

    Laps last a random number of frames in ``lap_frames`` (so the trajectory is not
    periodic, which would defeat circular shuffles) and alternate direction, separated by
    pauses at the ends (velocity 0) of ``pause_frames`` frames.
    """
    pieces = []
    forward = True
    total = 0
    while total < frames:
        lap = np.linspace(0.0, 1.0, int(rng.integers(*lap_frames)))
        pause = np.full(int(rng.integers(*pause_frames)), 1.0 if forward else 0.0)
        pieces += [lap if forward else lap[::-1], pause]
        total += lap.size + pause.size
        forward = not forward
    position = np.concatenate(pieces)[:frames]
    velocity = np.gradient(position) * TRACK_CM * FRAME_RATE
    return position, velocity


def place_cell_activity(
    position: np.ndarray,
    velocity: np.ndarray,
    rng: np.random.Generator,
    *,
    n_place: int = 6,
    n_noise: int = 6,
    rate_in_field: float = 0.5,
    noise_rate: float = 0.01,
) -> tuple[np.ndarray, np.ndarray]:
    """Events of ``n_place`` place cells (field 8 % of the track, one direction each)
    followed by ``n_noise`` untuned cells.

    Returns:
        ``(activity (frames, cells), field_centres (n_place,))``.
    """
    frames = position.size
    centres = np.linspace(0.2, 0.8, n_place)
    activity = np.zeros((frames, n_place + n_noise))
    for c, centre in enumerate(centres):
        sign = 1 if c % 2 == 0 else -1
        in_field = (np.abs(position - centre) < 0.04) & (np.sign(velocity) == sign)
        fire = in_field & (rng.random(frames) < rate_in_field)
        activity[fire, c] = rng.uniform(0.5, 2.0, fire.sum())
    noise = rng.random((frames, n_noise)) < noise_rate
    activity[:, n_place:] = noise * rng.uniform(0.5, 2.0, noise.shape)
    return activity, centres


# ----------------------------------------------------------------------------- multiple_maps


def write_track(
    folder: Path,
    *,
    n_sessions: int = 2,
    frames_per_trial: int = 900,
    first_day: int = 3,
    track: str = "A",
    seed: int = 0,
    version: str = "5",
    n_cells: int = 12,
) -> dict:
    """A small ``multiple_maps`` track folder: 7 trials per session (behaviour for 2–6).

    Behaviour files have one frame more per trial than the imaging (as in the real
    files); track ``"B"`` uses ``velocity_VER2`` and ``rough_linearized_location``
    (in arbitrary units from −30 to 34). Cell ``k`` of session ``s`` is registered
    identity ``(k + s) % n_cells`` (a rotation), so every cell is registered.

    Returns:
        what was written: per session the imaging ``activity`` of trials 2–6, the
        ``position`` (0–1) and ``velocity`` aligned with it, and the ``registration``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth: dict = {"sessions": [], "registration": None}
    registration = np.zeros((n_cells, n_sessions), dtype=np.uint16)
    for s in range(1, n_sessions + 1):
        trials = 7
        total = trials * frames_per_trial
        position, velocity = shuttle_run(total, rng)
        activity, _ = place_cell_activity(
            position, velocity, rng, n_place=n_cells // 2, n_noise=n_cells - n_cells // 2
        )
        # Columns of this session's events matrix are a rotation of the identities.
        order = (np.arange(n_cells) + s) % n_cells
        events = activity[:, order]
        for k in range(n_cells):
            registration[order[k], s - 1] = k + 1
        behaviour = np.empty((1, 6), dtype=object)
        behaviour[0, 0] = np.zeros((1, 0))
        for k in range(2, 7):
            rows = slice((k - 1) * frames_per_trial, k * frames_per_trial)
            pos = np.concatenate([[np.nan], position[rows]])  # the extra first frame
            vel = np.concatenate([[0.0], velocity[rows]])
            entry = {"filename": f"C1M1_Day{first_day + s - 1}_{track}_am_000{k} 10-00-00.avi"}
            if track == "B":
                entry["rough_linearized_location"] = (-30 + 64 * pos)[:, None]
                entry["velocity_VER2"] = vel[:, None]
                entry["velocity_VER1"] = 0.5 * vel[:, None]
            else:
                entry["position"] = pos[:, None]
                entry["velocity"] = vel[:, None]
            entry["binned"] = np.ceil(np.nan_to_num(pos) * 24).clip(1, 24)[:, None]
            behaviour[0, k - 1] = entry
        save_mat(folder / f"finalEventsMat_{s}.mat", {"allEventsMat": events}, version)
        save_mat(folder / f"behavior_{s}.mat", {"my_mvmt": behaviour}, version)
        lines = ["session,trial,begFrame,endFrame,Var5"]
        for k in range(1, trials + 1):
            lines.append(
                f"1,{k},{(k - 1) * frames_per_trial + 1},{k * frames_per_trial},recording_{k}.tif"
            )
        (folder / f"frameLog_{s}.csv").write_text("\n".join(lines) + "\n")
        keep = slice(frames_per_trial, 6 * frames_per_trial)
        truth["sessions"].append(
            {
                "activity": events[keep],
                "position": position[keep],
                "velocity": velocity[keep],
                "day": first_day + s - 1,
            }
        )
    save_mat(folder / "cell_registration.mat", {"cell_to_index_map": registration}, version)
    truth["registration"] = registration
    return truth
