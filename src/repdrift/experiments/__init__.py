"""Reproduce the paper: one module per figure, and a report that checks each claim.

Ratzon, Derdikman & Barak (2024), "Representational drift as a result of implicit
regularization", eLife 13:RP90069. Python API (mirrors ``repdrift reproduce``)::

    from repdrift import experiments
    experiments.reproduce(["all"], scale="quick", out="repro")   # figures, claims.html/json

============  =================================================================  ===========
figure        what                                                               module
============  =================================================================  ===========
``fig2``      the corridor run: loss, sparsification, SI, rate maps, drift       :mod:`.fig2`
``fig3``      recorded CA1 data: place cells and SI over days                    :mod:`.fig3`
``fig4``      rules and tasks (A), noise level (B), similarity matching (C)      :mod:`.fig4`
``fig5``      the toy loss (A), flatness vs sparseness (B), spectra (C, D)       :mod:`.fig5`
``s1``        breakdown by learning rule                                         :mod:`.s1`
``s2``        breakdown by noise type                                            :mod:`.s2`
``table1``    the three phases on the runs above                                 :mod:`.table1`
============  =================================================================  ===========

Each module declares its runs, sweeps and analyses for the ``quick`` and ``paper`` scales
(``jobs(settings)``) and turns the stored results into figures and numbers
(``make(workspace, settings)``). :func:`reproduce` (:mod:`.reproduction`) computes what is missing
(:mod:`.jobs`), makes the figures, evaluates the claims (:mod:`.claims`) and writes the
report (:mod:`.report`). Re-running it in the same directory continues: finished runs,
sweeps and analyses are reused, stopped ones resumed.
"""

from __future__ import annotations

import lazy_loader as _lazy

# the figure modules (and JAX, xarray and matplotlib with them) load when first used
__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__,
    submodules=[
        "breakdown",
        "claims",
        "fig2",
        "fig3",
        "fig4",
        "fig5",
        "jobs",
        "reference",
        "report",
        "reproduction",
        "s1",
        "s2",
        "settings",
        "sweep_runs",
        "sweeps",
        "table1",
        "workspace",
    ],
    submod_attrs={
        "reproduction": [
            "FIGURES",
            "MODULES",
            "ReproduceFailure",
            "declared_jobs",
            "figures_of",
            "reproduce",
        ],
        "settings": ["Settings", "default_data_dir"],
        "workspace": ["ReproduceError", "Workspace", "open_workspace"],
    },
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_lazy_dir()))


__all__ = [
    "FIGURES",
    "MODULES",
    "ReproduceError",
    "ReproduceFailure",
    "Workspace",
    "figures_of",
    "reproduce",
]
