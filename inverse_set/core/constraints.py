"""Neurons, bands and the activation vector f(x) of eq. 11–12.

A *constraint* is a neuron and a band ``z1 ≤ a(x) ≤ z2``. Several constraints are
the intersection of their inverse sets. All constraints read their neurons from
**one** forward pass of the target network: the target returns its activations by
layer name, and each constraint picks one unit out of that dictionary.

A neuron is one of

* an ``int``: a unit of the target's output layer (``"logits"`` if the target
  returns a dict holding it, else ``"output"``);
* a :class:`Unit`: a named layer plus a unit index — a dense unit, a conv
  channel either at one spatial ``position`` or averaged over positions, or a
  channel of a token layer (a transformer's (T, C) activations) either at one
  token or averaged over tokens;
* a callable ``image -> scalar`` (evaluated on its own, outside the target pass).

The unit and position indices are *traced* (see :class:`ConstraintIndices`), so a
batch of problems that read different units of the same layers runs under one
``vmap`` without recompiling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
ImageFn = Callable[[Array], Any]


class Unit(NamedTuple):
    """A unit of a named layer of the target network.

    Attributes:
      layer: layer name as the target reports it (``None``: the output layer).
      index: unit index of a dense layer, or channel index of a conv layer
        (activations shaped ``(H, W, C)``) or of a token layer (``(T, C)``).
      position: ``(h, w)`` to read a conv channel at one spatial position; a token
        ``t`` to read a token layer's channel at one token (the class token is
        ``0`` in the ViTs of timm and torchvision, which put it first); ``None``
        averages the channel over all positions or tokens. Must be ``None`` for
        dense layers.
    """

    layer: str | None
    index: int
    position: tuple[int, int] | int | None = None


class ConstraintSpec(NamedTuple):
    """The static part of one constraint: what to read, not which unit (hashable)."""

    layer: str | None  # resolved layer name; None for a callable neuron
    at_position: bool  # conv channel read at one position, or token layer's at one token (else averaged / dense)
    fn: Callable | None  # the callable neuron, if any


class ConstraintIndices(NamedTuple):
    """The traced part of the constraints: unit index and (h, w) per constraint."""

    unit: Array  # (p,) int32
    position: Array  # (p, 2) int32: (h, w), or (t, 0) for a token


def as_layer_dict(out: Any) -> Mapping[str, Array]:
    """A target's output as ``{layer name: activations}``; a bare array is ``{"output": …}``."""
    if isinstance(out, Mapping):
        return out
    return {"output": out}


def default_output_layer(layers: Mapping[str, Any]) -> str:
    for name in ("logits", "output"):
        if name in layers:
            return name
    raise ValueError(
        "An integer neuron indexes the target's output layer, but the target returns "
        f"layers {sorted(layers)} and none is called 'logits' or 'output'. "
        "Give the neuron as Unit(layer, index) instead."
    )


