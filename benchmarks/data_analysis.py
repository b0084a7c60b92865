"""Benchmarks of the recorded-data analysis.

1. ``estimator``: accuracy of the information estimators on the simulated data with known
   information (``si_bias/simulated_*``): for each recording (track × session ×
   direction) the bias of the population mean, ``|mean_cells(estimate) − mean_cells(true
   SI)|``, and the mean absolute per-cell error, averaged over recordings, for the naive,
   SSR and BAE estimates; cells with at least 10 active frames (the estimator's default)
   and, for comparison, every cell with activity.
2. ``multiple-maps``: wall-clock and CPU time of ``repdrift data analyze`` on the full
   ``multiple_maps`` set (4 mice × 2 tracks × 8 sessions, 1,000 shuffles), and the trends.

Usage::

    python benchmarks/data_analysis.py estimator [--data DIR]
    python benchmarks/data_analysis.py multiple-maps [--data DIR] [--out DIR]

``--data`` defaults to ``$REPDRIFT_DATA`` or ``<repo>/../shared/data``. Results are printed
as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from repdrift.data import simulated_recordings
from repdrift.metrics.information import unbiased_information

METHODS = ("naive", "ssr", "bae")


def default_data() -> Path:
    env = os.environ.get("REPDRIFT_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def estimator(data: Path) -> dict:
    out: dict = {}
    for folder in (data / "si_bias" / "simulated_sample", data / "si_bias" / "simulated_full"):
        if not folder.exists():
            continue
        for name, activity, stimulus, truth in simulated_recordings(folder):
            entry = out.setdefault(name, {"recordings": 0, "seconds": 0.0})
            entry["recordings"] += 1
            for cells_label, min_frames in (("active>=10", 10), ("all", 1)):
                for method in METHODS:
                    start = time.perf_counter()
                    estimate = unbiased_information(
                        activity,
                        stimulus,
                        method=method,
                        seed=0,
                        n_bins=24,
                        min_active_frames=min_frames,
                    )
                    entry["seconds"] += time.perf_counter() - start
                    cells = np.isfinite(estimate)
                    key = f"{cells_label}/{method}"
                    entry.setdefault(key, {"bias": [], "mae": [], "cells": []})
                    entry[key]["bias"].append(abs(estimate[cells].mean() - truth[cells].mean()))
                    entry[key]["mae"].append(float(np.mean(np.abs(estimate[cells] - truth[cells]))))
                    entry[key]["cells"].append(int(cells.sum()))
    for entry in out.values():
        for key, value in list(entry.items()):
            if isinstance(value, dict):
                entry[key] = {
                    "bias": round(float(np.mean(value["bias"])), 4),
                    "mae": round(float(np.mean(value["mae"])), 4),
                    "mean_cells": round(float(np.mean(value["cells"])), 1),
                }
        entry["seconds"] = round(entry["seconds"], 1)
    return out


def multiple_maps(data: Path, out: Path | None) -> dict:
    from typer.testing import CliRunner

    from repdrift.data.cli import app

    folder = data / "multiple_maps"
    target = out or Path(tempfile.mkdtemp()) / "multiple_maps"
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = CliRunner().invoke(
        app, ["analyze", str(folder), "--out", str(target), "--json", "--overwrite"]
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    summary = json.loads(result.stdout)
    pooled = {
        metric: {k: fits["pooled"][k] for k in ("slope", "p_value", "n")}
        for metric, fits in summary["trends"].items()
    }
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1),
        "sessions": summary["n_sessions"],
        "pooled_trends": pooled,
        "drift": {k: summary["drift"]["pooled"][k] for k in ("slope", "p_value", "n")},
        "results": str(target),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["estimator", "multiple-maps"])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"data not found at {args.data} (set --data or REPDRIFT_DATA)", file=sys.stderr)
        return 2
    result = (
        estimator(args.data) if args.which == "estimator" else multiple_maps(args.data, args.out)
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
