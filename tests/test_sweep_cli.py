"""`repdrift sweep`: exit status 2 and one line for bad input, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings

import pytest

from cli_helpers import assert_one_error_line, run_cli
from repdrift import store, sweep
from repdrift.sweep import directory, spec

TINY_SPEC = """
[base.task]
kind = "random"
samples = 5
d_in = 6
d_out = 4
[base.run]
steps = 50
[grid]
"learner.lr" = [0.1, 0.2]
"""


def test_unknown_preset(tmp_path, capsys):
    code, _, err = run_cli(["sweep", "--preset", "nope", "--out", str(tmp_path / "s")], capsys)
    assert code == 2
    assert_one_error_line(err, "unknown sweep preset 'nope'", "sweep-smoke")
    assert not (tmp_path / "s").exists()


def test_bad_spec_names_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_SPEC.replace('"learner.lr"', '"learner.rate"'))
    code, _, err = run_cli(["sweep", str(bad), "--out", str(tmp_path / "s")], capsys)
    assert code == 2
    assert_one_error_line(err, "learner.rate", "unknown field")
    assert not (tmp_path / "s").exists()


def test_missing_and_malformed_spec_files(tmp_path, capsys):
    code, _, err = run_cli(
        ["sweep", str(tmp_path / "no.toml"), "--out", str(tmp_path / "s")], capsys
    )
    assert code == 2
    assert_one_error_line(err, "does not exist")
    broken = tmp_path / "broken.toml"
    broken.write_text("[grid\n")
    code, _, err = run_cli(["sweep", str(broken), "--out", str(tmp_path / "s")], capsys)
    assert code == 2
    assert_one_error_line(err, "not valid TOML")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--out", "OUT"], "give a sweep spec file or --preset"),
        (["SPEC", "--preset", "sweep-smoke", "--out", "OUT"], "one of them"),
        (["SPEC"], "--out"),
    ],
)
def test_spec_and_preset_and_out_are_checked(tmp_path, capsys, args, needle):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY_SPEC)
    argv = [
        str(spec_file) if a == "SPEC" else str(tmp_path / "s") if a == "OUT" else a for a in args
    ]
    code, _, err = run_cli(["sweep", *argv], capsys)
    assert code == 2
    assert_one_error_line(err, needle)


def test_out_holding_something_else_is_refused_and_left_alone(tmp_path, capsys):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY_SPEC)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    code, _, err = run_cli(["sweep", str(spec_file), "--out", str(busy)], capsys)
    assert code == 2
    assert_one_error_line(err, "is not a repdrift sweep")
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, _, err = run_cli(["sweep", str(spec_file), "--out", str(a_file)], capsys)
    assert code == 2
    assert_one_error_line(err, "is not a directory")


def _created_sweep(tmp_path):
    """The tiny spec's sweep directory, created (nothing run): ``(its path, its runs)``."""
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY_SPEC)
    s, text = spec.load_spec(spec_file)
    out = tmp_path / "sweep"
    runs = spec.expand(s)
    directory.create(out, name="tiny", spec_text=text, runs=runs, batches=[[r.run for r in runs]])
    return out, runs


def test_out_holding_another_sweep_is_refused_and_left_alone(tmp_path, capsys):
    out, _ = _created_sweep(tmp_path)
    before = (out / directory.SWEEP_FILE).read_bytes()
    other = tmp_path / "other.toml"
    other.write_text(TINY_SPEC.replace("[0.1, 0.2]", "[0.3]"))
    code, _, err = run_cli(["sweep", str(other), "--out", str(out)], capsys)
    assert code == 2
    assert_one_error_line(err, "holds another sweep", "repdrift sweep resume")
    assert (out / directory.SWEEP_FILE).read_bytes() == before


def test_a_sweep_stored_before_a_field_was_added_continues_from_its_spec(tmp_path, capsys):
    # A sweep created by an earlier version stored configs without fields added since
    # (`record.hessian_at` here), so its stored digest differs from the spec's expansion
    # today; read with the new field at its default, it is the same plan, and
    # `repdrift sweep SPEC --out DIR` continues it instead of calling it another sweep.
    out, runs = _created_sweep(tmp_path)
    record = json.loads((out / directory.SWEEP_FILE).read_text())
    for run in record["runs"]:
        del run["config"]["record"]["hessian_at"]
    record["digest"] = spec.stored_digest(record["runs"])
    assert record["digest"] != spec.plan_digest(runs)
    (out / directory.SWEEP_FILE).write_text(json.dumps(record))
    before = (out / directory.SWEEP_FILE).read_bytes()
    # what `repdrift sweep SPEC --out DIR` opens before it runs the sweep
    opened = sweep.create(tmp_path / "tiny.toml", out=out)
    assert opened.digest == record["digest"]
    assert [r.config for r in opened.runs] == [r.config for r in runs]
    assert (out / directory.SWEEP_FILE).read_bytes() == before


