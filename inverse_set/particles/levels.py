"""The levels ``{d ≤ t}``: how far a code lies outside the band, and codes measured against it.

``d(c) = max_k out_k(f(c)) / ε_k`` is how far the activations lie outside the band in band widths (ε = z2 − z1), so
that ``{d ≤ t}`` is the band relaxed by t widths on each side and ``{d ≤ 0}`` the band itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from inverse_set.core.bands import Bands
from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.problem import Problem, forward

Array = jax.Array


def distance(bands: Bands, f: Array) -> Array:
    """``d = max_k out_k / ε_k``: how far f (…, p) lies outside the band in band widths (0 inside)."""
    outside = jnp.maximum(jnp.maximum(bands.z1 - f, f - bands.z2), 0.0)
    return jnp.max(outside / (bands.z2 - bands.z1), axis=-1)


def measure(problem: Problem, indices: ConstraintIndices, bands: Bands, z: Array):
    """``(φ, f, d)`` of a batch of codes; d is ∞ for a code outside the code box (``code_bounds``: the target is the
    prior restricted to the band and the box) or with a non-finite activation (a non-finite image or encoding makes f
    NaN: :func:`inverse_set.core.problem.evaluate`), which no level keeps."""
    phi, f = forward(problem, z, indices)
    d = distance(bands, f)
    in_box = jnp.all(problem.project(z) == z, axis=-1)
    return phi, f, jnp.where(jnp.isfinite(d) & in_box, d, jnp.inf)
