"""The compiled training loop: a batch of runs of one model trained and recorded in one program.

The engine trains any *model* (:mod:`repdrift.models`): the one-hidden-layer network with its
learning rules, the 2-D toy loss, the similarity-matching network. A *batch* is any number of
runs of one model that share array shapes; everything that differs between them — seeds,
datasets, learning rates, noise magnitudes — is data, so one compiled program serves them
all, and a new batch with new values reuses it.

One call of the compiled :func:`advance` runs ``K`` *segments* (``K`` fixed, lengths traced):
each segment is ``n`` training steps (``lax.fori_loop``, vmapped over runs) followed by the
model's clean — noise-free — measurements (``model.measure``).

The host (:func:`iterate`) cuts the record schedule into segments, keeps the measurements
at record steps, hands out the state at snapshot steps, and bounds the steps per call so
progress and checkpoints stay responsive.

The compiled programs compute every product in the arrays' own precision, on every device
(:mod:`repdrift.precision`: a GPU would otherwise use TensorFloat-32).

Divergence is data, never an exception. A run is flagged, gets a non-zero ``status`` and is
frozen from then on (the other runs continue):

* :data:`DIVERGED` — its training loss (normalised as the model's records are) is not finite
  or above ``max_loss``, or its clean loss is not finite (its parameters became NaN);
* :data:`SILENT` — its clean loss is finite but no unit is active on any sample
  (``fraction_active_units == 0``), for models that measure it.

The training loss is checked at every step; the clean measurements only at record steps,
so a run's flag and the step it carries depend on its configuration alone, never on how
the host cut the steps into calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from repdrift import precision
from repdrift.models.base import Model

#: ``status`` values.
OK, DIVERGED, SILENT = 0, 1, 2
STATUS_NAMES = {OK: "ok", DIVERGED: "diverged", SILENT: "silent"}


@dataclass(frozen=True)
class EngineSpec:
    """Static part of the compiled program.

    Attributes:
        model: the model (a hashable dataclass, see :mod:`repdrift.models.base`).
        max_loss: a run whose normalised training loss exceeds this is flagged diverged.
        segments_per_call: ``K``, segments per compiled call.
    """

    model: Model
    max_loss: float = 1e6
    segments_per_call: int = 16


class EngineState(NamedTuple):
    """State of a batch of runs; every leaf but ``step`` has a leading ``runs`` axis.

    Attributes:
        step: ``()`` steps done (shared by the batch).
        model: the model's state (parameters, optimiser moments, keys).
        status: ``(runs,)`` :data:`OK`, :data:`DIVERGED` or :data:`SILENT`.
        stopped_at: ``(runs,)`` step at which a run was flagged, −1 while it is fine.
    """

    step: jax.Array
    model: Any
    status: jax.Array
    stopped_at: jax.Array


class Batch(NamedTuple):
    """The per-run data of a batch: the model's ``data`` and traced ``hyper``, each with a
    leading ``runs`` axis."""

    data: Any
    hyper: Any


def init(model_states: Any, step: int = 0) -> EngineState:
    """Engine state for stacked model states (leading ``runs`` axis)."""
    runs = jax.tree_util.tree_leaves(model_states)[0].shape[0]
    return EngineState(
        step=jnp.asarray(step, jnp.int32),
        model=model_states,
        status=jnp.zeros((runs,), jnp.int32),
        stopped_at=jnp.full((runs,), -1, jnp.int32),
    )


def stack(items: list[Any]) -> Any:
    """Stack a list of pytrees of equal structure and shapes along a new leading axis."""
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *items)


def _flag(record: dict[str, jax.Array], status: jax.Array, stopped_at, step) -> tuple:
    """Flag runs whose clean measurement shows divergence or silence."""
    bad = (status == OK) & ~jnp.isfinite(record["loss"])
    status = jnp.where(bad, DIVERGED, status)
    stopped_at = jnp.where(bad, step, stopped_at)
    if "fraction_active_units" in record:
        silent = (status == OK) & (record["fraction_active_units"] == 0)
        status = jnp.where(silent, SILENT, status)
        stopped_at = jnp.where(silent, step, stopped_at)
    return status, stopped_at


@partial(jax.jit, static_argnames=("spec",))
def measure(spec: EngineSpec, state: EngineState, batch: Batch) -> dict[str, jax.Array]:
    """Clean measurements of every run, ``name -> (runs, ...)``."""
    with jax.default_matmul_precision(precision.MATMUL):
        return jax.vmap(spec.model.measure)(state.model, batch.data)


def _train_one(spec: EngineSpec, n_steps, step0, mstate, status, stopped_at, data, hyper):
    model = spec.model

    def body(i, carry):
        mstate, status, stopped_at = carry
        new_state, loss = model.step(mstate, data, hyper)
        bad = ~jnp.isfinite(loss) | (loss > spec.max_loss)
        flag = (status == OK) & bad
        status = jnp.where(flag, DIVERGED, status)
        stopped_at = jnp.where(flag, step0 + i, stopped_at)
        running = status == OK
        # A flagged run keeps the state at which it was flagged.
        mstate = jax.tree_util.tree_map(
            lambda new, old: jnp.where(running, new, old), new_state, mstate
        )
        return mstate, status, stopped_at

    return jax.lax.fori_loop(0, n_steps, body, (mstate, status, stopped_at))


@partial(jax.jit, static_argnames=("spec",))
def advance(
    spec: EngineSpec,
    state: EngineState,
    batch: Batch,
    n_steps: jax.Array,
    flag_at: jax.Array | None = None,
) -> tuple[EngineState, dict[str, jax.Array]]:
    """Run ``K = len(n_steps)`` segments of ``n_steps[k]`` steps, measuring after each.

    ``flag_at`` ``(K,)`` says after which segments the clean measurement may flag a run
    (default: all). :func:`iterate` flags only at record steps, so that where a run is
    flagged never depends on how the steps were cut into calls: silence in particular can
    be transient under noise, and a check at an arbitrary step would catch it or not.
    Divergence of the training loss is checked at every step regardless.

    Returns the new state and the measurements ``name -> (K, runs, ...)`` plus
    ``"step" (K,)`` and ``"status" (K, runs)`` after every segment.
    """
    with jax.default_matmul_precision(precision.MATMUL):
        return _advance(spec, state, batch, n_steps, flag_at)


def _advance(spec, state, batch, n_steps, flag_at):
    train = jax.vmap(partial(_train_one, spec), in_axes=(None, None, 0, 0, 0, 0, 0))
    if flag_at is None:
        flag_at = jnp.ones(n_steps.shape, bool)

    def segment(state: EngineState, xs):
        n, check = xs
        mstate, status, stopped_at = train(
            n, state.step, state.model, state.status, state.stopped_at, batch.data, batch.hyper
        )
        step = state.step + n
        state = EngineState(step, mstate, status, stopped_at)
        record = measure(spec, state, batch)
        flagged, flagged_at = _flag(record, status, stopped_at, step)
        status = jnp.where(check, flagged, status)
        stopped_at = jnp.where(check, flagged_at, stopped_at)
        state = state._replace(status=status, stopped_at=stopped_at)
        return state, {**record, "step": step, "status": status}

    return jax.lax.scan(segment, state, (n_steps, flag_at))


# ----------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Schedule:
    """When to record and when to snapshot (sorted unique step numbers, 0 included).

    Build one with :func:`schedule`.
    """

    record_steps: np.ndarray
    snapshot_steps: np.ndarray

    @cached_property
    def record_set(self) -> frozenset[int]:
        return frozenset(self.record_steps.tolist())

    @cached_property
    def snapshot_set(self) -> frozenset[int]:
        return frozenset(self.snapshot_steps.tolist())

    @property
    def steps(self) -> int:
        return int(self.record_steps[-1])


def schedule(
    steps: int,
    *,
    dense_until: int = 100,
    per_decade: int = 100,
    snapshots: int = 20,
    linear_snapshots: int = 0,
) -> Schedule:
    """Every step up to ``dense_until``, then ``per_decade`` log-spaced steps per decade.

    Snapshots (parameters kept for rate maps, SI and the Hessian) are ``snapshots``
    log-spaced steps from 1 to ``steps`` plus step 0, and, when ``linear_snapshots > 0``,
    that many evenly spaced steps on top (for drift matrices on a linear time axis).
    Snapshot steps are always record steps; the last step is always both.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    dense = np.arange(0, min(dense_until, steps) + 1)
    decades = max(np.log10(steps) - np.log10(max(dense_until, 1)), 0.0)
    late = np.geomspace(max(dense_until, 1), steps, int(np.ceil(decades * per_decade)) + 1)
    snap = np.concatenate([[0], np.geomspace(1, steps, max(snapshots - 1, 1))])
    if linear_snapshots > 0:
        snap = np.concatenate([snap, np.linspace(0, steps, linear_snapshots + 1)])
    snap = np.unique(np.round(np.append(snap, steps)).astype(np.int64))
    record = np.unique(np.concatenate([dense, np.round(late).astype(np.int64), snap]))
    record = record[record <= steps]
    return Schedule(record_steps=record, snapshot_steps=snap[snap <= steps])


