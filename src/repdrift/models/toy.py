"""The 2-D toy loss of Fig. 5A: noisy gradient descent on a one-dimensional zero-loss manifold.

Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Fig. 5A: on

    L(x, y) = x² y²,

zero on both axes, noisy GD started far out on the x-axis drifts along the axis towards the
origin, where the valley is flatter. The Hessian

    H = [[2y², 4xy], [4xy, 2x²]],   eigenvalues (x² + y²) ± √((x² + y²)² + 12 x² y²),

is ``diag(0, 2x²)`` on the x-axis: its one non-zero eigenvalue (the curvature across the
valley) and its trace fall as ``|x|`` falls.

One run holds ``particles`` independent trajectories from one start point ``(x0, y0)``;
each step, for every particle (``ξ`` independent standard normals, redrawn every step):

* ``noise = "update"``: ``θ ← θ − η (∇L(θ) + σ ξ)``, ``ξ ∈ R²``;
* ``noise = "label"``: the label of the one sample is noisy, ``L = (x y − s ξ)²``, and
  ``θ ← θ − η ∇_θ (x y − s ξ)²``, ``ξ ∈ R``;
* ``noise = "none"``: plain GD, the control: it converges to the manifold and stops.

Optionally ``x`` is reflected at walls ``x_min < x < x_max`` (``reflect=True``), which
makes the drift along the axis a walk with a stationary density.

**Theory** (derived in ``tests/test_toy.py``; to leading order in η, near the x-axis).
Update noise: ``y`` is an Ornstein–Uhlenbeck process with ``Var y = ησ² / (4x²(1 − ηx²))``;
``E[Δx] = −η²σ² / (2x(1 − ηx²))``, ``E[Δ log|x|] ≈ −η²σ²/x²``, ``E[Δx²] = O(η³)``, and the
stationary density along a bounded stretch of the axis is ``∝ √(1 − ηx²) / |x| ≈ 1/|x|``.
Label noise: ``Var y = ηs² / (1 − ηx²)``, ``E[Δx] = −2η²s²x / (1 − ηx²)``: ``x`` and the
Hessian trace ``≈ 2x²`` decay exponentially, ``E[x] ≈ x0 exp(−2η²s²t)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from repdrift.models.params import TOY_NOISES, ToyParams


class ToyData(NamedTuple):
    """One run's fixed arrays (scalars).

    Attributes:
        x0, y0: start point of every particle.
        x_min, x_max: reflecting walls for ``x`` (ignored unless the model reflects).
    """

    x0: jax.Array
    y0: jax.Array
    x_min: jax.Array
    x_max: jax.Array


class ToyHyper(NamedTuple):
    """Traced scalars of one run.

    Attributes:
        lr: learning rate η.
        noise_std: σ (update noise) or s (label noise); unused for ``noise = "none"``.
    """

    lr: jax.Array
    noise_std: jax.Array


class ToyState(NamedTuple):
    """Positions of the particles and the PRNG key.

    Attributes:
        x, y: ``(particles,)``.
        key: split every step into the step's noise.
    """

    x: jax.Array
    y: jax.Array
    key: jax.Array


def make_model(params: ToyParams) -> Toy:
    """The static model of ``params``."""
    return Toy(particles=params.particles, noise=params.noise, reflect=params.reflect)


def make_data(key: jax.Array, params: ToyParams, *, dtype=jnp.float32) -> ToyData:
    """The start point and walls of ``params`` (``key`` is unused: nothing is drawn)."""
    del key
    return ToyData(
        *(jnp.asarray(v, dtype) for v in (params.x0, params.y0, params.x_min, params.x_max))
    )


def make_hyper(params: ToyParams, *, dtype=jnp.float32) -> ToyHyper:
    """The traced learning rate and noise scale of ``params``."""
    return ToyHyper(jnp.asarray(params.lr, dtype), jnp.asarray(params.noise_std, dtype))


def loss(x: jax.Array, y: jax.Array) -> jax.Array:
    """``L(x, y) = x² y²`` elementwise."""
    return (x * y) ** 2


def gradient(x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``∇L = (2 x y², 2 x² y)`` elementwise."""
    return 2 * x * y**2, 2 * x**2 * y


def hessian_eigenvalues(x, y):
    """Eigenvalues of ``H = [[2y², 4xy], [4xy, 2x²]]``, largest first: ``(..., 2)``.

    ``tr H = 2(x² + y²)``, ``det H = −12 x² y²``, so ``λ± = (x² + y²) ± √((x² + y²)² +
    12 x² y²)``. Works on NumPy and JAX arrays.
    """
    xp = jnp if isinstance(x, jax.Array) or isinstance(y, jax.Array) else np
    half_trace = x**2 + y**2
    root = xp.sqrt(half_trace**2 + 12 * (x * y) ** 2)
    return xp.stack([half_trace + root, half_trace - root], axis=-1)


