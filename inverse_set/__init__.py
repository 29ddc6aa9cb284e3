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
:mod:`~inverse_set.tracing` (networks traced once, their weights the compiled programs' arguments),
:mod:`~inverse_set.frameworks` (Flax linen, NNX and PyTorch networks as
functions); the measures (:mod:`~inverse_set.metrics`), the baselines
(:mod:`~inverse_set.baselines`), the pictures (:mod:`~inverse_set.viz`), the
atlas (:mod:`~inverse_set.atlas`), the report (:mod:`~inverse_set.facets`,
:mod:`~inverse_set.dataset_examples`, :mod:`~inverse_set.report`, :mod:`~inverse_set.run_report`) and the
command line (:mod:`~inverse_set.cli`).
"""

import importlib
import importlib.util
import sys
import types

# Imported when first used (PEP 562), so that `inverse-set` answers a bad argument before JAX starts.
_WHERE = {
    'initialization': ('inverse_set.initialization', None),
    'Sampler': ('inverse_set.api', 'Sampler'),
    'make_sampler': ('inverse_set.api', 'make_sampler'),
    'sample_inverse_set': ('inverse_set.api', 'sample_inverse_set'),
    'sample_inverse_sets': ('inverse_set.api', 'sample_inverse_sets'),
    'atlas': ('inverse_set.atlas', 'atlas'),
    'Unit': ('inverse_set.constraints', 'Unit'),
    'DatasetExamples': ('inverse_set.dataset_examples', 'DatasetExamples'),
    'dataset_examples': ('inverse_set.dataset_examples', 'dataset_examples'),
    'Facet': ('inverse_set.facets', 'Facet'),
    'Facets': ('inverse_set.facets', 'Facets'),
    'facets': ('inverse_set.facets', 'facets'),
    'IncompleteSampleWarning': ('inverse_set.errors', 'IncompleteSampleWarning'),
    'InfeasibleBandError': ('inverse_set.errors', 'InfeasibleBandError'),
    'NonFiniteActivationError': ('inverse_set.errors', 'NonFiniteActivationError'),
    'SamplingError': ('inverse_set.errors', 'SamplingError'),
    'Parameterisation': ('inverse_set.fourier', 'Parameterisation'),
    'flax_target': ('inverse_set.frameworks', 'flax_target'),
    'nnx_function': ('inverse_set.frameworks', 'nnx_function'),
    'nnx_target': ('inverse_set.frameworks', 'nnx_target'),
    'torch_function': ('inverse_set.frameworks', 'torch_function'),
    'torch_target': ('inverse_set.frameworks', 'torch_target'),
    'Objective': ('inverse_set.lagrangian', 'Objective'),
    'METHODS': ('inverse_set.methods', 'PRESETS'),
    'Method': ('inverse_set.methods', 'Method'),
    'get_method': ('inverse_set.methods', 'get'),
    'Models': ('inverse_set.models', 'Models'),
    'Section': ('inverse_set.report', 'Section'),
    'build_section': ('inverse_set.report', 'build_section'),
    'report_html': ('inverse_set.report', 'report_html'),
    'write_report': ('inverse_set.report', 'write_report'),
    'InverseSetResult': ('inverse_set.results', 'InverseSetResult'),
    'SamplerStats': ('inverse_set.results', 'SamplerStats'),
    'SeedConfig': ('inverse_set.seeds', 'SeedConfig'),
    'atlas_grid': ('inverse_set.viz', 'atlas_grid'),
    'sample_grid': ('inverse_set.viz', 'sample_grid'),
    'EllipticalSliceWalk': ('inverse_set.walks.elliptical_slice', 'EllipticalSliceWalk'),
    'GradientWalk': ('inverse_set.walks.gradient', 'GradientWalk'),
    'LadderWalk': ('inverse_set.walks.ladder', 'LadderWalk'),
    'Ladder': ('inverse_set.ladder', 'Ladder'),
}


# Three submodules are named like the function they define; the package's name is the function, as it was
# when the package imported everything at once: importing the submodule does not replace it.
_SHADOWED = {name for name, (module, attribute) in _WHERE.items() if attribute and module == f"inverse_set.{name}"}


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        if not (name in _SHADOWED and isinstance(value, types.ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name):
    if name not in _WHERE:
        if importlib.util.find_spec(f"inverse_set.{name}") is None:
            raise AttributeError(f"module 'inverse_set' has no attribute {name!r}")
        return importlib.import_module(f"inverse_set.{name}")  # a submodule, e.g. inverse_set.ladder
    module, attribute = _WHERE[name]
    value = importlib.import_module(module)
    value = value if attribute is None else getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))


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