class Chunk(NamedTuple):
    """What one compiled call produced, as NumPy.

    Attributes:
        state: the engine state after the call (on the device).
        steps: ``(m,)`` record steps reached in this call.
        records: ``name -> (m, runs)`` measurements at those steps (incl. ``status``).
        snapshot: whether ``state`` is at a snapshot step.
    """

    state: EngineState
    steps: np.ndarray
    records: dict[str, np.ndarray]
    snapshot: bool


def _plan(
    start: int, schedule: Schedule, stop: int, budget: int, segments: int
) -> tuple[np.ndarray, np.ndarray]:
    """Segment lengths and record flags for one call from ``start`` (host-side)."""
    record = schedule.record_steps
    lengths: list[int] = []
    flags: list[bool] = []
    step = start
    used = 0
    while len(lengths) < segments and step < stop and used < budget:
        nxt = (
            int(record[np.searchsorted(record, step, side="right")]) if step < record[-1] else stop
        )
        target = min(nxt, stop)
        n = min(target - step, budget - used)
        step += n
        used += n
        lengths.append(n)
        flags.append(step == target and step in schedule.record_set)
        if step in schedule.snapshot_set and flags[-1]:
            break
    lengths += [0] * (segments - len(lengths))
    flags += [False] * (segments - len(flags))
    return np.asarray(lengths, np.int32), np.asarray(flags)


