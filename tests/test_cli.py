"""The `repdrift` command: runs, inspect, resume after kill -9, and bad input."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import repdrift
from cli_helpers import assert_one_error_line, deny_writing, run_cli
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
    for name in ("loss", "active_fraction", "fraction_active_units"):
        values = run.metrics[name].values
        assert np.all(np.isfinite(values)) and values.shape == run.metrics["step"].shape
    assert run.metrics["loss"].values[-1] < 0.2 * run.metrics["loss"].values[0]
    snaps = run.snapshots
    assert snaps["rate_map"].dims == ("step", "unit", "bin")
    assert snaps.sizes["bin"] == 20 and snaps.sizes["unit"] == 40
    assert snaps["step"].values[0] == 0 and snaps["step"].values[-1] == 3000
    assert np.all(np.isfinite(snaps["mean_si_active_units"].values))
    # The stored config is the validated one, and reloads to the same model.
    assert repdrift.load_config(small_run / "config.toml") == run.config
    assert run.config.network.hidden == 40


def test_a_run_is_readable_as_a_plain_write_would_leave_it(small_run):
    # Written through temporary names (tempfile makes them 0600 / 0700), a run's files and
    # folders still get the modes of a plain open() / mkdir() under this umask: a group
    # sharing results, or cluster workers of another user, can read them.
    umask = os.umask(0)
    os.umask(umask)
    paths = [small_run, *small_run.rglob("*")]
    assert any(p.is_file() for p in paths) and any(p.is_dir() for p in paths[1:])
    for path in paths:
        want = (0o777 if path.is_dir() else 0o666) & ~umask
        assert path.stat().st_mode & 0o777 == want, (path, oct(path.stat().st_mode))


def test_inspect_json_has_status_steps_config_and_initial_final_metrics(small_run, capsys):
    code, out, err = run_cli(["inspect", small_run, "--json"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["status"] == "complete"
    assert info["steps_done"] == info["steps_total"] == 3000
    assert info["config"]["network"]["hidden"] == 40
    run = repdrift.open_run(small_run)
    for name in ("loss", "active_fraction", "fraction_active_units", "mean_si_active_units"):
        assert info["initial"][name] == pytest.approx(
            float((run.metrics if name in run.metrics else run.snapshots)[name].values[0])
        )
        assert info["final"][name] == pytest.approx(
            float((run.metrics if name in run.metrics else run.snapshots)[name].values[-1])
        )
    # where the steps were computed: `simulate` runs on one CPU thread by default
    import jax

    assert info["computed_on"]["platform"] == "cpu"
    assert info["computed_on"]["cpu_threads"] == 1
    assert info["computed_on"]["jax"] == jax.__version__
    assert info["computed_earlier"] == []  # all in one place
    code, table, _ = run_cli(["inspect", small_run], capsys)
    assert code == 0 and "fraction_active_units" in table
    assert ", 1 CPU thread, JAX " in table


def _arrays(path: Path) -> dict[str, np.ndarray]:
    run = repdrift.open_run(path)
    out = {f"metrics.{k}": v.values for k, v in run.metrics.variables.items()}
    out.update({f"snapshots.{k}": v.values for k, v in run.snapshots.variables.items()})
    return out


# Long enough (tens of thousands of steps) for kills to land mid-run on a fast machine.
KILLED = [
    "--preset", "corridor",
    "--set", "network.hidden=40",
    "--set", "run.steps=30000",
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
    for attempt in range(3):  # kill twice, then let a resume finish
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
        if proc.poll() is None and attempt < 2:
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
    units = run.metrics["fraction_active_units"].values
    plateau = np.searchsorted(run.metrics["step"].values, 300)
    assert abs(units[-1] - units[plateau]) <= 0.01


def test_a_diverging_run_is_stored_as_diverged(tmp_path, capsys):
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
    code, out, _ = run_cli(["inspect", tmp_path / "diverged", "--json"], capsys)
    assert code == 0 and json.loads(out)["status"] == "diverged"


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


# A valid simulation and data analysis, to which the cases add one bad option.
SIM = ["simulate", "--preset", "random", "--out", "OUT"]
DATA = ["data", "analyze", "NONEMPTY", "--out", "OUT"]

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
    ("resume a non-run", ["resume", "NONEMPTY"], "not a repdrift run"),
    ("resume a corrupt store", ["resume", "CORRUPT"], "corrupt"),
    ("unknown command", ["simulat", "--out", "OUT"], "No such command"),
    (
        "unknown option",
        ["simulate", "--preset", "random", "--out", "OUT", "--fast"],
        "No such option",
    ),
    # Sections that are not tables, with and without --set.
    ("section not a table", ["simulate", "--config", "NOTTABLE", "--out", "OUT"], "network"),
    (
        "--set into a section that is not a table",
        ["simulate", "--config", "NOTTABLE", "--set", "network.hidden=10", "--out", "OUT"],
        "network: must be a table",
    ),
    (
        "--set beside a task that is not a table",
        ["simulate", "--config", "TASKNUMBER", "--set", "network.hidden=10", "--out", "OUT"],
        "task",
    ),
    (
        "--set task.kind into a task that is not a table",
        ["simulate", "--config", "TASKNUMBER", "--set", "task.kind=random", "--out", "OUT"],
        "task: must be a table",
    ),
    ("config is a directory", ["simulate", "--config", "NONEMPTY", "--out", "OUT"], "directory"),
    ("config is a pipe", ["simulate", "--config", "PIPE", "--out", "OUT"], "not a regular file"),
    ("config not UTF-8", ["simulate", "--config", "BINARY", "--out", "OUT"], "not valid TOML"),
    ("both preset and config", ["config", "--preset", "random", "--config", "BADTOML"], "either"),
    ("config: unknown preset", ["config", "--preset", "fig9"], "unknown preset"),
    # Seeds are integers in [0, 2^64 - 1]; a run has at most 2e9 steps.
    ("--seed 2^64", [*SIM, "--seed", "18446744073709551616"], "run.seed"),
    ("--seed -1", [*SIM, "--seed", "-1"], "run.seed"),
    ("--set run.seed=10^30", [*SIM, "--set", f"run.seed={10**30}"], "run.seed"),
    ("--seed not an integer", [*SIM, "--seed", "1e3"], "--seed"),
    ("--steps beyond the int32 counter", [*SIM, "--steps", "99999999999"], "run.steps"),
    ("--steps 10^30", [*SIM, "--steps", str(10**30)], "run.steps"),
    ("negative --steps", [*SIM, "--steps", "-5"], "run.steps"),
    ("zero --steps", [*SIM, "--steps", "0"], "run.steps"),
    ("--cores 0", [*SIM, "--cores", "0"], "--cores"),
    # Integer flags are as strict as the configuration: 50.0 is not an integer.
    ("--steps 50.0", [*SIM, "--steps", "50.0"], "'50.0' is not a valid integer"),
    ("--seed 3.0", [*SIM, "--seed", "3.0"], "--seed"),
    ("--cores 1.0", [*SIM, "--cores", "1.0"], "--cores"),
    ("resume --cores 2.0", ["resume", "NONEMPTY", "--cores", "2.0"], "--cores"),
    ("data: --shuffles 100.0", [*DATA, "--shuffles", "100.0"], "--shuffles"),
    ("resume --cores 0", ["resume", "NONEMPTY", "--cores", "0"], "--cores"),
    # Wrong --set syntax.
    ("--set =value", [*SIM, "--set", "=3"], "section.field=value"),
    ("--set .field", [*SIM, "--set", ".lr=3"], "section.field=value"),
    ("--set section only", [*SIM, "--set", "learner=3"], "section.field=value"),
    ("--set a nested field", [*SIM, "--set", "learner.lr.x=3"], "not a field name"),
    ("--set two lines", [*SIM, "--set", "network.hidden=3\nrun.steps=5"], "network.hidden"),
    # --out under a file.
    ("--out under a file", ["simulate", "--preset", "random", "--out", "AFILE/run"], "is a file"),
    ("--out is a file", ["simulate", "--preset", "random", "--out", "AFILE"], "not a directory"),
    # Directories that are not runs.
    ("resume a missing dir", ["resume", "NOFILE"], "does not exist"),
    ("resume a file", ["resume", "AFILE"], "not a directory"),
    ("inspect a corrupt status.json", ["inspect", "BADSTATUS"], "corrupt"),
    ("resume a corrupt status.json", ["resume", "BADSTATUS"], "corrupt"),
    ("inspect a corrupt config.toml", ["inspect", "BADCONFIG"], "corrupt"),
    ("resume a corrupt config.toml", ["resume", "BADCONFIG"], "corrupt"),
    # The recorded-data command.
    ("data: --seed -1", [*DATA, "--seed", "-1"], "--seed"),
    ("data: --seed 2^64", [*DATA, "--seed", "18446744073709551616"], "--seed"),
    ("data: not a layout", DATA, "not a recognised layout"),
    ("data: missing path", ["data", "analyze", "NOFILE", "--out", "OUT"], "no such file"),
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
    not_table = tmp_path / "not-table.toml"
    not_table.write_text('network = "x"\n')
    task_number = tmp_path / "task-number.toml"
    task_number.write_text("task = 3\n")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    afile = tmp_path / "afile.txt"
    afile.write_text("a file")
    os.mkfifo(tmp_path / "pipe.toml")  # exists; reading it would wait for a writer
    corrupt = _make_corrupt_store(tmp_path, small_run) if "CORRUPT" in args else None
    bad_status = bad_config = None
    if "BADSTATUS" in args:
        bad_status = _make_killed_before_checkpoint(tmp_path)
        (bad_status / "status.json").write_text('{"status": "partial", "steps')
    if "BADCONFIG" in args:
        bad_config = _make_killed_before_checkpoint(tmp_path)
        store.write_status(bad_config, store.Status("partial", 0, 100, None, 0.0))
        (bad_config / "config.toml").write_text("[network]\nhidden = \n")
    subs = {
        "OUT": str(tmp_path / "out"),
        "NOFILE": str(tmp_path / "missing.toml"),
        "BADTOML": str(bad_toml),
        "WRONGTYPE": str(wrong_type),
        "NONEMPTY": str(nonempty),
        "CORRUPT": str(corrupt),
        "NOTTABLE": str(not_table),
        "TASKNUMBER": str(task_number),
        "BINARY": str(binary),
        "AFILE": str(afile),
        "PIPE": str(tmp_path / "pipe.toml"),
        "AFILE/run": str(afile / "run"),
        "BADSTATUS": str(bad_status),
        "BADCONFIG": str(bad_config),
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
    assert afile.read_text() == "a file"
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert after == before  # nothing written, changed or deleted


def test_inspect_a_run_killed_before_its_first_checkpoint_shows_it_partial(tmp_path, capsys):
    killed = _make_killed_before_checkpoint(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(killed), "--json"])
    assert exit_info.value.code == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["status"], info["steps_done"], info["steps_total"]) == ("partial", 0, 100)


def test_inspect_puts_back_and_names_a_run_that_a_killed_overwrite_left_aside(
    small_run, tmp_path, capsys
):
    # What kill -9 leaves while --overwrite's new run has stored no step: the old run
    # aside, hidden under the name of the dead process, and OUT holding only a new config.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    run = tmp_path / "run"
    shutil.copytree(
        small_run, run.with_name(f".run.old-{socket.gethostname()}-{dead.stdout.strip()}")
    )
    run.mkdir()
    (run / store.CONFIG_FILE).write_text((small_run / store.CONFIG_FILE).read_text())
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(run), "--json"])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert f"{run}: the earlier run is back" in captured.err
    assert json.loads(captured.out)["status"] == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_the_installed_command_exits_2_with_one_line(tmp_path):
    result = repdrift_cmd(
        "simulate", "--preset", "random", "--set", "learner.lr=-1", "--out", str(tmp_path / "out")
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "repdrift: error: config: learner.lr: Input should be greater than 0 (got -1)"
    ]
    assert not (tmp_path / "out").exists()


def test_config_reference_is_given_alone(capsys):
    code, out, err = run_cli(["config", "--reference", "--preset", "fig2"], capsys)
    assert (code, out) == (2, "")
    assert_one_error_line(err, "--reference prints every field", "give it alone")


def test_version_is_the_installed_distributions(capsys):
    code, out, err = run_cli(["--version"], capsys)
    assert (code, err) == (0, "")
    assert out == f"repdrift {importlib.metadata.version('repdrift')}\n"


#: What the command and the configuration must not load before a command needs it: each
#: costs a tenth of a second or more at every start (the command's --help took 2 s).
HEAVY = ("jax", "optax", "xarray", "zarr", "pandas", "scipy", "matplotlib", "sklearn", "h5py")


def _heavy_modules_loaded_by(code: str) -> tuple[list[str], str]:
    """The modules of :data:`HEAVY` that a fresh interpreter running ``code`` loads, and
    what ``code`` printed."""
    report = (
        "\nimport sys\n"
        "print('LOADED', *sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code + report, *HEAVY], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    printed, _, loaded = result.stdout.rpartition("LOADED")
    return loaded.split(), printed


def test_the_command_and_the_configuration_start_without_the_numerical_stack():
    loaded, _ = _heavy_modules_loaded_by(
        "import repdrift, repdrift.cli, repdrift.config, repdrift.tasks, repdrift.models\n"
        "repdrift.load_config(preset='fig2-quick').task_params()"
    )
    assert loaded == []
    # and the help of every subcommand is printed without them as well
    loaded, printed = _heavy_modules_loaded_by(
        "from repdrift.cli import main\n"
        "for argv in ([], ['simulate'], ['sweep', 'run'], ['reproduce'], ['infer', 'train'],"
        " ['data', 'analyze']):\n"
        "    try:\n"
        "        main([*argv, '--help'])\n"
        "    except SystemExit as exit_:\n"
        "        assert exit_.code == 0, (argv, exit_.code)"
    )
    assert loaded == []
    assert "Usage: repdrift data analyze" in printed
    # a simulation does load them: the probe sees what it is meant to see
    loaded, _ = _heavy_modules_loaded_by("import repdrift.simulation")
    assert {"jax", "optax", "xarray", "zarr"} <= set(loaded)


def test_every_subpackage_is_reached_from_a_plain_import_and_loaded_when_used():
    # The README's `repdrift.cores.use_cores(1)` and `repdrift.metrics.…` follow a plain
    # `import repdrift`; each module loads on first use only.
    loaded, printed = _heavy_modules_loaded_by(
        "import pkgutil, repdrift\n"
        "names = sorted(m.name for m in pkgutil.iter_modules(repdrift.__path__)\n"
        "               if m.name not in ('cli', 'interrupts', 'progress', 'terminal')\n"
        "               and not m.name.startswith('_'))\n"
        "print('NAMES', *names)\n"
        "missing = [n for n in names if n not in dir(repdrift)]\n"
        "assert not missing, missing\n"
        "print('EARLY', 'jax' in __import__('sys').modules)\n"
        "repdrift.cores.use_cores(1)\n"
        "print(repdrift.metrics.sparsification_timescale.__name__, repdrift.sweep.run.__name__)"
    )
    names = printed.split("NAMES", 1)[1].split("\n", 1)[0].split()
    assert {"cores", "metrics", "sweep", "inference", "data", "experiments"} <= set(names)
    assert "EARLY False" in printed  # listing them loads none
    assert "sparsification_timescale run" in printed
    assert "jax" in loaded  # the metrics did load it, when used


def test_inspect_reads_a_run_without_jax_and_without_its_dataset(small_run):
    loaded, printed = _heavy_modules_loaded_by(
        "from repdrift.cli import main\n"
        "try:\n"
        f"    main(['inspect', '--json', {str(small_run)!r}])\n"
        "except SystemExit as exit_:\n"
        "    assert not exit_.code, exit_.code"
    )
    assert not {"jax", "optax", "scipy", "matplotlib", "sklearn"} & set(loaded), loaded
    assert {"xarray", "zarr"} <= set(loaded)  # the records are read
    summary = json.loads(printed)
    assert summary["status"] == "complete" and summary["final"]["step_metrics"] > 0
    assert repdrift.open_run(small_run, with_dataset=False).dataset is None
    assert repdrift.open_run(small_run).dataset.inputs.shape[0] > 0


def test_a_run_with_an_unknown_status_an_empty_configuration_or_no_dataset_is_corrupt(
    small_run, tmp_path, capsys
):
    bogus = tmp_path / "bogus"
    shutil.copytree(small_run, bogus)
    status = json.loads((bogus / store.STATUS_FILE).read_text())
    (bogus / store.STATUS_FILE).write_text(json.dumps({**status, "status": "bogus"}))
    empty = tmp_path / "empty"
    shutil.copytree(small_run, empty)
    (empty / store.CONFIG_FILE).write_text("")
    nodata = tmp_path / "nodata"  # inspect leaves the dataset unread, but not unchecked
    shutil.copytree(small_run, nodata)
    (nodata / "dataset.npz").unlink()
    for run, needle in (
        (bogus, "holds status 'bogus'"),
        (empty, "lacks [model], [task]"),
        (nodata, "dataset.npz is missing"),
    ):
        before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        for argv in (["inspect", run], ["resume", run, "--quiet"]):
            code, _, err = run_cli(argv, capsys)
            assert code == 2, (argv, err)
            assert_one_error_line(err, "is corrupt", needle)
        # nothing was rewritten
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_the_lazy_names_of_the_packages_are_the_modules_own():
    from repdrift import data, experiments, models, network, runs, simulation, tasks
    from repdrift.models import params as model_params
    from repdrift.models import similarity_matching, toy
    from repdrift.tasks import corridor

    assert repdrift.simulate is simulation.simulate
    assert repdrift.open_run is runs.open_run is simulation.open_run
    # the stored dataset's arrays are the dataset class's fields, in order
    assert tuple(f.name for f in dataclasses.fields(tasks.Dataset)) == runs.DATASET_FIELDS
    assert repdrift.StoreError is store.StoreError
    assert {"Config", "load_config", "simulate", "open_run"} <= set(dir(repdrift))
    assert tasks.Dataset is tasks.dataset.Dataset and tasks.corridor is corridor
    assert corridor.CorridorParams is tasks.CorridorParams
    assert models.module("toy") is toy
    assert models.module("similarity_matching") is similarity_matching
    assert toy.ToyParams is models.PARAMS["toy"]
    assert experiments.reproduce is experiments.reproduction.reproduce
    assert data.analyze_session is data.analysis.analyze_session
    # the configuration's names of the activations are the network's functions
    assert tuple(network.ACTIVATIONS) == model_params.ACTIVATION_NAMES
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = repdrift.no_such_name


def test_the_largest_seed_and_step_count_are_accepted_and_one_more_is_not(capsys):
    from repdrift.config import MAX_SEED, MAX_STEPS

    largest = ["config", "--preset", "random", "--set", f"run.seed={2**64 - 1}"]
    with pytest.raises(SystemExit) as exit_info:
        main([*largest, "--set", f"run.steps={2_000_000_000}"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "seed = 18446744073709551615" in out and "steps = 2000000000" in out
    assert (MAX_SEED, MAX_STEPS) == (2**64 - 1, 2_000_000_000)
    with pytest.raises(SystemExit) as exit_info:
        main([*largest, "--set", f"run.steps={2_000_000_001}"])
    assert exit_info.value.code == 2
    assert "run.steps" in capsys.readouterr().err


def test_set_into_a_table_keeps_its_other_fields_and_a_new_task_kind_drops_them():
    from repdrift.config import apply_overrides

    data = {"network": {"hidden": 7, "activation": "relu"}, "task": {"samples": 9}}
    out = apply_overrides(data, ["network.hidden=10", "run.seed=3"])
    assert out["network"] == {"hidden": 10, "activation": "relu"}
    assert out["run"] == {"seed": 3}
    assert data["network"]["hidden"] == 7  # the input is not changed
    # A task without kind is a corridor: setting that kind keeps its parameters.
    assert apply_overrides(data, ["task.kind=corridor"])["task"] == {
        "samples": 9,
        "kind": "corridor",
    }
    assert apply_overrides(data, ["task.kind=random"])["task"] == {"kind": "random"}


def test_overwrite_replaces_an_earlier_run_and_leaves_nothing_aside(tmp_path):
    cfg = repdrift.load_config(preset="random", overrides=["run.steps=200", "record.snapshots=3"])
    first = repdrift.simulate(cfg, tmp_path / "run")
    assert first.status.steps_done == 200
    again = repdrift.simulate(
        cfg.model_copy(update={"run": cfg.run.model_copy(update={"steps": 300})}),
        tmp_path / "run",
        overwrite=True,
    )
    assert again.status.steps_done == 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no old copy left


def test_overwrite_never_deletes_a_folder_that_merely_holds_a_config_toml(tmp_path, capsys):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "config.toml").write_text('[tool]\nname = "app"\n')
    (project / "src" / "thesis.tex").write_text("years of work")
    argv = ["simulate", "--preset", "random", "--steps", "20", "--no-figures", "--quiet"]
    code, _, err = run_cli([*argv, "--out", project, "--overwrite"], capsys)
    assert code == 2, err
    assert_one_error_line(err, "holds files a run did not write (src)", "refusing")
    assert (project / "src" / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]  # nothing set aside

    # A run, with its figures and a write cut short, is replaced; with a file of the
    # user's added, it is not.
    run = tmp_path / "run"
    assert run_cli([*argv, "--out", run], capsys)[0] == 0
    (run / "figures").mkdir()
    (run / ".status.json.k2j4x9").write_text("{")
    assert run_cli([*argv, "--out", run, "--overwrite", "--seed", "1"], capsys)[0] == 0
    assert repdrift.open_run(run).config.run.seed == 1
    (run / "notes.md").write_text("mine")
    code, _, err = run_cli([*argv, "--out", run, "--overwrite", "--seed", "2"], capsys)
    assert code == 2, err
    assert_one_error_line(err, "did not write (notes.md)")
    assert repdrift.open_run(run).config.run.seed == 1
    assert (run / "notes.md").read_text() == "mine"


def test_simulate_into_an_unfinished_run_points_to_resume(tmp_path, capsys):
    out = tmp_path / "run"
    cfg = repdrift.load_config(preset="random", overrides=["run.steps=200"])
    repdrift.simulate(cfg, out, stop_after=20)
    argv = ["simulate", "--preset", "random", "--steps", "200", "--out", out, "--quiet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2, err
    assert_one_error_line(err, f"unfinished: `repdrift resume {out}` continues it")
    assert store.read_status(out).steps_done == 20
    repdrift.resume(out)
    code, _, err = run_cli(argv, capsys)  # a finished run: no such hint
    assert code == 2 and "resume" not in err, err


def test_out_where_nothing_may_be_written_is_refused_before_anything_is_made(tmp_path, monkeypatch):
    # The tests may run as root, whom permissions do not stop: the refusal is tested
    # through what the operating system answers.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(store.StoreError, match="no permission to create it in"):
        store.prepare_out(tmp_path / "new" / "run", overwrite=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(store.StoreError, match="Permission denied"):
        store.prepare_out(tmp_path / "run", overwrite=False)


def test_an_earlier_run_that_may_not_be_written_is_not_replaced(small_run, tmp_path, monkeypatch):
    # Replacing a folder needs only its parent to be writable: a run made read-only was
    # renamed aside and deleted. (Root ignores modes: the operating system's answer is
    # what is changed.)
    old = tmp_path / "kept"
    shutil.copytree(small_run, old)
    before = {p: p.read_bytes() for p in old.rglob("*") if p.is_file()}
    deny_writing(monkeypatch, "kept")
    with pytest.raises(store.StoreError, match=rf"--out {old}: no permission to write in it"):
        store.prepare_out(old, overwrite=True)
    assert {p: p.read_bytes() for p in old.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


# Every path a command takes, given empty: pathlib would read "" as the current folder, so
# `--out "$DIR"` with DIR unset would write into (or read) the folder the command started in.
EMPTY_PATHS = [
    (["simulate", "--preset", "random", "--out", ""], "'--out'"),
    (["simulate", "--config", "", "--out", "run"], "'--config'"),
    (["config", "--config", ""], "'--config'"),
    (["inspect", ""], "run_dir"),
    (["resume", ""], "run_dir"),
    (["sweep", "run", "--preset", "examples", "--out", ""], "'--out'"),
    (["sweep", "run", "", "--out", "sweep"], "spec"),
    (["sweep", "resume", ""], "sweep_dir"),
    (["sweep", "inspect", ""], "sweep_dir"),
    (["sweep", "compare", "a", ""], "sweep_b"),
    (["reproduce", "fig4", "--out", ""], "'--out'"),
    (["data", "analyze", "sessions", "--out", ""], "'--out'"),
    (["data", "analyze", "", "--out", "results"], "path"),
    (["infer", "train", "sweep", "--out", ""], "'--out'"),
    (["infer", "train", "", "--out", "model"], "library"),
    (["infer", "predict", "", "run"], "model_dir"),
    (["infer", "predict", "model", ""], "target"),
]


@pytest.mark.parametrize(("args", "name"), EMPTY_PATHS, ids=[" ".join(a) for a, _ in EMPTY_PATHS])
def test_an_empty_path_is_bad_input_not_the_current_folder(
    args, name, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # an empty folder: the commands that write would take it
    code, _, err = run_cli(args, capsys)
    assert code == 2, err
    assert_one_error_line(err, "an empty path")
    assert name.lower() in err.lower(), err  # older typer names arguments in capitals
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("error", "code"),
    [(PermissionError(13, "Permission denied"), 2), (OSError(28, "No space left on device"), 1)],
)
def test_a_folder_that_may_not_be_written_is_bad_input_a_full_disk_is_not(
    small_run, monkeypatch, capsys, error, code
):
    def refuse(path):
        error.filename = str(path)
        raise error

    monkeypatch.setattr(store, "read_status", refuse)
    with pytest.raises(SystemExit) as exit_:
        main(["resume", str(small_run), "--quiet"])
    assert exit_.value.code == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and error.strerror in lines[0] and str(small_run) in lines[0]


USE_ONE_CORE = """
import json, os
from repdrift.cores import use_cores
allowed = os.sched_getaffinity(0)
threads = use_cores(1)
import jax, jax.numpy as jnp

