"""Realism for DGN-style generators: the gap of a code to its own re-encoding, as a term or a constraint.

For a DGN-style generator that inverts the encoder (G(E(x)) ≈ x, codes in E's
space), real codes are near fixed points of c ↦ E(G(c)). The term

.. math:: R(C) = \\frac{ρ}{2} \\sum_i \\| E(G(c_i)) - c_i \\|^2

added to L_seed and L_sample keeps the codes where G was trained (PPGN's
``d_prior = E(G(h)) − h`` is −∂R/∂h through the direct path). The solvers have
φ = E(G(c)) already, so it costs nothing extra. ρ = 0 (off) reproduces the paper.

As a constraint (:class:`RealismConstraint`), the residual
r(c) = mean((E(G(c)) − c)²) ≤ τ is one more column of f with its own band and
label: the solvers, the final recheck and the errors treat it like a neuron.
"""

from __future__ import annotations

from typing import NamedTuple

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


class RealismConstraint(NamedTuple):
    """``r(c) = mean((E(G(c)) − c)²) ≤ τ``: one more constraint, computed from the code and its encoding.

    Its band is ``[−τ, τ]`` (r ≥ 0 anyway): the slack box, the band shrunk by a
    margin at each edge, then aims r at ≤ τ/2 rather than at a floor above 0.
    """

    bound: float  # τ
    label: str = "realism r(c) = mean((E(G(c)) − c)²)"
    advice: str = "allow a larger realism_bound"

    def value(self, code: Array, phi: Array) -> Array:
        return residual(phi, code)

    def band(self) -> tuple[float, float]:
        return -self.bound, self.bound
