"""Diversity terms of eq. 5, 6 and 10, written as energies to *minimise*.

For the K walkers' encodings ``φ_i = E(G(c_i))`` and the encodings ``φ_y`` of the
reference samples ``C₀`` (the last kept batch, or every sample kept so far), an
energy is

.. math::

    D(Φ; Φ_0) = \\underset{i \\ne j}{\\operatorname{mean}}\\; e(φ_i, φ_j)
              + \\underset{i,\\, y \\in C_0}{\\operatorname{mean}}\\; e(φ_i, φ_y).

* ``"squared"`` (the paper): ``e = −‖φ_i − φ_j‖²``, i.e. maximise the sum of
  squared distances. Means instead of the paper's sums keep the scale independent
  of K and |C₀|; the two differ only by the weight γ.
* ``"rbf"``: ``e = exp(−‖φ_i − φ_j‖² / h)`` with the median heuristic
  ``h = median(‖φ_i − φ_j‖²) / log(K + 1)`` (held constant in the gradient), a
  bounded kernel that repels near neighbours and ignores far ones.

Each energy takes ``(phi (K, F), ref (R, F), ref_mask (R,))`` and returns a scalar.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def pairwise_sq_dists(a: Array, b: Array) -> Array:
    """``‖a_i − b_j‖²`` for all pairs, shape (len(a), len(b))."""
    return jnp.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)


def _masked_mean(x: Array, mask: Array) -> Array:
    return jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def _two_terms(phi: Array, ref: Array, ref_mask: Array, pair_energy: Callable) -> Array:
    """Mean energy over walker pairs i ≠ j plus mean energy to the masked references."""
    k = phi.shape[0]
    within = pair_energy(pairwise_sq_dists(phi, phi))
    off_diagonal = ~jnp.eye(k, dtype=bool)
    to_ref = pair_energy(pairwise_sq_dists(phi, ref))
    ref_pairs = jnp.broadcast_to(ref_mask[None, :], to_ref.shape)
    return _masked_mean(within, off_diagonal) + _masked_mean(to_ref, ref_pairs)


def squared(phi: Array, ref: Array, ref_mask: Array) -> Array:
    """Paper's diversity: ``−mean ‖φ_i − φ_j‖² − mean ‖φ_i − φ_y‖²``."""
    return _two_terms(phi, ref, ref_mask, lambda d2: -d2)


def rbf(phi: Array, ref: Array, ref_mask: Array) -> Array:
    """Bounded kernel: ``mean exp(−‖φ_i − φ_j‖²/h) + mean exp(−‖φ_i − φ_y‖²/h)``, median h."""
    k = phi.shape[0]
    d2 = jax.lax.stop_gradient(pairwise_sq_dists(phi, phi))
    median = jnp.nan_to_num(jnp.nanmedian(jnp.where(jnp.eye(k, dtype=bool), jnp.nan, d2)), nan=1.0)
    h = jnp.maximum(median / jnp.log(k + 1.0), 1e-12)
    return _two_terms(phi, ref, ref_mask, lambda d2_: jnp.exp(-d2_ / h))


ENERGIES: dict[str, Callable] = {"squared": squared, "rbf": rbf}
