"""``repdrift infer train``: a library in, a model folder out.

The model folder ``MODEL`` holds

==========================  ================================================================
file                        content
==========================  ================================================================
``model.joblib``            the fitted :class:`~repdrift.inference.model.RuleModel`
``manifest.json``           features per tier, classes, libraries, versions, checksum
``library.parquet``         the library table: one row per run, labels and features
``evaluation.json``         accuracy, confusion matrices, calibration and noise metrics per
                            protocol × tier (:mod:`repdrift.inference.evaluate`)
``predictions.parquet``     every held-out prediction of the evaluation
``confusion.png/.pdf``      confusion matrices, every protocol × tier
``confusion_task.png/.pdf`` the held-out-task row alone
``noise.png/.pdf``          estimated against true noise, held-out task, per tier
``features.png/.pdf``       the library in a few of its features, one colour per rule
==========================  ================================================================

(with ``--no-evaluate``, ``evaluation.json``, ``predictions.parquet`` and the confusion and
noise figures are left out). Everything is written into a hidden folder next to ``MODEL``
and renamed into place, so ``MODEL`` never holds a partial result, and bad input leaves
nothing behind. ``--overwrite`` replaces only a model folder that holds nothing but these
files.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from repdrift import store
from repdrift.inference import evaluate as evaluate_mod
from repdrift.inference import figures, library, model
from repdrift.inference.errors import InferenceError

LIBRARY_FILE = "library.parquet"
EVALUATION_FILE = "evaluation.json"
PREDICTIONS_FILE = "predictions.parquet"


@dataclass
class TrainResult:
    """What :func:`train` made: the folder, the model, its table and evaluation."""

    path: Path
    model: model.RuleModel
    table: pd.DataFrame
    evaluation: dict[str, Any] | None
    seconds: dict[str, float]


#: The stems of the figures :func:`train` draws (each as ``.png`` and ``.pdf``).
FIGURES = ("confusion", "confusion_task", "noise", "features")
#: Every name :func:`train` may write into a model folder: ``--overwrite`` replaces a
#: model folder that holds nothing else.
WRITTEN = frozenset(
    {model.MODEL_FILE, model.MANIFEST_FILE, LIBRARY_FILE, EVALUATION_FILE, PREDICTIONS_FILE}
    | {f"{stem}.{ext}" for stem in FIGURES for ext in ("png", "pdf")}
)


def _ours(out: Path) -> frozenset[str] | None:
    """The names an earlier ``train`` wrote into ``out``; ``None``: not a model folder."""
    try:
        manifest = json.loads((out / model.MANIFEST_FILE).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return (
        WRITTEN
        if isinstance(manifest, dict) and manifest.get("kind") == model.MANIFEST_KIND
        else None
    )


def _check_out(out: Path, overwrite: bool, named: Path) -> None:
    try:
        store.check_results_out(
            out, overwrite=overwrite, owned=_ours, what="a model folder", named=named
        )
    except store.StoreError as err:
        raise InferenceError(str(err)) from None


def read_library(sources: Sequence[str | Path], *, workers: int = 1, progress=None):
    """The library table of sweep directories, or of one ``library.parquet`` written by an
    earlier ``train`` (to refit or re-evaluate without reading the runs again)."""
    paths = [Path(s) for s in sources]
    for p in paths:
        if not p.exists():
            raise InferenceError(f"library {p} does not exist")
    if len(paths) > 1 and any(p.is_file() for p in paths):
        raise InferenceError(
            "give sweep directories, or one library.parquet alone "
            f"(got {len(paths)} libraries, {sum(p.is_file() for p in paths)} of them files)"
        )
    if len(paths) == 1 and paths[0].is_file():
        if paths[0].suffix.lower() != ".parquet":
            raise InferenceError(f"{paths[0]} is neither a sweep directory nor a library.parquet")
        try:
            with open(paths[0], "rb") as fh:  # pyarrow cannot open a name that is not UTF-8
                table = pd.read_parquet(fh)
        except Exception as err:
            raise InferenceError(f"{paths[0]} cannot be read: {err}") from None
        return library.check_table(table), [str(paths[0])]
    for p in paths:
        if not p.is_dir():
            raise InferenceError(f"library {p} is not a sweep directory")
    table = library.library_table(paths, workers=workers, progress=progress)
    return table, [str(p.resolve()) for p in paths]


def train(
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    overwrite: bool = False,
    evaluate: bool = True,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Read the library, fit, evaluate and write the model folder ``out`` (module
    docstring). Raises :class:`InferenceError` before writing anything for bad input."""
    say = progress or (lambda message: None)
    named = Path(out)
    try:  # the folder itself, not a link to it, is what is replaced; messages name it as given
        out = named.expanduser().resolve()
    except (OSError, RuntimeError) as err:  # RuntimeError: a loop of links
        raise InferenceError(f"{named}: cannot use --out ({err})") from None
    _check_out(out, overwrite, named)
    try:  # before the training: a folder that cannot be written is said at once
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.temporary_dir(out.parent, f".{out.name}.")
    except OSError as err:
        raise InferenceError(
            f"{named}: cannot create the model folder ({err.strerror or err})"
        ) from None
    try:
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        table, libraries = read_library(sources, workers=workers)
        seconds["features"] = time.perf_counter() - t
        say(
            f"library: {len(table)} runs, {table['rule'].nunique()} rules, "
            f"{table['task'].nunique()} tasks ({seconds['features']:.0f} s)"
        )
        t = time.perf_counter()
        fitted = model.fit(table, seed=seed)
        seconds["fit"] = time.perf_counter() - t
        say(f"fitted tiers {', '.join(fitted.tiers)} ({seconds['fit']:.0f} s)")
        evaluation = None
        if evaluate:
            t = time.perf_counter()
            evaluation = evaluate_mod.evaluate(
                table, tiers=tuple(fitted.tiers), seed=seed, workers=workers, progress=say
            )
            seconds["evaluate"] = time.perf_counter() - t
        manifest = model.manifest_of(fitted, libraries, len(table))
        manifest["seconds"] = seconds
        model.save(fitted, tmp, manifest)
        store.write_parquet(table, tmp / LIBRARY_FILE)
        if evaluation is not None:
            store.write_parquet(evaluation["predictions"], tmp / PREDICTIONS_FILE)
            record = {k: v for k, v in evaluation.items() if k != "predictions"}
            record.update(library_summary(table), seed=seed, seconds=seconds)
            (tmp / EVALUATION_FILE).write_text(json.dumps(_plain(record), indent=1) + "\n")
            figures.draw_confusion(evaluation, tmp / "confusion")
            figures.draw_confusion(evaluation, tmp / "confusion_task", protocols=("task",))
            figures.draw_noise(evaluation["predictions"], tmp / "noise")
        figures.draw_features(table, tmp / "features")
        _check_out(out, overwrite, named)  # again: the training may have taken minutes
        store.publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return TrainResult(named, fitted, table, evaluation, seconds)


