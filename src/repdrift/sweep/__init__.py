"""Sweeps: many runs from one specification, batched, resumable, into one table.

Python API (mirrors ``repdrift sweep``)::

    from repdrift import sweep
    result = sweep.run("my-sweep.toml", out="sweeps/mine")        # or preset="sweep-smoke"
    result = sweep.resume("sweeps/mine")                           # after a stop or a kill
    table = sweep.read_table("sweeps/mine")                        # pandas, one row per run
    courses = sweep.read_timecourses("sweeps/mine")                # xarray, run x step
    result = sweep.compare("sweeps/gpu", "sweeps/cpu")              # the same drift?

Modules: :mod:`.spec` (specification and expansion), :mod:`.directory` (the sweep
directory), :mod:`.executor` (batches on local processes or Dask), :mod:`.summary` (the
paper's summary columns), :mod:`.table` (the results table), :mod:`.timecourses` (every
run's records in one Zarr store), :mod:`.comparison` (whether two sweeps show the same drift).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repdrift.sweep.spec import SweepError, SweepSpec, expand, load_spec, preset_names

__all__ = [
    "SweepError",
    "SweepSpec",
    "compare",
    "create",
    "expand",
    "load_spec",
    "preset_names",
    "read_table",
    "read_timecourses",
    "resume",
    "run",
]


def create(
    source: str | Path | dict[str, Any] | None = None,
    *,
    out: str | Path,
    preset: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    batch_size: int | None = None,
):
    """Expand a spec (file, dict or ``preset``) and create its sweep directory ``out``.

    ``overrides`` (``"section.field=value"``) apply to every run, over the spec;
    ``batch_size`` bounds the runs per batch (default 32). Opening an existing sweep of the
    very same plan is allowed (it is returned as is, with its own batches).
    """
    from repdrift.sweep import directory
    from repdrift.sweep.executor import DEFAULT_BATCH_SIZE, plan_batches

    spec, text = load_spec(source, preset=preset)
    runs = expand(spec, overrides)
    batches = plan_batches(runs, batch_size or DEFAULT_BATCH_SIZE)
    if preset is not None:
        name = preset
    else:
        name = "spec" if isinstance(source, dict) else Path(source).name
    return directory.create(out, name=name, spec_text=text, runs=runs, batches=batches)


def run(
    source: str | Path | dict[str, Any] | None = None,
    *,
    out: str | Path,
    preset: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    batch_size: int | None = None,
    **options: Any,
):
    """Create (or reopen) the sweep and run it; options (``workers``, ``scheduler``,
    ``progress``, ``snapshot_threads``) as :func:`.executor.run_sweep`; runs continued
    elsewhere are warned of as by :func:`resume`."""
    from repdrift.sweep.executor import connected, run_sweep

    with connected(options.pop("scheduler", None)) as client:  # before anything is written
        sweep = create(source, out=out, preset=preset, overrides=overrides, batch_size=batch_size)
        return _said(sweep.path, run_sweep(sweep, scheduler=client, **options))


def resume(path: str | Path, **options: Any):
    """Finish a stopped sweep; finished runs are not run again. Runs continued from steps
    computed elsewhere (another processor, device, thread count or JAX) go on, with a
    :class:`repdrift.ComputedElsewhereWarning` (their records need not match an
    uninterrupted sweep's in the last bits)."""
    from repdrift.sweep.directory import open_sweep
    from repdrift.sweep.executor import run_sweep

    sweep = open_sweep(path)
    return _said(sweep.path, run_sweep(sweep, **options))


def _said(path: Path, result):
    """Warn of the result's runs continued elsewhere (``repdrift sweep`` prints a note)."""
    import warnings

    from repdrift.cores import ComputedElsewhereWarning
    from repdrift.sweep.executor import moved_note

    if note := moved_note(result.moved):
        warnings.warn(f"{path}: {note}", ComputedElsewhereWarning, stacklevel=3)
    return result


def read_timecourses(path: str | Path):
    """The time courses of every run of a sweep (xarray Dataset over run × step and run ×
    snapshot step; :mod:`repdrift.sweep.timecourses`)."""
    from repdrift.sweep.directory import open_sweep
    from repdrift.sweep.timecourses import read

    return read(open_sweep(path))


def read_table(path: str | Path):
    """The results table of a sweep directory (pandas DataFrame), as its runs stand now
    (:func:`repdrift.sweep.table.current_table`; also while the sweep runs)."""
    from repdrift.sweep.directory import open_sweep
    from repdrift.sweep.table import current_table

    return current_table(open_sweep(path))


def compare(a: str | Path, b: str | Path, **options: Any):
    """Whether two sweep directories show the same drift, group by group
    (:func:`repdrift.sweep.comparison.compare`; ``alpha``, ``min_runs``)."""
    from repdrift.sweep.comparison import compare as run_comparison

    return run_comparison(a, b, **options)
