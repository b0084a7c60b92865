"""Non-negative similarity matching with synaptic noise (Qin et al. 2023; Fig. 4C).

Qin, Farashahi, Lipshutz, Sengupta, Chklovskii & Pehlevan (2023), "Coordinated drift of
receptive fields in Hebbian/anti-Hebbian network models during noisy representation
learning", Nat. Neurosci. 26: 339. Ratzon, Derdikman & Barak (2024), eLife 13:RP90069,
Fig. 4C, show that this network, too, first learns, then sparsifies at a constant
objective, then drifts in a steady state.

**Network.** ``N`` output neurons with Hebbian feed-forward weights ``W (N, D)``,
anti-Hebbian lateral weights ``M (N, N)`` (non-negative) and a bias ``b (N,)``. For an
input ``x (D,)`` the output is the fixed point of the neural dynamics

    u ← u + dt (−u + W x − √α b − (M − diag M) y),
    y = max((u − λ₁) / (λ₂ + diag M), 0),

``dt = 0.05``, run until the relative change per unit time of both ``y`` and ``u`` is
below ``tol`` (``‖Δy‖ / ‖y‖ / dt``, Qin et al.'s criterion on ``y``, and the same on
``u``, so that a population still silent while ``u`` rises is not taken for a fixed
point), or ``max_iterations`` (10⁴). Fixed points that hit the limit are flagged in the
records (``unconverged_fraction``), never crashed.

**Solving for the fixed point** (:func:`solve`). At a fixed point
``u = W x − √α b − (M − diag M) y``, and a neuron is active (``yᵢ > 0``) exactly when
``((λ₂ I + M) y)ᵢ = cᵢ``, silent when ``((λ₂ I + M) y)ᵢ ≥ cᵢ``, with ``c = W x − √α b −
λ₁``: ``y`` solves the linear complementarity problem ``y ≥ 0, w = (λ₂ I + M) y − c ≥ 0,
yᵢ wᵢ = 0``. ``M`` is a decaying sum of outer products ``y yᵀ`` (from ``I``) plus small
rectified noise, so ``λ₂ I + M`` has, in practice, a positive definite symmetric part:
it is then a P-matrix and the problem has exactly one solution, the only fixed point the
dynamics can converge to, from whatever start. Run
from ``u = 0`` the dynamics need hundreds of iterations (~600 in a trained ring network:
the slowest rate of the linearised dynamics is ~0.2 per unit time) and stop within
about ``tol`` / that rate (~5e-4 relative) of it. The default solver
(``solver = "active_set"``) instead finds the active set by the primal–dual active-set
method (:func:`active_set`: a few linear solves of the active neurons' system, 1.5–4 per
fixed point, exact to float32 rounding), then starts the dynamics from the ``u`` of that
solution: they take one iteration to confirm it with their own stopping test. When the
active set is larger than ``capacity`` (48: early in training, when about half the
neurons respond to an input) or the method does not settle within ``max_solves``, the
dynamics carry on from its last iterate instead. Every fixed point therefore passes the
same stopping test, with the same iteration limit, as with ``solver = "dynamics"``, the
dynamics alone from ``u = 0`` (kept as the reference; ``benchmarks/models.py`` compares
the two). The training step solves through :func:`step_fixed_point`: under ``vmap`` (the
engine's batch of runs) on a CPU, one run after another, so that no run of a batch waits
for the slowest one's solves.

**Plasticity** (online: one input, drawn uniformly from the input set each step;
``ξ, ζ`` standard normal, independent per synapse and step):

    W ← (1 − η) W + η y xᵀ + √η σ_W ξ,
    M ← max(0, (1 − η) M + η y yᵀ + √η σ_M ζ),
    b ← (1 − η) b + η √α y.

**Random numbers.** Each step splits the run's key with :func:`repdrift.noise.split`
into ``(next key, k_sample, k_W, k_M)``; the input's index is
``jax.random.randint(k_sample, (), 0, samples)``, and ``ξ = noise.normal_like(k_W, W)``,
``ζ = noise.normal_like(k_M, M)`` (:mod:`repdrift.noise`, the package's one Gaussian
generator: the draw of synapse ``(i, j)`` is a function of its key and ``(i, j)`` only).
``k_W`` and ``k_M`` are distinct Threefry outputs, so the W and M noises are independent
of each other, of the input drawn and of every other step. ``W₀`` is drawn once by
``jax.random.normal`` (as the feed-forward model's initial weights).

``W₀ = init_scale · randn``, ``M₀ = I``, ``b₀ = 0``. The clipping of ``M`` at 0 is Qin
et al.'s (``max(0, …)`` in their code); ``clip_lateral = False`` leaves the noisy lateral
weights signed, a control (below).

**What the clipping does** (measured here on the ring, η = 0.02, λ₂ = 0.01). A lateral
weight between neurons that never respond together has no Hebbian drive: clipped, it is
a reflected Ornstein–Uhlenbeck process of mean ≈ 0.52 σ_M at η = 0.02 (``σ_M / √π`` as
η → 0; unclipped, mean 0 and sd ``σ_M / √2``), so clipped noise adds a net inhibition
∝ σ_M between all such pairs. That bias, not the noise as such, silences units: with
N = 100, σ = 1e-3, from random weights (three seeds), the fraction of active units goes
from 0.88–0.96 at step 250 to 0.59–0.65 at step 3,000 with W and M noise, and to 0.32
with clipped M noise alone, but stays at 0.92–0.99 with W noise alone, or with both
noises and ``clip_lateral = False``. Receptive fields drift mostly by W noise (the tests' population
diffusion law).

**Input sets** (``layout``):

* ``"ring"``: ``x = (cos θ, sin θ)`` at ``samples`` equally spaced angles θ (radians);
* ``"place"``: a 1-D track of ``samples`` positions ``p = i / samples``, ``i = 1..samples``,
  seen by grid cells: 1-D slices, along the direction ``slice_angle``, of 2-D grid fields
  ``g(r) = (2/3) (½ + ⅓ Σ_k cos((4π / (√3 λ)) u_k · (r − r₀)))``, ``u_k`` unit vectors at
  ``2πk/3 + θ`` (k = 1, 2, 3), ``r = (1, tan(slice_angle)) p``; spacings
  ``λ = grid_base_spacing · grid_scale_factor^m`` (m < ``grid_scales``), orientations
  ``θ = j π / (3 · grid_orientations)``, offsets ``r₀ = (k, l) λ / grid_offsets``
  (``k, l < grid_offsets``): 5 × 6 × 3 × 3 = 270 inputs by default.

**Measured** (at record steps, on the fixed points of the *probe* inputs: every
``probe_stride``-th sample, as Qin et al. measured every 5th of 1,000 ring angles):

* ``loss`` — the normalised similarity-matching objective
  ``Σ_{t,t'} (x_t·x_t' − α − y_t·y_t')² / Σ_{t,t'} (x_t·x_t' − α)²`` over all pairs of
  probes; ≈ 1 for silent outputs, and bounded below (≈ 0.5 on the ring) because
  ``y_t·y_t' ≥ 0`` cannot match negative input similarities;
* ``active_fraction`` (fraction of (probe, neuron) pairs with ``y > 0``) and
  ``fraction_active_units`` (neurons with ``y > 0`` on some probe), by
  :mod:`repdrift.metrics.sparsity`;
* ``unconverged_fraction`` — probes whose fixed point hit ``max_iterations``.

**Snapshots**: ``W``, ``M``, ``b``; their host-side metrics are the responses
``(neuron, probe)``, each neuron's receptive-field centroid and peak response.
A neuron has a field when more than ``min_field_samples`` (3) probes exceed
``centroid_threshold``; its centroid is the centre of mass of its positive responses
(circular — the angle of ``Σ y e^{iθ}`` — on the ring), NaN otherwise. Drift is computed
between snapshots by :func:`centroid_msd`, :func:`diffusion_constant` and
:func:`population_vector_correlation_vs_lag`.

Differences from Qin et al.'s published code: the fixed points are solved for as above
(theirs run the dynamics alone, during learning from small random ``y``); distances on
the linear track are linear (theirs wrapped around the track length); the convergence
test also watches ``u`` (see above).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from repdrift import noise
from repdrift.metrics import drift, sparsity
from repdrift.models.params import PLACE_DEFAULTS as PLACE_DEFAULTS
from repdrift.models.params import SimilarityMatchingParams
from repdrift.precision import MATMUL


class SimilarityMatchingData(NamedTuple):
    """One run's fixed arrays.

    Attributes:
        inputs: ``(input, sample)`` the input set, one column per sample.
        position: ``(sample,)`` angle (radians, ring) or track position (place).
        probe: ``(probe,)`` indices of the measured samples.
        gram: ``(probe, probe)`` input similarities ``x_t · x_t'`` of the probes.
        lambda1, lambda2, alpha: the network's constants (scalars).
    """

    inputs: jax.Array
    position: jax.Array
    probe: jax.Array
    gram: jax.Array
    lambda1: jax.Array
    lambda2: jax.Array
    alpha: jax.Array


class SimilarityMatchingHyper(NamedTuple):
    """Traced scalars of one run: learning rate, synaptic noise, initial scale of W."""

    lr: jax.Array
    sigma_w: jax.Array
    sigma_m: jax.Array
    init_scale: jax.Array


class SimilarityMatchingState(NamedTuple):
    """Synaptic weights and the PRNG key.

    Attributes:
        W: ``(neuron, input)`` feed-forward weights.
        M: ``(neuron, neuron)`` lateral weights, ``M[i, j]`` from ``j`` onto ``i``.
        b: ``(neuron,)`` bias.
        key: split every step (:func:`repdrift.noise.split`) into the next key, the
            sample index's key and the keys of the W and M noise (module docstring).
    """

    W: jax.Array
    M: jax.Array
    b: jax.Array
    key: jax.Array


# ------------------------------------------------------------------------ input sets


def ring_inputs(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs (2, samples), angle (samples,))``: unit vectors at equally spaced angles."""
    angle = 2 * np.pi * np.arange(samples) / samples
    return np.stack([np.cos(angle), np.sin(angle)]), angle


