"""The law N(μ, Σ) the ladder's moves keep (:mod:`inverse_set.particles.moves`), fitted to each level's own law.

The closer N(μ, Σ) is to the prior restricted to the level, the wider the rotations
about it that stay in the level, and the more often a fresh draw from it is accepted:
the moves forget where they were copied in fewer forward passes. Neither μ nor Σ may
depend on the particle moved, else the moves no longer keep the level's law (the
band's mass came out 37% high on a linear neuron over N(0, I_256)): each is fitted on
the kept codes of the other lines of descent.

The law is fitted in the span of k = ``AXES`` directions of the neuron's gradients,
where alone the band's law departs from the prior (Stein's identity):
``Σ = I + W (L Lᵀ − I) Wᵀ``, each half of the lines of descent's on the other half's
kept codes (:func:`subspace_law`; docs/decisions/ has the variants it replaced).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.problem import Problem, forward
from inverse_set.particles.state import AXES, GRADIENTS, LadderState, MovesLaw

Array = jax.Array


def forward_substitution(root: Array, y: Array) -> Array:
    """``L⁻¹ y`` for lower-triangular L (m, k, k) and y (m, k), row by row (k is small: the law's axes). Written out
    rather than through ``solve_triangular``: its batched LAPACK call, inside the ladder's loops over N ≥ 4500
    particles, left XLA's CPU runtime waiting forever with every thread idle (jax 0.10.2, 2 cores; 4000 ran)."""
    x = []
    for i in range(y.shape[-1]):
        done = sum((root[:, i, j] * x[j] for j in range(i)), jnp.zeros_like(y[:, i]))
        x.append((y[:, i] - done) / root[:, i, i])
    return jnp.stack(x, axis=-1) if x else y


def gaussian_log_weight(mu: Array, axes: Array, root: Array, c: Array) -> Array:
    """``log N(c; 0, I) / N(c; μ, Σ)``, (m,), with ``Σ = I + W (L Lᵀ − I) Wᵀ`` (W = ``axes`` (m, d, k), orthonormal
    columns or zero; L = ``root`` (m, k, k), lower triangular): the prior's ratio to the law the moves rotate about,
    ``½‖μ‖² − μ·c + ½ (‖L⁻¹ y‖² − ‖y‖²) + log det L``, y = Wᵀ (c − μ)."""
    y = jnp.einsum("mdk,md->mk", axes, c - mu)
    whitened = forward_substitution(root, y)
    log_det = jnp.sum(jnp.log(jnp.diagonal(root, axis1=-2, axis2=-1)), axis=-1)
    return (0.5 * jnp.sum(mu ** 2, axis=-1) - jnp.sum(mu * c, axis=-1)
            + 0.5 * (jnp.sum(whitened ** 2, axis=-1) - jnp.sum(y ** 2, axis=-1)) + log_det)


def root_covariance(axes: Array, root: Array, nu: Array) -> Array:
    """``Σ^½ ν`` for Σ as in :func:`gaussian_log_weight`: ν's part in the span of W drawn through L, (m, d)."""
    y = jnp.einsum("mdk,md->mk", axes, nu)
    return nu + jnp.einsum("mdk,mk->md", axes, jnp.einsum("mkj,mj->mk", root, y) - y)


def identity_root(root: Array) -> Array:
    """L = I of root's shape: N(μ, I)."""
    return jnp.broadcast_to(jnp.eye(root.shape[-1], dtype=root.dtype), root.shape)


MIN_VARIANCE, MAX_VARIANCE = 0.04, 4.0  # Σ's eigenvalues along W: a q much narrower than p has heavy weights p / q
SUPPORT = 1e-3  # a direction the gradients span: its singular value above this share of the largest


def axes_count(dim: int) -> int:
    """k, the axes of each particle's Σ: ``AXES``, at most the code's dimension d."""
    return max(min(AXES, dim), 1)


def subspace_law(problem: Problem, indices: ConstraintIndices, z: Array, kept: Array, lines: Array,
                 rng_key: Array) -> tuple[Array, Array, Array, int]:
    """Each code's law N(μ, Σ) fitted inside the span of the neuron's gradients: ``(μ, W, L)``, (N, d), (N, d, k),
    (N, k, k) (:func:`gaussian_log_weight`), and the forward passes it cost.

    The prior restricted to a band, ``N(0, I) · 1[f(c) ∈ B]``, departs from the prior only along the directions f
    varies in: by Stein's identity, ``E[c h(c)] = E[∇h(c)]`` for ``h = 1_B ∘ f`` (divided by the band's mass), its
    mean and its covariance's departure from I lie in the span of the gradients ∇f over the band. So μ and Σ are
    fitted there: W, the top k right singular vectors of g = ``GRADIENTS`` normalised gradients of f (each
    output's) at kept codes; μ = W m and L Lᵀ = C, the kept codes' mean m and covariance C along W (its eigenvalues
    within [0.04, 4]); Σ = I across W, where the band's law is the prior's. In k dimensions m codes fix them to
    about k/m, where a mean over all d of them is off by d/m (docs/decisions/0004). Directions the gradients do not
    span (a linear neuron's all but one) keep Σ = I and μ = 0. The lines of descent are dealt into two halves (``lines`` mod 2), and each half's
    law is fitted on the other half's kept codes alone: no particle's law depends on its own line."""
    n, dim = z.shape
    k, g = axes_count(dim), min(GRADIENTS, n)
    half = lines % 2
    jacobian = jax.vmap(jax.jacrev(lambda c: forward(problem, c[None], indices)[1][0]))
    eye = jnp.eye(k, dtype=z.dtype)

    def fitted(other, key):
        mask = kept & (half == other)
        pick = jnp.argsort(jnp.where(mask, jax.random.uniform(key, (n,)), 2.0))[:g]
        rows = jacobian(z[pick])  # (g, p, d)
        rows = rows / jnp.maximum(jnp.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)
        rows = jnp.where(mask[pick][:, None, None] & jnp.isfinite(rows), rows, 0.0).reshape(-1, dim)
        rows = jnp.pad(rows, ((0, max(k - rows.shape[0], 0)), (0, 0)))  # fewer gradients than axes: none there
        _, values, vt = jnp.linalg.svd(rows, full_matrices=False)
        support = values[:k] > SUPPORT * values[0]
        axes = vt[:k].T * support  # (d, k): zero where no gradient points
        weight = mask.astype(z.dtype)
        m = jnp.sum(weight)
        y = z @ axes
        mean = weight @ y / jnp.maximum(m, 1)
        cov = ((y - mean).T * weight) @ (y - mean) / jnp.maximum(m - 1, 1)
        cov = jnp.where(support[:, None] & support[None, :] & (m > k + 1), cov, eye)
        values, vectors = jnp.linalg.eigh(cov)
        cov = (vectors * jnp.clip(values, MIN_VARIANCE, MAX_VARIANCE)) @ vectors.T
        return axes @ mean, axes, jnp.linalg.cholesky(cov)

    k_even, k_odd = jax.random.split(rng_key)
    laws = [fitted(1, k_even), fitted(0, k_odd)]  # the even lines' law from the odd lines' codes, and back
    mu, axes, root = (jnp.where(half.reshape((n,) + (1,) * even.ndim) == 0, even, odd) for even, odd in zip(*laws))
    outputs = jax.eval_shape(lambda c: forward(problem, c, indices)[1], z[:1]).shape[-1]
    return mu, axes, root, fit_cost(n, outputs)


def fit_cost(n: int, outputs: int) -> int:
    """The forward passes one fit of :func:`subspace_law` costs N = n codes with f of ``outputs`` outputs: two
    halves' g gradients of each output, about three forward passes each."""
    return 2 * min(GRADIENTS, n) * 3 * outputs


def rotation_law(problem: Problem, indices: ConstraintIndices, z: Array, kept: Array, source: Array,
                 state: LadderState, lines: Array | None = None) -> tuple[MovesLaw, int]:
    """The moves' law for each particle, fitted on the kept codes z (:func:`subspace_law`), each particle's that of
    the code it is a copy of (``source``): its centre μ, Σ's axes W and root L (the angle h kept), and the forward
    passes the fit cost. ``lines``: each code's line of descent, which its law leaves out (None: each code its
    own)."""
    lines = jnp.arange(z.shape[0]) if lines is None else lines
    key = jax.random.fold_in(state.rng_key, 7)
    mu, axes, root, cost = subspace_law(problem, indices, z, kept, lines, key)
    return state.law._replace(centre=mu[source], axes=axes[source], root=root[source]), cost
