"""What a reproduction is asked for: its scale and where the recorded data are.

``quick`` is sized to finish ``repdrift reproduce all`` in well under 45 minutes on a
2-core CPU; ``paper`` uses the published sizes and is meant for a GPU or a Dask cluster;
``smoke`` runs every figure on tiny runs in a few minutes — it shows that the machinery
works (and is what the tests use), not the science. Each figure module states what its
runs are at each scale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from repdrift.experiments.workspace import check_scale

#: Environment variable naming the folder of recorded data (``multiple_maps``, ``si_bias``).
DATA_ENV = "REPDRIFT_DATA"


def default_data_dir() -> Path:
    """``$REPDRIFT_DATA``, else ``shared/data`` or ``../shared/data`` from the current
    directory (the first that exists; the last when none does)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    candidates = [Path("shared/data"), Path("../shared/data")]
    return next((p for p in candidates if p.is_dir()), candidates[-1])


@dataclass(frozen=True)
class Settings:
    """Attributes:
    scale: ``"quick"`` or ``"paper"``.
    data_dir: the folder holding the recorded data sets (Fig. 3).
    """

    scale: str
    data_dir: Path

    def __post_init__(self) -> None:
        check_scale(self.scale)