def loss(p, x, y):  # the network of Fig. 2: 150 samples, 19 -> 500 -> 17
    return jnp.mean((jax.nn.relu(x @ p[0].T + p[1]) @ p[2].T - y) ** 2)

@jax.jit
def train(p, key, x, y):  # noisy gradient descent
    def step(i, carry):
        p, key = carry
        key, *noise = jax.random.split(key, 4)
        g = jax.grad(loss)(p, x, y)
        return tuple(a - 0.1 * (b + 0.01 * jax.random.normal(k, a.shape))
                     for a, b, k in zip(p, g, noise)), key
    return jax.lax.fori_loop(0, 3000, step, (p, key))

def cpu_s():  # CPU seconds of each thread
    out = {}
    for t in os.listdir("/proc/self/task"):
        fields = open(f"/proc/self/task/{t}/stat").read().rsplit(")", 1)[1].split()
        out[t] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out

k = jax.random.key(0)
p = (jax.random.normal(k, (500, 19)), jnp.zeros(500), jax.random.normal(k, (17, 500)) / 250)
args = (p, k, jax.random.normal(k, (150, 19)), jnp.zeros((150, 17)))
jax.block_until_ready(train(*args))  # compile
before = cpu_s()
jax.block_until_ready(train(*args))
after = cpu_s()
print(json.dumps({
    "threads": threads,
    "allowed": sorted(allowed),
    "cpu": sorted(after[t] - before.get(t, 0.0) for t in after),
    "masks": [sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")],
    "again": use_cores(1),
}))
"""


def test_use_cores_sizes_xlas_pool_without_pinning_the_process():
    result = subprocess.run(
        [sys.executable, "-c", USE_ONE_CORE],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["threads"] == 1
    # Every thread may run on every core the process was allowed: two runs started at
    # once are not stacked on one core.
    assert all(mask == info["allowed"] for mask in info["masks"])
    # One thread did the work. (With XLA's default pool on two or more cores, two
    # threads share it about equally.)
    busiest, second = info["cpu"][-1], info["cpu"][-2]
    assert busiest > 0.1 and second < 0.25 * busiest, info["cpu"]
    # After the backend has started, the pool cannot change: nothing is done.
    assert info["again"] is None


# On two CPU threads (`repdrift simulate --cores 2`), in one process: a whole run, and
# the same run stopped after 100 of its steps (what a killed run leaves).
ON_TWO_THREADS = """
import sys
from repdrift.cores import use_cores
use_cores(2)
import repdrift
from repdrift import simulation
config = repdrift.load_config(preset="fig2-quick", overrides=sys.argv[3:])
simulation.simulate(config, sys.argv[1])
simulation.simulate(config, sys.argv[2], stop_after=100)
"""
# The Fig. 2 network is large enough for XLA to split its sums between two threads:
# its loss differs in the last bits from one thread's within 300 steps.
THREADED = ["run.steps=300", "record.snapshots=2"]


def _cores_allowed() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


@pytest.mark.skipif(_cores_allowed() < 2, reason="needs two cores to run on two threads")
def test_resume_goes_on_with_the_thread_count_the_run_was_started_with(tmp_path):
    reference, stopped = tmp_path / "uninterrupted", tmp_path / "stopped"
    made = subprocess.run(
        [sys.executable, "-c", ON_TWO_THREADS, str(reference), str(stopped), *THREADED],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert made.returncode == 0, made.stderr
    assert store.read_status(reference).status == "complete"
    assert store.read_computed_on(reference)["cpu_threads"] == 2
    assert store.read_status(stopped).steps_done == 100
    assert store.read_computed_on(stopped)["cpu_threads"] == 2
    # no --cores: the run's own two threads, not the one `resume` would otherwise take
    resumed = repdrift_cmd("resume", str(stopped), "--quiet", "--no-figures")
    assert resumed.returncode == 0, resumed.stderr
    assert "note:" not in resumed.stderr
    assert store.read_computed_on(stopped)["cpu_threads"] == 2
    got, want = _arrays(stopped), _arrays(reference)
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def _stopped_small_run(out: Path) -> Path:
    from repdrift import simulation

    cfg = repdrift.load_config(preset="random", overrides=["run.steps=400", "record.snapshots=2"])
    simulation.simulate(cfg, out, stop_after=100)
    return out


def _record_computed_on(run: Path, computed_on: dict) -> None:
    """Rewrite where the run's current generation says it was computed."""
    described = store.generation_path(run, store.read_status(run).generation) / "generation.json"
    data = json.loads(described.read_text())
    data["computed_on"] = computed_on
    described.write_text(json.dumps(data))


def test_resume_in_python_warns_where_the_stored_steps_were_computed_elsewhere(tmp_path):
    import warnings

    from repdrift import ComputedElsewhereWarning, cores, simulation

    here = cores.computed_on()
    same = _stopped_small_run(tmp_path / "same")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComputedElsewhereWarning)
        assert repdrift.resume(same).status.status == "complete"  # no warning
    assert store.read_computed_earlier(same) == []  # all its steps computed here
    other = _stopped_small_run(tmp_path / "other")
    elsewhere = {**here, "cpu_threads": here["cpu_threads"] + 1}
    _record_computed_on(other, elsewhere)
    threads = f"CPU threads {here['cpu_threads'] + 1} → {here['cpu_threads']}"
    with pytest.warns(ComputedElsewhereWarning, match=threads):
        assert simulation.resume(other, stop_after=200).status.status == "partial"
    moved = [{"until_step": 100, "computed_on": elsewhere}]
    assert store.read_computed_earlier(other) == moved
    # continued here again: nothing to warn of, and the record keeps where steps 0-100 were
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComputedElsewhereWarning)
        finished = repdrift.resume(other)
    assert finished.status.status == "complete"
    assert finished.summary()["computed_earlier"] == moved
    assert store.read_computed_on(other) == here
    # a finished run is not computed again: nothing is said of where it was
    _record_computed_on(other, {**here, "cpu_threads": here["cpu_threads"] + 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComputedElsewhereWarning)
        repdrift.resume(other)


def test_resume_says_in_one_line_when_the_stored_steps_were_computed_elsewhere(tmp_path, capsys):
    import jax

    from repdrift import cores

    run = _stopped_small_run(tmp_path / "moved")
    here = cores.computed_on()
    assert store.read_computed_on(run) == here
    # as if its first 100 steps ran with another JAX on another CPU
    elsewhere = {**here, "jax": "0.4.0", "processor": "Another CPU (AVX2)"}
    _record_computed_on(run, elsewhere)
    code, _out, err = run_cli(["resume", run, "--quiet", "--no-figures"], capsys)
    assert code == 0, err
    notes = [line for line in err.splitlines() if "note:" in line]
    assert len(notes) == 1, err
    assert f"JAX 0.4.0 → {jax.__version__}" in notes[0]
    assert f"processor Another CPU (AVX2) → {here['processor']}" in notes[0]
    assert "CPU threads" not in notes[0]  # the same count: not named
    assert store.read_status(run).status == "complete"
    assert store.read_computed_on(run) == here  # the last steps were computed here
    # inspect names both places, oldest first, with their steps
    code, out, err = run_cli(["inspect", run], capsys)
    assert code == 0, err
    places = [line for line in out.splitlines() if line.startswith("computed on")]
    assert places == [
        f"computed on {cores.describe_computed_on(elsewhere)} (steps 0–100)",
        f"computed on {cores.describe_computed_on(here)} (steps 100–400)",
    ]
    # a finished run is not continued, and nothing is said of where
    code, _out, err = run_cli(["resume", run, "--no-figures"], capsys)
    assert code == 0 and "note:" not in err and "already complete" in err


def test_computed_elsewhere_names_what_the_last_bits_depend_on():
    from repdrift.cores import computed_elsewhere, describe_computed_on

    cpu = {"platform": "cpu", "device": "", "processor": "X (AVX2)", "jax": "0.10.2"}
    gpu = {"platform": "gpu", "device": "NVIDIA H200", "processor": "X (AVX2)", "jax": "0.10.2"}
    assert computed_elsewhere({**cpu, "cpu_threads": 2}, {**cpu, "cpu_threads": 2}) == []
    assert computed_elsewhere({**cpu, "cpu_threads": 2}, {**cpu, "cpu_threads": 1}) == [
        "CPU threads 2 → 1"
    ]
    # the host's thread count does not touch what a GPU computes
    assert computed_elsewhere({**gpu, "cpu_threads": 2}, {**gpu, "cpu_threads": 16}) == []
    assert computed_elsewhere({**gpu, "cpu_threads": 1}, {**cpu, "cpu_threads": 1}) == [
        "device type gpu → cpu"
    ]
    assert computed_elsewhere({**gpu, "cpu_threads": 1}, {**gpu, "device": "NVIDIA A100"}) == [
        "device NVIDIA H200 → NVIDIA A100"
    ]
    # a record without a field (another version's) is not held against it
    assert computed_elsewhere({"jax": "0.10.2"}, {**cpu, "cpu_threads": 1}) == []
    assert describe_computed_on({**cpu, "cpu_threads": 1, "repdrift": "0.1.0"}) == (
        "X (AVX2), 1 CPU thread, JAX 0.10.2, repdrift 0.1.0"
    )
    assert describe_computed_on({**gpu, "cpu_threads": 4, "repdrift": "0.1.0"}) == (
        "gpu NVIDIA H200, host X (AVX2), JAX 0.10.2, repdrift 0.1.0"
    )


def test_more_cores_than_the_machine_has_are_named_in_a_note(tmp_path):
    cores = _cores_allowed()
    out = tmp_path / "capped"
    args = ["--preset", "random", "--steps", "50", "--quiet", "--no-figures"]
    result = repdrift_cmd("simulate", *args, "--cores", str(cores + 1), "--out", str(out))
    assert result.returncode == 0, result.stderr
    many = "" if cores == 1 else "s"
    assert (
        f"repdrift: note: --cores {cores + 1}: this process may run on {cores} core{many}; "
        f"XLA uses {cores} thread{many}"
    ) in result.stderr
    assert store.read_computed_on(out)["cpu_threads"] == cores


def test_use_cores_rejects_zero():
    from repdrift.cores import use_cores

    assert use_cores(None) is None
    with pytest.raises(ValueError, match="at least 1"):
        use_cores(0)


# ------------------------------------------------------------------------------------- CI


def test_in_ci_a_data_test_that_skips_fails(pytester, monkeypatch):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    data: needs the recorded data\n")
    pytester.makepyfile(
        test_skips="""
        import pytest

        @pytest.mark.data
        def test_marked_data():
            pytest.skip("no data here")

        def test_unmarked_but_needs_the_data():
            pytest.skip("recorded data not found at /nowhere")

        def test_skips_for_another_reason():
            pytest.skip("not on this platform")
        """
    )
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, skipped=1)
    result.stdout.fnmatch_lines(["*in CI a test that needs the recorded data may not skip*"])
    monkeypatch.delenv("CI")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(skipped=3)


