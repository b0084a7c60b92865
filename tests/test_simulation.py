"""One pipeline for one run and a batch: seeds, numerics, stored values, batches, restarts."""

import json
import os
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

import repdrift
from repdrift import network, simulation, store
from repdrift.config import ConfigError
from repdrift.metrics import hessian, sparsity, tuning

SMALL = ["run.steps=300", "record.snapshots=3", "record.per_decade=5", "network.hidden=20"]


def _cfg(*overrides, preset="random"):
    return repdrift.load_config(preset=preset, overrides=[*SMALL, *overrides])


def test_seeds_use_all_64_bits_and_small_seeds_are_jax_keys():
    a = simulation.make_dataset(_cfg("run.seed=1"))
    b = simulation.make_dataset(_cfg(f"run.seed={2**32 + 1}"))
    assert not np.allclose(a.inputs, b.inputs)
    top = simulation.make_dataset(_cfg(f"run.seed={2**64 - 1}"))
    assert np.isfinite(top.inputs).all()
    np.testing.assert_array_equal(
        jax.random.key_data(simulation.seed_key(7)), jax.random.key_data(jax.random.key(7))
    )
    with pytest.raises(ConfigError, match=r"run\.seed"):
        simulation.seed_key(2**64)


def test_a_float64_run_draws_the_same_task_and_leaves_the_process_in_float32(tmp_path):
    r64 = repdrift.simulate(_cfg("run.dtype='float64'"), tmp_path / "r64")
    assert jax.config.jax_enable_x64 is False or jax.config.jax_enable_x64 == 0
    r32 = repdrift.simulate(_cfg(), tmp_path / "r32")
    np.testing.assert_array_equal(r64.dataset.inputs, r32.dataset.inputs)
    assert r64.snapshots["W1"].dtype == np.float64 and r32.snapshots["W1"].dtype == np.float32
    # Same start: the initial parameters agree to float32 precision.
    np.testing.assert_allclose(
        r64.snapshots["W1"].values[0], r32.snapshots["W1"].values[0], rtol=1e-6, atol=1e-7
    )
    # A float32 computation after the float64 run is float32.
    assert jax.numpy.ones(2).dtype == np.float32


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu"])
def test_signed_activations_measure_the_positive_part_of_the_activity(tmp_path, activation):
    # Rate maps, SI and Treves-Rolls sparseness need non-negative rates: a run with one of
    # the offered signed activations used to fail at its first snapshot, after its folder
    # (or, with --overwrite, the run it replaced) was written.
    cfg = repdrift.load_config(
        preset="ring", overrides=[*SMALL, f"network.activation='{activation}'"]
    )
    run = repdrift.simulate(cfg, tmp_path / activation)
    assert store.read_status(tmp_path / activation).status == "complete"
    ds = run.dataset
    for i in range(run.snapshots.sizes["step"]):
        params = {k: run.snapshots[k].values[i] for k in ("W1", "b1", "W2")}
        # by hand, in NumPy: the activity and its positive part
        pre = ds.inputs @ params["W1"].T + params["b1"]
        act = np.tanh(pre) if activation == "tanh" else np.where(pre > 0, pre, 0.01 * pre)
        assert (act < 0).any()  # the activity is signed: the case tested is met
        rates = np.maximum(act, 0)
        tr = (rates.mean(1) ** 2) / (rates**2).mean(1)
        assert float(run.snapshots["population_sparseness"].values[i]) == pytest.approx(
            np.nanmean(tr), rel=1e-4
        )
        si = run.snapshots["si_bits_per_activity"].values[i]
        assert np.all(si[np.isfinite(si)] >= 0) and np.isfinite(si).any()


