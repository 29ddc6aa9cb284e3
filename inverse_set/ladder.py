"""A population brought from the N(0, I) prior into the band through a ladder of relaxed bands (subset simulation).

The target is the prior restricted to the band, ``p(c) ∝ N(c; 0, I) · 1[f(G(c)) ∈ B]``.
Write ``d(c) = max_k out_k(f(c)) / ε_k`` for how far the activations lie outside
the band, in band widths (ε = z2 − z1), so that ``{d ≤ t}`` is the band relaxed by
t widths on each side and ``{d ≤ 0}`` the band itself. From N prior draws
(subset simulation, Au & Beck 2001; adaptive multilevel splitting, Cérou &
Guyader 2007), each level

1. sets its threshold t_l to the p₀-quantile of d over the particles (0 once at
   least p₀ N are in the band: the last level);
2. keeps the particles with d ≤ t_l, their fraction π_l an estimate of
   P(d ≤ t_l | d ≤ t_{l−1}), and replaces each of the others by a copy of a
   kept one drawn at random;
3. moves every particle by elliptical-slice steps (Murray, Adams & MacKay 2010)
   restricted to ``{d ≤ t_l}``, which leave the prior restricted to that set
   invariant, so the copies spread out again.

After the last level, more moves decorrelate the particles from their
ancestors; a copy that never moved is a repeat and is not a sample. The
product of the π_l estimates the band's probability under the prior,
``P(f(G(c)) ∈ B)``, with the usual subset-simulation interval
(δ² = Σ_l (1 − π_l) / (π_l N), independent particles assumed: a lower bound on the
true spread). A ladder whose threshold stops falling (no particle nearer the band:
e.g. beyond the data, where the prior's mass is too small for the levels to
resolve) ends STALLED, and the caller starts from seeds instead.

Forward passes only: each proposal round is one forward pass of the N particles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.bands import Bands
from inverse_set.constraints import ConstraintIndices
from inverse_set.field_checks import check_options
from inverse_set.problem import Problem, forward

Array = jax.Array


class LadderStatus:
    RUNNING, IN_BAND, STALLED, MAX_LEVELS = 0, 1, 2, 3


@dataclass(frozen=True)
class Ladder:
    """Settings of the ladder.

    Attributes:
      survival: p₀, the fraction of particles each level keeps.
      moves_per_level: elliptical-slice moves after each level's resampling.
      final_moves: moves in the band itself after the last level (decorrelation).
      proposals_per_move: proposals of one move before the particle stays where it is.
      max_levels: levels before the ladder gives up (MAX_LEVELS).
      max_stalled_levels: levels in a row whose threshold did not fall before it gives up (STALLED).
    """

    survival: float = 0.2
    moves_per_level: int = 2
    final_moves: int = 8
    proposals_per_move: int = 4
    max_levels: int = 60
    max_stalled_levels: int = 3

    def __post_init__(self):
        check_options(self, counts=("moves_per_level", "final_moves", "proposals_per_move", "max_levels",
                                    "max_stalled_levels"), fractions=("survival",))
        if self.survival == 1:
            raise ValueError(f"Ladder.survival is p₀, a fraction strictly between 0 and 1; got {self.survival!r}")


class LadderState(NamedTuple):
    z: Array  # the particles, (N, d)
    f: Array  # their activations, (N, p)
    distance: Array  # d(z), (N,)
    threshold: Array  # the current level's t, ()
    log_mass: Array  # Σ_l log π_l, ()
    log_mass_var: Array  # Σ_l (1 − π_l) / (π_l N), ()
    level: Array  # levels done, ()
    stalled: Array  # levels in a row whose threshold did not fall, ()
    moved: Array  # whether each particle moved since it was last copied (a copy that did not is a repeat), (N,)
    ancestor: Array  # each particle's ancestor among the first draws, (N,)
    forward_passes: Array  # proposal rounds × N, ()
    status: Array  # LadderStatus
    rng_key: Array


def distance(bands: Bands, f: Array) -> Array:
    """``d = max_k out_k / ε_k``: how far f (…, p) lies outside the band in band widths (0 inside)."""
    outside = jnp.maximum(jnp.maximum(bands.z1 - f, f - bands.z2), 0.0)
    return jnp.max(outside / (bands.z2 - bands.z1), axis=-1)


def _evaluate(problem: Problem, indices: ConstraintIndices, bands: Bands, z: Array):
    _, f = forward(problem, z, indices)
    d = distance(bands, f)
    return f, jnp.where(jnp.isfinite(d), d, jnp.inf)


def move(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, state: LadderState,
         threshold: Array) -> LadderState:
    """One elliptical-slice move of every particle restricted to ``{d ≤ threshold}`` (at most P proposals)."""
    key, k_nu, k_theta, k_loop = jax.random.split(state.rng_key, 4)
    nu = jax.random.normal(k_nu, state.z.shape, state.z.dtype)
    theta = jax.random.uniform(k_theta, state.z.shape[:1], state.z.dtype, 0.0, 2 * jnp.pi)

    def proposal(i, carry):
        z, f, d, done, theta, low, high = carry
        z_new = state.z * jnp.cos(theta)[:, None] + nu * jnp.sin(theta)[:, None]
        f_new, d_new = _evaluate(problem, indices, bands, z_new)
        accept = ~done & (d_new <= threshold)
        low = jnp.where(theta < 0, theta, low)
        high = jnp.where(theta >= 0, theta, high)
        theta_next = jax.random.uniform(jax.random.fold_in(k_loop, i), low.shape, low.dtype, low, high)
        return (jnp.where(accept[:, None], z_new, z), jnp.where(accept[:, None], f_new, f),
                jnp.where(accept, d_new, d), done | accept, jnp.where(done | accept, theta, theta_next), low, high)

    init = (state.z, state.f, state.distance, jnp.zeros(state.z.shape[:1], bool), theta, theta - 2 * jnp.pi, theta)
    z, f, d, accepted, *_ = jax.lax.fori_loop(0, ladder.proposals_per_move, proposal, init)
    return state._replace(z=z, f=f, distance=d, moved=state.moved | accepted, rng_key=key,
                          forward_passes=state.forward_passes + ladder.proposals_per_move * z.shape[0])


def _moves(problem, indices, bands, ladder, state, threshold, count):
    return jax.lax.fori_loop(0, count, lambda _, s: move(problem, indices, bands, ladder, s, threshold), state)


def level(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder,
          state: LadderState) -> LadderState:
    """One level: threshold at the p₀-quantile (0 once enough are in band), resample, move."""
    n = state.z.shape[0]
    rank = max(int(round(ladder.survival * n)), 1) - 1
    threshold = jnp.maximum(jnp.sort(state.distance)[rank], 0.0)
    keep = state.distance <= threshold
    frac = jnp.mean(keep)
    key, k_pick = jax.random.split(state.rng_key)
    # Each particle not kept becomes a copy of a kept one drawn uniformly.
    pick = jax.random.choice(k_pick, n, (n,), p=keep / jnp.sum(keep))
    source = jnp.where(keep, jnp.arange(n), pick)
    stalled = jnp.where(threshold < state.threshold, 0, state.stalled + 1)
    state = state._replace(z=state.z[source], f=state.f[source], distance=state.distance[source],
                           moved=keep, ancestor=state.ancestor[source], threshold=threshold,
                           log_mass=state.log_mass + jnp.log(frac),
                           log_mass_var=state.log_mass_var + (1 - frac) / (frac * n),
                           level=state.level + 1, stalled=stalled, rng_key=key)
    state = _moves(problem, indices, bands, ladder, state, threshold, ladder.moves_per_level)
    status = jnp.select([threshold <= 0, stalled >= ladder.max_stalled_levels, state.level >= ladder.max_levels],
                        [LadderStatus.IN_BAND, LadderStatus.STALLED, LadderStatus.MAX_LEVELS], LadderStatus.RUNNING)
    return state._replace(status=status.astype(jnp.int32))


def climb(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, num_particles: int,
          latent_dim: int, rng_key: Array) -> LadderState:
    """N prior draws up the ladder, level by level, until the band itself is the level (IN_BAND) or it gives up."""
    k_draw, key = jax.random.split(rng_key)
    z = jax.random.normal(k_draw, (num_particles, latent_dim), jnp.float32)
    f, d = _evaluate(problem, indices, bands, z)
    state = LadderState(z, f, d, jnp.asarray(jnp.inf, jnp.float32), jnp.asarray(0.0, jnp.float32),
                        jnp.asarray(0.0, jnp.float32), jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32),
                        jnp.ones((num_particles,), bool), jnp.arange(num_particles), jnp.asarray(num_particles),
                        jnp.asarray(LadderStatus.RUNNING, jnp.int32), key)
    return jax.lax.while_loop(lambda s: s.status == LadderStatus.RUNNING,
                              lambda s: level(problem, indices, bands, ladder, s), state)


def run(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, num_particles: int,
        latent_dim: int, rng_key: Array) -> LadderState:
    """:func:`climb`, then ``final_moves`` moves inside the band (see the module docstring)."""
    state = climb(problem, indices, bands, ladder, num_particles, latent_dim, rng_key)
    final = _moves(problem, indices, bands, ladder, state, jnp.asarray(0.0, jnp.float32), ladder.final_moves)
    return jax.tree.map(lambda a, b: jnp.where(state.status == LadderStatus.IN_BAND, a, b), final, state)


def band_mass(state: LadderState, level: float = 0.9) -> tuple[float, float, float]:
    """The band's probability under the prior and its interval: ``(estimate, low, high)`` (a ladder IN_BAND only)."""
    z = {0.9: 1.6449, 0.95: 1.96}[level]
    log_p, sd = float(state.log_mass), float(np.sqrt(state.log_mass_var))
    return float(np.exp(log_p)), float(np.exp(log_p - z * sd)), float(np.exp(log_p + z * sd))


def samples(state: LadderState) -> Array:
    """Which particles are samples, (N,): in the band and not an unmoved copy of another."""
    return (state.distance <= 0) & state.moved
