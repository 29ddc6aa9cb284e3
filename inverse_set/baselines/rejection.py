"""Rejection sampling from the generator's prior.

Draw codes from the prior (for a DGN-style generator: codes of random real
images), keep those whose activations lie in every band. Exact for the prior
restricted to the band; its acceptance rate says how often the prior reaches it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.baselines.common import BaselineResult
from inverse_set.bands import in_band


def rejection(
    generator: Callable,
    activation: Callable,
    draw: Callable,
    z1,
    z2,
    n: int,
    *,
    max_draws: int = 100_000,
    chunk: int = 1000,
    rng_key=None,
) -> BaselineResult:
    """Draw up to ``max_draws`` codes with ``draw(key) -> code``; keep the first n in band.

    Args:
      activation: ``image -> (p,)`` activations of the constraints.
    """
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    z1, z2 = jnp.atleast_1d(jnp.asarray(z1, jnp.float32)), jnp.atleast_1d(jnp.asarray(z2, jnp.float32))

    @jax.jit
    def try_chunk(key):
        codes = jax.vmap(draw)(jax.random.split(key, chunk))
        images = jax.vmap(generator)(codes)
        f = jnp.atleast_2d(jax.vmap(activation)(images).reshape(chunk, -1))
        return codes, images, in_band(f, z1, z2)

    t0 = time.perf_counter()
    kept_codes, kept_images, draws, num = [], [], 0, 0
    while num < n and draws < max_draws:
        rng_key, key = jax.random.split(rng_key)
        codes, images, ok = jax.device_get(try_chunk(key))
        draws += chunk
        kept_codes.append(codes[ok])
        kept_images.append(images[ok])
        num += int(ok.sum())
    codes = np.concatenate(kept_codes)[:n]
    images = np.concatenate(kept_images)[:n]
    return BaselineResult(codes, images, draws, time.perf_counter() - t0,
                          {"draws": draws, "acceptance_rate": num / draws})
