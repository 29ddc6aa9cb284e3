"""The ladder's move: one forward pass of every particle that leaves the prior restricted to a level invariant.

A move rotates a particle on the ellipse through it and a fresh step ``Σ^½ ν``
(ν ~ N(0, I)) about a centre μ, ``c' = μ + (c − μ) cos θ + Σ^½ ν sin θ``, and keeps
c' if it lies in the level and passes the Metropolis–Hastings test of the prior's
ratio w = p / N(μ, Σ), ``u < w(c') / w(c)``: the rotation keeps N(μ, Σ) × N(0, Σ)
and θ's law is symmetric, so the move leaves the prior restricted to the level
invariant (preconditioned Crank–Nicolson, Cotter et al. 2013, about N(μ, Σ)). N(μ, Σ)
is fitted to the level's own law, and does not depend on the particle it moves
(:mod:`inverse_set.particles.laws`).

A share ``INDEPENDENT_SHARE`` of the moves draw c' afresh (θ = π/2: an independence
sampler, each acceptance forgetting c) from the mixture
``q = β N(μ, I) + (1 − β) N(μ, Σ)`` (β = ``ISOTROPIC_SHARE``), the ratio p / q deciding
(:func:`log_weight`); in the band, the draws from N(μ, I) estimate the band's mass
(:func:`inverse_set.particles.mass.band_mass`). The others are local rotations,
θ ~ U(−h, h), with h following their acceptance rate towards ``ACCEPTANCE``
(× ``exp(ADAPTATION · (rate − ACCEPTANCE))`` after each move, as adaptive SMC tunes its kernels).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from inverse_set.core.bands import Bands
from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.problem import Problem
from inverse_set.particles.decorrelation import design_effect, memory
from inverse_set.particles.laws import gaussian_log_weight, identity_root, root_covariance
from inverse_set.particles.levels import measure
from inverse_set.particles.state import (
    ACCEPTANCE,
    ADAPTATION,
    EFFECTIVE_SHARE,
    FINAL_MOVES,
    INDEPENDENT_SHARE,
    ISOTROPIC_SHARE,
    MIN_ANGLE,
    REPEAT_BATCH,
    REPEAT_SHARE,
    Ladder,
    LadderState,
    Particles,
)

Array = jax.Array


def log_weight(mu: Array, axes: Array, root: Array, c: Array, isotropic: float = ISOTROPIC_SHARE) -> Array:
    """``log p(c) / q(c)``, (m,): the prior's ratio to the law the fresh draws come from,
    ``q = β N(μ, I) + (1 − β) N(μ, Σ)`` (β = ``isotropic``; Σ as in
    :func:`inverse_set.particles.laws.gaussian_log_weight`)."""
    parts = [(isotropic, -gaussian_log_weight(mu, axes, identity_root(root), c)),  # log N(μ, I) / p
             (1 - isotropic, -gaussian_log_weight(mu, axes, root, c))]  # log N(μ, Σ) / p
    return -jax.nn.logsumexp(jnp.stack([jnp.log(a) + part for a, part in parts if a > 0]), axis=0)


def propose(problem: Problem, indices: ConstraintIndices, bands: Bands, z: Array, mu: Array, axes: Array,
            root: Array, angle: Array, threshold: Array, rng_key: Array, scales: int = 1):
    """One move of each code z (m, d) about its centre mu (m, d), its law's axes and root along them ``axes``
    (m, d, k), ``root`` (m, k, k) (Σ as in :func:`inverse_set.particles.laws.gaussian_log_weight`), evaluated and
    accepted or not: ``(accept, rotated, counted, z', φ', f', d', weight)``, one forward pass of the m codes.
    ``rotated``: the local rotations, whose acceptance h is tuned on; ``counted``: the fresh draws from N(μ, I) the
    band's mass is estimated from, ``weight`` their importance weight p / N(μ, I) where c' is in the band, else 0.
    With ``scales`` > 1 the local rotations' largest angle is h / 2^j, j uniform in 0 … scales − 1 (a fixed mixture
    of symmetric laws: still a valid move, and one that frees a particle where every wide rotation leaves the
    level)."""
    k_nu, k_theta, k_u, k_mh, k_scale = jax.random.split(rng_key, 5)
    nu = jax.random.normal(k_nu, z.shape, z.dtype)
    shrink = 0.5 ** jax.random.randint(k_scale, z.shape[:1], 0, scales).astype(z.dtype)
    theta = jax.random.uniform(k_theta, z.shape[:1], z.dtype, -1.0, 1.0) * angle * shrink
    far = jax.random.uniform(k_u, theta.shape) < INDEPENDENT_SHARE  # c' ~ q afresh
    isotropic = jax.random.uniform(jax.random.fold_in(k_u, 2), theta.shape) < ISOTROPIC_SHARE
    step = root_covariance(axes, root, nu)  # ~ N(0, Σ)
    local = mu + (z - mu) * jnp.cos(theta)[:, None] + step * jnp.sin(theta)[:, None]
    fresh = mu + jnp.where(isotropic[:, None], nu, step)  # ~ q
    z_new = jnp.where(far[:, None], fresh, local)
    phi_new, f_new, d_new = measure(problem, indices, bands, z_new)
    # a rotation keeps N(μ, Σ), and the prior's ratio to it decides; a fresh draw from q, the ratio p / q
    # (Metropolis–Hastings, an independence sampler)
    log_ratio = jnp.where(far, log_weight(mu, axes, root, z_new) - log_weight(mu, axes, root, z),
                          gaussian_log_weight(mu, axes, root, z_new) - gaussian_log_weight(mu, axes, root, z))
    accept = (d_new <= threshold) & (jnp.log(jax.random.uniform(k_mh, d_new.shape)) < log_ratio)
    counted = far & isotropic
    weight = jnp.where(counted & (d_new <= 0), jnp.exp(log_weight(mu, axes, root, z_new, isotropic=1.0)), 0.0)
    return accept, ~far, counted, z_new, phi_new, f_new, d_new, weight


def move(problem: Problem, indices: ConstraintIndices, bands: Bands, state: LadderState,
         threshold: Array) -> LadderState:
    """One move of every particle restricted to ``{d ≤ threshold}`` (:func:`propose`), one forward pass; then h
    moves towards the acceptance rate ``ACCEPTANCE``."""
    key, k_move = jax.random.split(state.rng_key)
    now, law, est = state.particles, state.law, state.mass
    accept, rotated, counted, z_new, phi_new, f_new, d_new, weight = propose(
        problem, indices, bands, now.z, law.centre, law.axes, law.root, law.angle, threshold, k_move)
    pick = lambda new, old: jnp.where(accept[:, None], new, old)
    z, f, phi = pick(z_new, now.z), pick(f_new, now.f), pick(phi_new, now.phi)
    local_rate = jnp.sum(accept & rotated) / jnp.maximum(jnp.sum(rotated), 1)  # h is tuned on the rotations
    angle = law.angle * jnp.exp(ADAPTATION * (local_rate - ACCEPTANCE))
    # in the band itself, the counted fresh draws estimate its mass by importance sampling (weights p / N(μ, I))
    own = threshold <= 0
    est = est._replace(far_draws=est.far_draws + jnp.where(own, jnp.sum(counted), 0),
                       far_weight=est.far_weight + jnp.where(own, jnp.sum(weight), 0.0),
                       far_weight_sq=est.far_weight_sq + jnp.where(own, jnp.sum(weight ** 2), 0.0))
    return state._replace(
        particles=Particles(z, f, phi, jnp.where(accept, d_new, now.distance), now.moved | accept),
        lineage=state.lineage._replace(memory=memory(state.lineage.start_phi, state.lineage.start_f, phi, f)),
        law=law._replace(angle=jnp.clip(angle, MIN_ANGLE, jnp.pi)), mass=est, moves=state.moves + 1,
        forward_passes=state.forward_passes + z.shape[0], rng_key=key)


REPEAT_SCALES = 5  # a repeat's local rotations: h, h/2, … h/16


def move_repeats(problem: Problem, indices: ConstraintIndices, bands: Bands, state: LadderState,
                 batch: int | None = None) -> LadderState:
    """One move in the band of the particles that have not moved since they were copied (repeats), at most
    ``batch`` of them (by default ``REPEAT_BATCH``, or N / ``REPEAT_SHARE`` where that is more): one forward pass
    of ``batch`` codes, not N. Once the population has forgotten its parents,
    the last few copies stuck where the rotations rarely stay in the band would otherwise cost a pass of all N
    particles each; the others are not moved. Their
    rotations' angle is drawn at several scales (:func:`propose`); h is not tuned on them, and their fresh draws
    are left out of the band's mass."""
    now, law = state.particles, state.law
    n = now.z.shape[0]
    batch = max(REPEAT_BATCH, n // REPEAT_SHARE) if batch is None else batch
    rows = jnp.argsort(now.moved, stable=True)[:min(batch, n)]  # the repeats first
    key, k_move = jax.random.split(state.rng_key)
    accept, _, _, z_new, phi_new, f_new, d_new, _ = propose(
        problem, indices, bands, now.z[rows], law.centre[rows], law.axes[rows], law.root[rows], law.angle,
        jnp.asarray(0.0), k_move, scales=REPEAT_SCALES)
    rows = jnp.where(accept & ~now.moved[rows], rows, n)  # index n is out of bounds: dropped
    put = lambda a, b: a.at[rows].set(b, mode="drop")
    z, f, phi = put(now.z, z_new), put(now.f, f_new), put(now.phi, phi_new)
    return state._replace(
        particles=Particles(z, f, phi, put(now.distance, d_new), now.moved.at[rows].set(True, mode="drop")),
        lineage=state.lineage._replace(memory=memory(state.lineage.start_phi, state.lineage.start_f, phi, f)),
        moves=state.moves + 1, forward_passes=state.forward_passes + rows.shape[0], rng_key=key)


def families_effect(state: LadderState, counted: Array) -> Array:
    """The design effect (:func:`inverse_set.particles.decorrelation.design_effect`) of the counted particles' families at the
    last two resamplings: two copies of one parent correlated ρ², two of one grandparent (parted a level earlier,
    correlated ρ_before² then) ρ_before² ρ²."""
    return design_effect(state.lineage.parent, state.lineage.memory, counted, state.lineage.grandparent, state.lineage.parent_memory)


def decorrelated(ladder: Ladder, state: LadderState) -> Array:
    """Whether the particles in the band have forgotten their parents enough (at least ``FINAL_MOVES`` moves): ρ at
    most ρ*, or their effective sample size at least ``EFFECTIVE_SHARE`` × N (:func:`families_effect`). In a round
    after the first (``chained``: each particle starts from its own last sample, no family of copies), ρ alone."""
    n = state.particles.z.shape[0]
    worth = n / families_effect(state, jnp.ones((n,), bool))
    return (state.moves >= FINAL_MOVES) & ((state.lineage.memory <= ladder.decorrelation)
                                           | ((worth >= EFFECTIVE_SHARE * n) & ~state.lineage.chained))


def settled(ladder: Ladder, state: LadderState) -> Array:
    """Whether the particles in the band need no more moves: independent draws (rejection's, before any round), or
    :func:`decorrelated` with no repeat left, or at ``max_final_moves``."""
    ready = decorrelated(ladder, state) & jnp.all(state.particles.moved)
    return (state.by_rejection & ~state.lineage.chained) | ready | (state.moves >= ladder.max_final_moves)


def advance(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder,
            state: LadderState) -> LadderState:
    """One move in the band (the walk's step): of the whole population until it is :func:`decorrelated`, then of
    the repeats left only (:func:`inverse_set.particles.moves.move_repeats`)."""
    zero = jnp.asarray(0.0, jnp.float32)
    return jax.lax.cond(decorrelated(ladder, state),
                        lambda s: move_repeats(problem, indices, bands, s),
                        lambda s: move(problem, indices, bands, s, zero), state)
