"""What a model is to the engine: a few pure functions over explicit state.

The engine (:mod:`repdrift.engine`) trains, records and checkpoints any model: the
one-hidden-layer network with its learning rules, the 2-D toy loss of Fig. 5A, the
similarity-matching network of Fig. 4C — or one a user adds. A model is a frozen (hashable)
dataclass: its fields are the *static* part of the program (shapes, which noises are on),
and everything that may differ between runs of one compiled batch is *data*:

``data``
    a pytree of arrays fixed during a run (a dataset, a start point, the inputs of the
    similarity-matching network). One run's data has no run axis; the engine stacks runs.
``hyper``
    a pytree of traced scalars (learning rate, noise magnitudes), so that a sweep over
    them compiles once.
``state``
    a pytree of arrays that a step changes (parameters, optimiser moments, a PRNG key).
    Randomness lives in the state as a key that ``step`` splits.

Methods (all jit-able except :meth:`Model.snapshot_metrics`, which runs on the host):

``init(key, data, hyper) -> state``
    the initial state of one run.
``step(state, data, hyper) -> (state, loss)``
    one training step with its noise; ``loss`` is the training loss of the step
    (normalised as the model's records are), used to flag divergence.
``measure(state, data) -> {name: array}``
    clean (noise-free) measurements at a record step. Scalars, or fixed-shape arrays whose
    dimension names :attr:`Model.record_dims` gives. Must include ``"loss"``; a model that
    can go silent also returns ``"fraction_active_units"``.
``snapshot(state) -> {name: array}``
    the arrays kept at snapshot steps (parameters), named; dims in
    :attr:`Model.snapshot_dims`.
``snapshot_metrics(snapshot, data) -> {name: array}``
    host-side metrics of one snapshot (NumPy in, NumPy out): rate maps, spatial
    information, Hessian spectra, ...
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import jax
import numpy as np

PyTree = Any


@runtime_checkable
class Model(Protocol):
    """The interface the engine compiles (see the module docstring)."""

    #: ``[model] kind`` of the configuration.
    kind: ClassVar[str]
    #: dimension names of non-scalar records, e.g. ``{"x": ("particle",)}``.
    record_dims: ClassVar[dict[str, tuple[str, ...]]]
    #: dimension names of snapshot arrays, e.g. ``{"W1": ("unit", "input")}``.
    snapshot_dims: ClassVar[dict[str, tuple[str, ...]]]

    def init(self, key: jax.Array, data: PyTree, hyper: PyTree) -> PyTree: ...

    def step(self, state: PyTree, data: PyTree, hyper: PyTree) -> tuple[PyTree, jax.Array]: ...

    def measure(self, state: PyTree, data: PyTree) -> dict[str, jax.Array]: ...

    def snapshot(self, state: PyTree) -> dict[str, jax.Array]: ...

    def snapshot_metrics(
        self, snapshot: dict[str, np.ndarray], data: PyTree
    ) -> dict[str, np.ndarray]: ...
