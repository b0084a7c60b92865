"""The quick start's run, whole: `fig2-quick` sparsifies and gains information after the
loss plateau; its noise-free control does not. (Slow: two runs of 2 × 10^5 steps.)"""

import json
import subprocess
import sys

import numpy as np
import pytest

import repdrift

pytestmark = pytest.mark.slow

PLATEAU_STEP = 1_000  # the loss has converged by then (checked below)


def _simulate(out, *extra):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "repdrift",
            "simulate",
            "--preset",
            "fig2-quick",
            "--out",
            str(out),
            "--quiet",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr
    info = subprocess.run(
        [sys.executable, "-m", "repdrift", "inspect", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert info.returncode == 0, info.stderr
    return json.loads(info.stdout), repdrift.open_run(out)


def _at(ds, name, step):
    i = int(np.searchsorted(ds["step"].values, step))
    return float(ds[name].values[i])


def test_fig2_quick_sparsifies_and_gains_information_after_the_plateau(tmp_path):
    info, run = _simulate(tmp_path / "quick")
    assert info["status"] == "complete" and info["steps_done"] == 200_000
    m, s = run.metrics, run.snapshots
    # The loss has plateaued by PLATEAU_STEP: two orders of magnitude below its start.
    assert _at(m, "loss", PLATEAU_STEP) < 0.05 * info["initial"]["loss"]
    units_plateau = _at(m, "active_units_fraction", PLATEAU_STEP)
    si_plateau = _at(s, "mean_si", PLATEAU_STEP)
    # After it: at least a quarter of the units fall silent, and mean SI rises by ≥ 50 %.
    assert info["final"]["active_units_fraction"] <= 0.75 * units_plateau
    assert info["final"]["mean_si"] >= 1.5 * si_plateau
    assert info["final"]["loss"] < 0.2  # still solving the task
    figures = {p.name for p in (tmp_path / "quick" / "figures").iterdir()}
    for kind in ("loss", "activity", "spatial_information", "rate_maps", "drift", "summary"):
        assert {f"{kind}.png", f"{kind}.pdf"} <= figures


def test_fig2_quick_without_noise_stays_flat(tmp_path):
    info, run = _simulate(tmp_path / "control", "--set", "learner.update_noise=0", "--no-figures")
    units_plateau = _at(run.metrics, "active_units_fraction", PLATEAU_STEP)
    assert abs(info["final"]["active_units_fraction"] - units_plateau) <= 0.01
    assert abs(info["final"]["mean_si"] - _at(run.snapshots, "mean_si", PLATEAU_STEP)) < 0.1
