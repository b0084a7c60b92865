"""Claims C5, C6 (Adam) and C7 on runs this package simulates, against the published runs.

A small slice of the quick reproduction's Table 2 mix (``repdrift.experiments.sweeps``:
the paper's tasks, shapes and readouts, 2·10^5 steps): GD with label noise, Adam without
noise and noise-free GD. Their medians of the summary columns (final over initial, as
``collector.py`` computed them) are held against the quartiles of the published runs of
the same group (``repdrift/reference/driftreg_all_runs.csv``) — numbers the code under test
did not produce. (Slow: about two and a half minutes on two cores.)
"""

from __future__ import annotations

import copy

import pytest

import repdrift.sweep
from repdrift.experiments import reference, sweeps

pytestmark = pytest.mark.slow

# 16 label-noise runs: their tasks, readouts and noise levels vary, and the median of the
# first 8 alone moved by 0.08 of the units with 8 more (0.83 -> 0.91, on [0, 1] data).
RUNS = {"gd-label": 16, "adam": 6, "noise-free": 3}


@pytest.fixture(scope="module")
def medians(tmp_path_factory):
    spec = copy.deepcopy(sweeps.TABLE2_QUICK)
    spec["parts"] = [p for p in spec["parts"] if p["name"] in RUNS]
    for part in spec["parts"]:
        part["random"]["n"] = RUNS[part["name"]]
    out = tmp_path_factory.mktemp("rules") / "sweep"
    result = repdrift.sweep.run(spec, out=out, batch_size=8, workers=2)
    assert not result.failed
    df = result.table
    assert (df["status"] == "complete").all() and len(df) == sum(RUNS.values())
    assert (df["run.steps"] == 200_000).all()
    columns = ["active_units", "active", "eig_sum"]
    return df.groupby(["rule", "noise"])[columns].median()


def _published(rule: str, noise: str):
    df = reference.all_runs()
    group = df[(df["rule"] == rule) & (df["noise"] == noise)]
    return group[["active_units", "active", "eig_sum"]].quantile([0.25, 0.75])


def test_label_noise_keeps_the_units_and_lowers_activity_and_curvature(medians):
    """C7. Published GD + label noise (535 runs): units 0.85–0.99 of their start, active
    fraction 0.46–0.66, Hessian trace 0.23–0.35 (interquartile ranges)."""
    ours, published = medians.loc[("gd", "label")], _published("gd", "label")
    # the units mostly survive: at or above the published lower quartile
    assert ours["active_units"] >= published.loc[0.25, "active_units"]
    # the active fraction falls clearly (halving takes the longer published runs: at this
    # length it is ~0.7, at the quick scale's 0.64), and not below the published quartile
    assert published.loc[0.25, "active"] <= ours["active"] <= 0.85
    # the trace falls at least as far as in the published upper quartile
    assert ours["eig_sum"] <= published.loc[0.75, "eig_sum"]


def test_adam_without_noise_sparsifies(medians):
    """C6 (Adam). Published Adam without noise (27 runs): 0.08–0.28 of the units left."""
    ours, published = medians.loc[("adam", "none")], _published("adam", "none")
    assert ours["active_units"] <= published.loc[0.75, "active_units"]
    # while label noise on the same tasks keeps most of its units
    assert ours["active_units"] <= 0.25 * medians.loc[("gd", "label"), "active_units"]


def test_without_noise_nothing_changes(medians):
    """C5: noise-free GD keeps its units, its active fraction and its curvature (the
    paper's text; C5's criterion, 5 %)."""
    ours = medians.loc[("gd", "none")]
    assert ours["active_units"] >= 0.95
    assert ours["active"] == pytest.approx(1.0, abs=0.05)
    assert ours["eig_sum"] == pytest.approx(1.0, abs=0.05)
