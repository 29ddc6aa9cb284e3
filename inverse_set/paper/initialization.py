"""How to draw the seeds' initial codes: ``init(rng_key) -> code`` (one code; vmapped over K).

* :func:`gaussian`: the prior of a Gaussian-latent generator, N(0, σ² I).
* :func:`encoded_noise`: the paper (sec. 3.4): random images passed through an
  encoder into code space, ``c = E(X₀)`` with X₀ uniform noise.
* :func:`encoded_images`: codes of random images drawn from an array (e.g. real data).
* :func:`encoded_samples`: codes of samples of another generator, c = E(G'(z)), z ~ N(0, I)
  (e.g. a Gaussian-latent generator's samples: realistic starting codes without any data set).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def gaussian(dim: int, scale: float = 1.0) -> Callable[[Array], Array]:
    """``c ~ N(0, scale² I_dim)``."""
    if dim < 1:
        raise ValueError(f"code dimension must be ≥ 1, got {dim}.")

    def init(rng_key):
        return scale * jax.random.normal(rng_key, (dim,), jnp.float32)

    init.code_dim, init.scale = dim, float(scale)
    return init


def encoded_noise(
    encoder: Callable, image_shape: tuple[int, ...], low: float = 0.0, high: float = 1.0
) -> Callable[[Array], Array]:
    """``c = E(X₀)``, X₀ uniform in [low, high] with the given image shape (the paper)."""

    def init(rng_key):
        image = jax.random.uniform(rng_key, image_shape, jnp.float32, low, high)
        return jnp.ravel(encoder(image))

    return init


def encoded_images(encoder: Callable, images: Array) -> Callable[[Array], Array]:
    """``c = E(x)`` for an image x drawn uniformly from ``images`` (N, …)."""
    images = jnp.asarray(images)

    def init(rng_key):
        i = jax.random.randint(rng_key, (), 0, images.shape[0])
        return jnp.ravel(encoder(images[i]))

    return init


def encoded_samples(encoder: Callable, sampler: Callable, latent_dim: int) -> Callable[[Array], Array]:
    """``c = E(G'(z))``, z ~ N(0, I_latent_dim): codes of another generator's samples."""

    def init(rng_key):
        z = jax.random.normal(rng_key, (latent_dim,), jnp.float32)
        return jnp.ravel(encoder(sampler(z)))

    return init
