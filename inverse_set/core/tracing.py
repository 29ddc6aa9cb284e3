"""Networks traced once: a function's trace reused at every call, its weights passed as arguments.

The solvers call the networks at every step, level and branch of one program, and
tracing a flax network anew at each call is most of the time a sampler takes to
build. :class:`TracedOnce` traces a function once per argument type and calls the
trace under :func:`jax.jit` with the arrays it closes over (the weights) as
arguments: a program that calls it closes over the weights once, and a compiled
program takes them as arguments instead of holding them as constants — small
enough for the persistent compilation cache to store and read quickly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax


class TracedOnce:
    """``fn``, traced once per argument type (:func:`jax.make_jaxpr`) and called as ``jit(trace)(weights, *args)``.

    It computes what ``fn`` computes, inside a trace or eagerly.
    """

    def __init__(self, fn: Callable):
        self.fn = fn
        self._traces = {}

    def trace(self, *args):
        """``(jaxpr, shapes, weights)``: ``fn``'s trace for these arguments' types, its outputs' shapes and the arrays
        it closes over (for :func:`evaluate_trace`); traced the first time only."""
        return self._entry(args)[:3]

    def __call__(self, *args):
        *_, weights, jitted = self._entry(args)
        return jitted(weights, args)

    def _entry(self, args):
        leaves, tree = jax.tree.flatten(args)
        key = (tree, tuple(jax.typeof(x) for x in leaves))
        if key not in self._traces:
            closed, shapes = jax.make_jaxpr(self.fn, return_shape=True)(*args)
            self._traces[key] = (closed.jaxpr, shapes, closed.consts,
                                 jax.jit(functools.partial(evaluate_trace, closed.jaxpr, shapes)))
        return self._traces[key]


def evaluate_trace(jaxpr, shapes, weights, args):
    """A trace from :meth:`TracedOnce.trace` evaluated on ``args`` (a tuple) with ``weights``: ``fn``'s output."""
    return jax.tree.unflatten(jax.tree.structure(shapes), jax.core.eval_jaxpr(jaxpr, weights, *jax.tree.leaves(args)))
