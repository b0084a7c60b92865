"""Time courses of every run of a sweep in one Zarr store, ``DIR/timecourses.zarr``.

One xarray dataset over ``run`` (the plan's run ids, in order) and two step axes, each
the union of the runs' steps:

* over ``step``: every scalar record of the runs — ``loss``, ``fraction_active_units``,
  ``active_fraction``, ``status`` (the engine's code at each record: 0 ok, then the codes
  of :data:`repdrift.engine.STATUS_NAMES`), ... — on clean forward passes;
* over ``snapshot_step``: every scalar measurement at the parameter snapshots — the
  Hessian summaries (``hessian_trace``, ``hessian_max``, ``hessian_fraction_nonzero``,
  ...), and for tasks with positions the mean SI of place units, the place units'
  count and fraction — NaN where a run has none;

with, per run, the coordinates ``run_status`` (the table's ``status``), ``steps_done``,
``part``, ``rule`` and ``noise`` of the results table. A run has NaN at the steps it did
not record (another schedule, a run that stopped early, a run not started yet). Integer
records (``status``, counts) are stored as float32, exact for these values.

It is built from the run directories when a sweep call ends (:func:`write`) and rebuilt
only when a run has stored something new since; it is written under a temporary name and
then put in place of the old one, so a reader sees a whole store. It is derived data: a
sweep killed while replacing it has none until the next ``repdrift sweep resume``. Open it
with ``xarray.open_zarr("DIR/timecourses.zarr")`` or :func:`repdrift.sweep.read_timecourses`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from repdrift import store
from repdrift.sweep import directory
from repdrift.sweep.directory import Sweep
from repdrift.sweep.spec import SweepError
from repdrift.terminal import first_line

TIMECOURSES_DIR = "timecourses.zarr"
#: The per-run coordinates (from the results table).
RUN_COORDS = ("run_status", "steps_done", "part", "rule", "noise")


def _scalars(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (steps, values)}`` of the scalar variables of one stored Zarr dataset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(path, consolidated=True, chunks=None)
    steps = np.asarray(ds["step"].values, np.int64)
    return {
        name: (steps, np.asarray(var.values))
        for name, var in ds.data_vars.items()
        if var.dims == ("step",)
    }


def _fingerprint(sweep: Sweep, statuses: list[store.Status]) -> list[list[str | None]]:
    """What the store is built from: each run's status and current generation."""
    return [[r.run, st.status, st.generation] for r, st in zip(sweep.runs, statuses, strict=True)]


def _stack(runs: list[dict], n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Union of the steps and one ``(run, step)`` array per variable (NaN: no record)."""
    names: dict[str, np.dtype] = {}
    all_steps = [np.zeros(0, np.int64)]
    for variables in runs:
        for name, (steps, values) in variables.items():
            dtype = values.dtype if np.issubdtype(values.dtype, np.floating) else np.float32
            names[name] = np.promote_types(names.get(name, np.float32), dtype)
            all_steps.append(steps)
    grid = np.unique(np.concatenate(all_steps))
    arrays = {name: np.full((n, grid.size), np.nan, dtype) for name, dtype in names.items()}
    for i, variables in enumerate(runs):
        for name, (steps, values) in variables.items():
            arrays[name][i, np.searchsorted(grid, steps)] = values
    return grid, arrays


def build(sweep: Sweep, statuses=None, df=None) -> xr.Dataset:
    """The time courses of the sweep's runs, from their stored generations.

    ``statuses`` (one per run, :func:`repdrift.sweep.directory.run_status`) and ``df``
    (the results table) are read from the sweep when not given.
    """
    from repdrift.sweep import table

    if statuses is None:
        statuses = [directory.run_status(sweep, r) for r in sweep.runs]
    records, snapshots = [], []
    for planned, st in zip(sweep.runs, statuses, strict=True):
        path = sweep.run_path(planned.run)
        if st.generation is None:
            records.append({})
            snapshots.append({})
            continue
        gen = store.generation_path(path, st.generation)
        try:
            records.append(_scalars(gen / "metrics.zarr"))
            snapshots.append(_scalars(gen / "snapshots.zarr"))
        except Exception as err:
            reason = first_line(err)
            raise SweepError(f"run {path} is corrupt: cannot read {gen.name}: {reason}") from None
    n = len(sweep.runs)
    steps, rec = _stack(records, n)
    snap_steps, snap = _stack(snapshots, n)
    df = table.build_table(sweep) if df is None else df
    data = {name: (("run", "step"), values) for name, values in rec.items()}
    data.update({name: (("run", "snapshot_step"), values) for name, values in snap.items()})
    return xr.Dataset(
        data,
        coords={
            "run": [r.run for r in sweep.runs],
            "step": steps,
            "snapshot_step": snap_steps,
            "run_status": ("run", df["status"].astype(str).to_numpy()),
            "steps_done": ("run", df["steps_done"].to_numpy(np.int64)),
            "part": ("run", df["part"].astype(str).to_numpy()),
            "rule": ("run", df["rule"].astype(str).to_numpy()),
            "noise": ("run", df["noise"].astype(str).to_numpy()),
        },
        attrs={
            "description": (
                "records (over step) and snapshot measurements (over snapshot_step) of "
                "every run of the sweep; NaN where a run has no record"
            ),
            "sweep": sweep.name,
        },
    )


def write(sweep: Sweep, df=None, *, force: bool = False) -> Path | None:
    """Build and store ``DIR/timecourses.zarr`` unless it is up to date (or ``force``: a
    store damaged from outside looks up to date); its path (None when no run has stored
    anything yet). ``df``: the results table just written, if at hand."""
    final = sweep.path / TIMECOURSES_DIR
    statuses = [directory.run_status(sweep, r) for r in sweep.runs]
    print_ = _fingerprint(sweep, statuses)
    if all(generation is None for _, _, generation in print_):
        return None
    with contextlib.suppress(OSError, ValueError, KeyError):
        stored = json.loads((final / "repdrift-source.json").read_text())
        if stored == print_ and not force:
            return final
    ds = build(sweep, statuses, df)
    tmp = sweep.path / f".{TIMECOURSES_DIR}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's notes about consolidated metadata, strings
        ds.to_zarr(tmp, mode="w", consolidated=True)
    store.atomic_write_text(tmp / "repdrift-source.json", json.dumps(print_))
    store.publish_dir(tmp, final)
    return final


def read(sweep: Sweep) -> xr.Dataset:
    """The stored time courses (lazily, with xarray); built in memory if none is stored."""
    final = sweep.path / TIMECOURSES_DIR
    if not final.is_dir():
        return build(sweep)
    try:
        ds = xr.open_zarr(final, consolidated=True)
        # the per-run coordinates in memory, so that they select runs (``tc.rule == "gd"``)
        return ds.assign_coords({name: ds[name].load() for name in RUN_COORDS})
    except Exception as err:
        raise SweepError(f"sweep {sweep.path}: {TIMECOURSES_DIR} is unreadable: {err}") from None