def _reflect(x: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """Reflect ``x`` into ``[lo, hi]`` (one bounce each side; steps are far shorter than
    the interval)."""
    x = jnp.where(x < lo, 2 * lo - x, x)
    return jnp.where(x > hi, 2 * hi - x, x)


@dataclass(frozen=True)
class Toy:
    """GD with update, label or no noise on ``L = x² y²`` (see the module docstring).

    Attributes:
        particles: trajectories per run.
        noise: ``"update"``, ``"label"`` or ``"none"``.
        reflect: reflect ``x`` at the data's walls.
    """

    particles: int = 1000
    noise: str = "update"
    reflect: bool = False

    kind: ClassVar[str] = "toy"
    record_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "x": ("particle",),
        "y": ("particle",),
    }
    snapshot_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "x": ("particle",),
        "y": ("particle",),
    }
    #: dimension names of :meth:`snapshot_metrics`' arrays.
    snapshot_metric_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "hessian_eigenvalues": ("particle", "eigenvalue"),
    }

    def __post_init__(self) -> None:
        if self.noise not in TOY_NOISES:
            raise ValueError(f"toy: noise must be one of {TOY_NOISES}, got {self.noise!r}.")
        if self.particles < 1:
            raise ValueError(f"toy: particles must be at least 1, got {self.particles}.")

    def init(self, key: jax.Array, data: ToyData, hyper: ToyHyper) -> ToyState:
        """Every particle at ``(x0, y0)``."""
        del hyper
        ones = jnp.ones(self.particles, data.x0.dtype)
        return ToyState(data.x0 * ones, data.y0 * ones, key)

    def step(self, state: ToyState, data: ToyData, hyper: ToyHyper) -> tuple[ToyState, jax.Array]:
        """One noisy GD step of every particle; returns the mean clean loss before it."""
        key, k_noise = jax.random.split(state.key)
        x, y = state.x, state.y
        lr, s = hyper.lr, hyper.noise_std
        if self.noise == "update":
            gx, gy = gradient(x, y)
            xi = jax.random.normal(k_noise, (2, self.particles), x.dtype)
            x_new, y_new = x - lr * (gx + s * xi[0]), y - lr * (gy + s * xi[1])
        elif self.noise == "label":
            xi = jax.random.normal(k_noise, (self.particles,), x.dtype)
            residual = x * y - s * xi
            x_new, y_new = x - lr * 2 * residual * y, y - lr * 2 * residual * x
        else:
            gx, gy = gradient(x, y)
            x_new, y_new = x - lr * gx, y - lr * gy
        if self.reflect:
            x_new = _reflect(x_new, data.x_min, data.x_max)
        return ToyState(x_new, y_new, key), jnp.mean(loss(x, y))

    def measure(self, state: ToyState, data: ToyData) -> dict[str, jax.Array]:
        """Positions and their summaries.

        ``loss``: mean ``x²y²``; ``x``, ``y``: ``(particle,)``; ``mean_x``,
        ``mean_log_abs_x`` (mean ``log|x|``), ``mean_x2`` (mean ``x²``); ``hessian_trace``:
        mean ``tr H = 2(x² + y²)``; ``hessian_max``: mean largest eigenvalue.
        """
        del data
        x, y = state.x, state.y
        return {
            "loss": jnp.mean(loss(x, y)),
            "x": x,
            "y": y,
            "mean_x": jnp.mean(x),
            "mean_log_abs_x": jnp.mean(jnp.log(jnp.abs(x))),
            "mean_x2": jnp.mean(x**2),
            "hessian_trace": jnp.mean(2 * (x**2 + y**2)),
            "hessian_max": jnp.mean(hessian_eigenvalues(x, y)[..., 0]),
        }

    def snapshot(self, state: ToyState) -> dict[str, jax.Array]:
        return {"x": state.x, "y": state.y}

    def snapshot_metrics(self, snapshot: dict[str, np.ndarray], data) -> dict[str, np.ndarray]:
        """``hessian_eigenvalues``: ``(particle, 2)``, largest first (float64)."""
        del data
        x = np.asarray(snapshot["x"], np.float64)
        y = np.asarray(snapshot["y"], np.float64)
        return {"hessian_eigenvalues": hessian_eigenvalues(x, y)}
