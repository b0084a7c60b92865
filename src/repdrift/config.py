"""Validated, immutable run configuration: TOML in and out, presets, ``--set`` overrides.

A run is described by five sections::

    [task]     kind = "corridor" and that task's parameters (see repdrift.tasks)
    [network]  hidden units, activation, readout scale
    [learner]  rule, learning rate, noise magnitudes
    [record]   record schedule, snapshots, rate-map bins, Hessian at snapshots
    [run]      steps, seed, dtype, checkpoint interval

Everything is validated once, here, at the edge; errors name the field and the allowed
values (:class:`ConfigError`). Presets are TOML files shipped in ``repdrift/presets``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import numpy as np
import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from repdrift.models.params import ACTIVATION_NAMES, LEARNER_KINDS, PARAMS, LearnerKind
from repdrift.tasks.params import TASKS, check_task

if TYPE_CHECKING:
    from repdrift.learners import LearnerSpec


class ConfigError(ValueError):
    """A configuration problem, stated in one line that names the field."""


_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, validate_default=True)


class _Section(BaseModel):
    """A section of the configuration: strict types (a string or a fractional number is
    not silently made a number), except that a NumPy scalar counts as the Python value it
    holds — ``hidden = np.int64(50)`` from a script is 50, ``np.float64(50.0)`` is still
    refused where an integer is expected."""

    model_config = _STRICT

    @model_validator(mode="before")
    @classmethod
    def _numpy_scalars(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v.item() if isinstance(v, np.generic) else v for k, v in data.items()}
        return data


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


#: The largest integer a task or model field may take (samples, units, particles, ...):
#: far above any published set-up, low enough that a typo is an error, not an allocation.
MAX_SIZE = 10_000_000


def _first_paragraph(doc: str | None) -> str:
    return " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())


def _attribute_docs(params_cls: type) -> dict[str, str]:
    """Each field's description from the ``Attributes:`` section of a parameter class's
    docstring (``name: text`` or ``a, b: text``, continued on more deeply indented lines)."""
    _, found, section = inspect.cleandoc(params_cls.__doc__ or "").partition("Attributes:\n")
    out: dict[str, str] = {}
    names: list[str] = []
    for line in section.splitlines() if found else []:
        indent = len(line) - len(line.lstrip())
        entry = re.match(r"\s{4}(\w+(?:,\s*\w+)*):\s+(.*)", line)
        if entry and indent == 4:
            names = [n.strip() for n in entry.group(1).split(",")]
            out.update(dict.fromkeys(names, entry.group(2)))
        elif indent > 4 and names:
            for n in names:
                out[n] += " " + line.strip()
        else:
            break
    return out


def absolute_file(path: str) -> str:
    """A file of the configuration as an absolute path, ``~`` expanded, taken from the
    current folder where relative; names of shipped data (``published:NAME``) as given."""
    if path.startswith("published:"):
        return path
    if not path.strip():
        raise ValueError("give a file")
    try:
        expanded = os.path.expanduser(path)
    except RuntimeError:  # Python >= 3.12, for a user this machine does not know
        expanded = path
    if expanded.startswith("~"):
        raise ValueError(f"no home directory for {path.split('/')[0]}")
    return os.path.abspath(expanded)


def _task_model(name: str, params_cls: type) -> type[BaseModel]:
    """A pydantic model for one task: ``kind`` plus the fields of its params dataclass,
    each described by the class's ``Attributes:`` docstring.

    Integers must be ≥ 1 and numbers finite and ≥ 0; combinations the task cannot
    build are reported by the task itself when the dataset is made.
    """
    described = _attribute_docs(params_cls)
    fields: dict[str, Any] = {"kind": (Literal[name], name)}
    for f in dataclasses.fields(params_cls):
        default = Field(f.default, description=described.get(f.name))
        choices = f.metadata.get("choices")
        # bool before int: bool is a subclass of int.
        if choices:
            fields[f.name] = (Literal[tuple(choices)], default)
        elif f.metadata.get("file"):
            fields[f.name] = (Annotated[str, AfterValidator(absolute_file)], default)
        elif isinstance(f.default, bool):
            fields[f.name] = (bool, default)
        elif isinstance(f.default, int):
            fields[f.name] = (Annotated[int, Field(ge=1, le=MAX_SIZE)], default)
        elif isinstance(f.default, float):
            fields[f.name] = (NonNegativeFloat, default)
        else:
            fields[f.name] = (type(f.default), default)
    model = create_model(f"{params_cls.__name__}Config", __base__=_Section, **fields)
    model.__doc__ = _first_paragraph(params_cls.__doc__)
    return model


TASK_MODELS: dict[str, type[BaseModel]] = {
    name: _task_model(name, cls) for name, cls in TASKS.items()
}


class NetworkModelConfig(_Section):
    """The one-hidden-layer network, configured by ``[task]``, ``[network]``, ``[learner]``."""

    kind: Literal["network"] = "network"


def _model_models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {"network": NetworkModelConfig}
    for name, cls in PARAMS.items():
        out[name] = _task_model(name, cls)
    return out


#: ``[model] kind`` -> its pydantic model.
MODEL_MODELS: dict[str, type[BaseModel]] = _model_models()


class NetworkConfig(_Section):
    """One hidden layer: ``h = act(W1 x + b1)``, ``y = W2 h`` (no output bias)."""

    hidden: Annotated[int, Field(ge=1, le=1_000_000, description="number of hidden units N")] = 100
    activation: Annotated[
        str,
        Field(
            description=f"one of {sorted(ACTIVATION_NAMES)}; activity is measured by its "
            "positive part (h > 0 is active)"
        ),
    ] = "relu"
    readout: Annotated[
        Literal["lazy", "rich"] | PositiveFloat,
        Field(description="readout sd: 'lazy' = sqrt(2/N), 'rich' = 2/N, or a number"),
    ] = "lazy"

    @field_validator("readout", mode="before")
    @classmethod
    def _readout_value(cls, v: Any) -> Any:
        ok_number = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if v in ("lazy", "rich") or (ok_number and v > 0):
            return v
        raise ValueError("must be 'lazy', 'rich' or a positive number")

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, v: str) -> str:
        if v not in ACTIVATION_NAMES:
            raise ValueError(f"unknown activation {v!r}; choose one of {sorted(ACTIVATION_NAMES)}")
        return v


class LearnerConfig(_Section):
    """The learning rule and its noise (see :mod:`repdrift.learners`)."""

    kind: Annotated[LearnerKind, Field(description=f"one of {LEARNER_KINDS}")] = "gd"
    lr: Annotated[PositiveFloat, Field(description="learning rate η")] = 0.1
    update_noise: Annotated[
        NonNegativeFloat, Field(description="σ_u: Gaussian noise per parameter per step")
    ] = 0.0
    update_noise_dist: Annotated[
        Literal["gaussian", "sign"],
        Field(
            description="'gaussian' (paper, default) or 'sign' (±σ_u with equal probability: "
            "same variance and diffusion limit, cheaper)"
        ),
    ] = "gaussian"
    label_noise: Annotated[
        NonNegativeFloat, Field(description="s: label-noise scale, redrawn every step")
    ] = 0.0
    label_noise_dist: Annotated[
        Literal["gaussian", "uniform"],
        Field(description="'gaussian' (paper) or 'uniform' ((U−½)·s, original code)"),
    ] = "gaussian"
    input_noise: Annotated[NonNegativeFloat, Field(description="σ of input noise")] = 0.0
    sed_perturbation: Annotated[
        PositiveFloat, Field(description="SED: perturbation variance × rows of the tensor")
    ] = 0.01
    b1: Annotated[float, Field(ge=0, lt=1, description="Adam's first-moment decay")] = 0.9
    b2: Annotated[float, Field(ge=0, lt=1, description="Adam's second-moment decay")] = 0.999
    rms_decay: Annotated[
        float,
        Field(
            ge=0,
            lt=1,
            description="RMSprop's decay ρ of its mean square (PyTorch's alpha): "
            "v ← ρ v + (1 − ρ) g², step g / (√v + ε)",
        ),
    ] = 0.99
    eps: Annotated[
        PositiveFloat, Field(description="Adam / RMSprop ε, added to the root mean square")
    ] = 1e-8


class RecordConfig(_Section):
    """What is measured, and when."""

    dense_until: Annotated[int, Field(ge=0, description="record every step up to this step")] = 100
    per_decade: Annotated[
        int, Field(ge=1, le=100_000, description="log-spaced records per decade")
    ] = 50
    snapshots: Annotated[
        int,
        Field(
            ge=2, le=100_000, description="log-spaced parameter snapshots (step 0 and last incl.)"
        ),
    ] = 20
    linear_snapshots: Annotated[
        int,
        Field(ge=0, le=100_000, description="extra evenly spaced snapshots (for drift matrices)"),
    ] = 0
    bins: Annotated[
        int, Field(ge=1, le=10_000, description="rate-map bins per running direction")
    ] = 50
    si_threshold: Annotated[
        NonNegativeFloat, Field(description="a unit is a place unit if SI > this (bits)")
    ] = 0.01
    hessian: Annotated[
        Literal["none", "gauss_newton", "exact"],
        Field(description="Hessian spectrum summaries at snapshots"),
    ] = "none"
    hessian_at: Annotated[
        Literal["all", "windows"],
        Field(
            description="snapshots with a Hessian spectrum: 'all', or 'windows': only those "
            "the sweep summary's eig_* columns read (first and last tenth of the run; "
            "21 of table2's 117-119, the same columns; NaN at the others)"
        ),
    ] = "all"


#: The longest run. The engine counts steps in int32 (limit 2^31 − 1 ≈ 2.147·10^9); the
#: margin of ~1.5·10^8 steps keeps every step count it forms (step + chunk length) in range.
MAX_STEPS = 2_000_000_000
#: Seeds are unsigned 64-bit integers.
MAX_SEED = 2**64 - 1


class RunConfig(_Section):
    """Length, seed and numerics of the run."""

    steps: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_STEPS,
            description="training steps, at most 2·10^9 (the engine counts steps in int32, "
            "limit 2^31 − 1 ≈ 2.147·10^9; the margin keeps the counter in range)",
        ),
    ] = 100_000
    seed: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_SEED,
            description="seed of task, initialisation and noise: an integer in [0, 2^64 − 1]",
        ),
    ] = 0
    dtype: Annotated[Literal["float32", "float64"], Field(description="floating point")] = "float32"
    checkpoint_every_s: Annotated[
        PositiveFloat, Field(description="seconds between checkpoints")
    ] = 30.0
    max_loss: Annotated[
        PositiveFloat, Field(description="diverged when training loss > this × var(targets)")
    ] = 1e6


#: The discriminated union of all task models, chosen by ``kind``.
TaskConfig = Annotated[
    Union[tuple(TASK_MODELS.values())],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="kind"),
]


#: The discriminated union of all models, chosen by ``kind``.
ModelConfig = Annotated[
    Union[tuple(MODEL_MODELS.values())],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="kind"),
]


class Config(_Section):
    """A whole run. Immutable; build with :func:`load_config` or :func:`preset`."""

    model: ModelConfig = Field(default_factory=NetworkModelConfig)
    task: TaskConfig = Field(default_factory=lambda: TASK_MODELS["corridor"]())
    network: NetworkConfig = NetworkConfig()
    learner: LearnerConfig = LearnerConfig()
    record: RecordConfig = RecordConfig()
    run: RunConfig = RunConfig()

    # -- derived, static objects -------------------------------------------------------
    def task_params(self):
        """The task's parameter dataclass."""
        values = self.task.model_dump()
        return TASKS[values.pop("kind")](**values)

    def model_params(self):
        """The parameters dataclass of a model other than the network (``None`` for it)."""
        values = self.model.model_dump()
        kind = values.pop("kind")
        if kind == "network":
            return None
        return PARAMS[kind](**values)

    def learner_spec(self) -> LearnerSpec:
        from repdrift.learners import LearnerSpec

        lc = self.learner
        return LearnerSpec(
            kind=lc.kind,
            update_noise=lc.update_noise > 0,
            update_noise_dist=lc.update_noise_dist if lc.update_noise > 0 else "gaussian",
            label_noise=lc.label_noise_dist if lc.label_noise > 0 else None,
            input_noise=lc.input_noise > 0,
            activation=self.network.activation,
            b1=lc.b1,
            b2=lc.b2,
            rms_decay=lc.rms_decay,
            eps=lc.eps,
        )

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump(mode="json"))


