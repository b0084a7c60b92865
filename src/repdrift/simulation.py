"""One simulation from a configuration to a stored, reopenable run.

``config → task dataset → engine → records → snapshot metrics → store``. This module is
the only place where the engine meets files; the engine knows nothing of them.

Python API (mirrors the command line)::

    cfg = repdrift.load_config(preset="fig2-quick", overrides=["learner.update_noise=0"])
    run = repdrift.simulate(cfg, out="runs/quick")
    run = repdrift.open_run("runs/quick")
    run.metrics["active_units_fraction"]      # xarray over step
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from repdrift import engine, learners, network, store, tasks
from repdrift.config import Config, ConfigError, load_config
from repdrift.metrics import sparsity, tuning

#: Scalar metrics computed at snapshot steps (besides the per-step records).
SNAPSHOT_SCALARS = (
    "mean_si",
    "place_units",
    "place_units_fraction",
    "population_sparseness",
)
HESSIAN_SCALARS = (
    "hessian_trace",
    "hessian_max",
    "hessian_log_sum",
    "hessian_n_nonzero",
    "hessian_fraction_nonzero",
)


@dataclass(frozen=True)
class Prepared:
    """Everything the engine needs for one configuration."""

    config: Config
    dataset: tasks.Dataset
    spec: engine.EngineSpec
    batch: engine.Batch
    state: engine.EngineState
    schedule: engine.Schedule


def _dtype(config: Config):
    if config.run.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
        return jnp.float64
    return jnp.float32


def prepare(config: Config) -> Prepared:
    """Build the dataset, initial parameters and engine state of a configuration.

    Seeds: ``key(seed)`` is split into task, initialisation and learner keys, so the
    same seed gives the same dataset whatever the learner.
    """
    dtype = _dtype(config)
    k_task, k_init, k_learn = jax.random.split(jax.random.key(config.run.seed), 3)
    try:
        dataset = tasks.make(k_task, config.task_params(), dtype=dtype)
    except ValueError as err:
        raise ConfigError(f"config: task: {err}") from None
    params = network.init(
        k_init,
        dataset.d_in,
        config.network.hidden,
        dataset.d_out,
        readout=config.network.readout,
        dtype=dtype,
    )
    spec = engine.EngineSpec(config.learner_spec(), max_loss=config.run.max_loss)
    lc = config.learner
    hp = learners.hyper(
        lc.lr, lc.update_noise, lc.label_noise, lc.input_noise, lc.sed_perturbation, dtype=dtype
    )
    batch = engine.Batch(
        dataset.inputs[None], dataset.targets[None], jax.tree_util.tree_map(lambda v: v[None], hp)
    )
    state = engine.init(spec, k_learn[None], jax.tree_util.tree_map(lambda v: v[None], params))
    rc = config.record
    schedule = engine.schedule(
        config.run.steps,
        dense_until=rc.dense_until,
        per_decade=rc.per_decade,
        snapshots=rc.snapshots,
        dense_snapshots=rc.linear_snapshots,
    )
    return Prepared(config, dataset, spec, batch, state, schedule)


# ---------------------------------------------------------------------- snapshot metrics


def snapshot_metrics(
    config: Config, dataset: tasks.Dataset, params: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Rate maps, SI and (if configured) Hessian summaries of one parameter snapshot.

    ``params`` are one run's parameters (no run axis). Returns arrays keyed by name:
    ``rate_map (unit, bin)``, ``si_bits_per_activity (unit,)``, ``mean_si`` (mean SI over
    active units), ``place_units`` (active units with SI > ``record.si_threshold``),
    ``place_units_fraction`` (of all units), ``population_sparseness`` (Treves–Rolls over
    units, mean over samples), and the Hessian summaries.
    """
    out: dict[str, np.ndarray] = {}
    _, hidden = network.apply(params, dataset.inputs, config.network.activation)
    hidden = np.asarray(hidden, dtype=np.float64)
    active = np.any(hidden > 0, axis=0)
    # Treves–Rolls sparseness over units, averaged over samples (smaller is sparser).
    per_sample = sparsity.population_sparseness(hidden)
    per_sample = per_sample[np.isfinite(per_sample)]
    out["population_sparseness"] = np.asarray(per_sample.mean() if per_sample.size else np.nan)
    if dataset.position is not None:
        maps = tuning.rate_maps(
            hidden,
            np.asarray(dataset.position),
            np.asarray(dataset.direction),
            bins=config.record.bins,
            range=_track_range(config, dataset),
        )
        si = tuning.spatial_information(maps)
        out["rate_map"] = maps.values
        out["si_bits_per_activity"] = si
        active_si = si[active & np.isfinite(si)]
        out["mean_si"] = np.asarray(active_si.mean() if active_si.size else np.nan)
        place = active & (np.nan_to_num(si) > config.record.si_threshold)
        out["place_units"] = np.asarray(place.sum())
        out["place_units_fraction"] = np.asarray(place.mean())
    if config.record.hessian != "none":
        from repdrift.metrics import hessian

        p64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
        if config.record.hessian == "exact":
            ev = hessian.hessian_eigenvalues(
                p64,
                np.asarray(dataset.inputs),
                np.asarray(dataset.targets),
                act=config.network.activation,
            )
        else:
            ev = hessian.gauss_newton_eigenvalues(
                p64, np.asarray(dataset.inputs), act=config.network.activation
            )
        summary = hessian.hessian_summary(ev)
        out["hessian_trace"] = np.asarray(summary.trace)
        out["hessian_max"] = np.asarray(summary.max)
        out["hessian_log_sum"] = np.asarray(summary.log_sum)
        out["hessian_n_nonzero"] = np.asarray(summary.n_nonzero)
        out["hessian_fraction_nonzero"] = np.asarray(summary.fraction_nonzero)
    return out


