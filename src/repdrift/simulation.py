"""Simulations from configurations to stored, reopenable runs — one run or a batch.

``config → task dataset → model → engine → records → snapshot metrics → store``. This module
is the only place where the engine meets files; the engine knows nothing of them. One run
is a batch of one: :func:`simulate` and :func:`resume` call :func:`simulate_batch` and
:func:`resume_batch`, so a run in a sweep and the same run alone go through the same code.

Python API (mirrors the command line)::

    cfg = repdrift.load_config(preset="fig2-quick", overrides=["learner.update_noise=0"])
    run = repdrift.simulate(cfg, out="runs/quick")
    run = repdrift.open_run("runs/quick")
    run.metrics["fraction_active_units"]      # xarray over step
    run.dataset.inputs                        # the dataset it trained on

**Batches.** Configurations with equal :func:`batch_key` train together in one compiled,
vmapped program; network problems of different sizes are padded to common sizes with masks
(see :mod:`repdrift.models.feedforward`: padding changes nothing of a run), so a sweep over
task shapes compiles once per learning rule and schedule. Each run is stored in its own
directory, exactly as a run alone.

**Seeds and numerics.** ``run.seed`` is any integer in ``[0, 2^64)``: its two 32-bit halves
form the threefry key, so seeds that differ in any bit give different runs. The task and
the initial parameters are drawn in float32 whatever ``run.dtype`` (so a float64 run
starts from the same dataset and parameters as a float32 run of the same seed) and cast; a
float64 run computes under :func:`jax.enable_x64` only for its duration and never changes
the process-wide setting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from repdrift import cores, engine, learners, store, tasks
from repdrift.config import Config, ConfigError
from repdrift.cores import ComputedElsewhereWarning
from repdrift.interrupts import raise_if_interrupted
from repdrift.metrics import tuning
from repdrift.models import feedforward
from repdrift.models.base import Model
from repdrift.runs import DATASET_FIELDS, DATASET_FILE, Run, open_run, run_dataset, write_dataset
from repdrift.runs import read_config as _read_config

#: Dimension names of the network's snapshot arrays and metrics.
SNAPSHOT_DIMS: dict[str, tuple[str, ...]] = {
    "W1": ("unit", "input"),
    "b1": ("unit",),
    "W2": ("output", "unit"),
    "rate_map": ("unit", "bin"),
    "si_bits_per_activity": ("unit",),
}

ProgressFn = Callable[[int, int, dict[str, float]], None]


# --------------------------------------------------------------------------- numerics


def seed_key(seed: int) -> jax.Array:
    """The threefry key of a seed in ``[0, 2^64)``: its high and low 32-bit words.

    For seeds below 2^32 this is ``jax.random.key(seed)``.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
        raise ConfigError(f"config: run.seed: must be an integer in [0, 2^64) (got {seed!r})")
    words = np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)
    return jax.random.wrap_key_data(words, impl="threefry2x32")


def _dtype(config: Config):
    return jnp.float64 if config.run.dtype == "float64" else jnp.float32


def numerics(config: Config) -> contextlib.AbstractContextManager:
    """The context a run computes in: 64-bit JAX for float64 runs, nothing otherwise."""
    if config.run.dtype == "float64":
        return jax.enable_x64(True)
    return contextlib.nullcontext()


def _cast(tree: Any, dtype) -> Any:
    def cast(x):
        x = jnp.asarray(x)
        return x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x

    return jax.tree_util.tree_map(cast, tree)


# ---------------------------------------------------------------------------- members


@dataclass(frozen=True)
class Member:
    """One run ready for the engine (arrays at the run's own shapes, no run axis).

    Attributes:
        config: the run's configuration.
        model: the model (static).
        dataset: the task's dataset (NumPy arrays), for network runs.
        data: the model's data.
        hyper: the model's traced hyperparameters.
        initial: the model state at step 0.
        schedule: record and snapshot steps.
    """

    config: Config
    model: Model
    dataset: tasks.Dataset | None
    data: Any
    hyper: Any
    initial: Any
    schedule: engine.Schedule


def network_model(config: Config) -> feedforward.FeedForward:
    return feedforward.FeedForward(config.network.hidden, config.learner_spec())


def is_network(config: Config) -> bool:
    return config.model.kind == "network"


def _model_module(config: Config):
    from repdrift import models

    return models.module(config.model.kind)


def _model_params(config: Config):
    try:
        return config.model_params()
    except ValueError as err:
        raise ConfigError(f"config: model: {err}") from None


def model_of(config: Config) -> Model:
    """The (static) model of a configuration."""
    if is_network(config):
        return network_model(config)
    return _model_module(config).make_model(_model_params(config))


def schedule_of(config: Config) -> engine.Schedule:
    rc = config.record
    return engine.schedule(
        config.run.steps,
        dense_until=rc.dense_until,
        per_decade=rc.per_decade,
        snapshots=rc.snapshots,
        linear_snapshots=rc.linear_snapshots,
    )