def test_stored_values_are_the_metric_functions_on_stored_parameters(tmp_path):
    cfg = repdrift.load_config(
        preset="ring",
        overrides=[*SMALL, "record.hessian='exact'", "learner.update_noise=0.05"],
    )
    run = repdrift.simulate(cfg, tmp_path / "ring")
    ds = run.dataset
    for i, step in enumerate(run.snapshots["step"].values):
        params = {k: run.snapshots[k].values[i] for k in ("W1", "b1", "W2")}
        _, hidden = network.apply(params, ds.inputs)
        hidden = np.asarray(hidden, np.float64)
        at = run.metrics.sel(step=step)
        assert float(at["active_fraction"]) == pytest.approx(
            sparsity.active_fraction(hidden), abs=1e-6
        )
        assert float(at["fraction_active_units"]) == pytest.approx(
            sparsity.fraction_active_units(hidden), abs=1e-6
        )
        maps = tuning.rate_maps(
            hidden,
            ds.position,
            ds.direction,
            bins=cfg.record.bins,
            range=simulation.track_range(cfg, ds),
        )
        si = tuning.spatial_information(maps)
        np.testing.assert_allclose(run.snapshots["si_bits_per_activity"].values[i], si, rtol=1e-5)
        active = sparsity.active_units(hidden)
        place = active & tuning.place_units(si, cfg.record.si_threshold)
        assert int(run.snapshots["place_units"].values[i]) == place.sum()
        # Every snapshot of this run has place units (18-20 of 20), so the mean-SI check
        # below is never skipped.
        assert place.any()
        assert float(run.snapshots["mean_si_place_units"].values[i]) == pytest.approx(
            si[place].mean(), rel=1e-5
        )
        assert float(run.snapshots["mean_si_active_units"].values[i]) == pytest.approx(
            np.nanmean(si[active]), rel=1e-5
        )
        ev = hessian.hessian_eigenvalues(
            {k: v.astype(np.float64) for k, v in params.items()}, ds.inputs, ds.targets
        )
        # Each stored name holds its own field (the five are zipped by position), and the
        # fields are the spectrum's own sum, maximum, log-sum and count.
        summary = hessian.hessian_summary(ev)
        stored = {
            name: float(run.snapshots[f"hessian_{name}"].values[i])
            for name in ("trace", "max", "log_sum", "n_nonzero", "fraction_nonzero")
        }
        for name, value in stored.items():
            assert value == pytest.approx(getattr(summary, name), rel=1e-9), name
        nonzero = np.abs(ev) > 1e-10 * np.abs(ev).max()
        assert stored["trace"] == pytest.approx(np.sum(ev), rel=1e-9)
        assert stored["max"] == pytest.approx(np.max(ev), rel=1e-9)
        assert stored["log_sum"] == pytest.approx(np.sum(np.log(np.abs(ev[nonzero]))), rel=1e-9)
        assert stored["n_nonzero"] == nonzero.sum()
        assert stored["fraction_nonzero"] == pytest.approx(nonzero.sum() / ev.size, rel=1e-12)


def test_a_run_in_a_padded_batch_equals_the_run_alone(tmp_path):
    shapes = [
        ("task.d_in=20", "task.samples=10"),
        ("task.d_in=7", "task.samples=5"),
        ("task.d_out=4", "task.samples=8"),
    ]
    configs = [
        _cfg(*s, f"run.seed={i}", "run.dtype='float64'", "learner.update_noise=0.03")
        for i, s in enumerate(shapes)
    ]
    assert len({simulation.batch_key(c) for c in configs}) == 1
    batch = simulation.simulate_batch(configs, [tmp_path / f"b{i}" for i in range(3)])
    for i in (1, 2):
        alone = repdrift.simulate(configs[i], tmp_path / f"a{i}")
        for name in ("loss", "active_fraction", "fraction_active_units"):
            np.testing.assert_allclose(
                batch[i].metrics[name].values, alone.metrics[name].values, rtol=1e-9, atol=1e-12
            )
        np.testing.assert_allclose(
            batch[i].snapshots["W2"].values, alone.snapshots["W2"].values, rtol=1e-9, atol=1e-12
        )
    with pytest.raises(ConfigError, match="batch_key"):
        simulation.simulate_batch(
            [configs[0], _cfg("learner.kind='adam'")], [tmp_path / "x", tmp_path / "y"]
        )


