"""Bands ``z1 ≤ f ≤ z2`` and the one path they take through a run.

A band goes, in one place each:

1. **given** — float64, one pair per neuron, checked by :func:`inverse_set.checks.check_bands`;
   :func:`with_code_constraints` appends the code constraints' own bands (e.g. realism's ``[−τ, τ]``);
2. **solver** — :func:`for_solver`: float32 (the precision activations are computed in),
   every edge rounded *inward*, so an activation the solvers accept lies in the band as given;
3. **recheck** — every returned sample's activations, recomputed from its image, are tested
   with :func:`in_band` against the float64 bands of step 1.

:class:`Bands` is the traced form the solvers work with (a new band never recompiles).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def in_band(f, z1, z2):
    """Whether every constraint of ``f`` (…, p) lies in its band ``[z1, z2]``; shape (…). NumPy or JAX arrays.

    The one membership test of the package: the solvers, the final recheck, the
    baselines and the benchmark all use it.
    """
    return ((f >= z1) & (f <= z2)).all(axis=-1)


class Bands(NamedTuple):
    """Bands ``z1 ≤ f ≤ z2`` for p constraints (traced, so a new band never recompiles)."""

    z1: Array  # (p,)
    z2: Array  # (p,)

    def inner(self, margin: float) -> Bands:
        """The inner band ``[z1 + m ε, z2 − m ε]`` with ε = z2 − z1 (the paper's ε0 = ε/2 idea)."""
        eps = self.z2 - self.z1
        return Bands(self.z1 + margin * eps, self.z2 - margin * eps)

    def contains(self, f: Array) -> Array:
        """Whether every constraint of ``f`` (…, p) lies in the band; shape (…)."""
        return in_band(f, self.z1, self.z2)

    def excess(self, f: Array) -> Array:
        """How far ``f`` (…, p) is outside the band, in band widths, summed over constraints; 0 inside."""
        outside = jnp.maximum(jnp.maximum(self.z1 - f, f - self.z2), 0.0)
        return jnp.sum(outside / (self.z2 - self.z1), axis=-1)


def with_code_constraints(z1, z2, code_constraints) -> tuple[np.ndarray, np.ndarray]:
    """Every column's band in float64: the neurons' ``(…, p)`` bands, then the code constraints' (step 1)."""
    edges = np.array([c.band() for c in code_constraints], np.float64).reshape(-1, 2)
    pad = lambda z, extra: np.concatenate([z, np.broadcast_to(extra, z.shape[:-1] + extra.shape)], -1)
    return pad(np.asarray(z1, np.float64), edges[:, 0]), pad(np.asarray(z2, np.float64), edges[:, 1])


def for_solver(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """The float32 bands the solvers work with: every edge of the float64 ``lo, hi`` rounded *inward* (step 2)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    lo32, hi32 = lo.astype(np.float32), hi.astype(np.float32)
    lo32 = np.where(lo32 < lo, np.nextafter(lo32, np.float32(np.inf)), lo32)
    hi32 = np.where(hi32 > hi, np.nextafter(hi32, np.float32(-np.inf)), hi32)
    return lo32, hi32
