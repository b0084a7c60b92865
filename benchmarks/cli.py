"""Start-up of the ``repdrift`` command: what every call pays before it does anything.

    python benchmarks/cli.py [--repeats R]

Cases (each a fresh ``python -m repdrift`` process, as the installed command starts; the
median over R repeats of the wall-clock time and the largest peak resident memory):

  help          ``repdrift --help``
  sub-help      ``repdrift sweep run --help``
  bad-input     ``repdrift simulate --preset nope --out DIR``: exit status 2, one line
  config        ``repdrift config --preset fig2-quick`` (validates and prints the config)
  inspect       ``repdrift inspect DIR`` of a finished small run (made once, first): reads
                the records with xarray and Zarr, without JAX
  import-api    ``python -c "import repdrift"``
  import-sim    ``python -c "import repdrift.simulation"``: the numerical stack (JAX,
                xarray, Zarr) that a simulation loads, for comparison

The configuration and the command load without JAX, xarray, Zarr, SciPy or pandas; each
command imports what it needs when it runs (tests/test_cli.py checks which modules load).
``inspect`` needs xarray and Zarr to read a run, but not JAX.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _time_process(argv: list[str]) -> tuple[float, float, int]:
    """Wall-clock seconds, peak resident memory (MB) and exit status of one process."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "repdrift"]
    with tempfile.TemporaryDirectory() as tmp:
        run = f"{tmp}/run"
        small = ["--preset", "sweep-member", "--set", "run.steps=300", "--no-figures"]
        made = subprocess.run(
            [*cmd, "simulate", *small, "--out", run, "--quiet"],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise SystemExit(f"could not make the run to inspect: {made.stderr.strip()}")
        cases = {
            "help": ([*cmd, "--help"], 0),
            "sub-help": ([*cmd, "sweep", "run", "--help"], 0),
            "bad-input": ([*cmd, "simulate", "--preset", "nope", "--out", f"{tmp}/x"], 2),
            "config": ([*cmd, "config", "--preset", "fig2-quick"], 0),
            "inspect": ([*cmd, "inspect", run], 0),
            "import-api": ([sys.executable, "-c", "import repdrift"], 0),
            "import-sim": ([sys.executable, "-c", "import repdrift.simulation"], 0),
        }
        print(f"{'case':<12} {'wall s (median)':>16} {'min':>7} {'peak MB':>8}")
        for name, (argv, expected) in cases.items():
            _time_process(argv)  # warm the file-system cache
            walls, peaks = [], []
            for _ in range(args.repeats):
                wall, peak, code = _time_process(argv)
                if code != expected:
                    raise SystemExit(f"{name}: exit status {code}, expected {expected}")
                walls.append(wall)
                peaks.append(peak)
            print(
                f"{name:<12} {statistics.median(walls):>16.3f} {min(walls):>7.3f} "
                f"{max(peaks):>8.0f}"
            )


if __name__ == "__main__":
    main()
