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
dtype=)``. Adding a model adds a module and a line in :data:`MODULES`; the engine, the
store, ``resume`` and ``inspect`` need nothing new.
"""

from __future__ import annotations

from types import ModuleType

from repdrift.models import similarity_matching, toy

#: ``[model] kind`` -> module of a model other than the network.
MODULES: dict[str, ModuleType] = {"toy": toy, "similarity_matching": similarity_matching}

#: ``[model] kind`` -> its parameters dataclass.
PARAMS: dict[str, type] = {
    "toy": toy.ToyParams,
    "similarity_matching": similarity_matching.SimilarityMatchingParams,
}

__all__ = ["MODULES", "PARAMS"]