def test_ci_script_runs_the_readme_test_command_first_and_fails_on_no_slow_tests():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    script = (root / ".ci" / "run").read_text()
    command = (
        "python3.11 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest -q"
    )
    assert f"```bash\n{command}\n```" in readme
    commands = [
        line for line in script.splitlines() if line.strip() and not line.startswith(("#", " "))
    ]
    first = commands.index(command)
    assert all(not c.startswith((".venv/bin/pytest", "python")) for c in commands[:first])
    assert "set -euo pipefail" in commands[:first]
    assert commands[first + 1 :] == [".venv/bin/pytest -q -m slow"]  # exit 5 fails too


#: Starts the command as its entry point does, with Ctrl-C's default handler (a child of a
#: non-interactive shell starts with SIGINT ignored, and the command keeps it so).
ENTRY = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'repdrift'; from repdrift.__main__ import main; main()"
)


def test_ctrl_c_on_simulate_says_how_to_continue_and_keeps_the_run(tmp_path):
    # A real SIGINT, as Ctrl-C sends it. typer alone would exit 130 without a word.
    out = tmp_path / "stopped"
    start = ENTRY
    args = ["simulate", *KILLED, "--set", "run.steps=10000000", "--out", str(out), "--no-figures"]
    proc = subprocess.Popen(
        [sys.executable, "-c", start, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if (out / "status.json").exists() and store.read_status(out).steps_done > 0:
            break  # a checkpoint past the start is stored
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"repdrift: interrupted; `repdrift resume {out}` continues the run" in err
    status = store.read_status(out)
    assert status.status == "partial" and 0 < status.steps_done < status.steps_total


def test_sigterm_stops_simulate_as_ctrl_c_does_with_status_143(tmp_path):
    # A batch scheduler's time limit (or `kill`): the run stores what it trained since its
    # last checkpoint (here every 600 s: nothing would be stored otherwise) and says how
    # to go on, instead of dying as `running` with its pid file left behind.
    out = tmp_path / "stopped"
    args = ["simulate", *KILLED, "--set", "run.steps=10000000", "--out", str(out)]
    args += ["--no-figures", "--set", "run.checkpoint_every_s=600"]
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "REPDRIFT_LOG_EVERY": "0.2"},  # progress lines on stderr
    )
    lines = []
    for line in proc.stderr:  # until training has gone past the first store (step 0)
        lines.append(line)
        if line.startswith("simulate  ") and int(line.split()[1].split("/")[0]) > 0:
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    err = "".join(lines) + rest
    assert proc.returncode == 143, err
    assert f"repdrift: interrupted; `repdrift resume {out}` continues the run" in err
    assert "Traceback" not in err
    status = store.read_status(out)
    assert status.status == "partial" and 0 < status.steps_done < status.steps_total
    assert not (out / store.PID_FILE).exists()


