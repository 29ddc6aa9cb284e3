"""Everything a user hands the sampler about their networks, as one value: :class:`Models`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from inverse_set.seeds import SeedConfig
from inverse_set.walker import WalkerConfig

NO_MODELS = (
    "no models given: pass models=Models(generator=G, encoder=E, target=net, init=d) for your own networks "
    "(or generator=…, encoder=…, init=… directly), or models=generators.load('fashion') for the bundled "
    "Fashion-MNIST models."
)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Models:
    """The networks of a sampling problem and the settings tuned for them.

    Attributes:
      generator: ``G(code) -> image`` for one code (no batch axis).
      encoder: ``E(image) -> features``, the space where diversity is measured.
      init: ``init(rng_key) -> code``, how the seeds' starting codes are drawn
        (:mod:`inverse_set.initialization`), or an int d for N(0, I_d).
      target: ``image -> activations`` (an array, or a dict by layer name such as
        :func:`~inverse_set.constraints.flax_target` gives); not needed if every
        neuron is a callable.
      code_bounds: ``(low, high)`` bounds on the code (scalars, arrays of the code's
        shape, or None for no bound on that side).
      class_names: names of the output units, so neurons can be given by name.
      seed_config, walker_config: the solver settings for these networks.
      realism_bound: τ of the realism constraint r(c) = mean((E(G(c)) − c)²) ≤ τ
        (needs E to map into code space), or None.
      percentiles: ``percentiles(unit) -> {"p50": …, "p95": …, "max": …}``, reference
        activation levels of a :class:`~inverse_set.constraints.Unit` (e.g. on test
        images), so that bands can be named by percentile (``"p95,p99"`` on the
        command line); raises ``ValueError`` for a unit it has none for. Optional.

    Example:
      >>> import jax
      >>> from inverse_set import Models
      >>> models = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=4)
    """

    generator: Callable
    encoder: Callable
    init: Callable | int
    target: Callable | None = None
    code_bounds: tuple | None = None
    class_names: Sequence[str] | None = None
    seed_config: SeedConfig = SeedConfig()
    walker_config: WalkerConfig = WalkerConfig()
    realism_bound: float | None = None
    percentiles: Callable[[Any], Mapping[str, float]] | None = None

    def replace(self, **changes) -> Models:
        """A copy with some fields changed (None values leave a field as it is)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def resolve_models(models: Models | None, **overrides: Any) -> Models:
    """The :class:`Models` of a call: ``models`` with the keyword ``overrides`` that are not None applied.

    Without ``models``, the overrides must name at least a generator, an encoder and an init.
    """
    if models is not None:
        if not isinstance(models, Models):
            raise TypeError(f"models must be a Models (or generators.load('fashion')), got {type(models).__name__}.")
        return models.replace(**overrides)
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        raise TypeError(NO_MODELS)
    missing = [name for name in ("generator", "encoder", "init") if name not in given]
    if missing:
        raise TypeError(f"with your own networks, also give {', '.join(missing)}; " + NO_MODELS)
    return Models(**given)
