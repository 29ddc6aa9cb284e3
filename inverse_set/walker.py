"""The walker of eq. 9–10: single gradient steps of L_sample from the seeds.

With the seeds' multipliers and penalty frozen (λ*, μ*), each step is

1. s ← clip(f(G(C)) − λ*/μ*, z1', z2')                         (slack, closed form)
2. g_i = ∂/∂c_i [γ D(E(G(C)); E(G(C₀))) + L_c(f, s; λ*, μ*)],
   c'_i ← Π(c_i − β a_i g_i / mean|g_i|)                            (one step)
3. every walker c'_i with z1 ≤ f(G(c'_i)) ≤ z2 for *all* constraints that is
   *new* is kept as a sample and replaces its slot in C₀ (``repel_from="last"``,
   the paper); with ``repel_from="all"`` C₀ is every sample kept so far;
4. C ← C', until n samples are kept.

*New* means: the code differs, in some coordinate by more than
``novelty_tol × max(1, ‖c'‖_∞)``, from each of the last ``NOVELTY_MEMORY`` codes
kept by every walker and from the codes kept before it in the same step. A
walker that does not move (zero gradient, pinned at a code bound) or steps back
and forth is therefore not kept again; if no walker produces a new sample for
``max_stall_steps`` steps the walk stops as stalled. A walker whose activations
or encoding are NaN or Inf is not kept either and restarts from its last kept
code; only the other walkers' steps count.

Each walker's step scale a_i (≤ 1) is halved when it steps out of the band and
grows back by 1.2 per sample it keeps (``adapt_step``; a_i = 1 is the paper's).
The loop is one ``lax.while_loop`` over walker steps; the K walkers are a batch;
kept samples go into a fixed-size buffer of n. The step is normalised per walker
as in PPGN (``normalize=True``): β is then a step length in code units, the same
for any network's gradient scale; ``normalize=False`` is the paper's plain step. Walkers are checked against the
true band with the activations the next step computes anyway, so every loop
iteration costs one forward and one backward pass for K codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from inverse_set import lagrangian, loop
from inverse_set.config import check_options
from inverse_set.constraints import Bands, ConstraintIndices
from inverse_set.loop import Status
from inverse_set.problem import Problem, pullback
from inverse_set.seeds import MIN_SCALE, SCALE_RECOVERY

Array = jax.Array

NOVELTY_MEMORY = 4  # kept codes per walker that a new sample must differ from


@dataclass(frozen=True)
class WalkerConfig:
    """Settings of the walker.

    Attributes:
      step_size: β, the gradient step length.
      normalize: divide each walker's gradient by its mean absolute entry, so β is
        the mean change per code coordinate (else the paper's plain gradient step).
      diversity_weight: γ, the weight of the repulsion energy.
      repulsion: ``"squared"`` (paper) or ``"rbf"``.
      repel_from: ``"last"`` (C₀ = the last kept sample of each walker, the paper)
        or ``"all"`` (every sample kept so far: the walk then keeps every sample's
        encoding, an (n, F) buffer, and each step costs O(n·F) on top of the
        networks' pass; ``"last"`` keeps nothing that grows with n but the samples).
      margin: the slack box is the band shrunk by margin × (z2 − z1) at each edge.
      realism_weight: ρ of the realism term ρ/2 Σ‖E(G(c)) − c‖² (:mod:`inverse_set.realism`);
        0 is the paper. Needs an encoder whose output lives in the code space.
      prior_weight: ρ_p of ρ_p/2 Σ‖c‖², the negative log-density of a N(0, I) prior
        on the codes (for Gaussian-latent generators); 0 is the paper.
      max_steps: walker step budget; ``None``: 20 × ⌈(n − K)/K⌉ + 100.
      max_stall_steps: stop when no walker has been accepted for this many steps.
      novelty_tol: how much a code must differ (max-norm, relative to the code's
        scale) from recent kept codes to count as a new sample.
      adapt_step: each walker's step is β × its own scale (≤ 1): halved when the
        walker steps out of the band, grown back by ``SCALE_RECOVERY`` per sample
        kept, as the seeds' (``False``: every step is β, the paper's).
    """

    step_size: float = 0.1
    normalize: bool = True
    diversity_weight: float = 1.0
    repulsion: str = "squared"
    repel_from: str = "last"
    margin: float = 0.25
    max_steps: int | None = None
    max_stall_steps: int = 100
    realism_weight: float = 0.0
    prior_weight: float = 0.0
    novelty_tol: float = 1e-6
    adapt_step: bool = True

    def __post_init__(self):
        check_options(self, positive=("step_size", "novelty_tol"),
                      non_negative=("diversity_weight", "realism_weight", "prior_weight"),
                      margins=("margin",), counts=("max_stall_steps",), optional_counts=("max_steps",),
                      choices={"repulsion": ("squared", "rbf"), "repel_from": ("last", "all")},
                      flags=("normalize", "adapt_step"))

    def step_budget(self, n: int, k: int) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return 20 * -(-(n - k) // k) + 100

    @property
    def keeps_encodings(self) -> bool:
        """Whether the walk needs E(G(c)) of every kept sample (repulsion from all of them): an (n, F) buffer."""
        return self.repel_from == "all"


class WalkerState(NamedTuple):
    codes: Array  # C, (K, d)
    last_phi: Array  # E(G(C₀)): each walker's last kept sample, (K, F)
    last_mask: Array  # which C₀ slots hold a sample, (K,)
    last_codes: Array  # each walker's last kept code (its seed before), (K, d)
    recent: Array  # the last NOVELTY_MEMORY codes kept by each walker, newest first, (K, m, d)
    recent_mask: Array  # which of them hold a code, (K, m)
    kept_codes: Array  # (n, d)
    kept_phi: Array  # (n, F) if the walk repels from every kept sample, else (0, F)
    kept_f: Array  # (n, p)
    num_kept: Array  # ()
    num_accepted: Array  # walkers accepted at each loop iteration, (max_steps + 1,)
    num_non_finite: Array  # walker positions rejected for NaN/Inf activations or encodings
    scale: Array  # each walker's step scale (≤ 1), halved when it steps out of the band, (K,)
    inside: Array  # whether each walker was inside every band at the last check, (K,)
    step: Array  # gradient steps taken
    stall: Array  # steps since the last acceptance
    status: Array


def init(codes: Array, n: int, num_features: int, num_constraints: int, max_steps: int,
         keep_encodings: bool) -> WalkerState:
    k, d = codes.shape
    return WalkerState(
        codes=codes,
        last_phi=jnp.zeros((k, num_features), jnp.float32),
        last_mask=jnp.zeros((k,), bool),
        last_codes=codes,
        recent=jnp.zeros((k, NOVELTY_MEMORY, d), codes.dtype),
        recent_mask=jnp.zeros((k, NOVELTY_MEMORY), bool),
        kept_codes=jnp.zeros((n, d), codes.dtype),
        kept_phi=jnp.zeros((n if keep_encodings else 0, num_features), jnp.float32),
        kept_f=jnp.full((n, num_constraints), jnp.nan, jnp.float32),
        num_kept=jnp.asarray(0, jnp.int32),
        num_accepted=jnp.zeros((max_steps + 1,), jnp.int32),
        num_non_finite=jnp.asarray(0, jnp.int32),
        scale=jnp.ones((k,), jnp.float32),
        inside=jnp.zeros((k,), bool),
        step=jnp.asarray(0, jnp.int32),
        stall=jnp.asarray(0, jnp.int32),
        status=jnp.asarray(Status.RUNNING, jnp.int32),
    )


def _close(a: Array, b: Array, tol: float) -> Array:
    """``(len(a), len(b))``: whether ``a_i`` and ``b_j`` differ by at most ``tol × max(1, ‖b_j‖_∞)`` everywhere."""
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(b), axis=-1))
    return jnp.max(jnp.abs(a[:, None, :] - b[None, :, :]), axis=-1) <= tol * scale[None, :]


def is_new(state: WalkerState, codes: Array, candidate: Array, tol: float) -> Array:
    """Which candidate codes (K, d) are new: unlike every recent kept code and every earlier candidate."""
    k, d = codes.shape
    recent = _close(codes, state.recent.reshape(-1, d), tol) & state.recent_mask.reshape(-1)[None, :]
    earlier = _close(codes, codes, tol) & jnp.tril(jnp.ones((k, k), bool), -1) & candidate[None, :]
    return ~jnp.any(recent, axis=1) & ~jnp.any(earlier, axis=1)


def keep(state: WalkerState, is_accepted: Array, codes: Array, phi: Array, f: Array):
    """Append accepted walkers to the fixed-size buffer (any overflow past n is not kept)."""
    n = state.kept_codes.shape[0]
    slot = state.num_kept + jnp.cumsum(is_accepted) - 1
    slot = jnp.where(is_accepted, slot, n)  # index n is out of bounds: dropped
    num_new = jnp.sum(is_accepted).astype(jnp.int32)
    shifted = lambda ring, new: jnp.concatenate([new[:, None], ring[:, :-1]], axis=1)  # noqa: E731
    return state._replace(
        kept_codes=state.kept_codes.at[slot].set(codes, mode="drop"),
        kept_phi=state.kept_phi.at[slot].set(phi, mode="drop"),
        kept_f=state.kept_f.at[slot].set(f, mode="drop"),
        num_kept=jnp.minimum(state.num_kept + num_new, n),
        num_accepted=state.num_accepted.at[state.step].set(num_new),
        last_phi=jnp.where(is_accepted[:, None], phi, state.last_phi),
        last_mask=state.last_mask | is_accepted,
        last_codes=jnp.where(is_accepted[:, None], codes, state.last_codes),
        recent=jnp.where(is_accepted[:, None, None], shifted(state.recent, codes), state.recent),
        recent_mask=jnp.where(is_accepted[:, None], shifted(state.recent_mask, is_accepted), state.recent_mask),
        stall=jnp.where(num_new > 0, 0, state.stall + 1),
    )


def stop_status(config, state: WalkerState) -> Array:
    """DONE once n samples are kept, STALLED after ``max_stall_steps`` steps with none, MAX_STEPS at the budget."""
    n, k = state.kept_codes.shape[0], state.codes.shape[0]
    return jnp.select([state.num_kept >= n, state.stall >= config.max_stall_steps,
                       state.step >= config.step_budget(n, k)],
                      [Status.DONE, Status.STALLED, Status.MAX_STEPS], Status.RUNNING)


def step(
    config: WalkerConfig,
    problem: Problem,
    bands: Bands,
    indices: ConstraintIndices,
    lam: Array,
    mu: Array,
    state: WalkerState,
) -> WalkerState:
    """Keep the walkers now inside every band with a new code, then take one gradient step of L_sample."""
    n = state.kept_codes.shape[0]
    (phi, f), vjp = pullback(problem, state.codes, indices)
    is_finite = jnp.all(jnp.isfinite(f), axis=-1) & jnp.all(jnp.isfinite(phi), axis=-1)
    candidate = bands.contains(f) & is_finite
    is_accepted = candidate & is_new(state, state.codes, candidate, config.novelty_tol)
    state = keep(state, is_accepted, state.codes, phi, f)

    # A walker at NaN/Inf takes no part in the step: its encoding is its last kept one, its
    # constraints sit at the band's centre, and it restarts from its last kept code.
    phi = jnp.where(is_finite[:, None], phi, state.last_phi)
    f = jnp.where(is_finite[:, None], f, 0.5 * (bands.z1 + bands.z2))

    # C₀: the last kept batch, or every sample kept so far.
    if config.repel_from == "all":
        ref, ref_mask = state.kept_phi, jnp.arange(n) < state.num_kept
    else:
        ref, ref_mask = state.last_phi, state.last_mask

    s = lagrangian.slack(f, lam, mu, bands.inner(config.margin))  # s with λ*, μ* frozen
    grad_codes = lagrangian.code_gradient(config, vjp, phi, f, state.codes, s, lam, mu, ref, ref_mask)
    if config.normalize:
        scale = jnp.mean(jnp.abs(grad_codes), axis=-1, keepdims=True)
        grad_codes = grad_codes / jnp.maximum(scale, 1e-12)
    if config.adapt_step:
        left = state.inside & ~candidate  # stepped out of the band: the step was too long here
        scale = jnp.where(left, jnp.maximum(0.5 * state.scale, MIN_SCALE),
                          jnp.where(is_accepted, jnp.minimum(SCALE_RECOVERY * state.scale, 1.0), state.scale))
    else:
        scale = state.scale
    new_codes = problem.project(state.codes - config.step_size * scale[:, None] * grad_codes)
    new_codes = jnp.where(is_finite[:, None], new_codes, state.last_codes)

    status = stop_status(config, state)
    moves = status == Status.RUNNING
    return state._replace(
        codes=jnp.where(moves, new_codes, state.codes),
        scale=scale,
        inside=candidate,
        num_non_finite=state.num_non_finite + jnp.sum(~is_finite).astype(jnp.int32),
        step=state.step + moves.astype(jnp.int32),
        status=status.astype(jnp.int32),
    )


def run(config: WalkerConfig, problem: Problem, seeds: Array, bands: Bands, indices: ConstraintIndices, lam: Array,
        mu: Array, n: int, num_features: int, callback: Callable | None = None) -> WalkerState:
    """Walk from the seeds until n samples are kept; a bounded ``lax.while_loop``.

    The first loop iteration checks (and keeps) the seeds themselves, so the n
    samples include the K seeds, as in the paper (n − K new samples from the walk).

    Returns:
      The final :class:`WalkerState`: ``status`` is DONE with ``num_kept == n``, or
      STALLED / MAX_STEPS with ``num_kept`` samples in the buffer.
    """
    max_steps = config.step_budget(n, seeds.shape[0])
    state = init(seeds, n, num_features, bands.z1.shape[0], max_steps, config.keeps_encodings)
    return loop.run(lambda state: step(config, problem, bands, indices, lam, mu, state), state, callback)