def test_snapshots_measured_in_threads_are_the_same_records(tmp_path):
    # a batch's snapshots (exact Hessian spectra) measured by 3 threads at once, and in
    # turn; float64, whose 64-bit JAX context is the calling thread's
    configs = [
        _cfg(
            f"run.seed={i}",
            "record.hessian='exact'",
            "learner.update_noise=0.03",
            "run.dtype='float64'",
        )
        for i in range(4)
    ]
    one = simulation.simulate_batch(configs, [tmp_path / f"one{i}" for i in range(4)])
    three = simulation.simulate_batch(
        configs, [tmp_path / f"three{i}" for i in range(4)], snapshot_threads=3
    )
    for a, b in zip(one, three, strict=True):
        assert a.snapshots.sizes["step"] == 3 and "hessian_trace" in a.snapshots
        assert a.snapshots.equals(b.snapshots) and a.metrics.equals(b.metrics)
    with pytest.raises(ValueError, match="snapshot_threads"):
        simulation.simulate_batch(configs, [tmp_path / "x"] * 4, snapshot_threads=0)


def test_giving_back_compiled_programs_changes_no_record(tmp_path):
    from repdrift.cores import release_compiled

    configs = [
        _cfg("task.d_in=9", "task.samples=6", "run.seed=3", "learner.update_noise=0.03"),
        _cfg("task.d_in=5", "task.samples=4", "run.seed=4", "learner.update_noise=0.03"),
    ]
    kept = simulation.simulate_batch(configs, [tmp_path / f"k{i}" for i in range(2)])
    square = jax.jit(lambda x: x * x)
    square(np.ones(3, np.float32))
    assert square._cache_size() == 1
    release_compiled()
    assert square._cache_size() == 0  # JAX's caches are emptied
    released = simulation.simulate_batch(
        configs, [tmp_path / f"r{i}" for i in range(2)], release=True
    )
    for a, b in zip(kept, released, strict=True):
        assert a.metrics.equals(b.metrics)  # bit for bit
        assert a.snapshots.equals(b.snapshots)


def test_compilation_caches_of_killed_workers_are_removed(tmp_path):
    import subprocess
    import sys

    from repdrift.cores import _remove_orphan_caches

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = tmp_path / f"repdrift-jax-cache-{int(gone.stdout)}-abc"
    alive = tmp_path / f"repdrift-jax-cache-{os.getpid()}-def"
    other = tmp_path / "repdrift-jax-cache-notapid-x"
    for path in (dead, alive, other):
        path.mkdir()
        (path / "entry-cache").write_bytes(b"x")
    _remove_orphan_caches(tmp_path)
    assert not dead.exists() and alive.exists() and other.exists()


class _Stop(Exception):
    pass


def test_the_run_directory_exists_before_training_and_resume_finishes_it(tmp_path):
    cfg = _cfg("learner.update_noise=0.02", "run.seed=5")
    seen = {}

    def progress(step, total, metrics):
        # Before the first checkpoint: configuration, dataset and status are on disk.
        seen["status"] = json.loads((tmp_path / "r" / "status.json").read_text())["status"]
        seen["files"] = sorted(p.name for p in (tmp_path / "r").iterdir())
        raise _Stop

    with pytest.raises(_Stop):
        repdrift.simulate(cfg, tmp_path / "r", progress=progress)
    assert seen["status"] == "starting"
    assert {"config.toml", "dataset.npz", "status.json"} <= set(seen["files"])
    assert store.read_status(tmp_path / "r").status == "partial"  # nobody holds it now
    resumed = repdrift.resume(tmp_path / "r")
    whole = repdrift.simulate(cfg, tmp_path / "whole")
    assert resumed.status.status == "complete"
    np.testing.assert_array_equal(resumed.metrics["loss"].values, whole.metrics["loss"].values)


