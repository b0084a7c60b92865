"""The time courses of :class:`~repdrift.inference.features.Observations`, read from a
stored run or from the sessions table of ``repdrift data analyze``.

**A run** (:func:`run_observations`) gives its records (fraction of active units, active
fraction, loss; the window starts at the end of learning, :func:`window_start`) and its
snapshots in the window:

* *tuning maps* per snapshot, ``(unit, bin)``: the stored rate maps of a spatial task
  (corridor, ring), the hidden activity per sample of a task without positions (random
  mappings and autoencoders: each sample is a "bin"), the responses per probe of the
  similarity-matching network (its probes are positions on the ring or the track);
* from them the rate-map correlation against lag
  (:func:`repdrift.metrics.drift.rate_map_correlation_matrix`, units active at both
  times) and the population-vector correlation against lag
  (:func:`repdrift.metrics.drift.population_vector_correlation_matrix`), grouped by lag
  with :func:`repdrift.metrics.drift.correlation_vs_lag`;
* for spatial tasks, the fraction of active units that are place units (SI above the
  run's ``record.si_threshold``) and their mean Skaggs SI
  (:func:`repdrift.metrics.tuning.spatial_information`, stored with the snapshot for the
  network, computed from the responses, with equal occupancy, for the similarity-matching
  network);
* the stored Hessian summaries, where the run recorded them.

**A recorded series** (:func:`series_observations`: one animal on one track) gives, per
session, the fraction of active cells (``fraction_active``), the fraction of active cells
that are place cells (``fraction_place``), their mean SI (``mean_si_ssr``, bias-corrected,
else ``mean_si_naive``) and, from ``drift.csv`` next to the table, the rate-map
correlation of registered place cells between sessions against the days between them.
The window is the whole series; time is the day.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from repdrift.inference.errors import InferenceError
from repdrift.inference.features import Observations
from repdrift.metrics import drift, timescale, tuning
from repdrift.terminal import first_line

#: Columns a sessions table must have.
SESSION_COLUMNS = ("animal", "track", "day", "fraction_active")
#: Columns of a sessions table that hold numbers, where present.
SESSION_NUMBERS = (
    "day",
    "session",
    "fraction_active",
    "fraction_place",
    "mean_si_ssr",
    "mean_si_naive",
)
#: The columns that name a series: text, read as written (animal ``007``, track ``1``),
#: so that a CSV's series are the Parquet table's and ``drift.csv``'s rows find them.
NAMES = {"animal": str, "track": str}
#: Columns ``drift.csv`` must have, and those of them that hold numbers.
DRIFT_COLUMNS = ("animal", "track", "elapsed_days", "mean_correlation")
DRIFT_NUMBERS = ("elapsed_days", "mean_correlation")
#: A run has solved its task once its loss is below this fraction of its first record.
SOLVED = 0.01
#: Fewest sessions a recorded series needs.
MIN_SESSIONS = 3


# ------------------------------------------------------------------------------- runs


def _maps(run) -> np.ndarray | None:
    """``(snapshots, unit, bin)`` tuning maps of a run (see the module docstring)."""
    snaps = run.snapshots
    if "rate_map" in snaps.data_vars:
        return np.asarray(snaps["rate_map"].values, float)
    if "responses" in snaps.data_vars:
        return np.asarray(snaps["responses"].values, float)
    if {"W1", "b1", "W2"} <= set(snaps.data_vars) and run.dataset is not None:
        params = {k: np.asarray(snaps[k].values, np.float32) for k in ("W1", "b1", "W2")}
        hidden = _hidden_of(
            params, np.asarray(run.dataset.inputs, np.float32), run.config.network.activation
        )
        return np.swapaxes(np.asarray(hidden, float), -1, -2)
    return None


def _hidden_of(params: dict[str, np.ndarray], inputs: np.ndarray, act: str) -> np.ndarray:
    """``(snapshots, samples, units)`` hidden activity of stacked snapshot parameters:
    :func:`repdrift.network.apply`'s ``act(x W1ᵀ + b1)``, the affine part in NumPy for all
    snapshots at once and the network's own activation function applied once."""
    from repdrift import network

    z = np.einsum("si,pui->psu", inputs, params["W1"]) + params["b1"][:, None, :]
    return np.asarray(network.activation(act)(z))