def grid_cell_inputs(params: SimilarityMatchingParams) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs (grid cells, samples), position (samples,))`` of the 1-D place model.

    Grid cells are ordered by module, orientation, x offset, y offset (see the module
    docstring for the formula). Values lie in ``[0, 1]``.
    """
    position = np.arange(1, params.samples + 1) / params.samples
    r = np.stack([position, np.tan(params.slice_angle) * position])  # (2, samples)
    fields = []
    for m in range(params.grid_scales):
        spacing = params.grid_base_spacing * params.grid_scale_factor**m
        for j in range(params.grid_orientations):
            theta = j * np.pi / 3 / params.grid_orientations
            k = np.arange(1, 4)
            u = np.stack([np.cos(2 * np.pi * k / 3 + theta), np.sin(2 * np.pi * k / 3 + theta)])
            for ox in range(params.grid_offsets):
                for oy in range(params.grid_offsets):
                    r0 = np.array([ox, oy])[:, None] * spacing / params.grid_offsets
                    phase = 4 * np.pi / (np.sqrt(3) * spacing) * (u.T @ (r - r0))  # (3, samples)
                    fields.append((np.cos(phase).mean(0) + 0.5) * 2 / 3)
    return np.stack(fields), position


# ------------------------------------------------------------------ configuration


def make_model(params: SimilarityMatchingParams) -> SimilarityMatching:
    """The static model of ``params``."""
    return SimilarityMatching(
        neurons=params.neurons,
        circular=params.layout == "ring",
        dt=params.dt,
        tol=params.tol,
        max_iterations=params.max_iterations,
        centroid_threshold=params.centroid_threshold,
        min_field_samples=params.min_field_samples,
        clip_lateral=params.clip_lateral,
    )


def make_data(
    key: jax.Array, params: SimilarityMatchingParams, *, dtype=jnp.float32
) -> SimilarityMatchingData:
    """The input set, probes and network constants of ``params`` (``key`` is unused: the
    input sets are deterministic)."""
    del key
    if params.layout == "ring":
        inputs, position = ring_inputs(params.samples)
    else:
        inputs, position = grid_cell_inputs(params)
    probe = np.arange(0, params.samples, params.probe_stride)
    probed = inputs[:, probe]
    return SimilarityMatchingData(
        inputs=jnp.asarray(inputs, dtype),
        position=jnp.asarray(position, dtype),
        probe=jnp.asarray(probe, jnp.int32),
        gram=jnp.asarray(probed.T @ probed, dtype),
        lambda1=jnp.asarray(params.lambda1, dtype),
        lambda2=jnp.asarray(params.lambda2, dtype),
        alpha=jnp.asarray(params.alpha, dtype),
    )


def make_hyper(params: SimilarityMatchingParams, *, dtype=jnp.float32) -> SimilarityMatchingHyper:
    """The traced learning rate, noise and initial scale of ``params``."""
    return SimilarityMatchingHyper(
        *(
            jnp.asarray(v, dtype)
            for v in (params.lr, params.sigma_w, params.sigma_m, params.init_scale)
        )
    )


# ------------------------------------------------------------------ neural dynamics

#: Fixed-point solvers (the ``solver`` field of :class:`SimilarityMatching`).
SOLVERS = ("active_set", "dynamics")
#: Largest active set the active-set solver factorises (``capacity``; at most N).
DEFAULT_CAPACITY = 48
#: Linear solves the active-set solver may spend on one fixed point.
DEFAULT_MAX_SOLVES = 16
#: Size of the active set the active-set solver starts from (the largest drives).
_SEED = 8


class FixedPoint(NamedTuple):
    """A fixed point of the neural dynamics and what it cost.

    Attributes:
        y: ``(N,)`` outputs.
        iterations: iterations of the dynamics (at least 1; ``== max_iterations`` when
            the tolerance was not reached: the fixed point is flagged unconverged).
        solves: linear solves of the active-set method (0 for ``solver="dynamics"``).
    """

    y: jax.Array
    iterations: jax.Array
    solves: jax.Array


def _network_terms(W, M, b, x, lambda2, alpha):
    """``(drive W x − √α b, lateral M − diag M, gain 1 / (λ₂ + diag M))``."""
    diag = jnp.diagonal(M)
    return W @ x - jnp.sqrt(alpha) * b, M - jnp.diag(diag), 1.0 / (lambda2 + diag)


def relax(
    W: jax.Array,
    M: jax.Array,
    b: jax.Array,
    x: jax.Array,
    lambda1: jax.Array,
    lambda2: jax.Array,
    alpha: jax.Array,
    u0: jax.Array | None = None,
    *,
    dt: float = 0.05,
    tol: float = 1e-4,
    max_iterations: int = 10_000,
) -> tuple[jax.Array, jax.Array]:
    """Run the neural dynamics for one input ``x (D,)`` from ``u0`` (default 0) until the
    stopping test passes (module docstring).

    Returns ``(y (N,), iterations)``: at least one iteration, ``max_iterations`` when the
    relative tolerance was not reached.
    """
    drive, lateral, gain = _network_terms(W, M, b, x, lambda2, alpha)
    tiny = jnp.asarray(1e-12, W.dtype)

    def cond(c):
        _, _, err, n = c
        return (n < max_iterations) & (err > tol)

    def body(c):
        u, y, _, n = c
        u_new = u + dt * (drive - u - lateral @ y)
        y_new = jnp.maximum(u_new - lambda1, 0.0) * gain
        err_y = jnp.linalg.norm(y_new - y) / (jnp.linalg.norm(y) + tiny)
        err_u = jnp.linalg.norm(u_new - u) / (jnp.linalg.norm(u) + tiny)
        return u_new, y_new, jnp.maximum(err_y, err_u) / dt, n + 1

    u = jnp.zeros_like(drive) if u0 is None else u0
    y = jnp.maximum(u - lambda1, 0.0) * gain
    start = (u, y, jnp.asarray(jnp.inf, W.dtype), jnp.asarray(0, jnp.int32))
    _, y, _, n = jax.lax.while_loop(cond, body, start)
    return y, n


def active_set(
    A: jax.Array,
    c: jax.Array,
    *,
    capacity: int = DEFAULT_CAPACITY,
    max_solves: int = DEFAULT_MAX_SOLVES,
    start: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Solve the linear complementarity problem ``y ≥ 0, w = A y − c ≥ 0, yᵢ wᵢ = 0`` by
    the primal–dual active-set method (a semi-smooth Newton method; Hintermüller, Ito &
    Kunisch 2003, SIAM J. Optim. 13: 865).

    From the active set ``P`` of ``start`` (a guess, e.g. the solution of a similar
    problem; only its members with ``cᵢ > 0``, as ``yᵢ > 0`` needs ``cᵢ > 0`` when the
    off-diagonal of ``A`` is non-negative) or, without one or when that is empty or has
    more than ``capacity`` members, of the 8 largest positive ``c``: solve ``A_PP y_P = c_P``
    with ``y = 0`` elsewhere, then ``P ← {i ∈ P: yᵢ > 0} ∪ {i ∉ P: wᵢ < 0}`` — the most
    violated first while ``|P|`` would exceed ``capacity`` — until ``P`` keeps all its
    members and nothing outside it is violated: then ``y`` is the exact solution (to
    rounding). Every system is solved at the fixed size ``capacity`` (the active rows and
    columns gathered, identity elsewhere), so a solve costs a ``capacity``-sized LU
    factorisation whatever N is.

    Args:
        A: ``(N, N)``, here ``λ₂ I + M``.
        c: ``(N,)``, here ``W x − √α b − λ₁``.
        capacity: the largest active set handled (at most N).
        max_solves: give up after this many solves.
        start: ``(N,)`` bool, the first guess of the active set (optional).

    Returns:
        ``(y, converged, solves)``: ``y ≥ 0`` the last iterate (clipped at zero when not
        converged), whether it solves the problem, and the solves spent. Not converged
        when the solution's active set is larger than ``capacity`` or after
        ``max_solves`` (the set cycling on a degenerate problem).
    """
    n = c.shape[0]
    k = min(capacity, n)
    rank = jnp.arange(k)
    eye = jnp.eye(k, dtype=A.dtype)
    top, first = jax.lax.top_k(c, min(_SEED, k))
    seed = jnp.zeros(n, bool).at[first].set(top > 0)
    if start is not None:
        guess = start & (c > 0)
        seed = jnp.where((jnp.sum(guess) > 0) & (jnp.sum(guess) <= k), guess, seed)

    def solve_on(P):
        # Gather the active rows and columns into a k × k system (identity beyond |P|).
        slot = jnp.where(P, jnp.cumsum(P) - 1, k)
        index = jnp.zeros(k, jnp.int32).at[slot].set(jnp.arange(n, dtype=jnp.int32), mode="drop")
        used = rank < jnp.sum(P)
        system = jnp.where(used[:, None] & used[None, :], A[index[:, None], index[None, :]], eye)
        z = jnp.linalg.solve(system, jnp.where(used, c[index], 0.0))
        return jnp.zeros_like(c).at[index].add(jnp.where(used, z, 0.0))

    def cond(carry):
        _, _, solves, status = carry
        return (status == 0) & (solves < max_solves)

    def body(carry):
        P, _, solves, _ = carry
        y = solve_on(P)
        w = A @ y - c
        keep = P & (y > 0)
        violated = ~P & (w < 0)
        room = k - jnp.sum(keep)
        worst, which = jax.lax.top_k(jnp.where(violated, -w, -jnp.inf), k)
        added = jnp.zeros(n, bool).at[which].set((rank < room) & (worst > -jnp.inf))
        solved = jnp.all(keep == P) & ~jnp.any(violated)
        full = (room == 0) & jnp.any(violated)
        status = jnp.where(solved, 1, jnp.where(full, 2, 0))
        return keep | added, y, solves + 1, status

    start = (seed, jnp.zeros_like(c), jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))
    _, y, solves, status = jax.lax.while_loop(cond, body, start)
    return jnp.maximum(y, 0.0), status == 1, solves


