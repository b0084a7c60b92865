"""The figures of one stored run, whatever its model.

=========================  ===============================================================
``[model] kind``            figures (:mod:`repdrift.plotting` module)
=========================  ===============================================================
``network``                 Fig. 2 panels (:mod:`.fig2`)
``toy``                     the loss landscape with trajectories, x over time (:mod:`.toy`)
``similarity_matching``     Fig. 4C: objective and activity with the phases shaded,
                            receptive-field drift (:mod:`.hebbian`)
=========================  ===============================================================
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from repdrift.runs import Run


def draw_run(run: Run, out_dir: str | Path) -> list[Path]:
    """Write the figures of ``run`` into ``out_dir`` (PNG and PDF); return the paths."""
    kind = run.config.model.kind
    if kind == "toy":
        from repdrift.plotting.toy import draw_toy

        return draw_toy(run.metrics, out_dir)
    if kind == "similarity_matching":
        from repdrift.plotting.hebbian import draw_hebbian

        snaps = run.snapshots
        centroid = snaps.get("centroid")
        period = 2 * math.pi if run.config.model.layout == "ring" else None
        return draw_hebbian(run.metrics, out_dir, centroid=centroid, period=period)
    from repdrift.plotting.fig2 import draw_fig2

    return draw_fig2(run, out_dir)
