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

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from inverse_set import loop, walker
from inverse_set.config import check_options
from inverse_set.constraints import Bands, ConstraintIndices
from inverse_set.problem import Problem, forward

Array = jax.Array

MIN_BRACKET = 1e-4  # a bracket narrower than this (radians) is given up for a fresh ellipse


@dataclass(frozen=True)
class SliceWalkerConfig:
    """Settings of the elliptical-slice walk (for codes whose prior is N(0, I)).

    Attributes:
      max_steps: loop iterations (one forward pass each); ``None``: 60 × ⌈(n − K)/K⌉ + 200.
      max_stall_steps: stop when no walker has produced a new sample for this many iterations.
      novelty_tol: as :class:`~inverse_set.walker.WalkerConfig`'s: what counts as a new code.
      prior_scale: σ of the prior N(0, σ² I) sampled (1: the generator's own prior;
        below 1 a tempered prior, its samples more typical and less varied).
    """

    max_steps: int | None = None
    max_stall_steps: int = 200
    novelty_tol: float = 1e-6
    prior_scale: float = 1.0

    def __post_init__(self):
        check_options(self, positive=("novelty_tol", "prior_scale"), counts=("max_stall_steps",),
                      optional_counts=("max_steps",))

    def step_budget(self, n: int, k: int) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return 60 * -(-(n - k) // k) + 200

    keeps_encodings = False  # no repulsion: the kept samples' encodings are not needed


class SliceState(NamedTuple):
    walk: walker.WalkerState  # the chains' states (walk.codes), the kept samples and the counters
    proposal: Array  # c cos θ + ν sin θ, evaluated at the next step, (K, d)
    nu: Array  # ν, (K, d)
    theta: Array  # θ, (K,)
    low: Array  # the bracket [low, high] of θ, (K,)
    high: Array
    rng_key: Array
    status: Array


def _fresh(rng_key, codes, scale):
    """A new ellipse per walker: ν ~ N(0, σ² I), θ ~ U(0, 2π), bracket [θ − 2π, θ]."""
    k_nu, k_theta = jax.random.split(rng_key)
    nu = scale * jax.random.normal(k_nu, codes.shape, codes.dtype)
    theta = jax.random.uniform(k_theta, codes.shape[:1], codes.dtype, 0.0, 2 * jnp.pi)
    return nu, theta, theta - 2 * jnp.pi, theta


def init(config: SliceWalkerConfig, rng_key, seeds: Array, n: int, num_features: int,
         num_constraints: int) -> SliceState:
    """The chains start at the seeds; the first step evaluates (and keeps) the seeds themselves."""
    walk = walker.init(seeds, n, num_features, num_constraints, config.step_budget(n, seeds.shape[0]),
                       config.keeps_encodings)
    key, sub = jax.random.split(rng_key)
    nu, theta, low, high = _fresh(sub, seeds, config.prior_scale)
    return SliceState(walk, seeds, nu, theta, low, high, key, walk.status)


def step(config: SliceWalkerConfig, problem: Problem, bands: Bands, indices: ConstraintIndices,
         state: SliceState) -> SliceState:
    """Evaluate the K proposals; keep those in band; move on the ellipse or start a new one."""
    walk = state.walk
    phi, f = forward(problem, state.proposal, indices)
    is_finite = jnp.all(jnp.isfinite(f), axis=-1) & jnp.all(jnp.isfinite(phi), axis=-1)
    in_box = jnp.all(problem.project(state.proposal) == state.proposal, axis=-1)
    candidate = bands.contains(f) & is_finite & in_box
    accepted = candidate & walker.is_new(walk, state.proposal, candidate, config.novelty_tol)
    walk = walker.keep(walk, accepted, state.proposal, phi, f)
    chains = jnp.where(accepted[:, None], state.proposal, walk.codes)

    # Accepted: a new ellipse from the new state. Rejected: shrink the bracket towards θ = 0.
    key, k_fresh, k_theta = jax.random.split(state.rng_key, 3)
    low = jnp.where(state.theta < 0, state.theta, state.low)
    high = jnp.where(state.theta >= 0, state.theta, state.high)
    theta = jax.random.uniform(k_theta, low.shape, low.dtype, low, high)
    fresh = accepted | (high - low < MIN_BRACKET)
    nu_new, theta_new, low_new, high_new = _fresh(k_fresh, chains, config.prior_scale)
    nu = jnp.where(fresh[:, None], nu_new, state.nu)
    theta = jnp.where(fresh, theta_new, theta)
    low, high = jnp.where(fresh, low_new, low), jnp.where(fresh, high_new, high)

    status = walker.stop_status(config, walk)
    moves = status == loop.Status.RUNNING
    walk = walk._replace(codes=chains, num_non_finite=walk.num_non_finite + jnp.sum(~is_finite).astype(jnp.int32),
                         step=walk.step + moves.astype(jnp.int32), status=status.astype(jnp.int32))
    proposal = chains * jnp.cos(theta)[:, None] + nu * jnp.sin(theta)[:, None]
    return SliceState(walk, proposal, nu, theta, low, high, key, walk.status)


def run(config: SliceWalkerConfig, problem: Problem, seeds: Array, bands: Bands, indices: ConstraintIndices,
        rng_key, n: int, num_features: int, callback: Callable | None = None) -> walker.WalkerState:
    """Run the K chains from the seeds until n samples are kept; returns the final walker state."""
    state = init(config, rng_key, seeds, n, num_features, bands.z1.shape[0])
    cb = None if callback is None else (lambda state: callback(state.walk))
    return loop.run(lambda state: step(config, problem, bands, indices, state), state, cb).walk
