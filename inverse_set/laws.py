"""The law N(μ, Σ) the ladder's moves keep (:mod:`inverse_set.moves`), fitted to each level's own law.

The closer N(μ, Σ) is to the prior restricted to the level, the wider the rotations
about it that stay in the level, and the more often a fresh draw from it is accepted:
the moves forget where they were copied in fewer forward passes. Neither μ nor Σ may
depend on the particle moved, else the moves no longer keep the level's law (the
band's mass came out 37% high on a linear neuron over N(0, I_256)): each is fitted on
the kept codes of the other lines of descent.

* With ``Ladder.subspace`` = k (the default, 8; :func:`subspace_law`): in the span
  of k directions of the neuron's gradients, where alone the band's law departs
  from the prior (Stein's identity), ``Σ = I + W (L Lᵀ − I) Wᵀ``, each half of the
  lines of descent's on the other half's kept codes. Fitted in k dimensions rather
  than d, a fresh draw from it lands in a p95 band 2–3 times as often.
* With ``subspace=0``: μ the mean of the other lines' kept codes (``centre_apart``,
  else of the other particles; shrunk by its noise; 0 before the first level:
  :func:`centre`), and Σ I or, with ``fitted_axis``, I but along μ's direction u,
  where its variance s² is theirs (``Σ = I − (1 − s²) u uᵀ``, :func:`axis_scale`):
  a band lies across the direction its particles sit in, and they spread less
  along it than the prior (s ≈ 0.5 at Sneaker p95).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

from inverse_set.constraints import ConstraintIndices
from inverse_set.problem import Problem, forward

if TYPE_CHECKING:  # the ladder imports the moves, which import this module
    from inverse_set.ladder import Ladder, LadderState

Array = jax.Array


def line_sum(x: Array, lines: Array) -> Array:
    """Each particle's sum of x (N, …) over the particles of its own line of descent ``lines`` (N,)."""
    return jax.ops.segment_sum(x, lines, x.shape[0])[lines]


def centre(z: Array, kept: Array, lines: Array | None = None) -> Array:
    """Each particle's μ, (N, d): the mean of the kept codes but its own, shrunk towards 0 by their sampling noise
    (James–Stein: a mean of m draws of unit variance in d dimensions is off by about d/m in squared norm); with
    ``lines`` (N,), each particle's line of descent, the mean of the kept codes of the other lines.

    Its own code is left out (a particle not kept: none to leave out) so that μ does not depend on the particle it
    moves: with it in, μ·c carries the particle's own ‖c‖²/m (about d/m, as large as ‖μ‖² itself in 256
    dimensions), the Metropolis–Hastings test no longer keeps the prior restricted to the level, and the band's mass
    came out 37% high on a linear neuron over N(0, I_256). Index the result by the particle each copy was made
    from."""
    lines = jnp.arange(z.shape[0]) if lines is None else lines  # the kept codes but those of the particle's line
    own = jnp.where(kept[:, None], z, 0.0)
    others = (jnp.sum(kept) - line_sum(kept.astype(jnp.int32), lines))[:, None]
    mean = (jnp.sum(own, axis=0) - line_sum(own, lines)) / jnp.maximum(others, 1)
    noise = z.shape[-1] / jnp.maximum(others, 1)
    shrink = jnp.maximum(1 - noise / jnp.maximum(jnp.sum(mean ** 2, axis=-1, keepdims=True), 1e-12), 0.0)
    return jnp.where(others > 0, mean * shrink, 0.0)


MIN_AXIS_SCALE, MAX_AXIS_SCALE = 0.2, 2.0  # s's range: a q much narrower than that has heavy weights p / q elsewhere


def direction(mu: Array) -> tuple[Array, Array]:
    """``(‖μ‖, u)``: each centre's norm (m,) and direction (m, d), u = 0 where μ = 0."""
    norm = jnp.sqrt(jnp.sum(mu ** 2, axis=-1))
    return norm, mu / jnp.maximum(norm, 1e-12)[:, None]


def axis_scale(z: Array, kept: Array, mu: Array, lines: Array | None = None) -> Array:
    """Each particle's s, (N,): the spread, along the direction u of its centre μ (:func:`centre`), of the kept codes
    but its own, ``sd_{j ≠ i}(c_j · u)`` (1 where μ = 0 or fewer than two others), within [0.2, 2]; with ``lines``,
    those of the other lines (μ, from them alone, is then one per line). Like μ, it does not depend on the particle
    it moves. From sums over the kept codes, ``S = Σ c_j`` and ``C = Σ c_j c_jᵀ`` (d × d), less the particle's own
    line's share: no N × N products."""
    lines = jnp.arange(z.shape[0]) if lines is None else lines
    k = kept.astype(z.dtype)
    own = z * k[:, None]
    norm, u = direction(mu)
    along = jnp.sum(z * u, axis=-1)  # c_j · u_j, the same u for the whole of a line
    others = jnp.sum(k) - line_sum(k, lines)
    first = (u @ jnp.sum(own, axis=0) - line_sum(k * along, lines)) / jnp.maximum(others, 1)
    second = ((jnp.einsum("id,de,ie->i", u, own.T @ own, u) - line_sum(k * along ** 2, lines))
              / jnp.maximum(others, 1))
    sd = jnp.sqrt(jnp.maximum(second - first ** 2, 0.0))
    return jnp.where((norm > 0) & (others > 1), jnp.clip(sd, MIN_AXIS_SCALE, MAX_AXIS_SCALE), 1.0)


