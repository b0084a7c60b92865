"""Sweep specifications: validation messages, deterministic expansion, the paper's
conditions on noise, and the composition of the shipped presets."""

from __future__ import annotations

import collections
import math
import os
import warnings

import numpy as np
import pytest

from repdrift.sweep import spec as sweep_spec
from repdrift.sweep.spec import SweepError, expand, load_spec, parse_spec, plan_digest

BASE = {"task": {"kind": "random", "samples": 5, "d_in": 6, "d_out": 4}, "run": {"steps": 100}}


def _runs(data: dict) -> list:
    return expand(parse_spec(data))


# ------------------------------------------------------------------------ validation

BAD_SPECS = [
    ({"grd": {}}, ["grd", "unknown field"]),
    ({"grid": {"lerner.lr": [0.1]}}, ["lerner.lr", "unknown section 'lerner'"]),
    ({"grid": {"learner.rate": [0.1]}}, ["[grid] 'learner.rate'", "unknown field 'rate'"]),
    ({"base": {"task.foo": 1}}, ["sweep spec: [base] 'task.foo'", "unknown field 'foo'"]),
    ({"grid": {"learner.lr": []}}, ["sweep spec: [grid] 'learner.lr'", "empty"]),
    ({"grid": {"learner.lr": 0.1}}, ["learner.lr", "list"]),
    ({"grid": {"learner.lr": {"uniform": [0.1, 0.2]}}}, ["learner.lr", "distributions belong"]),
    ({"grid": {"task": [5]}}, ["task", "tables"]),
    ({"grid": {"learner.lr": {"geomspace": [0, 1, 3]}}}, ["geomspace", "positive"]),
    ({"grid": {"learner.lr": {"linspace": [0, 1, 0]}}}, ["linspace", "num"]),
    ({"random": {"learner.lr": {"uniform": [0.1, 0.2]}}}, ["random.n", "required"]),
    ({"random": {"n": 0}}, ["random.n", "greater than or equal to 1"]),
    ({"random": {"n": 2, "learner.lr": {"uniform": [0.2, 0.1]}}}, ["learner.lr", "low < high"]),
    ({"random": {"n": 2, "learner.lr": {"log_uniform": [0, 1]}}}, ["log_uniform", "low > 0"]),
    ({"random": {"n": 2, "task.d_in": {"integers": [5.5, 9]}}}, ["task.d_in", "integers"]),
    ({"random": {"n": 2, "task.d_in": {"integers": [9, 5]}}}, ["task.d_in", "low <= high"]),
    (
        {"random": {"n": 2, "learner.lr": {"normal": [0, 1]}}},
        ["learner.lr", "unknown distribution"],
    ),
    ({"random": {"n": 2, "learner.lr": [0.1, 0.2]}}, ["learner.lr", "choice"]),
    ({"random": {"n": 2, "learner.lr": {"choice": []}}}, ["learner.lr", "non-empty"]),
    ({"random": {"n": 2, "task": {"choice": [1, 2]}}}, ["task", "tables"]),
    ({"random": {"n": 2, "task": {"choice": [{"kind": "ring", "width": 3}]}}}, ["width"]),
    (
        {"random": {"n": 2, "noise": {"update": {"uniform": [0.01, 0.1]}}}},
        ["noise", "'label'"],
    ),
    ({"random": {"n": 2, "noise": {"kind": "both", "update": 0.1}}}, ["random.noise.kind"]),
    (
        {
            "random": {
                "n": 2,
                "learner.update_noise": 0.1,
                "noise": {"kind": "update", "update": 0.1},
            }
        },
        ["learner.update_noise", "[random.noise]"],
    ),
    (
        {"parts": [{"name": "a", "grid": {"learner.lr": [0.1]}}], "grid": {"learner.lr": [1]}},
        ["not both"],
    ),
    ({"parts": [{"name": "a"}, {"name": "a"}]}, ["unique", "'a'"]),
    ({"parts": [{"name": "bad name"}]}, ["parts[0].name"]),
    ({"parts": [{"name": "a", "sample": 0}]}, ["parts[0].sample"]),
    ({"base": {"learner": {"lr": -1.0}}}, ["base", "learner.lr"]),
    ({"base": {"optimizer": {"lr": 1.0}}}, ["optimizer", "unknown section"]),
    # sizes that would exhaust the memory while expanding are refused first
    ({"grid": {"learner.lr": {"linspace": [0.1, 0.2, 10**8]}}}, ["linspace", "at most"]),
    ({"grid": {"run.seed": {"integers": [0, 10**9]}}}, ["integers", "at most"]),
    (
        {"grid": {"learner.lr": [0.1] * 1001, "run.seed": {"integers": [0, 999]}}},
        ["1,001,000 runs", "at most 1,000,000"],
    ),
    (
        {"random": {"n": 10**11, "learner.lr": {"uniform": [0.1, 0.2]}}},
        ["100,000,000,000 runs", "at most"],
    ),
    # ranges wider than a float spans: NumPy cannot draw from them or space them
    (
        {"random": {"n": 2, "learner.lr": {"uniform": [-1e308, 1e308]}}},
        ["random: 'learner.lr': uniform", "too wide"],
    ),
    (
        {
            "random": {
                "n": 2,
                "noise": {"kind": "update", "update": {"uniform": [-1.7e308, 1.7e308]}},
            }
        },
        ["random.noise: 'learner.update_noise': uniform", "too wide"],
    ),
    (
        {"grid": {"learner.lr": {"linspace": [-1e308, 1e308, 3]}}},
        ["'learner.lr': linspace", "too wide"],
    ),
    (
        {"random": {"n": 2, "learner.lr": {"choice": {"linspace": [-1e308, 1e308, 3]}}}},
        ["'learner.lr': linspace", "too wide"],
    ),
    # a combination the task cannot build is found when the run is planned
    (
        {"grid": {"task": [{"kind": "ring", "turn_prob": 2.0}]}},
        ["run r00000", "ring: turn_prob must lie in [0, 1]"],
    ),
]