def batch_key(config: Config) -> tuple:
    """Configurations with equal keys can train together in one compiled program.

    The key holds what is static in the program: the model (for the network, hidden
    size and the learning rule with the noises it switches on), the dtype, the record
    schedule and the divergence limit. Task sizes, seeds, learning rates, noise magnitudes
    and readout scales are data (task sizes through padding).
    """
    rc = config.record
    return (
        model_of(config),
        config.run.dtype,
        config.run.steps,
        rc.dense_until,
        rc.per_decade,
        rc.snapshots,
        rc.linear_snapshots,
        config.run.max_loss,
    )


def make_dataset(config: Config) -> tasks.Dataset:
    """The task's dataset of a configuration, as NumPy arrays (drawn in float32)."""
    k_task, _, _ = jax.random.split(seed_key(config.run.seed), 3)
    try:
        ds = tasks.make(k_task, config.task_params(), dtype=jnp.float32)
    except (ValueError, OSError) as err:
        raise ConfigError(f"config: task: {err}") from None
    return tasks.Dataset(
        **{
            name: None if (value := getattr(ds, name)) is None else np.asarray(value)
            for name in DATASET_FIELDS
        }
    )


def build(config: Config, dataset: tasks.Dataset | None = None) -> Member:
    """Everything the engine needs for one configuration (``dataset``: a stored one)."""
    if not is_network(config):
        return _build_model(config)
    if dataset is None:
        dataset = make_dataset(config)
    dtype = _dtype(config)
    _, k_init, _ = jax.random.split(seed_key(config.run.seed), 3)
    model = network_model(config)
    lc = config.learner
    data32 = feedforward.make_data(dataset.inputs, dataset.targets, jnp.float32)
    hyper32 = feedforward.NetworkHyper(
        learners.hyper(lc.lr, lc.update_noise, lc.label_noise, lc.input_noise, lc.sed_perturbation),
        jnp.asarray(_readout_sd(config), jnp.float32),
    )
    initial = model.init(k_init, data32, hyper32)
    if lc.kind == "sed" or any((lc.update_noise, lc.label_noise, lc.input_noise)):
        _check_noise_shapes((data32, initial))
    if config.record.hessian == "exact":
        _check_hessian_memory(config, dataset)
    with numerics(config):
        data, hyper, initial = _cast((data32, hyper32, initial), dtype)
    return Member(config, model, dataset, data, hyper, initial, schedule_of(config))


def _build_model(config: Config) -> Member:
    """A model other than the network: its data, hyperparameters and initial state, drawn
    in float32 from the seed's keys and cast to the run's dtype."""
    module = _model_module(config)
    params = _model_params(config)
    model = module.make_model(params)
    k_data, k_init, _ = jax.random.split(seed_key(config.run.seed), 3)
    data32 = module.make_data(k_data, params, dtype=jnp.float32)
    hyper32 = module.make_hyper(params, dtype=jnp.float32)
    initial = model.init(k_init, data32, hyper32)
    _check_noise_shapes((data32, initial))
    with numerics(config):
        data, hyper, initial = _cast((data32, hyper32, initial), _dtype(config))
    return Member(config, model, None, data, hyper, initial, schedule_of(config))


def _check_noise_shapes(arrays: Any) -> None:
    """Refuse, before anything is written, a run with a matrix the noise cannot address.

    The noise keys each entry of a matrix by ``i·2¹⁶ + j`` (:mod:`repdrift.noise`), so no
    noisy matrix may have more than 2¹⁶ rows or columns; found otherwise only inside the
    first compiled step, after ``--overwrite`` had replaced the old run.

    Raises:
        ConfigError: one line naming the shape and the limit.
    """
    from repdrift.noise import MAX_COLS, MAX_ROWS

    for leaf in jax.tree_util.tree_leaves(arrays):
        shape = np.shape(leaf)
        if len(shape) == 2 and (shape[0] > MAX_ROWS or shape[1] > MAX_COLS):
            raise ConfigError(
                f"a {shape[0]:,} × {shape[1]:,} matrix of this run is larger than the noise "
                f"can draw for (at most {MAX_ROWS:,} rows and {MAX_COLS:,} columns); use "
                "fewer units, samples or inputs"
            )


def _check_hessian_memory(config: Config, dataset: tasks.Dataset) -> None:
    """Refuse ``record.hessian = "exact"`` where its matrix cannot fit in this machine.

    The reduced Hessian (:func:`repdrift.metrics.reduced_hessian`) has at most
    ``hidden · (min(samples, d_in + 1) + d_out)`` rows, in float64; without this check a
    network too large for it fails at its first snapshot, after ``--overwrite`` had
    replaced the old run.

    Raises:
        ConfigError: one line with the matrix's size and the machine's memory.
    """
    samples, d_in = np.shape(dataset.inputs)
    d_out = np.shape(dataset.targets)[1]
    rows = config.network.hidden * (min(samples, d_in + 1) + d_out)
    need = 8 * rows**2
    have = cores.physical_memory()
    if have is not None and need > have:
        raise ConfigError(
            f'record.hessian = "exact" needs a Hessian of up to {rows:,} × {rows:,} '
            f"({need / 2**30:,.0f} GiB), more than this machine's memory "
            f'({have / 2**30:,.0f} GiB); set record.hessian = "gauss_newton" or "none", '
            "or use fewer units"
        )


