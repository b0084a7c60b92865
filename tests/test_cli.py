"""The `repdrift` command: runs, inspect, resume after kill -9, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import repdrift
from repdrift import store
from repdrift.cli import main

# A corridor run small enough to take seconds: 40 units, 3,000 steps.
SMALL = [
    "--preset",
    "corridor",
    "--set",
    "network.hidden=40",
    "--set",
    "run.steps=3000",
    "--set",
    "record.per_decade=20",
    "--set",
    "record.snapshots=6",
    "--set",
    "record.bins=10",
]


def repdrift_cmd(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "repdrift", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "small"
    result = repdrift_cmd("simulate", *SMALL, "--out", str(out), "--quiet", "--no-figures")
    assert result.returncode == 0, result.stderr
    return out


def test_simulate_writes_a_complete_reopenable_store(small_run):
    run = repdrift.open_run(small_run)
    assert run.status.status == "complete"
    assert run.status.steps_done == run.status.steps_total == 3000
    assert run.metrics["step"].values[0] == 0 and run.metrics["step"].values[-1] == 3000
    for name in ("loss", "active_fraction", "active_units_fraction"):
        values = run.metrics[name].values
        assert np.all(np.isfinite(values)) and values.shape == run.metrics["step"].shape
    assert run.metrics["loss"].values[-1] < 0.2 * run.metrics["loss"].values[0]
    snaps = run.snapshots
    assert snaps["rate_map"].dims == ("step", "unit", "bin")
    assert snaps.sizes["bin"] == 20 and snaps.sizes["unit"] == 40
    assert snaps["step"].values[0] == 0 and snaps["step"].values[-1] == 3000
    assert np.all(np.isfinite(snaps["mean_si"].values))
    # The stored config is the validated one, and reloads to the same model.
    assert repdrift.load_config(small_run / "config.toml") == run.config
    assert run.config.network.hidden == 40


def test_inspect_json_has_status_steps_config_and_initial_final_metrics(small_run):
    result = repdrift_cmd("inspect", str(small_run), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["status"] == "complete"
    assert info["steps_done"] == info["steps_total"] == 3000
    assert info["config"]["network"]["hidden"] == 40
    run = repdrift.open_run(small_run)
    for name in ("loss", "active_fraction", "active_units_fraction", "mean_si"):
        assert info["initial"][name] == pytest.approx(
            float((run.metrics if name in run.metrics else run.snapshots)[name].values[0])
        )
        assert info["final"][name] == pytest.approx(
            float((run.metrics if name in run.metrics else run.snapshots)[name].values[-1])
        )
    table = repdrift_cmd("inspect", str(small_run))
    assert table.returncode == 0 and "active_units_fraction" in table.stdout


def _arrays(path: Path) -> dict[str, np.ndarray]:
    run = repdrift.open_run(path)
    out = {f"metrics.{k}": v.values for k, v in run.metrics.variables.items()}
    out.update({f"snapshots.{k}": v.values for k, v in run.snapshots.variables.items()})
    return out


# Long enough (tens of thousands of steps) for kills to land mid-run on a fast machine.
KILLED = [
    "--preset", "corridor",
    "--set", "network.hidden=40",
    "--set", "run.steps=60000",
    "--set", "record.per_decade=20",
    "--set", "record.snapshots=6",
    "--set", "record.bins=10",
    "--set", "run.checkpoint_every_s=0.2",
]  # fmt: skip


def test_resume_after_repeated_kill_9_gives_exactly_the_uninterrupted_records(tmp_path):
    reference = tmp_path / "uninterrupted"
    result = repdrift_cmd("simulate", *KILLED, "--out", str(reference), "--quiet", "--no-figures")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "killed"
    rng = np.random.default_rng(5)
    args = ["simulate", *KILLED, "--out", str(out), "--quiet", "--no-figures"]
    kills = 0
    for attempt in range(4):  # kill three times, then let a resume finish
        cmd = args if attempt == 0 else ["resume", str(out), "--quiet", "--no-figures"]
        done_before = store.read_status(out).steps_done if attempt else -1
        proc = subprocess.Popen(
            [sys.executable, "-m", "repdrift", *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Wait until this process has stored progress, then kill it at a random moment.
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if (out / "status.json").exists():
                now = store.read_status(out)
                if now.generation is not None and now.steps_done > done_before:
                    break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is None and attempt < 3:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            status = store.read_status(out)
            if status.status == "complete":  # it finished just before the signal
                break
            kills += 1
            assert status.status == "partial"
            assert status.steps_done < status.steps_total
            repdrift.open_run(out)  # whatever was stored is readable
        else:
            assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
            break
    assert kills >= 2, "the run finished before it could be killed twice"
    final = repdrift_cmd("resume", str(out), "--quiet", "--no-figures")
    assert final.returncode == 0, final.stderr
    assert store.read_status(out).status == "complete"
    got, want = _arrays(out), _arrays(reference)
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_python_api_stop_and_resume_equals_one_go(tmp_path):
    cfg = repdrift.load_config(preset="random", overrides=["run.steps=2000", "record.snapshots=4"])
    whole = repdrift.simulate(cfg, tmp_path / "whole")
    from repdrift import simulation

    part = simulation.simulate(cfg, tmp_path / "part", stop_after=700)
    assert part.status.status == "partial" and part.status.steps_done == 700
    resumed = repdrift.resume(tmp_path / "part")
    assert resumed.status.status == "complete"
    xr.testing.assert_identical(whole.metrics, resumed.metrics)
    xr.testing.assert_identical(whole.snapshots, resumed.snapshots)


def test_noise_free_control_is_flat_and_status_names(tmp_path):
    cfg = repdrift.load_config(
        preset="random",
        overrides=["run.steps=3000", "learner.update_noise=0", "record.snapshots=3"],
    )
    run = repdrift.simulate(cfg, tmp_path / "control")
    units = run.metrics["active_units_fraction"].values
    plateau = np.searchsorted(run.metrics["step"].values, 300)
    assert abs(units[-1] - units[plateau]) <= 0.01


def test_a_diverging_run_is_stored_as_diverged(tmp_path):
    cfg = repdrift.load_config(
        preset="random",
        overrides=[
            "run.steps=500",
            "learner.lr=40",
            "learner.update_noise=0",
            "record.snapshots=3",
        ],
    )
    run = repdrift.simulate(cfg, tmp_path / "diverged")
    assert run.status.status == "diverged"
    assert "diverged at step" in run.status.message
    info = json.loads(repdrift_cmd("inspect", str(tmp_path / "diverged"), "--json").stdout)
    assert info["status"] == "diverged"


# ------------------------------------------------------------------- bad input, exit 2


def _make_corrupt_store(tmp_path: Path, small_run: Path) -> Path:
    import shutil

    bad = tmp_path / "corrupt"
    shutil.copytree(small_run, bad)
    status = store.read_status(bad)
    gen = store.generation_path(bad, status.generation)
    shutil.rmtree(gen / "metrics.zarr")
    (gen / "metrics.zarr").write_text("garbage")
    return bad


def _make_killed_before_checkpoint(tmp_path: Path) -> Path:
    killed = tmp_path / "killed-early"
    killed.mkdir()
    (killed / "config.toml").write_text(repdrift.load_config(preset="random").to_toml())
    store.write_status(killed, store.Status("running", 0, 100, None, 0.0))
    return killed


BAD_INPUTS = [
    # (name, args (OUT = a fresh path), expected words in the message)
    ("no preset or config", ["simulate", "--out", "OUT"], "--preset"),
    ("unknown preset", ["simulate", "--preset", "fig9", "--out", "OUT"], "unknown preset"),
    ("missing config file", ["simulate", "--config", "NOFILE", "--out", "OUT"], "does not exist"),
    ("config not TOML", ["simulate", "--config", "BADTOML", "--out", "OUT"], "not valid TOML"),
    ("config wrong type", ["simulate", "--config", "WRONGTYPE", "--out", "OUT"], "learner.lr"),
    (
        "negative lr",
        ["simulate", "--preset", "random", "--set", "learner.lr=-0.1", "--out", "OUT"],
        "learner.lr",
    ),
    (
        "lr not a number",
        ["simulate", "--preset", "random", "--set", "learner.lr=fast", "--out", "OUT"],
        "learner.lr",
    ),
    (
        "negative noise",
        ["simulate", "--preset", "random", "--set", "learner.update_noise=-1", "--out", "OUT"],
        "learner.update_noise",
    ),
    (
        "unknown learner",
        ["simulate", "--preset", "random", "--set", "learner.kind=sgdm", "--out", "OUT"],
        "learner.kind",
    ),
    (
        "unknown task",
        ["simulate", "--preset", "random", "--set", "task.kind=maze", "--out", "OUT"],
        "unknown task kind",
    ),
    (
        "unknown --set field",
        ["simulate", "--preset", "random", "--set", "learner.momentum=1", "--out", "OUT"],
        "learner.momentum",
    ),
    (
        "unknown --set section",
        ["simulate", "--preset", "random", "--set", "optim.lr=1", "--out", "OUT"],
        "unknown section",
    ),
    (
        "--set without =",
        ["simulate", "--preset", "random", "--set", "learner.lr", "--out", "OUT"],
        "section.field=value",
    ),
    (
        "zero hidden units",
        ["simulate", "--preset", "random", "--set", "network.hidden=0", "--out", "OUT"],
        "network.hidden",
    ),
    (
        "fractional steps",
        ["simulate", "--preset", "random", "--set", "run.steps=10.5", "--out", "OUT"],
        "run.steps",
    ),
    (
        "bad dtype",
        ["simulate", "--preset", "random", "--set", "run.dtype=float16", "--out", "OUT"],
        "run.dtype",
    ),
    (
        "bad activation",
        ["simulate", "--preset", "random", "--set", "network.activation=gelu", "--out", "OUT"],
        "network.activation",
    ),
    (
        "bad readout",
        ["simulate", "--preset", "random", "--set", "network.readout=huge", "--out", "OUT"],
        "network.readout",
    ),
    (
        "impossible task",
        ["simulate", "--preset", "corridor", "--set", "task.turn_buffer=8", "--out", "OUT"],
        "task",
    ),
    (
        "--steps not int",
        ["simulate", "--preset", "random", "--steps", "many", "--out", "OUT"],
        "--steps",
    ),
    ("--out not empty", ["simulate", "--preset", "random", "--out", "NONEMPTY"], "not empty"),
    (
        "--overwrite a non-run",
        ["simulate", "--preset", "random", "--out", "NONEMPTY", "--overwrite"],
        "not a repdrift run",
    ),
    ("inspect a non-run", ["inspect", "NONEMPTY"], "not a repdrift run"),
    ("inspect a missing dir", ["inspect", "NOFILE"], "does not exist"),
    ("inspect a corrupt store", ["inspect", "CORRUPT"], "corrupt"),
    ("inspect a killed run", ["inspect", "KILLED"], "first checkpoint"),
    ("resume a non-run", ["resume", "NONEMPTY"], "not a repdrift run"),
    ("resume a corrupt store", ["resume", "CORRUPT"], "corrupt"),
    ("unknown command", ["simulat", "--out", "OUT"], "No such command"),
    (
        "unknown option",
        ["simulate", "--preset", "random", "--out", "OUT", "--fast"],
        "No such option",
    ),
]


@pytest.mark.parametrize(("name", "args", "words"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_and_touches_nothing(
    name, args, words, tmp_path, small_run, capsys
):
    nonempty = tmp_path / "precious"
    nonempty.mkdir()
    (nonempty / "notes.txt").write_text("keep me")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[learner\nlr = 0.1")
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('[learner]\nlr = "fast"\n')
    corrupt = _make_corrupt_store(tmp_path, small_run) if "CORRUPT" in args else None
    killed = _make_killed_before_checkpoint(tmp_path) if "KILLED" in args else None
    subs = {
        "OUT": str(tmp_path / "out"),
        "NOFILE": str(tmp_path / "missing.toml"),
        "BADTOML": str(bad_toml),
        "WRONGTYPE": str(wrong_type),
        "NONEMPTY": str(nonempty),
        "CORRUPT": str(corrupt),
        "KILLED": str(killed),
    }
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}

    # In-process through the same entry point as the installed command (a subprocess per
    # case would spend most of the test importing JAX); one case below runs the real
    # executable.
    with pytest.raises(SystemExit) as exit_info:
        main([subs.get(a, a) for a in args])
    captured = capsys.readouterr()

    assert exit_info.value.code == 2, (captured.out, captured.err)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert words.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert (nonempty / "notes.txt").read_text() == "keep me"
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p in before}
    assert after == {p: t for p, t in before.items() if p in after}


def test_the_installed_command_exits_2_with_one_line(tmp_path):
    result = repdrift_cmd(
        "simulate", "--preset", "random", "--set", "learner.lr=-1", "--out", str(tmp_path / "out")
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "repdrift: error: config: learner.lr: Input should be greater than 0 (got -1)"
    ]
    assert not (tmp_path / "out").exists()


def test_use_cores_restricts_the_process_and_rejects_zero():
    from repdrift.cores import use_cores

    available = len(os.sched_getaffinity(0))
    assert use_cores(None) is None
    assert use_cores(1) == 1 and len(os.sched_getaffinity(0)) == 1
    with pytest.raises(ValueError, match="at least 1"):
        use_cores(0)
    assert available >= 1
