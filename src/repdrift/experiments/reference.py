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
#: The published tables' ``data_type`` -> repdrift's ``task.kind`` (the original's
#: "predictive" task is the ring).
TASKS = {
    "random": "random",
    "smoothed": "smoothed",
    "predictive": "ring",
    "random_autoencoder": "random_autoencoder",
    "smoothed_autoencoder": "smoothed_autoencoder",
}


def _path(name: str):
    return resources.files("repdrift") / "reference" / name


def _with_names(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["rule"] = df["learning_algo"].map(_RULES)
    df["task"] = df["data_type"].map(TASKS)
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


def first_active_units(active_units: np.ndarray, hidden: int = 100) -> np.ndarray:
    """The fraction of active units at a published run's first record, read back from its
    ``active_units`` column (NaN where it cannot be told).

    ``active_units`` is ``mean(last ten records) / first record`` (``collector.py``), and
    each record of the fraction of active units is a multiple of ``1 / hidden``. So the
    first record is a ``k / hidden`` for which ``active_units · k / hidden`` is a multiple
    of ``1 / (10 hidden)`` (to the table's six digits). Where exactly one such ``k`` gives
    a first record of at least 0.4 it is returned; where several do (``0.068`` is
    ``0.051 / 0.75`` and ``0.034 / 0.5``), NaN. (Below 0.4, more than half the units would
    be silent at initialisation, which neither scaling of the data gives.)

    The first record tells which data a run trained on: with 100 hidden units and 5 samples
    of 20 inputs, inputs in [−1, 1] leave about 94 % of the units active at the start and
    inputs in [0, 1] about 72 % (``tests/test_tasks.py``).
    """
    a = np.asarray(active_units, dtype=float)
    first = np.arange(1, hidden + 1) / hidden
    scaled = a[:, None] * first[None, :] * 10 * hidden  # the ten records' sum, in units
    fits = (np.abs(scaled - np.round(scaled)) < 2e-3) & (np.round(scaled) > 0)
    fits &= first[None, :] >= 0.4
    unique = fits.sum(axis=1) == 1
    out = np.full(a.shape, np.nan)
    out[unique] = first[np.argmax(fits[unique], axis=1)]
    return out