def _readout_sd(config: Config) -> float:
    from repdrift.network import readout_sd

    return readout_sd(config.network.readout, config.network.hidden)


# ---------------------------------------------------------------------- snapshot metrics


def track_range(config: Config, dataset: tasks.Dataset) -> tuple[float, float]:
    """The range of positions over which rate maps are binned."""
    task = config.task
    if task.kind == "corridor":
        return (0.0, float(task.size_y))
    if task.kind == "ring":
        return (0.0, float(task.scene_size))
    pos = np.asarray(dataset.position)
    return (float(pos.min()), float(pos.max()))


#: The Hessian summaries of a snapshot (with ``record.hessian``), NaN where not computed.
HESSIAN_METRICS = (
    "hessian_trace",
    "hessian_max",
    "hessian_log_sum",
    "hessian_n_nonzero",
    "hessian_fraction_nonzero",
)


def snapshot_metrics(
    config: Config,
    dataset: tasks.Dataset,
    params: dict[str, np.ndarray],
    *,
    hessian: bool = True,
) -> dict[str, np.ndarray]:
    """Rate maps, SI and (if configured) Hessian summaries of one network snapshot.

    ``params`` are one run's parameters (no run axis). Returns arrays keyed by name:

    All of them measure the hidden layer's rates (:func:`repdrift.network.rates`: the
    positive part of the activity, the activity itself for ReLU and softplus):

    * ``population_sparseness``: Treves–Rolls sparseness over units, mean over samples;
    * for spatial tasks: ``rate_map (unit, bin)`` (both running directions, unsmoothed),
      ``si_bits_per_activity (unit,)`` (Skaggs, bits per unit activity), and two means
      that must not be confused: ``mean_si_active_units`` — over units active on at least
      one sample — and ``mean_si_place_units`` — over *place units*, active units with SI
      > ``record.si_threshold`` (0.01 bits), what the paper's Fig. 2C plots; with
      ``place_units`` (their count) and ``place_units_fraction`` (of all units);
    * with ``record.hessian``: ``hessian_trace``, ``hessian_max``, ``hessian_log_sum``,
      ``hessian_n_nonzero``, ``hessian_fraction_nonzero`` (:mod:`repdrift.metrics.hessian`;
      :data:`HESSIAN_METRICS`), all NaN with ``hessian=False`` (a snapshot that
      ``record.hessian_at = "windows"`` skips).
    """
    from repdrift import network
    from repdrift.metrics import sparsity

    model = network_model(config)
    out = model.snapshot_metrics(params, dataset)
    hidden = network.rates(params, dataset.inputs, config.network.activation)
    active = sparsity.active_units(hidden)
    if dataset.position is not None:
        maps = tuning.rate_maps(
            hidden,
            np.asarray(dataset.position),
            None if dataset.direction is None else np.asarray(dataset.direction),
            bins=config.record.bins,
            range=track_range(config, dataset),
        )
        si = tuning.spatial_information(maps)
        place = active & tuning.place_units(si, config.record.si_threshold)
        out["rate_map"] = maps.values
        out["si_bits_per_activity"] = si
        out["mean_si_active_units"] = _mean(si[active])
        out["mean_si_place_units"] = _mean(si[place])
        out["place_units"] = np.asarray(place.sum())
        out["place_units_fraction"] = np.asarray(place.mean())
    if config.record.hessian != "none":
        if hessian:
            out.update(_hessian_metrics(config, dataset, params))
        else:
            out.update({name: np.asarray(np.nan) for name in HESSIAN_METRICS})
    return out


def spectrum_steps(config: Config, snapshot_steps: np.ndarray) -> np.ndarray:
    """The snapshot steps at which a run computes its Hessian spectrum: none without
    ``record.hessian``, all with ``record.hessian_at = "all"``, and with ``"windows"``
    those the sweep summary's Hessian columns read
    (:func:`repdrift.sweep.summary.hessian_window_mask`)."""
    steps = np.asarray(snapshot_steps)
    rc = config.record
    if rc.hessian == "none" or not is_network(config):
        return steps[:0]
    if rc.hessian_at == "windows":
        from repdrift.sweep.summary import hessian_window_mask

        return steps[hessian_window_mask(steps)]
    return steps


def _mean(values: np.ndarray) -> np.ndarray:
    values = values[np.isfinite(values)]
    return np.asarray(values.mean() if values.size else np.nan)


def _hessian_metrics(config: Config, dataset: tasks.Dataset, params) -> dict[str, np.ndarray]:
    from repdrift.metrics import hessian

    p64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
    act = config.network.activation
    if config.record.hessian == "exact":
        ev = hessian.hessian_eigenvalues(
            p64, np.asarray(dataset.inputs), np.asarray(dataset.targets), act=act
        )
    else:
        ev = hessian.gauss_newton_eigenvalues(p64, np.asarray(dataset.inputs), act=act)
    summary = hessian.hessian_summary(ev)
    values = (
        summary.trace,
        summary.max,
        summary.log_sum,
        summary.n_nonzero,
        summary.fraction_nonzero,
    )
    return {name: np.asarray(v) for name, v in zip(HESSIAN_METRICS, values, strict=True)}


