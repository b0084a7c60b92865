"""Ring task: predict the next view of a smoothed periodic 1-D scene (the paper's
"abstract predictive" task, ``predictive`` in the original code).

The scene is ``scene_size`` samples of ``N(0, 1)`` noise at unit spacing on a ring of
circumference ``scene_size``, smoothed circularly with a Gaussian of width
``scene_sigma`` (length units), then scaled to [-1, 1] by its minimum and maximum. Between
samples the scene is interpolated linearly. With ``scaling = "unit"`` every input and
target column is finally mapped by ``(a + 1) / 2`` to [0, 1].

The agent starts at a uniformly drawn ring coordinate ``p_0`` and runs in the ``+``
direction. Before each step it reverses its direction with probability ``turn_prob``;
the step length is ``step * (1 + step_spread * u)``, ``u ~ U(-1, 1)``, so the default
(``turn_prob = 0``, ``step_spread = 0``) is a constant step in one direction and the next
view is a deterministic function of the current one.

Sample ``t``:

- view ``v_t``: ``view_size`` scene values at ``p_t + linspace(-fov/2, fov/2, view_size)``
  (modulo the circumference), i.e. a window centred on the agent;
- input: ``v_t``, followed when ``movement_input`` is set by the signed step
  ``d_t * s_t / (step * (1 + step_spread))`` (in [-1, 1]);
- target: ``v_{t+1}``, the view after the step;
- ``position``: ``p_t`` in ``[0, scene_size)``; ``direction``: ``d_t = +-1``, the direction
  of the step that follows.

Differences from the original ``predictive`` data: the scene there was uniform noise
smoothed with reflecting (non-periodic) edges although positions wrapped around the ring,
which put a jump into the scene at the wrap point; here the smoothing is circular. The
original's window started at the agent (``p .. p + fov``) instead of being centred, which
only shifts the position coordinate. The original drew steps ``U(0, 20 * 120 / samples)``
in one direction with no movement input; ``step = 10 * scene_size / samples``,
``step_spread = 1`` reproduces that (the steps then exceed the circumference, so the
samples are effectively at independent positions).

Reference: Ratzon, Derdikman & Barak (2024), eLife 13:RP90069, Methods.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from repdrift.tasks.dataset import Dataset
from repdrift.tasks.params import RingParams, check_task
from repdrift.tasks.signals import (
    interp_periodic,
    minmax_scale,
    smooth_circular,
    to_scaling,
    window_offsets,
)


def make(key: jax.Array, params: RingParams, *, dtype=jnp.float32) -> Dataset:
    """Draw the ring dataset (see the module docstring for the construction).

    Returns:
        ``Dataset`` with ``inputs (samples, view_size [+ 1])``, ``targets (samples,
        view_size)``, ``position (samples,)`` in ``[0, scene_size)`` and ``direction
        (samples,)`` of ``+-1``.

    Raises:
        ValueError: for impossible sizes, a window wider than the ring, or spreads and
            probabilities outside [0, 1].
    """
    check_task(params)
    return _build(key, params, dtype)


# Static parameters: one compiled program per parameter set.
@partial(jax.jit, static_argnums=(1, 2))
def _build(key: jax.Array, params: RingParams, dtype) -> Dataset:
    k_scene, k_start, k_turn, k_step = jax.random.split(key, 4)
    n = params.samples

    scene = jax.random.normal(k_scene, (params.scene_size,))
    scene = minmax_scale(smooth_circular(scene, params.scene_sigma))

    reverse = jax.random.bernoulli(k_turn, params.turn_prob, (n,))
    # d_t = product of the reversals up to and including step t, starting from +1.
    direction = jnp.cumprod(jnp.where(reverse, -1.0, 1.0))
    spread = jax.random.uniform(k_step, (n,), minval=-1.0, maxval=1.0)
    length = params.step * (1.0 + params.step_spread * spread)
    start = jax.random.uniform(k_start, (), maxval=float(params.scene_size))
    position = jnp.mod(
        start + jnp.concatenate([jnp.zeros(1), jnp.cumsum(direction * length)]),
        params.scene_size,
    )  # (samples + 1,)

    offsets = -window_offsets(params.fov, params.view_size)  # increasing along the ring
    views = interp_periodic(scene, position[:, None] + offsets[None, :])  # (samples + 1, view)

    inputs = views[:-1]
    if params.movement_input:
        movement = direction * length / (params.step * (1.0 + params.step_spread))
        inputs = jnp.concatenate([inputs, movement[:, None]], axis=1)
    return Dataset(
        inputs=to_scaling(inputs, params.scaling).astype(dtype),
        targets=to_scaling(views[1:], params.scaling).astype(dtype),
        position=position[:-1].astype(dtype),
        direction=direction.astype(dtype),
    )
