"""Configuration: presets, overrides, TOML round trip, and the README's reference."""

import re
from pathlib import Path

import jax
import numpy as np
import pytest

from repdrift import config, tasks
from repdrift.config import ConfigError, load_config


@pytest.mark.parametrize("name", config.preset_names())
def test_every_preset_validates_builds_its_task_and_round_trips(name, tmp_path):
    cfg = load_config(preset=name)
    data = tasks.make(jax.random.key(0), cfg.task_params())
    assert data.inputs.shape[0] == getattr(cfg.task, "samples", 150)
    assert config.preset_description(name)
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg


def test_expected_presets_are_shipped():
    names = set(config.preset_names())
    assert {"fig2", "fig2-quick", "sweep-member"} <= names
    for task in tasks.TASKS:
        if task != "arrays":
            assert task.replace("_", "-") in names
    fig2 = load_config(preset="fig2")
    assert (
        fig2.task.kind,
        fig2.network.hidden,
        fig2.learner.lr,
        fig2.learner.update_noise,
        fig2.run.steps,
    ) == ("corridor", 500, 0.1, 0.0139, 10**6)


@pytest.mark.parametrize("name", ["fig2", "fig2-quick", "fig2-published"])
def test_fig2_presets_pin_every_value_of_the_published_run(name):
    """DriftReg outputs/predictive_track_up/.hydra/config.yaml and data.pkl: 500 hidden units,
    regime "lazy" there = readout sd 2/N (our "rich"), lr 0.1, 150 samples, arena 1 x 14,
    17 view values, half field of view pi/8, V0 0.2, texture kernel 0.09, inputs in [0, 1];
    sigma_u 0.0139 and 10^6 steps (fig2-quick: doubled noise, 1.5e5 steps)."""
    import math

    from repdrift.network import readout_sd
    from repdrift.simulation import schedule_of

    cfg = load_config(preset=name)
    assert cfg.network.hidden == 500 and cfg.network.activation == "relu"
    assert cfg.network.readout == "rich"
    # Fig. 2D counts place units at 0.1 / 0.4 / 0.7 / 1.0 T (DriftReg utils.py,
    # linspace(0.1 T, T - 1, 4)): each is a snapshot, so the counts compare like with like
    snaps = set(np.asarray(schedule_of(cfg).snapshot_steps).tolist())
    assert {round(f * cfg.run.steps) for f in (0.1, 0.4, 0.7, 1.0)} <= snaps
    assert readout_sd(cfg.network.readout, 500) == pytest.approx(2 / 500)
    assert cfg.learner.kind == "gd" and cfg.learner.lr == 0.1
    assert cfg.learner.label_noise == 0 and cfg.learner.input_noise == 0
    assert cfg.record.si_threshold == 0.01 and cfg.record.bins == 50
    if name == "fig2-quick":
        assert (cfg.learner.update_noise, cfg.run.steps) == (0.028, 150_000)
    else:
        assert (cfg.learner.update_noise, cfg.run.steps) == (0.0139, 10**6)
    if name == "fig2-published":
        assert cfg.task.kind == "arrays" and cfg.task.path == "published:fig2"
        return
    t = cfg.task
    assert (t.samples, t.size_x, t.size_y, t.view_size, t.speed, t.texture_kernel) == (
        150,
        1.0,
        14.0,
        17,
        0.2,
        0.09,
    )
    assert math.radians(t.fov_deg) / 2 == pytest.approx(math.pi / 8)
    assert t.scaling == "unit"


def test_overrides_parse_toml_values_and_switching_task_resets_its_fields():
    cfg = load_config(
        preset="fig2",
        overrides=[
            "learner.kind=adam",
            "learner.lr=1e-3",
            "run.dtype=float64",
            "network.readout=0.05",
        ],
    )
    assert (cfg.learner.kind, cfg.learner.lr, cfg.run.dtype) == ("adam", 1e-3, "float64")
    assert cfg.network.readout == 0.05
    switched = load_config(preset="fig2", overrides=["task.kind=random", "task.samples=7"])
    assert switched.task.kind == "random" and switched.task.samples == 7
    assert load_config(preset="fig2", steps=10, seed=3).run.steps == 10