def _candidate(A, lateral, drive, lambda1, start, capacity, max_solves):
    """The active-set solver's ``(u, solves, active set)`` for one drive (``u`` of the
    candidate ``y``: ``drive − lateral y``; zero if not finite)."""
    y, _, solves = active_set(
        A, drive - lambda1, capacity=capacity, max_solves=max_solves, start=start
    )
    u = drive - lateral @ y
    return jnp.where(jnp.all(jnp.isfinite(u)), u, 0.0), solves, y > 0


def _check(solver: str) -> None:
    if solver not in SOLVERS:
        raise ValueError(f"similarity_matching: solver must be one of {SOLVERS}, got {solver!r}.")


def solve(
    W: jax.Array,
    M: jax.Array,
    b: jax.Array,
    x: jax.Array,
    lambda1: jax.Array,
    lambda2: jax.Array,
    alpha: jax.Array,
    *,
    dt: float = 0.05,
    tol: float = 1e-4,
    max_iterations: int = 10_000,
    solver: str = "active_set",
    capacity: int = DEFAULT_CAPACITY,
    max_solves: int = DEFAULT_MAX_SOLVES,
) -> FixedPoint:
    """The fixed point of the neural dynamics for one input ``x (D,)``.

    ``solver="dynamics"``: the dynamics from ``u = 0`` (:func:`relax`).
    ``solver="active_set"``: :func:`active_set` on the complementarity problem of the
    fixed point, then the dynamics from the ``u`` of its candidate, which check it with
    their own stopping test — one iteration for an exact fixed point — or carry on from
    it (module docstring).
    """
    _check(solver)
    dynamics = {"dt": dt, "tol": tol, "max_iterations": max_iterations}
    if solver == "dynamics":
        y, n = relax(W, M, b, x, lambda1, lambda2, alpha, **dynamics)
        return FixedPoint(y, n, jnp.asarray(0, jnp.int32))
    drive, lateral, _ = _network_terms(W, M, b, x, lambda2, alpha)
    A = M + lambda2 * jnp.eye(M.shape[0], dtype=M.dtype)
    u0, solves, _ = _candidate(A, lateral, drive, lambda1, None, capacity, max_solves)
    y, n = relax(W, M, b, x, lambda1, lambda2, alpha, u0, **dynamics)
    return FixedPoint(y, n, solves)