def test_silent_runs_stop_where_they_fell_silent_alone_in_a_batch_and_after_a_resume(tmp_path):
    """Runs whose units all fall silent under strong update noise: stored as ``silent``
    with the step of the record that showed it (``steps_done``, the last record), the same
    alone, in a batch with a healthy run, and continued after a stop in the middle."""
    noises = [(2, 1.0), (3, 1.5), (5, 0.02)]
    configs = [
        _cfg(
            "run.steps=2000",
            "network.hidden=4",
            "learner.lr=0.05",
            "run.dtype='float64'",
            f"learner.update_noise={s}",
            f"run.seed={seed}",
        )
        for seed, s in noises
    ]
    whole = simulation.simulate_batch(configs, [tmp_path / f"w{i}" for i in range(3)])
    assert [r.status.status for r in whole] == ["silent", "silent", "complete"]
    for run in whole[:2]:
        last = int(run.metrics["step"].values[-1])
        assert run.status.steps_done == last < 2000
        assert run.status.message == f"silent at step {last}"
        assert float(run.metrics["fraction_active_units"].values[-1]) == 0.0
        assert (run.metrics["fraction_active_units"].values[:-1] > 0).all()
    assert whole[2].status.steps_done == 2000

    parts = [tmp_path / f"p{i}" for i in range(3)]
    simulation.simulate_batch(configs, parts, stop_after=800)  # between the two silences
    # The silent run stays with its mates (stored as partial) until the batch ends.
    assert [store.read_status(p).status for p in parts] == ["partial"] * 3
    assert repdrift.open_run(parts[1]).metrics["step"].values[-1] == whole[1].status.steps_done
    resumed = simulation.resume_batch(parts)
    alone = [repdrift.simulate(c, tmp_path / f"a{i}") for i, c in enumerate(configs)]
    for w, r, a in zip(whole, resumed, alone, strict=True):
        for other in (r, a):
            assert other.status.status == w.status.status
            assert other.status.steps_done == w.status.steps_done
            np.testing.assert_array_equal(other.metrics["step"].values, w.metrics["step"].values)
            np.testing.assert_allclose(
                other.metrics["loss"].values, w.metrics["loss"].values, rtol=1e-9
            )


def test_a_sweep_run_in_this_process_leaves_jax_cache_settings_as_they_were(tmp_path):
    # `--workers 1` runs the sweep in the calling process with a compilation cache on
    # disk; a Python session that ran one must not go on writing compilations there.
    import repdrift.sweep
    from repdrift import cores

    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[base.task]\nkind = "random"\nsamples = 4\nd_in = 3\nd_out = 2\n'
        "[base.network]\nhidden = 8\n[base.run]\nsteps = 20\n"
        '[grid]\n"learner.lr" = [0.1, 0.2]\n'
    )
    before = {name: getattr(jax.config, name) for name in cores._CACHE_SETTINGS}
    during = []
    with cores.caching_compiled() as path:
        during.append(jax.config.jax_compilation_cache_dir)
    assert during == [path] and Path(path).is_dir()
    assert {name: getattr(jax.config, name) for name in cores._CACHE_SETTINGS} == before
    result = repdrift.sweep.run(spec, out=tmp_path / "s", workers=1)
    assert (result.table["status"] == "complete").all()
    assert {name: getattr(jax.config, name) for name in cores._CACHE_SETTINGS} == before


def test_sweep_workers_share_a_gpu_unless_told_how_to_take_its_memory(monkeypatch):
    from repdrift import cores

    for name in cores._GPU_MEMORY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert cores.share_accelerator()
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE")
    monkeypatch.setenv("XLA_CLIENT_MEM_FRACTION", ".2")  # the user's choice stands
    assert not cores.share_accelerator()
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in os.environ


