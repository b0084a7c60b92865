"""The original simulations' published tables, shipped in ``repdrift/reference``.

Ratzon, Derdikman & Barak (2024), code at https://github.com/Aviv-Ratzon/DriftReg
(Apache-2.0); see ``repdrift/reference/README.md`` for the columns. Loaded with repdrift's
names for the rules and noises, so that they sit beside a sweep's table:

* ``rule``: ``gd`` (the original's SGD, full batch), ``adam``, ``sed``;
* ``noise``: ``update``, ``label``, ``update+label`` or ``none``
  (:func:`repdrift.sweep.table.noise_kind`).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from repdrift.sweep.table import noise_kind

_RULES = {"SGD": "gd", "Adam": "adam", "SED": "sed"}


def _path(name: str):
    return resources.files("repdrift") / "reference" / name


def _with_names(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["rule"] = df["learning_algo"].map(_RULES)
    df["noise"] = [
        noise_kind(float(u), float(s))
        for u, s in zip(df["update_noise"], df["label_noise"], strict=True)
    ]
    return df


def all_runs() -> pd.DataFrame:
    """The 1,151 runs of Figs. 4, S1, S2 (one row per run)."""
    with _path("driftreg_all_runs.csv").open("rb") as f:
        return _with_names(pd.read_csv(f))


def update_noise_runs() -> pd.DataFrame:
    """The 118 GD runs with update noise of Figs. 4B and 5B."""
    with _path("driftreg_sgd_update_noise.csv").open("rb") as f:
        return _with_names(pd.read_csv(f))


def time_courses() -> pd.DataFrame:
    """Normalised time courses (``metric``, ``algorithm``, ``curve``, ``t_fraction``,
    ``value``) with ``rule`` added."""
    with _path("driftreg_time_courses.parquet").open("rb") as f:
        df = pd.read_parquet(f)
    df["rule"] = df["algorithm"].map(_RULES)
    return df


def rate_exponent(noise: np.ndarray, log_tau: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of ``log_tau`` (log10 rate) on ``log10(noise)``
    over the successful fits (``log_tau != 0``, the tables' mark of a failed fit)."""
    noise = np.asarray(noise, dtype=float)
    log_tau = np.asarray(log_tau, dtype=float)
    ok = np.isfinite(log_tau) & (log_tau != 0) & (noise > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log10(noise[ok]), log_tau[ok], 1)
    return float(slope), float(intercept)
