"""Methods by name: how the initial codes are drawn, the seeds, the walk and the objective, set together.

A :class:`Method` is everything the sampler does besides the networks:

* ``"paper"`` — Hada & Carreira-Perpiñán as published: the search runs in the
  generator's own code space (G's input c, within ``code_bounds``), seeds by the
  augmented Lagrangian with slacks (eq. 7–8), then the gradient walker (eq. 9–10)
  with encoder-space repulsion and the seeds' λ*, μ*.
* ``"prior-slice"`` — for a generator whose input has a N(0, I) prior: the
  search variable is z ~ N(0, I) (through the models' ``prior``,
  z ↦ c, when they give one, else G's own input), seeds by the same augmented
  Lagrangian with a Gaussian prior term, started from prior draws near the band and
  far apart, then elliptical slice sampling of N(0, I) restricted to the band, so
  the samples follow the prior restricted to the band.
* ``"prior-ladder"`` — the default there: the same target, its n
  samples a population rather than a chain, so that they behave like n
  independent draws from the prior restricted to the band: N prior draws brought
  into the band by rejection where that is cheap, else through a ladder of
  relaxed bands (subset simulation, :mod:`inverse_set.particles.ladder`), then moved
  inside it until they have forgotten where they were copied, one sample per
  particle, with the band's mass under the prior in ``res.stats.band_mass``; the
  seeds are its fallback where the ladder cannot reach the band (docs/decisions/0001).

* ``"fourier"`` — no generator at all: the search variable is the image's
  spectrum (the Fourier parameterisation with a 1/f scaling and, in colour,
  decorrelated channels: :mod:`inverse_set.fourier`), diversity measured in the
  target's own early layer, the paper's seeds and gradient walker, their gradients
  averaged over small jitters, scalings and rotations of the image while membership
  is decided on the image itself. Needs only ``Models(target=…, image_shape=(H, W, C))``.

``method=None`` takes the models' own default (:attr:`~inverse_set.Models.method`),
else ``"prior-ladder"`` for models with a prior or a standard-Gaussian ``init``,
``"fourier"`` for models without a generator, else ``"paper"``. Change a setting with :meth:`Method.replace`, e.g.
``get("paper").replace(walk=GradientWalk(step_size=0.3))``.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from inverse_set import initialization
from inverse_set.core.constraints import as_layer_dict
from inverse_set.fourier import FourierImage, LayerEncoder, Parameterisation, early_layer
from inverse_set.paper.lagrangian import Objective
from inverse_set.paper.seeds import SeedConfig
from inverse_set.walks import Walk
from inverse_set.walks.elliptical_slice import EllipticalSliceWalk
from inverse_set.walks.gradient import GradientWalk
from inverse_set.walks.ladder import LadderWalk

SPACES = {
    "code": "G's own input c, within code_bounds",
    "prior": "z ~ N(0, I): the models' prior z -> c when given, else G's input (a standard-Gaussian init)",
    "image": "the image's spectrum (the Fourier parameterisation): no generator",
}


@dataclasses.dataclass(frozen=True)
class Method:
    """A sampling method: where it searches, its seeds, its walk and the objective they share.

    Attributes:
      name: what results and run records call it.
      space: ``"code"`` (G's input c) or ``"prior"`` (z ~ N(0, I)); see :data:`SPACES`.
      seeds: the seed solver's settings (:class:`~inverse_set.paper.seeds.SeedConfig`).
      walk: the walk from the seeds, any :class:`~inverse_set.walks.Walk`
        (:class:`~inverse_set.walks.gradient.GradientWalk`,
        :class:`~inverse_set.walks.elliptical_slice.EllipticalSliceWalk`).
      objective: the Lagrangian's terms shared by the seeds and a gradient walk
        (:class:`~inverse_set.paper.lagrangian.Objective`).
      image: how the ``"image"`` space makes images (:class:`~inverse_set.fourier.Parameterisation`); None for the
        other spaces.
    """

    name: str
    space: str
    seeds: SeedConfig
    walk: Walk
    objective: Objective
    image: Parameterisation | None = None

    def __post_init__(self):
        if self.space not in SPACES:
            raise ValueError(f"Method(space={self.space!r}): space must be one of {', '.join(map(repr, SPACES))}.")
        if (self.space == "image") != isinstance(self.image, Parameterisation):
            raise ValueError(f"Method(space={self.space!r}, image={self.image!r}): the 'image' space, and only it, "
                             "takes image=Parameterisation(…) (inverse_set.fourier).")
        if not isinstance(self.seeds, SeedConfig):
            raise TypeError(f"Method(seeds={self.seeds!r}): seeds must be a SeedConfig(…).")
        if not isinstance(self.objective, Objective):
            raise TypeError(f"Method(objective={self.objective!r}): objective must be an Objective(…).")
        if not all(callable(getattr(self.walk, m, None)) for m in ("budget", "init", "step")):
            raise TypeError(f"Method(walk={self.walk!r}): walk must be a walk (GradientWalk(…), "
                            "EllipticalSliceWalk(…), LadderWalk(…) or another with budget, init and step).")

    def replace(self, **changes) -> Method:
        """A copy with some fields changed (the name stays unless given)."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """What the method does, in a few words."""
        where = {"prior": "z ~ N(0, I)", "code": "the generator's codes", "image": "an image's spectrum"}[self.space]
        walk = getattr(self.walk, "description", type(self.walk).__name__)
        if hasattr(self.walk, "prepare"):  # the walk starts on its own; the seeds only where it cannot
            return f"searching {where}: {walk}"
        return f"searching {where}: augmented-Lagrangian seeds, then {walk}"

    def settings(self) -> dict:
        """Every setting, resolved, as plain JSON values: what ran."""
        def fields(config):
            return {"kind": type(config).__name__, **dataclasses.asdict(config)}

        return {"method": self.name, "space": self.space, "seeds": fields(self.seeds), "walk": fields(self.walk),
                "objective": fields(self.objective), **({"image": fields(self.image)} if self.image else {})}


PRESETS: dict[str, Method] = {
    "paper": Method("paper", "code", SeedConfig(), GradientWalk(), Objective()),
    "prior-slice": Method("prior-slice", "prior", SeedConfig(select="spread", candidates_per_seed=16),
                          EllipticalSliceWalk(), Objective(prior_weight=1.0)),
    "prior-ladder": Method("prior-ladder", "prior", SeedConfig(select="spread", candidates_per_seed=16),
                           LadderWalk(), Objective(prior_weight=1.0)),
    "fourier": Method("fourier", "image", SeedConfig(), GradientWalk(), Objective(), Parameterisation()),
}


def get(method: str | Method) -> Method:
    """A preset by name, or a :class:`Method` as it is."""
    if isinstance(method, Method):
        return method
    if isinstance(method, str) and method in PRESETS:
        return PRESETS[method]
    raise ValueError(f"unknown method {method!r}: give one of {', '.join(map(repr, PRESETS))} or a Method(…).")


def is_standard_gaussian(init) -> bool:
    """Whether ``init`` draws N(0, I): an int d, or :func:`inverse_set.paper.initialization.gaussian` with scale 1."""
    if isinstance(init, numbers.Integral) and not isinstance(init, bool):
        return True
    return getattr(init, "scale", None) == 1.0 and hasattr(init, "code_dim")


def default_name(models) -> str:
    """The method ``method=None`` runs on models that declare none: the Gaussian-prior one when G's input is N(0, I)."""
    if models.generator is None and models.image_shape is not None:
        return "fourier"
    return "prior-ladder" if models.prior is not None or is_standard_gaussian(models.init) else "paper"


def resolve(method: str | Method | None, models) -> Method:
    """The method a call runs: the one given, else the models' default (:func:`default_name`)."""
    if method is None:
        method = models.method if models.method is not None else default_name(models)
    return get(method)


class SearchSpace(NamedTuple):
    """What the solvers search over: the generator of the search variable, its init, bounds and G's input.

    Attributes:
      generator: search variable -> image.
      init: ``init(rng_key) -> search variable`` or an int d (N(0, I_d)).
      code_bounds: bounds on the search variable, or None.
      to_input: search variable -> G's own input, when the two differ (the prior route
        through the models' ``prior``), else None.
      encoder: E, where diversity is measured (the models' own, or a layer of the target).
      transforms: the image transformations whose mean activation the solvers climb (the ``"image"`` space).
    """

    generator: Callable
    init: Any
    code_bounds: Any
    to_input: Callable | None
    encoder: Callable | None = None
    transforms: tuple = ()


@functools.lru_cache(maxsize=32)
def _through_prior(generator: Callable, prior: Callable) -> Callable:
    """``z ↦ G(prior(z))``, one function per (G, prior) pair so the sampler cache finds it again."""
    return lambda z: generator(prior(z))


@functools.lru_cache(maxsize=32)
def _prior_draws(prior: Callable, latent_dim: int) -> Callable:
    """``init(key) = prior(z)``, z ~ N(0, I): G's inputs drawn from the prior (the code route's starts)."""
    return lambda rng_key: prior(jax.random.normal(rng_key, (latent_dim,), jnp.float32))


def search_space(method: Method, models) -> SearchSpace:
    """Where ``method`` searches on ``models`` (raises ValueError when the models cannot give it)."""
    if models.prior is not None and not (isinstance(models.latent_dim, numbers.Integral) and models.latent_dim > 0):
        raise ValueError(f"prior given without latent_dim: give latent_dim, the size d of z ~ N(0, I_d) that the "
                         f"prior maps to the generator's input (got latent_dim={models.latent_dim!r}).")
    if method.space == "image":
        return _image_space(method.image, models)
    for name in ("generator", "encoder"):
        if not callable(getattr(models, name)):
            raise TypeError(f"{name} must be a callable taking one example, got {getattr(models, name)!r}"
                            + (" (without a generator, use method='fourier' with image_shape=(H, W, C))."
                               if getattr(models, name) is None else "."))
    if method.space == "code":
        if models.init is not None:
            init = models.init
        elif models.prior is not None:
            init = _prior_draws(models.prior, int(models.latent_dim))
        else:
            raise ValueError(f"method {method.name!r} searches the generator's code space: give init (how to "
                             "draw starting codes, e.g. an int d for N(0, I_d)) or a prior with latent_dim.")
        return SearchSpace(models.generator, init, models.code_bounds, None, models.encoder)
    if models.prior is not None:
        return SearchSpace(_through_prior(models.generator, models.prior), int(models.latent_dim), None, models.prior,
                           models.encoder)
    if is_standard_gaussian(models.init):
        return SearchSpace(models.generator, models.init, models.code_bounds, None, models.encoder)
    init = models.init
    shown = (f"initialization.gaussian({init.code_dim}, scale={init.scale:g})" if hasattr(init, "scale")
             else getattr(init, "__name__", repr(init)))
    raise ValueError(
        f"method {method.name!r} samples a N(0, I) prior, but these models' init, {shown}, is not a standard "
        "Gaussian: give init=d (or initialization.gaussian(d)) for a generator whose input is z ~ N(0, I_d), or "
        "prior=(z -> code) with latent_dim=d, or use method='paper'.")


@functools.lru_cache(maxsize=32)
def _spectrum_init(dim: int, scale: float) -> Callable:
    return initialization.gaussian(dim, scale)


def _image_space(settings: Parameterisation, models) -> SearchSpace:
    """The ``"image"`` space: the Fourier parameterisation of an image of the models' ``image_shape``, the encoder
    a layer of the target unless the models give one."""
    if models.image_shape is None:
        raise ValueError("method 'fourier' searches images directly: give image_shape=(height, width, channels), the "
                         "shape of one input of the target (e.g. (28, 28, 1)).")
    if models.generator is not None:
        raise ValueError("method 'fourier' makes its own images and takes no generator: give "
                         "models.without_generator() (the target alone), or use a method that searches through the "
                         "generator, e.g. 'paper'.")
    generator = FourierImage(tuple(models.image_shape), settings.decay_power)
    encoder = models.encoder
    if encoder is None:
        if not callable(models.target):
            raise TypeError("method 'fourier' measures diversity in the target's own layers: give target=… (a "
                            "callable returning a dict of layers by name), or encoder=….")
        layers = as_layer_dict(jax.eval_shape(models.target, jax.ShapeDtypeStruct(generator.shape, jnp.float32)))
        layer = models.encoder_layer if models.encoder_layer is not None else early_layer(list(layers))
        if layer not in layers:
            raise ValueError(
                f"encoder_layer={models.encoder_layer!r} is not a layer of the target; it returns "
                 f"{sorted(layers)}." if models.encoder_layer is not None else
                 "method 'fourier' measures diversity in an early layer of the target, but the target returns only "
                 f"{sorted(layers)}: return a dict of layers by name (e.g. inverse_set.flax_target) and name one with "
                 "encoder_layer=…, or give encoder=….")
        encoder = LayerEncoder(models.target, layer, settings.encoder_grid)
    init = _spectrum_init(generator.code_dim, settings.init_scale)
    return SearchSpace(generator, init, models.code_bounds, None, encoder, settings.transforms)


__all__ = ["PRESETS", "Method", "SearchSpace", "get", "resolve", "search_space"]
