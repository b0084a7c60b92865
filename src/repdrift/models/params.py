"""The parameters of the models, free of JAX: the network's learning rules and
activations, the 2-D toy loss and the similarity-matching network.

They live apart from the model modules so that the configuration (``repdrift.config``),
and with it the command line, loads without JAX. Each model module re-exports its names
(``repdrift.models.toy.ToyParams`` is this module's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

#: The learning rules of the network (``[learner] kind``; :mod:`repdrift.learners`).
LearnerKind = Literal["gd", "adam", "rmsprop", "sed"]
LEARNER_KINDS: tuple[str, ...] = ("gd", "adam", "rmsprop", "sed")
LabelNoiseDist = Literal["gaussian", "uniform"]
UpdateNoiseDist = Literal["gaussian", "sign"]

#: The hidden-layer activations (``[network] activation``; the functions are
#: :data:`repdrift.network.ACTIVATIONS`).
ACTIVATION_NAMES: tuple[str, ...] = ("relu", "leaky_relu", "softplus", "tanh")


#: The noises of the toy model's ``noise`` field.
TOY_NOISES = ("update", "label", "none")


#: The largest coordinate of the toy's start point and walls: (10⁹)⁴ = 10³⁶ is within float32.
TOY_COORDINATE_MAX = 1e9


@dataclass(frozen=True)
class ToyParams:
    """Parameters of the 2-D toy loss (the ``[model]`` section with ``kind = "toy"``).

    Defaults are the ``toy-manifold`` set-up (update noise); ``toy-manifold-label`` is the
    same with ``noise = "label"``.

    Attributes:
        noise: ``"update"`` (θ ← θ − η(∇L + σξ)), ``"label"`` (L = (xy − sξ)²) or
            ``"none"`` (plain GD).
        particles: independent trajectories per run.
        lr: learning rate η.
        noise_std: σ of the update noise, or s of the label noise.
        x0, y0: start point of every particle; ``x0`` far out on the axis, ``y0 ≠ 0``.
        reflect: reflect ``x`` at the walls ``x_min`` and ``x_max``.
        x_min, x_max: the walls (used only when ``reflect``).
    """

    name: ClassVar[str] = "toy"

    noise: str = "update"
    particles: int = 1000
    lr: float = 0.01
    noise_std: float = 1.0
    x0: float = 3.0
    y0: float = 0.01
    reflect: bool = False
    x_min: float = 1.0
    x_max: float = 4.0

    def __post_init__(self) -> None:
        if self.noise not in TOY_NOISES:
            raise ValueError(f"toy: noise must be one of {TOY_NOISES}, got {self.noise!r}.")
        if self.particles < 1:
            raise ValueError(f"toy: particles must be at least 1, got {self.particles}.")
        if not self.lr > 0:
            raise ValueError(f"toy: lr must be positive, got {self.lr!r}.")
        if not self.noise_std >= 0:
            raise ValueError(f"toy: noise_std must be non-negative, got {self.noise_std!r}.")
        for field in ("x0", "y0", "x_min", "x_max"):
            if not abs(getattr(self, field)) <= TOY_COORDINATE_MAX:
                raise ValueError(
                    f"toy: {field} must lie within ±{TOY_COORDINATE_MAX:g} (the loss x²y² "
                    f"must be finite in float32), got {getattr(self, field)!r}."
                )
        if self.reflect:
            if not 0 < self.x_min < self.x_max:
                raise ValueError(
                    f"toy: walls need 0 < x_min < x_max, got x_min={self.x_min!r}, "
                    f"x_max={self.x_max!r}."
                )
            if not self.x_min <= self.x0 <= self.x_max:
                raise ValueError(
                    f"toy: x0={self.x0!r} must lie between the walls "
                    f"[{self.x_min!r}, {self.x_max!r}]."
                )


#: The input sets of the ``layout`` field.
LAYOUTS = ("ring", "place")


@dataclass(frozen=True)
class SimilarityMatchingParams:
    """Parameters of the similarity-matching network (``[model]`` with
    ``kind = "similarity_matching"``).

    Defaults are the ring model (preset ``hebbian-ring``); :data:`PLACE_DEFAULTS` holds the
    1-D place-cell model (preset ``hebbian-place``).

    Attributes:
        layout: ``"ring"`` or ``"place"`` (see the module docstring).
        neurons: output neurons N.
        samples: ring angles, or positions along the track.
        probe_stride: every ``probe_stride``-th sample is measured.
        lr: learning rate η of W, M and b.
        sigma_w, sigma_m: synaptic noise σ_W, σ_M (per √η).
        lambda1, lambda2: threshold λ₁ and leak λ₂ of the output non-linearity.
        alpha: similarity offset α (the bias enters as √α b).
        init_scale: standard deviation of the initial W.
        dt: time step of the neural dynamics.
        tol: relative tolerance per unit time of the fixed point.
        max_iterations: cap on the neural-dynamics iterations per fixed point.
        centroid_threshold: response level above which a probe counts for a field.
        min_field_samples: a neuron has a field when more probes than this exceed the
            threshold.
        grid_scales, grid_orientations, grid_offsets: grid-cell modules, orientations and
            offsets per axis (``place`` only).
        grid_base_spacing, grid_scale_factor: smallest grid spacing (track lengths) and
            the ratio between modules.
        slice_angle: direction of the 1-D slice through the 2-D grid fields, radians.
        clip_lateral: clip ``M`` at 0 after each update (Qin et al.; default). ``False``
            lets noise make lateral weights negative (excitatory): a control showing that
            the noise-driven loss of active units comes from the clipping (module
            docstring).
    """

    name: ClassVar[str] = "similarity_matching"

    layout: str = "ring"
    neurons: int = 100
    samples: int = 1000
    probe_stride: int = 5
    lr: float = 0.02
    sigma_w: float = 0.001
    sigma_m: float = 0.001
    lambda1: float = 0.0
    lambda2: float = 0.01
    alpha: float = 0.0
    init_scale: float = 0.1
    dt: float = 0.05
    tol: float = 1e-4
    max_iterations: int = 10_000
    centroid_threshold: float = 0.01
    min_field_samples: int = 3
    grid_scales: int = 5
    grid_orientations: int = 6
    grid_offsets: int = 3
    grid_base_spacing: float = 0.2
    grid_scale_factor: float = 1.42
    slice_angle: float = math.pi / 6
    clip_lateral: bool = True

    def __post_init__(self) -> None:
        p = "similarity_matching"
        if not isinstance(self.clip_lateral, bool):
            raise ValueError(f"{p}: clip_lateral must be true or false, got {self.clip_lateral!r}.")
        if self.layout not in LAYOUTS:
            raise ValueError(f"{p}: layout must be one of {LAYOUTS}, got {self.layout!r}.")
        for field in ("neurons", "samples", "probe_stride", "max_iterations"):
            if getattr(self, field) < 1:
                raise ValueError(f"{p}: {field} must be at least 1, got {getattr(self, field)}.")
        if self.samples // self.probe_stride < 2:
            raise ValueError(
                f"{p}: probe_stride={self.probe_stride} leaves fewer than 2 of "
                f"samples={self.samples} to measure."
            )
        if not 0 < self.lr < 1:
            raise ValueError(f"{p}: lr must lie in (0, 1), got {self.lr!r}.")
        for field in ("sigma_w", "sigma_m", "lambda1", "alpha", "init_scale"):
            if not getattr(self, field) >= 0:
                raise ValueError(
                    f"{p}: {field} must be non-negative, got {getattr(self, field)!r}."
                )
        if not self.lambda2 > 0:
            raise ValueError(f"{p}: lambda2 must be positive, got {self.lambda2!r}.")
        if not 0 < self.dt <= 1:
            raise ValueError(f"{p}: dt must lie in (0, 1], got {self.dt!r}.")
        if not self.tol > 0:
            raise ValueError(f"{p}: tol must be positive, got {self.tol!r}.")
        if self.min_field_samples < 0:
            raise ValueError(f"{p}: min_field_samples must be non-negative.")
        if self.layout == "place":
            for field in ("grid_scales", "grid_orientations", "grid_offsets"):
                if getattr(self, field) < 1:
                    raise ValueError(f"{p}: {field} must be at least 1.")
            if not (self.grid_base_spacing > 0 and self.grid_scale_factor > 0):
                raise ValueError(f"{p}: grid spacings must be positive.")
            cells = self.grid_scales * self.grid_orientations * self.grid_offsets**2
            if cells > GRID_CELLS_MAX:
                raise ValueError(
                    f"{p}: grid_scales × grid_orientations × grid_offsets² = {cells:,} grid "
                    f"cells; at most {GRID_CELLS_MAX:,}."
                )
            largest = math.log(self.grid_base_spacing) + (self.grid_scales - 1) * math.log(
                self.grid_scale_factor
            )
            if largest > math.log(1e30):
                raise ValueError(
                    f"{p}: the largest grid spacing, grid_base_spacing × "
                    f"grid_scale_factor^(grid_scales − 1), is e^{largest:.0f} track lengths; "
                    "at most 1e30."
                )


#: The most grid cells (inputs) of the place model: as many as the noise draws for per
#: matrix row (:data:`repdrift.noise.MAX_COLS`); the published model has 270.
GRID_CELLS_MAX = 1 << 16


#: The 1-D place-cell model of Qin et al. (preset ``hebbian-place``).
PLACE_DEFAULTS = SimilarityMatchingParams(
    layout="place",
    neurons=200,
    samples=200,
    probe_stride=1,
    lr=0.02,
    sigma_w=0.005,
    sigma_m=0.005,
    lambda1=0.02,
    lambda2=0.05,
    alpha=35.0,
    init_scale=0.5,
    centroid_threshold=0.1,
)


#: ``[model] kind`` -> its parameters dataclass.
PARAMS: dict[str, type] = {
    "toy": ToyParams,
    "similarity_matching": SimilarityMatchingParams,
}
