"""Apply a function to a large array in chunks, on the host's side of ``jit``.

The one helper the package, its zoo and its benchmark use to push thousands of
images or codes through a network without holding every intermediate at once.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from inverse_set.core.tracing import TracedOnce


def chunked(fn: Callable, chunk: int = 1000, *, per_example: bool = True) -> Callable:
    """``apply(x)``: ``fn`` over the leading axis of ``x`` in chunks, returning numpy.

    Args:
      fn: a per-example function (``per_example=True``: it is ``jit(vmap(fn))``-ed)
        or a function of a whole batch (``per_example=False``: ``jit(fn)``). Its
        output may be an array or a pytree of arrays (e.g. a dict by layer name).
      chunk: examples per call.

    Returns:
      ``apply(x, *args)`` for an array (or pytree of arrays) ``x`` with a leading
      axis; extra ``args`` are passed to every call unbatched. An empty ``x``
      gives an empty result of the output's shape.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> chunked(lambda v: jnp.sum(v ** 2), chunk=2)(np.ones((5, 3))).tolist()
      [3.0, 3.0, 3.0, 3.0, 3.0]
    """
    if chunk < 1:
        raise ValueError(f"chunk must be ≥ 1, got {chunk}.")

    # traced once per shape, the arrays fn closes over passed to the compiled program (inverse_set.core.tracing)
    batch_fn = TracedOnce(lambda x, *args: (jax.vmap(fn, in_axes=(0,) + (None,) * len(args)) if per_example
                                            else fn)(x, *args))

    def apply(x, *args):
        size = jax.tree.leaves(x)[0].shape[0]
        if size == 0:
            out = jax.eval_shape(batch_fn, x, *args)
            return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), out)
        parts = [batch_fn(jax.tree.map(lambda a, i=i: a[i : i + chunk], x), *args) for i in range(0, size, chunk)]
        return jax.tree.map(lambda *p: np.concatenate([np.asarray(a) for a in p]), *parts)

    return apply