# ------------------------------------------------------------------------- the record


class Recorder:
    """One run's records and snapshots in memory; turns them into xarray datasets."""

    def __init__(self, member: Member):
        self.member = member
        self.steps: list[np.ndarray] = []
        self.records: dict[str, list[np.ndarray]] = {}
        self.snap_steps: list[int] = []
        self.snaps: list[dict[str, np.ndarray]] = []
        #: Snapshot steps with a Hessian spectrum.
        self.hessian_steps = frozenset(
            spectrum_steps(member.config, member.schedule.snapshot_steps).tolist()
        )

    @classmethod
    def restore(cls, member: Member, metrics: xr.Dataset, snapshots: xr.Dataset) -> Recorder:
        rec = cls(member)
        if metrics.sizes.get("step", 0):
            rec.steps = [metrics["step"].values]
            rec.records = {k: [metrics[k].values] for k in metrics.data_vars}
        for i, step in enumerate(snapshots["step"].values if "step" in snapshots else []):
            rec.snap_steps.append(int(step))
            rec.snaps.append({k: snapshots[k].values[i] for k in snapshots.data_vars})
        return rec

    @property
    def last_step(self) -> int:
        return int(self.steps[-1][-1]) if self.steps and self.steps[-1].size else -1

    def add_records(self, steps: np.ndarray, records: dict[str, np.ndarray]) -> None:
        """Records ``name -> (m, ...)`` at ``steps (m,)``; steps already held are skipped
        (a resumed run re-measures its starting step)."""
        new = steps > self.last_step
        if new.any():
            self.steps.append(steps[new])
            for k, v in records.items():
                self.records.setdefault(k, []).append(np.asarray(v)[new])

    def add_snapshot(self, step: int, snapshot: dict[str, np.ndarray]) -> None:
        self.append_snapshot(step, self.measure_snapshot(step, snapshot))

    def measure_snapshot(
        self, step: int, snapshot: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray] | None:
        """The snapshot with its measurements (``None``: the step is held already). Reads
        nothing that changes while a batch trains, so the runs of a batch may be measured
        in threads at once (:func:`simulate_batch`'s ``snapshot_threads``)."""
        if self.snap_steps and self.snap_steps[-1] == step:
            return None
        m = self.member
        entry = {k: np.array(v) for k, v in snapshot.items()}
        if m.dataset is not None:
            spectrum = step in self.hessian_steps
            entry.update(snapshot_metrics(m.config, m.dataset, entry, hessian=spectrum))
        else:
            data = jax.tree_util.tree_map(np.asarray, m.data)
            entry.update(m.model.snapshot_metrics(entry, data))
        return entry

    def append_snapshot(self, step: int, entry: dict[str, np.ndarray] | None) -> None:
        if entry is None or (self.snap_steps and self.snap_steps[-1] == step):
            return
        self.snap_steps.append(step)
        self.snaps.append(entry)

    def last(self, name: str) -> float:
        return float(self.records[name][-1][-1]) if self.records.get(name) else math.nan

    def status_code(self) -> int:
        return int(self.last("status")) if self.records.get("status") else engine.OK

    def metrics(self) -> xr.Dataset:
        steps = np.concatenate(self.steps) if self.steps else np.zeros(0, np.int64)
        dims = self.member.model.record_dims
        data = {k: (("step", *dims.get(k, ())), np.concatenate(v)) for k, v in self.records.items()}
        ds = xr.Dataset(data, coords={"step": steps.astype(np.int64)})
        ds.attrs["description"] = "records on clean (noise-free) forward passes"
        if "loss" in ds:
            ds["loss"].attrs["long_name"] = "MSE / var(targets)"
        return ds

    def snapshots(self) -> xr.Dataset:
        model = self.member.model
        dims = {
            **SNAPSHOT_DIMS,
            **model.snapshot_dims,
            **getattr(model, "snapshot_metric_dims", {}),
        }
        names = list(self.snaps[0]) if self.snaps else []
        data = {}
        for name in names:
            stacked = np.stack([s[name] for s in self.snaps])
            data[name] = (("step", *dims.get(name, ())), stacked)
        ds = xr.Dataset(data, coords={"step": np.asarray(self.snap_steps, np.int64)})
        m = self.member
        if "rate_map" in ds and m.dataset is not None:
            bins = m.config.record.bins
            _, edges = tuning.bin_index(
                np.zeros(1), None, bins=bins, range=track_range(m.config, m.dataset)
            )
            centres = 0.5 * (edges[:-1] + edges[1:])
            n_dir = ds.sizes["bin"] // bins
            ds = ds.assign_coords(
                bin_position=("bin", np.tile(centres, n_dir)),
                bin_direction=("bin", np.repeat([1, -1][:n_dir], bins)),
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


class RunState(NamedTuple):
    """One run's engine state at its own shapes (what its checkpoint stores)."""

    step: jax.Array
    model: Any
    status: jax.Array
    stopped_at: jax.Array


def _initial_state(member: Member) -> RunState:
    return RunState(
        jnp.asarray(0, jnp.int32),
        member.initial,
        jnp.asarray(engine.OK, jnp.int32),
        jnp.asarray(-1, jnp.int32),
    )


# ------------------------------------------------------------------------ the driver


@dataclass
class _Slot:
    """One run of a batch being driven: where it is stored and what it has recorded."""

    path: Path
    member: Member
    recorder: Recorder
    status: store.Status
    stopped: bool = False  # flagged: its records end at the record that shows the flag
    #: where its earlier steps were computed, if elsewhere (:func:`store.read_computed_earlier`)
    computed_earlier: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def _padded(members: Sequence[Member]) -> bool:
    return isinstance(members[0].model, feedforward.FeedForward)


def _pad_shape(members: Sequence[Member]) -> tuple[int, int, int]:
    shapes = np.array([feedforward.shape_of(m.data) for m in members])
    return tuple(int(v) for v in shapes.max(axis=0))


def _batch_of(members: Sequence[Member], states: Sequence[RunState]):
    """Stack members (network problems padded to common shapes) into the engine's batch
    and state."""
    if _padded(members):
        shape = _pad_shape(members)
        _, d_in, d_out = shape
        data = engine.stack([feedforward.pad_data(m.data, shape) for m in members])
        model_states = engine.stack([feedforward.pad_state(s.model, d_in, d_out) for s in states])
    else:
        data = engine.stack([m.data for m in members])
        model_states = engine.stack([s.model for s in states])
    hyper = engine.stack([m.hyper for m in members])
    state = engine.EngineState(
        step=jnp.asarray(states[0].step, jnp.int32),
        model=model_states,
        status=jnp.stack([jnp.asarray(s.status, jnp.int32) for s in states]),
        stopped_at=jnp.stack([jnp.asarray(s.stopped_at, jnp.int32) for s in states]),
    )
    return engine.Batch(data, hyper), state


def _run_state(state: engine.EngineState, i: int, member: Member) -> RunState:
    """Run ``i``'s state, cut back to its own shapes."""
    model_state = jax.tree_util.tree_map(lambda v: v[i], state.model)
    if isinstance(member.model, feedforward.FeedForward):
        _, d_in, d_out = feedforward.shape_of(member.data)
        model_state = feedforward.unpad_state(model_state, d_in, d_out)
    return RunState(
        state.step,
        model_state,
        state.status[i],
        state.stopped_at[i],
    )


def _final_name(code: int) -> str:
    return "complete" if code == engine.OK else engine.STATUS_NAMES[code]


def _save(slot: _Slot, run_state: RunState, final: bool) -> None:
    """Store the slot's run (its older generations stay until :func:`_prune`)."""
    code = int(np.asarray(run_state.status))
    message = (
        ""
        if code == engine.OK
        else f"{engine.STATUS_NAMES[code]} at step {int(np.asarray(run_state.stopped_at))}"
    )
    name = _final_name(code) if final else "running"
    status = dataclasses.replace(slot.status, status=name, message=message)
    # A flagged run stopped training where it was flagged, whatever step its batch reached.
    steps_done = (
        int(np.asarray(run_state.step))
        if code == engine.OK
        else int(np.asarray(run_state.stopped_at))
    )
    slot.status = store.write_generation(
        slot.path,
        steps_done=steps_done,
        metrics=slot.recorder.metrics(),
        snapshots=slot.recorder.snapshots(),
        checkpoint=_state_to_arrays(run_state),
        status=status,
        step=int(np.asarray(run_state.step)),
        prune=False,
        computed_on=cores.computed_on(),
        computed_earlier=slot.computed_earlier,
    )


def _prune(slots: Sequence[_Slot]) -> None:
    """Remove the slots' older generations, once every run of the batch stored its new one:
    a batch killed between two runs' writes is then put back to one step on resume (the
    sweep's ``run_batch``), instead of continuing its runs apart."""
    for slot in slots:
        store.prune_generations(slot.path, slot.status.generation)


def _measure_snapshots(
    pending: list[tuple[_Slot, dict[str, np.ndarray]]], step: int, pool: Executor | None
) -> None:
    """Measure the batch's snapshots at ``step`` (in ``pool``'s threads, or in turn) and
    append each to its run's record, in the batch's order either way."""

    def measure(item):
        slot, snap = item
        # JAX's 64-bit switch is per thread: a pool thread sets the run's own
        with numerics(slot.member.config):
            return slot.recorder.measure_snapshot(step, snap)

    entries = pool.map(measure, pending) if pool is not None else map(measure, pending)
    for (slot, _), entry in zip(pending, entries, strict=True):
        slot.recorder.append_snapshot(step, entry)


def _drive(
    slots: list[_Slot],
    states: list[RunState],
    progress: ProgressFn | None,
    stop_after: int | None,
    release: bool = False,
    snapshot_threads: int = 1,
    stored: Callable[[], None] | None = None,
) -> None:
    """Train the slots' runs together from ``states`` (all at one step), storing as it goes.

    ``stored`` is called once every run has stored its first steps.

    ``release``: give back what setting the batch up compiled before training
    (:func:`repdrift.cores.release_compiled`). ``snapshot_threads``: threads measuring
    the runs' snapshots at once (rate maps, SI, Hessian spectra: NumPy's LAPACK releases
    the GIL); the records are the same with any number.
    """
    members = [slot.member for slot in slots]
    first = members[0]
    spec = engine.EngineSpec(first.model, max_loss=first.config.run.max_loss)
    schedule = first.schedule
    total = schedule.steps
    stop = total if stop_after is None else min(total, stop_after)
    every = first.config.run.checkpoint_every_s
    batch, state = _batch_of(members, states)
    if release:
        # Drawing the tasks and initial weights, and padding them, compiled programs for
        # every new shape of the batch; none is used again in it.
        cores.release_compiled()
    for slot in slots:
        # A run flagged after its last record goes on to the record that shows the flag.
        slot.stopped = slot.recorder.status_code() != engine.OK

    def save_all(state: engine.EngineState, final: bool) -> None:
        # A flagged run is stored with its mates until the batch ends, so that a batch
        # resumed after a kill continues with all of them (its padded shapes unchanged).
        for i, slot in enumerate(slots):
            _save(slot, _run_state(state, i, slot.member), final)
        _prune(slots)

    last_save = time.monotonic()
    first_chunk = True
    pool = ThreadPoolExecutor(snapshot_threads) if snapshot_threads > 1 and len(slots) > 1 else None
    try:
        for chunk in engine.iterate(spec, state, batch, schedule, stop=stop):
            raise_if_interrupted()
            state = chunk.state
            step = int(state.step)
            snapshot_params = None
            pending: list[tuple[_Slot, dict[str, np.ndarray]]] = []
            for i, slot in enumerate(slots):
                if slot.stopped:
                    continue
                records = {k: np.asarray(v)[:, i] for k, v in chunk.records.items()}
                flagged = np.flatnonzero(records["status"] != engine.OK)
                if flagged.size:
                    # Its records end at the first record that shows the flag (the run is
                    # frozen from then on), wherever the call happened to end.
                    keep = slice(0, flagged[0] + 1)
                    slot.recorder.add_records(
                        chunk.steps[keep], {k: v[keep] for k, v in records.items()}
                    )
                    slot.stopped = True
                    continue
                slot.recorder.add_records(chunk.steps, records)
                if chunk.snapshot:
                    if snapshot_params is None:
                        snapshot_params = jax.device_get(state.model)
                    run_state = _run_state(
                        engine.EngineState(
                            state.step, snapshot_params, state.status, state.stopped_at
                        ),
                        i,
                        slot.member,
                    )
                    snap = slot.member.model.snapshot(run_state.model)
                    pending.append((slot, {k: np.asarray(v) for k, v in snap.items()}))
            if pending:
                _measure_snapshots(pending, step, pool)
            if progress is not None:
                live = [s.recorder for s in slots if not s.stopped] or [slots[0].recorder]
                shown = {}
                for name in ("loss", "fraction_active_units"):
                    values = [r.last(name) for r in live if r.records.get(name)]
                    if values and np.isfinite(values).any():
                        shown[name] = float(np.nanmean(values))
                progress(step, total, shown)
            now = time.monotonic()
            # The first chunk is stored at once, so that every run is readable from the start.
            if first_chunk or now - last_save >= every:
                save_all(state, final=False)
                last_save = now
                if first_chunk and stored is not None:
                    stored()
            first_chunk = False
            if all(slot.stopped for slot in slots):
                break  # every run diverged or went silent: store what there is
    except KeyboardInterrupt:
        # Ctrl-C: keep everything measured so far (resume continues from here).
        _save_partial(slots, state)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    done = int(state.step) >= total or all(slot.stopped for slot in slots)
    if done:
        save_all(state, final=True)
    else:
        _save_partial(slots, state)


def _save_partial(slots: list[_Slot], state: engine.EngineState) -> None:
    for i, slot in enumerate(slots):
        run_state = _run_state(state, i, slot.member)
        _save(slot, run_state, final=False)
        slot.status = dataclasses.replace(slot.status, status="partial", updated=time.time())
        store.write_status(slot.path, slot.status)
    _prune(slots)


def _check_batch(configs: Sequence[Config]) -> None:
    keys = {batch_key(c) for c in configs}
    if len(keys) > 1:
        raise ConfigError(
            "configs of one batch must share the model, learning rule (and which noises are "
            "on), dtype, record schedule and steps; group them with simulation.batch_key"
        )


def _check_arguments(progress: object, stop_after: object, snapshot_threads: object) -> None:
    """The Python API's arguments, checked before anything is built or written."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function or None, not {type(progress).__name__}")
    if stop_after is not None and (
        isinstance(stop_after, bool) or not isinstance(stop_after, int | np.integer)
    ):
        raise TypeError(f"stop_after must be an integer or None, not {type(stop_after).__name__}")
    if stop_after is not None and stop_after < 0:
        raise ValueError(f"stop_after must be at least 0 steps, got {stop_after}")
    if isinstance(snapshot_threads, bool) or not isinstance(snapshot_threads, int):
        raise TypeError(
            f"snapshot_threads must be an integer, not {type(snapshot_threads).__name__}"
        )
    if snapshot_threads < 1:
        raise ValueError(f"snapshot_threads must be at least 1, got {snapshot_threads}")


def _run_path(path: object) -> Path:
    """A run directory given in Python: a path, and not an empty one (pathlib reads ``""``
    as the current folder; the command line refuses it too:
    :func:`~repdrift.terminal.path_parser`)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"a run directory must be a path, not {type(path).__name__}")
    if not os.fspath(path):
        raise ValueError("an empty path for a run directory; name a folder")
    return Path(path)


