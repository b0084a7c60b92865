"""`repdrift sweep compare`: do two sweeps show the same drift?

The statistics are checked against values known from theory (exact signed-rank and
binomial p-values, the false-discovery rate under the global null), and on real sweeps: a
sweep agrees with a copy of itself with zero shifts, and differs from the same runs with
stronger update noise in the direction the paper predicts (fewer active units)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_helpers import assert_one_error_line, run_cli
from repdrift import store
from repdrift.sweep import comparison as compare
from repdrift.sweep import summary
from repdrift.sweep.spec import SweepError


def _table(values: dict[str, np.ndarray], *, rule="gd", noise="update", status=None, ids=None):
    """A results table with the given summary columns (others NaN), all runs included."""
    n = len(next(iter(values.values())))
    df = pd.DataFrame(
        {
            "run": ids if ids is not None else [f"r{i:03d}" for i in range(n)],
            "part": "p",
            "status": status if status is not None else ["complete"] * n,
            "rule": rule,
            "noise": noise,
            "learner.lr": 0.1,
            "learner.update_noise": 0.05,
        }
    )
    for column in summary.COLUMNS:
        df[column] = values.get(column, np.full(n, np.nan))
    df["log_tau_ok"] = True
    df["included"] = df["status"] == "complete"
    return df


def _by_column(result) -> dict[str, compare.Test]:
    return {t.column: t for t in result.tests}


def test_a_table_compared_with_itself_agrees_with_every_p_value_one():
    rng = np.random.default_rng(0)
    a = _table({"active_units": rng.random(20), "loss": rng.normal(size=20)})
    result = compare.compare_tables(a, a.copy())
    assert result.paired and result.common_runs == 20 and result.config_differs == []
    assert [t.column for t in result.tests] == ["status", "loss", "active_units"]
    assert all(t.p == 1.0 and t.shift == 0 and t.verdict == "agree" for t in result.tests)
    assert result.agree


def test_paired_p_value_is_the_exact_signed_rank_value():
    # Ten pairs that all move up: under the null each sign is a coin flip, so the
    # two-sided exact p-value is 2 * 2**-10.
    a = np.linspace(0.1, 1.0, 10)
    b = a + np.linspace(0.01, 0.1, 10)
    result = compare.compare_tables(_table({"active": a}), _table({"active": b}))
    test = _by_column(result)["active"]
    assert test.n == 10
    assert test.p == pytest.approx(2 * 2.0**-10)
    assert test.shift == pytest.approx(np.median(b - a))
    # two tests (status with p = 1, active): Benjamini-Hochberg gives q = 2 p / 1 for the
    # smaller, capped by the larger's q = 1
    assert test.q == pytest.approx(2 * (2 * 2.0**-10))
    assert test.verdict == "differ" and not result.agree


def test_unpaired_p_value_is_the_exact_rank_sum_value():
    # Six runs against six other runs (different ids), every B above every A: the exact
    # two-sided Mann-Whitney p-value is 2 / C(12, 6).
    a = _table({"active": np.arange(6.0)})
    b = _table({"active": np.arange(6.0) + 10}, ids=[f"s{i}" for i in range(6)])
    result = compare.compare_tables(a, b)
    assert not result.paired and result.common_runs == 0
    test = _by_column(result)["active"]
    assert test.p == pytest.approx(2 / 924)
    assert test.shift == pytest.approx(10.0)
    assert test.verdict == "differ"


def test_statuses_are_compared_with_mcnemars_exact_test():
    # 20 pairs: 8 runs complete in A fall silent in B, none the other way round. Exact
    # McNemar: all 8 discordant pairs one way, p = 2 * 2**-8.
    status_b = ["silent"] * 8 + ["complete"] * 12
    a = _table({"active": np.ones(20)})
    b = _table({"active": np.ones(20)}, status=status_b)
    test = _by_column(compare.compare_tables(a, b))["status"]
    assert test.n == 20
    assert test.median_a == 1.0 and test.median_b == pytest.approx(12 / 20)
    assert test.p == pytest.approx(2 * 2.0**-8)
    assert test.verdict == "differ"
    # the summary columns are compared over the runs both include: 12
    assert _by_column(compare.compare_tables(a, b))["active"].n == 12


def test_a_small_group_gets_no_verdict_and_does_not_count():
    a = _table({"active": np.arange(4.0)})
    result = compare.compare_tables(a, _table({"active": np.arange(4.0) + 100}))
    assert {t.verdict for t in result.tests} == {"too few"}
    assert all(t.p is None for t in result.tests)
    assert result.agree and result.decided == []


def test_groups_in_only_one_sweep_are_not_shared():
    a = _table({"active": np.arange(8.0)}, rule="gd")
    b = _table({"active": np.arange(8.0)}, rule="sgd", ids=[f"s{i}" for i in range(8)])
    result = compare.compare_tables(a, b)
    assert not result.paired and result.decided == [] and result.shared_groups == []
    result = compare.compare_tables(a, pd.concat([b, a.assign(run=[f"t{i}" for i in range(8)])]))
    assert result.shared_groups == [("gd", "update")] and len(result.decided) == 2


def test_under_the_null_at_most_alpha_of_comparisons_find_a_difference():
    # Benjamini-Hochberg over independent tests keeps the chance of any false 'differ'
    # at or below alpha when nothing differs. Two sweeps whose columns are independent
    # draws from one distribution, 200 times: the share that differ must be about 5 %
    # (binomial sd 1.5 %), and is bounded here at 10 %.
    rng = np.random.default_rng(1)
    columns = ("loss", "active", "active_units", "eig_sum")
    differ = {True: 0, False: 0}
    for _ in range(200):
        for paired in (True, False):
            a = _table({c: rng.normal(size=30) for c in columns})
            ids = None if paired else [f"s{i}" for i in range(30)]
            b = _table({c: rng.normal(size=30) for c in columns}, ids=ids)
            result = compare.compare_tables(a, b)
            assert result.paired is paired
            differ[paired] += not result.agree
    assert differ[True] <= 20 and differ[False] <= 20
    # and a shift of 1.5 standard deviations in one column (paired differences of
    # standard deviation sqrt 2, so about one of theirs: a signed-rank test on 30 pairs
    # finds it with a power of about 0.99 at 0.01) is found nearly always, and alone
    found = others = 0
    for _ in range(50):
        a = _table({c: rng.normal(size=30) for c in columns})
        b = _table({c: rng.normal(size=30) + 1.5 * (c == "active") for c in columns})
        differing = [t.column for t in compare.compare_tables(a, b).differing]
        found += "active" in differing
        others += len(differing) - ("active" in differing)
    assert found >= 47 and others <= 10


def test_configuration_columns_that_differ_are_named():
    a = _table({"active": np.ones(8)})
    b = a.copy()
    b["learner.update_noise"] = 0.2
    assert compare.compare_tables(a, b).config_differs == ["learner.update_noise"]


def test_bad_alpha_and_min_runs_are_refused():
    a = _table({"active": np.ones(8)})
    with pytest.raises(SweepError, match="alpha"):
        compare.compare_tables(a, a, alpha=1.5)
    with pytest.raises(SweepError, match="min_runs"):
        compare.compare_tables(a, a, min_runs=1)


SPEC = """
seed = 3
[base.task]
kind = "random"
samples = 5
d_in = 6
d_out = 4
[base.network]
hidden = 16
[base.learner]
lr = 0.1
update_noise = 0.02
[base.record]
dense_until = 20
per_decade = 10
snapshots = 3
linear_snapshots = 3
hessian = "gauss_newton"
[base.run]
steps = 2000
[grid]
"run.seed" = [1, 2, 3, 4, 5, 6, 7, 8]
"""


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    spec_file = root / "spec.toml"
    spec_file.write_text(SPEC)
    out = {"weak": root / "weak", "strong": root / "strong"}
    from repdrift.cli import main

    for name, extra in (("weak", []), ("strong", ["--set", "learner.update_noise=0.4"])):
        argv = ["sweep", str(spec_file), "--out", str(out[name]), "--workers", "1", "--quiet"]
        with pytest.raises(SystemExit) as info:
            main([*argv, *extra])
        assert info.value.code == 0
    out["copy"] = root / "copy"
    shutil.copytree(out["weak"], out["copy"])
    return out


def test_a_sweep_and_its_copy_agree_with_zero_shifts(sweeps, capsys):
    code, stdout, _ = run_cli(
        ["sweep", "compare", str(sweeps["weak"]), str(sweeps["copy"]), "--json"], capsys
    )
    assert code == 0
    result = json.loads(stdout)
    assert result["agree"] and result["paired"] and result["common_runs"] == 8
    columns = {t["column"]: t for t in result["tests"]}
    assert set(columns) >= {"status", "loss", "active", "active_units", "eig_sum"}
    assert all(t["shift"] == 0 and t["verdict"] == "agree" for t in result["tests"])


def test_compare_names_where_each_sweeps_runs_were_computed(sweeps, tmp_path, capsys):
    from repdrift import store

    gpu = tmp_path / "gpu"
    shutil.copytree(sweeps["weak"], gpu)
    # as if the same runs had been computed on a GPU
    on_gpu = {
        "platform": "gpu",
        "device": "NVIDIA H200",
        "processor": "Host CPU (AVX512F)",
        "jax": "0.11.2",
        "repdrift": "0.1.0",
        "cpu_threads": 16,
    }
    for run in sorted((gpu / "runs").iterdir()):
        described = store.generation_path(run, store.read_status(run).generation)
        data = json.loads((described / "generation.json").read_text())
        data["computed_on"] = on_gpu
        (described / "generation.json").write_text(json.dumps(data))
    code, stdout, _ = run_cli(["sweep", "compare", str(sweeps["weak"]), str(gpu), "--json"], capsys)
    assert code == 0
    result = json.loads(stdout)
    [a], [b] = result["computed_on_a"], result["computed_on_b"]
    assert a["runs"] == b["runs"] == 8
    assert "CPU thread" in a["on"]
    assert b["on"] == "gpu NVIDIA H200, host Host CPU (AVX512F), JAX 0.11.2, repdrift 0.1.0"
    code, stdout, _ = run_cli(["sweep", "compare", str(sweeps["weak"]), str(gpu)], capsys)
    assert code == 0
    assert f"B computed on {b['on']}: 8 runs" in stdout


def test_stronger_update_noise_is_found_and_named(sweeps, capsys):
    # The same eight runs with update noise 0.4 instead of 0.02: more of the units'
    # activity is lost (the active fraction falls further) and the loss rises, in every
    # pair, so the exact signed-rank p-value is 2 / 2**8 for each.
    code, stdout, _ = run_cli(
        ["sweep", "compare", str(sweeps["weak"]), str(sweeps["strong"]), "--json"], capsys
    )
    assert code == 1
    result = json.loads(stdout)
    assert result["paired"] and result["config_differs"] == ["learner.update_noise"]
    tests = {t["column"]: t for t in result["tests"]}
    assert tests["active"]["verdict"] == "differ" and tests["active"]["shift"] < 0
    assert tests["loss"]["verdict"] == "differ" and tests["loss"]["shift"] > 0
    assert tests["active"]["p"] == pytest.approx(2 / 2**8)
    # the table for people names the verdict
    code, stdout, _ = run_cli(
        ["sweep", "compare", str(sweeps["weak"]), str(sweeps["strong"])], capsys
    )
    assert code == 1
    assert "learner.update_noise" in stdout and "differ" in stdout


def test_groups_too_small_to_decide_are_not_called_the_same_drift(sweeps, capsys):
    argv = ["sweep", "compare", str(sweeps["weak"]), str(sweeps["strong"]), "--min-runs", "9"]
    code, stdout, _ = run_cli(argv, capsys)
    assert code == 0
    last = stdout.strip().splitlines()[-1]
    assert last == "nothing decided: every group has fewer than 9 runs to compare (--min-runs)"
    assert "the same drift" not in stdout


def test_compare_needs_two_sweep_directories(sweeps, tmp_path, capsys):
    code, _, err = run_cli(["sweep", "compare", str(sweeps["weak"]), str(tmp_path)], capsys)
    assert code == 2
    assert_one_error_line(err, str(tmp_path))
    code, _, err = run_cli(["sweep", "compare", str(sweeps["weak"]), str(sweeps["weak"])], capsys)
    assert code == 2
    assert_one_error_line(err, "the same sweep")
    code, _, err = run_cli(
        ["sweep", "compare", str(sweeps["weak"]), str(sweeps["copy"]), "--alpha", "2"], capsys
    )
    assert code == 2
    assert_one_error_line(err, "alpha")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_compare_refuses_a_sweep_whose_runs_are_lost_or_unreadable_as_inspect_does(
    sweeps, tmp_path, capsys
):
    # Their table still calls them complete: compare used to compare them as they were
    # (exit 0), where `sweep inspect` refuses the sweep.
    gone, broken = tmp_path / "gone", tmp_path / "broken"
    shutil.copytree(sweeps["weak"], gone)
    shutil.rmtree(gone / "runs")
    shutil.copytree(sweeps["weak"], broken)
    (broken / "runs" / "r00003" / store.STATUS_FILE).write_text("{not json")
    for damaged, needles in (
        (gone, ["8 runs cannot be read", "r00000: runs/r00000 is gone"]),
        (broken, ["a run cannot be read", "r00003: ", "status.json"]),
    ):
        before = _files(damaged)
        code, _, inspect_err = run_cli(["sweep", "inspect", str(damaged)], capsys)
        assert code == 2
        for pair in ([damaged, sweeps["copy"]], [sweeps["copy"], damaged]):
            argv = ["sweep", "compare", *map(str, pair), "--min-runs", "2"]
            code, stdout, err = run_cli(argv, capsys)
            assert code == 2 and not stdout
            assert_one_error_line(err, f"sweep {damaged}:", *needles, "--repair")
            assert err == inspect_err  # the same refusal
        assert _files(damaged) == before


ROUNDING_SPEC = """
seed = 5
[base.task]
kind = "random"
samples = 5
d_in = 20
d_out = 5
[base.network]
hidden = 100
readout = "lazy"
[base.learner]
kind = "gd"
lr = 0.1
[base.record]
dense_until = 100
per_decade = 30
snapshots = 3
linear_snapshots = 5
hessian = "gauss_newton"
[base.run]
steps = 150000
[grid]
"task" = [{ kind = "random", samples = 5, d_in = 20, d_out = 5 },
          { kind = "smoothed", samples = 5, d_in = 20, d_out = 5 }]