def _spatial(run, maps: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(place fraction of active units, mean SI of place units)`` per snapshot."""
    snaps = run.snapshots
    threshold = run.config.record.si_threshold
    if "si_bits_per_activity" in snaps.data_vars:
        si = np.asarray(snaps["si_bits_per_activity"].values, float)
    elif "responses" in snaps.data_vars and maps is not None:
        si = tuning.spatial_information(maps, np.ones(maps.shape[-1]))
    else:
        return None, None
    active = drift.active_in_map(maps) if maps is not None else np.isfinite(si)
    place = active & tuning.place_units(si, threshold)
    n_active = active.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(n_active > 0, place.sum(axis=-1) / n_active, np.nan)
        mean_si = np.where(
            place.any(axis=-1),
            np.nansum(np.where(place, si, 0.0), axis=-1) / place.sum(-1),
            np.nan,
        )
    return fraction, mean_si


def _lag_curves(maps: np.ndarray, steps: np.ndarray):
    rc = drift.correlation_vs_lag(drift.rate_map_correlation_matrix(maps), steps)
    pv = drift.correlation_vs_lag(drift.population_vector_correlation_matrix(maps), steps)
    return rc, pv


def _hessian(run) -> dict[str, np.ndarray] | None:
    """The Hessian summaries at the snapshots; ``None`` without them, and for a run with
    ``record.hessian_at = "windows"``: spectra in the first and last tenth only would give
    its curve features other values than the libraries' runs, which have them all along."""
    snaps = run.snapshots
    if run.config.record.hessian_at == "windows":
        return None
    names = {
        "trace": "hessian_trace",
        "max": "hessian_max",
        "fraction_nonzero": "hessian_fraction_nonzero",
    }
    if not all(v in snaps.data_vars for v in names.values()):
        return None
    return {k: np.asarray(snaps[v].values, float) for k, v in names.items()}


def window_start(steps: np.ndarray, loss: np.ndarray) -> float | None:
    """Where a run's window starts: the end of learning, the earlier of

    * the loss plateau (:func:`repdrift.metrics.timescale.loss_plateau_step`: the smoothed
      loss first within a factor 2 of its final level) and
    * the first record at which the loss is below :data:`SOLVED` of its first record
      (a rule that keeps lowering the loss by orders of magnitude, as Adam does, has
      solved the task long before it reaches its final level),

    and at most half-way through the run (so that every window holds half of it). It
    depends on the records and on times only through their order and the fraction of
    the run, so it scales with the unit of time. ``None`` without three finite losses.
    """
    t = np.asarray(steps, float)
    loss = np.asarray(loss, float)
    finite = np.isfinite(loss) & (loss > 0)
    if finite.sum() < 3:
        return None
    t, loss = t[finite], loss[finite]
    start = timescale.loss_plateau_step(t, loss)
    solved = np.flatnonzero(loss <= SOLVED * loss[0])
    if solved.size:
        start = min(start, float(t[solved[0]]))
    return float(min(start, t[0] + 0.5 * (t[-1] - t[0])))


def run_observations(run) -> Observations:
    """The :class:`Observations` of a reopened :class:`repdrift.runs.Run`.

    Raises :class:`InferenceError` for a run without activity records.
    """
    metrics = run.metrics
    needed = ("loss", "active_fraction", "fraction_active_units")
    if metrics.sizes.get("step", 0) < 3 or any(n not in metrics.data_vars for n in needed):
        raise InferenceError(
            f"run {run.path} has no records of loss, active fraction and fraction of active "
            "units (not a network or similarity-matching run, or not started)"
        )
    t = np.asarray(metrics["step"].values, float)
    loss = np.asarray(metrics["loss"].values, float)
    start = window_start(t, loss)
    obs = {
        "time": t,
        "units": np.asarray(metrics["fraction_active_units"].values, float),
        "activity": np.asarray(metrics["active_fraction"].values, float),
        "loss": loss,
        "start": start,
    }
    snaps = run.snapshots
    if snaps.sizes.get("step", 0) >= 2:
        steps = np.asarray(snaps["step"].values, float)
        maps = _maps(run)
        place, si = _spatial(run, maps)
        obs.update(snapshot_time=steps, place=place, si=si, hessian=_hessian(run))
        inside = steps >= (start if start is not None else t[0])
        if maps is not None and inside.sum() >= 2:
            obs["rc"], obs["pv"] = _lag_curves(maps[inside], steps[inside])
    return Observations(**obs)


# ------------------------------------------------------------------------ recordings


def read_sessions(path: str | Path) -> pd.DataFrame:
    """A sessions table (Parquet or CSV) of ``repdrift data analyze``, checked.

    Raises :class:`InferenceError` naming the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise InferenceError(f"{path} is not a file")
    try:
        if path.suffix.lower() == ".parquet":
            with open(path, "rb") as fh:  # pyarrow cannot open a name that is not UTF-8
                table = pd.read_parquet(fh)
        elif path.suffix.lower() == ".csv":
            table = pd.read_csv(path, dtype=NAMES)
        else:
            raise InferenceError(
                f"{path}: not a run, a sweep or a sessions table (.parquet or .csv)"
            )
    except InferenceError:
        raise
    except Exception as err:
        raise InferenceError(f"{path} cannot be read as a table: {first_line(err)}") from None
    missing = [c for c in SESSION_COLUMNS if c not in table.columns]
    if missing:
        raise InferenceError(
            f"{path} is not a sessions table of `repdrift data analyze`: missing columns "
            f"{', '.join(missing)}"
        )
    return _numeric(table, path, SESSION_NUMBERS)


def read_drift(table_path: str | Path) -> pd.DataFrame | None:
    """``drift.csv`` next to a sessions table, or ``None`` when there is none."""
    file = Path(table_path).with_name("drift.csv")
    if not file.exists():
        return None
    if not file.is_file():
        raise InferenceError(f"{file} is not a file")
    try:
        drift_table = pd.read_csv(file, dtype=NAMES)
    except Exception as err:
        raise InferenceError(f"{file} cannot be read: {first_line(err)}") from None
    if any(c not in drift_table.columns for c in DRIFT_COLUMNS):
        raise InferenceError(f"{file} lacks the columns {', '.join(DRIFT_COLUMNS)}")
    return _numeric(drift_table, file, DRIFT_NUMBERS)


def _numeric(table: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """``table`` with ``columns`` (those present) as floats, empty cells NaN.

    Raises :class:`InferenceError` naming the file, the column, the row and the value for
    a cell that is not a number.
    """
    table = table.copy()
    for name in columns:
        if name not in table.columns:
            continue
        column = table[name]
        try:
            numbers = pd.to_numeric(column, errors="coerce")
            bad = (numbers.isna() & column.notna()).to_numpy()
        except (TypeError, ValueError):  # lists or other objects in the cells
            numbers, bad = column.isna().astype(float) * np.nan, column.notna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = repr(column.iloc[row])
            value = value if len(value) <= 40 else value[:37] + "..."
            raise InferenceError(
                f"{path}: column {name!r} must hold numbers, got {value} in row {row + 1}"
            )
        table[name] = numbers.astype(float)
    return table


def _column(group: pd.DataFrame, *names: str) -> np.ndarray | None:
    for name in names:
        if name in group.columns and np.isfinite(group[name].astype(float)).sum() >= 2:
            return group[name].to_numpy(float)
    return None


def series_observations(
    sessions: pd.DataFrame, drift_table: pd.DataFrame | None = None
) -> dict[str, Observations]:
    """``{"animal/track": Observations}`` for every series with at least
    :data:`MIN_SESSIONS` sessions on distinct days."""
    out = {}
    for (animal, track), group in sessions.groupby(["animal", "track"], sort=True):
        group = group.sort_values(["day", "session"] if "session" in group else ["day"])
        days = group["day"].to_numpy(float)
        if np.unique(days[np.isfinite(days)]).size < MIN_SESSIONS:
            continue
        rc = None
        if drift_table is not None:
            mine = drift_table[(drift_table["animal"] == animal) & (drift_table["track"] == track)]
            mine = mine[np.isfinite(mine["mean_correlation"].astype(float))]
            if len(mine):
                lag, corr, pairs = _by_lag(
                    mine["elapsed_days"].to_numpy(float), mine["mean_correlation"].to_numpy(float)
                )
                rc = (lag, corr, pairs)
        out[f"{animal}/{track}" if str(track) else str(animal)] = Observations(
            time=days,
            units=group["fraction_active"].to_numpy(float),
            snapshot_time=days,
            place=_column(group, "fraction_place"),
            si=_column(group, "mean_si_ssr", "mean_si_naive"),
            rc=rc,
        )
    return out


def _by_lag(lag: np.ndarray, corr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean correlation per distinct lag, with the number of pairs averaged."""
    lags, inverse = np.unique(lag, return_inverse=True)
    pairs = np.bincount(inverse, minlength=lags.size)
    sums = np.bincount(inverse, weights=corr, minlength=lags.size)
    return lags, sums / np.maximum(pairs, 1), pairs.astype(np.int64)