def test_figures_stopped_midway_are_drawn_whole_by_resume(tmp_path, capsys, monkeypatch):
    from repdrift.plotting import runs as plotting_runs

    draw = plotting_runs.draw_run

    def stopped(run, out_dir):  # Ctrl-C after the first figure is written
        next(iter(draw(run, out_dir)))
        raise KeyboardInterrupt

    monkeypatch.setattr(plotting_runs, "draw_run", stopped)
    out = tmp_path / "run"
    code, _, err = run_cli(
        ["simulate", "--preset", "random", "--steps", "40", "--out", out], capsys
    )
    assert code == 130, err
    assert f"interrupted; the run is complete; `repdrift resume {out}` draws its figures" in err
    assert sorted(p.name for p in out.iterdir()) == [
        "config.toml",
        "dataset.npz",
        "status.json",
        "store",
    ]
    monkeypatch.undo()

    for quiet in (["--quiet"], []):  # the same with and without a progress bar
        shutil.rmtree(out / "figures", ignore_errors=True)
        code, _, err = run_cli(["resume", out, *quiet], capsys)
        assert code == 0, err
        assert "nothing to do" not in err
        drawn = sorted(p.name for p in (out / "figures").iterdir())
        assert {"loss.png", "loss.pdf", "summary.png"} <= set(drawn), drawn
    code, _, err = run_cli(["resume", out], capsys)
    assert code == 0 and f"{out}: already complete; nothing to do" in err
    assert sorted(p.name for p in (out / "figures").iterdir()) == drawn
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # nothing left aside