def simulate_batch(
    configs: Sequence[Config],
    outs: Sequence[str | Path],
    *,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    stop_after: int | None = None,
    reopen: bool = True,
    release: bool = False,
    snapshot_threads: int = 1,
) -> list[Run] | list[Path]:
    """Run configurations with equal :func:`batch_key` together; store each in ``outs[i]``.

    Each run directory receives its configuration, its dataset and the status
    ``starting`` before training starts, so a kill at any moment after that leaves a run
    that :func:`resume` continues. A diverging or silent run is stored as such and never
    stops the others. ``stop_after`` stops (as ``partial``) after that many steps.
    Returns the stored runs, reopened; with ``reopen=False`` only their paths (a sweep
    summarises its runs itself and would read each twice). ``release=True`` gives back
    the memory of what setting the batch up compiled, before training (a sweep worker:
    :func:`repdrift.cores.release_compiled`). ``snapshot_threads``: threads measuring the
    runs' snapshots at once (the exact Hessian spectra are most of a batch's host work;
    with an accelerator training, give the host's spare cores); the same records with any
    number.
    """
    _check_arguments(progress, stop_after, snapshot_threads)
    if len(configs) != len(outs) or not configs:
        raise ValueError("give one output directory per configuration (at least one)")
    for c in configs:
        if not isinstance(c, Config):
            raise TypeError(
                "a run's configuration must be a repdrift Config, as repdrift.load_config "
                f"returns (from a preset, a TOML file or a dict), not {type(c).__name__}"
            )
    _check_batch(configs)
    members = [build(c) for c in configs]  # validates every task before anything is written
    outs = [_run_path(out) for out in outs]
    for out in outs:  # every output checked before any is created
        store.check_out(out, overwrite=overwrite)
    raise_if_interrupted()  # a Ctrl-C lost while the batch was built: write nothing
    paths, replaced = [], []
    try:
        for out in outs:
            path, old = store.set_aside(Path(out), overwrite=overwrite)
            paths.append(path)
            replaced += [old] if old is not None else []
        slots = []
        for path, member in zip(paths, members, strict=True):
            store.atomic_write_text(path / store.CONFIG_FILE, member.config.to_toml())
            if member.dataset is not None:
                write_dataset(path, member.dataset)
            status = store.Status("starting", 0, member.schedule.steps, None, time.time())
            store.write_status(path, status)
            slots.append(_Slot(path, member, Recorder(member), status))
        with contextlib.ExitStack() as stack, numerics(members[0].config):
            for path in paths:
                stack.enter_context(store.hold(path))
            _drive(
                slots,
                [_initial_state(m) for m in members],
                progress,
                stop_after,
                release,
                snapshot_threads,
                stored=lambda: _discard(replaced),
            )
    except BaseException:
        # Failed or interrupted before its first steps were stored: the runs it replaced
        # are put back (a kill leaves them aside, and store.recover_replaced does it).
        for old in replaced:
            if not store.holds_generations(old.path):
                old.restore()
        raise
    finally:
        _discard(replaced)
    return [open_run(p) for p in paths] if reopen else paths


