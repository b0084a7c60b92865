"""Recorded hippocampal data: loaders, the per-session analysis and trends over days.

Loaders bring every supported layout to one in-memory :class:`Session`
(:func:`describe` / :func:`iter_sessions` recognise the layout at a path):
``multiple_maps`` folders, the information-estimation ``spike_train``/``stimulus_trace``
files, NWB files (optional extra ``nwb``) and a plain ``.npz``/``.parquet`` format.
:func:`analyze_session` finds place cells and their (bias-corrected) spatial
information; :func:`session_table`, :func:`trend_regressions` and :func:`rate_map_drift`
give the trends over days of Fig. 3 of Ratzon et al. 2024.
"""

import lazy_loader as _lazy

# the loaders and the analysis (SciPy, xarray, h5py) load when first used
__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__,
    submod_attrs={
        "analysis": ["AnalysisConfig", "SessionResult", "analyze_session"],
        "errors": ["DataError"],
        "layouts": ["Layout", "describe", "iter_sessions", "load_sessions"],
        "matfile": ["load_mat"],
        "multiple_maps": ["load_track"],
        "nwb": ["load_nwb"],
        "plain": ["load_plain", "save_session"],
        "regression": [
            "drift_regressions",
            "linear_trend",
            "normalise_to_first",
            "rate_map_drift",
            "session_table",
            "trend_regressions",
        ],
        "session": ["Session"],
        "spike_trains": ["load_recordings", "load_true_information", "simulated_recordings"],
    },
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_lazy_dir()))


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