def test_a_ctrl_c_that_python_loses_still_stops_the_command(tmp_path):
    # Python ignores an exception raised in a finalizer or in a garbage-collection hook
    # (JAX's runs often while a run is set up): a Ctrl-C landing there was lost, and the
    # run went on to its end. Here the signal arrives inside a finalizer, deterministically.
    out, mark = tmp_path / "never", tmp_path / "exit-handlers-ran"
    start = (
        "import atexit, os, pathlib, signal\n"
        "from repdrift import simulation\n"
        "build = simulation.build\n"
        "class Lost:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "def losing(config):\n"
        "    member = build(config)\n"
        "    Lost()\n"
        "    return member\n"
        "simulation.build = losing\n"
        f"atexit.register(pathlib.Path({str(mark)!r}).touch)\n" + ENTRY.replace("; ", "\n")
    )
    args = ["simulate", *SMALL, "--out", str(out), "--no-figures", "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-c", start, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == f"repdrift: interrupted; nothing was written to {out}\n"
    assert not out.exists()
    assert mark.exists()  # the process ends at once, but its exit handlers still run


def test_ctrl_c_while_the_command_itself_loads_is_one_line(tmp_path):
    # The entry point loads the command (a third of a second): a Ctrl-C then was a
    # traceback of the imports under way.
    start = (
        "import importlib.abc, sys\n"
        "class Stop(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'repdrift.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Stop())\n" + ENTRY.replace("; ", "\n")
    )
    proc = subprocess.run(
        [sys.executable, "-c", start, "presets"], capture_output=True, text=True, timeout=120
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "repdrift: interrupted\n", "")
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "repdrift"]
    assert script.value == "repdrift.__main__:main"


