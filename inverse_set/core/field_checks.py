"""Checks the solver configs run on their own fields when they are made (``__post_init__``).

A bad setting is reported where it is defined, naming the config, the field,
the value and what is allowed — never later as a JAX error deep in a loop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fail(config, name, value, allowed):
    raise ValueError(f"{type(config).__name__}({name}={value!r}): {name} must be {allowed}.")


def check_options(
    config,
    *,
    counts: Iterable[str] = (),
    positive: Iterable[str] = (),
    non_negative: Iterable[str] = (),
    at_least_one: Iterable[str] = (),
    fractions: Iterable[str] = (),
    shares: Iterable[str] = (),
    margins: Iterable[str] = (),
    choices: Mapping[str, tuple] = {},
    flags: Iterable[str] = (),
    callables: Iterable[str] = (),
    optional_counts: Iterable[str] = (),
) -> None:
    """Raise ``ValueError`` (``TypeError`` for a wrong type) for the first field outside its range.

    Args:
      counts: ints ≥ 1 (``optional_counts``: the same, or None).
      positive, non_negative, at_least_one: finite reals > 0, ≥ 0, ≥ 1.
      fractions: reals in (0, 1]; shares: reals in [0, 1]; margins: reals in [0, 0.5).
      choices: field -> the allowed strings.
      flags: bools; callables: callables.
    """
    get = lambda name: getattr(config, name)
    for name in [*counts, *optional_counts]:
        value = get(name)
        if value is None and name in optional_counts:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{type(config).__name__}({name}={value!r}): {name} must be an int ≥ 1"
                            + (" or None." if name in optional_counts else "."))
        if value < 1:
            _fail(config, name, value, "≥ 1 (an int)")
    ranges = [(positive, lambda v: v > 0, "a finite number > 0"),
              (non_negative, lambda v: v >= 0, "a finite number ≥ 0"),
              (at_least_one, lambda v: v >= 1, "a finite number ≥ 1"),
              (fractions, lambda v: 0 < v <= 1, "a number in (0, 1]"),
              (shares, lambda v: 0 <= v <= 1, "a share, a number in [0, 1]"),
              (margins, lambda v: 0 <= v < 0.5, "a number in [0, 0.5) (a fraction of the band width per edge)")]
    for names, ok, allowed in ranges:
        for name in names:
            value = get(name)
            if not _is_real(value):
                raise TypeError(f"{type(config).__name__}({name}={value!r}): {name} must be {allowed}.")
            if not (math.isfinite(value) and ok(value)):
                _fail(config, name, value, allowed)
    for name, allowed in choices.items():
        if get(name) not in allowed:
            names = [repr(a) for a in allowed]
            _fail(config, name, get(name), " or ".join(names) if len(names) == 2 else "one of " + ", ".join(names))
    for name in flags:
        if not isinstance(get(name), bool):
            raise TypeError(f"{type(config).__name__}({name}={get(name)!r}): {name} must be True or False.")
    for name in callables:
        if not callable(get(name)):
            raise TypeError(f"{type(config).__name__}({name}={get(name)!r}): {name} must be callable.")