def fixed_point(
    W: jax.Array,
    M: jax.Array,
    b: jax.Array,
    x: jax.Array,
    lambda1: jax.Array,
    lambda2: jax.Array,
    alpha: jax.Array,
    *,
    dt: float = 0.05,
    tol: float = 1e-4,
    max_iterations: int = 10_000,
    solver: str = "active_set",
    capacity: int = DEFAULT_CAPACITY,
    max_solves: int = DEFAULT_MAX_SOLVES,
) -> tuple[jax.Array, jax.Array]:
    """``(y (N,), iterations)`` of :func:`solve`: ``iterations == max_iterations`` when
    the relative tolerance was not reached."""
    fp = solve(
        W, M, b, x, lambda1, lambda2, alpha,
        dt=dt, tol=tol, max_iterations=max_iterations,
        solver=solver, capacity=capacity, max_solves=max_solves,
    )  # fmt: skip
    return fp.y, fp.iterations


def step_fixed_point(
    W: jax.Array,
    M: jax.Array,
    b: jax.Array,
    x: jax.Array,
    lambda1: jax.Array,
    lambda2: jax.Array,
    alpha: jax.Array,
    **solver,
) -> tuple[jax.Array, jax.Array]:
    """:func:`fixed_point` as a training step solves it: equal to it, but batched (under
    ``vmap``, e.g. the engine's batch of runs) one run after another on a CPU.

    The fixed point is a ``while_loop`` (the active-set method's solves, then the
    dynamics' iterations) whose trip count differs from run to run. Vectorised over runs,
    every run would do as many solves as the slowest one (≈ 4.5 against 3.5 on average in
    a batch of 16) and the matrix–vector products would run batched, slower per run on a
    CPU; one run after another (:func:`jax.custom_batching.sequential_vmap`), each does
    only its own (a batch of 16 at N = 200: 14× one run instead of 17×,
    ``docs/performance.md``). On other platforms (a GPU) the batch stays vectorised. On a
    CPU a batch gives what each of its runs gives alone: bit for bit with JAX 0.10.2,
    within float32 rounding with earlier versions, whose XLA fuses the batched program's
    products differently (≤ 1.2·10⁻⁷ after 200 steps, measured with JAX 0.8.0–0.10.1).
    """
    return _run_by_run(partial(fixed_point, **solver))(W, M, b, x, lambda1, lambda2, alpha)


