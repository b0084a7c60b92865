"""Corridor task: predictive coding of the view of an agent running along a textured
rectangular arena (Ratzon, Derdikman & Barak 2024, Fig. 2).

**Arena and texture.** The arena is ``[0, size_x] x [0, size_y]`` (length units); the
track runs along ``y``. Its walls carry a texture parametrised by the perimeter coordinate
``s`` in ``[0, P)``, ``P = 2 (size_x + size_y)``, going counter-clockwise from the corner
``(0, 0)``:

=========================  ==================================
wall                        ``s``
=========================  ==================================
bottom, ``y = 0``           ``x``
right, ``x = size_x``       ``size_x + y``
top, ``y = size_y``         ``size_x + size_y + (size_x - x)``
left, ``x = 0``             ``2 size_x + size_y + (size_y - y)``
=========================  ==================================

The texture is ``n = round(P * texture_resolution)`` samples of ``N(0, 1)`` at spacing
``P / n``, smoothed circularly by a Gaussian of width ``sigma = texture_kernel * P``
(length units; ``texture_kernel * n`` samples), and interpolated linearly in ``s``. The
original code used ``n = P * view_size`` samples and the same ``sigma``.

**Trajectory.** Heading ``theta`` is the angle of the direction of motion from the
``+x`` axis, counter-clockwise (``+pi/2`` runs towards ``y = size_y``). The agent starts
at ``x = size_x / 2``, ``y ~ U(turn_buffer, size_y - turn_buffer)``, heading ``+-pi/2``
with equal probability. Each step ``t``:

1. it moves by ``v_t`` along ``theta_t``, ``v_t = speed + speed_sd * z``, ``z`` a standard
   normal truncated to ``|z| <= speed / speed_sd``, so ``0 <= v_t <= 2 speed`` (the mean
   speed stays ``speed`` and the agent never steps backwards);
2. if the step would cross ``y = turn_buffer`` or ``y = size_y - turn_buffer`` the agent
   turns back there: it walks the rest of the step along ``theta_t + pi`` and its new
   heading is ``theta_t + pi`` (a U-turn of exactly ``pi``); otherwise the new heading is
   ``theta_t + dtheta_t``, ``dtheta_t ~ N(0, heading_sd**2)``, except in the step after a
   U-turn, where the agent first straightens up along the track (``theta -> +-pi/2``);
3. ``x`` is reflected into ``[side_buffer, size_x - side_buffer]`` (a mirror bounce off
   the side walls: ``theta -> pi - theta`` for each reflection).

**Samples.** View ``v_t``: ``view_size`` rays at angles ``theta_t + window_offsets(fov)``
(left to right over the field of view ``fov_deg``), each intersected with the walls
(:func:`ray_wall_hit`) and read from the texture at the hit's perimeter coordinate. All
views are scaled together to [-1, 1] by their minimum and maximum, so the target of
sample ``t`` is exactly the view part of input ``t + 1``. Input: ``v_t``, then the speed
``v_t / speed - 1`` (in [-1, 1], omitted if not ``speed_input``) and the heading change
``wrap(theta_{t+1} - theta_t) / pi`` (in (-1, 1], 1 at a U-turn). Target: ``v_{t+1}``.
With ``scaling = "unit"`` (the default, as the published Fig. 2 run) every input and
target column is then mapped by ``(a + 1) / 2`` to ``[0, 1]``: views span [0, 1] and a
straight step's heading change is ½.
``position``: ``y_t``; ``direction``: the sign of ``sin(theta_t)``, i.e. of the
y-velocity (``+1`` towards ``y = size_y``).

**Differences from the original code.** Defects there, corrected here:

- the agent's ``x`` was pinned to the midline (its side limits were
  ``+-(size_x/2 - 0.5 size_x)``, i.e. 0);
- the perimeter coordinate gave each wall a quarter of the texture and mixed in
  ``offset / P``, right only for square arenas (in 1 x 14, 7 of 17 view values never
  changed);
- the heading-change input was ``theta_{t+1} - theta_t`` of angles taken modulo ``2 pi``,
  with spikes of ``+-2 pi``;
- the speed ``V0 + N(0, 0.1)`` could be negative, stepping the agent backwards;
- after a turn, the next input still showed the view from the pre-turn heading.

Further choices. The original reset the heading to exactly straight along the track at a
turn, and that reset was part of the turn's heading change (about ``pi``, on either side
of it); here a U-turn rotates the heading by exactly ``pi`` (the heading-change input is
exactly ``pi`` and never flips to ``-pi``) and the straightening follows as a small
heading change in the next step. The speed input is new (the original gave only the
heading change): with a noisy speed the next view is not determined by the current view
and heading change alone. The views are scaled jointly, not inputs and targets
separately; the movement terms are scaled by their physical ranges instead of by their
minimum and maximum in the data (the data's extremes would make the scale of the
heading-change input depend on whether a turn occurred). The start is drawn along the
track with a random running direction (the original started at the centre facing +y).
The turn buffer is a length, not the original's fraction ``0.1`` of ``size_y``, and the
texture resolution is its own parameter (the original tied it to ``view_size``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from repdrift.tasks.dataset import Dataset
from repdrift.tasks.params import (
    CorridorParams,
    check_task,
    perimeter,
    texture_samples,
)
from repdrift.tasks.signals import (
    interp_periodic,
    minmax_scale,
    smooth_circular,
    to_scaling,
    window_offsets,
)


class Trajectory(NamedTuple):
    """A corridor trajectory of ``steps`` steps (``steps + 1`` poses).

    Attributes:
        x: ``(steps + 1,)`` across the track, length units.
        y: ``(steps + 1,)`` along the track, length units.
        heading: ``(steps + 1,)`` radians in ``(-pi, pi]``, from ``+x`` counter-clockwise.
        speed: ``(steps,)`` distance walked in each step, length units.
        heading_change: ``(steps,)`` ``wrap(heading[t+1] - heading[t])`` in ``(-pi, pi]``.
        turned: ``(steps,)`` whether the agent turned back at an end of the track.
        reflected: ``(steps,)`` whether it bounced off a side limit.
    """

    x: jax.Array
    y: jax.Array
    heading: jax.Array
    speed: jax.Array
    heading_change: jax.Array
    turned: jax.Array
    reflected: jax.Array


def wrap_angle(angle: jax.Array) -> jax.Array:
    """Wrap angles (radians) into ``(-pi, pi]``."""
    return jnp.pi - jnp.mod(jnp.pi - angle, 2 * jnp.pi)


@jax.jit
def ray_wall_hit(
    x: jax.Array, y: jax.Array, angle: jax.Array, size_x: float, size_y: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Where a ray from ``(x, y)`` inside the arena first meets a wall.

    The ray is ``(x, y) + t (cos angle, sin angle)``, ``t > 0``; it leaves the rectangle
    at ``t* = min(t_x, t_y)``, with ``t_x`` the distance to the side wall it heads for
    (``x = size_x`` if ``cos > 0``, ``x = 0`` if ``cos < 0``, none if 0) and ``t_y``
    likewise for the end walls. Arguments broadcast.

    Returns:
        ``(hx, hy, s)``: the hit point (its wall coordinate set exactly, the other clipped
        to the wall's extent) and its perimeter coordinate ``s`` in ``[0, P)`` (see the
        module docstring).
    """
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    safe_cos = jnp.where(cos == 0, 1.0, cos)
    safe_sin = jnp.where(sin == 0, 1.0, sin)
    t_x = jnp.where(cos > 0, (size_x - x) / safe_cos, jnp.where(cos < 0, -x / safe_cos, jnp.inf))
    t_y = jnp.where(sin > 0, (size_y - y) / safe_sin, jnp.where(sin < 0, -y / safe_sin, jnp.inf))
    side = t_x <= t_y
    t = jnp.minimum(t_x, t_y)
    hx = jnp.where(side, jnp.where(cos > 0, size_x, 0.0), jnp.clip(x + t * cos, 0.0, size_x))
    hy = jnp.where(side, jnp.clip(y + t * sin, 0.0, size_y), jnp.where(sin > 0, size_y, 0.0))
    s = jnp.where(
        side,
        jnp.where(cos > 0, size_x + hy, 2 * size_x + size_y + (size_y - hy)),
        jnp.where(sin > 0, size_x + size_y + (size_x - hx), hx),
    )
    return hx, hy, jnp.mod(s, perimeter(size_x, size_y))


