"""Where the neuron looks: attribution maps of its activation over an image's pixels, and what changed.

The map of an image x is gradient × input smoothed over small jitters (SmoothGrad,
Smilkov et al. 2017): ``M(x) = E_ε[∇a(x + ε) ⊙ (x + ε)]``, ε ~ N(0, s² I) with s a
share ``NOISE`` of the image's own range, estimated from ``JITTERS`` draws, summed
over the channel axis. A positive value is a pixel whose brightness pushes the
activation up. The map moves with the object: a target that treats every position
alike gives a shifted image a map shifted the same way.

For a sample near an image (``near=x0``), :func:`change_map` is what changed from the
reconstruction G(z₀): ``|x − G(z₀)|`` summed over channels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import checks
from inverse_set.core.constraints import as_layer_dict, make_activation_fn, resolve
from inverse_set.models import Models

NOISE = 0.1  # s: the jitters' standard deviation, as a share of the image's range (max − min)
JITTERS = 16  # draws of ε per image


def attribution_maps(neuron, images, *, models: Models | None = None, target=None, channel_axis: int | None = -1,
                     jitters: int = JITTERS, noise: float = NOISE, rng_key=0) -> np.ndarray:
    """The neuron's attribution map of each image, ``(m, …)``: the images' shape without ``channel_axis`` (None:
    every axis kept), gradient × input averaged over ``jitters`` noisy copies (the module docstring).

    ``neuron``: one neuron, as :func:`~inverse_set.api.sample_inverse_set` takes it; ``images``: (m, …) in the
    generator's output format; ``models`` (its target and class names) or ``target``."""
    target = target if target is not None else getattr(models, "target", None)
    neurons = [checks.by_name(x, getattr(models, "class_names", None)) for x in checks.as_neuron_list(neuron)]
    if len(neurons) != 1:
        raise ValueError(f"attribution_maps takes one neuron, got {len(neurons)}; call it once per neuron.")
    checks.check_count("jitters", jitters, "the noisy copies each map averages")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < np.inf:
        raise ValueError(f"noise must be a share ≥ 0 of the image's range, got {noise!r}.")
    images = np.asarray(images, np.float32)
    if images.ndim < 2 or images.shape[0] == 0:
        raise ValueError(f"images must be an array of m ≥ 1 images (m, …), got shape {images.shape}.")
    layers = None
    if not checks.is_neuron_callable(neurons[0]):
        if target is None:
            raise TypeError("attribution_maps: this neuron reads the target network's layers; pass models= (with "
                            "a target) or target=.")
        out = jax.eval_shape(lambda x: dict(as_layer_dict(target(x))), jax.ShapeDtypeStruct(images.shape[1:],
                                                                                             jnp.float32))
        layers = {k: v.shape for k, v in out.items()}
    specs, indices, _ = resolve(neurons, layers)
    activation = make_activation_fn(specs, target)
    scale = noise * float(images.max() - images.min())

    def one(x, key):
        eps = scale * jax.random.normal(key, (jitters, *x.shape))
        grads = jax.vmap(jax.grad(lambda y: activation(y, indices)[0]))(x + eps)
        product = jnp.mean(grads * (x + eps), axis=0)
        return product if channel_axis is None else jnp.sum(product, axis=channel_axis)

    keys = jax.random.split(checks.as_key(rng_key), images.shape[0])
    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(images), keys))


def change_map(images, reference, channel_axis: int | None = -1) -> np.ndarray:
    """What changed from ``reference`` in each image, ``|x − reference|`` summed over ``channel_axis``, (m, …)."""
    images, reference = np.asarray(images, np.float32), np.asarray(reference, np.float32)
    if images.shape[1:] != reference.shape:
        raise ValueError(f"change_map: images of shape {images.shape[1:]} against a reference of shape "
                         f"{reference.shape}; give images of the reference's shape.")
    change = np.abs(images - reference[None])
    return change if channel_axis is None else change.sum(axis=channel_axis if channel_axis < 0 else channel_axis + 1)