def _discard(replaced: list[store.Replaced]) -> None:
    """Delete the earlier runs that new ones replaced (once the new runs stand)."""
    while replaced:
        replaced.pop().discard()


def simulate(
    config: Config,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    stop_after: int | None = None,
) -> Run:
    """Run ``config`` and store it in ``out``; returns the reopened :class:`Run`.

    A batch of one (:func:`simulate_batch`). ``stop_after`` stops (as ``partial``) after
    that many steps — for tests and for splitting a long run; ``repdrift resume``
    continues it.
    """
    return simulate_batch(
        [config], [out], overwrite=overwrite, progress=progress, stop_after=stop_after
    )[0]


FINISHED = ("complete", "diverged", "silent")


def _resume_slot(path: Path) -> tuple[_Slot, RunState] | None:
    status = store.read_status(path)
    if status.status == "running":
        raise store.StoreError(f"run {path} is being written by another process")
    config = _read_config(path)
    if status.status in FINISHED:
        return None
    if status.generation is None and status.steps_done == 0:
        # nothing trained yet (perhaps killed before its first status): the config decides
        status = store.Status(status.status, 0, config.run.steps, None, status.updated, "")
    elif status.steps_total != config.run.steps or status.steps_done > config.run.steps:
        raise store.StoreError(
            f"run {path} is corrupt: {store.STATUS_FILE} counts {status.steps_done:,} of "
            f"{status.steps_total:,} steps but {store.CONFIG_FILE} asks for {config.run.steps:,}"
        )
    member = build(config, run_dataset(path, config, status))
    if status.generation is None:
        return _Slot(path, member, Recorder(member), status), _initial_state(member)
    metrics, snapshots, checkpoint = store.read_generation(path, status)
    with numerics(config):
        state = _state_from_arrays(_initial_state(member), checkpoint)
    recorder = Recorder.restore(member, metrics, snapshots)
    return _Slot(path, member, recorder, status, computed_earlier=_places(path, state)), state