@pytest.mark.parametrize(("data", "needles"), BAD_SPECS)
def test_bad_specs_are_refused_with_a_message_naming_the_field(data, needles):
    with pytest.raises(SweepError) as info, warnings.catch_warnings():
        warnings.simplefilter("error")  # refused, not after NumPy's overflow warnings
        _runs({"base": BASE, **data} if "base" not in data else data)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("sweep spec")
    for needle in needles:
        assert needle in message, (needle, message)


def test_a_run_that_its_task_cannot_take_is_named_with_its_field():
    data = {"base": BASE, "grid": {"task.kind": ["random", "ring"], "task.d_out": [3]}}
    with pytest.raises(SweepError, match=r"run r00001 .*task\.d_out.*unknown field"):
        _runs(data)


def test_sampling_more_runs_than_a_part_has_is_refused():
    data = {"base": BASE, "parts": [{"name": "p", "grid": {"learner.lr": [0.1, 0.2]}, "sample": 5}]}
    with pytest.raises(SweepError, match="part 'p': sample = 5 but it has only 2 runs"):
        _runs(data)


def test_invalid_toml_and_unknown_presets_are_sweep_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\n")
    with pytest.raises(SweepError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(SweepError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    # a folder exists: it is named as one, as `repdrift config --config DIR` names it
    with pytest.raises(SweepError, match=r"is a directory, not a TOML file"):
        load_spec(tmp_path)
    os.mkfifo(tmp_path / "pipe.toml")  # exists, but reading it would wait for a writer
    with pytest.raises(SweepError, match=r"pipe.toml is not a regular file"):
        load_spec(tmp_path / "pipe.toml")
    with pytest.raises(SweepError, match=r"unknown sweep preset 'nope'; choose one of .*table2"):
        load_spec(preset="nope")


# ------------------------------------------------------------------------- expansion


def test_grid_is_the_product_in_key_order_and_generators_expand_as_documented():
    runs = _runs(
        {
            "base": BASE,
            "grid": {
                "learner.lr": {"linspace": [0.1, 0.3, 3]},
                "task.samples": {"integers": [5, 6]},
                "learner.update_noise": {"geomspace": [0.01, 1.0, 3]},
            },
        }
    )
    assert len(runs) == 3 * 2 * 3
    got = [
        (r.config.learner.lr, r.config.task.samples, r.config.learner.update_noise) for r in runs
    ]
    expected = [(lr, s, u) for lr in (0.1, 0.2, 0.3) for s in (5, 6) for u in (0.01, 0.1, 1.0)]
    assert np.allclose(np.array(got), np.array(expected), rtol=1e-12)
    assert [r.run for r in runs[:3]] == ["r00000", "r00001", "r00002"]


def test_seeds_are_base_seed_plus_index_unless_the_spec_sets_them():
    base = {**BASE, "run": {"steps": 100, "seed": 40}}
    runs = _runs({"base": base, "grid": {"learner.lr": [0.1, 0.2, 0.3]}})
    assert [r.config.run.seed for r in runs] == [40, 41, 42]
    runs = _runs({"base": base, "grid": {"run.seed": [7, 7], "learner.lr": [0.1]}})
    assert [r.config.run.seed for r in runs] == [7, 7]


RANDOM_SPEC = {
    "seed": 11,
    "base": BASE,
    "random": {
        "n": 300,
        "learner.lr": {"uniform": [0.05, 0.15]},
        "learner.update_noise": {"log_uniform": [0.01, 0.1]},
        "task.d_in": {"integers": [5, 9]},
        "network.readout": {"choice": ["lazy", "rich"]},
        "learner.label_noise": {"choice": {"geomspace": [0.1, 1.0, 50]}},
    },
}


def test_expansion_is_deterministic_given_the_seed_and_changes_with_it():
    first, again = _runs(RANDOM_SPEC), _runs(RANDOM_SPEC)
    assert plan_digest(first) == plan_digest(again)
    assert [r.config for r in first] == [r.config for r in again]
    other = _runs({**RANDOM_SPEC, "seed": 12})
    assert plan_digest(other) != plan_digest(first)
    assert [r.config.learner.lr for r in other] != [r.config.learner.lr for r in first]


def test_random_draws_respect_their_distributions():
    runs = _runs(RANDOM_SPEC)
    lr = np.array([r.config.learner.lr for r in runs])
    noise = np.array([r.config.learner.update_noise for r in runs])
    d_in = np.array([r.config.task.d_in for r in runs])
    assert lr.min() >= 0.05 and lr.max() <= 0.15
    # log-uniform: log10 is uniform on [-2, -1]; its mean is -1.5 with sd 1/sqrt(12 n)
    logs = np.log10(noise)
    assert logs.min() >= -2 and logs.max() <= -1
    assert abs(logs.mean() + 1.5) < 4 / math.sqrt(12 * len(runs))
    # integers include both ends
    assert set(d_in.tolist()) == {5, 6, 7, 8, 9}
    grid = set(np.round(np.geomspace(0.1, 1.0, 50), 12))
    assert {round(r.config.learner.label_noise, 12) for r in runs} <= grid
    assert {r.config.network.readout for r in runs} == {"lazy", "rich"}


def test_grid_and_random_combine_draw_major():
    data = {
        "base": BASE,
        "grid": {"learner.lr": [0.1, 0.2]},
        "random": {"n": 3, "task.d_in": {"integers": [5, 50]}},
    }
    runs = _runs(data)
    assert len(runs) == 6
    assert [r.config.learner.lr for r in runs] == [0.1, 0.2] * 3
    d_in = [r.config.task.d_in for r in runs]
    assert d_in[0::2] == d_in[1::2]  # each draw paired with every grid point


def test_a_new_task_kind_starts_the_task_section_afresh_whatever_the_key_order():
    (ring,) = _runs({"base": BASE, "grid": {"task.view_size": [7], "task.kind": ["ring"]}})
    assert ring.config.task.kind == "ring" and ring.config.task.view_size == 7
    assert ring.config.task.samples == 10  # the ring's default, not the base's 5
    (same,) = _runs({"base": BASE, "grid": {"task.samples": [9], "task.kind": ["random"]}})
    assert same.config.task.samples == 9
    assert same.config.task.d_out == BASE["task"]["d_out"]  # same kind: base fields kept


def test_chosen_tables_carry_their_own_drawn_fields():
    data = {
        "base": BASE,
        "random": {
            "n": 60,
            "task": {
                "choice": [
                    {"kind": "ring", "view_size": {"integers": [5, 6]}, "step": 120.0},
                    {"kind": "random_autoencoder", "d_in": {"integers": [7, 8]}},
                ]
            },
        },
    }
    runs = _runs(data)
    kinds = collections.Counter(r.config.task.kind for r in runs)
    assert set(kinds) == {"ring", "random_autoencoder"}
    for r in runs:
        if r.config.task.kind == "ring":
            assert r.config.task.view_size in (5, 6) and r.config.task.step == 120.0
        else:
            assert r.config.task.d_in in (7, 8)


def test_part_sample_keeps_distinct_runs_of_the_part_in_order():
    grid = {"learner.lr": {"linspace": [0.01, 0.2, 20]}}
    full = _runs({"base": BASE, "parts": [{"name": "p", "grid": grid}]})
    sub = _runs({"base": BASE, "parts": [{"name": "p", "grid": grid, "sample": 7}]})
    assert len(sub) == 7
    lrs = [r.config.learner.lr for r in sub]
    assert lrs == sorted(lrs) and len(set(lrs)) == 7
    assert set(lrs) <= {r.config.learner.lr for r in full}
    again = _runs({"base": BASE, "parts": [{"name": "p", "grid": grid, "sample": 7}]})
    assert [r.config.learner.lr for r in again] == lrs


def test_overrides_apply_to_every_run_last():
    spec = parse_spec({"base": BASE, "grid": {"run.steps": [10, 20]}})
    runs = expand(spec, ["run.steps=5"])
    assert [r.config.run.steps for r in runs] == [5, 5]


# ------------------------------------------------------------------------ conditions

CONDITIONS_SPEC = {
    "seed": 3,
    "base": {**BASE, "learner": {"update_noise": 0.5, "label_noise": 0.5}},
    "random": {
        "n": 800,
        "learner": {
            "choice": [
                {"kind": "gd"},
                {"kind": "gd"},
                {"kind": "adam", "lr": 0.001},
                {"kind": "sed"},
                {"kind": "rmsprop", "lr": 0.001},
            ]
        },
        "noise": {
            "update": {"log_uniform": [0.01, 0.1]},
            "label": {"choice": {"geomspace": [0.1, 1.0, 50]}},
        },
    },
}


def test_sgd_gets_exactly_one_noise_with_equal_probability_and_other_rules_none():
    runs = _runs(CONDITIONS_SPEC)
    sgd = [r.config.learner for r in runs if r.config.learner.kind == "gd"]
    others = [r.config.learner for r in runs if r.config.learner.kind != "gd"]
    assert len(sgd) > 200 and len(others) > 200
    for lc in sgd:
        assert (lc.update_noise > 0) != (lc.label_noise > 0)
        if lc.update_noise > 0:
            assert 0.01 <= lc.update_noise <= 0.1
        else:
            assert 0.1 <= lc.label_noise <= 1.0
    # the base's noise is overridden: Adam, SED and RMSprop get none
    assert all(lc.update_noise == 0 and lc.label_noise == 0 for lc in others)
    update = sum(lc.update_noise > 0 for lc in sgd)
    n = len(sgd)
    assert abs(update - n / 2) < 4 * math.sqrt(n / 4)  # binomial(n, 1/2), 4 sd


def test_noise_kind_forces_one_noise():
    data = {
        "base": BASE,
        "random": {"n": 30, "noise": {"kind": "label", "label": {"uniform": [0.1, 1.0]}}},
    }
    runs = _runs(data)
    assert all(r.config.learner.label_noise > 0 for r in runs)
    assert all(r.config.learner.update_noise == 0 for r in runs)


# --------------------------------------------------------------------------- presets

#: The published table (DESIGN.md, "Facts of the published runs"): 1,151 runs.
PUBLISHED = {
    ("gd", "update", 10_000_000): 342,
    ("gd", "label", 10_000_000): 353,
    ("adam", "none", 10_000_000): 45,
    ("sed", "none", 10_000_000): 49,
    ("gd", "update", 1_000_000): 180,
    ("gd", "label", 1_000_000): 182,
}
#: The 10^6-step grid runs of the published table by task (make_configs.py's grid).
PUBLISHED_GRID_TASKS = {
    "random": 108,
    "smoothed": 108,
    "random_autoencoder": 88,
    "smoothed_autoencoder": 42,
    "ring": 16,
}


def _noise(lc) -> str:
    if lc.update_noise > 0 and lc.label_noise > 0:
        return "both"
    return "update" if lc.update_noise > 0 else ("label" if lc.label_noise > 0 else "none")


def _composition(runs) -> collections.Counter:
    return collections.Counter(
        (r.config.learner.kind, _noise(r.config.learner), r.config.run.steps) for r in runs
    )


@pytest.fixture(scope="module")
def table2():
    spec, _ = load_spec(preset="table2")
    return expand(spec)


def test_table2_preset_has_the_published_composition(table2):
    assert len(table2) == 1151
    assert _composition(table2) == collections.Counter(PUBLISHED)
    kinds = collections.Counter(r.config.learner.kind for r in table2)
    assert kinds == {"gd": 1057, "adam": 45, "sed": 49}
    steps = collections.Counter(r.config.run.steps for r in table2)
    assert steps == {10_000_000: 789, 1_000_000: 362}
    grid_tasks = collections.Counter(
        r.config.task.kind for r in table2 if r.config.run.steps == 1_000_000
    )
    assert grid_tasks == collections.Counter(PUBLISHED_GRID_TASKS)


def test_table2_preset_uses_the_published_ranges(table2):
    random_part = [r for r in table2 if r.config.run.steps == 10_000_000]
    grid_part = [r for r in table2 if r.config.run.steps == 1_000_000]
    lr_ranges = {"gd": (0.05, 0.15), "adam": (0.5e-3, 1.5e-3), "sed": (0.9, 1.0)}
    for r in random_part:
        c = r.config
        low, high = lr_ranges[c.learner.kind]
        assert low - 1e-12 <= c.learner.lr <= high + 1e-12
        width = c.task.view_size if c.task.kind == "ring" else c.task.d_in
        assert 5 <= width <= 29 and 5 <= c.task.samples <= 14
        if c.task.kind in ("random", "smoothed"):
            assert 5 <= c.task.d_out <= 29
        if c.learner.update_noise > 0:
            assert 0.01 - 1e-12 <= c.learner.update_noise <= 0.1 + 1e-12
        if c.learner.label_noise > 0:
            assert 0.1 - 1e-12 <= c.learner.label_noise <= 1.0 + 1e-12
    for r in grid_part:
        c = r.config
        assert c.learner.kind == "gd" and c.learner.lr == 0.1
        assert (c.learner.update_noise, c.learner.label_noise) in ((0.03, 0.0), (0.0, 1.0))
        width = c.task.view_size if c.task.kind == "ring" else c.task.d_in
        assert width in (20, 25, 30) and c.task.samples in (5, 10, 20)
        if c.task.kind in ("random", "smoothed"):
            assert c.task.d_out in (5, 10, 15)
    for r in table2:
        c = r.config
        assert c.network.hidden == 100 and c.network.readout in ("lazy", "rich")
        assert c.learner.label_noise_dist == "uniform"  # as the original code drew it
    assert {r.config.task.kind for r in random_part} == set(PUBLISHED_GRID_TASKS)
    # the data the published runs trained on (their first records): [0, 1] for GD and
    # Adam at 10^7 steps, [-1, 1] for SED and the 10^6-step grid
    scaling = {(r.config.learner.kind, r.config.task.scaling) for r in random_part}
    assert scaling == {("gd", "unit"), ("adam", "unit"), ("sed", "symmetric")}
    assert {r.config.task.scaling for r in grid_part} == {"symmetric"}


def test_table2_preset_respects_the_conditions(table2):
    for r in table2:
        lc = r.config.learner
        if lc.kind == "gd":
            assert (lc.update_noise > 0) != (lc.label_noise > 0), r.run
        else:
            assert lc.update_noise == 0 and lc.label_noise == 0, r.run


def test_table2_quick_has_the_same_mix_as_table2(table2):
    spec, _ = load_spec(preset="table2-quick")
    quick = expand(spec)
    assert len(quick) == len(table2)
    by_rule = collections.Counter((r.config.learner.kind, _noise(r.config.learner)) for r in quick)
    assert by_rule == collections.Counter(
        (r.config.learner.kind, _noise(r.config.learner)) for r in table2
    )
    parts = collections.Counter(r.part for r in quick)
    assert parts == collections.Counter(r.part for r in table2)
    scaling = collections.Counter((r.part, r.config.task.scaling) for r in quick)
    assert scaling == collections.Counter((r.part, r.config.task.scaling) for r in table2)


def test_fig4b_preset_is_one_shape_under_update_noise():
    spec, _ = load_spec(preset="fig4b")
    runs = expand(spec)
    assert len(runs) == 118
    grid = np.geomspace(0.01, 0.1, 50)
    for r in runs:
        c = r.config
        assert c.learner.kind == "gd" and c.learner.lr == 0.1 and c.learner.label_noise == 0
        assert np.isclose(grid, c.learner.update_noise, rtol=1e-12).any()
        assert c.network.hidden == 100 and c.network.readout == "lazy"
        assert c.task.samples == 5 and c.run.steps == 10_000_000
        assert c.task.scaling == "unit"  # what the published runs trained on
        if c.task.kind == "ring":
            assert c.task.view_size == 20
        else:
            assert (c.task.d_in, c.task.d_out) == (20, 5)
    tasks = collections.Counter(r.config.task.kind for r in runs)
    assert tasks == {"random": 35, "smoothed": 45, "ring": 38}  # as the published table


def test_fig4b_quick_is_fig4b_on_the_upper_noise_band_with_fewer_steps():
    paper = expand(load_spec(preset="fig4b")[0])
    quick = expand(load_spec(preset="fig4b-quick")[0])
    assert len(quick) == len(paper) == 118
    band = np.geomspace(0.025, 0.075, 50)
    for p, q in zip(paper, quick, strict=True):
        assert q.config.task == p.config.task and q.config.network == p.config.network
        assert q.config.learner.lr == p.config.learner.lr == 0.1
        assert np.isclose(band, q.config.learner.update_noise, rtol=1e-12).any()
        assert q.config.run.steps == 1_000_000
    tasks = collections.Counter(r.config.task.kind for r in quick)
    assert tasks == {"random": 35, "smoothed": 45, "ring": 38}


@pytest.mark.parametrize("name", sweep_spec.preset_names())
def test_every_shipped_preset_expands_to_valid_runs(name):
    spec, text = load_spec(preset=name)
    runs = expand(spec)
    assert runs and len({r.run for r in runs}) == len(runs)
    assert sweep_spec.spec_description(text)


def test_sweep_smoke_mixes_shapes_rules_and_noises():
    spec, _ = load_spec(preset="sweep-smoke")
    runs = expand(spec)
    assert 20 <= len(runs) <= 30
    combos = {(r.config.learner.kind, _noise(r.config.learner)) for r in runs}
    assert combos == {("gd", "update"), ("gd", "label"), ("adam", "none"), ("sed", "none")}
    assert len({r.config.task.kind for r in runs}) >= 3
    assert len({r.config.run.steps for r in runs}) == 1


def test_an_empty_spec_is_refused():
    with pytest.raises(SweepError, match="empty"):
        parse_spec({})
