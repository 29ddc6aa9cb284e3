"""A walk that samples the generator's prior restricted to the band: elliptical slice sampling.

For a generator whose codes have the prior N(0, I) (a Gaussian-latent generator,
or a flow prior in front of one), the inverse set has a natural distribution:
the prior restricted to the band, ``p(c) ∝ N(c; 0, I) · 1[z1 ≤ f(G(c)) ≤ z2]``.
Elliptical slice sampling (Murray, Adams & MacKay 2010) samples it exactly, with
the band as a hard constraint and no step size to tune. From the seeds (which
are in band), each of the K walkers runs its own chain:

1. draw ν ~ N(0, σ² I) and θ ~ U(0, 2π); the bracket is [θ − 2π, θ];
2. propose c' = c cos θ + ν sin θ (a point on the ellipse through c and ν);
3. if c' is inside every band (and new), it is the next sample and the chain's
   state: go to 1; else shrink the bracket towards 0 on θ's side, draw θ in it
   and go to 2.

The proposals stay on the prior's ellipse, so the samples keep the prior's
typical norm (they look like the generator's own samples) and, as the chains
go on, cover the inverse set as rejection sampling from the prior would —
without its cost when the prior rarely reaches the band. Each loop iteration
is one *forward* pass for the K proposals (no gradient).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from inverse_set.core.field_checks import check_options
from inverse_set.core.loop import Evaluations, WalkStatus
from inverse_set.core.problem import forward
from inverse_set.paper.seeds import SeedState
from inverse_set.walks import WalkContext, buffer, finite_rows

Array = jax.Array

MIN_BRACKET = 1e-4  # a bracket narrower than this (radians) is given up for a fresh ellipse


@dataclass(frozen=True)
class EllipticalSliceWalk:
    """Settings of the elliptical-slice walk (for a search variable whose prior is N(0, I)).

    Attributes:
      max_steps: loop iterations (one forward pass each); ``None``: 60 × ⌈(n − K)/K⌉ + 200.
      max_stall_steps: stop when no walker has produced a new sample for this many iterations.
      prior_scale: σ of the prior N(0, σ² I) sampled (1: the generator's own prior;
        below 1 a tempered prior, its samples more typical and less varied).
    """

    max_steps: int | None = None
    max_stall_steps: int = 200
    prior_scale: float = 1.0

    keeps_encodings = False  # no repulsion: the kept samples' encodings are not needed
    description = "elliptical slice sampling of the N(0, I) prior restricted to the band"
    longer = "a larger max_steps or max_stall_steps"  # what lets it run longer (the incomplete-sample warning says it)

    def __post_init__(self):
        check_options(self, positive=("prior_scale",), counts=("max_stall_steps",), optional_counts=("max_steps",))

    def budget(self, n: int, k: int) -> int:
        return self.max_steps if self.max_steps is not None else 60 * -(-(n - k) // k) + 200

    def init(self, ctx: WalkContext, seeds: SeedState, rng_key) -> SliceState:
        return init(self, ctx, seeds, rng_key)

    def step(self, ctx: WalkContext, state: SliceState) -> tuple[SliceState, Evaluations]:
        return step(self, ctx, state)


class SliceState(NamedTuple):
    codes: Array  # the chains' states, (K, d)
    buffer: buffer.Buffer  # the kept samples
    proposal: Array  # c cos θ + ν sin θ, evaluated at the next step, (K, d)
    nu: Array  # ν, (K, d)
    theta: Array  # θ, (K,)
    low: Array  # the bracket [low, high] of θ, (K,)
    high: Array
    rng_key: Array
    num_non_finite: Array  # proposals rejected for NaN/Inf activations or encodings
    step: Array  # loop iterations (one forward pass of K proposals each)
    status: Array  # WalkStatus


def _fresh(rng_key, codes, scale):
    """A new ellipse per walker: ν ~ N(0, σ² I), θ ~ U(0, 2π), bracket [θ − 2π, θ]."""
    k_nu, k_theta = jax.random.split(rng_key)
    nu = scale * jax.random.normal(k_nu, codes.shape, codes.dtype)
    theta = jax.random.uniform(k_theta, codes.shape[:1], codes.dtype, 0.0, 2 * jnp.pi)
    return nu, theta, theta - 2 * jnp.pi, theta


def init(walk: EllipticalSliceWalk, ctx: WalkContext, seeds: SeedState, rng_key) -> SliceState:
    """The chains start at the seeds; the first step evaluates (and keeps) the seeds themselves."""
    codes = seeds.codes
    kept = buffer.init(codes, ctx.n, ctx.num_features, ctx.bands.z1.shape[0], walk.budget(ctx.n, codes.shape[0]),
                       walk.keeps_encodings)
    key, sub = jax.random.split(rng_key)
    nu, theta, low, high = _fresh(sub, codes, walk.prior_scale)
    return SliceState(codes, kept, codes, nu, theta, low, high, key, jnp.asarray(0, jnp.int32),
                      jnp.asarray(0, jnp.int32), jnp.asarray(WalkStatus.RUNNING, jnp.int32))


def step(walk: EllipticalSliceWalk, ctx: WalkContext, state: SliceState) -> tuple[SliceState, Evaluations]:
    """Evaluate the K proposals; keep those in band; move on the ellipse or start a new one.

    One forward pass (no gradient) for the K proposals.
    """
    phi, f = forward(ctx.problem, state.proposal, ctx.indices)
    is_finite = finite_rows(phi, f)
    in_box = jnp.all(ctx.problem.project(state.proposal) == state.proposal, axis=-1)
    candidate = ctx.bands.contains(f) & is_finite & in_box
    accepted = candidate & buffer.is_new(state.buffer, state.proposal, candidate)
    kept = buffer.keep(state.buffer, accepted, state.proposal, phi, f, state.step)
    chains = jnp.where(accepted[:, None], state.proposal, state.codes)

    # Accepted: a new ellipse from the new state. Rejected: shrink the bracket towards θ = 0.
    key, k_fresh, k_theta = jax.random.split(state.rng_key, 3)
    low = jnp.where(state.theta < 0, state.theta, state.low)
    high = jnp.where(state.theta >= 0, state.theta, state.high)
    theta = jax.random.uniform(k_theta, low.shape, low.dtype, low, high)
    fresh = accepted | (high - low < MIN_BRACKET)
    nu_new, theta_new, low_new, high_new = _fresh(k_fresh, chains, walk.prior_scale)
    nu = jnp.where(fresh[:, None], nu_new, state.nu)
    theta = jnp.where(fresh, theta_new, theta)
    low, high = jnp.where(fresh, low_new, low), jnp.where(fresh, high_new, high)

    status = buffer.stop_status(kept, state.step, walk.budget(ctx.n, chains.shape[0]), walk.max_stall_steps)
    moves = status == WalkStatus.RUNNING
    proposal = chains * jnp.cos(theta)[:, None] + nu * jnp.sin(theta)[:, None]
    return SliceState(chains, kept, proposal, nu, theta, low, high, key,
                      state.num_non_finite + jnp.sum(~is_finite).astype(jnp.int32),
                      state.step + moves.astype(jnp.int32), status.astype(jnp.int32)
                      ), Evaluations.of(forward=chains.shape[0])
