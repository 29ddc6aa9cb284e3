"""The band near one image x0: samples of the prior localised at x0's latent, restricted to the band.

The target is ``N(z; z₀, σ² I) · 1[f(G(z)) ∈ B]``: the prior's draws around z₀, the
latent whose image ``G(z₀)`` best reconstructs x0 (:func:`invert`), kept where the
neuron fires in the band. Writing ``z = z₀ + σ u`` with ``u ~ N(0, I)`` makes it the
ordinary problem of a Gaussian prior, over ``u ↦ G(z₀ + σ u)`` (:func:`localised`), so
every method of the prior space runs on it unchanged and every promise holds: the
samples are in the band, none twice, the same key gives the same samples. σ is given, or
the smallest of ``SCALES`` whose localised prior the particle ladder climbs into the band
from (decision 0027).

The result says how near each sample stayed (:class:`inverse_set.results.Near`): the root-mean-square pixel
distance of its image to the reconstruction ``G(z₀)``, and the distance of its encoding
``E(x)`` to the reconstruction's.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from inverse_set.methods import is_standard_gaussian
from inverse_set.models import Models

SCALES = (0.25, 0.5, 1.0)  # σ tried in turn when none is given (decision 0027)
STARTS, STEPS, LEARNING_RATE = 8, 300, 0.05  # the inversion: Adam from this many prior draws, this many steps
PRIOR_WEIGHT = 1e-3  # the inversion's pull towards typical latents: + PRIOR_WEIGHT × mean(z²)
RANGE_SLACK = 0.5  # x0 may lie this share of the generator's own range outside it, no more


def _identity(z):
    return z


def latent_map(models: Models):
    """``(z ↦ G's input, d)``: the prior, or the identity for a generator whose input is itself N(0, I_d)."""
    if models.prior is not None:
        return models.prior, int(models.latent_dim)
    if is_standard_gaussian(models.init):
        d = models.init if isinstance(models.init, int) else models.init.code_dim
        return _identity, int(d)
    raise ValueError("near= samples the prior localised at x0's latent, so the generator's input must have a "
                     "N(0, I) prior: give init=d (z ~ N(0, I_d)) or prior=(z -> code) with latent_dim=d.")


def check_image(models: Models, image, to_input, dim: int) -> np.ndarray:
    """x0 as a float32 array, checked: the generator's output shape, finite, and within its range (give or take
    ``RANGE_SLACK`` of it: an image in 0–255 for a generator of 0–1 images is refused)."""
    try:
        x0 = np.asarray(image, np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"near= must be an image (an array), got {type(image).__name__}.") from None
    draws = jax.vmap(lambda z: models.generator(to_input(z)))(jax.random.normal(jax.random.key(0), (16, dim)))
    shape = tuple(draws.shape[1:])
    if x0.shape != shape:
        raise ValueError(f"near= is an image of shape {x0.shape}, but the generator's images have shape {shape}: "
                         "give one image in the generator's own layout, with no batch axis.")
    if not np.all(np.isfinite(x0)):
        raise ValueError("near= holds NaN or infinite pixels; give a finite image.")
    low, high = float(jnp.min(draws)), float(jnp.max(draws))
    slack = RANGE_SLACK * max(high - low, 1e-6)
    if x0.min() < low - slack or x0.max() > high + slack:
        raise ValueError(f"near= ranges over [{x0.min():.3g}, {x0.max():.3g}], but the generator's images over about "
                         f"[{low:.3g}, {high:.3g}]: scale x0 to the generator's range (e.g. divide 0–255 pixels by "
                         "255).")
    return x0


def invert(models: Models, image, rng_key=0) -> tuple[np.ndarray, np.ndarray, float]:
    """``(z₀, G(z₀), RMS error)``: the latent whose image is nearest x0, by Adam on
    ``mean((G(z) − x0)²) + PRIOR_WEIGHT · mean(z²)`` from ``STARTS`` prior draws, ``STEPS`` steps, the best kept."""
    to_input, dim = latent_map(models)
    x0 = jnp.asarray(check_image(models, image, to_input, dim))
    render = lambda z: models.generator(to_input(z))

    def loss(z):
        return jnp.mean((render(z) - x0) ** 2) + PRIOR_WEIGHT * jnp.mean(z ** 2)

    optimiser = optax.adam(LEARNING_RATE)

    def descend(z):
        def step(carry, _):
            z, state = carry
            grad = jax.grad(loss)(z)
            updates, state = optimiser.update(grad, state)
            return (optax.apply_updates(z, updates), state), None

        (z, _), _ = jax.lax.scan(step, (z, optimiser.init(z)), None, length=STEPS)
        return z, loss(z)

    key = jax.random.key(rng_key) if isinstance(rng_key, int) else rng_key
    starts = jax.random.normal(key, (STARTS, dim))
    latents, losses = jax.jit(jax.vmap(descend))(starts)
    z0 = latents[jnp.argmin(jnp.where(jnp.isfinite(losses), losses, jnp.inf))]
    reconstruction = render(z0)
    error = float(jnp.sqrt(jnp.mean((reconstruction - x0) ** 2)))
    return np.asarray(z0), np.asarray(reconstruction), error


def localised(models: Models, z0, scale: float) -> Models:
    """The models with their prior localised at z₀: ``u ↦ prior(z₀ + σ u)`` (or ``z₀ + σ u`` itself, G's input),
    u ~ N(0, I_d). The same models, z₀ and σ give the same function (every band of a series compiles once)."""
    to_input, dim = latent_map(models)
    centre = np.asarray(z0, np.float32)
    return models.replace(prior=_localised_prior(to_input, centre.tobytes(), float(scale)), latent_dim=dim)


@functools.lru_cache(maxsize=32)
def _localised_prior(to_input, centre: bytes, scale: float):
    """``u ↦ to_input(z₀ + σ u)``, one function per (map, z₀, σ) so the sampler cache finds it again."""
    shift = jnp.asarray(np.frombuffer(centre, np.float32))
    return lambda u: to_input(shift + scale * u)


def distances(models: Models, images, reconstruction) -> tuple[np.ndarray, np.ndarray]:
    """Each image's RMS pixel distance to the reconstruction, and its encoding's distance to the reconstruction's."""
    images = jnp.asarray(images)
    pixels = jnp.sqrt(jnp.mean((images - reconstruction).reshape(images.shape[0], -1) ** 2, axis=1))
    encode = lambda x: jnp.ravel(models.encoder(x))
    features = jnp.linalg.norm(jax.vmap(encode)(images) - encode(jnp.asarray(reconstruction)), axis=1)
    return np.asarray(pixels), np.asarray(features)


def check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating)) or not 0 < scale < np.inf:
        raise ValueError(f"near_scale must be a positive number σ (or None: the smallest of {SCALES} from which the "
                         f"band is reachable), got {scale!r}.")
    return float(scale)
