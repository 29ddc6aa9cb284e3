"""DGN-AM with random restarts (Nguyen et al. 2016; reference: Evolving-AI-Lab/synthesizing ``act_max.py``).

Each restart maximises the raw activation a(G(c)) of the unit for 200 iterations:

.. math::

    g = ∇_c\\, a(G(c)),\\quad c ← c + \\frac{lr_t}{\\operatorname{mean}|g|} g,\\quad c ← 0.99\\, c,
    \\quad c ← \\operatorname{clip}(c, 0, \\text{upper})

with lr_t decaying linearly from 8 to 1e-10 and ``upper`` = mean + 3 std of the
code on real data; the last iterate is the sample (one sample per restart).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.evaluation.baselines.common import BaselineResult, compile_timed, render


def dgn_am(
    generator: Callable,
    activation: Callable,
    init: Callable,
    n: int,
    *,
    code_upper,
    num_steps: int = 200,
    lr_start: float = 8.0,
    lr_end: float = 1e-10,
    decay: float = 0.99,
    rng_key=None,
) -> BaselineResult:
    """n restarts from ``init(key)`` codes; returns their n last iterates.

    Args:
      activation: ``image -> scalar`` raw (pre-softmax) activation of the unit.
      code_upper: per-dimension upper clip (mean + 3 std on real data).
    """
    rng_key = jax.random.key(0) if rng_key is None else rng_key
    upper = jnp.asarray(code_upper, jnp.float32)
    grad = jax.grad(lambda c: activation(generator(c)))

    def step(c, step_lr):
        g = grad(c)
        c = c + step_lr / jnp.maximum(jnp.mean(jnp.abs(g)), 1e-30) * g
        c = decay * c
        return jnp.clip(c, 0.0, upper), None

    def restart(key):
        c0 = jnp.clip(init(key), 0.0, upper)
        c, _ = jax.lax.scan(step, c0, jnp.linspace(lr_start, lr_end, num_steps))
        return c

    keys = jax.random.split(rng_key, n)
    run, compile_s = compile_timed(jax.vmap(restart), keys)
    t0 = time.perf_counter()
    codes = np.asarray(run(keys))
    images = render(generator, codes)
    return BaselineResult(codes, images, n * num_steps, time.perf_counter() - t0, {"num_steps": num_steps}, compile_s)