def _run_by_run(fn):
    """``fn`` as it is, but batched (under ``vmap``, e.g. the engine's batch of runs) one
    run after another on a CPU (:func:`jax.custom_batching.sequential_vmap`); vectorised on
    other platforms. For the solvers' ``while_loop``s, whose trip counts differ from run
    to run: vectorised, every run would iterate as often as the slowest. On a CPU each run
    of a batch then gives what it gives alone, up to rounding where XLA fuses the products
    of the two programs differently (the training step: bit for bit with JAX 0.10.2; the
    probes' fixed points: within float32 rounding)."""

    def call(*args):
        return jax.lax.platform_dependent(
            *args, cpu=jax.custom_batching.sequential_vmap(fn), default=fn
        )

    return call


def similarity_objective(y: jax.Array, gram: jax.Array, alpha: jax.Array) -> jax.Array:
    """Normalised objective ``Σ (G − α − Y Yᵀ)² / Σ (G − α)²`` over all pairs.

    ``y: (samples, N)`` outputs, ``gram: (samples, samples)`` input similarities.
    """
    target = gram - alpha
    return jnp.sum((target - y @ y.T) ** 2) / jnp.sum(target**2)


_SOLVER_ARGS = ("dt", "tol", "max_iterations", "solver", "capacity", "max_solves")


