"""The one-hidden-layer network of the paper, trained by one of its learning rules, as a model.

``h = act(W1 x + b1)``, ``y_hat = W2 h`` (:mod:`repdrift.network`), full-batch loss, one of
the rules of :mod:`repdrift.learners`. Measured at every record step on a clean
(noise-free) forward pass, each by the one implementation in :mod:`repdrift.metrics`:

* ``loss``: MSE / var(targets);
* ``active_fraction``: fraction of (sample, unit) pairs with ``h > 0``
  (:func:`repdrift.metrics.sparsity.active_fraction`);
* ``fraction_active_units``: fraction of units with ``h > 0`` on at least one sample
  (:func:`repdrift.metrics.sparsity.fraction_active_units`).

**Padding.** Problems of different sizes (samples, inputs, outputs) share one compiled
batch by being padded with zeros to common sizes, with masks in :class:`Data`. Padding
changes nothing of a run: padded inputs are 0 (and get no input noise), so padded
columns of ``W1`` never reach the hidden layer; padded outputs and samples are left out
of the loss, so padded rows of ``W2`` never reach it; the noise of every real entry is
drawn from its own key and index (:mod:`repdrift.noise`), whatever the padded shape; SED
scales its perturbation by the real number of outputs; and the measurements count real
samples only. :func:`pad_state` / :func:`unpad_state` move a state between its own shapes and
the padded ones, so checkpoints are stored at a run's own shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from repdrift import learners, network
from repdrift.learners import Hyper, LearnerSpec, LearnerState, Masks
from repdrift.metrics import sparsity
from repdrift.network import Params


class Data(NamedTuple):
    """One run's training set (no run axis).

    Attributes:
        inputs: ``(samples, d_in)``.
        targets: ``(samples, d_out)``.
        masks: which samples, inputs and outputs are real (all ones when unpadded).
    """

    inputs: jax.Array
    targets: jax.Array
    masks: Masks


class NetworkHyper(NamedTuple):
    """Traced values of one run: the learner's and the readout's initial scale."""

    learner: Hyper
    readout_sd: jax.Array


class State(NamedTuple):
    """Parameters and the learner's state (moments, PRNG key)."""

    params: Params
    learner: LearnerState


def make_data(inputs, targets, dtype=jnp.float32) -> Data:
    """Unpadded :class:`Data` of a dataset's arrays."""
    inputs = jnp.asarray(inputs, dtype)
    targets = jnp.asarray(targets, dtype)
    return Data(
        inputs,
        targets,
        Masks(
            jnp.ones(inputs.shape[0], dtype),
            jnp.ones(inputs.shape[1], dtype),
            jnp.ones(targets.shape[1], dtype),
        ),
    )


def shape_of(data: Data) -> tuple[int, int, int]:
    """``(samples, d_in, d_out)`` of unpadded data."""
    return (int(data.inputs.shape[0]), int(data.inputs.shape[1]), int(data.targets.shape[1]))


def pad_data(data: Data, shape: tuple[int, int, int]) -> Data:
    """``data`` padded with zeros to ``shape = (samples, d_in, d_out)``, masks marking it."""
    s, i, o = shape
    s0, i0, o0 = shape_of(data)
    if s < s0 or i < i0 or o < o0:
        raise ValueError(f"cannot pad data of shape {(s0, i0, o0)} to the smaller {shape}")
    return Data(
        jnp.pad(data.inputs, ((0, s - s0), (0, i - i0))),
        jnp.pad(data.targets, ((0, s - s0), (0, o - o0))),
        Masks(
            jnp.pad(data.masks.samples, (0, s - s0)),
            jnp.pad(data.masks.inputs, (0, i - i0)),
            jnp.pad(data.masks.outputs, (0, o - o0)),
        ),
    )


