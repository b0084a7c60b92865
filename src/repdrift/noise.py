"""The random numbers of a training step: counter-based, padding-invariant and cheap.

Every noisy step of the paper draws one number per parameter (update noise), per target
(label noise) or per input (input noise); for a typical sweep member that is ~3,100 Gaussians
per step, 3·10^10 in a run of 10^7 steps. This module draws them so that

* **the draw at index ``(i, j)`` of an array depends only on the key and ``(i, j)``** — never
  on the array's shape. A problem padded to larger shapes in a batch therefore receives, on
  its real entries, exactly the numbers it receives alone (see
  :mod:`repdrift.models.feedforward`);
* every number is a pure function of (key, index), computed element by element, so XLA fuses
  the generator into the update that consumes it (no random-number state, no loops);
* a Gaussian costs ~1.2 ns on one CPU core, a fifth of what it cost with ``jax.random``.

**Keys.** Keys are JAX ``threefry2x32`` keys. :func:`split` and :func:`fold_in` derive keys
with the Threefry-2x32 block cipher with 20 rounds (Salmon et al. 2011, "Parallel random
numbers: as easy as 1, 2, 3"), unrolled (:func:`threefry2x32`, bit-exact with JAX's own):
``split(key, n)[u] = threefry2x32(key, (0, u))`` and ``fold_in(key, d) =
threefry2x32(key, (1, d))``. A learner splits its key once per step, so every step, every
kind of noise and every parameter tensor gets its own independent 64-bit key.

**Bits.** Within one array, the 32-bit word of entry ``(i, j)`` is a keyed hash of the
counter ``c = i·2¹⁶ + j`` (rows and columns below 2¹⁶; a vector's entry ``n`` has ``c = n``,
so a vector equals a one-row matrix): ``h = mix(mix(c ⊕ k₀) + (k₁ ⊕ γ))`` with ``(k₀, k₁)``
the array's key, γ = 0x9E3779B9 (so that the all-zero key is not special) and ``mix`` the
*lowbias32* integer hash (C. Wellons, hash-prospector: two multiply–xorshift rounds). For a
fixed key ``c ↦ h`` is a bijection, so the words of one array are all distinct; flipping
any bit of the counter or of the key flips every output bit with probability ½ within
sampling error (``tests/test_noise.py``). Words of different arrays, steps and runs come
from unrelated Threefry keys. (Threefry on every entry would cost ~2.5 ns per number on a
CPU, the hash ~0.2 ns.)

**Gaussians.** A word is turned into N(0, 1) by a piecewise-linear inverse of the normal
distribution function on equiprobable bins, read from two tables built once in float64 with
``scipy.special.ndtri``: bit 31 is the sign; bits 19–30 choose one of 4,096 equiprobable
bins of |Z| and bits 0–18 the position within it, linearly between the bin's edges. The
outermost bin (|Z| > 3.67, probability 2⁻¹²) is refined the same way into 4,096 sub-bins
(bits 7–18) with 7 bits of position; the last sub-bin (|Z| > 5.42) is uniform over an
interval with the exact conditional mean of that tail, so the largest draw is 5.77 (that of
``jax.random.normal`` is 5.4). Every bin carries exactly its normal probability; within a
bin the density is flat instead of bell-shaped, which moves the distribution function by at
most 1·10⁻⁵ (in the last main bin, |z| ≈ 3.6) — a Kolmogorov–Smirnov test would need ~10¹⁰
draws to notice. The tables are scaled so that the variance is exactly 1 (the correction is
3·10⁻⁵); the mean is exactly 0 by symmetry. Draws are float32, cast to the requested dtype
(so float64 runs get float32-valued noise).

**Cost.** The hash and the two table reads are fused by XLA into the update that uses the
draws: ~1.2 ns per Gaussian in a training step on one CPU core, against ~6.8 ns for
``jax.random``'s threefry words through ``erfinv``; a random sign costs ~0.2 ns
(``benchmarks/engine.py``, ``docs/performance.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

PyTree = object

_U32 = jnp.uint32
#: Counters pack a row and a column in 16 bits each.
MAX_ROWS = MAX_COLS = 1 << 16

# ------------------------------------------------------------------------------ threefry

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl(x: jax.Array, r: int) -> jax.Array:
    return (x << _U32(r)) | (x >> _U32(32 - r))


def threefry2x32(
    key0: jax.Array, key1: jax.Array, x0: jax.Array, x1: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 with 20 rounds on uint32 arrays (broadcast together), unrolled.

    The block cipher of JAX's default PRNG (Salmon et al. 2011), written out as elementwise
    operations so that XLA compiles it into the surrounding computation instead of a loop.
    Equal, bit for bit, to ``jax._src.random.threefry2x32.threefry_2x32``.
    """
    key2 = key0 ^ key1 ^ _U32(0x1BD11BDA)
    ks = (key0, key1, key2)
    x0 = x0 + key0
    x1 = x1 + key1
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + _U32(block + 1)
    return x0, x1


