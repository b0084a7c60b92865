"""The parameters of every task: frozen dataclasses, free of JAX.

They live apart from the task modules that build the datasets so that the configuration
(``repdrift.config``), and with it the command line, loads without JAX. Each task module
re-exports its class (``repdrift.tasks.corridor.CorridorParams`` is this module's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

#: Values of the tasks' ``scaling``: the interval inputs and targets are mapped to
#: (``unit``: [0, 1]; ``symmetric``: [-1, 1]).
SCALINGS = ("unit", "symmetric")


@dataclass(frozen=True)
class CorridorParams:
    """Parameters of the corridor task; defaults are the values of the paper's Fig. 2.

    Attributes:
        samples: number of input-target pairs (steps of the trajectory).
        size_x: arena width (length units).
        size_y: arena length along the track (length units).
        view_size: number of rays (view values).
        fov_deg: full field of view, degrees (the original's ``pi / FOV_angle_frac`` is
            the half-angle: 8 -> 45 degrees).
        speed: mean speed ``V0``, length units per step.
        speed_sd: standard deviation of the speed noise before truncation.
        heading_sd: standard deviation of the heading change per step, radians (the
            original's ``2 pi * (pi * 0.1 / 360) = pi**2 / 1800``).
        turn_buffer: distance from the end walls at which the agent turns back (the
            original's ``0.1 * size_y``).
        side_buffer: distance from the side walls at which the agent bounces;
            ``size_x / 2`` pins the agent to the midline like the original.
        texture_kernel: texture smoothing width as a fraction of the perimeter.
        texture_resolution: texture samples per length unit.
        speed_input: include the speed in the input.
        scaling: ``"unit"`` maps inputs and targets to ``[0, 1]`` — what the published
            Fig. 2 run trained on (its ``data.pkl``: views in [0, 1], the heading-change
            column taking 0, ½ and 1) — or ``"symmetric"`` to ``[-1, 1]`` (the original
            code's later ``min_max_norm``). The scaling sets the pace of sparsification
            under update noise (see the README).
    """

    name: ClassVar[str] = "corridor"

    samples: int = 150
    size_x: float = 1.0
    size_y: float = 14.0
    view_size: int = 17
    fov_deg: float = 45.0
    speed: float = 0.2
    speed_sd: float = 0.1
    heading_sd: float = math.pi**2 / 1800
    turn_buffer: float = 1.4
    side_buffer: float = 0.1
    texture_kernel: float = 0.09
    texture_resolution: float = 17.0
    speed_input: bool = True
    scaling: str = field(default="unit", metadata={"choices": SCALINGS})


@dataclass(frozen=True)
class RingParams:
    """Parameters of the ring task (lengths in scene samples).

    Attributes:
        samples: number of input-target pairs (steps).
        view_size: scene values per view.
        scene_size: circumference of the ring, in scene samples (unit spacing).
        scene_sigma: width of the circular Gaussian smoothing of the scene.
        fov: width of the viewed window along the ring.
        step: mean step length.
        step_spread: relative spread of the step length, in [0, 1]; 0 = constant step.
        turn_prob: probability of reversing direction before each step.
        movement_input: append the signed, scaled step to the input.
        scaling: ``"symmetric"`` keeps inputs and targets in ``[-1, 1]`` (the original
            code's ``min_max_norm``); ``"unit"`` maps every column to ``[0, 1]``, what
            the original's 10^7-step runs trained on (see the ``random`` task).
    """

    name: ClassVar[str] = "ring"

    samples: int = 10
    view_size: int = 20
    scene_size: int = 120
    scene_sigma: float = 4.0
    fov: float = 30.0
    step: float = 12.0
    step_spread: float = 0.0
    turn_prob: float = 0.0
    movement_input: bool = False
    scaling: str = field(default="symmetric", metadata={"choices": SCALINGS})


DISTRIBUTIONS = ("uniform", "gaussian")


@dataclass(frozen=True)
class RandomParams:
    """Random mapping: i.i.d. inputs and targets.

    Attributes:
        samples: number of input-target pairs.
        d_in: input dimension.
        d_out: target dimension.
        distribution: ``"uniform"`` (``U(0, 1)``, the original) or ``"gaussian"``.
        scaling: ``"symmetric"`` scales each matrix to ``[-1, 1]`` (the original code's
            ``min_max_norm``, and the data of its SED and 10^6-step runs); ``"unit"`` to
            ``[0, 1]``, what its 10^7-step GD and Adam runs (Fig. 4B, most of the
            randomized sweep) trained on: their first records hold the fraction of active
            units that [0, 1] inputs give (docs/reproduce.md).
    """

    name: ClassVar[str] = "random"

    samples: int = 10
    d_in: int = 20
    d_out: int = 10
    distribution: str = "uniform"
    scaling: str = field(default="symmetric", metadata={"choices": SCALINGS})


@dataclass(frozen=True)
class SmoothedParams:
    """Smoothed random mapping: i.i.d. entries smoothed along samples and dimensions.

    Attributes:
        samples: number of input-target pairs.
        d_in: input dimension.
        d_out: target dimension.
        distribution: ``"uniform"`` (``U(0, 1)``, the original) or ``"gaussian"``.
        smooth_factor: Gaussian width along samples is ``samples / smooth_factor`` rows.
        dim_smooth_factor: Gaussian width along dimensions is ``dims / dim_smooth_factor``
            columns, ``dims`` being ``d_in`` for inputs and ``d_out`` for targets.
        scaling: ``"symmetric"`` (``[-1, 1]``) or ``"unit"`` (``[0, 1]``), as for
            the ``random`` task.
    """

    name: ClassVar[str] = "smoothed"

    samples: int = 10
    d_in: int = 20
    d_out: int = 10
    distribution: str = "uniform"
    smooth_factor: float = 5.0
    dim_smooth_factor: float = 5.0
    scaling: str = field(default="symmetric", metadata={"choices": SCALINGS})


@dataclass(frozen=True)
class RandomAutoencoderParams:
    """Random autoencoder: i.i.d. inputs, target = input.

    Attributes:
        samples: number of samples.
        d_in: input (and target) dimension.
        distribution: ``"uniform"`` (``U(0, 1)``, the original) or ``"gaussian"``.
        scaling: ``"symmetric"`` (``[-1, 1]``) or ``"unit"`` (``[0, 1]``), as for
            the ``random`` task.
    """

    name: ClassVar[str] = "random_autoencoder"

    samples: int = 10
    d_in: int = 20
    distribution: str = "uniform"
    scaling: str = field(default="symmetric", metadata={"choices": SCALINGS})


@dataclass(frozen=True)
class SmoothedAutoencoderParams:
    """Smoothed autoencoder: smoothed inputs as in ``smoothed``, target = input.

    Attributes:
        samples: number of samples.
        d_in: input (and target) dimension.
        distribution: ``"uniform"`` (``U(0, 1)``, the original) or ``"gaussian"``.
        smooth_factor: Gaussian width along samples is ``samples / smooth_factor`` rows.
        dim_smooth_factor: Gaussian width along dimensions is ``d_in / dim_smooth_factor``.
        scaling: ``"symmetric"`` (``[-1, 1]``) or ``"unit"`` (``[0, 1]``), as for
            the ``random`` task.
    """

    name: ClassVar[str] = "smoothed_autoencoder"

    samples: int = 10
    d_in: int = 20
    distribution: str = "uniform"
    smooth_factor: float = 5.0
    dim_smooth_factor: float = 5.0
    scaling: str = field(default="symmetric", metadata={"choices": SCALINGS})


RandomMappingParams = (
    RandomParams | SmoothedParams | RandomAutoencoderParams | SmoothedAutoencoderParams
)


@dataclass(frozen=True)
class ArraysParams:
    """A dataset read from an ``.npz`` file (``inputs``, ``targets``, optional
    ``position`` and ``direction``).

    Attributes:
        path: the file, or ``published:fig2`` for the published Fig. 2 dataset; a
            relative path is taken from the current folder and configured as absolute.
    """

    name: ClassVar[str] = "arrays"

    # "file": the configuration makes a relative path absolute (repdrift.config), so that
    # a run, its stored config.toml, and a sweep's runs started later or elsewhere (a
    # resume from another folder, a cluster's workers) all read the same file.
    path: str = field(default="published:fig2", metadata={"file": True})


TaskParams = (
    CorridorParams
    | RingParams
    | RandomParams
    | SmoothedParams
    | RandomAutoencoderParams
    | SmoothedAutoencoderParams
    | ArraysParams
)

#: Task name -> parameter class.
TASKS: dict[str, type] = {
    cls.name: cls
    for cls in (
        CorridorParams,
        RingParams,
        RandomParams,
        SmoothedParams,
        RandomAutoencoderParams,
        SmoothedAutoencoderParams,
        ArraysParams,
    )
}


# ----------------------------------------------------------------- checks


def perimeter(size_x: float, size_y: float) -> float:
    """Length of the arena's walls, ``2 (size_x + size_y)``."""
    return 2.0 * (size_x + size_y)


def texture_samples(params: CorridorParams) -> int:
    """Number of texture samples around the perimeter."""
    return round(perimeter(params.size_x, params.size_y) * params.texture_resolution)


def _max_step(params: CorridorParams) -> float:
    return 2.0 * params.speed if params.speed_sd > 0 else params.speed


def _check_corridor(p: CorridorParams) -> None:
    positive = ("samples", "view_size", "size_x", "size_y", "speed", "texture_resolution")
    for name in positive:
        value = getattr(p, name)
        if not value > 0:
            raise ValueError(f"corridor: {name} must be positive, got {value!r}.")
    non_negative = ("speed_sd", "heading_sd", "turn_buffer", "side_buffer", "texture_kernel")
    for name in non_negative:
        value = getattr(p, name)
        if not value >= 0:
            raise ValueError(f"corridor: {name} must be non-negative, got {value!r}.")
    if not 0 <= p.fov_deg < 360:
        raise ValueError(f"corridor: fov_deg must lie in [0, 360), got {p.fov_deg!r}.")
    if 2 * p.side_buffer > p.size_x:
        raise ValueError(
            f"corridor: side_buffer={p.side_buffer} leaves no room across an arena of "
            f"size_x={p.size_x}; it can be at most size_x / 2."
        )
    track = p.size_y - 2 * p.turn_buffer
    if not track > _max_step(p):
        raise ValueError(
            f"corridor: the track between the turn buffers (size_y - 2 turn_buffer = "
            f"{track:g}) must be longer than the largest step ({_max_step(p):g}, that is "
            "2 speed with speed noise, speed without)."
        )
    _check_scaling(p)
    if texture_samples(p) < 2:
        raise ValueError(
            "corridor: the texture needs at least 2 samples around the perimeter; raise "
            f"texture_resolution (got {p.texture_resolution!r})."
        )


def _check_ring(p: RingParams) -> None:
    if p.samples < 1:
        raise ValueError(f"ring: samples must be at least 1, got {p.samples}.")
    if p.view_size < 1:
        raise ValueError(f"ring: view_size must be at least 1, got {p.view_size}.")
    if p.scene_size < 2:
        raise ValueError(f"ring: scene_size must be at least 2, got {p.scene_size}.")
    if not p.scene_sigma >= 0:
        raise ValueError(f"ring: scene_sigma must be non-negative, got {p.scene_sigma!r}.")
    if not 0 <= p.fov < p.scene_size:
        raise ValueError(
            f"ring: fov must lie in [0, scene_size={p.scene_size}), got {p.fov!r}; a wider "
            "window would see parts of the scene twice."
        )
    if not p.step > 0:
        raise ValueError(f"ring: step must be positive, got {p.step!r}.")
    if not 0 <= p.step_spread <= 1:
        raise ValueError(f"ring: step_spread must lie in [0, 1], got {p.step_spread!r}.")
    if not 0 <= p.turn_prob <= 1:
        raise ValueError(f"ring: turn_prob must lie in [0, 1], got {p.turn_prob!r}.")
    _check_scaling(p)


def _check_scaling(p: CorridorParams | RingParams | RandomMappingParams) -> None:
    if p.scaling not in SCALINGS:
        raise ValueError(
            f"{p.name}: scaling must be one of {', '.join(SCALINGS)}, got {p.scaling!r}."
        )


def _check_random_mapping(params: RandomMappingParams) -> None:
    task = params.name
    if params.samples < 1:
        raise ValueError(f"{task}: samples must be at least 1, got {params.samples}.")
    if params.d_in < 1:
        raise ValueError(f"{task}: d_in must be at least 1, got {params.d_in}.")
    if isinstance(params, RandomParams | SmoothedParams) and params.d_out < 1:
        raise ValueError(f"{task}: d_out must be at least 1, got {params.d_out}.")
    _check_scaling(params)
    if params.distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"{task}: distribution must be one of {DISTRIBUTIONS}, got {params.distribution!r}."
        )
    if isinstance(params, SmoothedParams | SmoothedAutoencoderParams):
        for field in ("smooth_factor", "dim_smooth_factor"):
            value = getattr(params, field)
            if not value > 0:
                raise ValueError(f"{task}: {field} must be positive, got {value!r}.")


def check_task(params: TaskParams) -> None:
    """Raise ``ValueError`` (naming the task and the field) for parameters the task cannot
    build. Plain arithmetic, no JAX: the configuration runs it when it validates, and each
    task runs it again before it draws its dataset. ``arrays`` is checked when its file
    is read."""
    if isinstance(params, CorridorParams):
        _check_corridor(params)
    elif isinstance(params, RingParams):
        _check_ring(params)
    elif isinstance(params, RandomMappingParams):
        _check_random_mapping(params)
