"""Fig. S2: the breakdown by noise — GD with update noise against GD with label noise
(and noise-free GD, the control).

From the Table-2 sweep (:mod:`repdrift.experiments.sweeps`): per noise type, the mean ± SD
over runs of the paper's summary columns beside the published runs', and the normalised
time courses of the fraction of active units, the active fraction, the Hessian trace and
the fraction of non-zero eigenvalues. The paper's contrast: update noise silences units
(fraction of active units ≈ 0.1 of its start) while label noise keeps them (≈ 0.95) and
halves the active fraction and shrinks the Hessian's trace (≈ 0.27 of its start).
"""

from __future__ import annotations

from typing import Any

from repdrift.experiments import breakdown, sweeps
from repdrift.experiments.jobs import Job
from repdrift.experiments.settings import Settings
from repdrift.experiments.workspace import Workspace

NAME = "s2"
TITLE = "Fig. S2 — by noise: update noise against label noise"
GROUPS = ("gd/update", "gd/label", "gd/none")


def jobs(settings: Settings) -> list[Job]:
    return [sweeps.table2_job(settings, NAME)]


#: The original's Fig. S2 time courses (``collector_lines.py``) are the runs of its grid
#: (``make_configs.py``: 10^6 steps, lr 0.1, update noise 0.03 or label noise 1.0), the
#: ``grid-*`` parts of ``table2``.
COURSE_PARTS = {"gd/update": "grid-", "gd/label": "grid-"}


def make(ws: Workspace, settings: Settings) -> dict[str, Any]:
    return breakdown.make_breakdown(ws, NAME, GROUPS, TITLE, course_parts=COURSE_PARTS)
