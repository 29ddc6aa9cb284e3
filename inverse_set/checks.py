"""Checks of everything a call hands the sampler, each failing with what was wrong and what would be right.

Nothing is silently coerced: an index must be an int, a band edge a real number
within float32's range, a key an int or a JAX key.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import initialization
from inverse_set.core.constraints import Unit, as_layer_dict

FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_count(name: str, value, what: str) -> int:
    """A positive int (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int ({what}), got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be ≥ 1 ({what}), got {value}.")
    return int(value)


def is_neuron_callable(neuron) -> bool:
    return callable(neuron) and not isinstance(neuron, (Unit, numbers.Integral, str))


def as_neuron_list(neuron) -> list:
    """One neuron or a sequence of them (an intersection) as a non-empty list."""
    if isinstance(neuron, (Unit, str, numbers.Integral)) or is_neuron_callable(neuron):
        return [neuron]
    if isinstance(neuron, Sequence):
        if len(neuron) == 0:
            raise ValueError("neuron is an empty sequence; give at least one neuron.")
        return list(neuron)
    raise TypeError(
        f"neuron must be an int, a class name, a Unit, a callable or a sequence of them, got {type(neuron).__name__}."
    )


def by_name(neuron, class_names: Sequence[str] | None):
    """A class name (e.g. ``"Bag"``, any case) as the index of its output unit; other neurons pass through."""
    if not isinstance(neuron, str):
        return neuron
    names = list(class_names or [])
    if neuron in names:
        return names.index(neuron)
    folded = [i for i, name in enumerate(names) if name.casefold() == neuron.casefold()]
    if len(folded) == 1:
        return folded[0]
    hint = f"known class names: {names}" if names else "no class names are known for these models"
    raise ValueError(f"unknown neuron name {neuron!r}; {hint}. Or give the unit's index.")


def is_number(v) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (np.ndarray, jax.Array)):
        return v.ndim == 0 and np.issubdtype(v.dtype, np.number)
    return isinstance(v, numbers.Real)


def _edges(name: str, z, p: int) -> np.ndarray:
    if is_number(z):
        values = [z]
    elif isinstance(z, (Sequence, np.ndarray, jax.Array)) and not isinstance(z, (str, bytes)) and np.ndim(z) == 1:
        values = list(z)
    else:
        values = [z]
    for v in values:
        if not is_number(v):
            raise TypeError(f"{name} must be a number, or a sequence with one number per neuron; got {v!r} "
                            f"({type(v).__name__}).")
    arr = np.asarray([float(v) for v in values], np.float64)
    if arr.shape[0] != p:
        raise ValueError(f"{name} has {arr.size} value(s) but there are {p} neuron(s); give one band edge "
                         f"per neuron (neuron, z1 and z2 must have equal lengths).")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}.")
    if np.any(np.abs(arr) > FLOAT32_MAX):
        raise ValueError(f"{name} = {arr.tolist()} is outside float32's range (±{FLOAT32_MAX:.3g}), in which "
                         "activations are computed.")
    return arr