def _places(path: Path, state: RunState) -> list[dict[str, Any]]:
    """Where the stored steps of the run at ``path``, to be continued here from
    ``state``, were computed, where not here: its record's earlier places, and the place
    of its last stored steps if that differs from here in what the last bits depend on."""
    recorded, earlier = store.read_computed(path)
    if recorded and cores.computed_elsewhere(recorded, cores.computed_on()):
        earlier.append({"until_step": int(np.asarray(state.step)), "computed_on": recorded})
    return earlier


def resume_batch(
    paths: Sequence[str | Path],
    *,
    progress: ProgressFn | None = None,
    stop_after: int | None = None,
    reopen: bool = True,
    release: bool = False,
    snapshot_threads: int = 1,
) -> list[Run] | list[Path]:
    """Continue stopped runs to exactly the records uninterrupted runs give.

    Finished runs (``complete``, ``diverged``, ``silent``) are returned as they are. Runs
    are continued together in groups of equal :func:`batch_key` and step. ``reopen``,
    ``release`` and ``snapshot_threads`` as in :func:`simulate_batch`.
    """
    _check_arguments(progress, stop_after, snapshot_threads)
    paths = [_run_path(p) for p in paths]
    pending = [(p, _resume_slot(p)) for p in paths]
    groups: dict[tuple, list[tuple[_Slot, RunState]]] = {}
    for _, item in pending:
        if item is None:
            continue
        slot, state = item
        key = (batch_key(slot.member.config), int(np.asarray(state.step)))
        groups.setdefault(key, []).append((slot, state))
    for items in groups.values():
        slots = [s for s, _ in items]
        raise_if_interrupted()  # a Ctrl-C lost while the runs were read: write nothing
        with contextlib.ExitStack() as stack, numerics(slots[0].member.config):
            for slot in slots:
                stack.enter_context(store.hold(slot.path))
            for slot in slots:
                if slot.member.dataset is not None and not (slot.path / DATASET_FILE).is_file():
                    # stopped before it stored its dataset: the one drawn again is stored,
                    # as a new run stores it before its status
                    write_dataset(slot.path, slot.member.dataset)
                slot.status = dataclasses.replace(
                    slot.status, status="running", updated=time.time()
                )
                store.write_status(slot.path, slot.status)
            _drive(slots, [st for _, st in items], progress, stop_after, release, snapshot_threads)
    return [open_run(p) for p in paths] if reopen else paths