def test_hessian_at_windows_computes_the_spectra_the_summary_reads_and_nothing_else(tmp_path):
    from repdrift.sweep import summary

    common = [
        "run.steps=2000",
        "record.hessian='exact'",
        "record.snapshots=6",
        "record.linear_snapshots=20",
        "learner.update_noise=0.02",
    ]
    full = repdrift.simulate(_cfg(*common), tmp_path / "runs" / "all")
    win = repdrift.simulate(_cfg(*common, "record.hessian_at='windows'"), tmp_path / "runs" / "win")
    # training and the other snapshot metrics are untouched
    np.testing.assert_array_equal(full.metrics["loss"].values, win.metrics["loss"].values)
    np.testing.assert_array_equal(full.snapshots["W1"].values, win.snapshots["W1"].values)
    steps = full.snapshots["step"].values
    mask = summary.hessian_window_mask(steps)
    assert 0 < mask.sum() < steps.size
    for name in simulation.HESSIAN_METRICS:
        got = win.snapshots[name].values.astype(float)
        want = full.snapshots[name].values.astype(float)
        np.testing.assert_array_equal(got[mask], want[mask])
        assert np.isnan(got[~mask]).all()
    a, b = summary.summarise_run(full), summary.summarise_run(win)
    for name in ("eig_sum", "eig_max", "eig_nonzero"):
        assert np.isfinite(a[name]) and a[name] == b[name]
    # the sweep figures' time courses draw no line across the gap
    import pandas as pd

    from repdrift.experiments import sweep_runs

    table = pd.DataFrame({"run": ["all", "win"], "group": ["g", "g"], "status": "complete"})
    courses = sweep_runs.time_courses(tmp_path, table, (), ("hessian_trace",))
    c_all, c_win = (courses[courses["run"] == r]["value"].to_numpy() for r in ("all", "win"))
    assert np.isfinite(c_all).all()
    assert np.isnan(c_win[40:60]).all()
    np.testing.assert_allclose(c_win[[0, -1]], c_all[[0, -1]])
    # stopped between snapshots and resumed, it stores the same snapshots
    cfg = _cfg(*common, "record.hessian_at='windows'")
    repdrift.simulate(cfg, tmp_path / "part", stop_after=700)
    resumed = repdrift.resume(tmp_path / "part")
    for name in ("step", *simulation.HESSIAN_METRICS):
        np.testing.assert_array_equal(
            resumed.snapshots[name].values.astype(float), win.snapshots[name].values.astype(float)
        )


def test_resume_refuses_a_run_whose_status_and_configuration_disagree(tmp_path):
    repdrift.simulate(_cfg(), tmp_path / "part", stop_after=100)
    config = tmp_path / "part" / store.CONFIG_FILE
    config.write_text(config.read_text().replace("steps = 300", "steps = 50"))
    before = {p: p.read_bytes() for p in (tmp_path / "part").rglob("*") if p.is_file()}
    with pytest.raises(
        store.StoreError, match=r"counts 100 of 300 steps but config\.toml asks for 50"
    ):
        repdrift.resume(tmp_path / "part")
    assert {p: p.read_bytes() for p in (tmp_path / "part").rglob("*") if p.is_file()} == before
    # a status lost while steps are stored is corruption: resuming from step 0 would
    # delete them
    repdrift.simulate(_cfg(), tmp_path / "fresh", stop_after=0)
    (tmp_path / "fresh" / store.STATUS_FILE).unlink()
    before = {p: p.read_bytes() for p in (tmp_path / "fresh").rglob("*") if p.is_file()}
    with pytest.raises(store.StoreError, match=r"status\.json is missing but it holds stored"):
        repdrift.resume(tmp_path / "fresh")
    assert {p: p.read_bytes() for p in (tmp_path / "fresh").rglob("*") if p.is_file()} == before
    # a run killed before its first status (its configuration and dataset written, nothing
    # stored) takes its length from the configuration
    shutil.rmtree(tmp_path / "fresh" / "store")
    run = repdrift.resume(tmp_path / "fresh")
    assert (run.status.status, run.status.steps_done, run.status.steps_total) == (
        "complete",
        300,
        300,
    )


