"""The output directory of ``repdrift reproduce``: its layout, its manifest, and writers.

Layout of ``DIR``::

    DIR/reproduce.json          the manifest: kind, format, scale, figures finished
    DIR/runs/<name>/            single runs (ordinary run directories, ``repdrift inspect``)
    DIR/sweeps/<name>/          sweeps (ordinary sweep directories, ``repdrift sweep inspect``)
    DIR/data/<name>/            analyses of recorded data (``repdrift data analyze`` output)
    DIR/figures/<figure>/       PNG and PDF of each panel, its data as Parquet next to it
    DIR/results/<figure>.json   the numbers each figure module measured
    DIR/claims.json, DIR/claims.html

A directory is reused only for the same scale: runs, sweeps and analyses already finished
in it are kept, stopped ones continue; a directory holding anything else is refused.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repdrift import store

MANIFEST = "reproduce.json"
KIND = "repdrift-reproduce"
FORMAT_VERSION = 1
#: The scales of ``repdrift reproduce``: ``smoke`` (minutes: the machinery, not the
#: science), ``quick`` (≤ 45 minutes on a 2-core CPU), ``paper`` (the published sizes).
SCALES = ("smoke", "quick", "paper")


def reproduction_holding(path: str | Path) -> Path | None:
    """The reproduction directory whose ``runs/`` folder ``path`` is (or would be) in,
    else ``None``: ``repdrift reproduce`` writes its runs itself, and ``repdrift simulate
    --out`` there (with ``--overwrite``) would replace one of them with another
    configuration."""
    return store.runs_folder_owner(path, MANIFEST)


class ReproduceError(ValueError):
    """A problem with the request or the output directory, stated in one line."""


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ReproduceError(f"--scale: unknown scale {scale!r}; choose one of {list(SCALES)}")
    return scale


@dataclass(frozen=True)
class Workspace:
    """An opened output directory of one scale."""

    root: Path
    scale: str

    def run_path(self, name: str) -> Path:
        return self.root / "runs" / name

    def sweep_path(self, name: str) -> Path:
        return self.root / "sweeps" / name

    def data_path(self, name: str) -> Path:
        return self.root / "data" / name

    def figure_dir(self, figure: str) -> Path:
        path = self.root / "figures" / figure
        path.mkdir(parents=True, exist_ok=True)
        return path

    def results_path(self, figure: str) -> Path:
        return self.root / "results" / f"{figure}.json"

    # -- numbers -------------------------------------------------------------------
    def write_results(self, figure: str, results: dict[str, Any]) -> Path:
        path = self.results_path(figure)
        path.parent.mkdir(parents=True, exist_ok=True)
        store.atomic_write_text(path, json.dumps(plain(results), indent=1, allow_nan=False))
        return path

    def read_results(self, figure: str) -> dict[str, Any] | None:
        """The stored numbers of ``figure`` (``None`` when it has not been made)."""
        try:
            return json.loads(self.results_path(figure).read_text())
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise ReproduceError(f"{self.results_path(figure)} is corrupt: {err}") from None

    # -- manifest ------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.root / MANIFEST).read_text())

    def mark_done(self, figure: str, files: Sequence[Path]) -> None:
        data = self.manifest()
        data.setdefault("figures", {})[figure] = {
            "finished": time.time(),
            "files": [str(Path(f).relative_to(self.root)) for f in files],
        }
        store.atomic_write_text(self.root / MANIFEST, json.dumps(data, indent=1))

    def relative(self, path: str | Path) -> str:
        path = Path(path)
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def open_workspace(out: str | Path, scale: str) -> Workspace:
    """Create ``out`` for a reproduction at ``scale``, or reopen one of the same scale.

    Raises :class:`ReproduceError` when ``out`` is a file, a non-empty directory that is
    not a reproduction, or a reproduction at another scale.
    """
    check_scale(scale)
    out = Path(out)
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise ReproduceError(f"--out {out} exists and is not a directory")
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
            kind, fmt, old_scale = data["kind"], data["format"], data["scale"]
            figures = data.get("figures", {})
            if not isinstance(figures, dict) or not all(
                isinstance(v, dict) and isinstance(v.get("files", []), list)
                for v in figures.values()
            ):
                raise TypeError("figures")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ReproduceError(f"--out {out}: {MANIFEST} is corrupt") from None
        if kind != KIND:
            raise ReproduceError(f"--out {out} holds something else ({MANIFEST} of kind {kind!r})")
        if fmt != FORMAT_VERSION:
            raise ReproduceError(
                f"--out {out} was written in format {fmt}; this repdrift writes {FORMAT_VERSION}"
            )
        if old_scale != scale:
            raise ReproduceError(
                f"--out {out} holds a {old_scale}-scale reproduction; use --scale {old_scale} "
                "to continue it, or choose a new directory"
            )
        return Workspace(out, scale)
    if out.is_dir() and any(out.iterdir()):
        raise ReproduceError(
            f"--out {out} exists, is not empty and is not a repdrift reproduction; "
            "choose a new directory"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        store.atomic_write_text(
            manifest,
            json.dumps(
                {
                    "kind": KIND,
                    "format": FORMAT_VERSION,
                    "scale": scale,
                    "created": time.time(),
                    "figures": {},
                },
                indent=1,
            ),
        )
    except OSError as err:
        raise ReproduceError(f"--out {out}: {err.strerror or err}") from None
    return Workspace(out, scale)


# ----------------------------------------------------------------------------- writers


def plain(value: Any) -> Any:
    """NumPy scalars and arrays as Python values, NaN and infinities as ``None`` (strict
    JSON), recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_figure(
    fig, folder: Path, name: str, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Write a matplotlib ``Figure`` as ``folder/name.<format>``; return the paths."""
    from repdrift.plotting.style import save

    return save(fig, folder, name, formats)


def save_table(df: pd.DataFrame, folder: Path, name: str) -> Path:
    """Write ``df`` as ``folder/name.parquet`` atomically; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    store.write_parquet(df, path)
    return path
