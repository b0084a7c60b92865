"""What the figures of runs share: their look, and how a figure is written to files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Matplotlib settings of the figures of a run (:func:`matplotlib.rc_context`).
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
DPI = 150


def save(fig: Any, folder: Path, name: str, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write the matplotlib ``fig`` as ``folder/name.<format>`` for each format; return
    the paths. A PDF carries no creation date, so the same figure gives the same file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(path, format=fmt, dpi=DPI, metadata=metadata)
        # The layout is in figure fractions, the same for every format: solve it once.
        fig.set_layout_engine("none")
        paths.append(path)
    return paths
