"""How well the rule and the noise are inferred on runs the model did not see.

Three protocols, each for every feature tier (models fitted afresh in every fold with
:func:`repdrift.inference.model.fit_tier`, noise intervals included):

* ``random`` — stratified ``K``-fold over runs (the optimistic baseline);
* ``task`` — leave one task out: every run of one task (random mapping, smoothed mapping,
  their autoencoders, ring, corridor; each layout of the similarity-matching network) is
  predicted by a model that never saw that task;
* ``shape`` — leave one size class out (:func:`repdrift.inference.library.shape_class`:
  few / some / many samples × narrow / mid / wide input).

Reported per protocol and tier: accuracy over all runs and over the network's rules (all
but ``hebbian``; the acceptance figure), balanced accuracy, recall per rule, the
confusion matrix (rows: true rule, columns: predicted), the multi-class Brier score and
the expected calibration error of the top probability (10 bins); and, for each rule with
a noise, given the true rule: R² of ``log10`` noise, the fraction of runs within a factor
1.5 of the true magnitude, the median factor off, and the coverage of the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from repdrift.inference.features import TIERS
from repdrift.inference.model import INTERVAL, fit_tier, matrix, usable_rows

PROTOCOLS = ("random", "task", "shape")
#: The factor within which a noise estimate counts as right.
FACTOR = 1.5
#: Rules of the similarity-matching network (left out of the network accuracy).
NON_NETWORK_RULES = ("hebbian",)


def splits(table: pd.DataFrame, protocol: str, *, folds: int = 5, seed: int = 0):
    """``[(name, train indices, test indices)]`` of a protocol over the table's rows."""
    from sklearn.model_selection import StratifiedKFold

    n = len(table)
    if protocol == "random":
        y = table["rule"].to_numpy(str)
        _, counts = np.unique(y, return_counts=True)
        k = int(max(2, min(folds, counts.min())))
        cv = StratifiedKFold(k, shuffle=True, random_state=seed)
        return [(f"fold{i}", tr, te) for i, (tr, te) in enumerate(cv.split(np.zeros(n), y))]
    column = {"task": "task", "shape": "shape"}.get(protocol)
    if column is None:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    groups = table[column].to_numpy(str)
    out = []
    for name in sorted(set(groups)):
        test = np.flatnonzero(groups == name)
        train = np.flatnonzero(groups != name)
        if train.size and test.size:
            out.append((name, train, test))
    return out


def _fold(table: pd.DataFrame, tier: str, train, test, classes, seed) -> dict[str, Any]:
    model = fit_tier(table.iloc[train], tier, seed=seed)
    test_rows = table.iloc[test]
    x = matrix(test_rows, model.features)
    proba = model.predict_proba(x, classes)
    noise = {}
    for rule, nm in model.noise.items():
        mine = np.flatnonzero((test_rows["rule"] == rule).to_numpy() & (test_rows["noise"] > 0))
        if mine.size:
            centre, low, high = nm.predict(x[mine])
            noise[rule] = (test[mine], centre, low, high)
    return {"test": test, "proba": proba, "noise": noise}


