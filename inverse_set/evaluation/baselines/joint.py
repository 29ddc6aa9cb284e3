"""The full joint problem of eq. 5: all n codes optimised together (sec. 4.3).

This is the seed solver of :mod:`inverse_set.paper.seeds` with K = n and without the
early stop, run for ``max_steps`` gradient steps; the samples are the final codes
(those outside the band are returned too and counted out by the caller).
Quadratic in n: use small n.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.core.bands import Bands
from inverse_set.core.problem import Problem
from inverse_set.evaluation.baselines.common import BaselineResult, render
from inverse_set.paper import seeds
from inverse_set.paper.lagrangian import Objective

DEFAULT_CONFIG = seeds.SeedConfig(max_steps=2000)  # the joint solve's steps (frozen, so shared safely)


def joint(
    problem: Problem,
    indices,
    init: Callable,
    z1,
    z2,
    n: int,
    *,
    config: seeds.SeedConfig = DEFAULT_CONFIG,
    objective: Objective | None = None,
    rng_key=None,
) -> BaselineResult:
    """Optimise eq. 5 over n codes for ``config.max_steps`` steps."""
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    objective = Objective() if objective is None else objective
    bands = Bands(jnp.atleast_1d(jnp.asarray(z1, jnp.float32)), jnp.atleast_1d(jnp.asarray(z2, jnp.float32)))
    t0 = time.perf_counter()

    @jax.jit
    def run(key):
        codes0 = jax.vmap(init)(jax.random.split(key, n))
        return seeds.run(config, objective, problem, codes0, bands, indices, stop_when_inside=False)[0]

    state = jax.block_until_ready(run(rng_key))
    codes = np.asarray(state.codes)
    images = render(problem.generator, codes)
    return BaselineResult(codes, images, n * int(state.step), time.perf_counter() - t0,
                          {"steps": int(state.step), "mu": float(state.mu)})
