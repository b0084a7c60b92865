"""Sweep specifications: a base run configuration, grids and random draws, expanded to runs.

A spec is TOML (or the same nested dict)::

    description = "what the sweep is for"
    seed = 0                              # seed of the expansion (random draws, subsets)

    [base]                                # a run configuration: task, network, learner,
    [base.task]                           # record, run — see repdrift.config
    kind = "random"
    [base.run]
    steps = 100000

    [grid]                                # dotted config paths -> lists; their product
    "learner.lr" = [0.05, 0.1]
    "task.samples" = { integers = [5, 7] }            # 5, 6, 7
    "learner.update_noise" = { geomspace = [0.01, 0.1, 5] }
    "task" = [{ kind = "random", d_in = 20 }, { kind = "ring", view_size = 20 }]

    [random]                              # n draws; per dotted path a distribution
    n = 100
    seed = 3                              # optional (default: from the spec's seed)
    "network.readout" = { choice = ["lazy", "rich"] }
    "task.d_in" = { integers = [5, 29] }  # inclusive
    "learner.lr" = { uniform = [0.05, 0.15] }
    "record.per_decade" = { log_uniform = [10, 100] }
    "learner" = { choice = [{ kind = "gd", lr = { choice = { linspace = [0.05, 0.15, 100] } } },
                            { kind = "adam", lr = 1e-3 }] }

    [random.noise]                        # the paper's conditions (see below)
    update = { choice = { geomspace = [0.01, 0.1, 50] } }
    label = { choice = { geomspace = [0.1, 1.0, 50] } }
    kind = "either"                       # "either" (equal probability), "update", "label"

**Values.** A grid entry is a list, or a generated list: ``{ linspace = [start, stop,
num] }``, ``{ geomspace = [start, stop, num] }`` (log-spaced, endpoints included, as
``numpy.geomspace``) or ``{ integers = [low, high] }`` (both ends included). A random entry
is a constant or a distribution: ``{ choice = LIST }`` (LIST a list or a generated list),
``{ uniform = [low, high] }``, ``{ log_uniform = [low, high] }`` or ``{ integers = [low,
high] }``. A path may be a whole section (``"task"``, ``"learner"``): its values are tables
of that section's fields (merged into the run's section), and in ``[random]`` a chosen
table's own values may be distributions, drawn after the choice — so each task kind can
carry its own fields. Setting ``task.kind`` to another kind starts the task section
afresh (another task's fields do not carry over), as ``--set`` does.

**Grid and random together.** With both, every random draw is combined with every grid
point (draw-major order).

**Parts.** ``[[parts]]`` (instead of top-level ``[grid]`` / ``[random]``) concatenates
several expansions; each part has a ``name``, optional ``base`` overrides (tables of
sections or dotted paths) applied over ``[base]``, its own ``grid`` and/or ``random``, and
optionally ``sample = k``: keep ``k`` of its runs chosen without replacement. This is how a
published mix of exact composition is written (see the ``table2`` preset).

**Conditions** (``[random.noise]``, as the original ``make_configs_random.py``): a run
whose ``learner.kind`` is ``gd`` gets update noise *or* label noise — with equal
probability for ``kind = "either"`` — drawn from ``update`` / ``label``, the other set to
0; a run with any other rule (Adam, RMSprop, SED) gets neither. The noise is decided after
everything else, from the run's final learner.

**Seeds.** Run ``i`` (counting from 0 over the whole spec) gets ``run.seed = [base]
run.seed + i`` unless its grid or random entries set ``run.seed``. Run ids are ``r00000``,
``r00001``, ... in expansion order. Expansion is deterministic given the spec (its
``seed``): the same spec always gives the same runs.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from repdrift import config as config_mod

#: The sections of a run configuration.
SECTIONS: tuple[str, ...] = tuple(config_mod.Config.model_fields)
#: Rules that, under the paper's conditions, get no noise.
NOISELESS_RULES: tuple[str, ...] = ("adam", "rmsprop", "sed")
_GENERATORS = ("linspace", "geomspace", "integers")

#: The most runs a sweep may expand to (the paper's sweeps hold 1,151).
MAX_RUNS = 1_000_000
_DISTRIBUTIONS = ("choice", "uniform", "log_uniform", "integers")
_NOISE_PATHS = ("learner.update_noise", "learner.label_noise")


class SweepError(ValueError):
    """A sweep problem (specification, sweep directory), stated in one line."""


# ------------------------------------------------------------------------------ paths


def _section_fields(section: str) -> set[str]:
    """Fields of a section; of any of its kinds for the sections chosen by ``kind``."""
    kinds = {"task": "TASK_MODELS", "model": "MODEL_MODELS"}
    if section in kinds and hasattr(config_mod, kinds[section]):
        models = getattr(config_mod, kinds[section]).values()
        return set().union(*(m.model_fields for m in models))
    return set(config_mod.Config.model_fields[section].annotation.model_fields)


def check_path(path: str) -> tuple[str, str | None]:
    """``(section, field)`` of a dotted config path (``field`` None for a whole section).

    Raises ``ValueError`` naming the path and the allowed values.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"{path!r} is not a config path")
    section, _, field = path.partition(".")
    if section not in SECTIONS:
        raise ValueError(f"{path!r}: unknown section {section!r}; choose one of {list(SECTIONS)}")
    if not field:
        return section, None
    if "." in field:
        raise ValueError(f"{path!r}: config paths are section.field (one dot)")
    fields = _section_fields(section)
    if field not in fields:
        raise ValueError(f"{path!r}: unknown field {field!r}; choose one of {sorted(fields)}")
    return section, field