def test_a_generation_that_lost_or_cut_a_file_is_corrupt_not_read_as_fill_values(tmp_path):
    """Zarr reads a missing array as its fill value: a deleted ``loss`` read as NaN and a
    resumed run completed on it. Each generation lists its files' sizes and is checked."""
    repdrift.simulate(_cfg(), tmp_path / "part", stop_after=100)
    status = store.read_status(tmp_path / "part")
    gen = store.generation_path(tmp_path / "part", status.generation)
    listed = json.loads((gen / store.GENERATION_FILE).read_text())["files"]
    assert "checkpoint.npz" in listed and any(n.startswith("metrics.zarr/loss/") for n in listed)

    lost = tmp_path / "lost"
    shutil.copytree(tmp_path / "part", lost)
    shutil.rmtree(store.generation_path(lost, status.generation) / "metrics.zarr" / "loss")
    before = {p: p.read_bytes() for p in lost.rglob("*") if p.is_file()}
    with pytest.raises(store.StoreError, match=r"corrupt: .*metrics\.zarr/loss/.* is missing"):
        repdrift.open_run(lost)
    with pytest.raises(store.StoreError, match=r"is missing"):
        repdrift.resume(lost)
    assert {p: p.read_bytes() for p in lost.rglob("*") if p.is_file()} == before

    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "part", cut)
    metrics = store.generation_path(cut, status.generation) / "metrics.zarr"
    chunk = next(
        p
        for p in sorted(metrics.rglob("*"))
        if p.is_file() and "/c/" in p.as_posix() and p.stat().st_size > 1
    )
    chunk.write_bytes(chunk.read_bytes()[:-1])
    with pytest.raises(store.StoreError, match=r"corrupt: .* has \d+ bytes, written with"):
        repdrift.open_run(cut)
    # a chunk damaged in place, its size unchanged: its checksum tells, not other numbers
    flipped = tmp_path / "flipped"
    shutil.copytree(tmp_path / "part", flipped)
    generation = store.generation_path(flipped, status.generation)
    chunks = sorted(p for p in generation.glob("*.zarr/*/c/**/*") if p.is_file())
    assert {c.relative_to(generation).parts[0] for c in chunks} == {
        "metrics.zarr",
        "snapshots.zarr",
    }
    for chunk in chunks:
        original = chunk.read_bytes()
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0x55
        chunk.write_bytes(bytes(damaged))
        with pytest.raises(store.StoreError, match=r"corrupt: cannot read g\d+: Zstd decompress"):
            repdrift.open_run(flipped)
        chunk.write_bytes(original)
    assert repdrift.open_run(flipped).status.steps_done == status.steps_done  # all put back

    # the list itself lost with the array: the status says its generation described itself
    assert json.loads((tmp_path / "part" / store.STATUS_FILE).read_text())["described"] is True
    both = tmp_path / "both"
    shutil.copytree(lost, both)
    (store.generation_path(both, status.generation) / store.GENERATION_FILE).unlink()
    with pytest.raises(store.StoreError, match=r"corrupt: g\d+/generation\.json is missing"):
        repdrift.open_run(both)
    with pytest.raises(store.StoreError, match=r"generation\.json is missing"):
        repdrift.resume(both)
    # ... while a generation stored before generations described themselves (its status
    # says nothing of it) is read as it was written
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "part", old)
    (store.generation_path(old, status.generation) / store.GENERATION_FILE).unlink()
    written = json.loads((old / store.STATUS_FILE).read_text())
    del written["described"]
    (old / store.STATUS_FILE).write_text(json.dumps(written))
    np.testing.assert_array_equal(
        repdrift.open_run(old).metrics["loss"], repdrift.open_run(tmp_path / "part").metrics["loss"]
    )

    # the intact run still reads and resumes to the uninterrupted records
    assert repdrift.resume(tmp_path / "part").status.status == "complete"


