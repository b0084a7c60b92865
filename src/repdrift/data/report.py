"""Analyse everything at a path and write the results folder.

``analyze_path`` runs :func:`repdrift.data.analyze_session` on every session that
:func:`repdrift.data.describe` finds, then the trends across sessions; ``write_report``
writes them: ``sessions.parquet``/``sessions.csv`` (one row per session), ``cells.parquet``
(one row per cell and direction), ``drift.csv`` (rate-map correlation of registered cells
per pair of sessions), ``regression.json`` (trend and drift regressions, settings, notes)
and ``fig3.png``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..store import write_parquet
from .analysis import DIRECTIONS, AnalysisConfig, SessionResult, analyze_session
from .layouts import Layout, describe
from .regression import drift_regressions, rate_map_drift, session_table, trend_regressions
from .session import Session


@dataclass(frozen=True, eq=False)
class Report:
    """Everything ``repdrift data analyze`` computes for one path."""

    layout: Layout
    config: AnalysisConfig
    results: tuple[SessionResult, ...]
    sessions: pd.DataFrame
    trends: dict[str, Any]
    drift: pd.DataFrame
    drift_trend: dict[str, Any]

    @property
    def notes(self) -> list[str]:
        return [note for r in self.results for note in r.notes]

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: settings, trend and drift regressions, notes."""
        return _finite(
            {
                "path": str(self.layout.path),
                "layout": self.layout.name,
                "series": list(self.layout.series),
                "n_sessions": len(self.results),
                "config": asdict(self.config),
                "trends": self.trends,
                "drift": self.drift_trend,
                "notes": self.notes,
            }
        )


def _finite(value: Any) -> Any:
    """NaN/inf → None and NumPy scalars → Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def analyze_path(
    path: str | Path,
    config: AnalysisConfig | None = None,
    *,
    on_session: Callable[[Session, SessionResult], None] | None = None,
    layout: Layout | None = None,
) -> Report:
    """Analyse every session at ``path`` (see :func:`repdrift.data.describe`).

    Args:
        path: a file or folder in a recognised layout.
        config: analysis settings (the published ones by default).
        on_session: called after each session (progress, notes).
        layout: an already recognised layout of ``path`` (skips recognising it again).

    Raises:
        DataError: unrecognised layout, or a missing, corrupt or mismatched file.
    """
    config = config or AnalysisConfig()
    layout = layout or describe(path)
    results = []
    for session in layout.sessions():
        result = analyze_session(session, config)
        results.append(result)
        if on_session is not None:
            on_session(session, result)
    table = session_table(results)
    drift = rate_map_drift(results)
    return Report(
        layout=layout,
        config=config,
        results=tuple(results),
        sessions=table,
        trends=trend_regressions(table) if not table.empty else {},
        drift=drift,
        drift_trend=drift_regressions(drift),
    )


def cell_table(
    results: tuple[SessionResult, ...] | list[SessionResult], p_threshold: float = 0.05
) -> pd.DataFrame:
    """One row per cell and running direction of every session."""
    frames = []
    for r in results:
        cells = np.arange(r.n_cells)
        for d, sign in enumerate(DIRECTIONS):
            frames.append(
                pd.DataFrame(
                    {
                        "animal": r.animal,
                        "track": r.track,
                        "session": r.session,
                        "day": r.day,
                        "cell": cells,
                        "cell_id": r.cell_ids if r.cell_ids is not None else np.full(r.n_cells, -1),
                        "direction": sign,
                        "events": r.events[:, d],
                        "active": r.active,
                        "si_naive": r.si_naive[:, d],
                        "p_value": r.p_value[:, d],
                        "significant": r.p_value[:, d] < p_threshold,
                        "si_ssr": r.si_ssr[:, d],
                        "si_bae": r.si_bae[:, d],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_report(report: Report, folder: str | Path, *, dpi: int = 150) -> dict[str, Path]:
    """Write the results of ``report`` into ``folder`` (which must exist).

    Returns:
        the written files by kind.
    """
    from ..plotting.fig3 import plot_fig3

    folder = Path(folder)
    files = {
        "sessions_parquet": folder / "sessions.parquet",
        "sessions_csv": folder / "sessions.csv",
        "cells": folder / "cells.parquet",
        "drift": folder / "drift.csv",
        "regression": folder / "regression.json",
        "figure": folder / "fig3.png",
    }
    write_parquet(report.sessions, files["sessions_parquet"])
    report.sessions.to_csv(files["sessions_csv"], index=False)
    cells = cell_table(report.results, report.config.p_threshold)
    write_parquet(cells, files["cells"])
    report.drift.to_csv(files["drift"], index=False)
    files["regression"].write_text(json.dumps(report.summary(), indent=2, allow_nan=False) + "\n")
    series = report.layout.series
    name = ", ".join(series) if 0 < len(series) <= 2 else report.layout.path.name
    title = f"{name}: {len(report.results)} sessions"
    figure = plot_fig3(report.sessions, report.trends, report.drift, title=title)
    figure.savefig(files["figure"], dpi=dpi)
    return files
