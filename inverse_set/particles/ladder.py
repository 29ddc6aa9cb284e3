"""A population brought from the N(0, I) prior into the band through a ladder of relaxed bands (subset simulation).

The target is the prior restricted to the band, ``p(c) ∝ N(c; 0, I) · 1[f(G(c)) ∈ B]``.
Write ``d(c) = max_k out_k(f(c)) / ε_k`` for how far the activations lie outside
the band, in band widths (ε = z2 − z1), so that ``{d ≤ t}`` is the band relaxed by
t widths on each side and ``{d ≤ 0}`` the band itself. From N prior draws:

* where the band holds a large share of the prior (at least one draw in
  ``rejection_limit`` of the first 10 × ``rejection_limit`` is in it: about ten
  hits at the limit, so that chance rarely decides), the particles are drawn by
  rejection: N independent in-band draws, nothing copied, nothing to move, and
  the band's mass is the share of draws that hit it;
* else (subset simulation, Au & Beck 2001; adaptive multilevel splitting, Cérou
  & Guyader 2007) the particles start as the N nearest the band of those first
  draws (:mod:`inverse_set.particles.prior_draws`), and each level

  1. sets its threshold t_l to the p₀-quantile of d over the particles (0 once
     at least p₀ N are in the band: the last level);
  2. keeps the particles with d ≤ t_l, their fraction π_l an estimate of
     P(d ≤ t_l | d ≤ t_{l−1}) (at the first, p₀ N of all D first draws:
     π_1 = p₀ N / D), and replaces the others by copies of the kept ones,
     dealt out evenly (each kept one ends with ⌊1/π_l⌋ or ⌈1/π_l⌉ copies,
     itself included);
  3. moves every particle restricted to ``{d ≤ t_l}`` until the particles have
     forgotten where they were copied (below).

A move (:mod:`inverse_set.particles.moves`) is one forward pass that leaves the prior restricted to the level
invariant. Moves go on until the lag correlation ρ with the positions at the last resampling
(:mod:`inverse_set.particles.decorrelation`) is at most ``LEVEL_DECORRELATION`` below the band, between
``MOVES_PER_LEVEL`` and ``max_moves_per_level`` moves; in the band itself (the walk's steps) at most
``decorrelation`` (ρ*), between ``FINAL_MOVES`` and ``max_final_moves``. Two copies that each kept a correlation ρ with their parent correlate about ρ² (the effective
sample size), and two that parted a level earlier, when they correlated ρ_b², about ρ_b² ρ². In the band the moves
also stop once that size, over the last two levels' families, is ``EFFECTIVE_SHARE`` × N: the fewer copies each has,
the larger the ρ that leaves them worth as much. A copy that never moved is a repeat, not a sample: once
decorrelated, the repeats left are moved alone, ``REPEAT_BATCH`` at a time (N / ``REPEAT_SHARE`` at large N).

The product of the π_l estimates the band's probability under the prior, ``P(f(G(c)) ∈ B)``, with the
subset-simulation interval δ² = Σ_l Var(π_l) / π_l², Var(π_l) the larger of the binomial variance times the design
effect of the families entering level l (:func:`inverse_set.particles.decorrelation.design_effect`) and the variance clustered
by lines of descent from the first draws (:func:`inverse_set.particles.decorrelation.clustered_variance`; the covariance
between levels is left out); by rejection, hits / draws with its binomial interval. In the band, its moves' fresh
draws from N(μ, I) (:func:`inverse_set.particles.moves.propose`) give a better one
(:func:`inverse_set.particles.mass.band_mass`): given μ they are
independent, so the mean of ``1_B(c') p(c') / q(c')`` over them is unbiased, its interval from the weights' own
variance. A ladder whose threshold stops falling (no particle nearer the band: e.g. beyond the data), or falls too
slowly to reach the band within ``max_levels``, ends STALLED, and the caller starts from seeds instead. Each move,
and each batch of rejection draws, is one forward pass of N codes; each resampling also fits the moves' law on
2 × ``GRADIENTS`` gradients of f (:func:`inverse_set.particles.laws.subspace_law`), counted as three forward
passes each.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from inverse_set.core.bands import Bands
from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.problem import Problem
from inverse_set.particles import prior_draws
from inverse_set.particles.decorrelation import clustered_variance
from inverse_set.particles.laws import axes_count, rotation_law
from inverse_set.particles.levels import measure
from inverse_set.particles.moves import advance, families_effect, move, settled
from inverse_set.particles.state import (
    FIRST_ANGLE,
    LEVEL_DECORRELATION,
    MAX_STALLED_LEVELS,
    MOVES_PER_LEVEL,
    SURVIVAL,
    Ladder,
    LadderState,
    LadderStatus,
    Lineage,
    MassEstimate,
    MovesLaw,
    Particles,
)

Array = jax.Array


def settle(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, state: LadderState,
           threshold: Array, fewest, most) -> LadderState:
    """Moves restricted to ``{d ≤ threshold}`` until the particles are decorrelated (ρ ≤ ``LEVEL_DECORRELATION``), at least ``fewest``
    and at most ``most`` since the last resampling."""
    def more(s):
        return (s.moves < fewest) | ((s.lineage.memory > LEVEL_DECORRELATION) & (s.moves < most))

    return jax.lax.while_loop(more, lambda s: move(problem, indices, bands, s, threshold), state)


def level(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder,
          state: LadderState) -> LadderState:
    """One level: threshold at the p₀-quantile (0 once enough are in band), resample, then (below the band) move
    until decorrelated; the band's own moves are the caller's (:func:`settle`, or the walk's steps)."""
    now, lineage = state.particles, state.lineage
    n = now.z.shape[0]
    rank = max(round(SURVIVAL * n), 1) - 1
    finite = jnp.isfinite(now.distance)
    # fewer than p₀ N finite (outside the box, or non-finite activations): the level keeps all the finite ones
    quantile = jnp.sort(now.distance)[rank]
    threshold = jnp.maximum(jnp.where(jnp.isfinite(quantile), quantile,
                                      jnp.max(jnp.where(finite, now.distance, -jnp.inf))), 0.0)
    keep = finite & (now.distance <= threshold)
    frac = jnp.mean(keep)
    # the particles entering this level are families of copies, still correlated: their fraction varies more than
    # N independent draws' would. By the last resampling's families (the design effect), or by the lines of descent
    # from the first draws, correlated in any way within a line (the clustered variance), whichever is larger: the
    # families alone leave out what older copies still share
    binomial = (1 - frac) / (frac * n)
    relative_var = jnp.maximum(binomial * families_effect(state, jnp.ones((n,), bool)),
                               clustered_variance(keep, lineage.ancestor) / frac ** 2)
    key, k_pick = jax.random.split(state.rng_key)
    # The particles not kept become copies of the kept ones, dealt round-robin over the kept in a random order:
    # every kept particle has ⌊N/K⌋ or ⌈N/K⌉ copies (itself included), as few large families as can be.
    kept_first = jnp.argsort(jnp.where(keep, 0.0, 2.0) + jax.random.uniform(k_pick, (n,)))
    place = jnp.cumsum(~keep) - 1  # each dropped particle's place among the dropped
    source = jnp.where(keep, jnp.arange(n), kept_first[place % jnp.maximum(jnp.sum(keep), 1)])
    stalled = jnp.where(threshold < state.threshold, 0, state.stalled + 1)
    # the band beyond the most levels at the rate this level fell: say so now (no fall: the stall rule's)
    fall = state.threshold - threshold
    hopeless = (fall > 0) & (state.level + 1 + threshold / jnp.where(fall > 0, fall, 1.0) > ladder.max_levels)
    law, cost = rotation_law(problem, indices, now.z, keep, source, state, lineage.ancestor)
    state = state._replace(
        particles=Particles(now.z[source], now.f[source], now.phi[source], now.distance[source], keep & now.moved),
        lineage=Lineage(ancestor=lineage.ancestor[source], parent=source, grandparent=lineage.parent[source],
                        start_phi=now.phi[source], start_f=now.f[source], memory=jnp.asarray(1.0, jnp.float32),
                        parent_memory=lineage.memory, chained=lineage.chained),
        law=law, mass=state.mass._replace(log_mass=state.mass.log_mass + jnp.log(frac),
                                          log_mass_var=state.mass.log_mass_var + relative_var),
        threshold=threshold, level=state.level + 1, stalled=stalled, moves=jnp.asarray(0),
        forward_passes=state.forward_passes + cost, rng_key=key)
    below = threshold > 0
    state = settle(problem, indices, bands, ladder, state, threshold, jnp.where(below, MOVES_PER_LEVEL, 0),
                   jnp.where(below, ladder.max_moves_per_level, 0))
    status = jnp.select([~jnp.any(keep) | hopeless, threshold <= 0, stalled >= MAX_STALLED_LEVELS,
                         state.level >= ladder.max_levels],
                        [LadderStatus.STALLED, LadderStatus.IN_BAND, LadderStatus.STALLED, LadderStatus.MAX_LEVELS],
                        LadderStatus.RUNNING)
    return state._replace(status=status.astype(jnp.int32))


def by_rejection(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, state: LadderState,
                 callback=None) -> LadderState:
    """N in-band prior draws where the band's share makes that cheap (:mod:`inverse_set.particles.prior_draws`); else the
    ladder (:func:`_levels`) from the N of the pilot's draws nearest the band, all its draws counted."""
    limit = ladder.rejection_limit

    def drawn(pilot):
        in_band = prior_draws.by_rejection(problem, indices, bands, state, pilot, limit)
        return in_band._replace(status=jnp.asarray(LadderStatus.IN_BAND, jnp.int32))

    def climbed(pilot):
        return _levels(problem, indices, bands, ladder, prior_draws.nearest_start(state, pilot), callback)

    pilot = prior_draws.pilot(problem, indices, bands, state, limit)
    return jax.lax.cond(prior_draws.cheap(pilot, limit), drawn, climbed, pilot)


def climb(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, num_particles: int,
          latent_dim: int, rng_key: Array, callback=None) -> LadderState:
    """N prior draws into the band: by rejection where the band's share allows, else up the ladder level by level
    until the band itself is the level (IN_BAND; its moves still to come) or it gives up. ``callback(state)``, if
    given, is called after each level (progress)."""
    k_draw, key = jax.random.split(rng_key)
    z = jax.random.normal(k_draw, (num_particles, latent_dim), jnp.float32)
    phi, f, d = measure(problem, indices, bands, z)
    scalar = lambda v, dtype=jnp.float32: jnp.asarray(v, dtype)
    first = jnp.arange(num_particles)
    k = axes_count(latent_dim)
    state = LadderState(
        particles=Particles(z=z, f=f, phi=phi, distance=d, moved=jnp.ones((num_particles,), bool)),
        lineage=Lineage(ancestor=first, parent=first, grandparent=first, start_phi=phi, start_f=f,
                        memory=scalar(1.0), parent_memory=scalar(0.0), chained=scalar(False, bool)),
        law=MovesLaw(centre=jnp.zeros_like(z), axes=jnp.zeros((num_particles, latent_dim, k), jnp.float32),
                     root=jnp.broadcast_to(jnp.eye(k, dtype=jnp.float32), (num_particles, k, k)),  # Σ = I at first
                     angle=scalar(FIRST_ANGLE)),
        mass=MassEstimate(log_mass=scalar(0.0), log_mass_var=scalar(0.0), far_draws=scalar(0.0),
                          far_weight=scalar(0.0), far_weight_sq=scalar(0.0)),
        threshold=scalar(jnp.inf), level=scalar(0, jnp.int32), stalled=scalar(0, jnp.int32),
        moves=scalar(0, jnp.int32), by_rejection=scalar(False, bool), forward_passes=jnp.asarray(num_particles),
        status=scalar(LadderStatus.RUNNING, jnp.int32), rng_key=key)
    if ladder.rejection_limit is None:
        return _levels(problem, indices, bands, ladder, state, callback)
    return by_rejection(problem, indices, bands, ladder, state, callback)


def _levels(problem, indices, bands, ladder, state, callback):
    def body(s):
        s = level(problem, indices, bands, ladder, s)
        if callback is not None:
            callback(s)
        return s

    return jax.lax.while_loop(lambda s: s.status == LadderStatus.RUNNING, body, state)


def run(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, num_particles: int,
        latent_dim: int, rng_key: Array) -> LadderState:
    """:func:`climb`, then :func:`in_band`."""
    return in_band(problem, indices, bands, ladder,
                   climb(problem, indices, bands, ladder, num_particles, latent_dim, rng_key))


def in_band(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder,
            state: LadderState) -> LadderState:
    """A climbed population moved inside the band until the particles are :func:`settled` (as it is where the climb
    did not reach the band)."""
    final = jax.lax.while_loop(lambda s: ~settled(ladder, s),
                               lambda s: advance(problem, indices, bands, ladder, s), state)
    return jax.tree.map(lambda a, b: jnp.where(state.status == LadderStatus.IN_BAND, a, b), final, state)


def samples(state: LadderState) -> Array:
    """Which particles are samples, (N,): in the band and not an unmoved copy of another."""
    return (state.particles.distance <= 0) & state.particles.moved
