"""A stored run, reopened: its configuration, status, records, snapshots and dataset.

This needs only NumPy, xarray and Zarr (through :mod:`repdrift.store`), not JAX: ``repdrift
inspect`` and the analyses that read finished runs reopen them without loading the
numerical stack a simulation needs. :mod:`repdrift.simulation` writes what this reads and
re-exports :class:`Run` and :func:`open_run`.
"""

from __future__ import annotations

import io
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from repdrift import store
from repdrift.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from repdrift.tasks import Dataset

DATASET_FILE = store.DATASET_FILE
#: The arrays of a task's dataset, in the order of :class:`repdrift.tasks.Dataset`.
DATASET_FIELDS = ("inputs", "targets", "position", "direction")


@dataclass
class Run:
    """A stored run, reopened. ``metrics`` and ``snapshots`` are in-memory xarray datasets;
    ``dataset`` is the dataset it trained on (NumPy arrays)."""

    path: Path
    config: Config
    status: store.Status
    metrics: xr.Dataset
    snapshots: xr.Dataset
    dataset: Dataset | None = None

    def scalars_at(self, which: str) -> dict[str, float]:
        """Every recorded scalar metric at the ``initial`` or ``final`` stored step."""
        pick = 0 if which == "initial" else -1
        out: dict[str, float] = {}
        for ds in (self.metrics, self.snapshots):
            if ds.sizes.get("step", 0) == 0:
                continue
            for name, var in ds.data_vars.items():
                if var.dims == ("step",) and name != "status":
                    value = float(var.values[pick])
                    out[name] = value if math.isfinite(value) else None
            out[f"step_{'metrics' if ds is self.metrics else 'snapshots'}"] = int(
                ds["step"].values[pick]
            )
        return out

    def summary(self) -> dict[str, Any]:
        """What ``repdrift inspect --json`` prints."""
        computed_on, computed_earlier = store.read_computed(self.path)
        return {
            "path": str(self.path),
            "status": self.status.status,
            "steps_done": self.status.steps_done,
            "steps_total": self.status.steps_total,
            "message": self.status.message,
            "config": self.config.model_dump(mode="json"),
            "initial": self.scalars_at("initial"),
            "final": self.scalars_at("final"),
            "computed_on": computed_on,
            "computed_earlier": computed_earlier,
        }


def computed_places(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Where the stored steps of the runs at ``paths`` were computed, most runs first:
    ``{"on": ..., "runs": n}`` with :func:`repdrift.cores.describe_computed_on`'s line; a
    run continued elsewhere counts under its places in turn, ``"A; then B"``; runs whose
    store does not say (stored before runs recorded it) as ``"not recorded"``. The
    records' last bits depend on it (a sweep resumed on another machine, a Dask cluster of
    mixed machines, a reproduction's runs on a GPU and a CPU)."""
    from collections import Counter

    from repdrift.cores import describe_computed_on

    places: Counter[str] = Counter()
    for path in paths:
        recorded, earlier = store.read_computed(Path(path))
        if not recorded:
            places["not recorded"] += 1
            continue
        steps = [e["computed_on"] for e in earlier] + [recorded]
        places["; then ".join(describe_computed_on(p) for p in steps)] += 1
    return [{"on": on, "runs": n} for on, n in places.most_common()]


def write_dataset(path: Path, dataset: Dataset) -> None:
    """Store the dataset a run trains on in ``path`` (atomically)."""
    arrays = {
        name: np.asarray(value)
        for name in DATASET_FIELDS
        if (value := getattr(dataset, name)) is not None
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    store.atomic_write_bytes(path / DATASET_FILE, buffer.getvalue())


def read_dataset(path: str | Path, *, required: bool = False) -> Dataset | None:
    """The dataset stored with a run (``None`` for runs stored without one, unless
    ``required``: then its absence is corruption)."""
    file = Path(path) / DATASET_FILE
    if not file.is_file():
        if required:
            raise _missing_dataset(path)
        return None
    try:
        with np.load(file) as npz:
            arrays = {name: npz[name] for name in DATASET_FIELDS if name in npz.files}
    except Exception as err:
        raise store.StoreError(f"run {path} is corrupt: {DATASET_FILE}: {err}") from None
    if not {"inputs", "targets"} <= arrays.keys():
        raise store.StoreError(f"run {path} is corrupt: {DATASET_FILE}: no inputs or targets")
    from repdrift.tasks.dataset import Dataset  # a JAX pytree: loaded only when needed

    return Dataset(**arrays)


def run_dataset(
    path: Path, config: Config, status: store.Status, *, load: bool = True
) -> Dataset | None:
    """The dataset of a stored run, for reopening or resuming it (``load=False``: only
    check that it is there, and return ``None``).

    A network's run with stored steps without its dataset is corrupt: each is stored with
    the dataset it trained on (an ``arrays`` task's file may be gone since). Before its
    first checkpoint a run may not have stored it yet; it is then drawn again.
    """
    required = config.model.kind == "network" and status.generation is not None
    if load:
        return read_dataset(path, required=required)
    if required and not (path / DATASET_FILE).is_file():
        raise _missing_dataset(path)
    return None


def _missing_dataset(path: str | Path) -> store.StoreError:
    return store.StoreError(f"run {path} is corrupt: {DATASET_FILE} is missing")


#: The sections a run's stored configuration has (it is written whole, every default in it).
_STORED_SECTIONS = ("model", "task", "network", "learner", "record", "run")


def read_config(path: Path) -> Config:
    """The configuration a run was stored with."""
    file = path / store.CONFIG_FILE
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
        missing = [name for name in _STORED_SECTIONS if not isinstance(data.get(name), dict)]
        if missing:
            raise ConfigError(f"{store.CONFIG_FILE} lacks [{'], ['.join(missing)}]")
        return load_config(data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise store.StoreError(f"run {path} is corrupt: {store.CONFIG_FILE}: {err}") from None
    except ConfigError as err:
        raise store.StoreError(f"run {path} is corrupt: {err}") from None


def open_run(path: str | Path, *, with_dataset: bool = True) -> Run:
    """Reopen a run directory (raises :class:`repdrift.store.StoreError` if it is not one).

    ``with_dataset=False`` leaves the stored dataset unread (``run.dataset`` is ``None``;
    a missing one is still corruption): what ``repdrift inspect`` does, which needs only
    the records.
    """
    path = Path(path)
    status = store.read_status(path)
    config = read_config(path)
    dataset = run_dataset(path, config, status, load=with_dataset)
    if status.generation is None:
        empty = xr.Dataset(coords={"step": np.zeros(0, np.int64)})
        return Run(path, config, status, empty, empty, dataset)
    metrics, snapshots, _ = store.read_generation(path, status)
    return Run(path, config, status, metrics, snapshots, dataset)
