"""The bound-constrained augmented Lagrangian with slacks (eq. 8 and 10).

Each band ``z1 ≤ f(G(c_i)) ≤ z2`` is written as an equality with a slack boxed in
the (inner) band,

.. math::

    f_i - s_i = 0,\\qquad s_i \\in [z_1', z_2'],

so that both edges of the band are enforced (eq. 7 as printed enforces only the
lower one). The constraint part of the Lagrangian, summed over seeds i and
constraints k, is

.. math::

    \\mathcal{L}_c = -\\sum_{ik} λ_{ik} (f_{ik} - s_{ik}) + \\frac{μ}{2} \\sum_{ik} (f_{ik} - s_{ik})^2 .

Its minimiser over the box in s is closed form, and its gradient with respect to
f is what the solvers pull back to the codes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from inverse_set.constraints import Bands

Array = jax.Array


def slack(f: Array, lam: Array, mu: Array, box: Bands) -> Array:
    """Closed-form slack update: ``s = clip(f − λ/μ, z1', z2')``."""
    return jnp.clip(f - lam / mu, box.z1, box.z2)


def violation(f: Array, s: Array) -> Array:
    """Constraint residual ``f − s`` (zero exactly when f is inside the slack box)."""
    return f - s


def grad_f(f: Array, s: Array, lam: Array, mu: Array) -> Array:
    """``∂L_c/∂f = −λ + μ (f − s)``."""
    return -lam + mu * violation(f, s)


def value(f: Array, s: Array, lam: Array, mu: Array) -> Array:
    """``L_c = −Σ λ (f − s) + μ/2 Σ (f − s)²``."""
    v = violation(f, s)
    return -jnp.sum(lam * v) + 0.5 * mu * jnp.sum(v**2)


def update_multipliers(f: Array, s: Array, lam: Array, mu: Array) -> Array:
    """First-order multiplier update ``λ ← λ − μ (f − s)``."""
    return lam - mu * violation(f, s)


def update_penalty(
    mu: Array, norm: Array, norm_prev: Array, factor: float, decrease: float, mu_max: float
) -> Array:
    """``μ ← a μ`` when the violation norm did not fall below ``decrease × previous``."""
    grow = norm > decrease * norm_prev
    return jnp.where(grow, jnp.minimum(factor * mu, mu_max), mu)
