"""Process-level behaviour of runs: zarr's I/O thread at exit, the BLAS thread pools, and
folders replaced under a kill."""

import json
import subprocess
import sys

import pytest

SCRIPT = """
import atexit, sys, time
import numpy as np, xarray as xr
from repdrift import store
if sys.argv[2] == "without":
    atexit.unregister(store._stop_zarr_io_thread)
xr.Dataset({"a": ("x", np.arange(3.0))}).to_zarr(sys.argv[1], mode="w", consolidated=False)
import zarr.core.sync as s
s.loop[0].call_soon_threadsafe(time.sleep, 1.0)  # the I/O thread is still busy at exit
"""


@pytest.mark.parametrize("handler", ["with", "without"])
def test_a_busy_zarr_io_thread_at_exit_prints_no_traceback(tmp_path, handler):
    """A sweep's workers end together on a loaded machine, while zarr's I/O thread is still
    busy: zarr alone waits 0.2 s, closes the running loop and prints a traceback (the
    control, ``without``); with the store's exit handler the process ends quietly."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "a.zarr"), handler],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = "Cannot close a running event loop" in result.stderr
    assert printed == (handler == "without"), result.stderr


def test_use_cores_limits_the_blas_thread_pools():
    """OpenBLAS (NumPy's and SciPy's, used by the exact Hessian spectra) starts one spinning
    thread per core unless told otherwise; ``use_cores(1)`` — what every simulation and
    sweep worker calls — leaves each BLAS pool one thread."""
    script = (
        "import threadpoolctl\n"
        "from repdrift.cores import use_cores\n"
        "use_cores(1)\n"
        "info = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
        "assert info, 'no BLAS library loaded'\n"
        "print(sorted({i['num_threads'] for i in info}))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if "NUM_THREADS" not in k}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1]"


def _store_one(path, steps_done, step, status="running"):
    import numpy as np
    import xarray as xr

    from repdrift import store

    metrics = xr.Dataset({"loss": ("step", np.arange(3.0))}, coords={"step": [0, 1, 2]})
    current = store.read_status(path) if (path / store.STATUS_FILE).exists() else None
    previous = current or store.Status("starting", 0, 10, None, 0.0)
    return store.write_generation(
        path,
        steps_done=steps_done,
        metrics=metrics,
        snapshots=xr.Dataset(),
        checkpoint={"leaf_000": np.asarray(step)},
        status=store.Status(status, 0, 10, previous.generation, 0.0, "note"),
        step=step,
        prune=False,
    )


def test_a_run_rolls_back_to_an_older_generation_and_loses_the_newer_ones(tmp_path):
    from repdrift import store

    (tmp_path / store.CONFIG_FILE).write_text("")
    first = _store_one(tmp_path, steps_done=4, step=4)
    # a flagged run: stopped at 4 while its batch went on to step 8; then finished
    second = _store_one(tmp_path, steps_done=4, step=8, status="silent")
    assert second.generation != first.generation  # same steps_done, another name
    assert store.generation_step(tmp_path, second.generation) == 8
    assert store.find_generation(tmp_path, 4) == first.generation
    assert store.find_generation(tmp_path, 6) is None
    back = store.roll_back(tmp_path, first.generation)
    assert (back.status, back.steps_done, back.generation, back.message) == (
        "partial",
        4,
        first.generation,
        "note",
    )
    assert store.read_status(tmp_path).generation == first.generation
    assert [p.name for p in (tmp_path / "store").iterdir()] == [first.generation]
    # a generation that does not describe itself (stored by an older version) is no target
    (store.generation_path(tmp_path, first.generation) / store.GENERATION_FILE).unlink()
    assert store.generation_step(tmp_path, first.generation) is None
    with pytest.raises(store.StoreError, match="cannot be rolled back"):
        store.roll_back(tmp_path, first.generation)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"generation": None}, "names no stored generation for its 4 steps"),  # restarted
        ({"generation": 5}, "names the generation 5"),
        ({"generation": "../../elsewhere"}, "names the generation"),
        ({"steps_done": float("inf")}, "holds steps inf"),
        ({"steps_done": True}, "holds steps True"),
        ({"steps_done": 2.5}, "holds steps 2.5"),
        ({"steps_done": 11}, "holds 11 steps done of 10"),
        ({"status": "complete"}, "says complete at 4 of 10 steps"),
        ({"updated": "yesterday"}, "holds the time 'yesterday'"),
        ({"status": ["partial"]}, "holds status ['partial']"),
    ],
)
def test_a_status_file_of_wrong_types_or_disagreeing_values_is_corrupt(tmp_path, change, problem):
    from repdrift import store

    (tmp_path / store.CONFIG_FILE).write_text("")
    _store_one(tmp_path, steps_done=4, step=4, status="partial")
    data = json.loads((tmp_path / store.STATUS_FILE).read_text())
    assert store.read_status(tmp_path).steps_done == 4  # sound before the change
    (tmp_path / store.STATUS_FILE).write_text(json.dumps({**data, **change}))
    with pytest.raises(store.StoreError, match=r"is corrupt: status\.json") as info:
        store.read_status(tmp_path)
    assert problem in str(info.value)


KILLED_BETWEEN_RENAMES = """
import os, signal, sys
from pathlib import Path
from repdrift import store
final = Path(sys.argv[1])
final.rename(store.aside_path(final))  # publish_dir's first rename, then a kill
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_result_folder_killed_between_the_renames_of_its_replacement_comes_back(tmp_path):
    # Analyses, sweep time courses and inference models replace their folder by renaming
    # the old one aside and the new one in: a kill in between left the old results hidden.
    from repdrift import store

    final = tmp_path / "results"
    final.mkdir()
    (final / "a.txt").write_text("old")
    killed = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_RENAMES, str(final)])
    assert killed.returncode == -9 and not final.exists()
    assert store.recover_replaced(final)
    assert (final / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results"]
    # the next replacement finishes the same way, then replaces
    killed = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_RENAMES, str(final)])
    new = tmp_path / ".new"
    new.mkdir()
    (new / "a.txt").write_text("new")
    store.publish_dir(new, final)
    assert (final / "a.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["results"]
