"""The compiled training loop: a batch of runs trained and recorded in one program.

A *batch* is any number of runs that share array shapes (task size, network size, learning
rule and which noises are on). Everything that differs between them — seeds, datasets,
learning rates, noise magnitudes — is data, so one compiled program serves them all, and a
new batch with new values reuses it.

One call of the compiled :func:`advance` runs ``K`` *segments* (``K`` fixed, lengths traced):
each segment is ``n`` training steps (``lax.fori_loop``, vmapped over runs) followed by a
clean — noise-free — forward pass that measures

* ``loss``: full-batch MSE divided by the variance of the targets,
* ``active_fraction``: mean over samples × units of ``h > 0``,
* ``active_units_fraction``: fraction of units with ``h > 0`` for at least one sample.

The host (:func:`iterate`) cuts the record schedule into segments, keeps the measurements
at record steps, hands out parameter snapshots at snapshot steps, and bounds the steps per
call so progress and checkpoints stay responsive.

Divergence is data, never an exception: a run whose training loss is non-finite or above
``max_loss`` × var(targets), or whose units are all silent at a measurement, gets a non-zero
``status`` and is frozen from then on; the other runs continue.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from repdrift import learners, network
from repdrift.learners import Hyper, LearnerSpec, LearnerState
from repdrift.network import Params

#: ``status`` values.
OK, DIVERGED, DEAD = 0, 1, 2
STATUS_NAMES = {OK: "ok", DIVERGED: "diverged", DEAD: "dead"}

#: Names of the scalar measurements taken at record steps, each ``(runs,)``.
RECORD_NAMES = ("loss", "active_fraction", "active_units_fraction")


@dataclass(frozen=True)
class EngineSpec:
    """Static part of the compiled program.

    Attributes:
        learner: the learning rule.
        max_loss: a run whose (unnormalised) training loss exceeds
            ``max_loss × var(targets)`` is flagged diverged.
        segments_per_call: ``K``, segments per compiled call.
    """

    learner: LearnerSpec
    max_loss: float = 1e6
    segments_per_call: int = 16


class EngineState(NamedTuple):
    """State of a batch of runs; every leaf but ``step`` has a leading ``runs`` axis.

    Attributes:
        step: ``()`` steps done (shared by the batch).
        params: network parameters, ``W1 (runs, hidden, d_in)`` etc.
        learner: learner state (keys and optimiser moments).
        status: ``(runs,)`` :data:`OK`, :data:`DIVERGED` or :data:`DEAD`.
        stopped_at: ``(runs,)`` step at which a run was flagged, −1 while it is fine.
    """

    step: jax.Array
    params: Params
    learner: LearnerState
    status: jax.Array
    stopped_at: jax.Array


class Batch(NamedTuple):
    """The per-run data of a batch: ``inputs (runs, samples, d_in)``,
    ``targets (runs, samples, d_out)``, and the traced hyperparameters ``(runs,)``."""

    inputs: jax.Array
    targets: jax.Array
    hyper: Hyper


def init(spec: EngineSpec, keys: jax.Array, params: Params) -> EngineState:
    """Initial state for runs with learner ``keys (runs,)`` and initial ``params``."""
    learner = learners.make(spec.learner)
    runs = keys.shape[0]
    return EngineState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        learner=jax.vmap(learner.init)(keys, params),
        status=jnp.zeros((runs,), jnp.int32),
        stopped_at=jnp.full((runs,), -1, jnp.int32),
    )


def _measure_one(
    params: Params, x: jax.Array, y: jax.Array, activation: str
) -> dict[str, jax.Array]:
    output, hidden = network.apply(params, x, activation)
    var_y = jnp.var(y)
    active = hidden > 0
    return {
        "loss": jnp.mean((output - y) ** 2) / var_y,
        "active_fraction": jnp.mean(active),
        "active_units_fraction": jnp.mean(jnp.any(active, axis=0)),
    }


@partial(jax.jit, static_argnames=("spec",))
def measure(spec: EngineSpec, state: EngineState, batch: Batch) -> dict[str, jax.Array]:
    """Clean measurements of every run, ``name -> (runs,)``."""
    return jax.vmap(_measure_one, in_axes=(0, 0, 0, None))(
        state.params, batch.inputs, batch.targets, spec.learner.activation
    )


def _train_one(
    spec: EngineSpec,
    n_steps: jax.Array,
    step0: jax.Array,
    params: Params,
    lstate: LearnerState,
    status: jax.Array,
    stopped_at: jax.Array,
    hp: Hyper,
    x: jax.Array,
    y: jax.Array,
):
    learner = learners.make(spec.learner)
    limit = spec.max_loss * jnp.var(y)

    def body(i, carry):
        params, lstate, status, stopped_at = carry
        new_params, new_lstate, loss = learner.step(lstate, params, hp, x, y)
        bad = ~jnp.isfinite(loss) | (loss > limit)
        flag = (status == OK) & bad
        status = jnp.where(flag, DIVERGED, status)
        stopped_at = jnp.where(flag, step0 + i, stopped_at)
        running = status == OK
        # A flagged run keeps the parameters at which it was flagged.
        params = jax.tree_util.tree_map(
            lambda new, old: jnp.where(running, new, old), new_params, params
        )
        return params, new_lstate, status, stopped_at

    return jax.lax.fori_loop(0, n_steps, body, (params, lstate, status, stopped_at))


@partial(jax.jit, static_argnames=("spec",))
def advance(
    spec: EngineSpec, state: EngineState, batch: Batch, n_steps: jax.Array
) -> tuple[EngineState, dict[str, jax.Array]]:
    """Run ``K = len(n_steps)`` segments of ``n_steps[k]`` steps, measuring after each.

    Returns the new state and the measurements ``name -> (K, runs)`` plus ``"step" (K,)``
    and ``"status" (K, runs)`` after every segment.
    """
    train = jax.vmap(partial(_train_one, spec), in_axes=(None, None, 0, 0, 0, 0, 0, 0, 0))

    def segment(state: EngineState, n: jax.Array):
        params, lstate, status, stopped_at = train(
            n,
            state.step,
            state.params,
            state.learner,
            state.status,
            state.stopped_at,
            batch.hyper,
            batch.inputs,
            batch.targets,
        )
        step = state.step + n
        state = EngineState(step, params, lstate, status, stopped_at)
        record = measure(spec, state, batch)
        dead = (status == OK) & (record["active_units_fraction"] == 0)
        status = jnp.where(dead, DEAD, status)
        stopped_at = jnp.where(dead, step, stopped_at)
        state = state._replace(status=status, stopped_at=stopped_at)
        return state, {**record, "step": step, "status": status}

    return jax.lax.scan(segment, state, n_steps)


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
    dense_snapshots: int = 0,
) -> Schedule:
    """Every step up to ``dense_until``, then ``per_decade`` log-spaced steps per decade.

    Snapshots (parameters kept for rate maps, SI and the Hessian) are ``snapshots``
    log-spaced steps from 1 to ``steps`` plus step 0, and, when ``dense_snapshots > 0``,
    that many evenly spaced steps on top (for drift matrices on a linear time axis).
    Snapshot steps are always record steps; the last step is always both.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    dense = np.arange(0, min(dense_until, steps) + 1)
    decades = max(np.log10(steps) - np.log10(max(dense_until, 1)), 0.0)
    late = np.geomspace(max(dense_until, 1), steps, int(np.ceil(decades * per_decade)) + 1)
    snap = np.concatenate([[0], np.geomspace(1, steps, max(snapshots - 1, 1))])
    if dense_snapshots > 0:
        snap = np.concatenate([snap, np.linspace(0, steps, dense_snapshots + 1)])
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
        record = {k: np.asarray(v)[None] for k, v in measure(spec, state, batch).items()}
        record["status"] = np.asarray(state.status)[None]
        yield Chunk(state, np.array([0]), record, 0 in schedule.snapshot_set)
    budget = 64
    while start < stop:
        lengths, flags = _plan(start, schedule, stop, budget, spec.segments_per_call)
        t0 = time.perf_counter()
        state, out = advance(spec, state, batch, jnp.asarray(lengths))
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