def evaluate(
    table: pd.DataFrame,
    *,
    tiers: tuple[str, ...] | None = None,
    protocols: tuple[str, ...] = PROTOCOLS,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The evaluation of every protocol × tier (see the module docstring).

    Returns ``{"classes", "protocols": {protocol: {tier: metrics}}, "predictions":
    DataFrame}`` with one prediction row per (protocol, tier, run).
    """
    tiers = tuple(TIERS) if tiers is None else tiers
    classes = tuple(sorted(table["rule"].unique()))
    results: dict[str, dict[str, Any]] = {}
    frames = []
    for protocol in protocols:
        results[protocol] = {}
        for tier in tiers:
            usable = table[usable_rows(table, tier)].reset_index(drop=True)
            if usable["rule"].nunique() < 2:
                continue
            folds = [
                (name, tr, te)
                for name, tr, te in splits(usable, protocol, seed=seed)
                if usable.iloc[tr]["rule"].nunique() >= 2
            ]
            if not folds:
                continue  # one group only (every run of one task, say): nothing to hold out
            if progress is not None:
                progress(f"evaluate {protocol} / {tier}: {len(folds)} folds")
            jobs = [(usable, tier, tr, te, classes, seed) for _, tr, te in folds]
            if workers > 1:
                from joblib import Parallel, delayed

                outs = Parallel(n_jobs=workers)(delayed(_fold)(*job) for job in jobs)
            else:
                outs = [_fold(*job) for job in jobs]
            frame = _predictions(usable, outs, classes)
            frame.insert(0, "tier", tier)
            frame.insert(0, "protocol", protocol)
            frames.append(frame)
            results[protocol][tier] = metrics(frame, classes)
            results[protocol][tier]["folds"] = [name for name, _, _ in folds]
    predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return {"classes": list(classes), "protocols": results, "predictions": predictions}


def _predictions(usable: pd.DataFrame, outs: list[dict[str, Any]], classes) -> pd.DataFrame:
    n = len(usable)
    proba = np.full((n, len(classes)), np.nan)
    noise = np.full((n, 3), np.nan)
    for out in outs:
        proba[out["test"]] = out["proba"]
        for idx, centre, low, high in out["noise"].values():
            noise[idx] = np.column_stack([centre, low, high])
    done = np.isfinite(proba).all(axis=1)
    frame = usable.loc[done, ["library", "run", "task", "shape", "rule", "noise_kind", "noise"]]
    frame = frame.reset_index(drop=True)
    p = proba[done]
    frame["predicted"] = np.asarray(classes)[np.argmax(p, axis=1)]
    frame["probability"] = p.max(axis=1)
    for j, name in enumerate(classes):
        frame[f"p[{name}]"] = p[:, j]
    frame["noise_predicted"], frame["noise_low"], frame["noise_high"] = noise[done].T
    return frame


def _brier(frame: pd.DataFrame, classes) -> float:
    p = frame[[f"p[{c}]" for c in classes]].to_numpy(float)
    truth = (frame["rule"].to_numpy(str)[:, None] == np.asarray(classes)[None, :]).astype(float)
    return float(np.mean(np.sum((p - truth) ** 2, axis=1)))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10):
    """Σ_b (n_b / n) |accuracy_b − mean confidence_b| over equal-width confidence bins."""
    confidence = np.asarray(confidence, float)
    correct = np.asarray(correct, float)
    if confidence.size == 0:
        return math.nan
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def noise_metrics(true: np.ndarray, centre: np.ndarray, low, high) -> dict[str, Any]:
    """R² of log10, fraction within :data:`FACTOR`, median factor off, interval coverage."""
    true, centre = np.asarray(true, float), np.asarray(centre, float)
    keep = np.isfinite(true) & np.isfinite(centre) & (true > 0)
    if keep.sum() == 0:
        return {"runs": 0}
    t, c = np.log10(true[keep]), np.log10(centre[keep])
    ss = np.sum((t - t.mean()) ** 2)
    off = np.abs(c - t)
    lo, hi = np.asarray(low, float)[keep], np.asarray(high, float)[keep]
    return {
        "runs": int(keep.sum()),
        "r2_log10": float(1 - np.sum((t - c) ** 2) / ss) if ss > 0 else math.nan,
        "within_factor": float(np.mean(off <= math.log10(FACTOR))),
        "factor": FACTOR,
        "median_factor_off": float(10 ** np.median(off)),
        "interval_coverage": float(np.mean((true[keep] >= lo) & (true[keep] <= hi))),
        "interval": INTERVAL,
    }


def metrics(frame: pd.DataFrame, classes) -> dict[str, Any]:
    """Classification and noise metrics of one protocol × tier's predictions."""
    y, pred = frame["rule"].to_numpy(str), frame["predicted"].to_numpy(str)
    correct = y == pred
    network = ~np.isin(y, NON_NETWORK_RULES)
    confusion = pd.crosstab(
        pd.Categorical(y, categories=classes),
        pd.Categorical(pred, categories=classes),
        dropna=False,
    )
    recall = {c: float(correct[y == c].mean()) for c in classes if (y == c).any()}
    out: dict[str, Any] = {
        "runs": len(y),
        "accuracy": float(correct.mean()) if len(y) else math.nan,
        "accuracy_network_rules": float(correct[network].mean()) if network.any() else math.nan,
        "network_runs": int(network.sum()),
        "balanced_accuracy": float(np.mean(list(recall.values()))) if recall else math.nan,
        "recall": recall,
        "confusion": {
            "classes": list(classes),
            "counts": confusion.to_numpy(int).tolist(),
        },
        "brier": _brier(frame, classes),
        "ece": expected_calibration_error(frame["probability"].to_numpy(float), correct),
        "noise": {},
    }
    pooled = []
    for rule in sorted(frame["rule"].unique()):
        mine = frame[(frame["rule"] == rule) & np.isfinite(frame["noise_predicted"])]
        if len(mine):
            out["noise"][rule] = noise_metrics(
                mine["noise"], mine["noise_predicted"], mine["noise_low"], mine["noise_high"]
            )
            if rule not in NON_NETWORK_RULES:
                pooled.append(mine)
    if pooled:
        both = pd.concat(pooled)
        out["noise"]["network_pooled"] = {
            k: v
            for k, v in noise_metrics(
                both["noise"], both["noise_predicted"], both["noise_low"], both["noise_high"]
            ).items()
            if k != "r2_log10"  # R² across two different magnitudes means nothing
        }
    return out
