"""inverse-set: sample the inverse set of a neuron through a generator (Hada & Carreira-Perpiñán).

The algorithm, one module per piece:

* :mod:`inverse_set.constraints` — neurons and f(x) from one target pass (eq. 11–12)
* :mod:`inverse_set.bands` — bands, and their one path: given (float64) → solver (float32, inward) → recheck
* :mod:`inverse_set.problem` — G, E, f and their pullback for a batch of codes
* :mod:`inverse_set.lagrangian` — the objective's terms, slack, multipliers, penalty and the code gradient (eq. 8, 10)
* :mod:`inverse_set.repulsion` — the diversity energies (eq. 5, 6)
* :mod:`inverse_set.realism` — the realism term and constraint r(c) = mean((E(G(c)) − c)²)
* :mod:`inverse_set.seeds` — the seed solver (eq. 7–8); :mod:`inverse_set.starts`, its starting codes
* :mod:`inverse_set.buffer` — the kept samples every walk shares: novelty and stop rules
* :mod:`inverse_set.walks` — the walk protocol and its loop; :mod:`~inverse_set.walks.gradient`,
  the paper's walker (eq. 9–10); :mod:`~inverse_set.walks.elliptical_slice`, a walk that samples
  the N(0, I) prior restricted to the band; :mod:`~inverse_set.walks.ladder`, the ladder as a walk
* :mod:`inverse_set.ladder` — a population from the prior into the band through relaxed bands (subset
  simulation), and the band's mass; :mod:`inverse_set.decorrelation`, what its samples are worth
* :mod:`inverse_set.fourier` — images without a generator: the Fourier parameterisation, the target's early layer
  as the encoder, gradients robust to small transformations (``method="fourier"``)
* :mod:`inverse_set.methods` — methods by name (``"prior-ladder"``, ``"paper"``, ``"prior-slice"``, ``"fourier"``):
  where to search, the seeds, the walk and the objective together
* :mod:`inverse_set.loop` — the bounded loop every solver runs, its status codes and evaluation counts

Around it: :mod:`~inverse_set.models` (your networks as one value),
:mod:`~inverse_set.api` (the entry points), :mod:`~inverse_set.checks` and
:mod:`~inverse_set.field_checks` (input checks), :mod:`~inverse_set.sampler`
(the compiled run and the recheck), :mod:`~inverse_set.results` (what a run
returns, saved and loaded), :mod:`~inverse_set.cache`, :mod:`~inverse_set.progress`,
:mod:`~inverse_set.chunks` (host-side chunking through a network),
:mod:`~inverse_set.frameworks` (Flax linen, NNX and PyTorch networks as
functions); the measures (:mod:`~inverse_set.metrics`), the baselines
(:mod:`~inverse_set.baselines`), the pictures (:mod:`~inverse_set.viz`), the
atlas (:mod:`~inverse_set.atlas`), the report (:mod:`~inverse_set.facets`,
:mod:`~inverse_set.dataset_examples`, :mod:`~inverse_set.report`, :mod:`~inverse_set.run_report`) and the
command line (:mod:`~inverse_set.cli`).
"""

from inverse_set import initialization
from inverse_set.api import Sampler, make_sampler, sample_inverse_set, sample_inverse_sets
from inverse_set.atlas import atlas
from inverse_set.constraints import Unit
from inverse_set.dataset_examples import DatasetExamples, dataset_examples
from inverse_set.facets import Facet, Facets, facets
from inverse_set.errors import IncompleteSampleWarning, InfeasibleBandError, NonFiniteActivationError, SamplingError
from inverse_set.fourier import Parameterisation
from inverse_set.frameworks import flax_target, nnx_function, nnx_target, torch_function, torch_target
from inverse_set.lagrangian import Objective
from inverse_set.methods import PRESETS as METHODS
from inverse_set.methods import Method
from inverse_set.methods import get as get_method
from inverse_set.models import Models
from inverse_set.report import Section, build_section, report_html, write_report
from inverse_set.results import InverseSetResult, SamplerStats
from inverse_set.seeds import SeedConfig
from inverse_set.viz import atlas_grid, sample_grid
from inverse_set.walks.elliptical_slice import EllipticalSliceWalk
from inverse_set.walks.gradient import GradientWalk
from inverse_set.walks.ladder import LadderWalk
from inverse_set.ladder import Ladder

__all__ = [
    "METHODS",
    "DatasetExamples",
    "Facet",
    "Facets",
    "Section",
    "build_section",
    "dataset_examples",
    "facets",
    "report_html",
    "write_report",
    "EllipticalSliceWalk",
    "GradientWalk",
    "IncompleteSampleWarning",
    "InfeasibleBandError",
    "InverseSetResult",
    "Ladder",
    "LadderWalk",
    "Method",
    "Models",
    "NonFiniteActivationError",
    "Objective",
    "Parameterisation",
    "Sampler",
    "SamplerStats",
    "SamplingError",
    "SeedConfig",
    "Unit",
    "atlas",
    "atlas_grid",
    "flax_target",
    "get_method",
    "initialization",
    "make_sampler",
    "nnx_function",
    "nnx_target",
    "sample_grid",
    "sample_inverse_set",
    "sample_inverse_sets",
    "torch_function",
    "torch_target",
]