@partial(jax.jit, static_argnames=_SOLVER_ARGS)
def solve_all(
    W,
    M,
    b,
    inputs,
    lambda1,
    lambda2,
    alpha,
    *,
    dt=0.05,
    tol=1e-4,
    max_iterations=10_000,
    solver="active_set",
    capacity=DEFAULT_CAPACITY,
    max_solves=DEFAULT_MAX_SOLVES,
) -> FixedPoint:
    """:func:`solve` for every column of ``inputs (D, samples)``: fields ``(samples, ...)``.

    The active-set solver takes the columns in order, each starting from the active set
    of the one before (neighbouring positions have nearly the same active set: about two
    solves each instead of four or five from scratch); the dynamics then check, or
    carry on from, all candidates at once.
    """
    _check(solver)
    dynamics = {"dt": dt, "tol": tol, "max_iterations": max_iterations}
    if solver == "dynamics":
        return jax.vmap(
            lambda x: solve(W, M, b, x, lambda1, lambda2, alpha, solver=solver, **dynamics)
        )(inputs.T)
    drive = (W @ inputs).T - jnp.sqrt(alpha) * b  # (samples, N)
    lateral = M - jnp.diag(jnp.diagonal(M))
    A = M + lambda2 * jnp.eye(M.shape[0], dtype=M.dtype)

    def chained(previous, d):
        u0, solves, active = _candidate(A, lateral, d, lambda1, previous, capacity, max_solves)
        return active, (u0, solves)

    first = jnp.zeros(M.shape[0], bool)
    _, (u0, solves) = jax.lax.scan(chained, first, drive)
    y, n = jax.vmap(lambda x, u: relax(W, M, b, x, lambda1, lambda2, alpha, u, **dynamics))(
        inputs.T, u0
    )
    return FixedPoint(y, n, solves)


def responses(W, M, b, inputs, lambda1, lambda2, alpha, **solver) -> tuple[jax.Array, jax.Array]:
    """Fixed points of every column of ``inputs (D, samples)``: ``(y (samples, N),
    iterations (samples,))``."""
    fp = solve_all(W, M, b, inputs, lambda1, lambda2, alpha, **solver)
    return fp.y, fp.iterations


# -------------------------------------------------------------------------- model