@jax.jit
def perimeter_point(s: jax.Array, size_x: float, size_y: float) -> tuple[jax.Array, jax.Array]:
    """The wall point at perimeter coordinate ``s`` (inverse of the map in ``ray_wall_hit``)."""
    s = jnp.mod(s, perimeter(size_x, size_y))
    right, top, left = size_x, size_x + size_y, 2 * size_x + size_y
    x = jnp.where(
        s < right,
        s,
        jnp.where(s < top, size_x, jnp.where(s < left, size_x - (s - top), 0.0)),
    )
    y = jnp.where(
        s < right,
        0.0,
        jnp.where(s < top, s - right, jnp.where(s < left, size_y, size_y - (s - left))),
    )
    return x, y


def make_texture(key: jax.Array, params: CorridorParams) -> jax.Array:
    """Draw the wall texture, ``(n,)`` samples at perimeter coordinates ``k P / n``.

    ``N(0, 1)`` noise smoothed circularly by a Gaussian of width ``texture_kernel * n``
    samples (``texture_kernel * P`` length units).
    """
    n = texture_samples(params)
    noise = jax.random.normal(key, (n,))
    return smooth_circular(noise, params.texture_kernel * n)


def texture_at(texture: jax.Array, s: jax.Array, size_x: float, size_y: float) -> jax.Array:
    """Texture value at perimeter coordinate ``s`` (length units), linearly interpolated."""
    n = texture.shape[0]
    return interp_periodic(texture, s * (n / perimeter(size_x, size_y)))


