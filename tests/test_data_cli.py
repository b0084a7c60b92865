"""``repdrift data analyze`` (repdrift.data.cli) through typer's CliRunner."""

from __future__ import annotations

import io
import json
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli_helpers import deny_writing
from plain_sessions import write_plain
from repdrift.data.cli import MANIFEST, app
from test_data_fixtures import require_data, write_track


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mm") / "C1_M1" / "Environment A"
    write_track(folder, n_sessions=3, frames_per_trial=400)
    return folder


def run(*args: str):
    return CliRunner().invoke(app, ["analyze", *map(str, args)])


def _one_error_line(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    # not stripped: an empty line before the error (rich's, when a progress bar stops
    # where stderr is not a terminal) is a second line
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("repdrift: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_analyze_writes_tables_regressions_and_figure(track, tmp_path):
    out = tmp_path / "results"
    result = run(track, "--out", out, "--json", "--shuffles", 40, "--seed", 3)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["layout"] == "multiple_maps" and summary["n_sessions"] == 3
    assert summary["config"]["n_shuffles"] == 40 and summary["config"]["seed"] == 3
    assert set(summary["trends"]) >= {"fraction_place", "mean_si_naive", "mean_si_ssr"}
    assert summary["trends"]["fraction_place"]["pooled"]["n"] == 3
    assert summary["drift"]["pooled"]["n"] == 3  # three pairs of sessions
    for name in (
        "sessions.parquet",
        "sessions.csv",
        "cells.parquet",
        "drift.csv",
        "regression.json",
        "fig3.png",
    ):
        assert (out / name).stat().st_size > 0
    sessions = pd.read_parquet(out / "sessions.parquet")
    assert sessions.day.tolist() == [3.0, 4.0, 5.0]
    assert sessions.fraction_place_norm.iloc[0] == 1.0
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "sessions.csv").drop(columns="notes"),
        sessions.drop(columns="notes"),
        check_dtype=False,
        check_exact=False,
    )
    assert json.loads((out / "regression.json").read_text())["trends"] == summary["trends"]
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == 3 * 12 * 2 and set(cells.direction) == {1, -1}
    # Same seed, same numbers; human-readable output without --json.
    again = run(track, "--out", tmp_path / "again", "--shuffles", 40, "--seed", 3)
    assert again.exit_code == 0 and "fraction_place" in again.stdout
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "again" / "sessions.parquet"), sessions
    )