def _map_params_like(state, fn):
    """Apply ``fn(name, leaf)`` to every leaf of ``state`` that belongs to a parameter
    tensor (the parameters themselves and optimiser moments shaped like them)."""

    def visit(path, leaf):
        for entry in reversed(path):
            name = getattr(entry, "key", None)
            if name in ("W1", "b1", "W2"):
                return fn(name, leaf)
        return leaf

    return jax.tree_util.tree_map_with_path(visit, state)


def pad_state(state, d_in: int, d_out: int):
    """A run's state (parameters, optimiser moments) padded with zeros to a batch's shapes."""

    def pad(name, leaf):
        if name == "W1":
            return jnp.pad(leaf, ((0, 0), (0, d_in - leaf.shape[1])))
        if name == "W2":
            return jnp.pad(leaf, ((0, d_out - leaf.shape[0]), (0, 0)))
        return leaf

    return _map_params_like(state, pad)


def unpad_state(state, d_in: int, d_out: int):
    """The inverse of :func:`pad_state`: a run's state at its own shapes."""

    def cut(name, leaf):
        if name == "W1":
            return leaf[..., :d_in]
        if name == "W2":
            return leaf[..., :d_out, :]
        return leaf

    return _map_params_like(state, cut)


@dataclass(frozen=True)
class FeedForward:
    """The network model (static: hidden size and the learning rule)."""

    hidden: int
    learner: LearnerSpec

    kind: ClassVar[str] = "network"
    record_dims: ClassVar[dict[str, tuple[str, ...]]] = {}
    snapshot_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "W1": ("unit", "input"),
        "b1": ("unit",),
        "W2": ("output", "unit"),
    }

    def init(self, key: jax.Array, data: Data, hyper: NetworkHyper) -> State:
        """Initial parameters at the data's shapes (He-scaled ``W1``, ``b1``; readout
        ``N(0, readout_sd²)``, see :func:`repdrift.network.init`) and learner state."""
        k_init, k_learn = jax.random.split(key)
        d_in, d_out = int(data.inputs.shape[1]), int(data.targets.shape[1])
        params = network.init(
            k_init,
            d_in,
            self.hidden,
            d_out,
            readout=float(hyper.readout_sd),
            dtype=data.inputs.dtype,
        )
        return State(params, learners.make(self.learner).init(k_learn, params))

    def step(self, state: State, data: Data, hyper: NetworkHyper) -> tuple[State, jax.Array]:
        learner = learners.make(self.learner)
        params, lstate, loss = learner.step(
            state.learner, state.params, hyper.learner, data.inputs, data.targets, data.masks
        )
        return State(params, lstate), loss / self._target_variance(data)

    @staticmethod
    def _target_variance(data: Data) -> jax.Array:
        mask = data.masks.samples[:, None] * data.masks.outputs[None, :]
        return network.masked_variance(data.targets, mask)

    def measure(self, state: State, data: Data) -> dict[str, jax.Array]:
        output, hidden = network.apply(state.params, data.inputs, self.learner.activation)
        mask = data.masks.samples[:, None] * data.masks.outputs[None, :]
        loss = jnp.sum(mask * (output - data.targets) ** 2) / jnp.sum(mask)
        samples = data.masks.samples
        return {
            "loss": loss / self._target_variance(data),
            "active_fraction": sparsity.active_fraction(hidden, samples=samples),
            "fraction_active_units": sparsity.fraction_active_units(hidden, samples=samples),
        }

    def snapshot(self, state: State) -> dict[str, jax.Array]:
        return dict(state.params)

    def snapshot_metrics(self, snapshot: dict[str, np.ndarray], data) -> dict[str, np.ndarray]:
        """Hidden-layer statistics of a snapshot; the spatial and Hessian metrics of a
        configured run are added by :func:`repdrift.simulation.network_snapshot_metrics`."""
        hidden = network.rates(snapshot, data.inputs, self.learner.activation)
        per_sample = sparsity.population_sparseness(hidden)
        per_sample = per_sample[np.isfinite(per_sample)]
        return {
            "population_sparseness": np.asarray(per_sample.mean() if per_sample.size else np.nan)
        }
