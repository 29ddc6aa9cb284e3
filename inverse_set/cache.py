"""The compiled-sampler cache: the package's one piece of module-level mutable state.

Compiling a sampler takes seconds; running it again on a new band or another
unit of the same layer does not need a new one. :data:`SAMPLER_CACHE` keeps the
last :data:`CACHE_SIZE` :class:`~inverse_set.sampler.CompiledSampler` s by the
structure of their problem (network functions by identity, constraint kinds, n,
K, settings, code bounds), least recently used first out.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable

CACHE_SIZE = 16
SAMPLER_CACHE: collections.OrderedDict = collections.OrderedDict()


def cached_sampler(key: Hashable, build: Callable):
    """The cached sampler for ``key``, or ``build()`` stored under it."""
    sampler = SAMPLER_CACHE.get(key)
    if sampler is None:
        sampler = SAMPLER_CACHE[key] = build()
        while len(SAMPLER_CACHE) > CACHE_SIZE:
            SAMPLER_CACHE.popitem(last=False)
    else:
        SAMPLER_CACHE.move_to_end(key)
    return sampler


def clear() -> None:
    """Forget every compiled sampler (e.g. to free memory)."""
    SAMPLER_CACHE.clear()
