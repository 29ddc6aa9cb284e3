"""The walker of eq. 9–10: single gradient steps of L_sample from the seeds.

With the seeds' multipliers and penalty frozen (λ*, μ*), each step is

1. s ← clip(f(G(C)) − λ*/μ*, z1', z2')                         (slack, closed form)
2. g_i = ∂/∂c_i [γ D(E(G(C)); E(G(C₀))) + L_c(f, s; λ*, μ*)],
   c'_i ← Π(c_i − β a_i g_i / mean|g_i|)                            (one step)
3. every walker c'_i with z1 ≤ f(G(c'_i)) ≤ z2 for *all* constraints that is
   *new* is kept as a sample and replaces its slot in C₀ (``repel_from="last"``,
   the paper); with ``repel_from="all"`` C₀ is every sample kept so far;
4. C ← C', until n samples are kept.

*New* is the kept-sample buffer's rule (:mod:`inverse_set.walks.buffer`): a walker
that does not move (zero gradient, pinned at a code bound) or steps back and
forth is not kept again; if no walker produces a new sample for
``max_stall_steps`` steps the walk stops as stalled. A walker whose activations
or encoding are NaN or Inf is not kept either and restarts from its last kept
code; only the other walkers' steps count.

Each walker's step scale a_i (≤ 1) is halved when it steps out of the band and
grows back by 1.2 per sample it keeps (the paper's is a_i = 1: a fixed β).
The loop is one ``lax.while_loop`` over walker steps; the K walkers are a batch;
kept samples go into a fixed-size buffer of n. The step is normalised per walker
as in PPGN (``normalize=True``): β is then a step length in code units, the same
for any network's gradient scale; ``normalize=False`` is the paper's plain step. Walkers are checked against the
true band with the activations the next step computes anyway, so every loop
iteration costs one forward and one backward pass for K codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from inverse_set.core.field_checks import check_options
from inverse_set.core.loop import Evaluations, WalkStatus
from inverse_set.core.problem import pullback
from inverse_set.paper import lagrangian
from inverse_set.paper.seeds import MIN_SCALE, SCALE_RECOVERY, SeedState
from inverse_set.walks import WalkContext, buffer, finite_rows

Array = jax.Array


@dataclass(frozen=True)
class GradientWalk:
    """The paper's walker (eq. 9–10); the terms of L_sample are the method's :class:`~inverse_set.paper.lagrangian.Objective`.

    Attributes:
      step_size: β, the gradient step length.
      normalize: divide each walker's gradient by its mean absolute entry, so β is
        the mean change per code coordinate (else the paper's plain gradient step).
      repel_from: ``"last"`` (C₀ = the last kept sample of each walker, the paper)
        or ``"all"`` (every sample kept so far: the walk then keeps every sample's
        encoding, an (n, F) buffer, and each step costs O(n·F) on top of the
        networks' pass; ``"last"`` keeps nothing that grows with n but the samples).
      max_steps: step budget; ``None``: 20 × ⌈(n − K)/K⌉ + 100.
      max_stall_steps: stop when no walker has been kept for this many steps.
    """

    step_size: float = 0.1
    normalize: bool = True
    repel_from: str = "last"
    max_steps: int | None = None
    max_stall_steps: int = 100

    description = "the gradient walker with repulsion from the samples kept"
    longer = "a larger max_steps or max_stall_steps"  # what lets it run longer (the incomplete-sample warning says it)

    def __post_init__(self):
        check_options(self, positive=("step_size",), counts=("max_stall_steps",), optional_counts=("max_steps",),
                      choices={"repel_from": ("last", "all")}, flags=("normalize",))

    def budget(self, n: int, k: int) -> int:
        return self.max_steps if self.max_steps is not None else 20 * -(-(n - k) // k) + 100

    @property
    def keeps_encodings(self) -> bool:
        """Whether the walk needs E(G(c)) of every kept sample (repulsion from all of them): an (n, F) buffer."""
        return self.repel_from == "all"

    def init(self, ctx: WalkContext, seeds: SeedState, rng_key=None) -> GradientState:
        return init(self, ctx, seeds)

    def step(self, ctx: WalkContext, state: GradientState) -> tuple[GradientState, Evaluations]:
        return step(self, ctx, state)


class GradientState(NamedTuple):
    codes: Array  # C, the walkers, (K, d)
    buffer: buffer.Buffer  # the kept samples
    lam: Array  # λ*, the seeds' multipliers, (K, p)
    mu: Array  # μ*, the seeds' penalty, ()
    scale: Array  # each walker's step scale (≤ 1), halved when it steps out of the band, (K,)
    inside: Array  # whether each walker was inside every band at the last check, (K,)
    num_non_finite: Array  # walker positions rejected for NaN/Inf activations or encodings
    step: Array  # gradient steps taken
    status: Array  # WalkStatus


def init(walk: GradientWalk, ctx: WalkContext, seeds: SeedState) -> GradientState:
    """The walkers start at the seeds with the seeds' λ*, μ*; the first step checks (and keeps) the seeds."""
    codes = seeds.codes
    k = codes.shape[0]
    return GradientState(
        codes=codes,
        buffer=buffer.init(codes, ctx.n, ctx.num_features, ctx.bands.z1.shape[0], walk.budget(ctx.n, k),
                           walk.keeps_encodings),
        lam=seeds.lam,
        mu=seeds.mu,
        scale=jnp.ones((k,), jnp.float32),
        inside=jnp.zeros((k,), bool),
        num_non_finite=jnp.asarray(0, jnp.int32),
        step=jnp.asarray(0, jnp.int32),
        status=jnp.asarray(WalkStatus.RUNNING, jnp.int32),
    )


def step(walk: GradientWalk, ctx: WalkContext, state: GradientState) -> tuple[GradientState, Evaluations]:
    """Keep the walkers now inside every band with a new code, then take one gradient step of L_sample.

    One forward and one backward pass for the K walkers.
    """
    problem, bands, objective = ctx.problem, ctx.bands, ctx.objective
    (phi, f), vjp = pullback(problem, state.codes, ctx.indices)
    is_finite = finite_rows(phi, f)
    candidate = bands.contains(f) & is_finite
    is_accepted = candidate & buffer.is_new(state.buffer, state.codes, candidate)
    kept = buffer.keep(state.buffer, is_accepted, state.codes, phi, f, state.step)

    # A walker at NaN/Inf takes no part in the step: its encoding is its last kept one, its
    # constraints sit at the band's centre, and it restarts from its last kept code.
    phi = jnp.where(is_finite[:, None], phi, kept.last_phi)
    f = jnp.where(is_finite[:, None], f, 0.5 * (bands.z1 + bands.z2))

    # C₀: the last kept batch, or every sample kept so far.
    if walk.repel_from == "all":
        ref, ref_mask = kept.phi, jnp.arange(ctx.n) < kept.count
    else:
        ref, ref_mask = kept.last_phi, kept.last_mask

    s = lagrangian.slack(f, state.lam, state.mu, bands.inner(objective.margin))  # s with λ*, μ* frozen
    grad_codes = lagrangian.code_gradient(objective, vjp, phi, f, state.codes, s, state.lam, state.mu, ref,
                                          ref_mask)
    if walk.normalize:
        grad_codes = grad_codes / jnp.maximum(jnp.mean(jnp.abs(grad_codes), axis=-1, keepdims=True), 1e-12)
    left = state.inside & ~candidate  # stepped out of the band: the step was too long here
    scale = jnp.where(left, jnp.maximum(0.5 * state.scale, MIN_SCALE),
                      jnp.where(is_accepted, jnp.minimum(SCALE_RECOVERY * state.scale, 1.0), state.scale))
    new_codes = problem.project(state.codes - walk.step_size * scale[:, None] * grad_codes)
    new_codes = jnp.where(is_finite[:, None], new_codes, kept.last_codes)

    status = buffer.stop_status(kept, state.step, walk.budget(ctx.n, state.codes.shape[0]), walk.max_stall_steps)
    moves = status == WalkStatus.RUNNING
    return state._replace(
        codes=jnp.where(moves, new_codes, state.codes),
        buffer=kept,
        scale=scale,
        inside=candidate,
        num_non_finite=state.num_non_finite + jnp.sum(~is_finite).astype(jnp.int32),
        step=state.step + moves.astype(jnp.int32),
        status=status.astype(jnp.int32),
    ), Evaluations.of(gradient=state.codes.shape[0])
