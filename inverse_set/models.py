"""Everything a user hands the sampler about their networks, as one value: :class:`Models`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

NO_MODELS = (
    "no models given: pass models=Models(generator=G, encoder=E, target=net, init=d) for your own networks "
    "(or generator=…, encoder=…, init=… directly), models=Models(target=net, image_shape=(H, W, C)) for a "
    "classifier alone (method='fourier'), or models=generators.load('fashion') for the bundled "
    "Fashion-MNIST models."
)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Models:
    """The networks of a sampling problem: G, E, the target, and how codes are drawn.

    Attributes:
      generator: ``G(code) -> image`` for one code (no batch axis).
      encoder: ``E(image) -> features``, the space where diversity is measured.
      init: ``init(rng_key) -> code``, how starting codes of G are drawn
        (:mod:`inverse_set.paper.initialization`), or an int d for N(0, I_d) — a
        standard-Gaussian init makes ``"prior-ladder"`` the default method. Optional
        when ``prior`` is given (codes are then drawn as prior(z)).
      prior: ``prior(z) -> code``, a map from z ~ N(0, I_latent_dim) to G's input
        (e.g. a flow fitted to the codes of real images), or None. With it the
        prior methods (``"prior-ladder"``, ``"prior-slice"``) search z and return G's inputs as
        ``generator_inputs`` beside the z's.
      latent_dim: the size of z when ``prior`` is given.
      target: ``image -> activations`` (an array, or a dict by layer name such as
        :func:`~inverse_set.core.constraints.flax_target` gives); not needed if every
        neuron is a callable.
      code_bounds: ``(low, high)`` bounds on the code (scalars, arrays of the code's
        shape, or None for no bound on that side).
      class_names: names of the output units, so neurons can be given by name.
      method: the default method on these models (a name of
        :data:`inverse_set.methods.PRESETS` or a :class:`~inverse_set.methods.Method`);
        None: ``"prior-ladder"`` with a prior or a standard-Gaussian init, else ``"paper"``.
      realism_bound: τ of the realism constraint r(c) = mean((E(G(c)) − c)²) ≤ τ
        (needs E to map into code space), or None.
      percentiles: ``percentiles(unit) -> {"p50": …, "p95": …, "max": …}``, reference
        activation levels of a :class:`~inverse_set.core.constraints.Unit` (e.g. on test
        images), so that bands can be named by percentile (``"p95,p99"`` on the
        command line); raises ``ValueError`` for a unit it has none for. Optional.
      image_shape: ``(H, W, C)`` of the target's input, for ``method="fourier"``, which needs no generator or
        encoder: it searches the image's spectrum (:mod:`inverse_set.fourier`).
      encoder_layer: for ``method="fourier"`` without an encoder, the layer of the target where diversity is
        measured (None: the first layer it returns besides its output).
      dataset: ``dataset() -> images (N, …)``, real images in the generator's output format (e.g. the test set),
        loaded only when called: the report's real examples and activation histogram. Optional.

    Example:
      >>> import jax
      >>> from inverse_set import Models
      >>> models = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=4)
    """

    generator: Callable | None = None
    encoder: Callable | None = None
    init: Callable | int | None = None
    target: Callable | None = None
    prior: Callable | None = None
    latent_dim: int | None = None
    code_bounds: tuple | None = None
    class_names: Sequence[str] | None = None
    method: Any = None
    realism_bound: float | None = None
    percentiles: Callable[[Any], Mapping[str, float]] | None = None
    dataset: Callable[[], Any] | None = None
    image_shape: tuple | None = None
    encoder_layer: str | None = None

    def replace(self, **changes) -> Models:
        """A copy with some fields changed (None values leave a field as it is)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def without_generator(self) -> Models:
        """The target alone, with its ``image_shape``, names, percentiles and dataset: the models of
        ``method="fourier"`` (the generator, its encoder, init, prior, code bounds and default method left out)."""
        if self.image_shape is None:
            raise ValueError("without a generator the images' shape must be known: give image_shape=(H, W, C).")
        return dataclasses.replace(self, generator=None, encoder=None, init=None, prior=None, latent_dim=None,
                                   code_bounds=None, method=None, realism_bound=None)


def resolve_models(models: Models | None, **overrides: Any) -> Models:
    """The :class:`Models` of a call: ``models`` with the keyword ``overrides`` that are not None applied.

    Without ``models``, the overrides must name at least a generator, an encoder and an init (or a prior).
    """
    known = {f.name for f in dataclasses.fields(Models)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: besides models=, "
                        f"method=, num_seeds=, rng_key= and progress=, the sampler takes the fields of Models "
                        f"({', '.join(sorted(known - {'percentiles', 'dataset'}))})"
                        + ("; solver settings belong to the method: e.g. method=get_method('paper').replace("
                           "seeds=SeedConfig(…), walk=GradientWalk(…))" if {"seed_config", "walker_config"} & set(unknown)
                           else "") + ".")
    if models is not None:
        if not isinstance(models, Models):
            raise TypeError(f"models must be a Models (or generators.load('fashion')), got {type(models).__name__}.")
        return models.replace(**overrides)
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        raise TypeError(NO_MODELS)
    if "generator" not in given and "image_shape" in given:
        return Models(**given)  # method="fourier": the target alone
    missing = [name for name in ("generator", "encoder") if name not in given]
    if "init" not in given and "prior" not in given:
        missing.append("init")
    if missing:
        raise TypeError(f"with your own networks, also give {', '.join(missing)}; " + NO_MODELS)
    return Models(**given)