def resume_note(path: str | Path) -> str | None:
    """What resuming the run at ``path`` here would be told: ``"its stored steps were
    computed elsewhere (CPU threads 1 → 2; JAX 0.10.2 → 0.11.0): ..."``, naming what
    differs of what its last bits depend on; ``None`` where nothing differs, or the run
    does not say where it was computed (:func:`repdrift.cores.computed_on`)."""
    recorded = store.read_computed_on(Path(path))
    differs = cores.computed_elsewhere(recorded, cores.computed_on()) if recorded else []
    if not differs:
        return None
    return (
        f"its stored steps were computed elsewhere ({'; '.join(differs)}): the run goes on, "
        "but its records need not match an uninterrupted run's in the last bits"
    )


def resume(
    path: str | Path, *, progress: ProgressFn | None = None, stop_after: int | None = None
) -> Run:
    """Continue a stopped run to exactly the records an uninterrupted run gives.

    That needs the device, processor, CPU thread count and JAX its stored steps were
    computed with. Where one differs (:func:`resume_note`), the run goes on, with a
    :class:`ComputedElsewhereWarning`: ``repdrift simulate`` computes on one CPU thread,
    a Python session's XLA on every core unless :func:`repdrift.cores.use_cores` ran
    before its first computation.
    """
    path = _run_path(path)
    if store.read_status(path).status not in FINISHED and (note := resume_note(path)):
        warnings.warn(f"{path}: {note}", ComputedElsewhereWarning, stacklevel=2)
    return resume_batch([path], progress=progress, stop_after=stop_after)[0]
