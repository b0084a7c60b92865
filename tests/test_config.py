"""Configuration: presets, overrides, TOML round trip, and the README's reference."""

from pathlib import Path

import jax
import pytest

from repdrift import config, tasks
from repdrift.config import ConfigError, load_config


@pytest.mark.parametrize("name", config.preset_names())
def test_every_preset_validates_builds_its_task_and_round_trips(name, tmp_path):
    cfg = load_config(preset=name)
    data = tasks.make(jax.random.key(0), cfg.task_params())
    assert data.inputs.shape[0] == cfg.task.samples
    assert config.preset_description(name)
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg


def test_expected_presets_are_shipped():
    names = set(config.preset_names())
    assert {"fig2", "fig2-quick", "sweep-member"} <= names
    for task in tasks.TASKS:
        assert task.replace("_", "-") in names
    fig2 = load_config(preset="fig2")
    assert (
        fig2.task.kind,
        fig2.network.hidden,
        fig2.learner.lr,
        fig2.learner.update_noise,
        fig2.run.steps,
    ) == ("corridor", 500, 0.1, 0.0139, 10**6)


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