# ---------------------------------------------------------------------------- loading


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    # Leave out the tags pydantic adds to a location: the kind of a tagged union right
    # after its section ("task.corridor.samples" is "task.samples") and validator names.
    tags = {"task": TASK_MODELS, "model": MODEL_MODELS}
    path = first["loc"]
    loc = ".".join(
        str(p)
        for i, p in enumerate(path)
        if not (
            isinstance(p, str)
            and ((i > 0 and p in tags.get(str(path[i - 1]), ())) or "[" in p or "-" in p)
        )
    )
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] == "union_tag_invalid" and first["loc"][:1] == ("model",):
        msg = f"unknown model kind; choose one of {sorted(MODEL_MODELS)}"
    elif first["type"] == "union_tag_invalid":
        msg = f"unknown task kind; choose one of {sorted(TASK_MODELS)}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) or first["type"] == "missing" else f" (got {value!r})"
    if len(shown) > 120:
        shown = shown[:100] + "…)"
    more = len(err.errors()) - 1
    tail = f"; and {more} more problem{'s' * (more > 1)}" if more else ""
    return _one_line(f"config: {loc or 'root'}: {msg}{shown}{tail}")


def _one_line(text: object) -> str:
    """``text`` with every run of whitespace, newlines included, as one space."""
    return " ".join(str(text).split())


