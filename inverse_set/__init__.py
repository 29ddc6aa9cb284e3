"""inverse-set: sample the inverse set of a neuron through a generator (Hada & Carreira-Perpiñán).

The pieces, one module each:

* :mod:`inverse_set.constraints` — neurons, bands, f(x) from one target pass (eq. 11–12)
* :mod:`inverse_set.problem` — G, E, f and their pullback for a batch of codes
* :mod:`inverse_set.lagrangian` — slack, multiplier and penalty updates (eq. 8, 10)
* :mod:`inverse_set.repulsion` — the diversity energies (eq. 5, 6)
* :mod:`inverse_set.seeds` — the seed solver (eq. 7–8)
* :mod:`inverse_set.walker` — the walker (eq. 9–10)
* :mod:`inverse_set.sampler` — the public call
"""

from inverse_set import initialization
from inverse_set.constraints import Bands, Unit, flax_target
from inverse_set.errors import IncompleteSampleWarning, InfeasibleBandError, NonFiniteActivationError
from inverse_set.sampler import (
    InverseSetResult,
    Sampler,
    SamplerStats,
    default_models,
    make_sampler,
    sample_inverse_set,
    sample_inverse_sets,
)
from inverse_set.seeds import SeedConfig
from inverse_set.walker import WalkerConfig

__all__ = [
    "Bands",
    "IncompleteSampleWarning",
    "InfeasibleBandError",
    "InverseSetResult",
    "NonFiniteActivationError",
    "Sampler",
    "SamplerStats",
    "SeedConfig",
    "Unit",
    "WalkerConfig",
    "default_models",
    "flax_target",
    "initialization",
    "make_sampler",
    "sample_inverse_set",
    "sample_inverse_sets",
]