def library_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Runs per rule, per task and per size class of a library table."""
    return {
        "runs": len(table),
        "runs_per_rule": {str(k): int(v) for k, v in table["rule"].value_counts().items()},
        "runs_per_task": {str(k): int(v) for k, v in table["task"].value_counts().items()},
        "runs_per_shape": {str(k): int(v) for k, v in table["shape"].value_counts().items()},
    }


def _plain(value: Any) -> Any:
    """JSON-ready: NaN as null, NumPy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def headline(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per protocol × tier: accuracies and the noise within the factor."""
    rows = []
    for protocol, tiers in evaluation["protocols"].items():
        for tier, m in tiers.items():
            noise = m.get("noise", {})
            rows.append(
                {
                    "protocol": protocol,
                    "tier": tier,
                    "runs": m["runs"],
                    "accuracy": m["accuracy"],
                    "accuracy_network_rules": m["accuracy_network_rules"],
                    "balanced_accuracy": m["balanced_accuracy"],
                    "ece": m["ece"],
                    **{
                        f"noise_within[{rule}]": v.get("within_factor") for rule, v in noise.items()
                    },
                    **{
                        f"noise_r2[{rule}]": v.get("r2_log10")
                        for rule, v in noise.items()
                        if "r2_log10" in v
                    },
                }
            )
    return rows
