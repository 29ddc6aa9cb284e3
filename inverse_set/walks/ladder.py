"""A walk whose n samples are a population, not a chain: up the ladder of relaxed bands, then moved in the band.

Where the elliptical-slice walk keeps every accepted move of K chains (n
consecutive, correlated states), this walk brings N particles (N = n, at
least 100, by default) from the N(0, I) prior into the band through the ladder of
:mod:`inverse_set.particles.ladder` (subset simulation), then moves them inside the
band (:func:`inverse_set.particles.moves.move`) until they have forgotten where they were
copied, and keeps each particle once: its final state. A particle that never
moved since it was copied is a repeat and is moved again (alone once the
others are decorrelated; up to ``max_final_moves`` moves) or left out.

That is one round. While fewer than n are kept (N < n, or repeats left out),
another round moves the particles on from their samples until each has
forgotten its own (ρ ≤ ρ*, :func:`next_round`) and keeps
each that moved again: a particle's samples in consecutive rounds still
correlate about ρ, which the effective sample size counts (:func:`round_worth`).
By default N = n: one round (docs/decisions/ records why).

When the ladder cannot reach the band (its threshold stops falling: no particle
nearer the band, e.g. beyond the data), the population starts from copies of the
K augmented-Lagrangian seeds instead, and ``from_seeds`` says so; where the seeds ran out of steps
with only some of them in the band (narrow intersections), from copies of those.

Each step is one move: one forward pass of the N particles
(none once they are settled, as rejection draws are from the start); the climb
is counted in the first step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.core.field_checks import check_options
from inverse_set.core.loop import Evaluations, WalkStatus
from inverse_set.paper.seeds import SeedState
from inverse_set.particles import decorrelation, ladder, laws, mass, moves
from inverse_set.particles.state import Ladder, LadderState, LadderStatus, Particles
from inverse_set.walks import WalkContext, buffer

Array = jax.Array

MIN_PARTICLES = 100


@dataclass(frozen=True)
class LadderWalk:
    """Settings of the ladder walk.

    Attributes:
      ladder: the particle method's settings (:class:`inverse_set.particles.state.Ladder`): ρ*, the budgets, rejection's limit.
      num_particles: N; ``None``: n, and at least ``MIN_PARTICLES`` (each particle gives at most one sample a
        round; fewer particles would set the levels, the band's mass and the decorrelation from too few). With
        N < n the samples come in rounds of N (see the module docstring): less memory, a shorter climb to share,
        samples a little correlated.
    """

    ladder: Ladder = field(default_factory=Ladder)
    num_particles: int | None = None

    keeps_encodings = False
    starts_from_some_seeds = True  # where the seeds ran out of steps with some of them in band, it starts from those
    description = ("a population of N prior draws brought into the band by rejection or through relaxed bands "
                   "(subset simulation), then moved inside it until decorrelated, one sample per particle; "
                   "augmented-Lagrangian seeds only where the ladder cannot reach the band")
    longer = "more particles (num_particles) or more moves (Ladder(max_final_moves=…))"  # what gives more samples

    def __post_init__(self):
        check_options(self, optional_counts=("num_particles",))
        if not isinstance(self.ladder, Ladder):
            raise TypeError(f"LadderWalk(ladder={self.ladder!r}): give an inverse_set.particles.Ladder(...)")

    def budget(self, n: int, k: int) -> int:
        """Moves in the band: up to ``max_final_moves`` a round, one round more than n samples need."""
        return (-(-n // self.particles(n)) + 1) * (self.ladder.max_final_moves + 1)

    def particles(self, n: int) -> int:
        return max(n, MIN_PARTICLES) if self.num_particles is None else self.num_particles

    def prepare(self, ctx: WalkContext, rng_key, callback=None) -> tuple[LadderState, Array]:
        """The climb from the prior, before any seed: the seeds are needed only where it did not reach the band."""
        climbed = ladder.climb(ctx.problem, ctx.indices, ctx.bands, self.ladder, self.particles(ctx.n),
                               ctx.code_dim, rng_key, callback)
        return climbed, climbed.status != LadderStatus.IN_BAND

    def init(self, ctx: WalkContext, seeds: SeedState, rng_key, prepared=None) -> LadderWalkState:
        return init(self, ctx, seeds, rng_key, prepared)

    def step(self, ctx: WalkContext, state: LadderWalkState) -> tuple[LadderWalkState, Evaluations]:
        return step(self, ctx, state)

    def report(self, state: LadderWalkState) -> dict:
        """The band's mass under the prior (from the ladder; None when it started from the seeds), its levels, where
        the population started, from how many first draws the samples descend, and their effective sample size."""
        population, from_seeds = state.population, bool(state.from_seeds)
        gave = np.asarray(state.gave)  # the particles whose samples are in the buffer
        start = "seeds" if from_seeds else "rejection" if bool(population.by_rejection) else "prior"
        return {"band_mass": None if from_seeds else mass.band_mass(population),
                "ladder_levels": int(population.level), "population_start": start,
                "distinct_ancestors": len(np.unique(np.asarray(population.lineage.ancestor)[gave])),
                "effective_sample_size": float(state.effective_samples), "rounds": int(state.rounds),
                "decorrelation": float(population.lineage.memory)}


class LadderWalkState(NamedTuple):
    population: LadderState
    buffer: buffer.Buffer
    gave: Array  # which particles have given a sample, (N,)
    effective_samples: Array  # the kept samples' effective number of independent draws (:func:`round_worth`), ()
    rounds: Array  # rounds over, ()
    from_seeds: Array  # whether the ladder stalled and the particles started from the seeds, ()
    num_non_finite: Array
    step: Array  # moves in the band
    status: Array  # WalkStatus


def init(walk: LadderWalk, ctx: WalkContext, seeds: SeedState, rng_key, prepared=None) -> LadderWalkState:
    """Climb the ladder (unless ``prepared`` is the climb); if it stalls, start the population from copies of the
    seeds instead."""
    n_particles = walk.particles(ctx.n)
    climbed = walk.prepare(ctx._replace(code_dim=seeds.codes.shape[-1]), rng_key)[0] if prepared is None else prepared
    stalled = climbed.status != LadderStatus.IN_BAND
    # copies of the seeds in band, dealt in turn (all K where every seed reached it)
    inside = ctx.bands.contains(seeds.f[:, : climbed.particles.f.shape[-1]])
    k = jnp.maximum(jnp.sum(inside), 1)
    copies = jnp.argsort(~inside, stable=True)[jnp.arange(n_particles) % k]
    z, f, phi = seeds.codes[copies], seeds.f[copies, : climbed.particles.f.shape[-1]], seeds.phi[copies]
    law, cost = laws.rotation_law(ctx.problem, ctx.indices, seeds.codes, inside, copies, climbed)
    from_seeds = climbed._replace(
        particles=Particles(z=z, f=f, phi=phi, distance=jnp.zeros((n_particles,)), moved=jnp.arange(n_particles) < k),
        lineage=climbed.lineage._replace(ancestor=copies, parent=copies, grandparent=copies, start_phi=phi, start_f=f,
                                         memory=jnp.asarray(1.0, jnp.float32),
                                         parent_memory=jnp.asarray(0.0, jnp.float32)),
        law=law, moves=jnp.asarray(0), by_rejection=jnp.asarray(False), status=jnp.asarray(LadderStatus.IN_BAND),
        forward_passes=climbed.forward_passes + cost)
    population = jax.tree.map(lambda a, b: jnp.where(stalled, a, b), from_seeds, climbed)
    kept = buffer.init(seeds.codes, ctx.n, ctx.num_features, ctx.bands.z1.shape[0],
                       walk.budget(ctx.n, seeds.codes.shape[0]))
    zero = jnp.asarray(0, jnp.int32)
    return LadderWalkState(population, kept, jnp.zeros((n_particles,), bool), jnp.asarray(0.0, jnp.float32), zero,
                           stalled, zero, zero, jnp.asarray(WalkStatus.RUNNING, jnp.int32))


def step(walk: LadderWalk, ctx: WalkContext, state: LadderWalkState) -> tuple[LadderWalkState, Evaluations]:
    """One move in the band (:func:`inverse_set.particles.moves.advance`: of every particle, or of the repeats left), unless
    they are settled already; once settled (decorrelated with no repeat left, or at the most moves), the round is
    over: keep each in-band particle that moved in it, once, and, while fewer than n are kept, start the next round
    (:func:`next_round`)."""
    settings, before = walk.ladder, state.population
    population = jax.lax.cond(moves.settled(settings, before), lambda: before,
                              lambda: moves.advance(ctx.problem, ctx.indices, ctx.bands, settings, before))
    taken = state.step + 1
    last = taken >= walk.budget(ctx.n, 0)
    over = moves.settled(settings, population) | last
    is_sample = ladder.samples(population)
    kept, gave, worth = jax.lax.cond(over, lambda: _keep(state, population, is_sample, ctx.n, taken),
                                     lambda: (state.buffer, state.gave, state.effective_samples))
    status = jnp.select([kept.count >= ctx.n, last],
                        [WalkStatus.COMPLETE, WalkStatus.MAX_STEPS], WalkStatus.RUNNING)
    after = jax.lax.cond(over & (status == WalkStatus.RUNNING),
                         lambda: next_round(population), lambda: population)
    # the population counts its own forward passes: the climb's (and any rejection draws') go into the first step
    cost = population.forward_passes - jnp.where(state.step == 0, 0, before.forward_passes)
    return state._replace(population=after, buffer=kept, gave=gave, effective_samples=worth, step=taken,
                          rounds=state.rounds + over, status=status.astype(jnp.int32)), Evaluations.of(forward=cost)


def next_round(state: LadderState) -> LadderState:
    """A population in the band, its particles just kept as samples, starts a round for the next ones: each must
    forget its own position now (ρ from here, no families of copies: ``chained``), and none has moved since. The
    band's law is the same in every round: the one fitted in the gradients' span at the band's resampling stays."""
    n = state.particles.z.shape[0]
    own = jnp.arange(n)
    lineage = state.lineage._replace(start_phi=state.particles.phi, start_f=state.particles.f,
                                     memory=jnp.asarray(1.0, jnp.float32), parent=own, grandparent=own,
                                     parent_memory=jnp.asarray(0.0, jnp.float32), chained=jnp.asarray(True))
    return state._replace(particles=state.particles._replace(moved=jnp.zeros((n,), bool)), lineage=lineage,
                          moves=jnp.asarray(0))


def _keep(state: LadderWalkState, population: LadderState, is_sample: Array, n: int, step: Array):
    """A round's samples (each particle's state at its end, once) after those kept so far, up to n: the buffer, which
    particles have given a sample, and the samples' effective number (:func:`round_worth`)."""
    kept = state.buffer
    first = is_sample & (kept.count + jnp.cumsum(is_sample) <= n)
    slot = jnp.where(first, kept.count + jnp.cumsum(first) - 1, n)  # index n is out of bounds: dropped
    buffer_ = kept._replace(codes=kept.codes.at[slot].set(population.particles.z, mode="drop"),
                            f=kept.f.at[slot].set(population.particles.f, mode="drop"),
                            count=(kept.count + jnp.sum(first)).astype(jnp.int32),
                            accepted=kept.accepted.at[step].set(jnp.sum(first)))
    return buffer_, state.gave | first, state.effective_samples + round_worth(population, first)


def round_worth(population: LadderState, taken: Array) -> Array:
    """What a round's samples add to the effective sample size: in the first, m over their families' design effect
    (:func:`inverse_set.particles.decorrelation.design_effect`); in a later one, each sample still correlates ρ with its own
    particle's sample before, and adds (1 − ρ) / (1 + ρ) (a chain whose lag-one correlation is ρ)."""
    rho = jnp.clip(population.lineage.memory, 0.0, 1.0)
    first = decorrelation.effective_sample_size(population.lineage.parent, population.lineage.memory, taken,
                                                population.lineage.grandparent, population.lineage.parent_memory)
    return jnp.where(population.lineage.chained, jnp.sum(taken) * (1 - rho) / (1 + rho), first)