def _words(key: jax.Array) -> jax.Array:
    """The two uint32 words of a threefry key (or of a raw ``uint32[..., 2]`` array)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(key))
        if "threefry" not in impl:
            raise ValueError(f"repdrift's noise needs threefry2x32 keys, got {impl}")
        key = jax.random.key_data(key)
    if key.shape[-1:] != (2,) or key.dtype != _U32:
        raise ValueError(f"expected a threefry2x32 key, got an array {key.dtype}{key.shape}")
    return key


def _wrap(words: jax.Array) -> jax.Array:
    return jax.random.wrap_key_data(words, impl="threefry2x32")


def split(key: jax.Array, n: int) -> tuple[jax.Array, ...]:
    """``n`` independent keys from ``key``: key ``u`` is ``threefry2x32(key, (0, u))``."""
    w = _words(key)
    y0, y1 = threefry2x32(
        w[..., 0:1], w[..., 1:2], jnp.zeros((n,), _U32), jnp.arange(n, dtype=_U32)
    )
    words = jnp.stack([y0, y1], axis=-1)  # (..., n, 2)
    return tuple(_wrap(words[..., u, :]) for u in range(n))


def fold_in(key: jax.Array, data: int) -> jax.Array:
    """A key for ``data`` (a non-negative integer below 2³²): ``threefry2x32(key, (1, data))``."""
    w = _words(key)
    y0, y1 = threefry2x32(w[..., 0], w[..., 1], _U32(1), _U32(data))
    return _wrap(jnp.stack([y0, y1], axis=-1))


# ------------------------------------------------------------------------------ the bits

#: Added to the second key word, so that the all-zero key is not special (``mix(0) = 0``).
_GOLDEN = 0x9E3779B9


def _mix(x: jax.Array) -> jax.Array:
    """lowbias32 (hash-prospector): a bijection of uint32, two multiply–xorshift rounds."""
    x = x ^ (x >> _U32(16))
    x = x * _U32(0x7FEB352D)
    x = x ^ (x >> _U32(15))
    x = x * _U32(0x846CA68B)
    return x ^ (x >> _U32(16))


def _counters(shape: Sequence[int]) -> jax.Array:
    """``i·2¹⁶ + j`` for a matrix, the flat index for a vector, 0 for a scalar."""
    if len(shape) == 0:
        return jnp.zeros((), _U32)
    if len(shape) == 1:
        if shape[0] > 2**32:
            raise ValueError(f"noise for vectors of at most 2^32 entries, got {shape[0]}")
        return jax.lax.iota(_U32, shape[0])
    if len(shape) == 2:
        rows, cols = shape
        if rows > MAX_ROWS or cols > MAX_COLS:
            raise ValueError(
                f"noise for matrices of at most {MAX_ROWS} × {MAX_COLS} entries, got {tuple(shape)}"
            )
        i = jax.lax.broadcasted_iota(_U32, tuple(shape), 0)
        j = jax.lax.broadcasted_iota(_U32, tuple(shape), 1)
        return (i << _U32(16)) | j
    raise ValueError(f"noise for arrays of at most 2 dimensions, got shape {tuple(shape)}")


def bits_like(key: jax.Array, like: jax.Array) -> jax.Array:
    """One pseudo-random uint32 per entry of ``like`` (0-, 1- or 2-D), keyed by its index.

    ``h = mix(mix(c ⊕ k₀) + (k₁ ⊕ γ))`` with ``c`` the entry's counter (see the module
    docstring).
    """
    w = _words(key)
    if w.shape != (2,):
        raise ValueError(f"expected one key (vmap over a batch of keys), got words {w.shape}")
    return _mix(_mix(_counters(like.shape) ^ w[0]) + (w[1] ^ _U32(_GOLDEN)))


# ------------------------------------------------------------------------- distributions

_MAIN_BITS, _TAIL_BITS = 12, 12
_FRAC_BITS = 31 - _MAIN_BITS  # 19: position within a main bin
_SUB_FRAC_BITS = _FRAC_BITS - _TAIL_BITS  # 7: position within a tail sub-bin


def _half_normal_quantile(p: np.ndarray) -> np.ndarray:
    """Quantile of |Z| at probability ``p``."""
    return special.ndtri((1.0 + p) / 2.0)


def _inverse_cdf_tables() -> tuple[np.ndarray, np.ndarray, float]:
    """Left edges and widths of the bins of |Z| (float64), and the variance correction.

    Index ``m < 2¹²−1``: main bin ``m``; index ``2¹² + s``: tail sub-bin ``s``; index
    ``2¹²−1`` is unused (the tail marker).
    """
    n_main, n_tail = 1 << _MAIN_BITS, 1 << _TAIL_BITS
    edges = _half_normal_quantile(np.arange(n_main) / n_main)  # left edges, m = 0..n_main-1
    lo_main = edges[:-1]
    width_main = np.diff(edges)  # bins 0..n_main-2
    tail_p = 1.0 - 1.0 / n_main + np.arange(n_tail + 1) / (n_main * n_tail)
    tail_edges = _half_normal_quantile(tail_p)  # last one is +inf
    a = tail_edges[n_tail - 1]
    # E[|Z| | |Z| > a] (inverse Mills ratio); the last sub-bin is uniform on [a, 2·mean − a].
    mean_last = np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi) / special.ndtr(-a)
    tail_edges[n_tail] = 2.0 * mean_last - a
    lo_tail, width_tail = tail_edges[:-1], np.diff(tail_edges)

    lo = np.concatenate([lo_main, [0.0], lo_tail])
    width = np.concatenate([width_main, [0.0], width_tail])
    # Exact second moment with the discrete positions f = (k + ½)/2^b within a bin:
    # E[(lo + f w)²] = lo² + lo w + w² E[f²], E[f²] = 1/3 − 1/(12·4^b).
    ef2_main = 1.0 / 3.0 - 1.0 / (12.0 * 4.0**_FRAC_BITS)
    ef2_tail = 1.0 / 3.0 - 1.0 / (12.0 * 4.0**_SUB_FRAC_BITS)
    second = np.sum(
        (lo_main**2 + lo_main * width_main + width_main**2 * ef2_main) / n_main
    ) + np.sum((lo_tail**2 + lo_tail * width_tail + width_tail**2 * ef2_tail) / (n_main * n_tail))
    scale = 1.0 / np.sqrt(second)
    return lo * scale, width * scale, second


_LO64, _WIDTH64, _SECOND_MOMENT = _inverse_cdf_tables()


def _lookup_tables() -> tuple[np.ndarray, np.ndarray]:
    """The float32 tables the generator reads: ``|z| = offset[b] + k · step[b]`` for the
    integer position ``k`` within bin ``b`` (the half-step offset folded in)."""
    n_main = 1 << _MAIN_BITS
    bits = np.where(np.arange(_LO64.size) < n_main, _FRAC_BITS, _SUB_FRAC_BITS)
    step = _WIDTH64 * 2.0**-bits
    offset = _LO64 + 0.5 * step
    return offset.astype(np.float32), step.astype(np.float32)


_OFFSET, _STEP = _lookup_tables()


def gaussian_from_bits(bits: jax.Array) -> jax.Array:
    """N(0, 1) float32 draws from uint32 words (see the module docstring)."""
    n_main = 1 << _MAIN_BITS
    main = (bits >> _U32(_FRAC_BITS)) & _U32(n_main - 1)
    tail = main == _U32(n_main - 1)
    sub = _U32(n_main) | ((bits >> _U32(_SUB_FRAC_BITS)) & _U32((1 << _TAIL_BITS) - 1))
    index = jnp.where(tail, sub, main).astype(jnp.int32)
    mask = jnp.where(tail, _U32((1 << _SUB_FRAC_BITS) - 1), _U32((1 << _FRAC_BITS) - 1))
    position = (bits & mask).astype(jnp.int32).astype(jnp.float32)  # below 2^19: exact
    offset = jnp.asarray(_OFFSET).at[index].get(mode="promise_in_bounds")
    step = jnp.asarray(_STEP).at[index].get(mode="promise_in_bounds")
    magnitude = offset + position * step
    # The sign: bit 31 of the word into the sign bit of the float.
    signed = jax.lax.bitcast_convert_type(magnitude, _U32) ^ (bits & _U32(0x80000000))
    return jax.lax.bitcast_convert_type(signed, jnp.float32)


def normal_like(key: jax.Array, like: jax.Array) -> jax.Array:
    """Standard normal draws shaped like ``like`` (0-, 1- or 2-D), in ``like.dtype``.

    The draw at ``[i, j]`` depends on ``(key, i, j)`` only (see the module docstring).
    """
    return gaussian_from_bits(bits_like(key, like)).astype(like.dtype)


def sign_like(key: jax.Array, like: jax.Array) -> jax.Array:
    """Random signs ±1 (equiprobable) shaped like ``like``: the top bit of each word."""
    bits = bits_like(key, like)
    one = jax.lax.bitcast_convert_type(_U32(0x3F800000) | (bits & _U32(0x80000000)), jnp.float32)
    return one.astype(like.dtype)


def uniform_like(key: jax.Array, like: jax.Array) -> jax.Array:
    """Uniform draws on (0, 1) shaped like ``like``: the odd multiples of 2⁻²⁵ from the top
    24 bits of each word."""
    bits = bits_like(key, like)
    u = ((bits >> _U32(8)).astype(jnp.float32) + 0.5) * np.float32(2.0**-24)
    return u.astype(like.dtype)


def standard_normal(key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
    """``n`` i.i.d. N(0, 1) draws (a vector: entry ``k`` depends on ``(key, k)`` only)."""
    return normal_like(key, jnp.zeros((n,), dtype))


def tree_like(key: jax.Array, tree: PyTree, draw=normal_like) -> PyTree:
    """``draw(key_k, leaf_k)`` for every leaf of ``tree``; leaf ``k`` (in flattening order)
    draws with ``fold_in(key, k)``, so its numbers do not depend on the other leaves."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    w = _words(key)
    k = jnp.arange(len(leaves), dtype=_U32)
    y0, y1 = threefry2x32(w[..., 0:1], w[..., 1:2], jnp.ones_like(k), k)
    keys = jnp.stack([y0, y1], axis=-1)
    out = [draw(keys[..., i, :], x) for i, x in enumerate(leaves)]
    return jax.tree_util.tree_unflatten(treedef, out)
