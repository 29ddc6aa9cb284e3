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
f is what the solvers pull back to the codes. Both solvers minimise the same
Lagrangian in C,

.. math::

    \\mathcal{L}(C) = γ\\, D(E(G(C)); E(G(C_0))) + \\frac{ρ}{2} \\sum_i \\|E(G(c_i)) - c_i\\|^2
        + \\frac{ρ_p}{2} \\sum_i \\|c_i\\|^2 + \\mathcal{L}_c(f(G(C)), s; λ, μ),

(the ρ_p term is the negative log-density of a N(0, I) prior on the codes, for
Gaussian-latent generators) the seeds (eq. 8) with no reference samples C₀ and
λ, μ updated between inner solves, the walker (eq. 10) with C₀ the samples kept
and λ*, μ* frozen;
:func:`code_gradient` is its gradient, one VJP through G, E and the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from inverse_set.core.bands import Bands
from inverse_set.core.field_checks import check_options
from inverse_set.paper import realism, repulsion

Array = jax.Array


@dataclass(frozen=True)
class Objective:
    """The terms of L(C) above that the seeds and the gradient walker share, given once.

    Attributes:
      diversity_weight: γ, the weight of the diversity (seeds) and repulsion (walker) energy D.
      repulsion: D: ``"squared"`` (the paper: −mean squared distance) or ``"rbf"``
        (:mod:`inverse_set.paper.repulsion`).
      realism_weight: ρ of ρ/2 Σ‖E(G(c)) − c‖² (:mod:`inverse_set.paper.realism`); 0 is the
        paper. Needs an encoder whose output lives in the code space.
      prior_weight: ρ_p of ρ_p/2 Σ‖c‖², the negative log-density of a N(0, I) prior on
        the search variable; 0 is the paper.
      margin: the slack box is the band shrunk by margin × (z2 − z1) at each edge, so
        the solvers aim well inside the band.
    """

    diversity_weight: float = 1.0
    repulsion: str = "squared"
    realism_weight: float = 0.0
    prior_weight: float = 0.0
    margin: float = 0.25

    def __post_init__(self):
        check_options(self, non_negative=("diversity_weight", "realism_weight", "prior_weight"),
                      margins=("margin",), choices={"repulsion": tuple(repulsion.ENERGIES)})


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


def code_gradient(objective: Objective, vjp, phi: Array, f: Array, codes: Array, s: Array, lam: Array, mu: Array,
                  ref: Array, ref_mask: Array) -> Array:
    """``∂L/∂C`` of the Lagrangian above, from one forward pass ``(φ, f)`` and its ``vjp``.

    Args:
      objective: the terms γ, D, ρ and ρ_p (:class:`Objective`).
      vjp: ``vjp((∂L/∂φ, ∂L/∂f)) -> ∂L/∂C`` from :func:`inverse_set.core.problem.pullback`.
      phi, f, codes: the encodings (K, F), constraint values (K, p) and codes (K, d).
      s, lam, mu: slack, multipliers and penalty.
      ref, ref_mask: encodings of C₀ (R, F) and which rows hold a sample.
    """
    energy = repulsion.ENERGIES[objective.repulsion]
    d_phi = objective.diversity_weight * jax.grad(energy)(phi, ref, ref_mask)
    d_f = grad_f(f, s, lam, mu)
    if objective.realism_weight:
        r_phi, r_codes = realism.gradients(phi, codes, objective.realism_weight)
        grad = vjp((d_phi + r_phi, d_f)) + r_codes
    else:
        grad = vjp((d_phi, d_f))
    return grad + objective.prior_weight * codes if objective.prior_weight else grad