"learner.update_noise" = { geomspace = [0.04, 0.1, 24] }
"""


@pytest.mark.slow
@pytest.mark.long
def test_the_same_runs_rounded_differently_show_the_same_drift(tmp_path, capsys):
    # What a GPU changes against a CPU is the rounding. Its analogue here: the same 48 runs
    # of Fig. 4B's shape in float32 and in float64. Their trajectories part (some summary
    # columns differ run by run), but the drift they show must not: no test differs
    # (measured at 1.5 x 10^5 steps, where the active units have fallen to ~0.2 of their
    # start: q >= 0.4 in all 8 tests, shifts up to 0.10 of a spread; 4.3 min on a slow
    # 2-core host, 8.5 at 3 x 10^5 steps).
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(ROUNDING_SPEC)
    for name, extra in (("f32", []), ("f64", ["--set", "run.dtype=float64"])):
        argv = ["sweep", str(spec_file), "--out", str(tmp_path / name), "--quiet", *extra]
        code, _, _ = run_cli([*argv, "--workers", "2"], capsys)
        assert code == 0
    code, stdout, _ = run_cli(
        ["sweep", "compare", str(tmp_path / "f32"), str(tmp_path / "f64"), "--json"], capsys
    )
    result = json.loads(stdout)
    assert result["paired"] and result["config_differs"] == ["run.dtype"]
    decided = [t for t in result["tests"] if t["verdict"] != "too few"]
    assert len(decided) >= 8
    assert code == 0 and result["agree"], [t for t in decided if t["verdict"] == "differ"]
    # not trivially equal: the runs did part
    assert any(t["shift"] != 0 for t in decided if t["column"] != "status")