def iterate(
    spec: EngineSpec,
    state: EngineState,
    batch: Batch,
    schedule: Schedule,
    *,
    stop: int | None = None,
    seconds_per_call: float = 0.5,
) -> Iterator[Chunk]:
    """Train ``state`` up to step ``stop`` (default: the schedule's end), chunk by chunk.

    Yields one :class:`Chunk` per compiled call. The steps per call adapt so that a call
    takes about ``seconds_per_call``; that changes only traced lengths, never the program,
    and never the result (a run's trajectory depends only on its step count).
    Starting at step 0 yields the step-0 measurement first.
    """
    stop = schedule.steps if stop is None else stop
    start = int(state.step)
    if start == 0 and 0 in schedule.record_steps:
        measured = measure(spec, state, batch)
        status, stopped_at = _flag(measured, state.status, state.stopped_at, state.step)
        state = state._replace(status=status, stopped_at=stopped_at)
        record = {k: np.asarray(v)[None] for k, v in measured.items()}
        record["status"] = np.asarray(state.status)[None]
        yield Chunk(state, np.array([0]), record, 0 in schedule.snapshot_set)
    budget = 64
    while start < stop:
        lengths, flags = _plan(start, schedule, stop, budget, spec.segments_per_call)
        t0 = time.perf_counter()
        state, out = advance(spec, state, batch, jnp.asarray(lengths), jnp.asarray(flags))
        out = jax.device_get(out)
        elapsed = time.perf_counter() - t0
        done = int(lengths.sum())
        start += done
        steps = np.asarray(out.pop("step"))[flags]
        records = {k: np.asarray(v)[flags] for k, v in out.items()}
        yield Chunk(state, steps, records, start in schedule.snapshot_set)
        if done >= budget and elapsed > 0:
            # Grow or shrink towards the target call duration (at most ×4 per call).
            budget = int(np.clip(budget * seconds_per_call / elapsed, budget / 4, budget * 4))
            budget = max(budget, 16)
