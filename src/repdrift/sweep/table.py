"""The results table of a sweep, ``DIR/runs.parquet``, and its summary by rule and noise.

One row per run of the plan, in plan order:

* ``run`` — the run id (its directory is ``DIR/runs/<run>``); ``part`` — the spec part;
* ``status`` — ``complete``, ``diverged``, ``silent``, ``partial`` (stopped: resume the
  sweep), ``running``, ``pending`` (not started) or ``corrupt``; ``steps_done``;
  ``message`` (why a run diverged or went silent);
* ``rule`` (``learner.kind``) and ``noise`` (``update``, ``label``, ``update+label``,
  ``input`` or ``none``, from the noise magnitudes);
* every field of the run's configuration as a dotted-path column (``task.kind``,
  ``task.d_in``, ``learner.lr``, ``run.steps``, ...; empty where a task has no such field).
  A column whose values mix text and numbers (``network.readout``: ``"lazy"``, ``"rich"``
  or a number) is stored as text;
* the paper's summary columns (:mod:`repdrift.sweep.summary`): ``loss``, ``active``,
  ``active_units``, ``log_tau``, ``eig_sum``, ``eig_max``, ``eig_nonzero``, and the mean
  SI of place units ``si_initial`` and ``si`` (tasks with positions), with ``log_tau_ok``
  and ``included`` — empty (NaN) until a run has finished.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from repdrift import config as config_mod
from repdrift import store
from repdrift.sweep import directory, summary
from repdrift.sweep.directory import Sweep
from repdrift.sweep.spec import PlannedRun, SweepError

#: Statuses in the order ``sweep inspect`` lists them.
STATUSES = ("complete", "diverged", "silent", "partial", "running", "pending", "corrupt")


def noise_kind(update_noise: float, label_noise: float, input_noise: float = 0.0) -> str:
    """``update``, ``label``, ``update+label``, ``input`` or ``none``."""
    parts = [n for n, v in (("update", update_noise), ("label", label_noise)) if v > 0]
    if parts:
        return "+".join(parts)
    return "input" if input_noise > 0 else "none"


def config_columns(config) -> dict[str, Any]:
    """A configuration as ``{"section.field": value}``."""
    out = {}
    for section, fields in config.model_dump(mode="json").items():
        for name, value in fields.items():
            out[f"{section}.{name}"] = value
    return out


def build_table(sweep: Sweep, statuses: dict[str, store.Status] | None = None) -> pd.DataFrame:
    """The table of a sweep from its plan, the run directories and the stored summaries
    (``statuses``: the runs' statuses when they have just been read)."""
    if statuses is None:
        statuses = _statuses(sweep)
    rows = [_row(sweep, planned, statuses[planned.run]) for planned in sweep.runs]
    return _tidy(_ordered(pd.DataFrame(rows)))


def _row(sweep: Sweep, planned: PlannedRun, st: store.Status) -> dict[str, Any]:
    """The table's row of one run whose stored status is ``st``."""
    lc = planned.config.learner
    row: dict[str, Any] = {
        "run": planned.run,
        "part": planned.part,
        "status": st.status,
        "steps_done": st.steps_done,
        "message": st.message,
        "rule": lc.kind,
        "noise": noise_kind(lc.update_noise, lc.label_noise, lc.input_noise),
    }
    row.update(config_columns(planned.config))
    cols = _summary_of(sweep, planned.run, st)
    for name in summary.COLUMNS:
        row[name] = math.nan if cols is None else float(cols.get(name, math.nan))
    row["log_tau_ok"] = bool(cols.get("log_tau_ok", False)) if cols else False
    # (a finished run whose summary is not stored yet has no numbers to count)
    row["included"] = cols is not None and summary.included(
        st.status, row["loss"], bool(cols.get("loss_ok", True))
    )
    return row


def _summary_of(sweep: Sweep, run_id: str, st: store.Status) -> dict[str, Any] | None:
    return directory.read_summary(sweep.path, run_id) if st.status in directory.FINISHED else None


LEADING = ("run", "part", "status", "steps_done", "message", "rule", "noise")
TRAILING = (*summary.COLUMNS, "log_tau_ok", "included")


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Leading columns, config paths by section (first appearance within one), summaries."""
    sections = {name: i for i, name in enumerate(config_mod.Config.model_fields)}
    config_cols = [c for c in df.columns if c not in LEADING and c not in TRAILING]
    config_cols.sort(key=lambda c: sections.get(c.split(".")[0], len(sections)))
    return df[[*LEADING, *config_cols, *TRAILING]]


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of one type each, so that Parquet stores them."""
    for name in df.columns:
        values = df[name].dropna()
        kinds = {type(v) for v in values}
        if str in kinds and kinds - {str}:
            df[name] = df[name].map(lambda v: None if v is None or v != v else str(v))
        elif kinds == {int, float} or kinds == {float, int}:
            df[name] = df[name].astype(float)
    return df


def write_table(sweep: Sweep, df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write ``DIR/runs.parquet`` atomically (readers see the old or the new table)."""
    if df is None:
        df = build_table(sweep)
    store.write_parquet(df, sweep.table_path)
    return df


def read_table(sweep: Sweep) -> pd.DataFrame:
    """The stored table, or one built from the run directories if none is stored yet."""
    if not sweep.table_path.is_file():
        return build_table(sweep)
    try:
        df = pd.read_parquet(sweep.table_path)
    except Exception as err:
        raise SweepError(
            f"sweep {sweep.path}: {directory.TABLE_FILE} is unreadable: {err}"
        ) from None
    if not {*LEADING, *TRAILING} <= set(df.columns) or list(df["run"]) != [
        r.run for r in sweep.runs
    ]:
        # written by an older version, or not this plan's runs (changed from outside):
        # computed afresh from the run directories (the truth it is made from)
        return build_table(sweep)
    return df


def checked_table(sweep: Sweep) -> pd.DataFrame:
    """:func:`read_table`, refused (:class:`SweepError`, one line) when some run cannot be
    read: its ``status.json`` is unreadable, or the table calls it finished but its folder
    is gone (:func:`repdrift.sweep.directory.lost_runs`) — the table would report it as it
    was. What ``repdrift sweep inspect`` and ``sweep compare`` read; nothing is written.

    The stored table is rewritten at most every 10 s while a sweep runs, and not at all
    after a ``kill -9``: the rows of runs whose status has moved on since, or whose
    summary was stored since, are read afresh from the runs (each run's ``status.json``
    is read for the check above anyway)."""
    df, statuses = _table_and_statuses(sweep)
    lost = directory.lost_runs(sweep, dict(zip(df["run"], df["status"], strict=True)), statuses)
    if lost:
        raise SweepError(directory.damaged_line(sweep, lost))
    return _brought_up_to_date(sweep, df, statuses)


def current_table(sweep: Sweep) -> pd.DataFrame:
    """The table as the runs stand now: :func:`read_table` with the rows of runs that
    moved on since it was written read afresh (see :func:`checked_table`), and a run
    whose folder is gone or unreadable shown so (``pending``, ``corrupt``), unrefused."""
    return _brought_up_to_date(sweep, *_table_and_statuses(sweep))


def _statuses(sweep: Sweep) -> dict[str, store.Status]:
    return {planned.run: directory.run_status(sweep, planned) for planned in sweep.runs}


def _table_and_statuses(sweep: Sweep) -> tuple[pd.DataFrame, dict[str, store.Status]]:
    """:func:`read_table`, then every run's status; without a stored table, the statuses
    and the table built from them (each ``status.json`` read once).

    The stored table is read first: while the sweep runs, a run it calls finished has
    finished before its statuses are read, so it is not taken for a run whose folder is
    gone (:func:`repdrift.sweep.directory.lost_runs`)."""
    if sweep.table_path.is_file():
        df = read_table(sweep)
        return df, _statuses(sweep)
    statuses = _statuses(sweep)
    return build_table(sweep, statuses), statuses


def _brought_up_to_date(
    sweep: Sweep, df: pd.DataFrame, statuses: dict[str, store.Status]
) -> pd.DataFrame:
    unsummarised = df["status"].isin(directory.FINISHED) & ~df["included"].astype(bool)
    unsummarised &= df[list(summary.COLUMNS)].isna().all(axis=1)
    stale = [
        i
        for i, planned in enumerate(sweep.runs)
        if (statuses[planned.run].status, statuses[planned.run].steps_done)
        != (df["status"].iat[i], int(df["steps_done"].iat[i]))
        or (unsummarised.iat[i] and _summary_of(sweep, planned.run, statuses[planned.run]))
    ]
    if not stale:
        return df
    fresh = pd.DataFrame(
        [_row(sweep, sweep.runs[i], statuses[sweep.runs[i].run]) for i in stale],
        index=df.index[stale],
    )
    df = df.copy()
    for name in ("status", "steps_done", "message", *TRAILING):  # of the same kinds
        df.loc[fresh.index, name] = fresh[name].to_numpy()
    return df


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    values = values[np.isfinite(values.astype(float))]
    return float(values.median()) if len(values) else None


def inspect_summary(sweep: Sweep, df: pd.DataFrame) -> dict[str, Any]:
    """Counts by status and medians of the summary columns by rule and noise type.

    Medians are over the ``included`` runs (those ``collector.py`` kept); the median of
    ``log_tau`` is over the runs whose fit succeeded (the tables' 0 marks a failed fit).
    """
    counts = df["status"].value_counts()
    by_status = {s: int(counts.get(s, 0)) for s in STATUSES if counts.get(s, 0)}
    # finished, but killed before its summary was stored (or the summary was damaged); a
    # run stopped at its first step has a summary of NaN only: its file tells them apart
    unsummarised = (
        df["status"].isin(directory.FINISHED) & df[list(summary.COLUMNS)].isna().all(axis=1)
    ).to_numpy(copy=True)
    unsummarised[unsummarised] = [
        directory.read_summary(sweep.path, run) is None for run in df["run"][unsummarised]
    ]
    groups = []
    for (rule, noise), group in df.groupby(["rule", "noise"], sort=True):
        kept = group[group["included"]]
        medians = _medians(kept, fit_ok=kept["log_tau_ok"])
        groups.append(
            {
                "rule": rule,
                "noise": noise,
                "runs": len(group),
                "finished": int(group["status"].isin(directory.FINISHED).sum()),
                "included": len(kept),
                "median": medians,
            }
        )
    published = published_medians()
    for group in groups:
        group["published"] = published.get((group["rule"], group["noise"]))
    return {
        "path": str(sweep.path),
        "name": sweep.name,
        "runs": len(df),
        "status": by_status,
        "without_summary": [str(r) for r in df.loc[unsummarised, "run"]],
        "groups": groups,
        "computed_on": computed_where(sweep, df),
    }


def computed_where(sweep: Sweep, df: pd.DataFrame) -> list[dict[str, Any]]:
    """Where the stored steps of the runs of ``df`` (the sweep's table) that stored any
    were computed (:func:`repdrift.runs.computed_places`)."""
    from repdrift.runs import computed_places

    ran = df.loc[df["steps_done"] > 0, "run"]
    return computed_places(sweep.run_path(str(run_id)) for run_id in ran)


def published_medians() -> dict[tuple[str, str], dict[str, Any]]:
    """Per (rule, noise): the published runs' count and the medians of their summary
    columns (``repdrift/reference/driftreg_all_runs.csv``, the paper's Table 2 and Figs.
    4, S1, S2; ``log_tau`` over successful fits; ``None`` for columns it lacks)."""
    from repdrift.experiments import reference

    df = reference.all_runs()
    return {
        (rule, noise): {"runs": len(group), "median": _medians(group, group["log_tau"] != 0)}
        for (rule, noise), group in df.groupby(["rule", "noise"], sort=True)
    }


def _medians(rows: pd.DataFrame, fit_ok: pd.Series) -> dict[str, float | None]:
    """Medians of the summary columns (``log_tau`` over the rows whose fit succeeded;
    ``None`` for a column the rows lack)."""
    return {
        name: _median((rows[fit_ok] if name == "log_tau" else rows)[name])
        if name in rows.columns
        else None
        for name in summary.COLUMNS
    }
