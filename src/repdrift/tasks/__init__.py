"""The paper's tasks: each a frozen parameter dataclass and ``make(key, params) -> Dataset``.

=========================  ===============================  ==============================
name                        parameters                       module
=========================  ===============================  ==============================
``corridor``                :class:`CorridorParams`          :mod:`.corridor` (Fig. 2)
``ring``                    :class:`RingParams`              :mod:`.ring`
``random``                  :class:`RandomParams`            :mod:`.random_mapping`
``smoothed``                :class:`SmoothedParams`          :mod:`.random_mapping`
``random_autoencoder``      :class:`RandomAutoencoderParams`  :mod:`.random_mapping`
``smoothed_autoencoder``    :class:`SmoothedAutoencoderParams`  :mod:`.random_mapping`
``arrays``                  :class:`ArraysParams`            :mod:`.arrays` (any ``.npz``)
=========================  ===============================  ==============================

Datasets are computed once, outside the training loop; all randomness comes from the key.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from repdrift.tasks import arrays, corridor, random_mapping, ring
from repdrift.tasks.arrays import ArraysParams
from repdrift.tasks.corridor import CorridorParams
from repdrift.tasks.dataset import Dataset
from repdrift.tasks.random_mapping import (
    RandomAutoencoderParams,
    RandomParams,
    SmoothedAutoencoderParams,
    SmoothedParams,
)
from repdrift.tasks.ring import RingParams

TaskParams = (
    CorridorParams
    | RingParams
    | RandomParams
    | SmoothedParams
    | RandomAutoencoderParams
    | SmoothedAutoencoderParams
    | ArraysParams
)

_MAKERS: dict[type, Callable[..., Dataset]] = {
    CorridorParams: corridor.make,
    RingParams: ring.make,
    RandomParams: random_mapping.make,
    SmoothedParams: random_mapping.make,
    RandomAutoencoderParams: random_mapping.make,
    SmoothedAutoencoderParams: random_mapping.make,
    ArraysParams: arrays.make,
}

TASKS: dict[str, type] = {cls.name: cls for cls in _MAKERS}
"""Task name -> parameter class."""


def make(key: jax.Array, params: TaskParams, *, dtype=jnp.float32) -> Dataset:
    """Draw the dataset of the task whose parameters are ``params``.

    Same key and parameters give identical arrays.

    Raises:
        TypeError: if ``params`` is not one of the task parameter classes.
        ValueError: for impossible parameter combinations (message names the field).
    """
    maker = _MAKERS.get(type(params))
    if maker is None:
        raise TypeError(
            f"unknown task parameters {type(params).__name__}; expected one of "
            + ", ".join(cls.__name__ for cls in _MAKERS)
        )
    return maker(key, params, dtype=dtype)


__all__ = [
    "TASKS",
    "ArraysParams",
    "CorridorParams",
    "Dataset",
    "RandomAutoencoderParams",
    "RandomParams",
    "RingParams",
    "SmoothedAutoencoderParams",
    "SmoothedParams",
    "TaskParams",
    "make",
]