def _is_index(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_unit(i: int, unit: Unit) -> None:
    """A unit's fields have the right types: a layer name, an int index, an (h, w) pair of ints or None."""
    if unit.layer is not None and not isinstance(unit.layer, str):
        raise TypeError(f"neuron {i}: the layer of {unit} must be a layer name (str) or None, got {unit.layer!r}.")
    if not _is_index(unit.index):
        raise TypeError(f"neuron {i}: the index of {unit} must be an int (a unit or channel index), "
                        f"got {unit.index!r} ({type(unit.index).__name__}).")
    position = unit.position
    if position is not None and not _is_index(position) and not (
            isinstance(position, (tuple, list)) and len(position) == 2 and all(_is_index(p) for p in position)):
        raise TypeError(f"neuron {i}: the position of {unit} must be a pair of ints (h, w) for a conv layer, an int "
                        f"token for a token layer, or None; got {position!r}.")


def resolve(neurons: Sequence[Any], layer_shapes: Mapping[str, tuple[int, ...]] | None):
    """Split neurons into static specs and traced indices, checking every index.

    Args:
      neurons: ints, :class:`Unit` s or callables.
      layer_shapes: shapes of the target's layers for one image (``None`` if there
        is no target, in which case every neuron must be a callable).

    Returns:
      ``(specs, indices, labels)``: a tuple of :class:`ConstraintSpec`, a
      :class:`ConstraintIndices` and readable labels such as ``"logits[8]"``.
    """
    specs, units, positions, labels = [], [], [], []
    for i, neuron in enumerate(neurons):
        if callable(neuron) and not isinstance(neuron, (Unit, int)):
            name = getattr(neuron, "__name__", type(neuron).__name__)
            specs.append(ConstraintSpec(None, False, neuron))
            labels.append(name)
            units.append(0)
            positions.append((0, 0))
            continue
        if isinstance(neuron, (int, np.integer)) and not isinstance(neuron, bool):
            neuron = Unit(None, int(neuron))
        if not isinstance(neuron, Unit):
            raise TypeError(
                f"neuron {i} is {neuron!r} ({type(neuron).__name__}); expected an int "
                "(unit of the output layer), a Unit(layer, index, position) or a callable "
                "image -> scalar."
            )
        _check_unit(i, neuron)
        if layer_shapes is None:
            raise ValueError(
                f"neuron {i} ({neuron}) reads a layer of the target network, but no target "
                "was given. Pass target=… or give the neuron as a callable image -> scalar."
            )
        layer = neuron.layer if neuron.layer is not None else default_output_layer(layer_shapes)
        if layer not in layer_shapes:
            raise ValueError(
                f"neuron {i}: the target has no layer {layer!r}; its layers are "
                f"{sorted(layer_shapes)}."
            )
        shape = tuple(layer_shapes[layer])
        if len(shape) == 1:
            size, kind = shape[0], "units"
            if neuron.position is not None:
                raise ValueError(
                    f"neuron {i}: layer {layer!r} is dense (shape {shape}); a position "
                    "applies only to conv layers shaped (H, W, C) and token layers shaped (T, C). Drop position=."
                )
        elif len(shape) == 2:
            size, kind = shape[1], "channels"
            if neuron.position is not None:
                if not _is_index(neuron.position):
                    raise ValueError(
                        f"neuron {i}: layer {layer!r} is a token layer (shape {shape}: {shape[0]} tokens of "
                        f"{shape[1]} channels); its position is one token, an int, not {neuron.position!r}."
                    )
                if not 0 <= neuron.position < shape[0]:
                    raise ValueError(
                        f"neuron {i}: token {neuron.position} is outside layer {layer!r}, which has "
                        f"{shape[0]} tokens; use 0 ≤ position < {shape[0]}."
                    )
        elif len(shape) == 3:
            size, kind = shape[2], "channels"
            if _is_index(neuron.position):
                raise ValueError(
                    f"neuron {i}: layer {layer!r} is a conv layer (shape {shape}); its position is a pair (h, w), "
                    f"not the token {neuron.position!r}."
                )
            if neuron.position is not None:
                h, w = neuron.position
                if not (0 <= h < shape[0] and 0 <= w < shape[1]):
                    raise ValueError(
                        f"neuron {i}: position {neuron.position} is outside layer {layer!r} "
                        f"of spatial size {shape[:2]}; use 0 ≤ h < {shape[0]}, 0 ≤ w < {shape[1]}."
                    )
        else:
            raise ValueError(
                f"neuron {i}: layer {layer!r} has shape {shape}; only dense (U,), token (T, C) and conv "
                "(H, W, C) layers are supported. Use a callable neuron for other layers."
            )
        if not 0 <= neuron.index < size:
            raise ValueError(
                f"neuron {i}: index {neuron.index} is out of range for layer {layer!r}, "
                f"which has {size} {kind}; use 0 ≤ index < {size}."
            )
        at = (neuron.position, 0) if _is_index(neuron.position) else neuron.position
        label = f"{layer}[{neuron.index}]"
        if len(shape) == 2:
            label = f"{layer}[{neuron.position},{neuron.index}]" if at is not None else f"mean {layer}[:,{neuron.index}]"
        elif at is not None:
            label = f"{layer}[{at[0]},{at[1]},{neuron.index}]"
        elif len(shape) == 3:
            label = f"mean {layer}[:,:,{neuron.index}]"
        specs.append(ConstraintSpec(layer, at is not None, None))
        labels.append(label)
        units.append(neuron.index)
        positions.append(tuple(int(p) for p in at) if at is not None else (0, 0))
    indices = ConstraintIndices(
        jnp.asarray(units, jnp.int32), jnp.asarray(positions, jnp.int32).reshape(-1, 2)
    )
    return tuple(specs), indices, tuple(labels)


def make_activation_fn(specs: tuple[ConstraintSpec, ...], target: ImageFn | None):
    """Build ``f(image, indices) -> (p,)``: every constraint's activation, one target pass.

    .. math:: f(x) = (a_1(x), …, a_p(x)),\\quad a_k(x) = \\text{layer}_k(x)[\\text{unit}_k]
    """
    needs_target = any(spec.fn is None for spec in specs)

    def activation(image: Array, indices: ConstraintIndices) -> Array:
        layers = as_layer_dict(target(image)) if needs_target else {}
        values = []
        for k, spec in enumerate(specs):
            if spec.fn is not None:
                values.append(jnp.reshape(spec.fn(image), ()))
                continue
            act = layers[spec.layer]
            unit = indices.unit[k]
            if act.ndim == 1:  # dense unit
                values.append(act[unit])
            elif act.ndim == 2:  # token layer (T, C): a channel at token t, or averaged over tokens
                values.append(act[indices.position[k, 0], unit] if spec.at_position else jnp.mean(act[:, unit]))
            elif spec.at_position:  # conv channel at (h, w)
                h, w = indices.position[k, 0], indices.position[k, 1]
                values.append(act[h, w, unit])
            else:  # conv channel averaged over positions
                values.append(jnp.mean(act[:, :, unit]))
        return jnp.stack(values).astype(jnp.float32)

    return activation