@dataclass(frozen=True)
class SimilarityMatching:
    """Online non-negative similarity matching with synaptic noise (module docstring).

    Attributes:
        neurons: output neurons N.
        circular: positions are angles on a ring (circular centroids and distances).
        dt, tol, max_iterations: the neural dynamics and their stopping test.
        centroid_threshold, min_field_samples: which neurons have a receptive field.
        solver: ``"active_set"`` (default) or ``"dynamics"`` (the dynamics from ``u = 0``
            alone, the reference); see :func:`solve`.
        capacity, max_solves: the active-set solver's largest active set and its
            budget of linear solves per fixed point.
        clip_lateral: clip ``M`` at 0 after each update (Qin et al.); ``False`` is the
            unclipped control.
    """

    neurons: int = 100
    circular: bool = True
    dt: float = 0.05
    tol: float = 1e-4
    max_iterations: int = 10_000
    centroid_threshold: float = 0.01
    min_field_samples: int = 3
    solver: str = "active_set"
    capacity: int = DEFAULT_CAPACITY
    max_solves: int = DEFAULT_MAX_SOLVES
    clip_lateral: bool = True

    kind: ClassVar[str] = "similarity_matching"
    record_dims: ClassVar[dict[str, tuple[str, ...]]] = {}
    snapshot_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "W": ("neuron", "input"),
        "M": ("neuron", "presynaptic"),
        "b": ("neuron",),
    }
    #: dimension names of :meth:`snapshot_metrics`' arrays.
    snapshot_metric_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "responses": ("neuron", "probe"),
        "centroid": ("neuron",),
        "peak": ("neuron",),
    }

    def __post_init__(self) -> None:
        if self.neurons < 1:
            raise ValueError(
                f"similarity_matching: neurons must be at least 1, got {self.neurons}."
            )
        if self.solver not in SOLVERS:
            raise ValueError(
                f"similarity_matching: solver must be one of {SOLVERS}, got {self.solver!r}."
            )
        if self.capacity < 1 or self.max_solves < 1:
            raise ValueError("similarity_matching: capacity and max_solves must be at least 1.")

    def _solver(self):
        return {
            "dt": self.dt,
            "tol": self.tol,
            "max_iterations": self.max_iterations,
            "solver": self.solver,
            "capacity": min(self.capacity, self.neurons),
            "max_solves": self.max_solves,
        }

    def init(
        self, key: jax.Array, data: SimilarityMatchingData, hyper: SimilarityMatchingHyper
    ) -> SimilarityMatchingState:
        """``W₀ = init_scale · randn(N, D)``, ``M₀ = I``, ``b₀ = 0``."""
        k_w, key = jax.random.split(key)
        dtype = data.inputs.dtype
        d = data.inputs.shape[0]
        W = hyper.init_scale * jax.random.normal(k_w, (self.neurons, d), dtype)
        return SimilarityMatchingState(
            W, jnp.eye(self.neurons, dtype=dtype), jnp.zeros(self.neurons, dtype), key
        )

    def step(
        self,
        state: SimilarityMatchingState,
        data: SimilarityMatchingData,
        hyper: SimilarityMatchingHyper,
    ) -> tuple[SimilarityMatchingState, jax.Array]:
        """One input, its fixed point, one noisy plastic update.

        Returns the normalised objective of the presented input alone,
        ``(x·x − α − y·y)² / mean_{probe pairs} (x·x' − α)²``.
        """
        key, k_sample, k_w, k_m = noise.split(state.key, 4)
        W, M, b = state.W, state.M, state.b
        index = jax.random.randint(k_sample, (), 0, data.inputs.shape[1])
        x = data.inputs[:, index]
        y, _ = step_fixed_point(
            W, M, b, x, data.lambda1, data.lambda2, data.alpha, **self._solver()
        )
        lr = hyper.lr
        root = jnp.sqrt(lr)
        W = (1 - lr) * W + lr * jnp.outer(y, x) + root * hyper.sigma_w * noise.normal_like(k_w, W)
        M = (1 - lr) * M + lr * jnp.outer(y, y) + root * hyper.sigma_m * noise.normal_like(k_m, M)
        if self.clip_lateral:
            M = jnp.maximum(M, 0.0)
        b = (1 - lr) * b + lr * jnp.sqrt(data.alpha) * y
        scale = jnp.mean((data.gram - data.alpha) ** 2)
        loss = (x @ x - data.alpha - y @ y) ** 2 / scale
        return SimilarityMatchingState(W, M, b, key), loss

    def probe_responses(
        self, state: SimilarityMatchingState, data: SimilarityMatchingData
    ) -> tuple[jax.Array, jax.Array]:
        """Fixed points of the probe inputs: ``(y (probe, N), iterations (probe,))``; under
        ``vmap`` (the engine's batch of runs) one run after another on a CPU, as the
        training step solves (a ``measure`` of a batch of 16 took 22–23 × one run's
        time vectorised, 15.4–15.8 × run by run; ``benchmarks/models.py --only batch``)."""
        return _run_by_run(partial(responses, **self._solver()))(
            state.W,
            state.M,
            state.b,
            data.inputs[:, data.probe],
            data.lambda1,
            data.lambda2,
            data.alpha,
        )

    def measure(
        self, state: SimilarityMatchingState, data: SimilarityMatchingData
    ) -> dict[str, jax.Array]:
        """Objective, activity and solver status on the probes (module docstring)."""
        y, iterations = self.probe_responses(state, data)
        return {
            "loss": similarity_objective(y, data.gram, data.alpha),
            "active_fraction": sparsity.active_fraction(y),
            "fraction_active_units": sparsity.fraction_active_units(y),
            "unconverged_fraction": jnp.mean(iterations >= self.max_iterations),
        }

    def snapshot(self, state: SimilarityMatchingState) -> dict[str, jax.Array]:
        return {"W": state.W, "M": state.M, "b": state.b}

    def snapshot_metrics(
        self, snapshot: dict[str, np.ndarray], data: SimilarityMatchingData
    ) -> dict[str, np.ndarray]:
        """Responses to the probes ``(neuron, probe)``, centroids and peaks ``(neuron,)``."""
        state = SimilarityMatchingState(
            jnp.asarray(snapshot["W"]), jnp.asarray(snapshot["M"]), jnp.asarray(snapshot["b"]), None
        )
        data = SimilarityMatchingData(*(jnp.asarray(v) for v in data))
        with jax.default_matmul_precision(MATMUL):  # as in the engine's measurements
            y, _ = self.probe_responses(state, data)
        y = np.asarray(y, np.float64).T  # (neuron, probe)
        position = np.asarray(data.position, np.float64)[np.asarray(data.probe)]
        return {
            "responses": y,
            "centroid": centroids(
                y,
                position,
                threshold=self.centroid_threshold,
                min_samples=self.min_field_samples,
                circular=self.circular,
            ),
            "peak": y.max(axis=1),
        }