def _check_booleans(data: dict[str, Any]) -> None:
    """Refuse a boolean where a number is expected, and anything but a boolean where a
    boolean is: pydantic would read ``hidden = true`` as 1 unit and ``speed_input = "no"``
    as false, and TOML has booleans of its own."""
    models: dict[str, Any] = {
        name: Config.model_fields[name].annotation
        for name in ("network", "learner", "record", "run")
    }
    for name, table in (("task", TASK_MODELS), ("model", MODEL_MODELS)):
        values = data.get(name)
        kind = (
            values.get("kind", "corridor" if name == "task" else "")
            if isinstance(values, dict)
            else None
        )
        if isinstance(kind, str):  # another kind is refused below, by its section's model
            models[name] = table.get(kind)
    for section, model in models.items():
        values = data.get(section)
        if model is None or not isinstance(values, dict):
            continue
        for key, value in values.items():
            info = model.model_fields.get(key)
            expected = info.annotation if info is not None else None
            if isinstance(value, bool) and expected in (int, float):
                raise ConfigError(f"config: {section}.{key}: expected a number, got {value!r}")
            if expected is bool and not isinstance(value, bool):
                raise ConfigError(
                    f"config: {section}.{key}: expected true or false (got {value!r})"
                )


def validate(data: dict[str, Any]) -> Config:
    """Validate a nested dict into a :class:`Config` (raises :class:`ConfigError`)."""
    task = data.get("task")
    if isinstance(task, dict) and "kind" not in task:
        data = {**data, "task": {"kind": "corridor", **task}}
    _check_booleans(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err)) from None
    # Combinations a task or a model cannot build (a ring's turn_prob above 1, a toy's
    # walls the wrong way round): found here, before anything is written or run.
    for section, check in (
        ("task", lambda: check_task(config.task_params())),
        ("model", config.model_params),
    ):
        try:
            check()
        except ValueError as err:
            raise ConfigError(f"config: {section}: {err}") from None
    return config


