"""The parameters of every task: frozen dataclasses, free of JAX.

They live apart from the task modules that build the datasets so that the configuration
(``repdrift.config``), and with it the command line, loads without JAX. Each task module
re-exports its class (``repdrift.tasks.corridor.CorridorParams`` is this module's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

#: Values of ``CorridorParams.scaling``: the interval inputs and targets are mapped to.
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


DISTRIBUTIONS = ("uniform", "gaussian")


@dataclass(frozen=True)
class RandomParams:
    """Random mapping: i.i.d. inputs and targets.

    Attributes:
        samples: number of input-target pairs.
        d_in: input dimension.
        d_out: target dimension.
        distribution: ``"uniform"`` (``U(0, 1)``, the original) or ``"gaussian"``.
    """

    name: ClassVar[str] = "random"

    samples: int = 10
    d_in: int = 20
    d_out: int = 10
    distribution: str = "uniform"


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
    """

    name: ClassVar[str] = "smoothed"

    samples: int = 10
    d_in: int = 20
    d_out: int = 10
    distribution: str = "uniform"
    smooth_factor: float = 5.0
    dim_smooth_factor: float = 5.0


@dataclass(frozen=True)
class RandomAutoencoderParams:
    """Random autoencoder: i.i.d. inputs, target = input.

    Attributes:
        samples: number of samples.
        d_in: input (and target) dimension.
        distribution: ``"uniform"`` (``U(0, 1)``, the original) or ``"gaussian"``.
    """

    name: ClassVar[str] = "random_autoencoder"

    samples: int = 10
    d_in: int = 20
    distribution: str = "uniform"


@dataclass(frozen=True)
class SmoothedAutoencoderParams:
    """Smoothed autoencoder: smoothed inputs as in ``smoothed``, target = input.

    Attributes:
        samples: number of samples.
        d_in: input (and target) dimension.
        distribution: ``"uniform"`` (``U(0, 1)``, the original) or ``"gaussian"``.
        smooth_factor: Gaussian width along samples is ``samples / smooth_factor`` rows.
        dim_smooth_factor: Gaussian width along dimensions is ``d_in / dim_smooth_factor``.
    """

    name: ClassVar[str] = "smoothed_autoencoder"

    samples: int = 10
    d_in: int = 20
    distribution: str = "uniform"
    smooth_factor: float = 5.0
    dim_smooth_factor: float = 5.0


RandomMappingParams = (
    RandomParams | SmoothedParams | RandomAutoencoderParams | SmoothedAutoencoderParams
)


@dataclass(frozen=True)
class ArraysParams:
    """A dataset read from an ``.npz`` file (``inputs``, ``targets``, optional
    ``position`` and ``direction``).

    Attributes:
        path: the file, or ``published:fig2`` for the published Fig. 2 dataset.
    """

    name: ClassVar[str] = "arrays"

    path: str = "published:fig2"


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