def _track_range(config: Config, dataset: tasks.Dataset) -> tuple[float, float]:
    task = config.task
    if task.kind == "corridor":
        return (0.0, float(task.size_y))
    if task.kind == "ring":
        return (0.0, float(task.scene_size))
    pos = np.asarray(dataset.position)
    return (float(pos.min()), float(pos.max()))


# ------------------------------------------------------------------------- the record


class Recorder:
    """Accumulates records and snapshots in memory; turns them into xarray datasets."""

    def __init__(self, config: Config, dataset: tasks.Dataset):
        self.config = config
        self.dataset = dataset
        self.steps: list[np.ndarray] = []
        self.records: dict[str, list[np.ndarray]] = {}
        self.snap_steps: list[int] = []
        self.snaps: list[dict[str, np.ndarray]] = []

    @classmethod
    def restore(
        cls, config: Config, dataset: tasks.Dataset, metrics: xr.Dataset, snapshots: xr.Dataset
    ) -> Recorder:
        rec = cls(config, dataset)
        rec.steps = [metrics["step"].values]
        rec.records = {k: [metrics[k].values] for k in metrics.data_vars}
        for i, step in enumerate(snapshots["step"].values):
            rec.snap_steps.append(int(step))
            rec.snaps.append({k: snapshots[k].values[i] for k in snapshots.data_vars})
        return rec

    def add(self, chunk: engine.Chunk) -> None:
        last = int(self.steps[-1][-1]) if self.steps and self.steps[-1].size else -1
        new = chunk.steps > last  # a resumed run re-measures its starting step
        if new.any():
            self.steps.append(chunk.steps[new])
            for k, v in chunk.records.items():
                self.records.setdefault(k, []).append(np.asarray(v)[new, 0])
        if chunk.snapshot:
            step = int(chunk.state.step)
            if self.snap_steps and self.snap_steps[-1] == step:
                return
            params = {k: np.asarray(v[0]) for k, v in chunk.state.params.items()}
            entry = {k: v.copy() for k, v in params.items()}
            entry.update(snapshot_metrics(self.config, self.dataset, params))
            self.snap_steps.append(step)
            self.snaps.append(entry)

    def last(self, name: str) -> float:
        return float(self.records[name][-1][-1]) if self.records.get(name) else math.nan

    def metrics(self) -> xr.Dataset:
        steps = np.concatenate(self.steps) if self.steps else np.zeros(0, np.int64)
        data = {k: ("step", np.concatenate(v)) for k, v in self.records.items()}
        ds = xr.Dataset(data, coords={"step": steps.astype(np.int64)})
        ds.attrs["description"] = "scalar records on clean forward passes"
        ds["loss"].attrs["long_name"] = "MSE / var(targets)"
        return ds

    def snapshots(self) -> xr.Dataset:
        dims = {
            "W1": ("unit", "input"),
            "b1": ("unit",),
            "W2": ("output", "unit"),
            "rate_map": ("unit", "bin"),
            "si_bits_per_activity": ("unit",),
        }
        names = list(self.snaps[0]) if self.snaps else []
        data = {}
        for name in names:
            stacked = np.stack([s[name] for s in self.snaps])
            data[name] = (("step", *dims.get(name, ())), stacked)
        ds = xr.Dataset(data, coords={"step": np.asarray(self.snap_steps, np.int64)})
        if "rate_map" in ds:
            _, edges = tuning.bin_index(
                np.zeros(1),
                None,
                bins=self.config.record.bins,
                range=_track_range(self.config, self.dataset),
            )
            centres = 0.5 * (edges[:-1] + edges[1:])
            ds = ds.assign_coords(
                bin_position=("bin", np.tile(centres, 2)),
                bin_direction=("bin", np.repeat([1, -1], self.config.record.bins)),
            )
        return ds