@pytest.mark.parametrize("given", ["random", {"run": {"steps": 10}}, None])
def test_simulate_names_what_it_needs_when_given_no_config(tmp_path, given):
    with pytest.raises(TypeError, match=r"must be a repdrift Config, as repdrift\.load_config"):
        repdrift.simulate(given, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_network_run_with_stored_steps_but_no_dataset_is_corrupt(tmp_path):
    repdrift.simulate(_cfg(), tmp_path / "part", stop_after=100)
    (tmp_path / "part" / "dataset.npz").unlink()
    with pytest.raises(store.StoreError, match=r"corrupt: dataset\.npz is missing"):
        repdrift.resume(tmp_path / "part")
    assert store.read_status(tmp_path / "part").steps_done == 100


def test_shapes_the_noise_cannot_draw_for_are_refused_before_an_old_run_is_replaced(tmp_path):
    old = repdrift.simulate(_cfg(), tmp_path / "run")
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    cfg = _cfg("network.hidden=65537", 'record.hessian="none"')
    with pytest.raises(ConfigError, match=r"65,537 × \d+ matrix .*at most 65,536 rows"):
        repdrift.simulate(cfg, tmp_path / "run", overwrite=True)
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before
    assert old.status.status == "complete"
    # without noise the same network needs no counters
    simulation.build(_cfg("network.hidden=65537", "learner.update_noise=0"))


def test_an_exact_hessian_larger_than_the_machine_is_refused_before_anything_is_written(
    tmp_path, monkeypatch
):
    cfg = _cfg('record.hessian="exact"')
    member = simulation.build(cfg)
    samples, d_in = member.dataset.inputs.shape
    rows = cfg.network.hidden * (min(samples, d_in + 1) + member.dataset.targets.shape[1])
    # the largest reduced Hessian is what reduced_hessian forms for a network with every
    # unit live on every sample: the bound the check uses
    monkeypatch.setattr(simulation.cores, "physical_memory", lambda: 8 * rows**2 - 1)
    with pytest.raises(ConfigError, match=rf"{rows:,} × {rows:,}.*more than this machine"):
        repdrift.simulate(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    monkeypatch.setattr(simulation.cores, "physical_memory", lambda: 8 * rows**2)
    simulation.build(cfg)


def test_a_run_killed_before_it_stored_its_dataset_resumes_to_the_uninterrupted_run(tmp_path):
    # Killed between writing its configuration and its dataset: resume used to train the
    # whole run on a dataset drawn again, then call the run corrupt for lacking it.
    cfg = _cfg()
    whole = repdrift.simulate(cfg, tmp_path / "whole")
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / store.CONFIG_FILE).write_text(cfg.to_toml())
    resumed = repdrift.resume(killed)
    assert store.read_status(killed).status == "complete"
    np.testing.assert_array_equal(resumed.dataset.inputs, whole.dataset.inputs)
    np.testing.assert_array_equal(resumed.metrics["loss"].values, whole.metrics["loss"].values)
    assert repdrift.open_run(killed).dataset is not None  # stored: the run reopens


@pytest.mark.parametrize("fails_at", ["first", "second"])
def test_overwrite_puts_the_old_run_back_when_the_new_one_fails_before_storing(
    tmp_path, monkeypatch, fails_at
):
    # A configuration that validates but fails in its first measurement (as tanh runs
    # did) deleted the run --overwrite was replacing, and left a half-written one.
    old = tmp_path / "run"
    repdrift.simulate(_cfg(), old)
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    measure = simulation.snapshot_metrics
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == (1 if fails_at == "first" else 2):
            raise RuntimeError("a fault in a measurement")
        return measure(*args, **kwargs)

    monkeypatch.setattr(simulation, "snapshot_metrics", failing)
    with pytest.raises(RuntimeError, match="a fault in a measurement"):
        repdrift.simulate(_cfg("run.seed=1", "run.checkpoint_every_s=1e-9"), old, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing left aside
    after = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    if fails_at == "first":
        assert after == before  # the old run, whole
    else:  # the new run had stored its first steps: it stands, and resumes
        assert store.read_status(old).status == "partial"
        assert "seed = 1" in (old / store.CONFIG_FILE).read_text()


def test_a_ctrl_c_before_the_new_run_trains_puts_the_old_run_back(tmp_path, monkeypatch):
    # (A Ctrl-C once training has begun stores what the new run measured: it resumes.)
    old = tmp_path / "run"
    repdrift.simulate(_cfg(), old)
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}

    def interrupted(member):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulation, "_initial_state", interrupted)
    with pytest.raises(KeyboardInterrupt):
        repdrift.simulate(_cfg("run.seed=1"), old, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()} == before