def test_learner_spec_switches_noises_on_only_when_nonzero():
    spec = load_config(
        overrides=["learner.label_noise=0.1", "learner.label_noise_dist=uniform"]
    ).learner_spec()
    assert (spec.update_noise, spec.label_noise, spec.input_noise) == (False, "uniform", False)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (["learner.lr=0"], "learner.lr"),
        (["learner.b1=1.0"], "learner.b1"),
        (["record.snapshots=1"], "record.snapshots"),
        (["record.hessian=full"], "record.hessian"),
        (["run.seed=-1"], "run.seed"),
        (["task.view_size=0"], "task.view_size"),
        (["task.speed_input=maybe"], "task.speed_input"),
        (["network.hidden=2.5"], "network.hidden"),
    ],
)
def test_errors_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(overrides=overrides)


def test_readme_holds_the_generated_configuration_reference():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert config.config_reference() in readme


def test_every_task_and_model_field_is_described_in_the_reference():
    for models in (config.TASK_MODELS, config.MODEL_MODELS):
        for kind, model in models.items():
            for name, info in model.model_fields.items():
                if name != "kind":
                    assert info.description, f"{kind}.{name} has no description"
            if kind != "network":  # its intro paragraph is whole, not its first line
                assert model.__doc__.rstrip().endswith((".", ")")), model.__doc__
    # pairs documented together ("x0, y0: ...") give each field the text
    toy = config.MODEL_MODELS["toy"].model_fields
    assert toy["x0"].description == toy["y0"].description
    assert "start point" in toy["x0"].description
    assert "ratio between modules" in (
        config.MODEL_MODELS["similarity_matching"].model_fields["grid_scale_factor"].description
    )


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("Fig. 2 of the paper: a corridor. More here.", "Fig. 2 of the paper: a corridor."),
        ("The model of Qin et al. (2023), ring.\nNext.", "The model of Qin et al. (2023), ring."),
        (
            "Sweep (Table 2, Figs. 4A and S1), e.g. this. Then",
            "Sweep (Table 2, Figs. 4A and S1), e.g. this.",
        ),
        ("A list follows:\n* one. two\n* three", "A list follows"),
        ("No stop at all\n\nsecond paragraph.", "No stop at all"),
        ("Values 0.5 and 1.5 stay.", "Values 0.5 and 1.5 stay."),
    ],
)
def test_first_sentence_skips_the_stops_of_abbreviations(text, sentence):
    assert config.first_sentence(text) == sentence


def test_presets_lists_one_whole_line_per_preset(capsys):
    from repdrift.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["presets"])
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == config.preset_names()
    fig2 = next(line for line in lines if line.startswith("fig2 "))
    assert "Fig. 2 of the paper" in fig2  # not cut at "Fig."
    # into a pipe or a file (not a terminal) each line is whole, not cut to 80 columns
    for name, line in zip(config.preset_names(), lines, strict=True):
        assert line.endswith(config.first_sentence(config.preset_description(name)))


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (["task.kind=ring", "task.turn_prob=2"], ["config: task: ring: turn_prob"]),
        (["task.speed=0"], ["config: task: corridor: speed must be positive"]),
        (["model.kind=toy", "model.noise=foo"], ["config: model: toy: noise"]),
        (["model.kind=similarity_matching", "model.layout=foo"], ["layout"]),
        (["record.bins=1000000000"], ["record.bins", "less than or equal"]),
        (["record.per_decade=1000000000"], ["record.per_decade"]),
        (["network.hidden=1000000000"], ["network.hidden"]),
        (["task.samples=100000000000"], ["task.samples"]),
    ],
)
def test_what_a_task_or_model_cannot_build_is_refused_when_the_config_is_read(overrides, needles):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides)
    for needle in needles:
        assert needle in str(info.value)


