"""Networks of any framework as the sampler's functions: Flax linen, Flax NNX and PyTorch modules.

The sampler takes plain JAX functions of one example (``G(code) -> image``,
``E(image) -> features``, ``target(image) -> {layer name: activations}``). This
module makes them of

* **Flax linen**: :func:`flax_target` (every intermediate the module reports, by name);
* **Flax NNX**: :func:`nnx_target` (every submodule's output and every value the
  module ``sow``s as ``nnx.Intermediate``, by name) and :func:`nnx_function`
  (a module as a plain function, e.g. a generator or an encoder);
* **PyTorch** (the optional extra ``pip install 'inverse-set[torch]'``, through
  `torchax <https://github.com/google/torchax>`_, which runs a ``torch.nn.Module``
  as a JAX function of its weights): :func:`torch_target` (named submodules'
  outputs by forward hooks) and :func:`torch_function`.

The weights are constants of the returned functions, so the sampler can jit,
vmap and differentiate them like any JAX function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def named_parts(name: str, value, is_array=lambda v: isinstance(v, jax.Array | np.ndarray)) -> dict:
    """What a layer returned, as ``{name: array}``: an array as it is; a tuple or list by part, ``name.0``,
    ``name.1``, … (and ``name`` itself its first array, as for ``nn.MultiheadAttention``'s ``(output, weights)``);
    a dict by key, ``name.key``; anything else (None, a number, another object) left out."""
    if is_array(value):
        return {name: value}
    parts: dict = {}
    if isinstance(value, (tuple, list)):
        for i, part in enumerate(value):
            parts.update(named_parts(f"{name}.{i}", part, is_array))
        first = next((parts[key] for key in parts), None)
        return parts if first is None else {name: first, **parts}
    if isinstance(value, Mapping):
        for key, part in value.items():
            parts.update(named_parts(f"{name}.{key}", part, is_array))
    return parts


def output_parts(out) -> dict:
    """A module's return value as layers: a dict's entries by their own names, else ``"output"`` (by part)."""
    if isinstance(out, Mapping):
        return {k: v for key, value in out.items() for k, v in named_parts(str(key), value).items()}
    return named_parts("output", out)


def flax_target(module, params, *, method=None, batched: bool = True) -> Callable[[Array], dict]:
    """Wrap a Flax linen module as a target ``image -> {layer name: activations}``.

    Every submodule's output (``capture_intermediates``) and every value the module
    ``sow``s into ``"intermediates"`` becomes a layer, named by its path joined with
    ``/`` (e.g. ``"conv1"``, ``"block/dense"``); the module's return value is
    ``"output"`` (or its entries, if it returns a dict). A submodule that returns a
    tuple, list or dict gives its parts (:func:`named_parts`).

    Args:
      module: a ``flax.linen.Module``.
      params: its variables (``{"params": …}``).
      method: optional method to call instead of ``__call__``.
      batched: the module expects a leading batch dimension (the wrapper adds and
        removes it, so the returned function takes one image).
    """

    def target(image):
        x = image[None] if batched else image
        out, state = module.apply(
            params, x, method=method, capture_intermediates=True, mutable=["intermediates"]
        )
        layers = {}
        flat = flatten_intermediates(state.get("intermediates", {}))
        for name, value in flat.items():
            if name:  # "" is the top-level module's own output, reported as "output" below
                layers.update(named_parts(name, value))
        layers.update(output_parts(out))
        return {name: value[0] for name, value in layers.items()} if batched else layers

    return target


def flatten_intermediates(tree: Mapping, prefix: str = "") -> dict[str, Array]:
    """Flatten flax intermediates: drop ``__call__``, keep the last sown value."""
    flat = {}
    for key, value in tree.items():
        name = prefix if key == "__call__" else (f"{prefix}/{key}" if prefix else key)
        if isinstance(value, Mapping):
            flat.update(flatten_intermediates(value, name))
        elif isinstance(value, tuple):
            flat[name] = value[-1]
        else:
            flat[name] = value
    return flat



def nnx_function(module, *, batched: bool = True) -> Callable[[Array], Array]:
    """A Flax NNX module as a pure function of one example (``batched``: it expects a leading batch axis)."""
    from flax import nnx

    graphdef, state = nnx.split(module)

    def fn(x):
        out = nnx.merge(graphdef, state)(x[None] if batched else x)
        return jax.tree.map(lambda v: v[0], out) if batched else out

    return fn


def nnx_target(module, *, batched: bool = True) -> Callable[[Array], dict]:
    """A Flax NNX module as a target ``image -> {layer name: activations}``.

    Every submodule's output (e.g. ``"conv1"``, ``"block/dense"``, the output of
    its ``__call__``) and every value the module ``sow``s as ``nnx.Intermediate``
    becomes a layer, named by its path joined with ``/`` as for
    :func:`flax_target`; the module's return value is ``"output"`` (or its
    entries, if it returns a dict). A submodule that returns a tuple, list or
    dict gives its parts (:func:`named_parts`).

    Args:
      module: an ``nnx.Module`` (it is split once into its graph and state; later
        changes to the module object do not reach the target).
      batched: the module expects a leading batch dimension (the wrapper adds and
        removes it, so the returned function takes one image).
    """
    from flax import nnx

    graphdef, state = nnx.split(module)

    def target(image):
        model = nnx.merge(graphdef, state)
        out, sown = nnx.capture(model, nnx.Intermediate, method_outputs=nnx.Intermediate)(
            image[None] if batched else image)
        layers = {}
        for name, value in flatten_intermediates(nnx.to_pure_dict(sown)).items():
            if name:
                layers.update(named_parts(name, value))
        layers.update(output_parts(out))
        return {name: value[0] for name, value in layers.items()} if batched else layers

    return target


def _torchax():
    try:
        import torch
        import torchax
    except ImportError as err:
        raise ImportError(
            "PyTorch models need torch and torchax: pip install 'inverse-set[torch]'."
        ) from err
    return torch, torchax


def _channels_last(value: Array) -> Array:
    """(N, C, H, W) -> (N, H, W, C): conv channels last, as :class:`~inverse_set.core.constraints.Unit` reads them."""
    return jnp.moveaxis(value, 1, -1) if value.ndim == 4 else value


def _normalization(normalize) -> tuple[Array, Array] | None:
    """``(mean, std)`` as two (C,) float32 arrays, checked: std positive, as many of each."""
    if normalize is None:
        return None
    try:
        mean, std = (np.asarray(v, np.float32).reshape(-1) for v in normalize)
    except (TypeError, ValueError):
        raise ValueError(f"normalize must be (mean, std), one number per channel each, got {normalize!r}.") from None
    if mean.shape != std.shape or not np.all(std > 0) or not np.all(np.isfinite(mean)):
        raise ValueError(f"normalize=(mean, std) needs as many means as standard deviations, each std > 0 and every "
                         f"value finite; got mean {mean.tolist()}, std {std.tolist()}.")
    return jnp.asarray(mean), jnp.asarray(std)


def torch_function(module, *, batched: bool = True) -> Callable[[Array], Array]:
    """A ``torch.nn.Module`` as a JAX function of one example (through torchax; weights as constants).

    The module runs in eval mode on the example with a batch axis added
    (``batched``) and removed from the output; images keep torch's layout
    (e.g. (C, H, W)), so a torch generator feeds a torch target unchanged.
    """
    _, torchax = _torchax()
    weights, fn = torchax.extract_jax(module.eval())

    def call(x):
        out = fn(weights, (x[None] if batched else x,))
        return out[0] if batched else out

    return call


def torch_target(module, *, layers: Sequence[str] | None = None, batched: bool = True,
                 channels_last: bool = False, normalize: tuple[Sequence[float], Sequence[float]] | None = None
                 ) -> Callable[[Array], dict]:
    """A ``torch.nn.Module`` as a target ``image -> {layer name: activations}`` (through torchax).

    Each named submodule's output (``module.named_modules()`` names, e.g.
    ``"features.0"``, ``"fc1"``; all of them unless ``layers`` lists some) is read
    by a forward hook during the one forward pass; the module's return value is
    ``"output"``. A submodule that returns a tuple, list or dict of tensors gives its
    parts (``"block.self_attn.0"``, … and ``"block.self_attn"`` its first tensor:
    :func:`named_parts`); one that returns no tensor gives no layer. Conv outputs
    (N, C, H, W) are given channels last, (H, W, C), so ``Unit("conv1", c)`` is
    channel c's mean over positions and ``Unit("conv1", c, (h, w))`` one position,
    as for Flax targets; token outputs (N, T, C) are (T, C), so ``Unit("blocks.0",
    c, 5)`` is channel c at token 5 and ``Unit("blocks.0", c)`` its mean over
    tokens. With ``channels_last`` the image comes (H, W, C) and is moved to
    torch's (C, H, W) (e.g. for ``method="fourier"``, whose images are channels last).
    With ``normalize=(mean, std)`` (one number per channel, as the model's own
    transforms give them, e.g. timm's ``resolve_data_config``) the module sees
    ``(image − mean) / std``: the generator's images stay in their own range.
    """
    torch, torchax = _torchax()
    shift = _normalization(normalize)
    module = module.eval()
    named = dict(module.named_modules())
    names = [name for name in named if name] if layers is None else list(layers)
    unknown = [name for name in names if name not in named]
    if unknown:
        raise ValueError(f"the module has no submodules {unknown}; it has {[n for n in named if n]}.")
    env = torchax.default_env()
    weights, fn = torchax.extract_jax(module)

    def read(name, out) -> dict:
        try:
            parts = named_parts(name, out, lambda v: isinstance(v, torch.Tensor))
            return {key: _channels_last(env.t2j_iso(value)) for key, value in parts.items()}
        except Exception as err:
            raise RuntimeError(f"torch_target could not read what submodule {name!r} "
                               f"({type(named[name]).__name__}) returned, a {type(out).__name__}: {err}") from err

    def target(image):
        captured, running = {}, []  # the submodules' outputs; the submodules entered and not yet left
        hooks = [named[name].register_forward_hook(lambda mod, args, out, name=name: captured.__setitem__(name, out))
                 for name in names]
        def leave(mod, args, out):  # a forward hook that returns something replaces the output: None
            running.pop()

        for name, sub in named.items():
            hooks.append(sub.register_forward_pre_hook(lambda mod, args, name=name: running.append(name)))
            hooks.append(sub.register_forward_hook(leave))
        x = jnp.moveaxis(image, -1, -3) if channels_last else image
        if shift is not None:
            if x.ndim < 3 or x.shape[-3] != shift[0].shape[0]:
                raise ValueError(f"torch_target(normalize=…) has {shift[0].shape[0]} channels; the image, shape "
                                 f"{image.shape}, has {x.shape[-3] if x.ndim >= 3 else 'no'} channel axis of that size "
                                 "(C, H, W) (or (H, W, C) with channels_last=True).")
            x = (x - shift[0][:, None, None]) / shift[1][:, None, None]
        try:
            out = fn(weights, (x[None] if batched else x,))
        except Exception as err:
            where = running[-1] if running else ""
            raise RuntimeError(f"torch_target: the module failed in submodule {where or '(the top level)'!r} "
                               f"({type(named[where]).__name__}) on one image of shape {tuple(x.shape)}"
                               f"{' (given as a batch of one)' if batched else ''}: {type(err).__name__}: {err}"
                               ) from err
        finally:
            for hook in hooks:
                hook.remove()
        acts = {}
        for name, value in captured.items():
            acts.update(read(name, value))
        acts.update({name: _channels_last(v) for name, v in output_parts(out).items()})
        return {name: value[0] for name, value in acts.items()} if batched else acts

    return target
