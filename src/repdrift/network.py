"""One-hidden-layer network of the paper.

``h = act(x @ W1.T + b1)``, ``y_hat = h @ W2.T`` — no output bias, as in the original.

Parameters are a plain dict pytree::

    {"W1": (hidden, d_in), "b1": (hidden,), "W2": (d_out, hidden)}

Initialisation (Ratzon, Derdikman & Barak 2024, published code): ``W1`` and ``b1`` are
He-scaled, ``N(0, 2 / d_in)``; the readout ``W2`` is ``N(0, readout_sd**2)``.

Readout presets are named by the *standard* meaning of the terms: a large readout keeps
the network near its linearisation (lazy / NTK-like), a small one lets the hidden layer
move (rich / feature learning).

=========  ==================  ==========================================
preset      readout sd          label in the original code
=========  ==================  ==========================================
``lazy``    ``sqrt(2 / N)``     "rich" (swapped there)
``rich``    ``2 / N``           "lazy" (swapped there)
=========  ==================  ==========================================

with ``N`` the number of hidden units. Any other scale can be given as a number.

Products are computed in the parameters' own precision on every device
(:mod:`repdrift.precision`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp

from repdrift.precision import MATMUL

Params = dict[str, jax.Array]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "leaky_relu": lambda z: jax.nn.leaky_relu(z, negative_slope=0.01),
    "softplus": jax.nn.softplus,
    "tanh": jnp.tanh,
}

ReadoutPreset = Literal["lazy", "rich"]


def readout_sd(readout: ReadoutPreset | float, hidden: int) -> float:
    """Standard deviation of the readout weights for a preset name or an explicit value."""
    if isinstance(readout, str):
        if readout == "lazy":
            return math.sqrt(2.0 / hidden)
        if readout == "rich":
            return 2.0 / hidden
        raise ValueError(f"readout must be 'lazy', 'rich' or a positive number, got {readout!r}")
    if not readout > 0:
        raise ValueError(f"readout scale must be positive, got {readout!r}")
    return float(readout)


def init(
    key: jax.Array,
    d_in: int,
    hidden: int,
    d_out: int,
    *,
    readout: ReadoutPreset | float = "lazy",
    dtype: jnp.dtype = jnp.float32,
) -> Params:
    """Draw initial parameters (He-scaled first layer, explicit readout scale)."""
    k_w1, k_b1, k_w2 = jax.random.split(key, 3)
    he = math.sqrt(2.0 / d_in)
    sd = readout_sd(readout, hidden)
    return {
        "W1": he * jax.random.normal(k_w1, (hidden, d_in), dtype),
        "b1": he * jax.random.normal(k_b1, (hidden,), dtype),
        "W2": sd * jax.random.normal(k_w2, (d_out, hidden), dtype),
    }


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation function called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def apply(params: Params, x: jax.Array, act: str = "relu") -> tuple[jax.Array, jax.Array]:
    """Forward pass.

    ``x: (samples, d_in)`` → ``(output (samples, d_out), hidden (samples, units))``.
    """
    pre = jnp.matmul(x, params["W1"].T, precision=MATMUL) + params["b1"]
    hidden = activation(act)(pre)
    return jnp.matmul(hidden, params["W2"].T, precision=MATMUL), hidden


def rates(params, x, act: str = "relu"):
    """The hidden layer's activity as firing rates, in float64 NumPy: ``(samples, hidden)``.

    A rate is the positive part of a unit's activity — what every measure of activity here
    counts as active (``h > 0``). For ReLU and softplus that is the activity itself; for
    the signed activations (tanh, leaky ReLU) a negative activity is silence, since rate
    maps, spatial information and Treves–Rolls sparseness are defined for non-negative
    rates only.
    """
    import numpy as np

    _, hidden = apply({k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(x), act)
    return np.maximum(np.asarray(hidden, np.float64), 0.0)


def mse(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    act: str = "relu",
    mask: jax.Array | None = None,
) -> jax.Array:
    """Mean over samples and outputs of the squared error (no factor ½), as in the paper.

    ``mask (samples, d_out)`` of 0/1, when given, restricts the mean to the entries it
    marks: a problem padded to a larger shape (samples and outputs of zeros, masked out)
    has exactly the loss, and the gradient, of the problem itself.
    """
    output, _ = apply(params, x, act)
    if mask is None:
        return jnp.mean((output - y) ** 2)
    return jnp.sum(mask * (output - y) ** 2) / jnp.sum(mask)


def masked_variance(y: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Variance of the entries of ``y`` (all of them, or those ``mask`` marks), with
    Bessel's correction (``n - 1``): the original normalised its loss by PyTorch's
    ``y.var()`` (``train.py``, ``Trainer.__init__``), which is the unbiased estimate. It
    scales the reported loss only; the gradient is that of the plain MSE."""
    if mask is None:
        mask = jnp.ones_like(y)
    n = jnp.sum(mask)
    mean = jnp.sum(mask * y) / n
    return jnp.sum(mask * (y - mean) ** 2) / jnp.maximum(n - 1, 1)


def rows(params: Params, outputs: jax.Array | None = None) -> Params:
    """The number of real rows (first dimension) of each parameter tensor.

    ``W1`` and ``b1`` have one row per hidden unit; ``W2`` one per output, of which only
    those ``outputs (d_out,)`` marks are real when the problem is padded. Stochastic
    error descent scales its perturbation of a tensor by these counts.
    """
    hidden = params["W1"].shape[0]
    d_out = params["W2"].shape[0] if outputs is None else jnp.sum(outputs)
    dtype = params["W1"].dtype
    return {
        "W1": jnp.asarray(hidden, dtype),
        "b1": jnp.asarray(hidden, dtype),
        "W2": jnp.asarray(d_out, dtype),
    }


def pad(params: Params, d_in: int, d_out: int) -> Params:
    """Params padded with zeros to ``d_in`` inputs and ``d_out`` outputs (NumPy or JAX)."""
    w1, w2 = params["W1"], params["W2"]
    xp = jnp if isinstance(w1, jax.Array) else __import__("numpy")
    return {
        "W1": xp.pad(w1, ((0, 0), (0, d_in - w1.shape[1]))),
        "b1": params["b1"],
        "W2": xp.pad(w2, ((0, d_out - w2.shape[0]), (0, 0))),
    }
