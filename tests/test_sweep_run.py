"""Sweeps that run: end to end, a batch retried after an interruption, kill -9 of the
sweep process then resume, and a Dask cluster losing a worker mid-sweep."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import repdrift
import repdrift.sweep
from repdrift import simulation, store
from repdrift.cli import main
from repdrift.sweep import directory, executor, spec, summary, table

TINY = """
seed = 4
[base.task]
kind = "random"
[base.network]
hidden = 16
[base.record]
dense_until = 20
per_decade = 10
snapshots = 4
linear_snapshots = 4
hessian = "gauss_newton"
[base.run]
steps = 200
checkpoint_every_s = 600.0

[[parts]]
name = "sgd"
[parts.grid]
"task" = [{ kind = "random", samples = 5, d_in = 6, d_out = 4 },
          { kind = "smoothed", samples = 6, d_in = 4, d_out = 3 }]
[parts.random]
n = 1
"learner.lr" = { uniform = [0.05, 0.15] }
[parts.random.noise]
kind = "update"
update = { log_uniform = [0.01, 0.1] }

[[parts]]
name = "adam"
base = { "learner.kind" = "adam", "learner.lr" = 0.001 }
[parts.grid]
"task.samples" = [5, 6]
"""


def _cli(argv) -> int:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


def _generations(root: Path) -> dict[str, tuple[str, float]]:
    out = {}
    for run_dir in sorted((root / "runs").iterdir()):
        status = json.loads((run_dir / store.STATUS_FILE).read_text())
        out[run_dir.name] = (status["generation"], status["updated"])
    return out


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweeps")
    spec_file = root / "tiny.toml"
    spec_file.write_text(TINY)
    out = root / "tiny"
    assert _cli(["sweep", str(spec_file), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    return out


def test_a_sweep_stores_every_run_and_tabulates_it(tiny_sweep):
    sweep = directory.open_sweep(tiny_sweep)
    df = pd.read_parquet(tiny_sweep / "runs.parquet")
    assert list(df["run"]) == ["r00000", "r00001", "r00002", "r00003"]
    assert list(df["part"]) == ["sgd", "sgd", "adam", "adam"]
    assert (df["status"] == "complete").all() and (df["steps_done"] == 200).all()
    assert _listing(tiny_sweep) == list(df["run"])
    for planned, (_, row) in zip(sweep.runs, df.iterrows(), strict=True):
        run = repdrift.open_run(tiny_sweep / "runs" / planned.run)
        assert run.config == planned.config
        assert run.status.status == "complete" and int(run.metrics["step"][-1]) == 200
        # config columns are the run's configuration
        assert row["learner.kind"] == run.config.learner.kind == row["rule"]
        assert row["learner.lr"] == run.config.learner.lr
        assert row["task.kind"] == run.config.task.kind
        assert row["run.seed"] == run.config.run.seed
        assert row["noise"] == ("update" if run.config.learner.update_noise > 0 else "none")
        # summary columns, by hand from the stored records (collector.py's arithmetic on
        # the original's evenly spaced grid, whose records followed their epoch's update:
        # steps 1 ... T)
        steps = run.metrics["step"].values.astype(float)
        grid = np.linspace(1, steps[-1], summary.RECORDS)
        units = np.interp(grid, steps, run.metrics["fraction_active_units"].values)
        active = np.interp(grid, steps, run.metrics["active_fraction"].values)
        assert row["loss"] == pytest.approx(np.log10(float(run.metrics["loss"][-1])), rel=1e-9)
        assert row["active_units"] == pytest.approx(units[-11:-1].mean() / units[0], rel=1e-9)
        assert row["active"] == pytest.approx(active[-11:-1].mean() / active[0], rel=1e-9)
        assert np.isfinite(row["eig_sum"]) and np.isfinite(row["eig_nonzero"])
        assert row["included"]


def test_the_time_courses_of_every_run_are_in_one_zarr_store(tiny_sweep):
    courses = xr.open_zarr(tiny_sweep / "timecourses.zarr")
    assert list(courses["run"].values) == ["r00000", "r00001", "r00002", "r00003"]
    assert list(courses["run_status"].values) == ["complete"] * 4
    assert courses.equals(repdrift.sweep.read_timecourses(tiny_sweep))
    for name in courses["run"].values:
        run = repdrift.open_run(tiny_sweep / "runs" / name)
        at = courses.sel(run=name)
        for var in ("loss", "fraction_active_units", "active_fraction"):
            got = at[var].sel(step=run.metrics["step"]).values
            assert np.array_equal(got, run.metrics[var].values), (name, var)
        missing = ~np.isin(courses["step"].values, run.metrics["step"].values)
        assert np.isnan(at["loss"].values[missing]).all()
        snaps = at["hessian_trace"].sel(snapshot_step=run.snapshots["step"]).values
        assert np.array_equal(snaps, run.snapshots["hessian_trace"].values, equal_nan=True)


def test_the_table_reads_the_same_in_pandas_polars_and_duckdb(tiny_sweep):
    import duckdb
    import polars as pl

    path = tiny_sweep / "runs.parquet"
    df = pd.read_parquet(path)
    by_polars = pl.read_parquet(path)
    by_duckdb = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").df()
    assert by_polars.columns == list(df.columns) == list(by_duckdb.columns)
    for name in ("run", "status", "learner.kind", "learner.lr", "active_units", "si"):
        # a missing value (NaN in pandas) is stored as null: None in polars
        got = [math.nan if v is None else v for v in by_polars[name].to_list()]
        assert got == pytest.approx(df[name].to_list(), nan_ok=True)
        assert by_duckdb[name].to_list() == pytest.approx(df[name].to_list(), nan_ok=True)
    assert df["si"].isna().all()  # no positions in these tasks
    medians = duckdb.sql(
        f"SELECT rule, median(active_units) AS m FROM read_parquet('{path}') GROUP BY rule"
    ).df()
    expected = df.groupby("rule")["active_units"].median()
    for rule, m in zip(medians["rule"], medians["m"], strict=True):
        assert m == pytest.approx(expected[rule])


def test_the_tiny_sweep_obeys_its_conditions(tiny_sweep):
    df = pd.read_parquet(tiny_sweep / "runs.parquet")
    sgd, adam = df[df["rule"] == "gd"], df[df["rule"] == "adam"]
    assert (sgd["learner.update_noise"] > 0).all() and (sgd["learner.label_noise"] == 0).all()
    assert (adam["learner.update_noise"] == 0).all() and (adam["learner.label_noise"] == 0).all()


def test_resume_and_rerun_of_a_finished_sweep_run_nothing_again(tiny_sweep, capsys):
    before = _generations(tiny_sweep)
    table_before = pd.read_parquet(tiny_sweep / "runs.parquet")
    courses_before = (tiny_sweep / "timecourses.zarr").stat().st_mtime_ns  # not rebuilt
    assert _cli(["sweep", "resume", str(tiny_sweep), "--quiet"]) == 0
    spec_file = tiny_sweep.parent / "tiny.toml"
    assert _cli(["sweep", str(spec_file), "--out", str(tiny_sweep), "--quiet"]) == 0
    assert _generations(tiny_sweep) == before
    pd.testing.assert_frame_equal(pd.read_parquet(tiny_sweep / "runs.parquet"), table_before)
    assert (tiny_sweep / "timecourses.zarr").stat().st_mtime_ns == courses_before
    capsys.readouterr()
    assert _cli(["sweep", "inspect", str(tiny_sweep), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == {"complete": 4}
    # where the four runs were computed: here, on the CPU, with this JAX
    import jax

    [place] = info["computed_on"]
    assert place["runs"] == 4
    assert "CPU thread" in place["on"] and f"JAX {jax.__version__}," in place["on"]
    groups = {(g["rule"], g["noise"]): g for g in info["groups"]}
    assert set(groups) == {("gd", "update"), ("adam", "none")}
    assert groups["gd", "update"]["included"] == 2
    medians = groups["adam", "none"]["median"]
    adam = table_before[table_before["rule"] == "adam"]
    assert medians["active_units"] == pytest.approx(float(adam["active_units"].median()))
    # beside each group, the published runs' medians: the ranges stated with the
    # published tables (shared/reference/README.md; to two decimals)
    published = table.published_medians()
    update, label = published["gd", "update"], published["gd", "label"]
    assert update["runs"] == 522 and label["runs"] == 535
    assert 0.07 <= update["median"]["active_units"] <= 0.15
    assert 0.035 <= update["median"]["active"] <= 0.055
    assert 0.91 <= label["median"]["active_units"] <= 0.97
    assert 0.50 <= label["median"]["active"] <= 0.60
    assert 0.24 <= label["median"]["eig_sum"] <= 0.30
    assert 0.11 <= published["adam", "none"]["median"]["active_units"] <= 0.24
    assert 0.66 <= published["sed", "none"]["median"]["active_units"] <= 0.81
    assert label["median"]["si"] is None  # not in the published tables
    assert groups["gd", "update"]["published"] == update
    assert _cli(["sweep", "inspect", str(tiny_sweep)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("published") == 3  # title and one row per group
    assert f"computed on {place['on']}: 4 runs" in printed
    assert f"{update['median']['active_units']:.3g}" in printed


def test_inspect_reads_a_table_written_without_the_newer_columns(tiny_sweep, capsys):
    old = pd.read_parquet(tiny_sweep / "runs.parquet").drop(columns=["si_initial", "si"])
    copy = tiny_sweep.parent / "older"
    shutil.copytree(tiny_sweep, copy)
    old.to_parquet(copy / "runs.parquet")
    # a run stored before generations said where they were computed
    first = copy / "runs" / "r00000"
    described = store.generation_path(first, store.read_status(first).generation)
    data = json.loads((described / "generation.json").read_text())
    del data["computed_on"]
    (described / "generation.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert _cli(["sweep", "inspect", str(copy), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == {"complete": 4}
    assert [p["runs"] for p in info["computed_on"]] == [3, 1]
    assert info["computed_on"][1]["on"] == "not recorded"


def test_a_table_without_the_plans_runs_or_columns_is_read_afresh_and_left_alone(
    tiny_sweep, tmp_path, capsys
):
    # A table cut to two rows used to be inspected as a sweep of 2 runs, and one without
    # its status column ended in a KeyError traceback.
    full = pd.read_parquet(tiny_sweep / "runs.parquet")
    for name, changed in (("cut", full.iloc[:2]), ("nostatus", full.drop(columns=["status"]))):
        copy = tmp_path / name
        shutil.copytree(tiny_sweep, copy)
        changed.to_parquet(copy / "runs.parquet")
        before = _files(copy)
        capsys.readouterr()
        assert _cli(["sweep", "inspect", str(copy), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["runs"] == 4 and info["status"] == {"complete": 4}
        assert _files(copy) == before
        pd.testing.assert_frame_equal(table.checked_table(directory.open_sweep(copy)), full)


def test_inspect_reads_afresh_the_runs_that_moved_on_since_the_table_was_written(
    tiny_sweep, tmp_path, capsys
):
    # The table is rewritten at most every 10 s while a sweep runs, and not after a
    # kill -9: inspect and compare used to count the runs finished since as they were.
    full = pd.read_parquet(tiny_sweep / "runs.parquet")
    old = full.copy()
    columns = list(summary.COLUMNS)
    old.loc[1, ["status", "steps_done"]] = ["partial", 100]  # it finished since
    old.loc[2, "status"] = "pending"
    old.loc[2, "steps_done"] = 0
    old.loc[[1, 2, 3], columns] = np.nan
    old.loc[[1, 2, 3], ["log_tau_ok", "included"]] = False
    # r00003 was finished, its summary not yet stored
    copy = tmp_path / "stale"
    shutil.copytree(tiny_sweep, copy)
    old.to_parquet(copy / "runs.parquet")
    before = _files(copy)
    pd.testing.assert_frame_equal(table.checked_table(directory.open_sweep(copy)), full)
    pd.testing.assert_frame_equal(repdrift.sweep.read_table(copy), full)
    capsys.readouterr()
    assert _cli(["sweep", "inspect", str(copy), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == {"complete": 4} and info["without_summary"] == []
    assert sum(g["included"] for g in info["groups"]) == int(full["included"].sum())
    assert _files(copy) == before  # read, not written
    # a finished run whose summary is still missing stays without one, and is named
    (copy / "summaries" / "r00003.json").unlink()
    assert _cli(["sweep", "inspect", str(copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["without_summary"] == ["r00003"]


def test_a_sweep_without_its_table_has_each_run_status_read_once(tiny_sweep, tmp_path, monkeypatch):
    # inspect built the missing table from the runs' statuses, then read them all again
    # to check it (a second pass over 1,151 files at paper scale).
    full = pd.read_parquet(tiny_sweep / "runs.parquet")
    copy = tmp_path / "untabled"
    shutil.copytree(tiny_sweep, copy)
    (copy / "runs.parquet").unlink()
    reads = []
    original = directory.run_status
    monkeypatch.setattr(
        directory,
        "run_status",
        lambda sweep, planned: reads.append(planned.run) or original(sweep, planned),
    )
    for read in (table.checked_table, table.current_table):
        reads.clear()
        pd.testing.assert_frame_equal(read(directory.open_sweep(copy)), full)
        assert sorted(reads) == list(full["run"])
    assert not (copy / "runs.parquet").exists()


def test_a_run_finishing_while_inspect_reads_is_not_taken_for_a_lost_one(
    tiny_sweep, tmp_path, monkeypatch
):
    # The stored table is read before the runs' statuses: a run it calls finished has its
    # folder by then. Read the other way round, a run started and finished between the two
    # reads was refused as gone. Here r00002's folder appears as the table is read.
    full = pd.read_parquet(tiny_sweep / "runs.parquet")
    copy = tmp_path / "running"
    shutil.copytree(tiny_sweep, copy)
    aside = tmp_path / "r00002"
    (copy / "runs" / "r00002").rename(aside)
    original = table.read_table

    def read_as_the_run_finishes(sweep):
        if aside.exists():
            aside.rename(copy / "runs" / "r00002")
        return original(sweep)

    monkeypatch.setattr(table, "read_table", read_as_the_run_finishes)
    pd.testing.assert_frame_equal(table.checked_table(directory.open_sweep(copy)), full)


def test_inspect_refuses_a_sweep_whose_runs_are_lost_or_unreadable_and_writes_nothing(
    tiny_sweep, tmp_path, capsys
):
    # The table still calls them complete: inspect used to report it as it was, and to
    # create the runs/ and summaries/ folders it found missing.
    copy = tmp_path / "lost"
    shutil.copytree(tiny_sweep, copy)
    shutil.rmtree(copy / "runs" / "r00002")
    (copy / "runs" / "r00003" / store.STATUS_FILE).write_text("{not json")
    before = _files(copy)
    capsys.readouterr()
    assert _cli(["sweep", "inspect", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("repdrift: error: ")
    assert "2 runs cannot be read" in err[0] and "r00002: runs/r00002 is gone" in err[0]
    assert "r00003" in err[0] and "--repair" in err[0]
    # in Python the table shows them as they are, unrefused
    now = repdrift.sweep.read_table(copy).set_index("run")
    assert now.loc["r00002", "status"] == "pending" and now.loc["r00003", "status"] == "corrupt"
    assert not now.loc["r00002", "included"] and np.isnan(now.loc["r00002", "loss"])
    assert _files(copy) == before
    shutil.rmtree(copy / "runs")
    shutil.rmtree(copy / "summaries")
    assert _cli(["sweep", "inspect", str(copy), "--json"]) == 2
    assert "4 runs cannot be read" in capsys.readouterr().err
    assert not (copy / "runs").exists() and not (copy / "summaries").exists()
    # resume runs them again
    assert _cli(["sweep", "resume", str(copy), "--workers", "1", "--quiet"]) == 0
    assert _cli(["sweep", "inspect", str(copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == {"complete": 4}


def test_a_damaged_summary_is_left_out_named_and_written_again_by_resume(
    tiny_sweep, tmp_path, capsys
):
    # A summary holding a list, or a number as text, was a traceback in inspect, and a
    # finished run without its summary was counted among the runs of the medians.
    copy = tmp_path / "summaries"
    shutil.copytree(tiny_sweep, copy)
    reference = pd.read_parquet(tiny_sweep / "runs.parquet").set_index("run")
    (copy / "summaries" / "r00001.json").write_text("[1, 2]")
    (copy / "summaries" / "r00002.json").write_text('{"loss": "-1.5", "active": 0.5}')
    (copy / "runs.parquet").unlink()
    capsys.readouterr()
    assert _cli(["sweep", "inspect", str(copy), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["without_summary"] == ["r00001", "r00002"]
    assert [g["included"] for g in info["groups"]] == [1, 1]  # adam r00002, gd r00001 out
    assert _cli(["sweep", "inspect", str(copy)]) == 0
    assert "2 finished runs have no stored summary (r00001, r00002)" in capsys.readouterr().out
    assert _cli(["sweep", "resume", str(copy), "--quiet"]) == 0
    df = pd.read_parquet(copy / "runs.parquet").set_index("run")
    for name in ("loss", "active_units", "active"):
        assert np.allclose(df[name], reference[name], rtol=1e-6), name
    assert _cli(["sweep", "inspect", str(copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["without_summary"] == []


def test_a_run_diverging_at_its_first_step_leaves_its_batch_mates_summarised(tmp_path, capsys):
    # lr = 1e30 diverges at step 1; its summary had a grid of 100 records of step 1, whose
    # timescale fit raised: the whole batch lost its summaries and every resume failed.
    spec_file = tmp_path / "lr.toml"
    spec_file.write_text(
        'seed = 2\n[base.task]\nkind = "random"\nsamples = 5\nd_in = 6\nd_out = 3\n'
        "[base.network]\nhidden = 8\n[base.run]\nsteps = 60\n"
        '[grid]\n"learner.lr" = [1e30, 0.1]\n'
    )
    out = tmp_path / "sweep"
    assert _cli(["sweep", str(spec_file), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    df = pd.read_parquet(out / "runs.parquet").set_index("run")
    assert df["status"].tolist() == ["diverged", "complete"]
    assert df.loc["r00000", "steps_done"] == 1
    assert all(np.isnan(df.loc["r00000", c]) for c in ("active_units", "log_tau", "loss"))
    assert np.isfinite(df.loc["r00001", ["active_units", "loss"]].astype(float)).all()
    assert sorted(p.name for p in (out / "summaries").iterdir()) == ["r00000.json", "r00001.json"]
    capsys.readouterr()
    assert _cli(["sweep", "resume", str(out), "--quiet"]) == 0
    assert _cli(["sweep", "inspect", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["without_summary"] == [] and info["status"] == {"complete": 1, "diverged": 1}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_damaged_runs_stop_resume_with_one_line_until_repair_runs_them_again(
    tiny_sweep, tmp_path, capsys
):
    # Damage from outside (every write of repdrift is atomic): an unreadable status, a
    # finished run's records gone (its summary intact), a summary edited, the time courses'
    # data gone. A plain resume refuses with one line and changes nothing; --repair reads
    # every run, moves the damaged ones to damaged/, runs them again and fixes the rest.
    copy = tmp_path / "damaged"
    shutil.copytree(tiny_sweep, copy)
    reference = pd.read_parquet(tiny_sweep / "runs.parquet").set_index("run")
    (copy / "runs" / "r00001" / store.STATUS_FILE).write_text("{not json")
    generation = store.read_status(copy / "runs" / "r00002").generation
    shutil.rmtree(store.generation_path(copy / "runs" / "r00002", generation) / "metrics.zarr")
    edited = json.loads((copy / "summaries" / "r00003.json").read_text())
    edited["active_units"] = 0.5
    (copy / "summaries" / "r00003.json").write_text(json.dumps(edited))
    shutil.rmtree(copy / "timecourses.zarr" / "loss" / "c")  # its chunks
    before = _files(copy)
    capsys.readouterr()
    assert _cli(["sweep", "resume", str(copy), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("repdrift: error: ")
    assert "r00001" in err[0] and "status.json is unreadable" in err[0] and "--repair" in err[0]
    assert _files(copy) == before  # nothing run, nothing written

    assert _cli(["sweep", "resume", str(copy), "--workers", "1", "--quiet", "--repair"]) == 0
    printed = capsys.readouterr().err
    assert "r00001 was run again" in printed and "r00002 was run again" in printed
    aside = sorted(p.name.split("-")[0] for p in (copy / directory.DAMAGED_DIR).iterdir())
    assert aside == ["r00001", "r00002"]
    kept = next((copy / directory.DAMAGED_DIR).glob("r00002-*"))
    assert (kept / "run" / store.STATUS_FILE).is_file() and (kept / "summary.json").is_file()
    df = pd.read_parquet(copy / "runs.parquet").set_index("run")
    assert (df["status"] == "complete").all()
    # the runs run again (alone: their batch mates had finished) and the edited summary
    # give the numbers of the undamaged sweep
    for name in ("loss", "active_units", "active", "eig_sum", "eig_max"):
        assert np.allclose(df[name], reference[name], rtol=1e-5), name
    assert df.loc["r00003", "active_units"] == pytest.approx(
        reference.loc["r00003", "active_units"]
    )
    courses = xr.open_zarr(copy / "timecourses.zarr")
    run = repdrift.open_run(copy / "runs" / "r00002")
    got = courses["loss"].sel(run="r00002", step=run.metrics["step"]).values
    assert np.array_equal(got, run.metrics["loss"].values)
    # now whole: a plain resume runs nothing and moves nothing
    generations = _generations(copy)
    assert _cli(["sweep", "resume", str(copy), "--quiet"]) == 0
    assert _generations(copy) == generations
    assert len(list((copy / directory.DAMAGED_DIR).iterdir())) == 2
    # time courses damaged alone look up to date (the same runs and generations): only
    # --repair rebuilds them
    shutil.rmtree(copy / "timecourses.zarr" / "loss" / "c")
    assert _cli(["sweep", "resume", str(copy), "--workers", "1", "--quiet", "--repair"]) == 0
    courses = xr.open_zarr(copy / "timecourses.zarr")
    got = courses["loss"].sel(run="r00002", step=run.metrics["step"]).values
    assert np.array_equal(got, run.metrics["loss"].values)
    assert _generations(copy) == generations


def _three_of_one_batch():
    """The two SGD runs of TINY and a copy of the first under another seed."""
    runs = [r for r in spec.expand(spec.spec_from_text(TINY)) if r.part == "sgd"]
    reseeded = runs[0].config.model_copy(
        update={"run": runs[0].config.run.model_copy(update={"seed": 99})}
    )
    return [*runs, spec.PlannedRun("r00002", "sgd", reseeded)]


def _listing(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "runs").iterdir() if not p.name.startswith("."))


def test_a_batch_killed_mid_way_and_retried_continues_and_stores_each_run_once(tmp_path):
    runs = _three_of_one_batch()
    ids = [r.run for r in runs]
    sweep = directory.create(tmp_path / "s", name="retry", spec_text=TINY, runs=runs, batches=[ids])
    reference = simulation.simulate_batch(
        [r.config for r in runs], [tmp_path / "ref" / r.run for r in runs]
    )
    paths = [sweep.run_path(r.run) for r in runs]
    # the state of a batch killed half way: every run stopped at one step
    simulation.simulate_batch([r.config for r in runs], paths, stop_after=100)
    assert {store.read_status(p).status for p in paths} == {"partial"}
    items = [(r.run, r.config.model_dump(mode="json")) for r in runs]
    result = executor.run_batch(sweep.path, items)
    assert result == [(rid, "complete") for rid in ids]
    assert _listing(sweep.path) == ids
    for path, expected in zip(paths, reference, strict=True):
        got = repdrift.open_run(path)
        assert np.all(np.diff(got.metrics["step"].values) > 0)  # no record stored twice
        assert got.metrics.equals(expected.metrics)
        assert got.snapshots["W1"].equals(expected.snapshots["W1"])
        assert directory.read_summary(sweep.path, path.name) is not None
    # retried once more (a task run twice): the finished runs are left alone
    before = _generations(sweep.path)
    assert executor.run_batch(sweep.path, items) == result
    assert _generations(sweep.path) == before


def test_a_sweep_continued_elsewhere_says_so_and_its_runs_record_both_places(tmp_path, capsys):
    import jax

    from repdrift import cores
    from repdrift.cores import describe_computed_on

    runs = _three_of_one_batch()
    ids = [r.run for r in runs]
    sweep = directory.create(tmp_path / "s", name="moved", spec_text=TINY, runs=runs, batches=[ids])
    paths = [sweep.run_path(r.run) for r in runs]
    simulation.simulate_batch([r.config for r in runs], paths, stop_after=100)
    here = cores.computed_on()
    # as if two runs' first 100 steps had run with another JAX on another CPU
    elsewhere = {**here, "jax": "0.4.0", "processor": "Another CPU (AVX2)"}
    for path in paths[:2]:
        described = store.generation_path(path, store.read_status(path).generation)
        data = json.loads((described / "generation.json").read_text())
        data["computed_on"] = elsewhere
        (described / "generation.json").write_text(json.dumps(data))
    copy = shutil.copytree(sweep.path, tmp_path / "copy")
    capsys.readouterr()
    assert _cli(["sweep", "resume", str(sweep.path), "--quiet", "--workers", "1"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert notes == [
        f"repdrift: note: {sweep.path}: 2 runs continued from steps computed elsewhere "
        f"(processor Another CPU (AVX2) → {here['processor']}; JAX 0.4.0 → {jax.__version__}): "
        "their records need not match an uninterrupted sweep's in the last bits"
    ]
    for path in paths:
        assert store.read_status(path).status == "complete"
        assert store.read_computed_on(path) == here
    for path in paths[:2]:
        assert store.read_computed_earlier(path) == [{"until_step": 100, "computed_on": elsewhere}]
    assert store.read_computed_earlier(paths[2]) == []  # continued where it started
    assert _cli(["sweep", "inspect", str(sweep.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    both = f"{describe_computed_on(elsewhere)}; then {describe_computed_on(here)}"
    assert info["computed_on"] == [
        {"on": both, "runs": 2},
        {"on": describe_computed_on(here), "runs": 1},
    ]
    # resumed again, nothing is continued: no note, and the record keeps both places
    assert _cli(["sweep", "resume", str(sweep.path), "--quiet", "--workers", "1"]) == 0
    assert "note:" not in capsys.readouterr().err
    assert store.read_computed_earlier(paths[0]) == [{"until_step": 100, "computed_on": elsewhere}]
    # in Python, a warning says it
    with pytest.warns(repdrift.ComputedElsewhereWarning, match="2 runs continued from steps"):
        result = repdrift.sweep.resume(copy, workers=1)
    assert sorted(result.moved) == ids[:2]


def test_a_batch_killed_while_setting_up_starts_its_runs_together(tmp_path):
    runs = _three_of_one_batch()
    ids = [r.run for r in runs]
    sweep = directory.create(tmp_path / "s", name="setup", spec_text=TINY, runs=runs, batches=[ids])
    reference = simulation.simulate_batch(
        [r.config for r in runs], [tmp_path / "ref" / r.run for r in runs]
    )
    paths = [sweep.run_path(r.run) for r in runs]
    # r00000 set up (configuration and status written) but never trained; r00001 holding
    # only a temporary file of its first write; r00002 not created yet
    store.prepare_out(paths[0], overwrite=False)
    store.atomic_write_text(paths[0] / store.CONFIG_FILE, runs[0].config.to_toml())
    store.write_status(paths[0], store.Status("starting", 0, 200, None, time.time()))
    paths[1].mkdir()
    (paths[1] / ".config.toml.tmp123").write_text("half")
    items = [(r.run, r.config.model_dump(mode="json")) for r in runs]
    assert executor.run_batch(sweep.path, items) == [(rid, "complete") for rid in ids]
    assert _listing(sweep.path) == ids
    for path, expected in zip(paths, reference, strict=True):
        assert repdrift.open_run(path).metrics.equals(expected.metrics)


class _Killed(BaseException):
    """Stands for kill -9 at one instant: no handler of the package catches it."""


def _kill_at_a_write(monkeypatch, when) -> list[tuple[str, int, str]]:
    """Raise :class:`_Killed` instead of the store write for which ``when(run, step,
    status)`` holds; returns the writes seen (run, step, status)."""
    real = store.write_generation
    seen: list[tuple[str, int, str]] = []

    def write(path, **kw):
        call = (Path(path).name, int(kw["step"]), kw["status"].status)
        seen.append(call)
        if when(*call):
            raise _Killed
        return real(path, **kw)

    monkeypatch.setattr(store, "write_generation", write)
    return seen


def _batch_storing_every(tmp_path, seconds: float):
    """``_three_of_one_batch`` storing every ``seconds`` (and its first compiled call), its
    sweep, and the same runs trained uninterrupted."""
    runs = [
        spec.PlannedRun(
            r.run,
            r.part,
            r.config.model_copy(
                update={"run": r.config.run.model_copy(update={"checkpoint_every_s": seconds})}
            ),
        )
        for r in _three_of_one_batch()
    ]
    ids = [r.run for r in runs]
    sweep = directory.create(tmp_path / "s", name="kill", spec_text=TINY, runs=runs, batches=[ids])
    reference = simulation.simulate_batch(
        [r.config for r in runs], [tmp_path / "ref" / r.run for r in runs]
    )
    items = [(r.run, r.config.model_dump(mode="json")) for r in runs]
    return sweep, items, reference


def _assert_batch_equals(sweep, items, reference) -> None:
    for (rid, _), expected in zip(items, reference, strict=True):
        path = sweep.run_path(rid)
        got = repdrift.open_run(path)
        assert got.status.status == "complete"
        assert got.metrics.equals(expected.metrics), rid  # bit for bit
        assert got.snapshots.equals(expected.snapshots), rid
        assert directory.read_summary(sweep.path, rid) is not None
        stored = [g.name for g in (path / "store").iterdir()]
        assert stored == [got.status.generation]  # older generations pruned


def _step(path: Path) -> int:
    return store.generation_step(path, store.read_status(path).generation)


def test_a_batch_killed_between_two_runs_checkpoints_continues_together(tmp_path, monkeypatch):
    sweep, items, reference = _batch_storing_every(tmp_path, 1e-9)  # at every call
    ids = [rid for rid, _ in items]
    # killed as the second run was to store its second checkpoint: the first run is a
    # checkpoint ahead of its mates
    _kill_at_a_write(monkeypatch, lambda run, step, status: run == ids[1] and step > 0)
    with pytest.raises(_Killed):
        executor.run_batch(sweep.path, items)
    monkeypatch.undo()
    paths = [sweep.run_path(rid) for rid in ids]
    assert _step(paths[0]) > _step(paths[1]) == _step(paths[2]) == 0
    assert store.find_generation(paths[0], 0) is not None  # its older one is kept
    assert executor.run_batch(sweep.path, items) == [(rid, "complete") for rid in ids]
    _assert_batch_equals(sweep, items, reference)


def test_a_batch_killed_during_its_final_writes_continues_together(tmp_path, monkeypatch):
    sweep, items, reference = _batch_storing_every(tmp_path, 600.0)  # first call, end
    ids = [rid for rid, _ in items]
    paths = [sweep.run_path(rid) for rid in ids]
    # stopped half way, then continued and killed as the last run was to store its end:
    # its two mates have finished (and are summarised, as a resumed sweep does first)
    simulation.simulate_batch(
        [config_of(items, rid) for rid in ids], paths, stop_after=100, reopen=False
    )
    _kill_at_a_write(monkeypatch, lambda run, step, status: run == ids[2] and status != "running")
    with pytest.raises(_Killed):
        executor.run_batch(sweep.path, items)
    monkeypatch.undo()
    assert [store.read_status(p).status for p in paths] == ["complete", "complete", "partial"]
    assert _step(paths[0]) == _step(paths[1]) == 200 > _step(paths[2]) > 100
    assert executor.check_runs(sweep) == {}
    assert executor.run_batch(sweep.path, items) == [(rid, "complete") for rid in ids]
    _assert_batch_equals(sweep, items, reference)


def config_of(items, rid):
    return repdrift.config.validate(dict(items)[rid])


@pytest.mark.slow
def test_sweep_smoke_preset_end_to_end(tmp_path):
    out = tmp_path / "smoke"
    code = _cli(
        [
            "sweep",
            "--preset",
            "sweep-smoke",
            "--set",
            "run.steps=300",
            "--out",
            str(out),
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    df = pd.read_parquet(out / "runs.parquet")
    assert len(df) == 24 and df["run"].is_unique
    assert df["status"].isin(directory.FINISHED).all()
    assert (df.loc[df["status"] == "complete", "steps_done"] == 300).all()
    assert set(zip(df["rule"], df["noise"], strict=True)) == {
        ("gd", "update"),
        ("gd", "label"),
        ("adam", "none"),
        ("sed", "none"),
    }
    complete = df[df["status"] == "complete"]
    assert complete[["loss", "active", "active_units", "eig_sum", "eig_max"]].notna().all().all()
    # the mean SI of place units where the task has positions (the ring), read by hand
    for _, row in df.iterrows():
        si = repdrift.open_run(out / "runs" / row["run"]).snapshots.get("mean_si_place_units")
        if row["task.kind"] != "ring":
            assert si is None and np.isnan(row["si"])
            continue
        values = si.values[np.isfinite(si.values)]
        assert row["si_initial"] == values[0] and row["si"] == values[-1]
    assert (df["task.kind"] == "ring").sum() >= 5


# --------------------------------------------------------------------- interruptions

SLOW = """
seed = 8
[base.task]
kind = "random"
[base.network]
hidden = 32
[base.record]
dense_until = 20
per_decade = 20
snapshots = 4
linear_snapshots = 4
hessian = "gauss_newton"
[base.run]
steps = 60000
checkpoint_every_s = 1.0

