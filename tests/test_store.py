"""Process-level behaviour of runs: zarr's I/O thread at exit, the BLAS thread pools."""

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