def axis_law(mu: Array, scale: Array) -> tuple[Array, Array]:
    """``(W, L)`` of ``Σ = I − (1 − s²) u uᵀ`` (u: μ's direction, s: ``scale``, (m,)): one axis, W = u (m, d, 1),
    L = s (m, 1, 1), in the form :func:`gaussian_log_weight` and :func:`root_covariance` take."""
    _, u = direction(mu)
    return u[:, :, None], scale[:, None, None]


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
    ``½‖μ‖² − μ·c + ½ (‖L⁻¹ y‖² − ‖y‖²) + log det L``, y = Wᵀ (c − μ). One axis (:func:`axis_law`):
    ``½‖μ‖² − μ·c + ½ (1/s² − 1) ((c − μ)·u)² + log s``."""
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


MIN_VARIANCE, MAX_VARIANCE = MIN_AXIS_SCALE ** 2, MAX_AXIS_SCALE ** 2
SUPPORT = 1e-3  # a direction the gradients span: its singular value above this share of the largest


def axes_count(ladder: Ladder, dim: int) -> int:
    """k, the axes of each particle's Σ: ``ladder.subspace``, at most the code's dimension d (one, u, without)."""
    return max(min(ladder.subspace, dim), 1)


def subspace_law(problem: Problem, indices: ConstraintIndices, ladder: Ladder, z: Array, kept: Array, lines: Array,
                 rng_key: Array) -> tuple[Array, Array, Array, int]:
    """Each code's law N(μ, Σ) fitted inside the span of the neuron's gradients: ``(μ, W, L)``, (N, d), (N, d, k),
    (N, k, k) (:func:`gaussian_log_weight`), and the forward passes it cost.

    The prior restricted to a band, ``N(0, I) · 1[f(c) ∈ B]``, departs from the prior only along the directions f
    varies in: by Stein's identity, ``E[c h(c)] = E[∇h(c)]`` for ``h = 1_B ∘ f`` (divided by the band's mass), its
    mean and its covariance's departure from I lie in the span of the gradients ∇f over the band. So μ and Σ are
    fitted there: W, the top k right singular vectors of ``ladder.gradients`` normalised gradients of f (each
    output's) at kept codes; μ = W m and L Lᵀ = C, the kept codes' mean m and covariance C along W (its eigenvalues
    within [0.04, 4]); Σ = I across W, where the band's law is the prior's. In k dimensions m codes fix them to
    about k/m, where a mean over all d of them is off by d/m: fitted on 200 codes, 2.2–2.9× as many fresh draws are
    accepted as with μ fitted over all d and Σ along μ alone (Sneaker, Dress and T-shirt p95: 0.14–0.22 against
    0.05–0.09, ``benchmarks/fitted_law.py``). Directions the gradients do not span (a linear neuron's all but
    one) keep Σ = I and μ = 0. The lines of descent are dealt into two halves (``lines`` mod 2), and each half's
    law is fitted on the other half's kept codes alone: no particle's law depends on its own line."""
    n, dim = z.shape
    k, g = axes_count(ladder, dim), min(ladder.gradients, n)
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
    return mu, axes, root, fit_cost(ladder, n, outputs)


def fit_cost(ladder: Ladder, n: int, outputs: int) -> int:
    """The forward passes one fit of :func:`subspace_law` costs N = n codes with f of ``outputs`` outputs: two
    halves' g gradients of each output, about three forward passes each (0 without ``subspace``)."""
    return 2 * min(ladder.gradients, n) * 3 * outputs if ladder.subspace else 0


def rotation_law(problem: Problem, indices: ConstraintIndices, ladder: Ladder, z: Array, kept: Array, source: Array,
                 state: LadderState, lines: Array | None = None) -> dict:
    """The moves' centres μ and Σ's axes and roots (W, L: :func:`gaussian_log_weight`) from the kept codes z, each
    particle's those of the code it is a copy of (``source``): with ``ladder.subspace``, fitted in the gradients' span
    (:func:`subspace_law`; its gradients' passes are added to the state's), else μ over every direction
    (:func:`centre`) and Σ along μ alone (:func:`axis_scale`; s = 1 where the spread is not fitted); the state's own
    where the moves are not centred. ``lines``: each code's line of descent, which the law leaves out (None: each
    code its own)."""
    if not ladder.centred:
        return {"centre": state.centre, "axes": state.axes, "root": state.root,
                "start_along": along(z[source], state.centre)}
    if ladder.subspace:
        lines = jnp.arange(z.shape[0]) if lines is None else lines
        key = jax.random.fold_in(state.rng_key, 7)
        mu, axes, root, cost = subspace_law(problem, indices, ladder, z, kept, lines, key)
        return {"centre": mu[source], "axes": axes[source], "root": root[source],
                "start_along": along(z[source], mu[source]), "forward_passes": state.forward_passes + cost}
    lines = lines if ladder.centre_apart else None
    mu = centre(z, kept, lines)
    scale = axis_scale(z, kept, mu, lines) if ladder.fitted_axis else jnp.ones(mu.shape[:1], mu.dtype)
    axes, root = axis_law(mu[source], scale[source])
    return {"centre": mu[source], "axes": axes, "root": root, "start_along": along(z[source], mu[source])}


def along(z: Array, mu: Array) -> Array:
    """Each code's coordinate along its centre's direction u, ``z · u`` (m,) (0 where μ = 0)."""
    return jnp.sum(z * direction(mu)[1], axis=-1)
