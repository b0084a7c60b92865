"""Recorded hippocampal data: loaders, the per-session analysis and trends over days.

Loaders bring every supported layout to one in-memory :class:`Session`
(:func:`describe` / :func:`iter_sessions` recognise the layout at a path):
``multiple_maps`` folders, the information-estimation ``spike_train``/``stimulus_trace``
files, NWB files (optional extra ``nwb``) and a plain ``.npz``/``.parquet`` format.
:func:`analyze_session` finds place cells and their (bias-corrected) spatial
information; :func:`session_table`, :func:`trend_regressions` and :func:`rate_map_drift`
give the trends over days of Fig. 3 of Ratzon et al. 2024.
"""

from .analysis import AnalysisConfig, SessionResult, analyze_session
from .errors import DataError
from .layouts import Layout, describe, iter_sessions, load_sessions
from .matfile import load_mat
from .multiple_maps import load_track
from .nwb import load_nwb
from .plain import load_plain, save_session
from .regression import (
    drift_regressions,
    linear_trend,
    normalise_to_first,
    rate_map_drift,
    session_table,
    trend_regressions,
)
from .session import Session
from .spike_trains import load_recordings, load_true_information, simulated_recordings

__all__ = [
    "AnalysisConfig",
    "DataError",
    "Layout",
    "Session",
    "SessionResult",
    "analyze_session",
    "describe",
    "drift_regressions",
    "iter_sessions",
    "linear_trend",
    "load_mat",
    "load_nwb",
    "load_plain",
    "load_recordings",
    "load_sessions",
    "load_track",
    "load_true_information",
    "normalise_to_first",
    "rate_map_drift",
    "save_session",
    "session_table",
    "simulated_recordings",
    "trend_regressions",
]
