"""An optional realism term: PPGN's prior, the gap of the code to its own re-encoding.

For a DGN-style generator that inverts the encoder (G(E(x)) ≈ x, codes in E's
space), real codes are near fixed points of c ↦ E(G(c)). The term

.. math:: R(C) = \\frac{ρ}{2} \\sum_i \\| E(G(c_i)) - c_i \\|^2

added to L_seed and L_sample keeps the codes where G was trained (PPGN's
``d_prior = E(G(h)) − h`` is −∂R/∂h through the direct path). The solvers have
φ = E(G(c)) already, so it costs nothing extra. ρ = 0 (off) reproduces the paper.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def gap(phi: Array, codes: Array) -> Array:
    """``E(G(c)) − c`` per code, (K, d)."""
    return phi - codes


def residual(phi: Array, code: Array) -> Array:
    """``r(c) = mean((E(G(c)) − c)²)`` for one code: the realism constraint's activation."""
    return jnp.mean(jnp.square(gap(phi, code)))


def gradients(phi: Array, codes: Array, weight: float) -> tuple[Array, Array]:
    """``(∂R/∂φ, ∂R/∂c)`` with φ held apart from c: ``(ρ (φ − c), −ρ (φ − c))``."""
    g = weight * gap(phi, codes)
    return g, -g