# ----------------------------------------------------------------- drift (host side)


def centroids(
    responses: np.ndarray,
    position: np.ndarray,
    *,
    threshold: float,
    min_samples: int = 3,
    circular: bool = False,
) -> np.ndarray:
    """Receptive-field centroid of each neuron: ``(..., neuron)``.

    Args:
        responses: ``(..., neuron, sample)`` non-negative responses.
        position: ``(sample,)`` positions (radians when ``circular``).
        threshold: a neuron has a field when more than ``min_samples`` responses exceed it.
        circular: centroid = angle of ``Σ y e^{iθ}`` in ``[0, 2π)``; otherwise
            ``Σ y p / Σ y``.

    Returns:
        Centroids; NaN for neurons without a field.
    """
    y = np.asarray(responses, dtype=float)
    p = np.asarray(position, dtype=float)
    has_field = np.sum(y > threshold, axis=-1) > min_samples
    mass = y.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.mod(np.angle(y @ np.exp(1j * p)), 2 * np.pi) if circular else (y @ p) / mass
    return np.where(has_field & (mass > 0), c, np.nan)


def centroid_msd(
    centroids: np.ndarray, steps: np.ndarray, *, period: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean squared displacement of centroids against lag.

    For every pair of snapshots ``i < j``, the squared displacement of each neuron with a
    centroid at both times (the shorter way round when ``period`` is given, e.g. 2π on
    the ring) is averaged over neurons; pairs are then grouped by lag ``steps[j] −
    steps[i]`` (:func:`repdrift.metrics.drift.correlation_vs_lag`).

    Args:
        centroids: ``(snapshots, neuron)``, NaN for neurons without a field.
        steps: ``(snapshots,)`` increasing step numbers.
        period: the circumference for circular positions; ``None`` for a line.

    Returns:
        ``(lag (lags,), msd (lags,), n_pairs (lags,))``, msd in position units².
    """
    c = np.asarray(centroids, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"centroids must be (snapshots, neuron), got shape {c.shape}")
    d = np.abs(c[:, None, :] - c[None, :, :])  # (snapshots, snapshots, neuron)
    if period is not None:
        d = np.minimum(d, period - d)
    sq = d**2
    counted = np.isfinite(sq).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(counted > 0, np.nansum(sq, axis=-1) / counted, np.nan)
    return drift.correlation_vs_lag(matrix, steps)


@dataclass(frozen=True)
class DiffusionFit:
    """Linear fit ``msd = intercept + 2 D · lag`` of the initial part of an MSD curve.

    Attributes:
        diffusion_constant: D in position units² per step (1-D: ``msd ≈ 2 D t``; Qin et al.
            report the slope, ``2 D``).
        slope: ``2 D``.
        intercept: msd at lag 0 (measurement noise of the centroids).
        fit_lags: the number of lags fitted.
    """

    diffusion_constant: float
    slope: float
    intercept: float
    fit_lags: int


def diffusion_constant(
    lags: np.ndarray, msd: np.ndarray, *, fit_lags: int | None = None
) -> DiffusionFit:
    """Diffusion constant from the initial linear part of an MSD curve.

    By default (Qin et al.'s rule) the fit runs up to the first lag whose msd exceeds a
    third of the plateau, the mean msd over the second half of the lags (at least 3
    lags); ``fit_lags`` fixes the number instead. Least squares with an intercept.
    """
    lags = np.asarray(lags, dtype=float)
    msd = np.asarray(msd, dtype=float)
    keep = np.isfinite(msd) & (lags > 0)
    lags, msd = lags[keep], msd[keep]
    if lags.size < 3:
        raise ValueError(
            f"need at least 3 finite lags to fit a diffusion constant, got {lags.size}"
        )
    if fit_lags is None:
        plateau = msd[lags.size // 2 :].mean()
        above = np.flatnonzero(msd > plateau / 3)
        fit_lags = max(3, int(above[0]) + 1 if above.size else lags.size)
    n = min(fit_lags, lags.size)
    slope, intercept = np.polyfit(lags[:n], msd[:n], 1)
    return DiffusionFit(float(slope) / 2, float(slope), float(intercept), n)


def population_vector_correlation_vs_lag(
    responses: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population-vector correlation against lag.

    ``responses: (snapshots, neuron, probe)``: per probe, the Pearson correlation over
    neurons of the two snapshots' response vectors, averaged over probes
    (:func:`repdrift.metrics.drift.population_vector_correlation_matrix`), then over pairs
    of snapshots with equal lag (:func:`repdrift.metrics.drift.correlation_vs_lag`).
    """
    matrix = drift.population_vector_correlation_matrix(responses)
    return drift.correlation_vs_lag(matrix, steps)