# ------------------------------------------------------------------------ checkpoints


def _state_to_arrays(state: engine.EngineState) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_leaves(state)
    out = {}
    for i, leaf in enumerate(leaves):
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out[f"leaf_{i:03d}"] = np.asarray(leaf)
    return out


def _state_from_arrays(
    template: engine.EngineState, arrays: dict[str, np.ndarray]
) -> engine.EngineState:
    leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(arrays) != len(leaves):
        raise store.StoreError("checkpoint does not match the run's configuration")
    restored = []
    for i, leaf in enumerate(leaves):
        value = arrays[f"leaf_{i:03d}"]
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            restored.append(jax.random.wrap_key_data(value, impl=jax.random.key_impl(leaf)))
        else:
            if value.shape != leaf.shape or value.dtype != leaf.dtype:
                raise store.StoreError("checkpoint does not match the run's configuration")
            restored.append(jnp.asarray(value))
    return jax.tree_util.tree_unflatten(treedef, restored)


# ------------------------------------------------------------------------------- runs


@dataclass
class Run:
    """A stored run, reopened. ``metrics`` and ``snapshots`` are in-memory xarray datasets."""

    path: Path
    config: Config
    status: store.Status
    metrics: xr.Dataset
    snapshots: xr.Dataset

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
        return {
            "path": str(self.path),
            "status": self.status.status,
            "steps_done": self.status.steps_done,
            "steps_total": self.status.steps_total,
            "message": self.status.message,
            "config": self.config.model_dump(mode="json"),
            "initial": self.scalars_at("initial"),
            "final": self.scalars_at("final"),
        }


def open_run(path: str | Path) -> Run:
    """Reopen a run directory (raises :class:`repdrift.store.StoreError` if it is not one)."""
    path = Path(path)
    status = store.read_status(path)
    try:
        config = load_config(path / store.CONFIG_FILE)
    except ConfigError as err:
        raise store.StoreError(f"run {path} is corrupt: {err}") from None
    metrics, snapshots, _ = store.read_generation(path, status)
    return Run(path, config, status, metrics, snapshots)


ProgressFn = Callable[[int, int, dict[str, float]], None]


