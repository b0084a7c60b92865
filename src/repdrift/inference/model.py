"""The inference model: per feature tier, a calibrated classifier of the learning rule and,
per noisy rule, a regressor of the log noise magnitude with an interval; saving and
loading.

**Rule.** scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
(classes weighted to balance them; missing features — SI of a task without positions, say
— are handled natively) inside :class:`~sklearn.calibration.CalibratedClassifierCV`
(sigmoid calibration, ``CALIBRATION_FOLDS``-fold, stratified), so that the probabilities
it prints are calibrated, not the raw votes of the trees. A library with a class of fewer
than two runs gets the uncalibrated classifier (the manifest says so).

**Noise.** For each rule that carries a noise (``gd+update``: σ_u; ``gd+label``: s;
``hebbian``: σ_W = σ_M), a :class:`~sklearn.ensemble.HistGradientBoostingRegressor` of
``log10`` of the magnitude, trained on that rule's runs only. Its interval is split
conformal on cross-validated residuals: the ``INTERVAL`` quantile of the absolute
out-of-fold errors (``NOISE_FOLDS``-fold) is the half-width, in ``log10`` units, of the
interval around the prediction (Lei et al. 2018, J. Am. Stat. Assoc. 113: 1094; the
cross-validation variant of Barber et al. 2021, Ann. Stat. 49: 486).

**Files** of a model folder: ``model.joblib`` (the fitted :class:`RuleModel`, pickled by
joblib) and ``manifest.json`` (feature names per tier, classes, the libraries, versions of
repdrift, scikit-learn, NumPy, joblib and Python, and the SHA-256 of ``model.joblib``).
:func:`load` checks the manifest, the checksum and the scikit-learn version before it
unpickles. Unpickling runs code: load only models you made or trust.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from repdrift.inference.errors import InferenceError
from repdrift.inference.features import FEATURES, REQUIRED, TIERS

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
#: The manifest's entries that describe the trained model (:func:`load` checks them).
DESCRIBED = ("classes", "runs_per_rule", "steps_per_rule", "seed", "tiers")
MANIFEST_KIND = "repdrift-infer-model"
FORMAT_VERSION = 1
#: Coverage of the noise interval.
INTERVAL = 0.9
CALIBRATION_FOLDS = 3
NOISE_FOLDS = 5
#: Fewest runs of a noisy rule for its noise regressor.
MIN_NOISE_RUNS = 6
#: Settings of the gradient-boosted trees (classifier and regressors).
TREES = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15, "l2_regularization": 1.0}
#: Percentiles of the library's features outside which a target's feature is flagged.
RANGE_PERCENTILES = (1.0, 99.0)


def one_thread():
    """Fit and predict on one OpenMP thread: the trees are small, and on a shared machine
    scikit-learn's thread pool spends more time waiting than working (a fit measured
    0.56 s on one thread and 24 s on two busy cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def matrix(table: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """``(rows, features)`` float matrix; infinities become NaN (missing)."""
    x = np.array(table.loc[:, list(names)].to_numpy(dtype=float), dtype=float, copy=True)
    x[~np.isfinite(x)] = np.nan
    return x


def _min_leaf(n: int) -> int:
    return int(max(2, min(20, n // 25)))


@dataclass
class NoiseModel:
    """A regressor of ``log10`` noise for one rule, with its conformal half-width.

    Attributes:
        kind: ``update``, ``label`` or ``synaptic``.
        regressor: fitted, predicts ``log10`` of the magnitude.
        halfwidth: ``INTERVAL`` half-width of the interval, ``log10`` units.
        n: runs it was trained on.
        log10_range: ``(min, max)`` of the training targets.
    """

    kind: str
    regressor: Any
    halfwidth: float
    n: int
    log10_range: tuple[float, float]

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(centre, low, high)`` magnitudes (not logs) for rows ``x``."""
        with one_thread():
            centre = self.regressor.predict(x)
        return 10**centre, 10 ** (centre - self.halfwidth), 10 ** (centre + self.halfwidth)


@dataclass
class TierModel:
    """The classifier and noise regressors of one feature tier."""

    tier: str
    features: tuple[str, ...]
    classes: tuple[str, ...]
    classifier: Any
    calibrated: bool
    noise: dict[str, NoiseModel] = field(default_factory=dict)

    def predict_proba(self, x: np.ndarray, classes: tuple[str, ...] | None = None) -> np.ndarray:
        """``(rows, classes)`` probabilities, columns in ``classes`` order (default: its
        own); a class it never saw gets 0."""
        with one_thread():
            p = self.classifier.predict_proba(x)
        if classes is None or tuple(classes) == self.classes:
            return p
        out = np.zeros((x.shape[0], len(classes)))
        for j, name in enumerate(self.classifier.classes_):
            out[:, list(classes).index(name)] = p[:, j]
        return out


class DropEmptyColumns(TransformerMixin, BaseEstimator):
    """A scikit-learn transformer that drops the columns with no finite value at fit.

    The gradient-boosted trees take missing values, but not a column that is missing
    everywhere (a spatial feature in a training fold without a spatial task, say).
    """

    def fit(self, x, y=None):
        self.keep_ = np.isfinite(np.asarray(x, float)).any(axis=0)
        return self

    def transform(self, x):
        return np.asarray(x, float)[:, self.keep_]


def _pipeline(trees):
    from sklearn.pipeline import Pipeline

    return Pipeline([("drop_empty", DropEmptyColumns()), ("trees", trees)])


def _classifier(y: np.ndarray, seed: int):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    trees = _pipeline(
        HistGradientBoostingClassifier(
            **TREES,
            min_samples_leaf=_min_leaf(len(y)),
            class_weight="balanced",
            random_state=seed,
        )
    )
    _, counts = np.unique(y, return_counts=True)
    folds = int(min(CALIBRATION_FOLDS, counts.min()))
    if folds < 2:
        return trees, False
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(trees, method="sigmoid", cv=cv), True


def _regressor(n: int, seed: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    return _pipeline(
        HistGradientBoostingRegressor(**TREES, min_samples_leaf=_min_leaf(n), random_state=seed)
    )


def conformal_halfwidth(residuals: np.ndarray, coverage: float = INTERVAL) -> float:
    """The split-conformal half-width: the ``⌈(n + 1) coverage⌉``-th smallest absolute
    residual (infinite when there are too few)."""
    r = np.sort(np.abs(np.asarray(residuals, float)))
    k = math.ceil((r.size + 1) * coverage)
    return float(r[k - 1]) if 1 <= k <= r.size else math.inf


def fit_noise(x: np.ndarray, log10_noise: np.ndarray, kind: str, seed: int) -> NoiseModel:
    """A :class:`NoiseModel` of one rule's runs (its half-width from out-of-fold errors)."""
    from sklearn.model_selection import KFold, cross_val_predict

    n = len(log10_noise)
    folds = min(NOISE_FOLDS, n)
    with one_thread():
        oof = cross_val_predict(
            _regressor(n, seed), x, log10_noise, cv=KFold(folds, shuffle=True, random_state=seed)
        )
        regressor = _regressor(n, seed).fit(x, log10_noise)
    return NoiseModel(
        kind,
        regressor,
        conformal_halfwidth(log10_noise - oof),
        n,
        (float(log10_noise.min()), float(log10_noise.max())),
    )


def fit_tier(table: pd.DataFrame, tier: str, *, seed: int = 0) -> TierModel:
    """Fit the classifier and the noise regressors of ``tier`` on a library table."""
    names = TIERS[tier]
    usable = table[usable_rows(table, tier)]
    y = usable["rule"].to_numpy(str)
    classes = tuple(sorted(set(y)))
    if len(classes) < 2:
        raise InferenceError(
            f"the library has runs of only {len(classes)} rule(s) usable for the {tier} tier "
            f"({', '.join(classes) or 'none'}); it needs at least two"
        )
    x = matrix(usable, names)
    classifier, calibrated = _classifier(y, seed)
    with one_thread():
        classifier.fit(x, y)
    noise = {}
    for rule in classes:
        mine = usable[(usable["rule"] == rule) & (usable["noise"] > 0)]
        if len(mine) >= MIN_NOISE_RUNS and mine["noise_kind"].nunique() == 1:
            noise[rule] = fit_noise(
                matrix(mine, names),
                np.log10(mine["noise"].to_numpy(float)),
                str(mine["noise_kind"].iloc[0]),
                seed,
            )
    return TierModel(tier, names, classes, classifier, calibrated, noise)


def usable_rows(table: pd.DataFrame, tier: str) -> np.ndarray:
    """Rows with every feature :data:`REQUIRED` by ``tier``."""
    return np.all(np.isfinite(matrix(table, REQUIRED[tier])), axis=1)


@dataclass
class RuleModel:
    """A fitted inference model: one :class:`TierModel` per tier.

    Attributes:
        tiers: tier name -> its model.
        classes: every rule of the library.
        counts: runs per rule.
        feature_ranges: feature -> the library's ``RANGE_PERCENTILES``.
        seed: the seed it was fitted with.
        steps: rule -> median length of its runs (steps): the noise magnitudes are those
            of runs of this length.
    """

    tiers: dict[str, TierModel]
    classes: tuple[str, ...]
    counts: dict[str, int]
    feature_ranges: dict[str, tuple[float, float]]
    seed: int = 0
    steps: dict[str, float] = field(default_factory=dict)


def fit(table: pd.DataFrame, *, tiers: tuple[str, ...] | None = None, seed: int = 0) -> RuleModel:
    """Fit a :class:`RuleModel` on a library table (:func:`repdrift.inference.library
    .library_table`). A tier for which the library has no usable runs (no Hessian records,
    say) is left out; at least the recording tier must fit."""
    tiers = tuple(TIERS) if tiers is None else tiers
    models = {}
    for tier in tiers:
        if usable_rows(table, tier).sum() == 0:
            continue
        models[tier] = fit_tier(table, tier, seed=seed)
    if not models:
        raise InferenceError("no run of the library has the records any feature tier needs")
    x = matrix(table, FEATURES)
    ranges = {}
    for j, name in enumerate(FEATURES):
        finite = x[:, j][np.isfinite(x[:, j])]
        if finite.size:
            lo, hi = np.percentile(finite, RANGE_PERCENTILES)
            ranges[name] = (float(lo), float(hi))
    counts = table["rule"].value_counts()
    steps = table.groupby("rule")["steps"].median() if "steps" in table else {}
    return RuleModel(
        models,
        tuple(sorted(counts.index)),
        {str(k): int(v) for k, v in counts.items()},
        ranges,
        seed,
        {str(k): float(v) for k, v in dict(steps).items()},
    )


# ---------------------------------------------------------------------------- files


def _versions() -> dict[str, str]:
    import joblib
    import sklearn

    from repdrift import __version__

    return {
        "repdrift": str(__version__),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_of(model: RuleModel, libraries: list[str], n_runs: int) -> dict[str, Any]:
    from repdrift.inference.library import NOISE_NAMES

    return {
        "kind": MANIFEST_KIND,
        "format": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": _versions(),
        "libraries": libraries,
        "runs": n_runs,
        "classes": list(model.classes),
        "runs_per_rule": model.counts,
        "steps_per_rule": model.steps,
        "seed": model.seed,
        "tiers": {
            name: {
                "features": list(tm.features),
                "classes": list(tm.classes),
                "calibrated": tm.calibrated,
                "noise": {
                    rule: {
                        "kind": nm.kind,
                        "magnitude": NOISE_NAMES.get(nm.kind, nm.kind),
                        "runs": nm.n,
                        "interval": INTERVAL,
                        "halfwidth_log10": nm.halfwidth,
                    }
                    for rule, nm in tm.noise.items()
                },
            }
            for name, tm in model.tiers.items()
        },
        "model_file": MODEL_FILE,
    }


def save(model: RuleModel, folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``model.joblib`` and ``manifest.json`` (with the checksum) into ``folder``."""
    import joblib

    folder = Path(folder)
    joblib.dump(model, folder / MODEL_FILE, compress=3)
    manifest = {**manifest, "model_sha256": _sha256(folder / MODEL_FILE)}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The checked manifest of a model folder (raises :class:`InferenceError`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InferenceError(f"{folder} is not a model folder (`repdrift infer train` writes one)")
    file = folder / MANIFEST_FILE
    if not file.is_file():
        raise InferenceError(f"{folder} is not a model folder: no {MANIFEST_FILE}")
    try:
        manifest = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InferenceError(f"{file} is corrupt: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise InferenceError(f"{file} is not the manifest of a repdrift inference model")
    if manifest.get("format") != FORMAT_VERSION:
        raise InferenceError(
            f"{folder}: model format {manifest.get('format')!r}; this repdrift reads format "
            f"{FORMAT_VERSION} (retrain with `repdrift infer train`)"
        )
    return manifest


def load(folder: str | Path) -> tuple[RuleModel, dict[str, Any]]:
    """``(model, manifest)`` of a model folder, checked (raises :class:`InferenceError`)."""
    import joblib
    import sklearn

    folder = Path(folder)
    manifest = read_manifest(folder)
    file = folder / MODEL_FILE
    if not file.is_file():
        raise InferenceError(f"{folder}: {MODEL_FILE} is missing")
    versions = manifest.get("versions")
    if not isinstance(versions, dict):
        raise InferenceError(f"{folder / MANIFEST_FILE} is corrupt: 'versions' is not a table")
    trained = versions.get("scikit-learn")
    if trained != sklearn.__version__:
        raise InferenceError(
            f"{folder} was trained with scikit-learn {trained}; this is {sklearn.__version__} "
            "(retrain with `repdrift infer train`)"
        )
    if _sha256(file) != manifest.get("model_sha256"):
        raise InferenceError(f"{file} does not match its manifest (corrupt or replaced)")
    try:
        model = joblib.load(file)
    except Exception as err:
        raise InferenceError(f"{file} cannot be loaded: {type(err).__name__}: {err}") from None
    if not isinstance(model, RuleModel):
        raise InferenceError(f"{file} does not hold a repdrift inference model")
    # the manifest is what a reader sees of the model: it must describe this very one
    fresh = json.loads(json.dumps(manifest_of(model, [], 0)))
    edited = [k for k in DESCRIBED if manifest.get(k) != fresh[k]]
    if edited:
        raise InferenceError(
            f"{folder / MANIFEST_FILE} does not describe {MODEL_FILE}: its "
            f"{', '.join(repr(k) for k in edited)} differ from the model's (edited?); "
            "retrain with `repdrift infer train`"
        )
    return model, manifest
