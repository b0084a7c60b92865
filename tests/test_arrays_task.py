"""The arrays task: any .npz dataset, checked at the edge; the published Fig. 2 dataset."""

from pathlib import Path

import jax
import numpy as np
import pytest

import repdrift
from repdrift import tasks
from repdrift.config import ConfigError
from repdrift.tasks.arrays import ArraysParams


def test_the_published_fig2_dataset_is_shipped_as_the_reference_describes():
    data = tasks.make(jax.random.key(0), ArraysParams("published:fig2"))
    assert data.inputs.shape == (150, 18) and data.targets.shape == (150, 17)
    x = np.asarray(data.inputs)
    assert x.min() > -1e-4 and x.max() < 1 + 1e-4  # [0, 1] up to the original's epsilon
    assert set(np.round(np.unique(x[:, -1]), 3)) <= {0.0, 0.5, 1.0}
    assert np.asarray(data.position).min() == pytest.approx(-5.6)
    assert np.asarray(data.position).max() == pytest.approx(5.6)
    assert set(np.unique(np.asarray(data.direction))) == {-1.0, 1.0}
    # The next view is the target: the view part of input t+1 equals target t.
    np.testing.assert_allclose(x[1:, :17], np.asarray(data.targets)[:-1], atol=1e-4)


def test_a_users_npz_trains_and_the_run_keeps_its_dataset(tmp_path):
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(size=(12, 5)), rng.uniform(size=(12, 3))
    np.savez(tmp_path / "mine.npz", inputs=inputs, targets=targets)
    cfg = repdrift.load_config(
        {"task": {"kind": "arrays", "path": str(tmp_path / "mine.npz")}},
        overrides=["run.steps=50", "record.snapshots=2", "network.hidden=8"],
    )
    run = repdrift.simulate(cfg, tmp_path / "run")
    assert run.status.status == "complete"
    np.testing.assert_allclose(run.dataset.inputs, inputs.astype(np.float32))
    np.testing.assert_allclose(run.dataset.targets, targets.astype(np.float32))
    assert run.dataset.position is None and "rate_map" not in run.snapshots
    # The stored dataset is what resume uses: the file may go.
    (tmp_path / "mine.npz").unlink()
    reopened = repdrift.open_run(tmp_path / "run")
    np.testing.assert_array_equal(reopened.dataset.inputs, run.dataset.inputs)


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"targets": np.zeros((3, 2))}, "no 'inputs'"),
        ({"inputs": np.zeros(3), "targets": np.zeros((3, 2))}, "2-D"),
        ({"inputs": np.zeros((3, 2)), "targets": np.zeros((4, 2))}, "samples"),
        ({"inputs": np.full((3, 2), np.nan), "targets": np.zeros((3, 2))}, "finite"),
        # the imaginary part was dropped with a warning on stderr
        ({"inputs": np.full((3, 2), 1 + 2j), "targets": np.zeros((3, 2))}, "real numbers"),
        # infinite in float32: the run diverged at once
        ({"inputs": np.full((3, 2), 1e300), "targets": np.zeros((3, 2))}, "float32's range"),
        (
            {"inputs": np.zeros((3, 2)), "targets": np.zeros((3, 2)), "position": np.zeros(2)},
            "position",
        ),
        (
            {
                "inputs": np.zeros((3, 2)),
                "targets": np.zeros((3, 2)),
                "position": np.zeros(3),
                "direction": np.array([1, 0, -1]),
            },
            "direction",
        ),
    ],
)
def test_bad_arrays_name_the_problem(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    cfg = repdrift.load_config({"task": {"kind": "arrays", "path": str(tmp_path / "bad.npz")}})
    with pytest.raises(ConfigError, match=message):
        repdrift.simulate(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # nothing written


def test_missing_corrupt_and_unknown_files(tmp_path):
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip file")
    for path, message in [
        (tmp_path / "absent.npz", "does not exist"),
        (tmp_path / "corrupt.npz", "not a readable"),
        ("published:nope", "unknown published dataset"),
    ]:
        cfg = repdrift.load_config({"task": {"kind": "arrays", "path": str(path)}})
        with pytest.raises(ConfigError, match=message):
            repdrift.simulate(cfg, tmp_path / "run")
    # a path that cannot be made absolute is refused with the configuration
    for path, message in [
        ("~no-such-user-here/x.npz", "task.path: no home directory for ~no-such-user-here"),
        (" ", "task.path: give a file"),
    ]:
        with pytest.raises(ConfigError, match=message):
            repdrift.load_config({"task": {"kind": "arrays", "path": path}})
    assert not (tmp_path / "run").exists()


def test_a_relative_path_is_the_current_folders_wherever_the_runs_start(tmp_path, monkeypatch):
    # A sweep's runs start batch by batch: resumed from another folder (or on a cluster's
    # workers) a relative path must still name the file the sweep was made with.
    from repdrift import sweep

    project = tmp_path / "project"
    project.mkdir()
    rng = np.random.default_rng(1)
    np.savez(project / "d.npz", inputs=rng.uniform(size=(10, 4)), targets=rng.uniform(size=(10, 3)))
    monkeypatch.chdir(project)
    cfg = repdrift.load_config({"task": {"kind": "arrays", "path": "d.npz"}})
    assert cfg.task.path == str(project / "d.npz")
    home = str(Path("~").expanduser())
    assert repdrift.load_config({"task": {"kind": "arrays", "path": "~/d.npz"}}).task.path == (
        str(Path(home) / "d.npz")
    )
    spec = {
        "base": {
            "task": {"kind": "arrays", "path": "d.npz"},
            "network": {"hidden": 6},
            "run": {"steps": 40},
            "record": {"snapshots": 2},
        },
        "grid": {"run.seed": [1, 2]},
    }
    sweep.create(spec, out=tmp_path / "sweep")  # nothing run yet
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = sweep.resume(tmp_path / "sweep", workers=1)
    assert (result.table["status"] == "complete").all(), result.table["status"].tolist()
    # each run's config.toml names the file wherever it is read
    run = tmp_path / "sweep" / "runs" / "r00000"
    assert repdrift.load_config(run / "config.toml").task.path == str(project / "d.npz")
    np.testing.assert_allclose(
        repdrift.open_run(run).dataset.inputs, np.load(project / "d.npz")["inputs"], rtol=1e-6
    )
