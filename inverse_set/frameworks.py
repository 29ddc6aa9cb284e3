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

from inverse_set.core.constraints import as_layer_dict

Array = jax.Array


def flax_target(module, params, *, method=None, batched: bool = True) -> Callable[[Array], dict]:
    """Wrap a Flax linen module as a target ``image -> {layer name: activations}``.

    Every submodule's output (``capture_intermediates``) and every value the module
    ``sow``s into ``"intermediates"`` becomes a layer, named by its path joined with
    ``/`` (e.g. ``"conv1"``, ``"block/dense"``); the module's return value is
    ``"output"`` (or its entries, if it returns a dict).

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
                layers[name] = value[0] if batched else value
        for name, value in as_layer_dict(out).items():
            layers[name] = value[0] if batched else value
        return layers

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
    :func:`~inverse_set.core.constraints.flax_target`; the module's return value is
    ``"output"`` (or its entries, if it returns a dict).

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
        layers = {name: value for name, value in flatten_intermediates(nnx.to_pure_dict(sown)).items() if name}
        layers.update(as_layer_dict(out))
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
                 channels_last: bool = False) -> Callable[[Array], dict]:
    """A ``torch.nn.Module`` as a target ``image -> {layer name: activations}`` (through torchax).

    Each named submodule's output (``module.named_modules()`` names, e.g.
    ``"features.0"``, ``"fc1"``; all of them unless ``layers`` lists some) is read
    by a forward hook during the one forward pass; the module's return value is
    ``"output"``. Conv outputs (N, C, H, W) are given channels last, (H, W, C), so
    ``Unit("conv1", c)`` is channel c's mean over positions and ``Unit("conv1", c,
    (h, w))`` one position, as for Flax targets. With ``channels_last`` the image comes (H, W, C) and is moved to
    torch's (C, H, W) (e.g. for ``method="fourier"``, whose images are channels last).
    """
    _, torchax = _torchax()
    module = module.eval()
    named = dict(module.named_modules())
    names = [name for name in named if name] if layers is None else list(layers)
    unknown = [name for name in names if name not in named]
    if unknown:
        raise ValueError(f"the module has no submodules {unknown}; it has {[n for n in named if n]}.")
    env = torchax.default_env()
    weights, fn = torchax.extract_jax(module)

    def target(image):
        captured = {}
        hooks = [named[name].register_forward_hook(lambda mod, args, out, name=name: captured.__setitem__(name, out))
                 for name in names]
        x = jnp.moveaxis(image, -1, -3) if channels_last else image
        try:
            out = fn(weights, (x[None] if batched else x,))
        finally:
            for hook in hooks:
                hook.remove()
        acts = {name: _channels_last(env.t2j_iso(value)) for name, value in captured.items()}
        acts.update({name: _channels_last(v) for name, v in as_layer_dict(out).items()})
        return {name: value[0] for name, value in acts.items()} if batched else acts

    return target
