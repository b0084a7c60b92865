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
The parameter classes live in :mod:`.params`, free of JAX; the task modules are imported
when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import lazy_loader as _lazy

from repdrift.tasks.params import (
    TASKS,
    ArraysParams,
    CorridorParams,
    RandomAutoencoderParams,
    RandomParams,
    RingParams,
    SmoothedAutoencoderParams,
    SmoothedParams,
    TaskParams,
)

if TYPE_CHECKING:
    import jax

    from repdrift.tasks.dataset import Dataset

#: Parameter class -> the module whose ``make`` builds its dataset.
_MODULES: dict[type, str] = {
    CorridorParams: "corridor",
    RingParams: "ring",
    RandomParams: "random_mapping",
    SmoothedParams: "random_mapping",
    RandomAutoencoderParams: "random_mapping",
    SmoothedAutoencoderParams: "random_mapping",
    ArraysParams: "arrays",
}


def make(key: jax.Array, params: TaskParams, *, dtype: Any = None) -> Dataset:
    """Draw the dataset of the task whose parameters are ``params``.

    Same key and parameters give identical arrays; ``dtype`` defaults to float32.

    Raises:
        TypeError: if ``params`` is not one of the task parameter classes.
        ValueError: for impossible parameter combinations (message names the field).
    """
    module = _MODULES.get(type(params))
    if module is None:
        raise TypeError(
            f"unknown task parameters {type(params).__name__}; expected one of "
            + ", ".join(cls.__name__ for cls in _MODULES)
        )
    maker = importlib.import_module(f"repdrift.tasks.{module}").make
    return maker(key, params) if dtype is None else maker(key, params, dtype=dtype)


# the task modules (and JAX with them) load when first used
__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__,
    submodules=["arrays", "corridor", "dataset", "random_mapping", "ring", "signals"],
    submod_attrs={"dataset": ["Dataset"]},
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_lazy_dir()))


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
