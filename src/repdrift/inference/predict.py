"""Predicting the learning rule and the noise of a run, a sweep or a recording.

A *target* is a run directory, a sweep directory (each finished run is a target) or the
sessions table of ``repdrift data analyze`` (Parquet or CSV; each animal × track series
with at least three sessions is a target, with ``drift.csv`` read from the same folder).
:func:`resolve` reads it into features; :func:`predict` picks the richest tier of the
model whose required features the target has (``tier="auto"``) and returns the calibrated
probability of each rule and, for each rule with a noise, the noise magnitude with its
interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from repdrift.inference.errors import InferenceError
from repdrift.inference.features import TIERS, features, missing_required
from repdrift.inference.library import NOISE_NAMES, rule_of
from repdrift.inference.model import INTERVAL, RuleModel

#: What a day-scale recording can and cannot say; printed with every recorded target.
RECORDING_CAVEATS = (
    "Only the recording tier applies: relative changes and shapes of the fraction of "
    "active cells, the place-cell fraction and the mean SI, and how the rate-map "
    "correlation falls with the days between sessions.",
    "The Hessian tier is unavailable (no loss landscape is measured in a brain), and so "
    "are the loss, the active fraction and absolute levels (a cell's events and a model "
    "unit's rate are on different scales).",
    "The time axis is sessions (days): only time normalised to the span of the series "
    "enters, so the answer rests on the shapes of the curves, not on their speed.",
    "The noise magnitude is in the library's units (the per-step noise that gives a "
    "library run of its fixed length the same shapes); it has no meaning per day.",
    "A series starts in an environment the animal already knows; it is compared with the "
    "part of each simulated run after the loss has converged.",
    "The answer names the most similar of the simulated rules, with probabilities "
    "calibrated on simulated runs: a brain need not use any of them. Features outside "
    "the library's range are flagged.",
)


@dataclass
class Item:
    """One thing to predict: its name, features and, when known, its true rule."""

    name: str
    values: dict[str, float]
    truth: dict[str, Any] | None = None


@dataclass
class Target:
    """A resolved target: ``kind`` is ``run``, ``sweep`` or ``sessions``."""

    kind: str
    path: Path
    items: list[Item]
    notes: list[str] = field(default_factory=list)


@dataclass
class Prediction:
    """The answer for one item.

    Attributes:
        tier: the tier used.
        probabilities: rule -> calibrated probability (all rules of the model).
        rule: the most likely rule.
        noise: rule -> ``(centre, low, high)`` magnitude for every rule with a noise
            model (``INTERVAL`` interval).
        outside: features outside the library's 1st–99th percentiles.
    """

    name: str
    tier: str
    probabilities: dict[str, float]
    rule: str
    noise: dict[str, tuple[float, float, float]]
    outside: list[str]
    truth: dict[str, Any] | None = None

    def to_json(self, model: RuleModel) -> dict[str, Any]:
        tm = model.tiers[self.tier]
        return {
            "name": self.name,
            "tier": self.tier,
            "rule": self.rule,
            "probabilities": self.probabilities,
            "noise": {
                rule: {
                    "magnitude": NOISE_NAMES.get(tm.noise[rule].kind, tm.noise[rule].kind),
                    "estimate": c,
                    "interval": [lo, hi],
                    "coverage": INTERVAL,
                }
                for rule, (c, lo, hi) in self.noise.items()
            },
            "outside_library_range": self.outside,
            "truth": self.truth,
        }


def _truth(config) -> dict[str, Any] | None:
    rule = rule_of(config)
    if rule is None:
        return None
    label, kind, magnitude = rule
    return {
        "rule": label,
        "noise_kind": kind,
        "noise": None if math.isnan(magnitude) else magnitude,
        "steps": int(config.run.steps),
    }


def _run_item(path: Path, name: str) -> Item:
    from repdrift.inference.observe import run_observations
    from repdrift.runs import open_run

    run = open_run(path)
    return Item(name, features(run_observations(run)), _truth(run.config))


def resolve(path: str | Path) -> Target:
    """Read a target (see the module docstring); raises :class:`InferenceError`."""
    from repdrift import store
    from repdrift.inference import observe
    from repdrift.sweep.directory import is_sweep

    path = Path(path)
    if not path.exists():
        raise InferenceError(f"{path} does not exist")
    if path.is_dir() and is_sweep(path):
        from repdrift.sweep.directory import open_sweep
        from repdrift.sweep.spec import SweepError
        from repdrift.sweep.table import read_table

        try:
            sweep = open_sweep(path)
            table = read_table(sweep)
        except SweepError as err:
            raise InferenceError(str(err)) from None
        done = table[table["status"] == "complete"]["run"].tolist()
        notes = []
        if len(done) < len(table):
            left = len(table) - len(done)
            notes.append(f"{left} of {len(table)} runs are not complete: left out")
        items = []
        for run_id in done:
            try:
                items.append(_run_item(sweep.run_path(run_id), run_id))
            except (InferenceError, store.StoreError) as err:  # a damaged run: the others go on
                notes.append(f"{run_id} left out: {err}")
        if not items:
            raise InferenceError(f"sweep {path} has no finished run to predict")
        return Target("sweep", path, items, notes)
    if path.is_dir() and store.is_run(path):
        return Target("run", path, [_run_item(path, path.name)])
    if path.is_dir():
        raise InferenceError(
            f"{path} is not a run, a sweep or a sessions table (a folder with neither "
            "status.json nor sweep.json)"
        )
    sessions = observe.read_sessions(path)
    drift_table = observe.read_drift(path)
    series = observe.series_observations(sessions, drift_table)
    if not series:
        raise InferenceError(
            f"{path}: no animal × track series with at least {observe.MIN_SESSIONS} sessions"
        )
    notes = (
        []
        if drift_table is not None
        else [f"no drift.csv next to {path.name}: the rate-map correlation features are missing"]
    )
    if drift_table is not None and (lacking := [n for n, o in series.items() if o.rc is None]):
        notes.append(
            f"drift.csv has no rate-map correlations of {store.few(lacking)}: "
            "their drift features are missing"
        )
    items = [Item(name, features(obs)) for name, obs in series.items()]
    return Target("sessions", path, items, notes)


def length_note(model: RuleModel, prediction: Prediction) -> str | None:
    """A note when a run's length differs from the library runs' of its predicted rule:
    the noise magnitude is then that of a library-length run with the same shapes."""
    steps = (prediction.truth or {}).get("steps")
    library_steps = model.steps.get(prediction.rule)
    if not steps or not library_steps or prediction.rule not in prediction.noise:
        return None
    ratio = steps / library_steps
    if abs(math.log(ratio)) < math.log(1.1):
        return None
    return (
        f"the run has {steps:,} steps, the library's {prediction.rule} runs "
        f"{library_steps:,.0f}: the noise estimate is that of a library run with the same "
        f"shapes (drift grows as noise² × steps: expect about ×{math.sqrt(ratio):.2g} of "
        "the run's own noise, other differences aside)"
    )


def choose_tier(model: RuleModel, values: dict[str, float], tier: str = "auto") -> str:
    """The tier to use: ``tier`` itself (checked), or with ``"auto"`` the richest tier of
    the model whose required features are all present."""
    if tier != "auto":
        if tier not in TIERS:
            raise InferenceError(f"unknown tier {tier!r}; choose auto or one of {list(TIERS)}")
        if tier not in model.tiers:
            raise InferenceError(
                f"the model has no {tier} tier (its library lacked the records it needs); "
                f"it has {', '.join(model.tiers)}"
            )
        missing = missing_required(values, tier)
        if missing:
            raise InferenceError(
                f"the target lacks features the {tier} tier needs: {', '.join(missing)}"
            )
        return tier
    for name in reversed(tuple(TIERS)):
        if name in model.tiers and not missing_required(values, name):
            return name
    missing = missing_required(values, "recording")
    raise InferenceError(
        f"the target lacks the features every tier needs: {', '.join(missing)} "
        "(too few records or sessions?)"
    )


def predict(model: RuleModel, item: Item, tier: str = "auto") -> Prediction:
    """The :class:`Prediction` for one item."""
    name = choose_tier(model, item.values, tier)
    tm = model.tiers[name]
    x = np.array([[item.values.get(f, math.nan) for f in tm.features]], float)
    x[~np.isfinite(x)] = np.nan
    p = tm.predict_proba(x, model.classes)[0]
    probabilities = {c: float(v) for c, v in zip(model.classes, p, strict=True)}
    noise = {}
    for rule, nm in tm.noise.items():
        centre, low, high = nm.predict(x)
        noise[rule] = (float(centre[0]), float(low[0]), float(high[0]))
    outside = []
    for f in tm.features:
        value = item.values.get(f, math.nan)
        lo, hi = model.feature_ranges.get(f, (-math.inf, math.inf))
        if np.isfinite(value) and not lo <= value <= hi:
            outside.append(f)
    best = max(probabilities, key=probabilities.get)
    return Prediction(item.name, name, probabilities, best, noise, outside, item.truth)