def preset_names() -> list[str]:
    """The presets shipped with repdrift."""
    folder = resources.files("repdrift") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _preset_data(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(names)}")
    text = (resources.files("repdrift") / "presets" / f"{name}.toml").read_text()
    data = tomllib.loads(text)
    data.pop("description", None)
    return data


def preset_description(name: str) -> str:
    """The first paragraph of a preset's ``description``."""
    text = (resources.files("repdrift") / "presets" / f"{name}.toml").read_text()
    return str(tomllib.loads(text).get("description", "")).strip()


#: Words whose full stop does not end a sentence ("Fig. 2", "Qin et al.", "e.g.").
_ABBREVIATIONS = frozenset({"Fig", "Figs", "al", "e.g", "i.e", "cf", "vs", "Eq", "Ref", "approx"})


def first_sentence(text: str) -> str:
    """The first sentence of a description, on one line (for ``repdrift presets``): up to
    the first full stop that ends a sentence — not that of "Fig. 2" or "et al." — or to the
    end of the first paragraph, or the colon that opens a list."""
    paragraph = re.split(r"\n\s*\n|:?\s*\n\s*[*-]\s", text.strip(), maxsplit=1)[0]
    paragraph = " ".join(paragraph.split())
    for stop in re.finditer(r"\.(?=\s|$)", paragraph):
        word = re.search(r"[\w.]*$", paragraph[: stop.start()]).group()
        if word not in _ABBREVIATIONS:
            return paragraph[: stop.start() + 1]
    return paragraph