[random]
n = 6
"task" = { choice = [{ kind = "random", samples = 5, d_in = 6, d_out = 4 },
                     { kind = "smoothed", samples = 6, d_in = 5, d_out = 3 }] }
"learner" = { choice = [{ kind = "gd", lr = 0.1 }, { kind = "adam", lr = 0.001 }] }
[random.noise]
update = { log_uniform = [0.01, 0.1] }
label = { log_uniform = [0.1, 1.0] }
"""


def _records(root: Path) -> dict[str, object]:
    return {p.name: repdrift.open_run(p).metrics for p in sorted((root / "runs").iterdir())}


def _assert_same_sweep(got: Path, expected: Path) -> None:
    a = pd.read_parquet(got / "runs.parquet")
    b = pd.read_parquet(expected / "runs.parquet")
    assert list(a["run"]) == list(b["run"])
    assert list(a["status"]) == list(b["status"])
    pd.testing.assert_frame_equal(a[list(summary.COLUMNS)], b[list(summary.COLUMNS)])
    ra, rb = _records(got), _records(expected)
    assert ra.keys() == rb.keys()
    for name in ra:
        assert ra[name].equals(rb[name]), name


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    spec_file = root / "slow.toml"
    spec_file.write_text(SLOW)
    out = root / "ref"
    argv = ["sweep", str(spec_file), "--out", str(out), "--workers", "1", "--batch-size", "2"]
    assert _cli([*argv, "--quiet"]) == 0
    return out


def _wait_for_a_checkpoint(root: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_dir in (root / "runs").glob("r*"):
            try:
                status = json.loads((run_dir / store.STATUS_FILE).read_text())
            except (OSError, ValueError):
                continue
            if status["generation"] and status["status"] == "running":
                return
        time.sleep(0.2)
    raise AssertionError("no run reached a checkpoint in time")


@pytest.mark.slow
def test_kill_9_mid_sweep_then_resume_equals_an_uninterrupted_sweep(tmp_path, slow_reference):
    spec_file = tmp_path / "slow.toml"
    spec_file.write_text(SLOW)
    out = tmp_path / "killed"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "repdrift", "sweep"]
    proc = subprocess.Popen(
        [*cmd, str(spec_file), "--out", str(out), "--workers", "2", "--batch-size", "2", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_a_checkpoint(out, timeout=600)
        writers = {
            json.loads((p / store.PID_FILE).read_text())["pid"]
            for p in (out / "runs").glob("r*")
            if (p / store.PID_FILE).is_file()
        }
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the workers die with the sweep process
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in writers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in writers)
    statuses = table.build_table(directory.open_sweep(out))["status"]
    assert not statuses.eq("complete").all()  # killed mid-sweep
    result = subprocess.run(
        [*cmd, "resume", str(out), "--workers", "2", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    _assert_same_sweep(out, slow_reference)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_dask_cluster_losing_a_worker_mid_sweep_completes_each_run_once(tmp_path, slow_reference):
    distributed = pytest.importorskip("distributed")
    spec_file = tmp_path / "slow.toml"
    spec_file.write_text(SLOW)
    sweep = repdrift.sweep.create(spec_file, out=tmp_path / "dask", batch_size=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        worker_pids = set(client.run(os.getpid).values())
        outcome: dict[str, object] = {}

        def drive() -> None:
            outcome["result"] = executor.run_sweep(sweep, scheduler=client)

        thread = threading.Thread(target=drive)
        thread.start()
        _wait_for_a_checkpoint(sweep.path, timeout=600)
        writer = None
        for p in (sweep.path / "runs").glob("r*"):
            if (p / store.PID_FILE).is_file():
                writer = json.loads((p / store.PID_FILE).read_text())["pid"]
                break
        assert writer in worker_pids  # the task runs on a Dask worker
        os.kill(writer, signal.SIGKILL)
        thread.join(timeout=900)
        assert not thread.is_alive()
    result = outcome["result"]
    assert result.failed == {}
    df = result.table
    assert df["run"].is_unique and (df["status"] == "complete").all()
    assert _listing(sweep.path) == list(df["run"])
    assert len(list((sweep.path / "summaries").iterdir())) == len(df)
    _assert_same_sweep(sweep.path, slow_reference)


def _start_tiny_sweep(tmp_path: Path, out: Path, *extra: str, **popen) -> subprocess.Popen:
    """``repdrift sweep`` of :data:`TINY` on two workers, started as a terminal starts it
    (Ctrl-C's default handler; a child of a non-interactive shell has SIGINT ignored)."""
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY)
    start = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from repdrift.cli import main; main(sys.argv[1:])"
    )
    args = ["sweep", str(spec_file), "--out", str(out), "--workers", "2", "--quiet", *extra]
    return subprocess.Popen(
        [sys.executable, "-c", start, *args], stderr=subprocess.PIPE, text=True, **popen
    )


