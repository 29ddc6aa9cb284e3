"""The loop both solvers run, and the status codes they report.

A solver is a ``step(state) -> state`` over a NamedTuple state with a ``status``
field; :func:`run` repeats it inside one ``lax.while_loop`` while the status is
``RUNNING``. Each solver's step bounds the loop itself: it sets a final status
(``DONE``, ``MAX_STEPS``, …) once its step budget is spent, so the loop always
ends. Under ``vmap`` every member of a batch keeps its own status.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import jax


class Status(enum.IntEnum):
    """Where a solver stopped (an int32 in the traced state; compare with ``==``)."""

    RUNNING = 0
    DONE = 1  # seeds: all K inside every band; walker: n samples kept
    STALLED = 2  # walker: no new sample for max_stall_steps steps
    MAX_STEPS = 3  # the step budget ran out
    NON_FINITE = 4  # NaN or Inf in the activations or encodings
    UNREACHED = 5  # seeds: none inside, and none came nearer the band for give_up_patience steps


def run(step: Callable, state, callback: Callable | None = None):
    """``state = step(state)`` while ``state.status == RUNNING``, as one ``lax.while_loop``.

    Args:
      step: one solver step; it must end the loop within its own budget.
      state: the initial state (a pytree with a ``status`` leaf).
      callback: optional ``callback(state)`` after each step (e.g. a
        ``jax.debug.callback`` progress report).
    """

    def body(state):
        state = step(state)
        if callback is not None:
            callback(state)
        return state

    return jax.lax.while_loop(lambda state: state.status == Status.RUNNING, body, state)