@pytest.mark.parametrize("command", ["resume", "inspect"])
def test_resume_and_inspect_need_a_sweep_directory(tmp_path, capsys, command):
    code, _, err = run_cli(["sweep", command, str(tmp_path / "missing")], capsys)
    assert code == 2
    assert_one_error_line(err, "does not exist")
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = run_cli(["sweep", command, str(plain)], capsys)
    assert code == 2
    assert_one_error_line(err, "is not a repdrift sweep")


def test_a_run_given_as_a_sweep_is_named_as_such(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / store.CONFIG_FILE).write_text("")
    for argv in (["inspect", run_dir], ["compare", run_dir, run_dir], ["resume", run_dir]):
        code, _, err = run_cli(["sweep", *argv], capsys)
        assert code == 2
        assert_one_error_line(err, "is not a repdrift sweep", "it is a run: `repdrift inspect`")


def test_corrupt_sweep_record_is_reported(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    (out / directory.SWEEP_FILE).write_text("{not json")
    code, _, err = run_cli(["sweep", "inspect", str(out)], capsys)
    assert code == 2
    assert_one_error_line(err, "is corrupt")


def test_bad_worker_count_is_a_usage_error(tmp_path, capsys):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY_SPEC)
    code, _, err = run_cli(
        ["sweep", str(spec_file), "--out", str(tmp_path / "s"), "--workers", "0"], capsys
    )
    assert code == 2
    assert_one_error_line(err, "--workers")
    code, _, err = run_cli(
        ["sweep", str(spec_file), "--out", str(tmp_path / "s"), "--snapshot-threads", "0"],
        capsys,
    )
    assert code == 2
    assert_one_error_line(err, "--snapshot-threads")
    # As strict as the configuration: a number with a fraction part is no count.
    for flag in ("--workers", "--batch-size"):
        code, _, err = run_cli(
            ["sweep", str(spec_file), "--out", str(tmp_path / "s"), flag, "2.0"], capsys
        )
        assert code == 2
        assert_one_error_line(err, f"Invalid value for '{flag}': '2.0' is not a valid integer")
    assert not (tmp_path / "s").exists()


def test_a_sweep_being_run_by_another_process_is_refused_naming_it(tmp_path, capsys):
    out, _ = _created_sweep(tmp_path)
    parent = os.getppid()  # alive, on this host
    (out / store.PID_FILE).write_text(json.dumps({"pid": parent, "host": socket.gethostname()}))
    code, _, err = run_cli(["sweep", "resume", str(out), "--quiet"], capsys)
    assert code == 2
    assert_one_error_line(err, f"sweep {out} is being run by process {parent}")
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())


def test_inspect_of_a_created_sweep_lists_its_pending_runs(tmp_path, capsys):
    out, _ = _created_sweep(tmp_path)
    code, stdout, _ = run_cli(["sweep", "inspect", str(out), "--json"], capsys)
    assert code == 0
    info = json.loads(stdout)
    assert info["runs"] == 2 and info["status"] == {"pending": 2}
    assert [(g["rule"], g["noise"], g["runs"]) for g in info["groups"]] == [("gd", "none", 2)]
    assert info["computed_on"] == []  # nothing computed yet
    code, stdout, _ = run_cli(["sweep", "inspect", str(out)], capsys)
    assert code == 0 and "2 pending" in stdout and "computed on" not in stdout


def test_presets_lists_every_sweep_preset(capsys):
    code, stdout, _ = run_cli(["sweep", "presets"], capsys)
    assert code == 0
    lines = stdout.splitlines()  # one line each, in order
    assert [line.split()[0] for line in lines] == spec.preset_names()
    table2 = next(line for line in lines if line.startswith("table2 "))
    assert "1,151 runs" in table2 and "(Table 2, Figs. 4" in table2  # not cut at "Figs."
    assert all("…" not in line for line in lines)  # whole into a pipe, not cut to 80 columns


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def test_a_scheduler_that_cannot_be_reached_writes_nothing(tmp_path, capsys):
    pytest.importorskip("distributed")
    import dask

    scheduler_before = dask.config.get("scheduler", None)
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY_SPEC)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    out = tmp_path / "s"
    code, _, err = run_cli(["sweep", str(spec_file), "--out", out, "--scheduler", address], capsys)
    assert code == 2
    assert_one_error_line(err, address, "no scheduler answered within 5 s")
    assert not out.exists()
    code, _, err = run_cli(["sweep", str(spec_file), "--out", out, "--scheduler", "host"], capsys)
    assert code == 2
    assert_one_error_line(err, "--scheduler host: not a scheduler address")
    assert not out.exists()
    # a client that failed to start leaves Dask's global scheduler as it was (it had set
    # "dask.distributed", and every later read of a run's Zarr records then failed)
    assert dask.config.get("scheduler", None) == scheduler_before
    # resume: the sweep is left as it was
    s, text = spec.load_spec(spec_file)
    runs = spec.expand(s)
    directory.create(out, name="tiny", spec_text=text, runs=runs, batches=[[r.run for r in runs]])
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    code, _, err = run_cli(["sweep", "resume", out, "--scheduler", address], capsys)
    assert code == 2
    assert_one_error_line(err, "no scheduler answered")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert dask.config.get("scheduler", None) == scheduler_before