@partial(jax.jit, static_argnames="params")
def view(
    x: jax.Array,
    y: jax.Array,
    heading: jax.Array,
    texture: jax.Array,
    params: CorridorParams,
) -> jax.Array:
    """Unscaled view from poses ``(x, y, heading)`` of shape ``(...)``: ``(..., view_size)``.

    Ray ``i`` points at ``heading + window_offsets(fov)[i]``, from the left edge of the
    field of view to the right edge; its value is the texture where it hits the wall.
    """
    offsets = window_offsets(math.radians(params.fov_deg), params.view_size)
    angles = heading[..., None] + offsets
    _, _, s = ray_wall_hit(x[..., None], y[..., None], angles, params.size_x, params.size_y)
    return texture_at(texture, s, params.size_x, params.size_y)


def trajectory(key: jax.Array, params: CorridorParams, steps: int) -> Trajectory:
    """Simulate ``steps`` steps of the agent (rules in the module docstring).

    Raises:
        ValueError: for parameter values that leave no room to move.
    """
    check_task(params)
    return _simulate(key, params, steps)


@partial(jax.jit, static_argnums=(1, 2))
def _simulate(key: jax.Array, params: CorridorParams, steps: int) -> Trajectory:
    k_y, k_dir, k_speed, k_heading = jax.random.split(key, 4)
    x_lo, x_hi = params.side_buffer, params.size_x - params.side_buffer
    y_lo, y_hi = params.turn_buffer, params.size_y - params.turn_buffer
    width = x_hi - x_lo

    if params.speed_sd > 0:
        bound = params.speed / params.speed_sd
        z = jax.random.truncated_normal(k_speed, -bound, bound, (steps,))
        speed = params.speed + params.speed_sd * z
    else:
        speed = jnp.full((steps,), params.speed)
    dtheta = params.heading_sd * jax.random.normal(k_heading, (steps,))

    x0 = jnp.asarray(params.size_x / 2)
    y0 = jax.random.uniform(k_y, (), minval=y_lo, maxval=y_hi)
    theta0 = jnp.where(jax.random.bernoulli(k_dir), jnp.pi / 2, -jnp.pi / 2)

    def step(pose, noise):
        x, y, theta, straighten = pose
        v, dth = noise
        vx, vy = v * jnp.cos(theta), v * jnp.sin(theta)
        y_next = y + vy
        over, under = y_next > y_hi, y_next < y_lo
        turned = over | under
        limit = jnp.where(over, y_hi, y_lo)
        # Fraction of the step walked before reaching the turning line.
        before = jnp.where(turned, (limit - y) / jnp.where(turned, vy, 1.0), 1.0)
        y_next = jnp.clip(jnp.where(turned, 2 * limit - y_next, y_next), y_lo, y_hi)
        x_next = x + vx * jnp.where(turned, 2 * before - 1, 1.0)
        # After a U-turn the agent straightens up along the track, so heading deviations
        # do not accumulate from pass to pass.
        axis = jnp.where(jnp.sin(theta) >= 0, jnp.pi / 2, -jnp.pi / 2)
        noise_change = jnp.where(straighten, wrap_angle(axis - theta) + dth, dth)
        change = jnp.where(turned, jnp.pi, noise_change)
        theta_next = wrap_angle(theta + change)

        if width > 0:
            # Fold x into [x_lo, x_hi]; an odd number of bounces mirrors the heading.
            bounces = jnp.floor((x_next - x_lo) / width)
            rest = x_next - x_lo - bounces * width
            odd = jnp.mod(bounces, 2) == 1
            x_next = jnp.clip(x_lo + jnp.where(odd, width - rest, rest), x_lo, x_hi)
            change = jnp.where(odd, wrap_angle(jnp.pi - 2 * theta_next + change), change)
            theta_next = jnp.where(odd, wrap_angle(jnp.pi - theta_next), theta_next)
        else:
            odd = jnp.zeros((), bool)
            x_next = jnp.full_like(x_next, x_lo)
        pose = (x_next, y_next, theta_next, turned)
        return pose, (x_next, y_next, theta_next, change, turned, odd)

    _, (xs, ys, thetas, change, turned, reflected) = jax.lax.scan(
        step, (x0, y0, theta0, jnp.zeros((), bool)), (speed, dtheta)
    )
    return Trajectory(
        x=jnp.concatenate([x0[None], xs]),
        y=jnp.concatenate([y0[None], ys]),
        heading=jnp.concatenate([theta0[None], thetas]),
        speed=speed,
        heading_change=change,
        turned=turned,
        reflected=reflected,
    )


