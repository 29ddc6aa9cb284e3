"""Rejection sampling: independent draws, kept when their activations lie in every band.

Two sources of codes, never repeating one:

* :func:`rejection` — draws from a prior (``draw(key) -> code``): exact for the
  prior restricted to the band, e.g. the prior the bundled default samples;
* :func:`rejection_from_pool` — a fixed pool of codes (e.g. encodings of real
  images, a DGN-style generator's best case) in a random order, each at most once.

The acceptance rate says how often the source reaches the band; a band it never
reaches returns fewer than n samples, with the draws spent in ``info``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.core.bands import in_band
from inverse_set.evaluation.baselines.common import BaselineResult, compile_timed


def _keep_in_band(generator, activation, z1, z2, n, proposals: Iterator, example, max_draws,
                  compiled_s: float = 0.0) -> BaselineResult:
    """Run ``proposals`` (code chunks, each with how many of its rows are real draws) until n are in band;
    ``compiled_s``: what compiling the proposals took, added to the result's compile time."""
    z1, z2 = jnp.atleast_1d(jnp.asarray(z1, jnp.float32)), jnp.atleast_1d(jnp.asarray(z2, jnp.float32))

    def try_chunk(codes):
        images = jax.vmap(generator)(codes)
        f = jnp.atleast_2d(jax.vmap(activation)(images).reshape(codes.shape[0], -1))
        return images, in_band(f, z1, z2)

    run, compile_s = compile_timed(try_chunk, example)
    t0 = time.perf_counter()
    kept_codes, kept_images, draws, num = [], [], 0, 0
    for codes, valid in proposals:
        if num >= n or draws >= max_draws:
            break
        valid = min(valid, max_draws - draws)  # never past the budget
        images, ok = run(codes)
        ok = np.asarray(ok) & (np.arange(len(ok)) < valid)  # the images come to the host only where one hit
        hits = np.flatnonzero(ok)
        if num + len(hits) >= n:  # the draws after the n-th in-band one were not needed
            valid = int(hits[n - num - 1]) + 1
            ok = ok & (np.arange(len(ok)) < valid)
        draws += valid
        if ok.any():
            kept_codes.append(np.asarray(codes)[ok])
            kept_images.append(np.asarray(images)[ok])
        num += int(ok.sum())
    shape = jax.eval_shape(try_chunk, example)[0]
    codes = np.concatenate([np.zeros((0, *example.shape[1:]), np.float32), *kept_codes])
    images = np.concatenate([np.zeros((0, *shape.shape[1:]), shape.dtype), *kept_images])
    return BaselineResult(codes, images, draws, time.perf_counter() - t0,
                          {"draws": draws, "acceptance_rate": num / max(draws, 1), "in_band": num},
                          compile_s + compiled_s)


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
    # compiled before the draws are timed, like the chunk's evaluation (its compile time counted apart)
    draw_chunk, draw_compile_s = compile_timed(lambda key: jax.vmap(draw)(jax.random.split(key, chunk)), rng_key)

    def proposals():
        key = rng_key
        while True:
            key, sub = jax.random.split(key)
            yield draw_chunk(sub), chunk

    example = jax.ShapeDtypeStruct(draw_chunk.out_info.shape, draw_chunk.out_info.dtype)
    return _keep_in_band(generator, activation, z1, z2, n, proposals(), example, max_draws, draw_compile_s)


def rejection_from_pool(
    generator: Callable,
    activation: Callable,
    pool,
    z1,
    z2,
    n: int,
    *,
    max_draws: int | None = None,
    chunk: int = 1000,
    rng_key=None,
) -> BaselineResult:
    """Codes of ``pool`` (m, d) in a random order, each drawn at most once (at most ``max_draws``, default all of
    them); keep the first n in band."""
    pool = np.asarray(pool, np.float32)
    order = np.asarray(jax.random.permutation(jax.random.key(0) if rng_key is None else rng_key, pool.shape[0]))

    def proposals():
        for s in range(0, len(order), chunk):
            codes = pool[order[s : s + chunk]]
            valid = len(codes)
            yield np.concatenate([codes, np.zeros((chunk - valid, *pool.shape[1:]), np.float32)]), valid

    example = jax.ShapeDtypeStruct((chunk, *pool.shape[1:]), jnp.float32)
    return _keep_in_band(generator, activation, z1, z2, n, proposals(), example,
                         pool.shape[0] if max_draws is None else min(max_draws, pool.shape[0]))
