"""Sparsity of hidden-layer activity.

Activity is ``hidden: (..., samples, units)`` — for the network, the hidden layer of a
clean forward pass over the whole training set; for recordings, ``samples`` are frames.
Leading axes (runs, snapshots) are kept. Each function works on NumPy arrays and, unchanged,
on JAX arrays inside ``jax.jit`` (the array's own namespace is used).

* *active fraction*: fraction of (sample, unit) pairs with ``h > threshold`` (Ratzon et al.
  2024, "active fraction");
* *fraction of active units*: fraction of units with ``h > threshold`` on at least one
  sample (Ratzon et al. 2024, "fraction of active units");
* *Treves–Rolls sparseness* ``a = (mean r)² / mean(r²)`` (Treves & Rolls 1991, Network 2:
  371), in ``[1/N, 1]`` for ``N`` non-negative rates: 1 when all are equal, ``1/N`` when one
  is active. *Smaller is sparser.* Over units for each sample it is the *population*
  sparseness; over samples for each unit, the *lifetime* sparseness.
"""

from __future__ import annotations

from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np


def _xp(x: object) -> ModuleType:
    return jnp if isinstance(x, jax.Array) else np


def _as_array(hidden: object) -> np.ndarray | jax.Array:
    if isinstance(hidden, jax.Array):
        return hidden
    return np.asarray(hidden, dtype=float)


def _check_hidden(hidden: np.ndarray | jax.Array) -> None:
    if hidden.ndim < 2:
        raise ValueError(f"hidden must be (..., samples, units), got shape {hidden.shape}")


def _sample_weights(hidden, samples):
    """``samples (..., samples)`` as weights broadcastable over units, or ``None``."""
    if samples is None:
        return None
    return _xp(hidden).asarray(samples)[..., :, None]


def active_units(
    hidden: np.ndarray, *, threshold: float = 0.0, samples: np.ndarray | None = None
) -> np.ndarray:
    """Which units are active: ``h > threshold`` on at least one sample.

    Args:
        hidden: ``(..., samples, units)``.
        threshold: activity level above which a unit counts as active (0 for ReLU units).
        samples: optional ``(..., samples)`` mask of the samples to count (1/``True``) —
            padded samples of a batched problem are left out with it.

    Returns:
        ``(..., units)`` booleans.
    """
    hidden = _as_array(hidden)
    _check_hidden(hidden)
    active = hidden > threshold
    weights = _sample_weights(hidden, samples)
    if weights is not None:
        active = active & (weights > 0)
    return _xp(hidden).any(active, axis=-2)


def active_fraction(
    hidden: np.ndarray, *, threshold: float = 0.0, samples: np.ndarray | None = None
) -> np.ndarray:
    """Fraction of (sample, unit) pairs with ``h > threshold``, in ``[0, 1]``.

    ``mean_{s,j} 1[h_sj > threshold]`` over the last two axes; ``(...)``. With a
    ``samples`` mask, the mean runs over the marked samples only.
    """
    hidden = _as_array(hidden)
    _check_hidden(hidden)
    xp = _xp(hidden)
    active = hidden > threshold
    weights = _sample_weights(hidden, samples)
    if weights is None:
        return xp.mean(active, axis=(-2, -1))
    weights = xp.broadcast_to(weights > 0, active.shape)
    return xp.sum(active & weights, axis=(-2, -1)) / xp.sum(weights, axis=(-2, -1))


def fraction_active_units(
    hidden: np.ndarray, *, threshold: float = 0.0, samples: np.ndarray | None = None
) -> np.ndarray:
    """Fraction of units active on at least one (marked) sample, in ``[0, 1]``; ``(...)``."""
    hidden = _as_array(hidden)
    return _xp(hidden).mean(active_units(hidden, threshold=threshold, samples=samples), axis=-1)


def treves_rolls(rates: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Treves–Rolls sparseness ``a = (Σ r / N)² / (Σ r² / N)`` along ``axis``.

    Defined for non-negative rates; 1 for equal rates, ``1/N`` for a single non-zero one;
    NaN when all ``N`` rates are 0. Dimensionless, invariant to scaling the rates.
    Reference: Treves & Rolls (1991), Network 2: 371–397.
    """
    rates = _as_array(rates)
    xp = _xp(rates)
    if xp is np and np.any(rates < 0):
        raise ValueError("Treves-Rolls sparseness needs non-negative rates")
    mean = xp.mean(rates, axis=axis)
    mean_sq = xp.mean(rates**2, axis=axis)
    safe = xp.where(mean_sq > 0, mean_sq, 1.0)
    return xp.where(mean_sq > 0, mean**2 / safe, xp.nan)


def population_sparseness(hidden: np.ndarray) -> np.ndarray:
    """Treves–Rolls sparseness over units for each sample: ``(..., samples)``.

    Smaller is sparser; samples on which no unit is active give NaN.
    """
    hidden = _as_array(hidden)
    _check_hidden(hidden)
    return treves_rolls(hidden, axis=-1)


def lifetime_sparseness(hidden: np.ndarray) -> np.ndarray:
    """Treves–Rolls sparseness over samples for each unit: ``(..., units)``.

    Smaller is sparser; units silent on every sample give NaN.
    """
    hidden = _as_array(hidden)
    _check_hidden(hidden)
    return treves_rolls(hidden, axis=-2)