def _drive(
    path: Path,
    prepared: Prepared,
    state: engine.EngineState,
    recorder: Recorder,
    status: store.Status,
    progress: ProgressFn | None,
    stop_after: int | None = None,
) -> store.Status:
    config = prepared.config
    every = config.run.checkpoint_every_s
    last_save = time.monotonic()
    total = prepared.schedule.steps
    stop = total if stop_after is None else min(total, stop_after)

    def save(
        st: engine.EngineState, status: store.Status, final_status: str | None = None
    ) -> store.Status:
        statuses = recorder.records.get("status")
        code = int(statuses[-1][-1]) if statuses else engine.OK
        message = (
            ""
            if code == engine.OK
            else (f"{engine.STATUS_NAMES[code]} at step {int(np.asarray(st.stopped_at)[0])}")
        )
        if final_status is None:
            name = "running"
        else:
            name = final_status if code == engine.OK else "diverged"
        status = store.Status(
            name, status.steps_done, status.steps_total, status.generation, status.updated, message
        )
        return store.write_generation(
            path,
            steps_done=int(st.step),
            metrics=recorder.metrics(),
            snapshots=recorder.snapshots(),
            checkpoint=_state_to_arrays(st),
            status=status,
        )

    chunks = engine.iterate(prepared.spec, state, prepared.batch, prepared.schedule, stop=stop)
    first = True
    try:
        for chunk in chunks:
            recorder.add(chunk)
            state = chunk.state
            step = int(state.step)
            if progress is not None:
                progress(
                    step,
                    total,
                    {
                        "loss": recorder.last("loss"),
                        "active_units_fraction": recorder.last("active_units_fraction"),
                    },
                )
            now = time.monotonic()
            # The first chunk is stored at once, so that the run is readable from the start.
            if first or now - last_save >= every:
                status = save(state, status)
                last_save = now
                first = False
            if int(np.asarray(state.status)[0]) != engine.OK:
                break  # a diverged or dead run: stop, store what there is
    except KeyboardInterrupt:
        # Ctrl-C: keep everything measured so far (resume continues from here).
        save(state, status, final_status="partial")
        raise
    done = int(state.step) >= total or int(np.asarray(state.status)[0]) != engine.OK
    return save(state, status, final_status="complete" if done else "partial")


def simulate(
    config: Config,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    stop_after: int | None = None,
) -> Run:
    """Run ``config`` and store it in ``out``; returns the reopened :class:`Run`.

    ``stop_after`` stops (as ``partial``) after that many steps — for tests and for
    splitting a long run; ``repdrift resume`` continues it.
    """
    path = Path(out)
    prepared = prepare(config)  # validates the task before anything is written
    path = store.prepare_out(path, overwrite=overwrite)
    store.atomic_write_text(path / store.CONFIG_FILE, config.to_toml())
    status = store.Status("running", 0, prepared.schedule.steps, None, time.time())
    store.write_status(path, status)
    with store.hold(path):
        recorder = Recorder(config, prepared.dataset)
        _drive(path, prepared, prepared.state, recorder, status, progress, stop_after)
    return open_run(path)


def resume(
    path: str | Path, *, progress: ProgressFn | None = None, stop_after: int | None = None
) -> Run:
    """Continue a stopped run to exactly the records an uninterrupted run gives."""
    path = Path(path)
    status = store.read_status(path)
    if status.status == "running":
        raise store.StoreError(f"run {path} is being written by another process")
    try:
        config = load_config(path / store.CONFIG_FILE)
    except ConfigError as err:
        raise store.StoreError(f"run {path} is corrupt: {err}") from None
    if status.status in ("complete", "diverged"):
        return open_run(path)
    prepared = prepare(config)
    with store.hold(path):
        if status.generation is None:
            recorder = Recorder(config, prepared.dataset)
            state = prepared.state
        else:
            metrics, snapshots, checkpoint = store.read_generation(path, status)
            state = _state_from_arrays(prepared.state, checkpoint)
            recorder = Recorder.restore(config, prepared.dataset, metrics, snapshots)
        status = store.Status(
            "running", status.steps_done, prepared.schedule.steps, status.generation, time.time()
        )
        store.write_status(path, status)
        _drive(path, prepared, state, recorder, status, progress, stop_after)
    return open_run(path)