def _importing(pid: int) -> list[int]:
    """The child processes of ``pid`` whose Python catches SIGINT: started, and (in a
    sweep's first seconds) still importing."""
    found = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        try:
            fields = dict(
                line.split(":\t", 1)
                for line in Path(f"/proc/{child}/status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue
        if int(fields.get("SigCgt", "0"), 16) & (1 << (signal.SIGINT - 1)):
            found.append(int(child))
    return found


@pytest.mark.slow  # (starts two workers, then resumes the sweep: most of a minute)
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_ctrl_c_while_the_workers_start_says_one_line(tmp_path):
    # A terminal's Ctrl-C reaches the whole process group: workers still importing (the
    # first seconds) each printed a traceback before the command's one line.
    out = tmp_path / "s"
    proc = _start_tiny_sweep(tmp_path, out, start_new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if len(_importing(proc.pid)) >= 2:  # both workers' Python has started
            break
        time.sleep(0.01)
    assert not (out / "runs").is_dir() or not any((out / "runs").iterdir())  # none began
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip() == (
        f"repdrift: interrupted; `repdrift sweep resume {out}` continues the sweep"
    ), err
    assert _cli(["sweep", "resume", str(out), "--workers", "1", "--quiet"]) == 0
    df = pd.read_parquet(out / "runs.parquet")
    assert list(df["status"]) == ["complete"] * 4


def test_ctrl_c_to_the_sweep_process_alone_stops_its_workers_and_keeps_their_runs(tmp_path):
    # kill -INT to the sweep process only (a terminal's Ctrl-C reaches the workers too):
    # it forwards the signal, each worker stores its batch as partial and ends, and the
    # command leaves at once instead of after the batches (10^7 steps: hours) finish.
    out = tmp_path / "s"
    long = ["--set", "run.steps=10000000", "--set", "run.checkpoint_every_s=0.5"]
    proc = _start_tiny_sweep(tmp_path, out, *long)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        steps = (
            [
                store.read_status(p).steps_done
                for p in (out / "runs").glob("r*")
                if (p / store.STATUS_FILE).is_file()
            ]
            if (out / "runs").is_dir()
            else []
        )
        if len(steps) == 4 and min(steps) > 0:
            break  # both batches have trained and stored progress
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()  # its workers die with it
    assert proc.returncode == 130, err
    assert f"`repdrift sweep resume {out}` continues the sweep" in err
    statuses = [store.read_status(p) for p in sorted((out / "runs").glob("r*"))]
    assert [s.status for s in statuses] == ["partial"] * 4
    assert all(0 < s.steps_done < s.steps_total for s in statuses)
    df = pd.read_parquet(out / "runs.parquet")  # rewritten at the stop
    assert list(df["status"]) == ["partial"] * 4