def test_ctrl_c_before_a_command_takes_it_over_is_said(tmp_path, capsys, monkeypatch):
    # A Ctrl-C while a command loads its modules, before its own handling: typer exits
    # with 130 without a word.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("repdrift.config.load_config", interrupted)
    out = tmp_path / "never"
    code, _, err = run_cli(["simulate", "--preset", "sweep-member", "--out", out], capsys)
    assert (code, err) == (130, "repdrift: interrupted\n")
    assert not out.exists()


def test_a_run_that_diverged_before_it_could_be_drawn_is_stored_and_said(tmp_path, capsys):
    # Its figures (5 records at least) used to fail with a traceback and exit status 1.
    out = tmp_path / "diverged"
    argv = ["simulate", "--preset", "hebbian-ring", "--set", "model.init_scale=1e30"]
    code, stdout, err = run_cli([*argv, "--steps", "10", "--out", out, "--quiet"], capsys)
    assert code == 0, err
    assert store.read_status(out).status == "diverged"
    assert "figures: none drawn for this diverged run: metrics: need at least 5 records" in err
    assert "Traceback" not in err and f"{out}: diverged" in stdout + err


def test_data_analyze_names_out_as_given_not_resolved(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("sessions").mkdir()
    Path("results").mkdir()
    (Path("results") / "notes.txt").write_text("mine")
    code, _, err = run_cli(["data", "analyze", "sessions", "--out", "results"], capsys)
    assert code == 2, err
    assert err.strip() == (
        "repdrift: error: results: --out exists and is not empty (use --overwrite to replace it)"
    )
    assert (Path("results") / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("command", ["data", "infer"])
def test_ctrl_c_on_an_analysis_leaves_nothing_and_says_so(tmp_path, capsys, monkeypatch, command):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "results"
    if command == "data":
        monkeypatch.setattr("repdrift.data.report.analyze_path", interrupted)
        sessions = tmp_path / "sessions"
        sessions.mkdir()
        frames = 200
        np.savez(
            sessions / "day1.npz",
            activity=np.zeros((frames, 3)),
            position=np.linspace(0, 1, frames),
            direction=np.ones(frames),
        )
        argv = ["data", "analyze", sessions, "--out", out]
    else:
        monkeypatch.setattr("repdrift.inference.train.train", interrupted)
        argv = ["infer", "train", tmp_path, "--out", out]
    code, _, err = run_cli(argv, capsys)
    assert code == 130, err
    assert err.strip() == f"repdrift: interrupted; nothing was written to {out}"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ctrl_c_before_simulate_creates_its_run_says_nothing_was_written(
    tmp_path, capsys, monkeypatch
):
    # Interrupted while the simulation was being set up (compiling, drawing the task), the
    # command used to advise resuming a run that did not exist.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("repdrift.simulation.simulate", interrupted)
    out = tmp_path / "never"
    code, _, err = run_cli(["simulate", "--preset", "sweep-member", "--out", out], capsys)
    assert code == 130, err
    assert err.strip() == f"repdrift: interrupted; nothing was written to {out}"
    assert not out.exists()


def test_simulate_refuses_an_out_among_a_reproductions_runs(tmp_path, capsys):
    # `repdrift reproduce` writes DIR/runs/<name> itself, as a sweep writes its runs
    root = tmp_path / "repro"
    (root / "runs" / "fig2").mkdir(parents=True)
    (root / "reproduce.json").write_text('{"kind": "repdrift-reproduce"}')
    (root / "runs" / "fig2" / "config.toml").write_text("mine")
    for extra in ([], ["--overwrite"]):
        argv = ["simulate", "--preset", "sweep-member", "--out", root / "runs" / "fig2", *extra]
        code, _, err = run_cli(argv, capsys)
        assert code == 2, err
        assert_one_error_line(err, "is in the runs of the reproduction", str(root))
    assert (root / "runs" / "fig2" / "config.toml").read_text() == "mine"
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["fig2"]