def _plain(value: Any) -> Any:
    """NumPy scalars as Python ones (for TOML, JSON and pydantic)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


# ------------------------------------------------------------------- generated lists


def _pair(name: str, raw: Any, *, integers: bool = False) -> tuple[Any, Any]:
    kinds = (int,) if integers else (int, float)
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(v, kinds) and not isinstance(v, bool) for v in raw)
        or not all(math.isfinite(v) for v in raw)
    ):
        what = "integers" if integers else "finite numbers"
        raise ValueError(f"{name} needs [low, high], two {what} (got {raw!r})")
    return raw[0], raw[1]


def _generated(path: str, table: dict[str, Any]) -> list[Any] | None:
    """The values of a generator table, or None if ``table`` is not one (errors name the
    config ``path`` it is for)."""
    keys = set(table)
    if len(keys) != 1 or not keys <= set(_GENERATORS):
        return None
    (name,) = keys
    raw = table[name]
    if name == "integers":
        low, high = _pair(f"{path!r}: integers", raw, integers=True)
        if low > high:
            raise ValueError(f"{path!r}: integers needs low <= high (got {raw!r})")
        if high - low + 1 > MAX_RUNS:
            raise ValueError(
                f"{path!r}: integers spans {high - low + 1:,} values; at most {MAX_RUNS:,}"
            )
        return list(range(low, high + 1))
    if (
        not isinstance(raw, list)
        or len(raw) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
        or not isinstance(raw[2], int)
        or raw[2] < 1
        or not all(math.isfinite(v) for v in raw)
    ):
        raise ValueError(
            f"{path!r}: {name} needs [start, stop, num] with num a positive integer (got {raw!r})"
        )
    start, stop, num = raw
    if num > MAX_RUNS:
        raise ValueError(
            f"{path!r}: {name} asks for {num:,} values; at most {MAX_RUNS:,} are allowed"
        )
    if name == "geomspace":
        if not (start > 0 and stop > 0):
            raise ValueError(f"{path!r}: geomspace needs positive start and stop (got {raw!r})")
        with np.errstate(over="ignore", invalid="ignore"):  # values near 1.8e308 round up
            values = np.geomspace(start, stop, num)
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(
                f"{path!r}: geomspace from {start!r} to {stop!r} gives values that are not "
                "positive finite floats"
            )
    else:
        _check_span(f"{path!r}: linspace", start, stop)
        values = np.linspace(start, stop, num)
    return [float(v) for v in values]


def _check_span(name: str, low: float, high: float) -> None:
    """``high - low`` must be a float (no overflow): NumPy's uniform draws and evenly
    spaced values are made from it."""
    if not math.isfinite(float(high) - float(low)):
        raise ValueError(
            f"{name}: the range from {low!r} to {high!r} is too wide; its width must be a "
            "finite float (below about 1.8e308)"
        )


# -------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Constant:
    value: Any

    def draw(self, rng: np.random.Generator) -> Any:
        return copy.deepcopy(self.value)


@dataclass(frozen=True)
class Choice:
    """One of ``options`` with equal probability; a table option is drawn recursively."""

    options: tuple[Any, ...]

    def draw(self, rng: np.random.Generator) -> Any:
        option = self.options[int(rng.integers(len(self.options)))]
        return option.draw(rng) if isinstance(option, Table) else copy.deepcopy(option)


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class LogUniform:
    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass(frozen=True)
class Integers:
    """An integer in ``[low, high]``, both ends included, with equal probability."""

    low: int
    high: int

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))


@dataclass(frozen=True)
class Table:
    """Fields of one section, each a distribution, drawn in order into a table."""

    section: str
    fields: tuple[tuple[str, Any], ...]

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        return {name: dist.draw(rng) for name, dist in self.fields}

    def paths(self) -> set[str]:
        return {f"{self.section}.{name}" for name, _ in self.fields}


Distribution = Constant | Choice | Uniform | LogUniform | Integers | Table


def _table_of(section: str, raw: dict[str, Any], *, allow_distributions: bool) -> Any:
    fields = []
    for name, value in raw.items():
        check_path(f"{section}.{name}")
        if allow_distributions:
            fields.append((name, parse_distribution(f"{section}.{name}", value)))
        elif _is_scalar(value):
            fields.append((name, Constant(value)))
        else:
            raise ValueError(f"{section}.{name} inside a grid table must be a plain value")
    return Table(section, tuple(fields))


def parse_distribution(path: str, raw: Any) -> Distribution:
    """A random entry: a constant or a distribution table (see the module docstring)."""
    section, field = check_path(path)
    if isinstance(raw, list):
        raise ValueError(f"{path!r}: to draw from a list write {{ choice = [...] }}")
    if not isinstance(raw, dict):
        if field is None:
            raise ValueError(f"{path!r}: a whole section takes a table or a choice of tables")
        if not _is_scalar(raw):
            raise ValueError(f"{path!r}: {raw!r} is not a plain value")
        return Constant(raw)
    names = set(raw) & set(_DISTRIBUTIONS)
    if not names:
        if field is not None:
            raise ValueError(
                f"{path!r}: unknown distribution {sorted(raw)}; choose one of "
                f"{list(_DISTRIBUTIONS)}"
            )
        return _table_of(section, raw, allow_distributions=True)
    if len(raw) != 1:
        raise ValueError(f"{path!r}: give one distribution, got {sorted(raw)}")
    (name,) = names
    value = raw[name]
    if name == "choice":
        options = _generated(path, value) if isinstance(value, dict) else value
        if options is None:
            raise ValueError(
                f"{path!r}: choice takes a list or one of {list(_GENERATORS)} (got {value!r})"
            )
        if not isinstance(options, list) or not options:
            raise ValueError(f"{path!r}: choice needs a non-empty list (got {value!r})")
        parsed = []
        for option in options:
            if isinstance(option, dict):
                if field is not None:
                    raise ValueError(f"{path!r}: choose tables only for a whole section")
                parsed.append(_table_of(section, option, allow_distributions=True))
            elif field is None:
                raise ValueError(f"{path!r}: a whole section chooses among tables")
            elif _is_scalar(option):
                parsed.append(_plain(option))
            else:
                raise ValueError(f"{path!r}: {option!r} is not a plain value")
        return Choice(tuple(parsed))
    if field is None:
        raise ValueError(f"{path!r}: {name} draws a number, not a section")
    if name == "integers":
        low, high = _pair(f"{path!r}: integers", value, integers=True)
        if low > high:
            raise ValueError(f"{path!r}: integers needs low <= high (got {value!r})")
        return Integers(low, high)
    low, high = _pair(f"{path!r}: {name}", value)
    if not low < high:
        raise ValueError(f"{path!r}: {name} needs low < high (got {value!r})")
    if name == "log_uniform":
        if low <= 0:
            raise ValueError(f"{path!r}: log_uniform needs low > 0 (got {value!r})")
        return LogUniform(float(low), float(high))
    _check_span(f"{path!r}: uniform", low, high)
    return Uniform(float(low), float(high))


def parse_grid_values(path: str, raw: Any) -> list[Any]:
    """A grid entry: a list of plain values (tables for a whole section) or a generator."""
    section, field = check_path(path)
    if isinstance(raw, dict):
        values = _generated(path, raw)
        if values is None:
            raise ValueError(
                f"{path!r}: a grid takes a list or one of {list(_GENERATORS)} (got {raw!r}); "
                "distributions belong in [random]"
            )
    elif isinstance(raw, list):
        values = raw
    else:
        raise ValueError(f"{path!r}: a grid takes a list of values (got {raw!r})")
    if not values:
        raise ValueError(f"{path!r}: the list is empty")
    out = []
    for value in values:
        if isinstance(value, dict):
            if field is not None:
                raise ValueError(f"{path!r}: tables are for a whole section (e.g. 'task')")
            out.append(_table_of(section, value, allow_distributions=False).draw(None))
        elif field is None:
            raise ValueError(f"{path!r}: a whole section takes tables of its fields")
        elif _is_scalar(value):
            out.append(_plain(value))
        else:
            raise ValueError(f"{path!r}: {value!r} is not a plain value")
    return out


def _paths_set(dist: Any, path: str) -> set[str]:
    """Every config path a distribution can set."""
    if isinstance(dist, Table):
        return dist.paths()
    if isinstance(dist, Choice):
        return set().union({path}, *(o.paths() for o in dist.options if isinstance(o, Table)))
    return {path}


# ------------------------------------------------------------------- the spec models

_STRICT = ConfigDict(extra="forbid", frozen=True)
NonNegativeInt = Annotated[int, Field(ge=0)]


class NoiseSpec(BaseModel):
    """The paper's conditions: GD gets update *or* label noise; other rules none."""

    model_config = _STRICT

    kind: Annotated[
        Literal["either", "update", "label"],
        Field(description="which noise a GD run gets: either (equal probability), update, label"),
    ] = "either"
    update: Annotated[Any, Field(description="distribution of σ_u (learner.update_noise)")] = None
    label: Annotated[Any, Field(description="distribution of s (learner.label_noise)")] = None
    _dists: dict[str, Distribution] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _parse(self) -> NoiseSpec:
        for name, path in (("update", "learner.update_noise"), ("label", "learner.label_noise")):
            raw = getattr(self, name)
            if raw is None:
                if self.kind in ("either", name):
                    raise ValueError(f"kind = {self.kind!r} needs a distribution for {name!r}")
                continue
            self._dists[name] = parse_distribution(path, raw)
        return self

    def draw(self, rng: np.random.Generator) -> NoiseDraw:
        # Every draw consumes the same random numbers whatever the outcome, so the
        # streams of later draws do not depend on which noise a run got.
        coin = float(rng.random())
        update = self._dists["update"].draw(rng) if "update" in self._dists else 0.0
        label = self._dists["label"].draw(rng) if "label" in self._dists else 0.0
        pick = self.kind if self.kind != "either" else ("update" if coin < 0.5 else "label")
        return NoiseDraw(pick, float(update), float(label))