def make(key: jax.Array, params: CorridorParams, *, dtype=jnp.float32) -> Dataset:
    """Draw the corridor dataset (construction in the module docstring).

    Returns:
        ``Dataset`` with ``inputs (samples, view_size + 1 + speed_input)``, ``targets
        (samples, view_size)``, ``position (samples,)`` (``y``, length units) and
        ``direction (samples,)`` of ``+-1``.

    Raises:
        ValueError: for impossible combinations, e.g. turn buffers that leave a track no
            longer than one step.
    """
    check_task(params)
    return _build(key, params, dtype)


# Static parameters: one compiled program per parameter set, much faster to build than
# dispatching each operation separately.
@partial(jax.jit, static_argnums=(1, 2))
def _build(key: jax.Array, params: CorridorParams, dtype) -> Dataset:
    k_texture, k_path = jax.random.split(key)
    texture = make_texture(k_texture, params)
    path = _simulate(k_path, params, params.samples)
    views = minmax_scale(view(path.x, path.y, path.heading, texture, params))

    movement = [path.heading_change / jnp.pi]
    if params.speed_input:
        movement.insert(0, path.speed / params.speed - 1.0)
    inputs = jnp.concatenate([views[:-1], jnp.stack(movement, axis=1)], axis=1)
    targets = views[1:]
    inputs, targets = to_scaling(inputs, params.scaling), to_scaling(targets, params.scaling)
    direction = jnp.where(jnp.sin(path.heading[:-1]) >= 0, 1.0, -1.0)
    return Dataset(
        inputs=inputs.astype(dtype),
        targets=targets.astype(dtype),
        position=path.y[:-1].astype(dtype),
        direction=direction.astype(dtype),
    )
