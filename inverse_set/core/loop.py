"""The bounded loop the seeds and every walk run, their status codes, and the evaluations they count.

A solver is a ``step(state) -> (state, Evaluations)`` over a NamedTuple state
with a ``status`` field; :func:`run` repeats it inside one ``lax.while_loop``
while the status is ``RUNNING`` (0) and adds up the evaluations each step
reports. Each solver's step bounds the loop itself: it sets a final status once
its step budget is spent, so the loop always ends. Under ``vmap`` every member
of a batch keeps its own status.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

RUNNING = 0  # the one status value every solver shares: the loop goes on


class SeedStatus(enum.IntEnum):
    """Where the seed search stopped (an int32 in the traced state)."""

    RUNNING = RUNNING
    INSIDE = 1  # all K seeds inside every band
    MAX_STEPS = 3  # the step budget ran out
    NON_FINITE = 4  # NaN or Inf in the activations or encodings of a starting code
    UNREACHED = 5  # none inside, some band beyond every activation reached, and no progress for a while
    SKIPPED = 6  # not run: the walk reached the band without seeds (a walk whose prepare says it needs none)


class WalkStatus(enum.IntEnum):
    """Where a walk stopped (an int32 in the traced state)."""

    RUNNING = RUNNING
    COMPLETE = 1  # n samples kept
    STALLED = 2  # no new sample for max_stall_steps steps
    MAX_STEPS = 3  # the step budget ran out
    NOT_RUN = 6  # the seeds failed: there was nothing to walk from


def status_name(status: enum.IntEnum) -> str:
    """A status as the results report it: ``"inside"``, ``"max_steps"``, ``"complete"``, …"""
    return status.name.lower()


class Evaluations(NamedTuple):
    """Passes through G, E and the target, counted per code: forward-only, and forward with a backward pass."""

    forward: jax.Array
    gradient: jax.Array

    @staticmethod
    def of(forward=0, gradient=0) -> Evaluations:
        return Evaluations(jnp.asarray(forward, jnp.int32), jnp.asarray(gradient, jnp.int32))

    def __add__(self, other: Evaluations) -> Evaluations:  # type: ignore[override]
        return Evaluations(self.forward + other.forward, self.gradient + other.gradient)


def run(step: Callable, state, callback: Callable | None = None):
    """``state, evals = step(state)`` while ``state.status == RUNNING``, as one ``lax.while_loop``.

    Args:
      step: one solver step returning the new state and its :class:`Evaluations`;
        it must end the loop within its own budget.
      state: the initial state (a pytree with a ``status`` leaf).
      callback: optional ``callback(state)`` after each step (e.g. a
        ``jax.debug.callback`` progress report).

    Returns:
      ``(final state, total Evaluations)``.
    """

    def body(carry):
        state, total = carry
        state, evals = step(state)
        if callback is not None:
            callback(state)
        return state, total + evals

    return jax.lax.while_loop(lambda carry: carry[0].status == RUNNING, body, (state, Evaluations.of()))