def test_a_malformed_scheduler_address_gives_one_line_and_nothing_at_exit(tmp_path):
    # as a command, so that what a half-started client prints when the process ends counts
    pytest.importorskip("distributed")
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY_SPEC)
    out = tmp_path / "s"
    argv = ["sweep", str(spec_file), "--out", str(out), "--scheduler", "host"]
    result = subprocess.run(
        [sys.executable, "-m", "repdrift", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "--scheduler host: not a scheduler address")
    assert not out.exists()


def test_simulate_into_a_sweeps_runs_is_refused(tmp_path, capsys):
    # A sweep's runs are written by the sweep alone: a run of another configuration under
    # one of its run ids would be read as that run.
    out, runs = _created_sweep(tmp_path)
    member = out / directory.RUNS_DIR / runs[1].run
    member.mkdir()
    (member / "notes.txt").write_text("keep me")
    for target in (out / directory.RUNS_DIR / runs[0].run, member):
        code, _, err = run_cli(
            ["simulate", "--preset", "sweep-member", "--out", str(target), "--overwrite"], capsys
        )
        assert code == 2
        assert_one_error_line(err, "is in the runs of the sweep", "sweep resume")
    assert not (out / directory.RUNS_DIR / runs[0].run).exists()
    assert sorted(p.name for p in member.iterdir()) == ["notes.txt"]
    # a directory merely named "runs" outside any sweep is an ordinary --out
    assert directory.sweep_holding(tmp_path / "runs" / "r00000") is None
    assert directory.sweep_holding(member) == out.resolve()


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('[random]\nn = 2\n"learner.lr" = { uniform = [-1e308, 1e308] }', "'learner.lr': uniform"),
        (
            "[random]\nn = 2\n[random.noise]\nkind = 'update'\n"
            "update = { uniform = [-1.7e308, 1.7e308] }",
            "'learner.update_noise': uniform",
        ),
        ('[grid]\n"learner.lr" = { linspace = [-1e308, 1e308, 3] }', "'learner.lr': linspace"),
    ],
)
def test_a_range_too_wide_for_a_float_is_one_line_naming_the_field(tmp_path, capsys, table, needle):
    # It used to be NumPy's OverflowError as a traceback, or its RuntimeWarnings then
    # "nan is not a plain value".
    spec_file = tmp_path / "wide.toml"
    spec_file.write_text(TINY_SPEC.split("[grid]")[0] + table + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, _, err = run_cli(["sweep", str(spec_file), "--out", str(tmp_path / "s")], capsys)
    assert code == 2
    assert_one_error_line(err, needle, "too wide")
    assert not (tmp_path / "s").exists()


def _files(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r: r["runs"][1].update(run=5), "runs[1].run is 5, not a run id"),
        (lambda r: r["runs"][1].update(run="../x"), "runs[1].run is '../x', not a run id"),
        (lambda r: r["runs"][1].update(run="r00000"), "run id r00000 is listed twice"),
        (lambda r: r["runs"][0]["config"]["learner"].update(lr="x"), "runs[0] (r00000): config"),
        (lambda r: r.update(runs=[]), "runs is [], not a list of runs"),
        (lambda r: r.update(batches=[["r00000", "r99999"]]), "batches[0] names 'r99999'"),
        (lambda r: r.update(batches=[["r00000"]]), "batches leave out 1 of its runs (r00001)"),
        (lambda r: r.update(batches="abc"), "batches is 'abc', not lists of run ids"),
        (lambda r: r.update(batches=[["r00000", "r00001", "r00000"]]), "more than once"),
        (lambda r: r.update(name=5), "name is 5, not a text"),
        (lambda r: r.update(created="now"), "created is 'now', not a time"),
        (
            lambda r: r["runs"][1]["config"]["learner"].update(lr=0.5),
            "its runs do not match its digest",
        ),
        (lambda r: r.update(digest="0" * 64), "its runs do not match its digest"),
    ],
)
def test_a_sweep_record_of_wrong_types_or_ids_is_corrupt_and_nothing_is_written(
    tmp_path, capsys, change, needle
):
    # Each parses as JSON: inspect and resume used to end in a TypeError or KeyError
    # traceback, or resume ran part of the sweep and called it done.
    out, _ = _created_sweep(tmp_path)
    record = json.loads((out / directory.SWEEP_FILE).read_text())
    change(record)
    (out / directory.SWEEP_FILE).write_text(json.dumps(record))
    before = _files(out)
    for argv in (["inspect", out], ["resume", out, "--quiet"], ["compare", out, tmp_path]):
        code, _, err = run_cli(["sweep", *argv], capsys)
        assert code == 2, argv
        assert_one_error_line(err, f"sweep {out} is corrupt: sweep.json: ", needle)
        assert _files(out) == before
