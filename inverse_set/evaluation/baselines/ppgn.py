"""PPGN sampler (Nguyen et al. 2017; reference: Evolving-AI-Lab/ppgn ``sampler.py``).

One step on the code h (a chain), with x = G(h):

.. math::

    d_h = ε_1 (E(G(h)) − h) + ε_2 ∇_h \\log \\operatorname{softmax}(a(G(h)))_u + N(0, ε_3^2),
    \\qquad h ← \\operatorname{clip}(h + \\frac{lr}{\\operatorname{mean}|d_h|} d_h,\\ low,\\ high)

with the published defaults ε1 = 1e-5, ε2 = 1, ε3 = 1e-17, lr = 1 (optionally
moving linearly to ``lr_end``), h₀ ~ N(0, 1), and a sample G(h) saved every
``save_every`` steps of every chain. The condition term is the log-softmax of the
unit within its layer (the class unit among the logits; for a hidden unit, among
the units of its layer). The reference clips h to [0, 30]; we clip to the code
range seen on real data.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.evaluation.baselines.common import BaselineResult, compile_timed, render


def ppgn(
    generator: Callable,
    encoder: Callable,
    layer: Callable,
    unit: int,
    code_dim: int,
    *,
    code_low,
    code_high,
    num_chains: int = 10,
    num_steps: int = 200,
    save_every: int = 5,
    eps1: float = 1e-5,
    eps2: float = 1.0,
    eps3: float = 1e-17,
    lr: float = 1.0,
    lr_end: float = 1.0,
    rng_key=None,
) -> BaselineResult:
    """Run ``num_chains`` PPGN chains; returns ``num_chains × num_steps // save_every`` samples.

    Args:
      layer: ``image -> (U,)`` activations of the unit's layer (e.g. the logits).
      unit: index of the unit in that layer.
      code_dim: dimension of h.
      code_low, code_high: per-dimension clip range of the code.
    """
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    low, high = jnp.asarray(code_low, jnp.float32), jnp.asarray(code_high, jnp.float32)

    def prior_and_condition(h):
        x = generator(h)
        return jnp.ravel(encoder(x)), jax.nn.log_softmax(layer(x))[unit]

    def step(h, inputs):
        key, step_lr = inputs
        (e_h, log_p), vjp = jax.vjp(prior_and_condition, h)
        d_prior = e_h - h
        (d_condition,) = vjp((jnp.zeros_like(e_h), jnp.ones_like(log_p)))
        noise = eps3 * jax.random.normal(key, h.shape)
        d_h = eps1 * d_prior + eps2 * d_condition + noise
        h = h + step_lr / jnp.maximum(jnp.mean(jnp.abs(d_h)), 1e-30) * d_h
        h = jnp.clip(h, low, high)
        return h, h

    def chain(key):
        k0, k1 = jax.random.split(key)
        h0 = jax.random.normal(k0, (code_dim,))
        lrs = jnp.linspace(lr, lr_end, num_steps)
        _, hs = jax.lax.scan(step, h0, (jax.random.split(k1, num_steps), lrs))
        return hs[save_every - 1 :: save_every]

    keys = jax.random.split(rng_key, num_chains)
    run, compile_s = compile_timed(jax.vmap(chain), keys)
    t0 = time.perf_counter()
    codes = run(keys)
    codes = np.asarray(codes).reshape(-1, code_dim)
    images = render(generator, codes)
    return BaselineResult(codes, images, num_chains * num_steps, time.perf_counter() - t0,
                          {"num_chains": num_chains, "num_steps": num_steps, "save_every": save_every}, compile_s)
