"""`repdrift infer`: features free of the time unit, a library built by the real sweep
engine (the `infer-library-tiny` preset, 27 runs, built once per module), training,
held-out prediction, model files, and one-line errors with exit status 2."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

import repdrift
from cli_helpers import assert_one_error_line, deny_writing, run_cli
from repdrift.cli import main
from repdrift.inference import evaluate, features, library, model, observe, predict
from repdrift.inference.errors import InferenceError
from repdrift.inference.features import Observations

# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """The `infer-library-tiny` preset run by the sweep engine (one process)."""
    from repdrift import sweep

    out = tmp_path_factory.mktemp("infer") / "tiny"
    result = sweep.run(preset="infer-library-tiny", out=out, workers=1)
    assert (result.table["status"] == "complete").all(), result.table["status"].tolist()
    return out


@pytest.fixture(scope="module")
def tiny_table(tiny_sweep):
    return library.library_table([tiny_sweep])


@pytest.fixture(scope="module")
def tiny_model(tiny_sweep, tmp_path_factory):
    """`repdrift infer train` on the tiny library, through the command line."""
    out = tmp_path_factory.mktemp("model") / "m"
    with pytest.raises(SystemExit) as info:
        main(["infer", "train", str(tiny_sweep), "--out", str(out), "--quiet"])
    assert info.value.code == 0
    return out


def _synthetic(rng: np.random.Generator, scale: float = 1.0) -> Observations:
    """Random but smooth time courses on irregular times, every time multiplied by
    ``scale`` (the same draws for every scale)."""
    t = np.sort(rng.uniform(0, 1000, 80))
    t[0] = 0.0
    snap = np.sort(rng.choice(t, 12, replace=False))
    decay = rng.uniform(0.5, 3)
    units = 0.3 + 0.7 * np.exp(-decay * t / 1000) + rng.normal(0, 0.01, t.size)
    activity = 0.5 * units**1.5
    loss = 1e-3 * (1 + 100 * np.exp(-t / 30)) * np.exp(rng.normal(0, 0.1, t.size))
    lag = np.unique(np.abs(snap[:, None] - snap[None, :]))[1:]
    corr = np.exp(-lag / 600)
    pairs = rng.integers(1, 5, lag.size)
    place = 0.2 + 0.3 * snap / 1000
    hess = {
        "trace": 5 * np.exp(-snap / 400),
        "max": 2 * np.exp(-snap / 800),
        "fraction_nonzero": 0.1 * (0.3 + 0.7 * np.exp(-decay * snap / 1000)),
    }
    return Observations(
        time=t * scale,
        units=units,
        activity=activity,
        loss=loss,
        start=90.0 * scale,
        snapshot_time=snap * scale,
        place=place,
        si=1 / place,
        rc=(lag * scale, corr, pairs),
        pv=(lag * scale, corr**2, pairs),
        hessian=hess,
    )


def _scaled(obs: Observations, c: float) -> Observations:
    def lags(series):
        return None if series is None else (series[0] * c, series[1], series[2])

    return dataclasses.replace(
        obs,
        time=obs.time * c,
        start=None if obs.start is None else obs.start * c,
        snapshot_time=None if obs.snapshot_time is None else obs.snapshot_time * c,
        rc=lags(obs.rc),
        pv=lags(obs.pv),
    )


# ------------------------------------------------------------------- feature maths


def test_curve_stats_of_an_exponential_and_a_parabola():
    u = np.linspace(0, 1, 101)
    stats = features.curve_stats(u, np.exp(-1.3 * u))  # log y = -1.3 u: a line
    assert stats["trend"] == pytest.approx(-1.3, abs=1e-9)
    assert stats["curvature"] == pytest.approx(0.0, abs=1e-9)
    assert stats["half"] == pytest.approx(0.5)
    assert stats["jitter"] == pytest.approx(0.0, abs=1e-9)
    stats = features.curve_stats(u, np.exp(u**2), floor=features.LOG_FLOOR)
    assert stats["curvature"] == pytest.approx(1.0, abs=1e-9)
    assert stats["half"] == pytest.approx(0.75, abs=0.05)  # u² = ½ at u ≈ 0.71
    flat = features.curve_stats(u, np.full(u.size, 0.4))
    assert math.isnan(flat["half"]) and flat["trend"] == pytest.approx(0.0, abs=1e-12)
    assert all(math.isnan(v) for v in features.curve_stats(u[:2], u[:2]).values())


def test_drift_stats_bins_and_ratios():
    lag = np.array([0.1, 0.2, 0.5, 0.9, 1.0])
    corr = np.array([0.9, 0.7, 0.5, 0.3, 0.1])
    stats = features.drift_stats(lag, corr, np.array([1, 3, 1, 1, 1]))
    assert stats["short"] == pytest.approx((0.9 + 3 * 0.7) / 4)
    assert stats["mid"] == pytest.approx(0.5)
    assert stats["long"] == pytest.approx(0.2)
    assert stats["long_ratio"] == pytest.approx(0.2 / stats["short"])
    assert stats["decay"] < 0


def test_tiers_nest_and_the_recording_tier_has_no_levels():
    assert set(features.RECORDING) < set(features.OBSERVABLES) < set(features.HESSIAN)
    assert not any(n.endswith(("__end", "__jitter")) for n in features.RECORDING)
    assert not any(n.startswith(("loss", "activity", "hess")) for n in features.RECORDING)
    assert not any(n.startswith("hess") for n in features.OBSERVABLES)


@pytest.mark.parametrize("scale", [1e-4, 0.37, 86_400.0, 1e7])
def test_features_do_not_depend_on_the_unit_of_time(scale):
    """Days or steps: multiplying every time by a constant changes no feature."""
    for seed in range(5):
        base = features.features(_synthetic(np.random.default_rng(seed)))
        scaled = features.features(_synthetic(np.random.default_rng(seed), scale))
        assert sum(np.isfinite(v) for v in base.values()) >= 45
        for name in features.FEATURES:
            np.testing.assert_allclose(
                scaled[name], base[name], rtol=1e-9, atol=1e-12, err_msg=name
            )


def test_a_feature_that_did_depend_on_time_would_be_caught():
    """The property test above can fail: a shifted window (not a rescaling) changes the
    features."""
    obs = _synthetic(np.random.default_rng(0))
    shifted = dataclasses.replace(obs, start=obs.start * 3)
    a, b = features.features(obs), features.features(shifted)
    assert any(not np.isclose(a[n], b[n], equal_nan=True) for n in features.FEATURES)


def test_window_start_scales_with_time():
    t = np.concatenate([np.arange(0, 100), np.geomspace(100, 20000, 200)])
    loss = 1e-3 + np.exp(-t / 50)
    start = observe.window_start(t, loss)
    assert 0 < start < 1000
    for c in (1e-3, 24.0, 1e5):
        assert observe.window_start(t * c, loss) == pytest.approx(start * c, rel=1e-12)
    # a loss that keeps falling by orders of magnitude (Adam) has solved its task early
    assert observe.window_start(t, np.exp(-t / 500)) < 0.2 * t[-1]


def test_features_of_a_stored_run_do_not_depend_on_the_unit_of_time(tiny_sweep):
    from repdrift import simulation

    run = simulation.open_run(tiny_sweep / "runs" / "r00000")
    obs = observe.run_observations(run)
    base = features.features(obs)
    assert np.isfinite(base["hess_trace__trend"]) and np.isfinite(base["rc__short"])
    scaled = features.features(_scaled(obs, 1 / 1500))  # steps -> fraction of the run
    for name in features.FEATURES:
        np.testing.assert_allclose(scaled[name], base[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_a_run_with_spectra_in_the_summary_windows_only_has_no_hessian_features(tmp_path):
    # Its Hessian curves would be fitted on the last tenth alone: other values than the
    # libraries' runs give, whose spectra cover the whole window.
    import repdrift

    common = [
        "run.steps=2000",
        "network.hidden=20",
        "record.hessian='exact'",
        "record.snapshots=6",
        "record.linear_snapshots=20",
        "learner.update_noise=0.02",
    ]
    values = {}
    for at in ("all", "windows"):
        cfg = repdrift.load_config(
            preset="random", overrides=[*common, f"record.hessian_at='{at}'"]
        )
        obs = observe.run_observations(repdrift.simulate(cfg, tmp_path / at))
        values[at] = (obs.hessian, features.features(obs))
    assert values["all"][0] is not None and np.isfinite(values["all"][1]["hess_trace__trend"])
    assert values["windows"][0] is None
    assert math.isnan(values["windows"][1]["hess_trace__trend"])
    assert features.missing_required(values["windows"][1], "hessian")
    assert values["windows"][1]["units__trend"] == values["all"][1]["units__trend"]


def test_conformal_halfwidth_and_calibration_error():
    residuals = np.arange(1, 10, dtype=float)  # 9 residuals, 90 %: the ⌈10·0.9⌉ = 9th
    assert model.conformal_halfwidth(-residuals, 0.9) == 9.0
    assert model.conformal_halfwidth(residuals, 0.5) == 5.0
    assert model.conformal_halfwidth(residuals[:3], 0.9) == math.inf
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    assert evaluate.expected_calibration_error(confidence, np.array([1, 1, 1, 0])) == (
        pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    )


# --------------------------------------------------------------- library and model


def test_library_rows_carry_the_runs_labels(tiny_table):
    t = tiny_table
    assert len(t) == 27
    assert t["rule"].value_counts().to_dict() == {"gd+update": 9, "gd+label": 9, "adam": 9}
    assert set(t["task"]) == {"random", "smoothed", "ring"}
    assert (t.loc[t["rule"] == "adam", "noise"].isna()).all()
    upd = t[t["rule"] == "gd+update"]
    assert ((upd["noise"] >= 0.25) & (upd["noise"] <= 0.4)).all()
    assert t["hess_trace__trend"].notna().all()
    ring = t[t["task"] == "ring"]
    assert ring["place__trend"].notna().all() and t.loc[t["task"] != "ring", "si__end"].isna().all()


def test_a_held_out_task_of_two_separable_rules_is_predicted_above_chance(tiny_table):
    """Update noise silences units, label noise keeps them: a model that never saw the
    ring task tells them apart on it (chance: 0.5)."""
    pair = tiny_table[tiny_table["rule"].isin(["gd+update", "gd+label"])]
    train, test = pair[pair["task"] != "ring"], pair[pair["task"] == "ring"]
    for tier in ("observables", "hessian"):
        tm = model.fit_tier(train, tier)
        p = tm.predict_proba(model.matrix(test, tm.features))
        predicted = np.asarray(tm.classes)[np.argmax(p, axis=1)]
        accuracy = np.mean(predicted == test["rule"].to_numpy())
        assert accuracy >= 5 / 6, (tier, predicted, test["rule"].tolist())
        assert np.allclose(p.sum(axis=1), 1.0)


def test_evaluation_protocols_hold_out_whole_tasks(tiny_table):
    folds = evaluate.splits(tiny_table, "task")
    assert [name for name, _, _ in folds] == ["random", "ring", "smoothed"]
    for name, train, test in folds:
        assert set(tiny_table.iloc[test]["task"]) == {name}
        assert name not in set(tiny_table.iloc[train]["task"])
    result = evaluate.evaluate(tiny_table, tiers=("observables",), protocols=("task",))
    m = result["protocols"]["task"]["observables"]
    assert m["runs"] == 27 and np.sum(m["confusion"]["counts"]) == 27
    assert m["accuracy"] > 0.6


def test_model_round_trip(tiny_table, tmp_path):
    fitted = model.fit(tiny_table)
    model.save(fitted, tmp_path, model.manifest_of(fitted, ["lib"], len(tiny_table)))
    loaded, manifest = model.load(tmp_path)
    assert manifest["tiers"]["hessian"]["features"] == list(features.HESSIAN)
    assert manifest["classes"] == ["adam", "gd+label", "gd+update"]
    for tier, tm in fitted.tiers.items():
        x = model.matrix(tiny_table, tm.features)
        np.testing.assert_array_equal(loaded.tiers[tier].predict_proba(x), tm.predict_proba(x))
        for rule, nm in tm.noise.items():
            np.testing.assert_array_equal(
                loaded.tiers[tier].noise[rule].predict(x)[0], nm.predict(x)[0]
            )


# ----------------------------------------------------------------------- the command


def test_train_writes_the_model_folder(tiny_model):
    names = {p.name for p in tiny_model.iterdir()}
    assert {
        "model.joblib",
        "manifest.json",
        "library.parquet",
        "evaluation.json",
        "predictions.parquet",
        "confusion.png",
        "confusion.pdf",
        "noise.png",
    } <= names
    ev = json.loads((tiny_model / "evaluation.json").read_text())
    assert set(ev["protocols"]) >= {"random", "task"}
    assert ev["protocols"]["task"]["hessian"]["accuracy"] >= 0.6
    assert ev["runs_per_task"] == {"random": 9, "smoothed": 9, "ring": 9}


def test_predict_a_run(tiny_model, tiny_sweep, capsys):
    code, out, err = run_cli(
        ["infer", "predict", tiny_model, tiny_sweep / "runs" / "r00001"], capsys
    )
    assert code == 0, err
    assert "hessian tier" in out and "most likely" in out and "σ_u" in out
    assert "true (from the run's config): gd+update" in out
    code, out, _ = run_cli(
        [
            "infer",
            "predict",
            tiny_model,
            tiny_sweep / "runs" / "r00001",
            "--tier",
            "recording",
            "--json",
        ],
        capsys,
    )
    record = json.loads(out)
    (p,) = record["predictions"]
    assert p["tier"] == "recording"
    assert sum(p["probabilities"].values()) == pytest.approx(1.0)
    lo, hi = p["noise"]["gd+update"]["interval"]
    assert lo < p["noise"]["gd+update"]["estimate"] < hi
    # the run's own σ_u (it is one of the training runs) lies in the stated interval
    sigma = repdrift.open_run(tiny_sweep / "runs" / "r00001").config.learner.update_noise
    assert lo <= sigma <= hi, (sigma, lo, hi)


def test_a_damaged_run_of_a_sweep_is_left_out_with_a_note(tiny_model, tiny_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(tiny_sweep, sweep)
    (chunk,) = (sweep / "runs" / "r00003" / "store").glob("g*/metrics.zarr/loss/c/0")
    chunk.write_bytes(chunk.read_bytes()[:10])  # cut short
    # (the table says all but two are unfinished: those two are all that is read)
    table = pd.read_parquet(sweep / "runs.parquet")
    table.loc[~table["run"].isin(["r00003", "r00004"]), "status"] = "partial"
    table.to_parquet(sweep / "runs.parquet")
    target = predict.resolve(sweep)
    assert [i.name for i in target.items] == ["r00004"]
    unfinished, damaged = target.notes
    assert unfinished == "25 of 27 runs are not complete: left out"
    assert damaged.startswith("r00003 left out: ") and "corrupt" in damaged, damaged


def test_noise_metrics_on_hand_values():
    # true σ against estimates off by factors 1, 1.2, 2 and 1/1.6; the fifth run (true 0)
    # has no log and is left out
    true = np.array([1e-2, 1e-2, 1e-3, 1e-1, 0.0])
    centre = np.array([1e-2, 1.2e-2, 2e-3, 1e-1 / 1.6, 1e-3])
    low = np.array([5e-3, 1.3e-2, 1e-3, 5e-2, 0.0])  # the second interval misses its truth
    high = np.array([2e-2, 2e-2, 4e-3, 2e-1, 1.0])
    got = evaluate.noise_metrics(true, centre, low, high)
    assert got["runs"] == 4
    # log10 truths -2, -2, -3, -1 (mean -2, sum of squares about it 2); errors in log10
    # 0, log 1.2, log 2, log 1.6
    errors = np.log10([1.0, 1.2, 2.0, 1.6])
    assert got["r2_log10"] == pytest.approx(1 - np.sum(errors**2) / 2.0, rel=1e-12)
    assert got["within_factor"] == 0.5  # 1 and 1.2 are within ×1.5; 2 and 1.6 are not
    assert got["median_factor_off"] == pytest.approx(math.sqrt(1.2 * 1.6), rel=1e-12)
    assert got["interval_coverage"] == 0.75


def test_predict_a_sweep(tiny_model, tiny_sweep, capsys):
    code, out, _ = run_cli(["infer", "predict", tiny_model, tiny_sweep, "--json"], capsys)
    assert code == 0
    record = json.loads(out)
    assert record["kind"] == "sweep" and len(record["predictions"]) == 27
    assert record["accuracy"] > 0.6  # the model saw these runs: a check of the plumbing


def _sessions(folder, *, drift=True, names=(("M1", "A"), ("M2", "A"))):
    """A sessions table and drift.csv in the layout of `repdrift data analyze`."""
    rows, pairs = [], []
    for (animal, track), slope in zip(names, (-0.05, 0.02), strict=True):
        for s in range(1, 7):
            rows.append(
                {
                    "animal": animal,
                    "track": track,
                    "session": s,
                    "day": 2.0 * s,
                    "fraction_active": 0.8 * math.exp(slope * s),
                    "fraction_place": 0.4 + 0.02 * s,
                    "mean_si_ssr": 1.0 + 0.05 * s,
                    "mean_si_naive": 1.5,
                }
            )
            pairs += [
                {
                    "animal": animal,
                    "track": track,
                    "elapsed_days": 2.0 * d,
                    "mean_correlation": 0.6 - 0.04 * d,
                }
                for d in range(1, 7 - s)
            ]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "sessions.csv", index=False)
    pd.DataFrame(rows).to_parquet(folder / "sessions.parquet")
    if drift:
        pd.DataFrame(pairs).to_csv(folder / "drift.csv", index=False)
    return folder / "sessions.csv"


def test_series_named_by_numbers_keep_their_names_and_find_their_drift(tmp_path):
    # Animal "007", track "1": a CSV read as numbers would name the series 7/1 and its
    # drift.csv rows would not match the Parquet table's text "1".
    table = _sessions(tmp_path / "a", names=(("007", "1"), ("M2", "02")))
    for sessions in (table, table.with_name("sessions.parquet")):
        target = predict.resolve(sessions)
        assert [i.name for i in target.items] == ["007/1", "M2/02"], sessions.name
        for item in target.items:
            assert np.isfinite(item.values["rc__long_ratio"]), (sessions.name, item.name)
        assert target.notes == []
    # A series that drift.csv lacks is named in a note.
    drift = pd.read_csv(table.with_name("drift.csv"), dtype=str)
    drift[drift["animal"] != "007"].to_csv(table.with_name("drift.csv"), index=False)
    target = predict.resolve(table.with_name("sessions.parquet"))
    assert np.isnan(target.items[0].values["rc__long_ratio"])
    assert target.notes == [
        "drift.csv has no rate-map correlations of 007/1: their drift features are missing"
    ]


def test_predict_a_sessions_table_prints_the_caveat(tiny_model, tmp_path, capsys):
    table = _sessions(tmp_path / "analysis")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = run_cli(["infer", "predict", tiny_model, table], capsys)
    assert code == 0, err
    assert "M1/A" in out and "M2/A" in out and "recording tier" in out
    assert "Hessian tier is unavailable" in out and "time axis is sessions" in out
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    items = predict.resolve(table).items
    assert np.isfinite(items[0].values["rc__long_ratio"])
    assert items[0].values["units__trend"] == pytest.approx(-0.05 * 5, rel=1e-9)  # u = (day-2)/10


def test_bad_inputs_exit_2_with_one_line_and_write_nothing(
    tiny_model, tiny_sweep, tmp_path, capsys
):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["infer", "predict", empty, tiny_sweep], ["not a model folder"]),
        (["infer", "predict", tiny_sweep, tiny_sweep], ["not a model folder"]),
        (["infer", "predict", tiny_model, empty], ["not a run, a sweep or a sessions table"]),
        (["infer", "predict", tiny_model, tmp_path / "nope"], ["does not exist"]),
        (
            ["infer", "predict", tiny_model, tiny_model / "manifest.json"],
            ["not a run, a sweep or a sessions table"],
        ),
        (
            ["infer", "predict", tiny_model, tiny_model / "library.parquet"],
            ["missing columns", "fraction_active"],
        ),
        (
            ["infer", "predict", tiny_model, _sessions(tmp_path / "a"), "--tier", "hessian"],
            ["lacks features the hessian tier needs"],
        ),
        (["infer", "predict", tiny_model, tiny_sweep, "--tier", "best"], ["unknown tier"]),
        (["infer", "train", empty, "--out", tmp_path / "m"], ["not a repdrift sweep"]),
        (
            ["infer", "train", tiny_model / "manifest.json", "--out", tmp_path / "m"],
            ["neither a sweep directory nor a library.parquet"],
        ),
        (["infer", "train", tiny_sweep, "--out", tiny_sweep], ["not empty"]),
        (["infer", "train", tmp_path / "nope", "--out", tmp_path / "m"], ["nope does not exist"]),
        (
            ["infer", "train", tiny_model / "library.parquet", tiny_sweep, "--out", tmp_path / "m"],
            ["one library.parquet alone"],
        ),
        # scikit-learn's seeds are 32-bit: a larger one is refused before training
        (["infer", "train", tiny_sweep, "--out", tmp_path / "m", "--seed", 2**32], ["--seed"]),
    ]
    for argv, needles in cases:
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv, out, err)
        assert_one_error_line(err, *needles)
        assert not (tmp_path / "m").exists()


def test_sessions_tables_with_a_cell_that_is_not_a_number_name_the_file_and_column(
    tiny_model, tmp_path, capsys
):
    def edit(name, file, column, row, value):
        table = _sessions(tmp_path / name)
        path = table.with_name(file)
        frame = pd.read_csv(path)
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        if file.endswith(".parquet"):
            frame.to_parquet(path)
            table.unlink()
            return path
        frame.to_csv(path, index=False)
        return table

    cases = [
        (edit("a", "sessions.csv", "day", 3, "x"), "sessions.csv: column 'day'", "row 4"),
        (edit("b", "sessions.csv", "fraction_active", 0, "x"), "column 'fraction_active'", "'x'"),
        (edit("c", "sessions.csv", "mean_si_ssr", 2, "?"), "column 'mean_si_ssr'", "row 3"),
        (edit("d", "drift.csv", "mean_correlation", 1, "x"), "drift.csv: column 'mean_corr"),
        (edit("e", "drift.csv", "elapsed_days", 0, "one"), "drift.csv: column 'elapsed_days'"),
    ]
    table = _sessions(tmp_path / "f")
    frame = pd.read_csv(table).astype({"day": str})
    frame.loc[0, "day"] = "x"
    frame.to_parquet(table.with_name("sessions.parquet"))
    cases.append((table.with_name("sessions.parquet"), "sessions.parquet: column 'day'"))
    for target, *needles in cases:
        before = sorted(p.name for p in tmp_path.rglob("*"))
        code, out, err = run_cli(["infer", "predict", tiny_model, target], capsys)
        assert code == 2, (target, out, err)
        assert_one_error_line(err, str(target.parent), "must hold numbers", *needles)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before
    # A drift.csv that is a folder is named, not taken for a missing file.
    table = _sessions(tmp_path / "g")
    table.with_name("drift.csv").unlink()
    table.with_name("drift.csv").mkdir()
    code, out, err = run_cli(["infer", "predict", tiny_model, table], capsys)
    assert code == 2, (out, err)
    assert_one_error_line(err, str(table.with_name("drift.csv")), "is not a file")


def test_model_and_library_paths_that_are_not_utf8(tiny_model, tmp_path, capsys):
    # Python keeps a byte that is not UTF-8 as a lone surrogate, which pyarrow cannot
    # open: the Parquet files are read and written through Python's own files
    byte = b"\xff".decode("utf-8", "surrogateescape")
    source = tmp_path / f"library{byte}.parquet"
    shutil.copy(tiny_model / "library.parquet", source)
    out = tmp_path / f"model{byte}"
    argv = ["infer", "train", source, "--out", out, "--no-evaluate", "--quiet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert (out / "library.parquet").stat().st_size > 0
    code, _, err = run_cli(["infer", "predict", out, _sessions(tmp_path / "s"), "--json"], capsys)
    assert code == 0, err


def test_inference_error_survives_pickling():
    import pickle

    error = InferenceError("model m: manifest.json is corrupt")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is InferenceError and str(again) == str(error)
    assert again.args == error.args


def test_a_model_folder_that_may_not_be_written_is_refused_and_kept(
    tiny_model, tiny_sweep, tmp_path, capsys, monkeypatch
):
    # Replacing a folder needs only its parent writable: a read-only model would be
    # renamed aside and replaced. The tests may run as root, whom permissions do not stop:
    # the refusal is tested through what the operating system answers.
    kept = tmp_path / "kept"
    shutil.copytree(tiny_model, kept)
    empty = tmp_path / "empty"
    empty.mkdir()
    before = {p.name: p.stat().st_mtime_ns for p in kept.iterdir()}
    inode = kept.stat().st_ino
    deny_writing(monkeypatch, "kept", "empty")
    for folder, *extra in [(kept, "--overwrite"), (empty,)]:
        argv = ["infer", "train", tiny_sweep, "--out", folder, "--quiet", "--no-evaluate"]
        code, _, err = run_cli([*argv, *extra], capsys)
        assert code == 2, err
        assert_one_error_line(err, f"--out {folder}: no permission to write in it")
    assert kept.stat().st_ino == inode
    assert {p.name: p.stat().st_mtime_ns for p in kept.iterdir()} == before
    assert list(empty.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "kept"]


def test_overwrite_replaces_a_model_folder_and_nothing_else(
    tiny_model, tmp_path, capsys, monkeypatch
):
    library_file = tiny_model / "library.parquet"
    train = ["infer", "train", library_file, "--no-evaluate", "--quiet", "--overwrite"]
    # A folder of someone else's that happens to hold a manifest.json is not a model.
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "manifest.json").write_text('{"name": "app"}')
    (project / "src" / "thesis.tex").write_text("years of work")
    code, _, err = run_cli([*train, "--out", project], capsys)
    assert code == 2, err
    assert_one_error_line(err, "project", "is not a model folder", "refusing to replace it")
    assert (project / "src" / "thesis.tex").read_text() == "years of work"

    # A whole evaluated model (every file train writes) is replaced ...
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    assert (copy / "evaluation.json").is_file()
    code, _, err = run_cli([*train, "--out", copy], capsys)
    assert code == 0, err
    assert (copy / "model.joblib").is_file() and not (copy / "evaluation.json").exists()
    # ... but not once a file of the user's is added to it.
    (copy / "mine.txt").write_text("mine")
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    code, _, err = run_cli([*train, "--out", copy], capsys)
    assert code == 2, err
    assert_one_error_line(err, "did not write (mine.txt)")
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before

    # The current folder (given as ".") is refused before training, not after it.
    monkeypatch.chdir(copy)
    code, _, err = run_cli([*train, "--out", "."], capsys)
    assert code == 2, err
    assert_one_error_line(err, "the current folder")
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "project"]


def test_a_model_folder_that_cannot_be_created_is_said_before_training(
    tiny_model, tmp_path, capsys, monkeypatch
):
    def must_not_train(*args, **kwargs):
        raise AssertionError("the library was read before --out was checked")

    monkeypatch.setattr("repdrift.inference.train.read_library", must_not_train)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "locked").mkdir()
    deny_writing(monkeypatch, "locked")
    for out, needle in [
        (tmp_path / "afile" / "m", "afile is a file, not a directory"),
        (tmp_path / "locked" / "m", "no permission to create it in"),
    ]:
        argv = ["infer", "train", tiny_model / "library.parquet", "--out", out, "--quiet"]
        code, _, err = run_cli(argv, capsys)
        assert code == 2, err
        assert_one_error_line(err, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "locked"]
    assert list((tmp_path / "locked").iterdir()) == []


def test_a_corrupt_or_foreign_model_is_refused(tiny_model, tiny_sweep, tmp_path, capsys):
    target = tiny_sweep / "runs" / "r00000"
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    with open(broken / "model.joblib", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00garbage\x00")
    code, _, err = run_cli(["infer", "predict", broken, target], capsys)
    assert code == 2
    assert_one_error_line(err, "does not match its manifest")
    shutil.copy(tiny_model / "model.joblib", broken / "model.joblib")
    (broken / "manifest.json").write_text("{not json")
    code, _, err = run_cli(["infer", "predict", broken, target], capsys)
    assert code == 2
    assert_one_error_line(err, "manifest.json is corrupt")
    manifest = json.loads((tiny_model / "manifest.json").read_text())
    manifest["versions"]["scikit-learn"] = "0.1"
    (broken / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run_cli(["infer", "predict", broken, target], capsys)
    assert code == 2
    assert_one_error_line(err, "trained with scikit-learn 0.1")
    manifest["versions"] = [1]  # edited into the wrong shape
    (broken / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run_cli(["infer", "predict", broken, target], capsys)
    assert code == 2
    assert_one_error_line(err, "manifest.json is corrupt", "versions")
    good = json.loads((tiny_model / "manifest.json").read_text())
    for key, edit in (
        ("classes", lambda m: m["classes"].reverse()),
        ("tiers", lambda m: m["tiers"].popitem()),
        ("tiers", lambda m: next(iter(m["tiers"].values()))["features"].pop()),
        ("seed", lambda m: m.update(seed=m["seed"] + 1)),
    ):
        manifest = json.loads(json.dumps(good))
        edit(manifest)
        (broken / "manifest.json").write_text(json.dumps(manifest))
        code, _, err = run_cli(["infer", "predict", broken, target], capsys)
        assert code == 2
        assert_one_error_line(err, "does not describe model.joblib", repr(key))
    # the unedited manifest loads (only the checked entries were changed above)
    (broken / "manifest.json").write_text(json.dumps(good))
    assert run_cli(["infer", "predict", broken, target], capsys)[0] == 0


def test_training_needs_two_rules(tiny_table):
    with pytest.raises(InferenceError, match="at least two"):
        model.fit(tiny_table[tiny_table["rule"] == "adam"])


def test_retrain_from_a_library_table(tiny_model, tmp_path, capsys):
    out = tmp_path / "again"
    code, _, err = run_cli(
        [
            "infer",
            "train",
            tiny_model / "library.parquet",
            "--out",
            out,
            "--no-evaluate",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    assert (out / "model.joblib").is_file() and not (out / "evaluation.json").exists()
