"""Signal processing shared by the tasks: Gaussian filters, periodic interpolation,
viewing windows and scaling to [-1, 1].

The Gaussian filters use the sampled, truncated, normalised kernel of
:func:`scipy.ndimage.gaussian_filter1d`: weights ``exp(-k**2 / (2 sigma**2))`` at integer
offsets ``|k| <= r``, ``r = int(truncate * sigma + 0.5)``, divided by their sum. Widths are
static (plain Python numbers), so kernels are built once with NumPy, and each filter is
compiled once per width.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from repdrift.precision import MATMUL

TRUNCATE = 4.0
"""Kernel half-width in standard deviations, scipy's default."""


def gaussian_kernel(sigma: float, truncate: float = TRUNCATE) -> np.ndarray:
    """Normalised Gaussian weights at integer offsets ``-r..r`` (``sigma`` in samples).

    ``sigma == 0`` gives the identity kernel ``[1.0]``.
    """
    if not sigma >= 0:
        raise ValueError(f"the smoothing width must be non-negative, got sigma={sigma!r}")
    radius = int(truncate * float(sigma) + 0.5)
    if radius == 0:
        return np.ones(1)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


@partial(jax.jit, static_argnames="sigma")
def smooth_circular(x: jax.Array, sigma: float) -> jax.Array:
    """Smooth a periodic signal ``x: (n,)`` with a Gaussian of width ``sigma`` samples.

    The kernel is wrapped around the circle (``w_circ[k mod n] += w[k]``) and applied by
    FFT. Whenever the kernel is shorter than the signal this equals filtering the signal
    tiled three times and keeping the middle copy (how the original code smoothed the
    corridor texture); it stays exact when the kernel is longer.
    """
    n = x.shape[-1]
    weights = gaussian_kernel(sigma)
    radius = (weights.size - 1) // 2
    circular = np.zeros(n)
    np.add.at(circular, np.arange(-radius, radius + 1) % n, weights)
    spectrum = jnp.fft.rfft(x) * jnp.fft.rfft(jnp.asarray(circular, dtype=x.dtype))
    return jnp.fft.irfft(spectrum, n=n).astype(x.dtype)


@partial(jax.jit, static_argnames=("sigma", "axis"))
def smooth_reflect(x: jax.Array, sigma: float, axis: int) -> jax.Array:
    """Smooth ``x`` along ``axis`` with a Gaussian of width ``sigma`` samples.

    Edges are extended by mirroring about the edge (``d c b a | a b c d``), scipy's
    ``mode="reflect"``, which the original code used (by default) for the smoothed random
    tasks: the result matches ``scipy.ndimage.gaussian_filter1d(x, sigma, axis)``.
    """
    weights = jnp.asarray(gaussian_kernel(sigma), dtype=x.dtype)
    radius = (weights.size - 1) // 2
    if radius == 0:
        return x
    moved = jnp.moveaxis(x, axis, -1)
    pad = [(0, 0)] * (moved.ndim - 1) + [(radius, radius)]
    padded = jnp.pad(moved, pad, mode="symmetric")
    rows = padded.reshape(-1, padded.shape[-1])

    # The kernel is symmetric, so convolution and correlation agree.
    def smooth(row):
        return jnp.convolve(row, weights, mode="valid", precision=MATMUL)

    smoothed = jax.vmap(smooth)(rows)
    return jnp.moveaxis(smoothed.reshape(moved.shape), -1, axis)


@jax.jit
def interp_periodic(signal: jax.Array, coordinate: jax.Array) -> jax.Array:
    """Linearly interpolate a periodic signal ``(n,)`` sampled at ``0, 1, ..., n-1``.

    ``coordinate`` (any shape) is in samples and taken modulo ``n``; between sample
    ``n-1`` and ``n = 0`` the interpolation wraps around.
    """
    n = signal.shape[0]
    u = jnp.mod(coordinate, n)
    below = jnp.floor(u)
    frac = u - below
    i0 = below.astype(jnp.int32) % n
    return signal[i0] * (1.0 - frac) + signal[(i0 + 1) % n] * frac


def window_offsets(width: float, count: int) -> jax.Array:
    """``count`` offsets spread evenly over ``[-width/2, width/2]``, from high to low.

    A single offset is the centre, 0. Used for the viewing directions of the corridor
    (left to right) and the window of the ring.
    """
    if count == 1:
        return jnp.zeros(1)
    return jnp.linspace(width / 2, -width / 2, count)


@jax.jit
def minmax_scale(x: jax.Array) -> jax.Array:
    """Map ``x`` affinely so that its global minimum is -1 and its maximum +1.

    ``2 (x - min x) / (max x - min x) - 1`` over all entries at once, the normalisation
    the original code applied to inputs and targets (there with a ``1e-5`` offset that
    kept values just inside the interval). A constant array maps to zeros.
    """
    low, high = jnp.min(x), jnp.max(x)
    span = high - low
    safe_span = jnp.where(span > 0, span, 1.0)
    return jnp.where(span > 0, 2.0 * (x - low) / safe_span - 1.0, jnp.zeros_like(x))


def to_scaling(x: jax.Array, scaling: str) -> jax.Array:
    """Values in [-1, 1] mapped to a task's ``scaling``: unchanged for ``"symmetric"``,
    ``(x + 1) / 2`` into [0, 1] for ``"unit"`` (every column alike)."""
    return (x + 1.0) / 2.0 if scaling == "unit" else x
