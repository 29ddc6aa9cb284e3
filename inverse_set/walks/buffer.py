"""The kept samples every walk shares: a fixed-size buffer of n, what counts as new, and when a walk stops.

A walk proposes K codes a step; those inside every band and *new* are appended
to the buffer (:func:`keep`). *New* means: the code differs, in some coordinate
by more than ``NOVELTY_TOL × max(1, ‖c‖_∞)``, from each of the last
``NOVELTY_MEMORY`` codes kept by every walker and from the codes kept before it
in the same step — so a walker that does not move (zero gradient, pinned at a
code bound, a resampled particle) or steps back and forth is not kept twice.
The walk stops (:func:`stop_status`) once n are kept, after ``max_stall_steps``
steps with none, or at its step budget.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from inverse_set.core.loop import WalkStatus

Array = jax.Array

NOVELTY_MEMORY = 4  # kept codes per walker that a new sample must differ from
NOVELTY_TOL = 1e-6  # how much (max-norm, relative to the code's scale) a new code must differ from those


class Buffer(NamedTuple):
    codes: Array  # the kept codes, (n, d)
    phi: Array  # their encodings E(G(c)), (n, F) if the walk repels from every kept sample, else (0, F)
    f: Array  # their constraint values, (n, p)
    count: Array  # how many are kept, ()
    accepted: Array  # walkers kept at each step, (max_steps + 1,)
    last_phi: Array  # each walker's last kept encoding, (K, F)
    last_mask: Array  # which walkers have kept a sample, (K,)
    last_codes: Array  # each walker's last kept code (its seed before), (K, d)
    recent: Array  # the last NOVELTY_MEMORY codes kept by each walker, newest first, (K, m, d)
    recent_mask: Array  # which of them hold a code, (K, m)
    stall: Array  # steps since the last sample was kept, ()


def init(seeds: Array, n: int, num_features: int, num_constraints: int, max_steps: int,
         keep_encodings: bool = False) -> Buffer:
    """An empty buffer of n for K walkers starting at ``seeds`` (K, d)."""
    k, d = seeds.shape
    return Buffer(
        codes=jnp.zeros((n, d), seeds.dtype),
        phi=jnp.zeros((n if keep_encodings else 0, num_features), jnp.float32),
        f=jnp.full((n, num_constraints), jnp.nan, jnp.float32),
        count=jnp.asarray(0, jnp.int32),
        accepted=jnp.zeros((max_steps + 1,), jnp.int32),
        last_phi=jnp.zeros((k, num_features), jnp.float32),
        last_mask=jnp.zeros((k,), bool),
        last_codes=seeds,
        recent=jnp.zeros((k, NOVELTY_MEMORY, d), seeds.dtype),
        recent_mask=jnp.zeros((k, NOVELTY_MEMORY), bool),
        stall=jnp.asarray(0, jnp.int32),
    )


def _close(a: Array, b: Array, tol: float) -> Array:
    """``(len(a), len(b))``: whether ``a_i`` and ``b_j`` differ by at most ``tol × max(1, ‖b_j‖_∞)`` everywhere."""
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(b), axis=-1))
    return jnp.max(jnp.abs(a[:, None, :] - b[None, :, :]), axis=-1) <= tol * scale[None, :]


def is_new(buffer: Buffer, codes: Array, candidate: Array) -> Array:
    """Which codes (K, d) are new: unlike every recent kept code and every earlier ``candidate`` of this step."""
    k, d = codes.shape
    recent = _close(codes, buffer.recent.reshape(-1, d), NOVELTY_TOL) & buffer.recent_mask.reshape(-1)[None, :]
    earlier = _close(codes, codes, NOVELTY_TOL) & jnp.tril(jnp.ones((k, k), bool), -1) & candidate[None, :]
    return ~jnp.any(recent, axis=1) & ~jnp.any(earlier, axis=1)


def keep(buffer: Buffer, is_accepted: Array, codes: Array, phi: Array, f: Array, step: Array) -> Buffer:
    """Append the accepted walkers' codes (K, d) to the buffer (any overflow past n is not kept)."""
    n = buffer.codes.shape[0]
    slot = buffer.count + jnp.cumsum(is_accepted) - 1
    slot = jnp.where(is_accepted, slot, n)  # index n is out of bounds: dropped
    num_new = jnp.sum(is_accepted).astype(jnp.int32)
    shifted = lambda ring, new: jnp.concatenate([new[:, None], ring[:, :-1]], axis=1)
    return buffer._replace(
        codes=buffer.codes.at[slot].set(codes, mode="drop"),
        phi=buffer.phi.at[slot].set(phi, mode="drop"),
        f=buffer.f.at[slot].set(f, mode="drop"),
        count=jnp.minimum(buffer.count + num_new, n),
        accepted=buffer.accepted.at[step].set(num_new),
        last_phi=jnp.where(is_accepted[:, None], phi, buffer.last_phi),
        last_mask=buffer.last_mask | is_accepted,
        last_codes=jnp.where(is_accepted[:, None], codes, buffer.last_codes),
        recent=jnp.where(is_accepted[:, None, None], shifted(buffer.recent, codes), buffer.recent),
        recent_mask=jnp.where(is_accepted[:, None], shifted(buffer.recent_mask, is_accepted), buffer.recent_mask),
        stall=jnp.where(num_new > 0, 0, buffer.stall + 1),
    )


def stop_status(buffer: Buffer, step: Array, budget: int, max_stall_steps: int) -> Array:
    """COMPLETE once n samples are kept, STALLED after ``max_stall_steps`` steps with none, MAX_STEPS at the budget."""
    return jnp.select([buffer.count >= buffer.codes.shape[0], buffer.stall >= max_stall_steps, step >= budget],
                      [WalkStatus.COMPLETE, WalkStatus.STALLED, WalkStatus.MAX_STEPS], WalkStatus.RUNNING)
