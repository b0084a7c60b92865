"""The dataset every task returns."""

from __future__ import annotations

from dataclasses import dataclass

import jax


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Dataset:
    """A full-batch training set.

    Attributes:
        inputs: ``(samples, d_in)``.
        targets: ``(samples, d_out)``.
        position: ``(samples,)`` position along the track, in the task's length unit, or
            ``None`` for non-spatial tasks.
        direction: ``(samples,)`` running direction, ``+1`` or ``-1``, or ``None``.
    """

    inputs: jax.Array
    targets: jax.Array
    position: jax.Array | None = None
    direction: jax.Array | None = None

    @property
    def n_samples(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def d_in(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def d_out(self) -> int:
        return int(self.targets.shape[1])
