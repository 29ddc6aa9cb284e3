"""The ladder's move: one forward pass of every particle that leaves the prior restricted to a level invariant.

A move rotates a particle on the ellipse through it and a fresh step ``Σ^½ ν``
(ν ~ N(0, I)) about a centre μ, ``c' = μ + (c − μ) cos θ + Σ^½ ν sin θ``, and keeps
c' if it lies in the level and passes the Metropolis–Hastings test of the prior's
ratio w = p / N(μ, Σ), ``u < w(c') / w(c)``: the rotation keeps N(μ, Σ) × N(0, Σ)
and θ's law is symmetric, so the move leaves the prior restricted to the level
invariant (preconditioned Crank–Nicolson, Cotter et al. 2013, about N(μ, Σ)). N(μ, Σ)
is fitted to the level's own law, and does not depend on the particle it moves
(:mod:`inverse_set.laws`: by default in the span of the neuron's gradients).

A share ``independent_share`` of the moves draw c' afresh (θ = π/2: an independence
sampler, accepted about one time in fifteen in a p95 band with μ and Σ fitted along
μ alone, one in five in the gradients' span, each acceptance forgetting c) from
N(μ, Σ), or, a share ``isotropic_share`` of them, from N(μ, I), or, a share
``defensive_share``, from the prior itself (the ratio p / q that decides them:
:func:`log_weight`); the band's mass is estimated from the draws of N(μ, I) and the
prior alone (:func:`mass_shares`); the others θ ~ U(−h, h) with h following their
acceptance rate towards ``acceptance`` (× ``exp(adaptation · (rate − acceptance))``
after each move, as adaptive SMC tunes its kernels), except a share ``along_share``
of them (with ``subspace=0``), which redraw only c's coordinate along u from
N(μ, Σ)'s law there and keep the rest of c (θ = π/2 along u, 0 across it: N(μ, Σ)
is its law along u times its law across, so the same test decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

from inverse_set.bands import Bands
from inverse_set.constraints import ConstraintIndices
from inverse_set.decorrelation import design_effect, lag_correlation, memory
from inverse_set.laws import along, direction, gaussian_log_weight, identity_root, root_covariance
from inverse_set.problem import Problem, forward

if TYPE_CHECKING:  # the ladder imports this module
    from inverse_set.ladder import Ladder, LadderState

Array = jax.Array
MIN_ANGLE = 1e-4  # h's floor: a band so narrow that even this is rarely accepted ends at the most moves


def distance(bands: Bands, f: Array) -> Array:
    """``d = max_k out_k / ε_k``: how far f (…, p) lies outside the band in band widths (0 inside)."""
    outside = jnp.maximum(jnp.maximum(bands.z1 - f, f - bands.z2), 0.0)
    return jnp.max(outside / (bands.z2 - bands.z1), axis=-1)


def along_memory(state: LadderState, z: Array) -> Array:
    """The lag correlation of the codes' coordinate along their centre's direction, from the last resampling to z, ()."""
    return lag_correlation(state.start_along[:, None], along(z, state.centre)[:, None], pooled=False)[0]


def remembered(ladder: Ladder, state: LadderState, z: Array, phi: Array, f: Array) -> Array:
    """ρ, what the particles remember of the last resampling (:func:`inverse_set.decorrelation.memory`); with
    ``watch_along``, also :func:`along_memory`, the slowest coordinate to forget (``benchmarks/code_law.py``)."""
    rho = memory(state.start_phi, state.start_f, phi, f)
    return jnp.maximum(rho, along_memory(state, z)) if ladder.watch_along else rho


def evaluate(problem: Problem, indices: ConstraintIndices, bands: Bands, z: Array):
    """``(φ, f, d)`` of a batch of codes; d is ∞ for a code outside the code box (``code_bounds``: the target is the
    prior restricted to the band and the box) or with a non-finite activation, which no level keeps."""
    phi, f = forward(problem, z, indices)
    d = distance(bands, f)
    in_box = jnp.all(problem.project(z) == z, axis=-1)
    return phi, f, jnp.where(jnp.isfinite(d) & in_box, d, jnp.inf)


def log_weight(ladder: Ladder, mu: Array, axes: Array, root: Array, c: Array, shares: tuple | None = None) -> Array:
    """``log p(c) / q(c)``, (m,): the prior's ratio to the law the fresh draws come from, the mixture
    ``q = α N(0, I) + (1 − α) (β N(μ, I) + (1 − β) N(μ, Σ))`` (α = ``defensive_share``, Hesterberg 1995; β =
    ``isotropic_share``; Σ as in :func:`inverse_set.laws.gaussian_log_weight`), or another mixture of the three
    with ``shares``.
    Where N(μ, Σ) is far below the prior, its ratio ``p / N(μ, Σ)`` is unbounded; the ratio here is at most 1/α."""
    alpha, beta = ladder.defensive_share, ladder.isotropic_share
    shares = (alpha, (1 - alpha) * beta, (1 - alpha) * (1 - beta)) if shares is None else shares
    parts = (jnp.zeros(c.shape[:1], c.dtype),  # log N(0, I) / p
             -gaussian_log_weight(mu, axes, identity_root(root), c),  # log N(μ, I) / p
             -gaussian_log_weight(mu, axes, root, c))  # log N(μ, Σ) / p
    return -jax.nn.logsumexp(jnp.stack([jnp.log(a) + part for a, part in zip(shares, parts) if a > 0]), axis=0)


def mass_shares(ladder: Ladder) -> tuple | None:
    """The law of the fresh draws the band's mass is estimated from, as shares of N(0, I), N(μ, I), N(μ, Σ) (None:
    none). With the fitted axis, those from the prior or N(μ, I) only: from N(μ, Σ), narrower than the prior along
    u, the weights p / q have an infinite variance where s² < ½, and the mass ran 0.5–0.75× rejection's at Sandal
    p95 (``benchmarks/results/independence_report_fitted_axis.md``; 0.79–0.86× at the climbing report cells with half
    the draws from N(μ, I) in q: ``…_isotropic_share.md``); from N(μ, I) alone, within rejection's interval on all 8
    report cells it can check (``…_mass_draws.md``)."""
    alpha, beta = ladder.defensive_share, ladder.isotropic_share
    if not ladder.fitted_axis:
        return alpha, 1 - alpha, 0.0  # Σ = I: N(μ, Σ) is N(μ, I)
    kept = alpha + (1 - alpha) * beta
    return (alpha / kept, (1 - alpha) * beta / kept, 0.0) if kept > 0 else None


def propose(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, z: Array, mu: Array,
            axes: Array, root: Array, angle: Array, threshold: Array, rng_key: Array, scales: int = 1):
    """One move of each code z (m, d) about its centre mu (m, d), its law's axes and root along them ``axes``
    (m, d, k), ``root`` (m, k, k) (Σ as in :func:`inverse_set.laws.gaussian_log_weight`), evaluated and accepted or
    not: ``(accept, rotated, counted, z', φ', f', d', weight)``, one forward pass of the m codes. ``rotated``: the
    local rotations, whose acceptance h is tuned on; ``counted``: the proposals drawn afresh from the mixture q
    (:func:`log_weight`) the band's mass is estimated from (:func:`mass_shares`), ``weight`` their importance
    weight p / q_mass where c' is in the band, else 0. With ``scales`` > 1 the local
    rotations' largest angle is h / 2^j, j uniform in 0 … scales − 1 (a fixed mixture of symmetric laws: still a
    valid move, and one that frees a particle where every wide rotation leaves the level)."""
    k_nu, k_theta, k_u, k_mh, k_scale = jax.random.split(rng_key, 5)
    nu = jax.random.normal(k_nu, z.shape, z.dtype)
    shrink = 0.5 ** jax.random.randint(k_scale, z.shape[:1], 0, scales).astype(z.dtype)
    theta = jax.random.uniform(k_theta, z.shape[:1], z.dtype, -1.0, 1.0) * angle * shrink
    far = jax.random.uniform(k_u, theta.shape) < ladder.independent_share  # c' ~ q afresh
    from_prior = jax.random.uniform(jax.random.fold_in(k_u, 1), theta.shape) < ladder.defensive_share
    isotropic = jax.random.uniform(jax.random.fold_in(k_u, 2), theta.shape) < ladder.isotropic_share
    norm, u = direction(mu)
    along_u = ~far & (norm > 0) & (jax.random.uniform(jax.random.fold_in(k_u, 3), theta.shape) < ladder.along_share)
    step = root_covariance(axes, root, nu)  # ~ N(0, Σ)
    local = mu + (z - mu) * jnp.cos(theta)[:, None] + step * jnp.sin(theta)[:, None]
    # along u, θ = π/2 and across it θ = 0: c's coordinate along u drawn afresh from N(μ, Σ)'s, the rest kept
    redrawn = z + jnp.sum((mu + step - z) * u, axis=-1, keepdims=True) * u
    fresh = jnp.where(from_prior[:, None], nu, mu + jnp.where(isotropic[:, None], nu, step))  # ~ q
    z_new = jnp.where(far[:, None], fresh, jnp.where(along_u[:, None], redrawn, local))
    phi_new, f_new, d_new = evaluate(problem, indices, bands, z_new)
    # a rotation keeps N(μ, Σ) (so does the redraw along u: Σ's axis, N(μ, Σ) = its law along u × across), and the
    # prior's ratio to it decides; a fresh draw from q, the ratio p / q (Metropolis–Hastings, an independence sampler)
    log_ratio = jnp.where(far, log_weight(ladder, mu, axes, root, z_new) - log_weight(ladder, mu, axes, root, z),
                          gaussian_log_weight(mu, axes, root, z_new) - gaussian_log_weight(mu, axes, root, z))
    accept = (d_new <= threshold) & (jnp.log(jax.random.uniform(k_mh, d_new.shape)) < log_ratio)
    shares = mass_shares(ladder)
    if shares is None:  # no draw whose law suits the mass
        counted, weight = jnp.zeros_like(far), jnp.zeros_like(theta)
    else:
        counted = far & (from_prior | isotropic) if ladder.fitted_axis else far
        weight = jnp.where(counted & (d_new <= 0), jnp.exp(log_weight(ladder, mu, axes, root, z_new, shares)), 0.0)
    return accept, ~far & ~along_u, counted, z_new, phi_new, f_new, d_new, weight


def move(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, state: LadderState,
         threshold: Array) -> LadderState:
    """One move of every particle restricted to ``{d ≤ threshold}`` (:func:`propose`), one forward pass; then h
    moves towards the acceptance rate ``ladder.acceptance``."""
    key, k_move = jax.random.split(state.rng_key)
    accept, rotated, counted, z_new, phi_new, f_new, d_new, weight = propose(
        problem, indices, bands, ladder, state.z, state.centre, state.axes, state.root, state.angle, threshold, k_move)
    pick = lambda new, old: jnp.where(accept[:, None], new, old)  # noqa: E731
    z, f, phi = pick(z_new, state.z), pick(f_new, state.f), pick(phi_new, state.phi)
    local_rate = jnp.sum(accept & rotated) / jnp.maximum(jnp.sum(rotated), 1)  # h is tuned on the rotations
    # in the band itself, the counted fresh draws estimate its mass by importance sampling (weights p / q_mass)
    own = (threshold <= 0) & (ladder.independent_share > 0)
    angle = state.angle * jnp.exp(ladder.adaptation * (local_rate - ladder.acceptance))
    return state._replace(z=z, f=f, phi=phi, distance=jnp.where(accept, d_new, state.distance),
                          moved=state.moved | accept, angle=jnp.clip(angle, MIN_ANGLE, jnp.pi), rng_key=key,
                          memory=remembered(ladder, state, z, phi, f), moves=state.moves + 1,
                          forward_passes=state.forward_passes + z.shape[0],
                          far_draws=state.far_draws + jnp.where(own, jnp.sum(counted), 0),
                          far_weight=state.far_weight + jnp.where(own, jnp.sum(weight), 0.0),
                          far_weight_sq=state.far_weight_sq + jnp.where(own, jnp.sum(weight ** 2), 0.0))


REPEAT_SCALES = 5  # a repeat's local rotations: h, h/2, … h/16


def move_repeats(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, state: LadderState,
                 batch: int) -> LadderState:
    """One move in the band of the particles that have not moved since they were copied (repeats), at most
    ``batch`` of them: one forward pass of ``batch`` codes, not N. Once the population has forgotten its parents,
    the last few copies stuck where the rotations rarely stay in the band would otherwise cost a pass of all N
    particles each (one such copy took 40 moves of 500 at Ankle boot p99.9); the others are not moved. Their
    rotations' angle is drawn at several scales (:func:`propose`); h is not tuned on them, and their fresh draws
    are left out of the band's mass."""
    n = state.z.shape[0]
    rows = jnp.argsort(state.moved, stable=True)[:min(batch, n)]  # the repeats first
    key, k_move = jax.random.split(state.rng_key)
    accept, _, _, z_new, phi_new, f_new, d_new, _ = propose(
        problem, indices, bands, ladder, state.z[rows], state.centre[rows], state.axes[rows], state.root[rows],
        state.angle, jnp.asarray(0.0), k_move, scales=REPEAT_SCALES)
    rows = jnp.where(accept & ~state.moved[rows], rows, n)  # index n is out of bounds: dropped
    put = lambda a, b: a.at[rows].set(b, mode="drop")  # noqa: E731
    z, f, phi = put(state.z, z_new), put(state.f, f_new), put(state.phi, phi_new)
    return state._replace(z=z, f=f, phi=phi, distance=put(state.distance, d_new),
                          moved=state.moved.at[rows].set(True, mode="drop"), rng_key=key,
                          memory=remembered(ladder, state, z, phi, f), moves=state.moves + 1,
                          forward_passes=state.forward_passes + rows.shape[0])