def _read_toml(path: Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory, not a TOML file")
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise ConfigError(f"config file {path} {what}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} is not valid TOML: {_one_line(err)}") from None


def _parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax (numbers, booleans, quoted strings), else a string.

    The value must be one TOML value on one line: ``1\nx = 2`` is kept as that string (and
    then rejected by the field's validation), never read as a second assignment.
    """
    if "\n" in text or "\r" in text:
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.field=value`` overrides to nested config data (a new dict).

    Raises :class:`ConfigError` for an override that is not ``section.field=value`` with a
    known section and a plain field name, and for a section that the data give as a value
    instead of a table (``network = "x"``): such data cannot take a field.
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    sections = set(Config.model_fields)
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        section, dot, field = key.partition(".")
        section, field = section.strip(), field.strip()
        if not sep or not dot or not section or not field:
            raise ConfigError(f"--set {item!r}: expected section.field=value")
        if section not in sections:
            raise ConfigError(
                f"--set {key}: unknown section {section!r}; choose one of {sorted(sections)}"
            )
        if "." in field:
            raise ConfigError(
                f"--set {key}: {field!r} is not a field name; expected section.field=value"
            )
        current = out.get(section, {})
        if not isinstance(current, dict):
            raise ConfigError(
                f"config: {section}: must be a table ([{section}] with field = value lines), "
                f"got {current!r}; cannot apply --set {key}"
            )
        parsed = _parse_value(value.strip())
        default_kind = {"task": "corridor", "model": "network"}.get(section)
        if default_kind and field == "kind" and current.get("kind", default_kind) != parsed:
            current = {}  # another task's (model's) parameters do not carry over
        out[section] = {**current, field: parsed}
    return out


def load_config(
    source: str | Path | dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    steps: int | None = None,
    seed: int | None = None,
) -> Config:
    """Build a validated :class:`Config`.

    Args:
        source: a TOML file path, a nested dict, or ``None`` for the defaults.
        preset: name of a shipped preset (instead of ``source``).
        overrides: ``"section.field=value"`` strings, applied in order.
        steps, seed: shortcuts for ``run.steps`` and ``run.seed``.
    """
    if preset is not None and source is not None:
        raise ConfigError("give either a preset or a config, not both")
    if isinstance(overrides, str) or not isinstance(overrides, list | tuple):
        raise TypeError(
            "overrides must be a list of 'section.field=value' strings, "
            f"not {type(overrides).__name__}"
        )
    if not (source is None or isinstance(source, dict | str | os.PathLike)):
        raise TypeError(f"source must be a TOML file's path or a dict, not {type(source).__name__}")
    if preset is not None:
        data = _preset_data(preset)
    elif isinstance(source, dict):
        data = source
    elif source is not None:
        data = _read_toml(Path(source))
    else:
        data = {}
    overrides = list(overrides)
    if steps is not None:
        overrides.append(f"run.steps={steps}")
    if seed is not None:
        overrides.append(f"run.seed={seed}")
    return validate(apply_overrides(data, overrides))


def _markdown(text: str) -> str:
    """Docstring text in a Markdown table cell: reST literals as code, pipes escaped."""
    return text.replace("``", "`").replace("|", "\\|")


def config_reference() -> str:
    """A Markdown reference of every section and field, generated from the models."""
    lines = []

    def table(title: str, model: type[BaseModel]) -> None:
        lines.append(f"### `[{title}]`\n")
        doc = _first_paragraph(model.__doc__)
        if doc:
            lines.append(_markdown(doc) + "\n")
        lines.append("| field | default | meaning |")
        lines.append("|---|---|---|")
        for name, info in model.model_fields.items():
            default = info.default
            if isinstance(default, float) and not math.isfinite(default):
                default = str(default)
            meaning = "which section this is" if name == "kind" else info.description or ""
            lines.append(f"| `{name}` | `{default!r}` | {_markdown(meaning)} |")
        lines.append("")

    for section in ("network", "learner", "record", "run"):
        table(section, Config.model_fields[section].annotation)
    for name, model in MODEL_MODELS.items():
        if name != "network":
            table(f'model] kind = "{name}" [', model)
    for name, model in TASK_MODELS.items():
        table(f'task] kind = "{name}" [', model)
    return (
        "\n".join(lines)
        .replace('### `[task] kind = "', '### `[task]` kind = `"')
        .replace('### `[model] kind = "', '### `[model]` kind = `"')
        .replace('" []`', '"`')
    )
