"""Models the engine trains: each a few pure functions behind one interface (:mod:`.base`).

=========================  ==========================================  ======================
``[model] kind``            model                                       module
=========================  ==========================================  ======================
``network`` (default)       one-hidden-layer network + learning rule    :mod:`.feedforward`
                            (configured by ``[task]``, ``[network]``,
                            ``[learner]``)
``toy``                     the 2-D toy loss ``x² y²`` (Fig. 5A)        :mod:`.toy`
``similarity_matching``     Hebbian/anti-Hebbian similarity matching    :mod:`.similarity_matching`
                            with synaptic noise (Fig. 4C; Qin et al.)
=========================  ==========================================  ======================

A model other than the network is configured entirely by its ``[model]`` section: its
parameters dataclass (``ToyParams``, ``SimilarityMatchingParams``) and the module's
``make_model(params)``, ``make_data(key, params, dtype=)`` and ``make_hyper(params,
dtype=)``. Adding a model adds a module named after its kind and a line in
:data:`.params.PARAMS`; the engine, the store, ``resume`` and ``inspect`` need nothing
new.

The parameter classes live in :mod:`.params`, free of JAX; the model modules are imported
when first used.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import lazy_loader as _lazy

from repdrift.models.params import PARAMS


def module(kind: str) -> ModuleType:
    """The module of the model ``[model] kind = KIND`` other than the network (each is
    named after its kind)."""
    if kind not in PARAMS:
        raise KeyError(f"no model module for kind {kind!r}; known: {sorted(PARAMS)}")
    return importlib.import_module(f"repdrift.models.{kind}")


# the model modules (and JAX with them) load when first used
__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__, submodules=["base", "feedforward", "params", "similarity_matching", "toy"]
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_lazy_dir()))


__all__ = ["PARAMS", "module"]