def check_bands(z1, z2, p: int, labels: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bands as float64 arrays of shape (p,), checked: numbers, one per neuron, finite, within float32, z1 < z2."""
    lo, hi = _edges("z1", z1, p), _edges("z2", z2, p)
    bad = np.flatnonzero(~(lo.astype(np.float32) < hi.astype(np.float32)))
    if bad.size:
        i = int(bad[0])
        which = f" ({labels[i]})" if labels else ""
        raise ValueError(
            f"band {i}{which} is empty or reversed: z1={lo[i]:.6g} ≥ z2={hi[i]:.6g}"
            + (" in float32, in which activations are computed" if lo[i] < hi[i] else "")
            + "; z1 must be strictly below z2."
        )
    return lo, hi


def as_key(rng_key):
    """An int seed, a typed key (``jax.random.key``) or a raw uint32 key (``jax.random.PRNGKey``) as a typed key."""
    if rng_key is None:
        return jax.random.key(0)
    if isinstance(rng_key, numbers.Integral) and not isinstance(rng_key, bool):
        if not -(2**63) <= int(rng_key) < 2**64:
            raise ValueError(f"rng_key {rng_key} does not fit in 64 bits; use an int in [0, 2**64).")
        return jax.random.key(int(rng_key))
    if isinstance(rng_key, jax.Array) and jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key) and rng_key.shape == ():
        return rng_key
    if isinstance(rng_key, (jax.Array, np.ndarray)) and rng_key.dtype == np.uint32 and rng_key.shape == (2,):
        return jax.random.wrap_key_data(jnp.asarray(rng_key))
    raise TypeError(f"rng_key must be an int, jax.random.key(…) or jax.random.PRNGKey(…), got {rng_key!r}.")


def check_init(init) -> tuple[Callable, object]:
    """``(init_fn, cache key)``: an int d becomes N(0, I_d), keyed by d so repeated calls share a sampler."""
    if isinstance(init, numbers.Integral) and not isinstance(init, bool):
        d = check_count("init", init, "the code dimension d of a standard Gaussian N(0, I_d)")
        return initialization.gaussian(d), ("gaussian", d)
    if not callable(init):
        raise TypeError("init must be a callable rng_key -> code (see inverse_set.paper.initialization) or an int "
                        f"code dimension for a standard Gaussian, got {init!r}.")
    return init, init


def code_spec(init_fn) -> jax.ShapeDtypeStruct:
    try:
        spec = jax.eval_shape(init_fn, jax.random.key(0))
    except Exception as err:
        raise ValueError(f"init(rng_key) failed: {_reason(err)}") from err
    if len(spec.shape) != 1:
        raise ValueError(f"init must return one code vector of shape (d,), got shape {spec.shape}.")
    return spec


def _reason(err: Exception) -> str:
    return str(err).strip().rstrip(".")


def layer_shapes(generator, encoder, target, spec, needs_target):
    """Check that G's output fits E and the target; return (image spec, number of features, layer shapes)."""
    try:
        image = jax.eval_shape(generator, spec)
    except Exception as err:
        raise ValueError(
            f"the generator failed on a code of shape {spec.shape}, the shape init returns: {_reason(err)}. "
            "init draws the seeds' starting codes; initialization.encoded_noise(E, …) and encoded_images(E, …) "
            "give codes of E's output size, so they need an encoder that maps into the generator's code space "
            "(else use initialization.gaussian(d) or init=d)."
        ) from err
    try:
        phi = jax.eval_shape(encoder, image)
    except Exception as err:
        raise ValueError(f"the encoder does not accept the generator's output of shape {image.shape}: "
                         f"{_reason(err)}.") from err
    layers = None
    if target is not None and needs_target:
        try:
            out = jax.eval_shape(lambda x: dict(as_layer_dict(target(x))), image)
        except Exception as err:
            raise ValueError(
                f"the target network failed on the generator's output, one image of shape {image.shape}: "
                f"{_reason(err)}. Either the target takes images of another shape (the generator must return one "
                "image in the shape the target takes, with no batch axis), or the target itself fails: the reason "
                "above says where."
            ) from err
        layers = {name: tuple(v.shape) for name, v in out.items()}
    return image, int(np.prod(phi.shape)), layers


def check_code_bounds(bounds, d: int):
    """``(low, high)`` as float32 arrays or ±inf scalars, checked: None or a pair of None/number/(d,) array, low < high."""
    if bounds is None:
        return -jnp.inf, jnp.inf
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
        raise ValueError(f"code_bounds must be a pair (low, high) of numbers, (d,) arrays or None, got {bounds!r}.")
    out = []
    for name, b, inf in (("low", bounds[0], -np.inf), ("high", bounds[1], np.inf)):
        if b is None:
            out.append(inf)
            continue
        try:
            arr = np.asarray(b, np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"code_bounds {name} must be a number, a ({d},) array or None, got {b!r}.") from None
        if arr.dtype == object or arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != d):
            raise ValueError(f"code_bounds {name} has shape {arr.shape}; the code has {d} dimensions, so give a "
                             f"number or an array of shape ({d},).")
        if np.isnan(arr).any():
            raise ValueError(f"code_bounds {name} holds NaN; give numbers (±inf for no bound) or None.")
        out.append(arr)
    low, high = out
    if not np.all(np.asarray(low) < np.asarray(high)):
        raise ValueError(f"code_bounds: low must be strictly below high in every dimension, got low={bounds[0]!r}, "
                         f"high={bounds[1]!r}; an empty or one-point box leaves the codes nothing to explore.")
    as32 = lambda a: a if np.isscalar(a) and np.isinf(a) else jnp.asarray(a, jnp.float32)
    return as32(low), as32(high)


def bounds_key(low, high):
    """A hashable key of the code bounds (for the sampler cache)."""
    return tuple((np.shape(b), np.asarray(b, np.float32).tobytes()) for b in (low, high))
