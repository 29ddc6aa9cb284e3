"""The walks: what runs from the seeds until n samples are kept, each behind one protocol.

A walk is a frozen dataclass of its settings with three methods (:class:`Walk`):

* ``budget(n, k)`` — its step budget for n samples and K walkers;
* ``init(ctx, seeds, rng_key) -> state`` — its state from the seeds (a
  :class:`~inverse_set.paper.seeds.SeedState`: codes, and λ*, μ* for a walk that uses them);
* ``step(ctx, state) -> (state, Evaluations)`` — one step, and the passes through
  the networks it cost;
* optionally ``prepare(ctx, rng_key, callback) -> (prepared, needs_seeds)`` — a start of its
  own before any seed (the ladder walk's climb from the prior); the seeds then run
  only where ``needs_seeds`` is True, and ``init`` gets ``prepared`` as a fourth
  argument (with seeds of status SKIPPED where none ran);
* optionally ``starts_from_some_seeds = True`` — it can start from the seeds that reached the
  band when the seed search ran out of steps with only some of the K there (the ladder walk's
  fallback: copies of those); any other walk needs all K;
* optionally ``report(state) -> dict`` — what the walk alone can say about its
  run, as :class:`~inverse_set.results.SamplerStats` fields (the ladder walk's
  band mass; a walk without it reports nothing more).

Every state is a NamedTuple with ``buffer`` (the kept samples,
:mod:`inverse_set.walks.buffer`), ``step``, ``status`` (a
:class:`~inverse_set.core.loop.WalkStatus`) and ``num_non_finite``. :func:`run` is
the one loop the compiled sampler calls, whatever the walk:

* :mod:`inverse_set.walks.gradient` — the paper's walker (eq. 9–10): gradient steps
  of the augmented Lagrangian with repulsion from the samples kept;
* :mod:`inverse_set.walks.elliptical_slice` — elliptical slice sampling of the N(0, I)
  prior restricted to the band;
* :mod:`inverse_set.walks.ladder` — a population brought into the band through
  relaxed bands (:mod:`inverse_set.particles.ladder`), one sample per particle.

A new walk is a new module whose config has these methods, and a method
(:mod:`inverse_set.methods`) that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from inverse_set.core import loop
from inverse_set.core.bands import Bands
from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.loop import Evaluations, WalkStatus
from inverse_set.core.problem import Problem
from inverse_set.paper.lagrangian import Objective


class WalkContext(NamedTuple):
    """What every walk step sees besides its own state: the problem, the objective, the bands, n."""

    problem: Problem
    objective: Objective
    bands: Bands
    indices: ConstraintIndices
    n: int  # samples to keep
    num_features: int  # F, the size of E(G(c))
    code_dim: int | None = None  # d, the size of the search variable (for a walk that draws its own start)


class Walk(Protocol):
    """The protocol of a walk (see the module docstring)."""

    keeps_encodings: bool  # whether the buffer holds every kept sample's encoding, an (n, F) array
    description: str  # what it does, in a few words (printed by the command line)
    longer: str  # which of its settings lets it find more samples (the incomplete-sample warning says it)

    def budget(self, n: int, k: int) -> int: ...

    def init(self, ctx: WalkContext, seeds: Any, rng_key: jax.Array) -> Any: ...

    def step(self, ctx: WalkContext, state: Any) -> tuple[Any, Evaluations]: ...


def prepare(walk: Walk, ctx: WalkContext, rng_key, callback: Callable | None = None) -> tuple[Any, jax.Array]:
    """The walk's own start before the seeds, and whether it needs them: ``(None, True)`` for a walk without one.
    ``callback`` is the walk's progress report during it (the ladder's: after each level)."""
    if hasattr(walk, "prepare"):
        return walk.prepare(ctx, rng_key, callback)
    return None, True


def run(walk: Walk, ctx: WalkContext, seeds, rng_key, seeds_ok, callback: Callable | None = None, prepared=None):
    """Walk from the seeds (and its own start, ``prepared``, if any) until n samples are kept, or not at all when
    ``seeds_ok`` is False (NOT_RUN).

    Returns:
      ``(final state, Evaluations)``.
    """
    state = walk.init(ctx, seeds, rng_key) if prepared is None else walk.init(ctx, seeds, rng_key, prepared)
    state = state._replace(status=jnp.where(seeds_ok, state.status, WalkStatus.NOT_RUN).astype(jnp.int32))
    return loop.run(lambda state: walk.step(ctx, state), state, callback)


def finite_rows(phi: jax.Array, f: jax.Array) -> jax.Array:
    """Which walkers' encodings and constraint values are all finite, (K,)."""
    return jnp.all(jnp.isfinite(f), axis=-1) & jnp.all(jnp.isfinite(phi), axis=-1)