def test_input_errors_exit_2_with_one_line_and_no_results(track, tmp_path):
    out = tmp_path / "out"
    _one_error_line(run(tmp_path / "nowhere", "--out", out), "nowhere", "no such file")
    os.mkfifo(tmp_path / "pipe.npz")  # a session file's name; reading it would block
    _one_error_line(run(tmp_path / "pipe.npz", "--out", out), "pipe.npz", "nor a folder")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("x")
    _one_error_line(run(tmp_path / "junk", "--out", out), "junk", "not a recognised layout")
    _one_error_line(run(track, "--out", out, "--shuffles", 0), "--shuffles")
    _one_error_line(run(track, "--out", out, "--shuffles", 10**30), "--shuffles", "100,000")
    assert not out.exists()
    # A corrupt file found midway: the error names it, nothing is left behind.
    broken = tmp_path / "broken" / "C1_M1" / "Environment A"
    write_track(broken, n_sessions=2, frames_per_trial=300)
    (broken / "finalEventsMat_2.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 300)
    _one_error_line(run(broken, "--out", out, "--shuffles", 20), "finalEventsMat_2.mat", "corrupt")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_out_must_be_empty_unless_overwrite(track, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    _one_error_line(run(track, "--out", out, "--shuffles", 20), "out", "not empty")
    assert (out / "old.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    _one_error_line(run(track, "--out", tmp_path / "file"), "file", "is not a directory")
    _one_error_line(run(track, "--out", tmp_path / "file" / "r"), "file is a file, not a directory")
    assert (tmp_path / "file").read_text() == "x"


def test_a_corrupt_file_found_midway_is_the_only_line_on_stderr(tmp_path):
    # found after the first session, while the progress bar runs
    broken = tmp_path / "broken" / "C1_M1" / "Environment A"
    write_track(broken, n_sessions=2, frames_per_trial=300)
    (broken / "finalEventsMat_2.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 300)
    result = run(broken, "--out", tmp_path / "out", "--shuffles", 20)
    assert result.exit_code == 2
    assert result.stderr.startswith("repdrift: error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_out_that_may_not_be_written_is_refused_and_left_as_it_is(track, tmp_path, monkeypatch):
    # Replacing a folder needs only its parent writable: a read-only result would be
    # renamed aside and replaced. The tests may run as root, whom permissions do not stop:
    # the refusal is tested through what the operating system answers.
    out = tmp_path / "results"
    assert run(track, "--out", out, "--shuffles", 20, "--seed", 1).exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    inode = out.stat().st_ino
    deny_writing(monkeypatch, "results", "empty")
    for folder, *extra in [(out, "--overwrite"), (empty,)]:
        result = run(track, "--out", folder, "--shuffles", 20, "--seed", 2, *extra)
        _one_error_line(result, f"--out {folder}: no permission to write in it")
    assert out.stat().st_ino == inode
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert json.loads((out / "regression.json").read_text())["config"]["seed"] == 1
    assert list(empty.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "results"]


def test_overwrite_never_deletes_a_folder_it_did_not_write(track, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("years of work")
    (thesis / "figures").mkdir()
    _one_error_line(
        run(track, "--out", thesis, "--shuffles", 20, "--overwrite"),
        "thesis",
        "not an earlier result",
    )
    assert (thesis / "chapter1.tex").read_text() == "years of work"
    assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex", "figures"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # nothing left aside


def test_overwrite_replaces_an_earlier_result_but_not_files_added_to_it(track, tmp_path):
    out = tmp_path / "results"
    first = run(track, "--out", out, "--shuffles", 20, "--seed", 1)
    assert first.exit_code == 0, first.output
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir() if p.name != MANIFEST)
    assert json.loads((out / "regression.json").read_text())["config"]["seed"] == 1

    again = run(track, "--out", out, "--shuffles", 20, "--seed", 2, "--overwrite")
    assert again.exit_code == 0, again.output
    assert json.loads((out / "regression.json").read_text())["config"]["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # the old one is gone

    (out / "my-notes.txt").write_text("mine")
    refused = run(track, "--out", out, "--shuffles", 20, "--seed", 3, "--overwrite")
    _one_error_line(refused, "results", "did not write (my-notes.txt)")
    assert (out / "my-notes.txt").read_text() == "mine"
    assert json.loads((out / "regression.json").read_text())["config"]["seed"] == 2


def test_too_few_shuffles_for_any_place_cell_are_named_in_a_note(track, tmp_path):
    # p = (1 + exceeding) / (1 + shuffles) > 0.05 for every cell with 19 shuffles or fewer
    for shuffles, noted in ((19, True), (20, False)):
        result = run(track, "--out", tmp_path / str(shuffles), "--shuffles", shuffles)
        assert result.exit_code == 0, result.output
        line = "note: --shuffles 19: the smallest p-value of the place-cell test is 1/20 = 0.05"
        assert (line in result.stderr) == noted, result.stderr
        places = pd.read_csv(tmp_path / str(shuffles) / "sessions.csv")["n_place"]
        assert (places.sum() == 0) if noted else (places.sum() > 0), places.tolist()


def test_seed_outside_0_to_2_64_is_an_input_error(track, tmp_path):
    for seed in ("-1", str(2**64)):
        _one_error_line(run(track, "--out", tmp_path / "r", "--seed", seed), "--seed", seed)
    assert not (tmp_path / "r").exists()


@pytest.mark.data
@pytest.mark.slow
def test_analyze_one_real_track(tmp_path):
    folder = require_data("multiple_maps", "C7_M4", "Environment A")
    result = run(folder, "--out", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_sessions"] == 8
    assert any("trial 6 has no behaviour" in note for note in summary["notes"])


def test_notes_wait_for_success_so_a_later_error_is_the_one_line(tmp_path):
    folder = tmp_path / "C1_M1" / "Environment A"
    write_track(folder, n_sessions=3, frames_per_trial=400)
    # session 1's frame log gives trial 4 fewer imaging frames than its behaviour: a note
    log = folder / "frameLog_1.csv"
    lines = log.read_text().splitlines()
    fields = lines[4].split(",")
    fields[3] = str(int(fields[3]) - 50)
    lines[4] = ",".join(fields)
    log.write_text("\n".join(lines) + "\n")
    ok = run(folder, "--out", tmp_path / "ok", "--shuffles", 20)
    assert ok.exit_code == 0, ok.output
    notes = [line for line in ok.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "session 1: trial 4 has 400 behaviour frames" in notes[0]
    # the same track with session 3 unreadable: the error alone, nothing written
    (folder / "finalEventsMat_3.mat").write_bytes(b"garbage")
    bad = run(folder, "--out", tmp_path / "bad", "--shuffles", 20)
    _one_error_line(bad, "finalEventsMat_3.mat", "not a MATLAB MAT-file")
    assert not (tmp_path / "bad").exists()


def test_a_simulation_run_is_named_as_such(tmp_path):
    # a run directory holds a dataset.npz, which the plain loader would take for a session
    from repdrift import store

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / store.CONFIG_FILE).write_text("")
    (run_dir / "dataset.npz").write_bytes(b"")
    result = run(run_dir, "--out", tmp_path / "r")
    _one_error_line(result, "a repdrift simulation run, not a recording", "repdrift inspect")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("name", "changes", "fragments"),
    [
        ("pos_str.npz", {"position": ["a"] * 400}, ["'position' must hold numbers"]),
        ("time_str.npz", {"time_s": ["a"] * 400}, ["'time_s' must hold numbers"]),
        ("prange1.npz", {"position_range": [1.0]}, ["'position_range' must be two numbers"]),
        ("sess_big.npz", {"session": 1e300}, ["'session' must be a whole number"]),
        ("dir5.npz", {"direction": [5] * 400}, ["'direction' must hold +1, -1 or 0"]),
        ("animals.npz", {"animal": ["M1", "M2"]}, ["'animal' must be one string"]),
        ("cellstr.parquet", {"cell_4": ["x"] * 400}, ["'cell_4' must hold numbers"]),
        ("metalist.parquet", {"metadata": "[1, 2]"}, ["'repdrift' metadata", "JSON object"]),
    ],
)
def test_plain_files_with_bad_fields_exit_2_naming_file_and_field(
    tmp_path, name, changes, fragments
):
    changes = dict(changes)
    metadata = changes.pop("metadata", None)
    write_plain(tmp_path / name, changes, metadata)
    result = run(tmp_path / name, "--out", tmp_path / "out", "--shuffles", 5)
    _one_error_line(result, name, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written


def test_paths_that_are_not_utf8_are_read_and_written(tmp_path):
    # Python keeps a byte that is not UTF-8 as a lone surrogate, which pyarrow cannot
    # open: the Parquet files are read and written through Python's own files
    byte = b"\xff".decode("utf-8", "surrogateescape")
    source = tmp_path / f"in{byte}.parquet"
    write_plain(source)
    out = tmp_path / f"out{byte}"
    result = run(source, "--out", out, "--shuffles", 5, "--json")
    assert result.exit_code == 0, result.output
    sessions = pd.read_parquet(io.BytesIO((out / "sessions.parquet").read_bytes()))
    assert sessions["animal"].tolist() == ["in\ufffd"]
    assert (out / "cells.parquet").stat().st_size > 0 and (out / "fig3.png").is_file()
    assert json.loads((out / MANIFEST).read_text())["files"]