def families_effect(state: LadderState, counted: Array) -> Array:
    """The design effect (:func:`inverse_set.decorrelation.design_effect`) of the counted particles' families at the
    last two resamplings: two copies of one parent correlated ρ², two of one grandparent (parted a level earlier,
    correlated ρ_before² then) ρ_before² ρ²."""
    return design_effect(state.parent, state.memory, counted, state.grandparent, state.parent_memory)


def decorrelated(ladder: Ladder, state: LadderState) -> Array:
    """Whether the particles in the band have forgotten their parents enough (at least ``final_moves`` moves): ρ at
    most ρ*, or their effective sample size at least ``effective_share`` × N (:func:`families_effect`). In a round
    after the first (``chained``: each particle starts from its own last sample, no family of copies), ρ alone."""
    n = state.z.shape[0]
    worth = n / families_effect(state, jnp.ones((n,), bool))
    return (state.moves >= ladder.final_moves) & ((state.memory <= ladder.decorrelation)
                                                  | ((worth >= ladder.effective_share * n) & ~state.chained))


def settled(ladder: Ladder, state: LadderState) -> Array:
    """Whether the particles in the band need no more moves: independent draws (rejection's, before any round), or
    :func:`decorrelated` with no repeat left, or at ``max_final_moves``."""
    ready = decorrelated(ladder, state) & jnp.all(state.moved)
    return (state.by_rejection & ~state.chained) | ready | (state.moves >= ladder.max_final_moves)


def advance(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder,
            state: LadderState) -> LadderState:
    """One move in the band (the walk's step): of the whole population until it is :func:`decorrelated`, then of
    the repeats left only (:func:`inverse_set.moves.move_repeats`)."""
    zero = jnp.asarray(0.0, jnp.float32)
    return jax.lax.cond(decorrelated(ladder, state),
                        lambda s: move_repeats(problem, indices, bands, ladder, s, ladder.repeat_batch),
                        lambda s: move(problem, indices, bands, ladder, s, zero), state)
