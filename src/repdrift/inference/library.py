"""A simulated library: the finished runs of one or more sweeps, as one table of features
and labels.

One row per finished run (status ``complete``; runs that diverged or fell silent are left
out, as ``collector.py`` left out runs whose units all fell silent), with

* ``library`` (the sweep directory), ``run`` (its id), ``task`` (the task kind; for the
  similarity-matching network ``sm-ring`` or ``sm-place``), ``shape`` (a size class of the
  problem: samples and inputs, see :func:`shape_class`), ``readout``, ``lr`` and
  ``steps`` (the run's length);
* the labels: ``rule`` — the learning rule with the noise it carries (``gd+update``,
  ``gd+label``, ``adam``, ``rmsprop``, ``sed``, ``hebbian``; another combination is named
  the same way, e.g. ``gd`` for noise-free GD or ``adam+update``) — and, for rules with a
  noise, ``noise`` (its magnitude: σ_u, s, or σ_W = σ_M of the similarity-matching
  network) and ``noise_kind``;
* every feature of :data:`repdrift.inference.features.FEATURES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repdrift.inference.errors import InferenceError
from repdrift.inference.features import FEATURES, features
from repdrift.inference.observe import run_observations

#: Metadata and label columns of a library table, before the features.
COLUMNS = (
    "library",
    "run",
    "task",
    "shape",
    "readout",
    "lr",
    "steps",
    "rule",
    "noise_kind",
    "noise",
)
#: What the noise magnitude of each noisy rule is.
NOISE_NAMES = {
    "update": "update-noise σ_u",
    "label": "label-noise scale s",
    "synaptic": "synaptic noise σ_W = σ_M",
}
#: Size classes: bounds on samples and on inputs.
SAMPLE_BOUNDS = (6, 11)
INPUT_BOUNDS = (10, 20)


def rule_of(config) -> tuple[str, str, float] | None:
    """``(rule label, noise kind, noise magnitude)`` of a run configuration.

    ``None`` for a model that is not a learning rule of the library (the 2-D toy loss).
    The noise kind is ``none`` (magnitude NaN) for a rule without noise.
    """
    if config.model.kind == "similarity_matching":
        m = config.model
        sigma = math.sqrt((m.sigma_w**2 + m.sigma_m**2) / 2)
        return ("hebbian", "synaptic", sigma) if sigma > 0 else ("hebbian", "none", math.nan)
    if config.model.kind != "network":
        return None
    from repdrift.sweep.table import noise_kind

    lc = config.learner
    kind = noise_kind(lc.update_noise, lc.label_noise, lc.input_noise)
    magnitude = {"update": lc.update_noise, "label": lc.label_noise, "input": lc.input_noise}
    label = lc.kind if kind == "none" else f"{lc.kind}+{kind}"
    return label, kind, float(magnitude.get(kind, math.nan))


def task_of(config) -> str:
    if config.model.kind == "similarity_matching":
        return f"sm-{config.model.layout}"
    return str(config.task.kind)


def _bucket(value: int, bounds: tuple[int, int], names: tuple[str, str, str]) -> str:
    return names[0] if value <= bounds[0] else names[1] if value <= bounds[1] else names[2]


def shape_class(config, samples: int, inputs: int) -> str:
    """A size class of the problem: few / some / many samples × narrow / mid / wide input
    (bounds :data:`SAMPLE_BOUNDS`, :data:`INPUT_BOUNDS`); ``sm-N<neurons>`` for the
    similarity-matching network."""
    if config.model.kind == "similarity_matching":
        return f"sm-N{config.model.neurons}"
    s = _bucket(samples, SAMPLE_BOUNDS, ("few", "some", "many"))
    d = _bucket(inputs, INPUT_BOUNDS, ("narrow", "mid", "wide"))
    return f"{s}-{d}"


def run_row(run, library: str = "") -> dict[str, Any] | None:
    """The table row of one reopened run (``None`` for a model outside the library)."""
    config = run.config
    rule = rule_of(config)
    if rule is None:
        return None
    label, kind, magnitude = rule
    if config.model.kind == "network" and run.dataset is not None:
        samples, inputs = np.shape(run.dataset.inputs)
        readout, lr = str(config.network.readout), float(config.learner.lr)
    else:
        samples = inputs = 0
        readout, lr = "", float(getattr(config.model, "lr", math.nan))
    row: dict[str, Any] = {
        "library": library,
        "run": run.path.name,
        "task": task_of(config),
        "shape": shape_class(config, int(samples), int(inputs)),
        "readout": readout,
        "lr": lr,
        "steps": int(config.run.steps),
        "rule": label,
        "noise_kind": kind,
        "noise": magnitude,
    }
    row.update(features(run_observations(run)))
    return row


def _sweep_runs(path: Path) -> tuple[str, list[Path]]:
    from repdrift.sweep.directory import open_sweep
    from repdrift.sweep.spec import SweepError
    from repdrift.sweep.table import read_table

    try:
        sweep = open_sweep(path)
        table = read_table(sweep)
    except SweepError as err:
        raise InferenceError(f"library {path}: {err}") from None
    done = table[table["status"] == "complete"]["run"]
    return str(path), [sweep.run_path(r) for r in done]


def _row_of(path: Path, library: str) -> dict[str, Any] | None:
    from repdrift.runs import open_run

    return run_row(open_run(path), library)


ProgressFn = Callable[[int, int], None]


def library_table(
    paths: Sequence[str | Path], *, workers: int = 1, progress: ProgressFn | None = None
) -> pd.DataFrame:
    """The library table of the finished runs of the sweeps ``paths``.

    Raises :class:`InferenceError` when a path is not a sweep or no run has finished.
    ``workers > 1`` reads runs in that many processes.
    """
    if not paths:
        raise InferenceError("give at least one library (a sweep directory)")
    jobs = []
    for path in paths:
        library, runs = _sweep_runs(Path(path))
        jobs.extend((run, library) for run in runs)
    if not jobs:
        raise InferenceError(
            f"no finished runs in {', '.join(str(p) for p in paths)} "
            "(run or resume the sweep first)"
        )
    rows = []
    if workers > 1:
        from joblib import Parallel, delayed

        rows = Parallel(n_jobs=workers, batch_size=8)(
            delayed(_row_of)(run, library) for run, library in jobs
        )
        if progress is not None:
            progress(len(jobs), len(jobs))
    else:
        for i, (run, library) in enumerate(jobs):
            rows.append(_row_of(run, library))
            if progress is not None:
                progress(i + 1, len(jobs))
    rows = [r for r in rows if r is not None]
    if not rows:
        raise InferenceError("the library holds no run of a learning rule it can learn")
    table = pd.DataFrame(rows)
    return table[[*COLUMNS, *FEATURES]]


def check_table(table: pd.DataFrame) -> pd.DataFrame:
    """A library table read back from a file, checked for its columns."""
    missing = [c for c in (*COLUMNS, *FEATURES) if c not in table.columns]
    if missing:
        raise InferenceError(
            f"not a library table: missing columns {', '.join(missing[:5])}"
            + (" …" if len(missing) > 5 else "")
        )
    return table