_KILLED_OVERWRITE = """
import os, shutil, signal, sys
from pathlib import Path
from repdrift import store
out, new_run = Path(sys.argv[1]), sys.argv[2]
path, replaced = store.set_aside(out, overwrite=True)
assert replaced is not None and replaced.aside.is_dir()
if new_run:  # the new run stood: killed before the old one was deleted
    shutil.copytree(new_run, path, dirs_exist_ok=True)
else:  # killed before the new run stored a step
    (path / store.CONFIG_FILE).write_text(Path(sys.argv[3]).read_text())
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("stood", [False, True])
def test_a_killed_overwrite_is_finished_by_the_next_command_that_opens_the_run(tmp_path, stood):
    # kill -9 while --overwrite replaced a run left the old one aside, hidden as
    # .NAME.old-HOST-PID, and OUT a new run with no steps: the old results looked lost.
    import subprocess
    import sys

    old = tmp_path / "run"
    repdrift.simulate(_cfg(), old)
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    new_cfg = _cfg("run.seed=1")
    (tmp_path / "new.toml").write_text(new_cfg.to_toml())
    new_run = tmp_path / "elsewhere" / "new"
    if stood:
        repdrift.simulate(new_cfg, new_run)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_OVERWRITE, str(old), str(new_run) if stood else "",
         str(tmp_path / "new.toml")],
    )  # fmt: skip
    assert killed.returncode == -9
    (aside,) = [p for p in tmp_path.iterdir() if p.name.startswith(".run.old-")]
    if stood:  # what simulate, resume and inspect do first
        assert not store.recover_replaced(old, store.holds_generations)
    status = store.read_status(old)  # what every reader of the run does first
    assert not aside.exists()
    if stood:  # the replacement had finished: it stands, the aside is deleted
        assert status.status == "complete" and "seed = 1" in (old / store.CONFIG_FILE).read_text()
    else:  # the new run stored nothing: the old run is back, byte for byte
        after = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
        assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["run", "new.toml"] + (["elsewhere"] if stood else [])
    )


def test_an_aside_of_a_live_process_or_another_host_is_left_alone(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    mine = store.aside_path(run)  # this process: alive
    mine.mkdir()
    other_host = tmp_path / ".run.old-some-other-host-1"
    other_host.mkdir()
    assert not store.recover_replaced(run, store.holds_generations)
    assert mine.is_dir() and other_host.is_dir() and run.is_dir()


def test_wrong_arguments_in_python_are_named_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where an empty path would have written the run
    cfg = _cfg()
    cases = [
        (dict(out=""), ValueError, "an empty path"),
        (dict(out=5), TypeError, "must be a path, not int"),
        (dict(out="run", stop_after="5"), TypeError, "stop_after must be an integer"),
        (dict(out="run", stop_after=True), TypeError, "stop_after must be an integer"),
        (dict(out="run", stop_after=-1), ValueError, "stop_after must be at least 0"),
        (dict(out="run", progress=5), TypeError, "progress must be a function"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            repdrift.simulate(cfg, **kwargs)
        assert list(tmp_path.iterdir()) == [], kwargs
    with pytest.raises(ValueError, match="an empty path"):
        repdrift.resume("")
    with pytest.raises(TypeError, match="overrides must be a list"):
        repdrift.load_config(preset="random", overrides="learner.lr=0.2")
    with pytest.raises(TypeError, match="overrides must be a list"):
        repdrift.load_config(preset="random", overrides=None)
    with pytest.raises(TypeError, match="source must be a TOML file's path or a dict, not int"):
        repdrift.load_config(5)
    # the same calls with good arguments store a run
    assert repdrift.simulate(cfg, out="run", stop_after=0).status.status == "partial"
