"""The seeds' starting codes: which K of the candidate codes drawn the seed search starts from.

Each candidate costs one forward pass (``"alive"``: with its Jacobian); the
candidates not chosen are the reserve that lost seeds restart from, in order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from inverse_set.core.bands import Bands
from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.problem import Problem, forward

Array = jax.Array


def select_initial(
    problem: Problem, candidates: Array, bands: Bands, indices: ConstraintIndices, k: int, rule: str = "alive"
) -> tuple[Array, Array]:
    """The k candidate codes the seed search starts from, and the others in the same order (the reserve).

    ``"alive"``: in draw order, first the candidates where every constraint outside
    its band has a non-zero gradient (a seed there can climb; a ReLU unit at 0
    cannot), then the others. ``"nearest"``: the k nearest the band, distance in
    band widths (draw order breaks ties). ``"spread"``: of the 3k nearest, k far
    apart in encoder space — greedy farthest-point selection from the nearest, so
    the seeds start near the band without starting near each other.
    """
    codes = problem.project(candidates)
    if rule in ("nearest", "spread"):
        phi, f = forward(problem, codes, indices)
        score = jnp.where(jnp.isfinite(f).all(axis=-1), bands.excess(f), jnp.inf)
        if rule == "spread":
            order = _farthest_points(phi, jnp.argsort(score, stable=True), k)
            return candidates[order[:k]], candidates[order[k:]]
    else:
        def f_twice(c):  # f as the output to differentiate and as the aux value
            f = forward(problem, c[None], indices)[1][0]
            return f, f

        jac, f = jax.vmap(jax.jacrev(f_twice, has_aux=True))(codes)  # (M, p, d), (M, p)
        outside = (f < bands.z1) | (f > bands.z2)  # (M, p)
        stuck = outside & (jnp.max(jnp.abs(jac), axis=-1) == 0)
        score = (jnp.any(stuck, axis=-1) | ~jnp.isfinite(f).all(axis=-1)).astype(jnp.float32)
    order = jnp.argsort(score, stable=True)
    return candidates[order[:k]], candidates[order[k:]]


def _farthest_points(phi: Array, nearest: Array, k: int) -> Array:
    """``nearest`` (candidate indices by distance to the band) reordered: k far apart of its first 3k, then the rest."""
    pool = nearest[: min(3 * k, nearest.shape[0])]
    x = phi[pool]

    def pick(gap, _):  # gap: each pool member's distance to the nearest one chosen (-inf once chosen)
        i = jnp.argmax(gap)
        return jnp.minimum(gap, jnp.sum((x - x[i]) ** 2, axis=-1)).at[i].set(-jnp.inf), i

    gap0 = jnp.full((pool.shape[0],), jnp.inf).at[1:].set(jnp.finfo(jnp.float32).max)  # start from the nearest
    gap, picked = jax.lax.scan(pick, gap0, None, length=k)
    rest = jnp.argsort(gap == -jnp.inf, stable=True)  # the pool's unchosen, nearest first
    return jnp.concatenate([pool[picked], pool[rest][: pool.shape[0] - k], nearest[pool.shape[0]:]])