@pytest.mark.parametrize(
    ("preset", "override", "needle"),
    [
        # an OverflowError while drawing the grid cells
        ("hebbian-place", "model.grid_scales=3000", "162,000 grid cells; at most 65,536"),
        ("hebbian-place", "model.grid_scale_factor=1e10", "the largest grid spacing"),
        # infinite in float32: the figures failed on the diverged run
        ("toy-manifold", "model.x0=1e200", "x0 must lie within ±1e+09"),
        ("toy-manifold", "model.y0=1e10", "y0 must lie within ±1e+09"),
    ],
)
def test_model_sizes_beyond_what_a_run_can_hold_are_refused(preset, override, needle):
    load_config(preset=preset)  # the preset itself is sound
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(preset=preset, overrides=[override])


@pytest.mark.parametrize("override", ["task.kind=[1]", "task.kind=3", "model.kind={a=1}"])
def test_a_kind_that_is_not_a_name_is_an_unknown_kind(override):
    # a list or a table as the kind was a TypeError (unhashable) while checking booleans
    section = override.split(".")[0]
    with pytest.raises(ConfigError, match=f"{section}: unknown {section} kind"):
        load_config(preset="random", overrides=[override])


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("network.hidden=true", "network.hidden: expected a number, got True"),
        ("learner.lr=false", "learner.lr: expected a number, got False"),
        ("run.seed=true", "run.seed: expected a number"),
        ("task.speed_input='yes'", "task.speed_input: expected true or false (got 'yes')"),
        ("task.speed_input=1", "task.speed_input: expected true or false (got 1)"),
    ],
)
def test_booleans_and_numbers_are_not_taken_for_each_other(override, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(overrides=[override])
    assert load_config(overrides=["task.speed_input=false"]).task.speed_input is False


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("learner.lr='0.1'", "learner.lr: Input should be a valid number (got '0.1')"),
        ("network.hidden='50'", "network.hidden: Input should be a valid integer (got '50')"),
        ("network.hidden=50.0", "network.hidden: Input should be a valid integer (got 50.0)"),
        ("run.steps=1e3", "run.steps: Input should be a valid integer (got 1000.0)"),
    ],
)
def test_strings_and_fractional_numbers_are_not_converted(override, needle):
    # A quoted value in a config file is a string in TOML: it used to be read as a number,
    # and 50.0 as the integer 50.
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(overrides=[override])
    # an integer where a number is asked is a number
    assert load_config(overrides=["learner.lr=1"]).learner.lr == 1.0


def test_numpy_scalars_from_a_script_count_as_their_python_values():
    # A configuration built from Python often holds NumPy scalars (a value drawn or read
    # from an array); strict types would refuse np.int64(50) as "not an integer".
    built = config.validate(
        {
            "network": {"hidden": np.int64(50)},
            "learner": {"lr": np.float32(0.25), "kind": np.str_("adam")},
            "run": {"seed": np.uint64(2**63)},
            "task": {"samples": np.int32(30)},
        }
    )
    assert (built.network.hidden, built.task.samples, built.run.seed) == (50, 30, 2**63)
    assert type(built.network.hidden) is int and built.learner.kind == "adam"
    assert built.learner.lr == 0.25
    assert config.Config(network=config.NetworkConfig(hidden=np.int16(7))).network.hidden == 7
    # the value, not the type, decides: a float is still no integer, a bool no number
    with pytest.raises(
        ConfigError, match=re.escape("network.hidden: Input should be a valid integer (got 50.0)")
    ):
        config.validate({"network": {"hidden": np.float64(50.0)}})
    with pytest.raises(
        ConfigError, match=re.escape("network.hidden: Input should be a valid integer (got True)")
    ):
        config.validate({"network": {"hidden": np.bool_(True)}})
