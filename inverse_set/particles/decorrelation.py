"""How much a population of particles still remembers where it was copied, and what its samples are worth.

A move leaves the target invariant, but after a resampling the copies of one
particle start at one point: their positions x₀. The lag correlation

    ρ = 1 − E‖x − x₀‖² / (2 Var x)

over the particles is 1 before any move and 0 once x is independent of x₀ with
the same law (then E‖x − x₀‖² = 2 Var x). It is measured over the encodings
E(G(c)) pooled — the space the method measures diversity in — and for each
activation apart, and the largest of these is the population's ``memory``.
Two copies of one particle that each kept a correlation ρ with it are
correlated about ρ², so a family of m copies counts as ``1 + (m − 1) ρ²`` times
fewer independent draws (the design effect), which gives the effective sample
size.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def lag_correlation(start: Array, now: Array, pooled: bool) -> Array:
    """``ρ = 1 − E(x − x₀)² / (2 Var x)`` over the particles: per column, or over all columns pooled (a column with
    no spread has nothing left to forget: 0; a population with none at all, 1)."""
    jump, spread = jnp.mean((now - start) ** 2, axis=0), 2 * jnp.var(now, axis=0)
    if pooled:
        jump, spread = jnp.sum(jump), jnp.sum(spread)
    return jnp.where(spread > 0, 1 - jump / jnp.where(spread > 0, spread, 1.0), 1.0 if pooled else 0.0)


def memory_parts(phi0: Array, f0: Array, phi: Array, f: Array) -> tuple[Array, Array]:
    """ρ over the encodings pooled, and the largest ρ of an activation, ``((), ())``."""
    return lag_correlation(phi0, phi, pooled=True), jnp.max(lag_correlation(f0, f, pooled=False))


def memory(phi0: Array, f0: Array, phi: Array, f: Array) -> Array:
    """How much the particles remember their encodings phi0 and activations f0: the larger of ρ over the encodings
    pooled and the largest ρ of an activation (:func:`memory_parts`)."""
    return jnp.maximum(*memory_parts(phi0, f0, phi, f))


def design_effect(parent: Array, rho: Array, counted: Array, grandparent: Array | None = None,
                  rho_before: Array | float = 0.0) -> Array:
    """``1 + (m̄ − 1) ρ² + (m̄_g − m̄) ρ_b² ρ²``: how much more a mean over the counted particles varies than over as
    many independent draws, for families of copies of one particle (m̄ = Σ m_f² / m: the family size a counted
    particle is in), two of a family correlated about ρ²; with ``grandparent``, the families of the resampling before
    (m̄_g the same over them, ``parent`` nested in them), whose members parted when they still correlated ρ_b² and
    now correlate about ρ_b² ρ² (:func:`lineage_design_effect` with two levels)."""
    if grandparent is None:
        return lineage_design_effect([parent], [rho], counted)
    return lineage_design_effect([parent, grandparent], [rho, rho_before], counted)


def lineage_design_effect(families, memories, counted: Array) -> Array:
    """``1 + Σ_k (m̄_k − m̄_{k−1}) Π_{j≤k} ρ_j²`` (m̄_{−1} = 1): :func:`design_effect` over families nested through
    any number of resamplings. ``families[k]`` (N,) is each particle's family k resamplings back (0: its parent at
    the last; each nested in the next), ``memories[k]`` the lag correlation ρ_k its members had reached with where
    they were copied when they parted (0: the moves since the last resampling; k ≥ 1: the level that ended at the
    resampling k back); m̄_k the family size a counted particle is in. Two particles of one family k resamplings back
    and of two families after it (their lines parted there) correlate about Π_{j≤k} ρ_j²."""
    m = jnp.maximum(jnp.sum(counted), 1)

    def mean_size(family):
        sizes = jnp.zeros(family.shape, jnp.float32).at[family].add(counted.astype(jnp.float32))
        return jnp.sum(jnp.where(counted, sizes[family], 0.0)) / m

    effect, size, correlation = 1.0, 1.0, 1.0
    for family, rho in zip(families, memories):  # the pairs that part at this resampling: wider − size of them each
        correlation = correlation * jnp.maximum(rho, 0.0) ** 2
        wider = mean_size(family)
        effect, size = effect + (wider - size) * correlation, wider
    return jnp.asarray(effect, jnp.float32)


def clustered_variance(hit: Array, cluster: Array) -> Array:
    """The variance of the share of ``hit`` (N,) over N particles in clusters (``cluster``: each particle's, an index
    below N) that may be correlated in any way within a cluster and are independent between clusters (the
    cluster-robust, sandwich estimate ``Σ_c (Σ_{i∈c} (h_i − h̄))² / N²``; for N independent particles it is the
    binomial ``h̄ (1 − h̄) / N``)."""
    n = hit.shape[0]
    deviation = hit.astype(jnp.float32) - jnp.mean(hit)
    sums = jnp.zeros((n,), jnp.float32).at[cluster].add(deviation)
    return jnp.sum(sums ** 2) / n ** 2


def effective_sample_size(parent: Array, rho: Array, is_sample, grandparent: Array | None = None,
                          rho_before: Array | float = 0.0) -> Array:
    """The samples' effective number of independent draws, m / :func:`design_effect`: m samples in families of
    copies of one particle at the last resampling (each its own family for rejection draws), two of a family
    correlated about ρ² (ρ: the population's remaining lag correlation, :func:`memory`; ``parent``: each particle's
    family; ``grandparent``, ``rho_before``: the resampling before's, as :func:`design_effect` takes them)."""
    is_sample = jnp.asarray(is_sample)
    return jnp.sum(is_sample) / design_effect(parent, rho, is_sample, grandparent, rho_before)
