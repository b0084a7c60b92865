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
It is Gaussian by default; ``update_noise_dist = "sign"`` draws ``ξ = ±σ_u`` with equal
probability instead — the same mean and variance per parameter per step, hence the same
diffusion limit (the drift statistics agree, see ``tests/test_noise.py``) — at a fraction
of the cost of a Gaussian. It is an option, never the default.

Noises that any rule can carry:

*label noise* — targets ``y + s·ξ`` redrawn every step. ``gaussian`` (ξ ~ N(0, 1), the
paper's description, default) or ``uniform`` (ξ ~ U(−½, ½), what the original code drew:
its variance is s²/12, not s²).
*input noise* — inputs ``x + σ_in·ξ``, ξ ~ N(0, 1), redrawn every step.

All random numbers come from :mod:`repdrift.noise`: the learner state's key is split once
per step into the keys of the step's noises, and every entry's draw depends only on its
key and index, so padding a problem changes none of its draws.

The loss is the mean over samples and outputs of the squared error, no factor ½.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from repdrift import network, noise
from repdrift.models.params import LEARNER_KINDS, LabelNoiseDist, LearnerKind, UpdateNoiseDist
from repdrift.network import Params


@dataclass(frozen=True)
class LearnerSpec:
    """Static description of a learning rule (hashable; part of the compiled program).

    Attributes:
        kind: one of ``gd``, ``adam``, ``rmsprop``, ``sed``.
        update_noise: draw update noise every step (its σ is in :class:`Hyper`).
        update_noise_dist: ``"gaussian"`` (the paper, default) or ``"sign"``: ±σ with equal
            probability, the same mean, variance and diffusion limit for a fraction of the
            cost (an option, never the default; see :mod:`repdrift.noise`).
        label_noise: ``None`` for none, else ``"gaussian"`` or ``"uniform"``.
        input_noise: draw Gaussian input noise every step.
        activation: hidden-layer activation (see :mod:`repdrift.network`).
        b1, b2: Adam's moment decays.
        rms_decay: RMSprop's decay ρ of its mean square (PyTorch's ``alpha``).
        eps: ε of Adam and RMSprop, added to the root mean square.
    """

    kind: LearnerKind = "gd"
    update_noise: bool = False
    update_noise_dist: UpdateNoiseDist = "gaussian"
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
        if self.update_noise_dist not in ("gaussian", "sign"):
            raise ValueError(
                f"update noise distribution must be 'gaussian' or 'sign', "
                f"got {self.update_noise_dist!r}"
            )
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
    """``n`` i.i.d. N(0, 1) draws (:func:`repdrift.noise.standard_normal`)."""
    return noise.standard_normal(key, n, dtype)


def normal_like(key: jax.Array, like: jax.Array) -> jax.Array:
    """Standard normal draws shaped like ``like`` (0-, 1- or 2-D).

    The draw at ``[i, j]`` depends on ``(key, i, j)`` only, not on the array's shape, so a
    problem padded to larger shapes in a batch (see :mod:`repdrift.models.feedforward`)
    receives, on its real entries, exactly the noise it receives alone
    (:func:`repdrift.noise.normal_like`).
    """
    return noise.normal_like(key, like)


def gaussian_like(key: jax.Array, tree: Params) -> Params:
    """One standard normal draw per parameter, shaped like ``tree``.

    Leaf ``k`` (in the tree's flattening order) draws with its own key
    (:func:`repdrift.noise.tree_like`), so the draws do not depend on the shapes of the
    other leaves, nor on padding.
    """
    return noise.tree_like(key, tree, noise.normal_like)


def update_noise_like(spec: LearnerSpec, key: jax.Array, tree: Params) -> Params:
    """The unit update noise ξ of one step, shaped like ``tree``: N(0, 1) per parameter, or
    ±1 signs with ``spec.update_noise_dist == "sign"`` (also mean 0 and variance 1)."""
    draw = noise.sign_like if spec.update_noise_dist == "sign" else noise.normal_like
    return noise.tree_like(key, tree, draw)


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
        key, k_input, k_label, k_update = noise.split(state.key, 4)
        loss_mask = None if masks is None else masks.samples[:, None] * masks.outputs[None, :]
        loss_fn = partial(loss_fn_all, mask=loss_mask)
        if spec.input_noise:
            xi = normal_like(k_input, x)
            if masks is not None:  # padded inputs stay exactly 0
                xi = xi * masks.inputs[None, :]
            x = x + hp.input_noise * xi
        if spec.label_noise == "gaussian":
            y = y + hp.label_noise * normal_like(k_label, y)
        elif spec.label_noise == "uniform":
            y = y + hp.label_noise * (noise.uniform_like(k_label, y) - 0.5)

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
                lambda g, z: g + hp.update_noise * z,
                grads,
                update_noise_like(spec, k_update, params),
            )
        updates, opt = direction.update(grads, state.opt, params)
        new_params = jax.tree_util.tree_map(lambda p, u: p - hp.lr * u, params, updates)
        return new_params, LearnerState(key, opt), loss

    return Learner(init=init, step=step)