@dataclass(frozen=True)
class NoiseDraw:
    """A drawn noise, applied once the run's learner is known (:func:`apply_noise`)."""

    pick: str
    update: float
    label: float


class RandomSpec(BaseModel):
    """``n`` random draws; every other key is a dotted path with its distribution."""

    model_config = ConfigDict(extra="allow", frozen=True)

    n: Annotated[int, Field(ge=1, description="number of draws")]
    seed: Annotated[NonNegativeInt | None, Field(description="seed of the draws")] = None
    noise: NoiseSpec | None = None
    _params: dict[str, Distribution] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _parse(self) -> RandomSpec:
        params = self._params
        for path, raw in (self.model_extra or {}).items():
            params[path] = parse_distribution(path, raw)
        if self.noise is not None:
            clash = set().union(*(_paths_set(d, p) for p, d in params.items())) & set(_NOISE_PATHS)
            if clash:
                raise ValueError(
                    f"{sorted(clash)} drawn while [random.noise] sets the noise; give one"
                )
        return self

    @property
    def params(self) -> dict[str, Distribution]:
        """Dotted path -> distribution, in the order of the spec."""
        return self._params


def _parse_grid(raw: dict[str, Any]) -> dict[str, list[Any]]:
    return {path: parse_grid_values(path, values) for path, values in raw.items()}


