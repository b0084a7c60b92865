"""Learning rules as pure ``(init, step)`` pairs over explicit state.

Every rule of the paper is one :class:`LearnerSpec` (static: which rule, which noises are
switched on, distribution shapes) plus one :class:`Hyper` (traced: learning rate and noise
magnitudes). Keeping the magnitudes traced is what lets a batch of runs with different
learning rates and noise levels share one compiled program, and lets a second sweep with
new values reuse it: only switching a noise on or off (a change of *structure*) compiles
anew.

Rules (Ratzon, Derdikman & Barak 2024; defaults of the original code in brackets):

``gd``
    Full-batch gradient descent, ``θ ← θ − η (∇L + ξ)``, with *update noise*
    ``ξ ~ N(0, σ_u²)`` i.i.d. per parameter per step [η = 0.1, σ_u = 0.0139 in Fig. 2].
    With σ_u = 0 and no label noise it is the noise-free control.
``adam``
    Adam (optax's ``scale_by_adam``, as PyTorch's ``Adam``) scaled by ``−η``
    [η = 1e-3, β₁ = 0.9, β₂ = 0.999, ε = 1e-8].
``rmsprop``
    RMSprop as in PyTorch's ``RMSprop`` (no momentum, not centred):
    ``v ← ρ v + (1 − ρ) g²`` with ``v₀ = 0``, ``θ ← θ − η g / (√v + ε)``; ε *outside* the
    square root and no bias correction (optax's ``scale_by_rms`` with
    ``eps_in_sqrt=False``; its default puts ε inside). ρ is ``rms_decay`` [0.99, PyTorch's
    default], not Adam's β₂. The original code had no RMSprop.
``sed``
    Stochastic error descent (Cauwenberghs 1992): draw a perturbation δ, then
    ``θ ← θ − η (L(θ + δ) − L(θ)) δ``. δ is Gaussian per tensor with variance
    ``sed_perturbation / rows`` (rows = the tensor's first dimension), as in the original
    [sed_perturbation = 0.01, η ≈ 1]. For small δ the mean update is ``−η Σ ∇L`` with
    ``Σ`` the perturbation covariance: a descent direction.

Update noise, if switched on, is added to the gradient before the optimiser, for
``adam`` and ``rmsprop`` as for ``gd`` (as the original did for Adam); ``sed`` takes none.

Noises that any rule can carry:

*label noise* — targets ``y + s·ξ`` redrawn every step. ``gaussian`` (ξ ~ N(0, 1), the
paper's description, default) or ``uniform`` (ξ ~ U(−½, ½), what the original code drew:
its variance is s²/12, not s²).
*input noise* — inputs ``x + σ_in·ξ``, ξ ~ N(0, 1), redrawn every step.

The loss is the mean over samples and outputs of the squared error, no factor ½.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from repdrift import network
from repdrift.network import Params

LearnerKind = Literal["gd", "adam", "rmsprop", "sed"]
LEARNER_KINDS: tuple[str, ...] = ("gd", "adam", "rmsprop", "sed")
LabelNoiseDist = Literal["gaussian", "uniform"]


@dataclass(frozen=True)
class LearnerSpec:
    """Static description of a learning rule (hashable; part of the compiled program).

    Attributes:
        kind: one of ``gd``, ``adam``, ``rmsprop``, ``sed``.
        update_noise: draw Gaussian update noise every step (its σ is in :class:`Hyper`).
        label_noise: ``None`` for none, else ``"gaussian"`` or ``"uniform"``.
        input_noise: draw Gaussian input noise every step.
        activation: hidden-layer activation (see :mod:`repdrift.network`).
        b1, b2: Adam's moment decays.
        rms_decay: RMSprop's decay ρ of its mean square (PyTorch's ``alpha``).
        eps: ε of Adam and RMSprop, added to the root mean square.
    """

    kind: LearnerKind = "gd"
    update_noise: bool = False
    label_noise: LabelNoiseDist | None = None
    input_noise: bool = False
    activation: str = "relu"
    b1: float = 0.9
    b2: float = 0.999
    rms_decay: float = 0.99
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.kind not in LEARNER_KINDS:
            raise ValueError(f"unknown learner {self.kind!r}; choose one of {LEARNER_KINDS}")
        if self.label_noise not in (None, "gaussian", "uniform"):
            raise ValueError(
                f"label noise distribution must be 'gaussian' or 'uniform', "
                f"got {self.label_noise!r}"
            )
        for name in ("b1", "b2", "rms_decay"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        network.activation(self.activation)  # raises on an unknown name


class Hyper(NamedTuple):
    """Traced hyperparameters of one run (scalars; stacked to ``(runs,)`` for a batch).

    Attributes:
        lr: learning rate η.
        update_noise: σ_u, standard deviation of the update noise per parameter.
        label_noise: s, scale of the label noise (std for gaussian, width for uniform).
        input_noise: σ_in, standard deviation of the input noise.
        sed_perturbation: variance numerator of SED's perturbation (variance / rows).
    """

    lr: jax.Array
    update_noise: jax.Array
    label_noise: jax.Array
    input_noise: jax.Array
    sed_perturbation: jax.Array


def hyper(
    lr: float,
    update_noise: float = 0.0,
    label_noise: float = 0.0,
    input_noise: float = 0.0,
    sed_perturbation: float = 0.01,
    dtype: jnp.dtype = jnp.float32,
) -> Hyper:
    """Build a :class:`Hyper` of scalar arrays."""
    return Hyper(
        *(
            jnp.asarray(v, dtype)
            for v in (lr, update_noise, label_noise, input_noise, sed_perturbation)
        )
    )


class LearnerState(NamedTuple):
    """Per-run learner state.

    Attributes:
        key: PRNG key, split every step into the step's noise keys.
        opt: optax state of the direction transform (``EmptyState`` for gd and sed).
    """

    key: jax.Array
    opt: optax.OptState


class Learner(NamedTuple):
    """A rule: ``init(key, params) -> state`` and
    ``step(state, params, hyper, x, y) -> (params, state, loss)``.

    ``loss`` is the training loss *before* the update on the (noisy) batch the step used.
    """

    init: Callable[[jax.Array, Params], LearnerState]
    step: Callable[
        [LearnerState, Params, Hyper, jax.Array, jax.Array],
        tuple[Params, LearnerState, jax.Array],
    ]


def standard_normal(key: jax.Array, n: int, dtype=jnp.float32) -> jax.Array:
    """``n`` i.i.d. N(0, 1) draws: ``√2 · erfinv(u)`` of symmetric uniforms ``u``.

    ``u`` takes the 2²³ odd multiples of 2⁻²³ in (−1, 1), built from the top 23 bits of
    each threefry word — the construction of ``jax.random.normal`` without its clamping
    and range arithmetic, which are a quarter of its cost on a CPU. Exactly symmetric;
    the largest draw is ≈ 5.4 σ (``u = 1 − 2⁻²³``), as for ``jax.random.normal``. The
    draws are float32 values, cast to ``dtype`` (so float64 runs get float32 noise).
    """
    bits = jax.random.bits(key, (n,), jnp.uint32)
    mantissa = jax.lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    u = 2.0 * (mantissa - 1.0) - (1.0 - 2.0**-23)  # odd multiples of 2^-23 in (-1, 1)
    return (jnp.sqrt(2.0) * jax.lax.erf_inv(u)).astype(dtype)


def normal_like(key: jax.Array, like: jax.Array) -> jax.Array:
    """Standard normal draws shaped like ``like`` (0-, 1- or 2-D), materialised once.

    A 2-D array's row ``i`` is drawn from ``fold_in(key, i)``, and threefry's draws of a
    vector are prefix-stable (``jax_threefry_partitionable``, JAX's default): so the
    draw at ``[i, j]`` depends on ``(key, i, j)`` only, not on the array's shape. A problem
    padded to larger shapes in a batch (see :mod:`repdrift.models.feedforward`) therefore
    receives, on its real entries, exactly the noise it receives alone. The optimisation
    barrier makes XLA materialise the draws once: without it the generator is fused into
    each consumer and recomputed there, which nearly doubled the cost of a noisy step.
    """
    if like.ndim <= 1:
        z = standard_normal(key, like.size, like.dtype).reshape(like.shape)
    elif like.ndim == 2:
        rows = jnp.arange(like.shape[0], dtype=jnp.uint32)
        z = jax.vmap(
            lambda i: standard_normal(jax.random.fold_in(key, i), like.shape[1], like.dtype)
        )(rows)
    else:
        raise ValueError(f"noise for arrays of at most 2 dimensions, got {like.shape}")
    return jax.lax.optimization_barrier(z)


def gaussian_like(key: jax.Array, tree: Params) -> Params:
    """One standard normal draw per parameter, shaped like ``tree``.

    Leaf ``k`` (in the tree's flattening order) draws from ``fold_in(key, k)`` with
    :func:`normal_like`, so the draws do not depend on the shapes of the other leaves, nor
    on padding. Drawing these numbers is the cost of a noisy step on a CPU (see
    ``benchmarks/engine.py``).
    """
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    out = [normal_like(jax.random.fold_in(key, k), x) for k, x in enumerate(leaves)]
    return jax.tree_util.tree_unflatten(treedef, out)


class Masks(NamedTuple):
    """Which entries of a padded problem are real (1) and which are padding (0).

    Attributes:
        samples: ``(samples,)``.
        inputs: ``(d_in,)``.
        outputs: ``(d_out,)``.
    """

    samples: jax.Array
    inputs: jax.Array
    outputs: jax.Array


def _direction(spec: LearnerSpec) -> optax.GradientTransformation:
    if spec.kind == "adam":
        return optax.scale_by_adam(b1=spec.b1, b2=spec.b2, eps=spec.eps)
    if spec.kind == "rmsprop":
        return optax.scale_by_rms(decay=spec.rms_decay, eps=spec.eps, eps_in_sqrt=False)
    return optax.identity()


LossFn = Callable[[Params, jax.Array, jax.Array], jax.Array]


def _rows(params: Params, masks: Masks | None) -> Params:
    """Real first-dimension sizes of the tensors (SED's perturbation scale)."""
    if isinstance(params, dict) and set(params) == {"W1", "b1", "W2"}:
        return network.rows(params, None if masks is None else masks.outputs)
    return jax.tree_util.tree_map(lambda z: z.shape[0] if z.ndim else 1, params)


def make(spec: LearnerSpec, loss: LossFn | None = None) -> Learner:
    """The :class:`Learner` for ``spec``.

    Args:
        spec: the rule.
        loss: ``loss(params, x, y) -> scalar``; the network's MSE (with
            ``spec.activation``) when ``None``. Any pytree of parameters works.
    """
    direction = _direction(spec)

    def loss_fn_all(
        params: Params, x: jax.Array, y: jax.Array, mask: jax.Array | None = None
    ) -> jax.Array:
        if loss is not None:
            return loss(params, x, y)
        return network.mse(params, x, y, spec.activation, mask)

    def init(key: jax.Array, params: Params) -> LearnerState:
        return LearnerState(key=key, opt=direction.init(params))

    def step(
        state: LearnerState,
        params: Params,
        hp: Hyper,
        x: jax.Array,
        y: jax.Array,
        masks: Masks | None = None,
    ) -> tuple[Params, LearnerState, jax.Array]:
        key, k_input, k_label, k_update = jax.random.split(state.key, 4)
        loss_mask = None if masks is None else masks.samples[:, None] * masks.outputs[None, :]
        loss_fn = partial(loss_fn_all, mask=loss_mask)
        if spec.input_noise:
            noise = normal_like(k_input, x)
            if masks is not None:  # padded inputs stay exactly 0
                noise = noise * masks.inputs[None, :]
            x = x + hp.input_noise * noise
        if spec.label_noise == "gaussian":
            y = y + hp.label_noise * normal_like(k_label, y)
        elif spec.label_noise == "uniform":
            uniform = jax.vmap(
                lambda i: jax.random.uniform(jax.random.fold_in(k_label, i), y.shape[1:], y.dtype)
            )(jnp.arange(y.shape[0], dtype=jnp.uint32))
            y = y + hp.label_noise * (jax.lax.optimization_barrier(uniform) - 0.5)

        if spec.kind == "sed":
            delta = jax.tree_util.tree_map(
                lambda z, rows: z * jnp.sqrt(hp.sed_perturbation / rows),
                gaussian_like(k_update, params),
                _rows(params, masks),
            )
            loss = loss_fn(params, x, y)
            perturbed = jax.tree_util.tree_map(jnp.add, params, delta)
            change = loss_fn(perturbed, x, y) - loss
            new_params = jax.tree_util.tree_map(lambda p, d: p - hp.lr * change * d, params, delta)
            return new_params, LearnerState(key, state.opt), loss

        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        if spec.update_noise:
            grads = jax.tree_util.tree_map(
                lambda g, z: g + hp.update_noise * z, grads, gaussian_like(k_update, params)
            )
        updates, opt = direction.update(grads, state.opt, params)
        new_params = jax.tree_util.tree_map(lambda p, u: p - hp.lr * u, params, updates)
        return new_params, LearnerState(key, opt), loss

    return Learner(init=init, step=step)
