"""Plain draws from the N(0, I) prior: the ladder's pilot, its particles by rejection, and where its climb starts.

The pilot draws at least 10 × ``rejection_limit`` codes from the prior, N at a time (the ladder's first N
included), and keeps two things: the draws that hit the band, in order, and the N draws nearest the band (least
``d``, :func:`inverse_set.particles.levels.distance`). Where at least one draw in ``rejection_limit`` hit, the band's share makes
rejection cheap: the draws go on, N at a time, until N have hit (:func:`by_rejection`). Else the ladder climbs from
the N nearest (:func:`nearest_start`): its first level keeps the p₀ N nearest of all D pilot draws, a share p₀ N / D
of D independent draws, where the first N alone would give p₀ N / N: fewer levels for draws already paid for.
Each batch is one forward pass of N codes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from inverse_set.core.bands import Bands
from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.problem import Problem
from inverse_set.particles.levels import measure
from inverse_set.particles.state import LadderState

Array = jax.Array


class Pilot(NamedTuple):
    hits: tuple  # (z, f, φ, d, filled): the draws in the band so far, in order, N slots (d ∞ where empty)
    nearest: tuple  # (z, f, φ, d): the N draws so far nearest the band
    draws: Array  # codes drawn, ()
    hit_count: Array  # of them in the band, ()
    rng_key: Array


def _take(hits: tuple, z: Array, f: Array, phi: Array, d: Array) -> tuple:
    """The hits with the batch's in-band draws in the empty slots (those past N dropped)."""
    *kept, filled = hits
    n = kept[0].shape[0]
    inside = d <= 0
    slot = jnp.where(inside, filled + jnp.cumsum(inside) - 1, n)  # past n: dropped
    return (*(a.at[slot].set(b, mode="drop") for a, b in zip(kept, (z, f, phi, d))),
            jnp.minimum(filled + jnp.sum(inside), n))


def _nearest(best: tuple, batch: tuple) -> tuple:
    """The N of both nearest the band."""
    pool = [jnp.concatenate([a, b]) for a, b in zip(best, batch)]
    order = jax.lax.top_k(-pool[-1], best[0].shape[0])[1]
    return tuple(a[order] for a in pool)


def _draw(problem: Problem, indices: ConstraintIndices, bands: Bands, p: Pilot) -> Pilot:
    """One batch of N prior draws, evaluated (one forward pass)."""
    n, dim = p.nearest[0].shape
    key, k = jax.random.split(p.rng_key)
    z = jax.random.normal(k, (n, dim), p.nearest[0].dtype)
    phi, f, d = measure(problem, indices, bands, z)
    return Pilot(_take(p.hits, z, f, phi, d), _nearest(p.nearest, (z, f, phi, d)), p.draws + n,
                 p.hit_count + jnp.sum(d <= 0), key)


def _draw_until(problem, indices, bands, p: Pilot, most: int) -> Pilot:
    """Batches until N hits or ``most`` draws."""
    return jax.lax.while_loop(lambda q: (q.hits[-1] < q.nearest[0].shape[0]) & (q.draws < most),
                              lambda q: _draw(problem, indices, bands, q), p)


def pilot(problem: Problem, indices: ConstraintIndices, bands: Bands, state: LadderState, limit: int) -> Pilot:
    """The state's N first draws and more, N at a time, to 10 × ``limit`` draws in all (or N hits)."""
    now = state.particles
    n = now.z.shape[0]
    first = (now.z, now.f, now.phi, now.distance)
    empty = (*(jnp.zeros_like(a) for a in first[:3]), jnp.full((n,), jnp.inf, now.distance.dtype), jnp.asarray(0))
    start = Pilot(_take(empty, *first), first, jnp.asarray(n), jnp.sum(now.distance <= 0), state.rng_key)
    return _draw_until(problem, indices, bands, start, n * -(-10 * limit // n))


def cheap(p: Pilot, limit: int) -> Array:
    """Whether at least one pilot draw in ``limit`` hit the band."""
    return p.hit_count * limit >= p.draws


def by_rejection(problem: Problem, indices: ConstraintIndices, bands: Bands, state: LadderState, p: Pilot,
                 limit: int) -> LadderState:
    """On from the pilot to N hits, at most 4 × ``limit`` × N draws (a slot still empty is no sample): N independent
    in-band draws, nothing copied, nothing to move; the band's mass is the share of draws that hit, its variance
    binomial."""
    p = _draw_until(problem, indices, bands, p, 4 * limit * state.particles.z.shape[0])
    z, f, phi, d, _ = p.hits
    frac = p.hit_count / p.draws
    return state._replace(
        particles=state.particles._replace(z=z, f=f, phi=phi, distance=d),
        lineage=state.lineage._replace(start_phi=phi, start_f=f, memory=jnp.asarray(0.0, jnp.float32)),
        mass=state.mass._replace(log_mass=jnp.log(frac), log_mass_var=(1 - frac) / (frac * p.draws)),
        threshold=jnp.asarray(0.0), by_rejection=jnp.asarray(True), forward_passes=p.draws, rng_key=p.rng_key)


def nearest_start(state: LadderState, p: Pilot) -> LadderState:
    """The climb's start: the N of the pilot's D draws nearest the band, which stand for a share N / D of the draws
    (in the band's mass, with the binomial variance that makes the first level's share p₀ N / D one of D draws)."""
    z, f, phi, d = p.nearest
    n, share = z.shape[0], z.shape[0] / p.draws
    return state._replace(
        particles=state.particles._replace(z=z, f=f, phi=phi, distance=d),
        lineage=state.lineage._replace(start_phi=phi, start_f=f),
        mass=state.mass._replace(log_mass=jnp.log(share), log_mass_var=(1 - share) / n),
        forward_passes=p.draws, rng_key=p.rng_key)