def _overrides_of(raw: dict[str, Any], where: str) -> list[tuple[str, Any]]:
    """Overrides from a table of sections (nested) and/or dotted paths, in order."""
    out = []
    for key, value in raw.items():
        section, field = check_path(key)
        if field is None:
            if not isinstance(value, dict):
                raise ValueError(f"{where}: {key!r} must be a table of that section's fields")
            for name, v in value.items():
                check_path(f"{section}.{name}")
                out.append((f"{section}.{name}", v))
        else:
            out.append((key, value))
    return out


class PartSpec(BaseModel):
    """One part of a spec: its own overrides, grid and/or random draws, and subset."""

    model_config = _STRICT

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]
    base: dict[str, Any] = {}
    grid: dict[str, Any] = {}
    random: RandomSpec | None = None
    sample: Annotated[
        int | None, Field(ge=1, description="keep this many runs, chosen without replacement")
    ] = None
    _base: list[tuple[str, Any]] = PrivateAttr(default_factory=list)
    _grid: dict[str, list[Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _parse(self) -> PartSpec:
        self._base = _overrides_of(self.base, "base")
        self._grid = _parse_grid(self.grid)
        _check_grid_noise(self._grid, self.random)
        return self


def _grid_paths(path: str, values: list[Any]) -> set[str]:
    if "." in path:
        return {path}
    return {f"{path}.{k}" for v in values for k in v}


def _check_grid_noise(grid: dict[str, list[Any]], random: RandomSpec | None) -> None:
    if random is None or random.noise is None:
        return
    clash = set(_NOISE_PATHS) & {p for path, vs in grid.items() for p in _grid_paths(path, vs)}
    if clash:
        raise ValueError(f"{sorted(clash)} in the grid while [random.noise] sets the noise")


class SweepSpec(BaseModel):
    """A whole sweep specification (see the module docstring)."""

    model_config = _STRICT

    description: str = ""
    seed: NonNegativeInt = 0
    base: dict[str, Any] = {}
    grid: dict[str, Any] = {}
    random: RandomSpec | None = None
    parts: list[PartSpec] = []
    _main: PartSpec | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_layout(self) -> SweepSpec:
        with _in_section("[base]"):
            _overrides_of(self.base, "base")
        if self.parts and (self.grid or self.random is not None):
            raise ValueError("give [grid] / [random] at the top or [[parts]], not both")
        names = [p.name for p in self.parts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"part names must be unique; repeated: {dupes}")
        if not self.parts:
            with _in_section("[grid]"):
                grid = _parse_grid(self.grid)
            _check_grid_noise(grid, self.random)
            main = PartSpec.model_construct(name="main", grid=self.grid, random=self.random)
            main._grid = grid
            self._main = main
        return self

    def part_list(self) -> list[PartSpec]:
        """The parts; a spec without ``[[parts]]`` is one part named ``main``."""
        if self.parts:
            return list(self.parts)
        return [self._main]


@contextlib.contextmanager
def _in_section(name: str) -> Iterator[None]:
    """A problem found by a whole-spec check, named by its section (pydantic has no
    location for it)."""
    try:
        yield
    except ValueError as err:
        raise ValueError(f"{name} {err}") from None


# ------------------------------------------------------------------------- loading


def _format(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ""
    for p in first["loc"]:
        loc += f"[{p}]" if isinstance(p, int) else (f".{p}" if loc else str(p))
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    value = first.get("input")
    shown = (
        "" if isinstance(value, dict | list) or first["type"] == "missing" else f" (got {value!r})"
    )
    more = len(err.errors()) - 1
    tail = f"; and {more} more problem{'s' * (more > 1)}" if more else ""
    return f"sweep spec: {f'{loc}: ' if loc else ''}{msg}{shown}{tail}"


def parse_spec(data: dict[str, Any]) -> SweepSpec:
    """Validate spec data (raises :class:`SweepError` naming the field)."""
    if not data:
        raise SweepError("sweep spec: it is empty; give [base] with [grid], [random] or [[parts]]")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as err:
        raise SweepError(_format(err)) from None
    base = _base_data(spec.base)
    try:
        config_mod.validate(copy.deepcopy(base))
    except config_mod.ConfigError as err:
        raise SweepError(f"sweep spec: base: {err}") from None
    return spec


def preset_names() -> list[str]:
    """The sweep presets shipped with repdrift."""
    folder = resources.files("repdrift.sweep") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    names = preset_names()
    if name not in names:
        raise SweepError(f"unknown sweep preset {name!r}; choose one of {', '.join(names)}")
    return (resources.files("repdrift.sweep") / "presets" / f"{name}.toml").read_text()


def read_spec_text(path: str | Path) -> str:
    path = Path(path)
    if path.is_dir():
        # as `repdrift config --config DIR` says it: "does not exist" would be untrue
        raise SweepError(f"sweep spec {path} is a directory, not a TOML file")
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise SweepError(f"sweep spec {path} {what}")
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise SweepError(f"sweep spec {path} cannot be read: {err}") from None


def spec_from_text(text: str, *, origin: str = "sweep spec") -> SweepSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{origin} is not valid TOML: {err}") from None
    return parse_spec(data)


def load_spec(source: str | Path | dict[str, Any] | None = None, *, preset: str | None = None):
    """``(spec, text)``: a validated :class:`SweepSpec` and its TOML text.

    ``source`` is a TOML file or a nested dict; ``preset`` a shipped sweep preset.
    """
    import tomli_w

    if (source is None) == (preset is None):
        raise SweepError("give a sweep spec file or --preset NAME (one of them)")
    if preset is not None:
        text = preset_text(preset)
        return spec_from_text(text, origin=f"sweep preset {preset!r}"), text
    if isinstance(source, dict):
        return parse_spec(source), tomli_w.dumps(source)
    text = read_spec_text(source)
    return spec_from_text(text, origin=f"sweep spec {source}"), text


def spec_description(text: str) -> str:
    try:
        return str(tomllib.loads(text).get("description", "")).strip()
    except tomllib.TOMLDecodeError:
        return ""


# ----------------------------------------------------------------------- expansion


@dataclass(frozen=True)
class PlannedRun:
    """One run of an expanded sweep.

    Attributes:
        run: its id (``r00000`` ...), also its directory name.
        part: the name of the part it came from.
        config: its validated configuration.
    """

    run: str
    part: str
    config: config_mod.Config

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "part": self.part, "config": self.config.model_dump(mode="json")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedRun:
        return cls(data["run"], data["part"], config_mod.validate(data["config"]))


def _base_data(base: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for path, value in _overrides_of(base, "base"):
        _set(data, path, value)
    return data


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a config path in nested data; a new task kind starts the task section afresh."""
    section, _, field = path.partition(".")
    current = data.setdefault(section, {})
    items = {field: value} if field else dict(value)
    if section == "task" and "kind" in items and items["kind"] != current.get("kind", "corridor"):
        current.clear()
    current.update(copy.deepcopy(items))


def _task_first(overrides: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Task kind first, so that fields set with it survive the fresh start of a new kind."""
    items = list(overrides)
    first = [(p, v) for p, v in items if p in ("task", "task.kind")]
    return first + [(p, v) for p, v in items if p not in ("task", "task.kind")]


def apply_noise(data: dict[str, Any], noise: NoiseDraw) -> None:
    """The paper's conditions on nested config data whose learner is final."""
    learner = data.setdefault("learner", {})
    kind = learner.get("kind", config_mod.LearnerConfig.model_fields["kind"].default)
    if kind in NOISELESS_RULES:
        learner["update_noise"] = 0.0
        learner["label_noise"] = 0.0
    else:
        learner["update_noise"] = noise.update if noise.pick == "update" else 0.0
        learner["label_noise"] = noise.label if noise.pick == "label" else 0.0


def _rng(*words: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(words)))


@dataclass(frozen=True)
class _Item:
    overrides: tuple[tuple[str, Any], ...]
    noise: NoiseDraw | None


def _part_items(spec: SweepSpec, index: int, part: PartSpec) -> list[_Item]:
    grid = part._grid
    size = math.prod(len(values) for values in grid.values())
    size *= part.random.n if part.random is not None else 1
    if size > MAX_RUNS:
        raise SweepError(
            f"sweep spec: part {part.name!r} expands to {size:,} runs; at most "
            f"{MAX_RUNS:,} are allowed"
        )
    points: list[tuple[tuple[str, Any], ...]] = [()]
    for path, values in grid.items():
        points = [(*p, (path, v)) for p in points for v in values]
    if part.random is None:
        items = [_Item(p, None) for p in points]
    else:
        rnd = part.random
        seed = rnd.seed if rnd.seed is not None else spec.seed
        rng = _rng(seed, index, 1)
        items = []
        for _ in range(rnd.n):
            drawn = tuple((path, dist.draw(rng)) for path, dist in rnd.params.items())
            noise = rnd.noise.draw(rng) if rnd.noise is not None else None
            items.extend(_Item((*p, *drawn), noise) for p in points)
    if part.sample is not None:
        if part.sample > len(items):
            raise SweepError(
                f"sweep spec: part {part.name!r}: sample = {part.sample} but it has only "
                f"{len(items)} runs"
            )
        keep = np.sort(_rng(spec.seed, index, 2).choice(len(items), part.sample, replace=False))
        items = [items[int(i)] for i in keep]
    return items


def expand(spec: SweepSpec, overrides: Sequence[str] = ()) -> list[PlannedRun]:
    """The runs of a spec, each validated with :func:`repdrift.config.validate`.

    ``overrides`` (``"section.field=value"``, as ``--set``) are applied to every run last,
    over everything the spec sets (for example ``run.steps=1000`` for a short trial).
    Raises :class:`SweepError` naming the run and the field for an invalid run.
    """
    base = _base_data(spec.base)
    parts = spec.part_list()
    planned: list[tuple[str, _Item, dict[str, Any]]] = []
    for index, part in enumerate(parts):
        part_base = copy.deepcopy(base)
        for path, value in _task_first(part._base):
            _set(part_base, path, value)
        planned.extend((part.name, item, part_base) for item in _part_items(spec, index, part))
    width = max(5, len(str(max(len(planned) - 1, 0))))
    runs = []
    for i, (part_name, item, part_base) in enumerate(planned):
        data = copy.deepcopy(part_base)
        for path, value in _task_first(item.overrides):
            _set(data, path, value)
        if item.noise is not None:
            apply_noise(data, item.noise)
        explicit_seed = any(
            p == "run.seed" or (p == "run" and "seed" in v) for p, v in item.overrides
        )
        if not explicit_seed:
            run_section = data.setdefault("run", {})
            run_section["seed"] = int(run_section.get("seed", 0)) + i
        run_id = f"r{i:0{width}d}"
        try:
            if overrides:
                data = config_mod.apply_overrides(data, list(overrides))
            cfg = config_mod.validate(data)
        except config_mod.ConfigError as err:
            shown = ", ".join(f"{p}={v!r}" for p, v in item.overrides)[:200]
            raise SweepError(
                f"sweep spec: run {run_id} (part {part_name!r}{'; ' + shown if shown else ''}): "
                f"{err}"
            ) from None
        runs.append(PlannedRun(run_id, part_name, cfg))
    if not runs:
        raise SweepError("sweep spec: it expands to no runs")
    return runs


def plan_digest(runs: Iterable[PlannedRun]) -> str:
    """A SHA-256 of the expanded runs: equal digests, equal sweeps."""
    return stored_digest([r.to_json() for r in runs])


def stored_digest(runs_json: list[dict[str, Any]]) -> str:
    """The digest of runs as a sweep record stores them (:meth:`PlannedRun.to_json` each):
    what :func:`plan_digest` gave when the record was written, since JSON gives back the
    same numbers and texts. Computed on the stored form, not on the runs re-validated,
    so that a field that later versions add with a default does not change it."""
    text = json.dumps(runs_json, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
