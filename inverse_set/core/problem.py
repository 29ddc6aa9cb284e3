"""The sampling problem: generator G, encoder E and the constraint activations f.

Everything the solvers need from the networks for a batch of K codes
``C = (c_1 … c_K)`` is one forward pass

.. math:: x_i = G(c_i),\\qquad φ_i = E(x_i),\\qquad f_i = f(x_i)

and its vector–Jacobian product, which pulls the Lagrangian's gradients with
respect to φ and f back to the codes. Both solvers (seeds, walker) work with
``∂L/∂φ`` and ``∂L/∂f`` in closed form and call :func:`pullback` once per step:
one forward and one backward pass through G, E and the target, however many
constraints there are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from inverse_set.core.constraints import ConstraintIndices

Array = jax.Array


class Problem(NamedTuple):
    """Per-example pure functions (no batch dimension); the solvers vmap them.

    Attributes:
      generator: ``G(code) -> image``.
      encoder: ``E(image) -> features`` (the space where diversity is measured).
      activation: ``f(image, indices) -> (p,)`` from
        :func:`inverse_set.core.constraints.make_activation_fn`.
      code_low, code_high: bounds on the code (scalars or arrays; ±inf if none).
      code_constraints: constraints computed from the code and its encoding, such
        as :class:`inverse_set.paper.realism.RealismConstraint`, each with ``value(code, φ)``,
        ``band()``, ``label`` and ``advice``; their values are the last columns of f.
    """

    generator: Callable
    encoder: Callable
    activation: Callable
    code_low: Array | float = -jnp.inf
    code_high: Array | float = jnp.inf
    code_constraints: tuple = ()

    def project(self, codes: Array) -> Array:
        """Projection onto the code box (the bound constraints)."""
        return jnp.clip(codes, self.code_low, self.code_high)


def evaluate(problem: Problem, code: Array, indices: ConstraintIndices):
    """``(x, φ, f)`` for one code: the image, its encoding and every constraint (code constraints last).

    Where the image or its encoding holds NaN or Inf, so does f (NaN), even where the target saturates: every solver
    treats such a code as it treats a non-finite activation, and never keeps it."""
    image = problem.generator(code)
    phi, f = jnp.ravel(problem.encoder(image)), problem.activation(image, indices)
    if problem.code_constraints:
        f = jnp.concatenate([f, jnp.stack([c.value(code, phi) for c in problem.code_constraints])])
    finite = jnp.all(jnp.isfinite(image)) & jnp.all(jnp.isfinite(phi))
    return image, phi, jnp.where(finite, f, jnp.nan)


def forward(problem: Problem, codes: Array, indices: ConstraintIndices):
    """``(φ, f)`` for a batch of codes: shapes (K, F) and (K, p), p counting the code constraints."""
    return jax.vmap(lambda code: evaluate(problem, code, indices)[1:])(codes)


def pullback(problem: Problem, codes: Array, indices: ConstraintIndices):
    """Forward pass plus its VJP: returns ``(φ, f), vjp`` with ``vjp((∂L/∂φ, ∂L/∂f)) -> ∂L/∂C``."""
    (phi, f), vjp = jax.vjp(lambda c: forward(problem, c, indices), codes)
    return (phi, f), lambda cotangents: vjp(cotangents)[0]
