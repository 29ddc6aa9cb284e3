"""inverse-set: sample the inverse set of a neuron through a generator (Hada & Carreira-Perpiñán).

The algorithm, one module per piece:

* :mod:`inverse_set.constraints` — neurons, bands, f(x) from one target pass (eq. 11–12)
* :mod:`inverse_set.problem` — G, E, f and their pullback for a batch of codes
* :mod:`inverse_set.lagrangian` — slack, multipliers, penalty and the code gradient (eq. 8, 10)
* :mod:`inverse_set.repulsion` — the diversity energies (eq. 5, 6)
* :mod:`inverse_set.realism` — the realism term and constraint r(c) = mean((E(G(c)) − c)²)
* :mod:`inverse_set.seeds` — the seed solver (eq. 7–8)
* :mod:`inverse_set.walker` — the walker (eq. 9–10)
* :mod:`inverse_set.slice_walker` — a walk that samples the prior restricted to the band (elliptical slice sampling)
* :mod:`inverse_set.loop` — the bounded loop both solvers run, and their status codes

Around it: :mod:`~inverse_set.models` (your networks as one value),
:mod:`~inverse_set.api` (the entry points), :mod:`~inverse_set.checks` (input
checks), :mod:`~inverse_set.sampler` (the compiled run and the recheck),
:mod:`~inverse_set.results` (what a run returns, saved and loaded),
:mod:`~inverse_set.cache`, :mod:`~inverse_set.progress`; and the measures
(:mod:`~inverse_set.metrics`), the baselines (:mod:`~inverse_set.baselines`) and
pictures (:mod:`~inverse_set.viz`).
"""

from inverse_set import initialization
from inverse_set.api import Sampler, make_sampler, sample_inverse_set, sample_inverse_sets
from inverse_set.constraints import Bands, Unit, flax_target
from inverse_set.errors import IncompleteSampleWarning, InfeasibleBandError, NonFiniteActivationError, SamplingError
from inverse_set.models import Models
from inverse_set.results import InverseSetResult, SamplerStats
from inverse_set.seeds import SeedConfig
from inverse_set.slice_walker import SliceWalkerConfig
from inverse_set.walker import WalkerConfig

__all__ = [
    "Bands",
    "IncompleteSampleWarning",
    "InfeasibleBandError",
    "InverseSetResult",
    "Models",
    "NonFiniteActivationError",
    "Sampler",
    "SamplerStats",
    "SamplingError",
    "SeedConfig",
    "SliceWalkerConfig",
    "Unit",
    "WalkerConfig",
    "flax_target",
    "initialization",
    "make_sampler",
    "sample_inverse_set",
    "sample_inverse_sets",
]
