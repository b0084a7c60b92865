"""Random input-output mappings and their autoencoder variants (paper, Fig. 4 and S1-S2).

Four tasks without space, used by the paper's randomized sweeps:

- ``random``: inputs ``(samples, d_in)`` and targets ``(samples, d_out)`` drawn i.i.d.;
- ``smoothed``: the same, each matrix then smoothed with a Gaussian along both axes
  (samples and dimensions), so that neighbouring samples and neighbouring dimensions are
  correlated;
- ``random_autoencoder`` / ``smoothed_autoencoder``: the input matrix of the two above,
  with the target equal to the input.

Entries are drawn from ``U(0, 1)`` as in the original code (``distribution="uniform"``)
or from ``N(0, 1)`` (``"gaussian"``). Each matrix is then scaled to [-1, 1] by its global
minimum and maximum (:func:`repdrift.tasks.signals.minmax_scale`), as in the original
code, or to [0, 1] with ``scaling = "unit"``, as the data of the original's 10^7-step GD
and Adam runs were (Fig. 4B and most of the randomized sweep; see ``RandomParams``).

Smoothing widths, in rows and columns: ``sigma_samples = samples / smooth_factor`` (the
original's ``n_samples / smooth_factor``, default 5) and ``sigma_dims = dims /
dim_smooth_factor`` with ``dims`` the matrix's own number of columns. The original used
``y_dim / 5`` for the columns of *both* matrices (and, for the autoencoder, the unused
configured ``y_dim``); here each matrix is smoothed relative to its own width.

Reference: Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Methods.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from repdrift.tasks.dataset import Dataset
from repdrift.tasks.params import (
    RandomAutoencoderParams,
    RandomMappingParams,
    RandomParams,
    SmoothedAutoencoderParams,
    SmoothedParams,
    check_task,
)
from repdrift.tasks.signals import minmax_scale, smooth_reflect, to_scaling


def _draw(key: jax.Array, shape: tuple[int, int], distribution: str) -> jax.Array:
    if distribution == "uniform":
        return jax.random.uniform(key, shape)
    return jax.random.normal(key, shape)


def _smooth(x: jax.Array, smooth_factor: float, dim_smooth_factor: float) -> jax.Array:
    """Gaussian filter along rows (``rows / smooth_factor``) then columns."""
    rows, cols = x.shape
    x = smooth_reflect(x, rows / smooth_factor, axis=0)
    return smooth_reflect(x, cols / dim_smooth_factor, axis=1)


def make(key: jax.Array, params: RandomMappingParams, *, dtype=jnp.float32) -> Dataset:
    """Draw the dataset of one of the four random-mapping tasks.

    The key is split into an input key and a target key, so for the same key and sizes
    an autoencoder task has the inputs of its mapping counterpart.

    Returns:
        ``Dataset`` with ``inputs (samples, d_in)`` and ``targets (samples, d_out)``
        (``d_out = d_in`` for autoencoders) in [-1, 1] (``[0, 1]`` with ``scaling =
        "unit"``), and no position or direction.

    Raises:
        ValueError: for non-positive sizes or smoothing factors or an unknown distribution.
    """
    if not isinstance(
        params, RandomParams | SmoothedParams | RandomAutoencoderParams | SmoothedAutoencoderParams
    ):
        raise TypeError(f"not a random-mapping parameter set: {type(params).__name__}")
    check_task(params)
    return _build(key, params, dtype)


# Static parameters: one compiled program per parameter set.
@partial(jax.jit, static_argnums=(1, 2))
def _build(key: jax.Array, params: RandomMappingParams, dtype) -> Dataset:
    key_in, key_out = jax.random.split(key)
    smoothed = isinstance(params, SmoothedParams | SmoothedAutoencoderParams)
    autoencoder = isinstance(params, RandomAutoencoderParams | SmoothedAutoencoderParams)

    inputs = _draw(key_in, (params.samples, params.d_in), params.distribution)
    if smoothed:
        inputs = _smooth(inputs, params.smooth_factor, params.dim_smooth_factor)
    inputs = to_scaling(minmax_scale(inputs), params.scaling).astype(dtype)
    if autoencoder:
        return Dataset(inputs=inputs, targets=inputs)

    targets = _draw(key_out, (params.samples, params.d_out), params.distribution)
    if smoothed:
        targets = _smooth(targets, params.smooth_factor, params.dim_smooth_factor)
    targets = to_scaling(minmax_scale(targets), params.scaling).astype(dtype)
    return Dataset(inputs=inputs, targets=targets)
