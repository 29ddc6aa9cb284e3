"""Joint optimisation with the feature-visualisation diversity term (Lucid / Lucent).

Batches of B codes are optimised together with Adam (lr 0.05, 512 steps). For
image b, Ĝ_b is the Gram matrix of a conv layer's activations, flattened and
L2-normalised; the diversity penalty is ``Σ_{i≠j} ⟨Ĝ_i, Ĝ_j⟩ / B`` with weight
1e2 (Lucid's). Lucid maximises an activation; here the objective is to land in
the band, so the activation term is a penalty on the distance to the band:

.. math::

    \\min_{c_1…c_B}\\; w_{band} \\sum_b \\big(\\operatorname{dist}(a(G(c_b)), [z_1, z_2]) / ε\\big)^2
        + w_{div} \\sum_{i \\ne j} ⟨Ĝ_i, Ĝ_j⟩ / B

with ε = z2 − z1. Codes are projected onto the code box after each step (our
generator was trained on codes in that box).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from inverse_set.evaluation.baselines.common import BaselineResult, compile_timed, render


def gram_vector(features: jax.Array) -> jax.Array:
    """Flattened, L2-normalised Gram matrix of (H, W, C) activations."""
    f = features.reshape(-1, features.shape[-1])
    gram = f.T @ f / f.shape[0]
    g = gram.ravel()
    return g / jnp.maximum(jnp.linalg.norm(g), 1e-12)


def gram_diversity(
    generator: Callable,
    activation: Callable,
    gram_layer: Callable,
    init: Callable,
    z1: float,
    z2: float,
    n: int,
    *,
    batch_size: int = 10,
    num_steps: int = 512,
    learning_rate: float = 0.05,
    diversity_weight: float = 1e2,
    band_weight: float = 1e3,
    code_low=0.0,
    code_high=jnp.inf,
    rng_key=None,
) -> BaselineResult:
    """⌈n/B⌉ independent batches of B codes, vmapped; returns the first n final images.

    Args:
      activation: ``image -> scalar`` the unit's activation.
      gram_layer: ``image -> (H, W, C)`` activations of the layer whose Gram
        matrices measure diversity.
    """
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    opt = optax.adam(learning_rate)
    eps = z2 - z1

    def loss(codes):
        images = jax.vmap(generator)(codes)
        a = jax.vmap(activation)(images)
        dist = jnp.maximum(z1 - a, 0.0) + jnp.maximum(a - z2, 0.0)
        grams = jax.vmap(lambda x: gram_vector(gram_layer(x)))(images)
        sim = grams @ grams.T
        b = codes.shape[0]
        diversity = (jnp.sum(sim) - jnp.trace(sim)) / b
        return band_weight * jnp.sum((dist / eps) ** 2) + diversity_weight * diversity

    def run_batch(key):
        codes = jnp.clip(jax.vmap(init)(jax.random.split(key, batch_size)), code_low, code_high)

        def step(carry, _):
            codes, opt_state = carry
            g = jax.grad(loss)(codes)
            updates, opt_state = opt.update(g, opt_state, codes)
            return (jnp.clip(optax.apply_updates(codes, updates), code_low, code_high), opt_state), None

        (codes, _), _ = jax.lax.scan(step, (codes, opt.init(codes)), None, length=num_steps)
        return codes

    keys = jax.random.split(rng_key, -(-n // batch_size))
    run, compile_s = compile_timed(jax.vmap(run_batch), keys)
    t0 = time.perf_counter()
    codes = run(keys)
    codes = np.asarray(codes).reshape(-1, codes.shape[-1])[:n]
    images = render(generator, codes)
    return BaselineResult(codes, images, len(keys) * batch_size * num_steps, time.perf_counter() - t0,
                          {"batch_size": batch_size, "num_steps": num_steps}, compile_s)
