"""Fig. S1: the breakdown by learning rule — GD with update noise, Adam and SED without
added noise, and noise-free GD as the control.

From the Table-2 sweep (:mod:`repdrift.experiments.sweeps`): per rule, the mean ± SD over
runs of the paper's summary columns (final / initial fraction of active units and active
fraction, Hessian trace and largest eigenvalue, fraction of non-zero eigenvalues, loss,
log10 sparsification rate) beside the published runs', and the normalised time courses of
the fraction of active units, the active fraction, the Hessian trace and the fraction of
non-zero eigenvalues (published courses exist for the first two).
"""

from __future__ import annotations

from typing import Any

from repdrift.experiments import breakdown, sweeps
from repdrift.experiments.jobs import Job
from repdrift.experiments.settings import Settings
from repdrift.experiments.workspace import Workspace

NAME = "s1"
TITLE = "Fig. S1 — by learning rule: GD with update noise, Adam, SED"
GROUPS = ("gd/update", "adam", "sed", "gd/none")


def jobs(settings: Settings) -> list[Job]:
    return [sweeps.table2_job(settings, NAME)]


def make(ws: Workspace, settings: Settings) -> dict[str, Any]:
    return breakdown.make_breakdown(ws, NAME, GROUPS, TITLE)
