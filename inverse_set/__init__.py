"""inverse-set: sample the inverse set of a neuron through a generator (Hada & Carreira-Perpiñán).

The package, one folder per part (each imports only the parts above it in this list):

* :mod:`inverse_set.core` — neurons and f(x) (eq. 11–12), bands, G, E, f and their pullback, the bounded loop
* :mod:`inverse_set.paper` — the paper's seed solver (eq. 7–8): the Lagrangian's terms, repulsion (eq. 5–6), realism
* :mod:`inverse_set.particles` — the particle method: a population from the prior into the band (subset simulation)
* :mod:`inverse_set.walks` — the walk protocol and its loop: the paper's walker (eq. 9–10), elliptical slice, the ladder
* :mod:`inverse_set.fourier` — images without a generator (``method="fourier"``)
* :mod:`inverse_set.methods` — methods by name: where to search, the seeds, the walk and the objective together
* :mod:`inverse_set.sampler`, :mod:`inverse_set.api` — the compiled run and the recheck; the entry points
* :mod:`inverse_set.near`, :mod:`inverse_set.attribution` — one image explained: the band near it, where the neuron looks
* :mod:`inverse_set.report`, :mod:`inverse_set.cli` — pictures and the HTML page; the command line
* :mod:`inverse_set.evaluation` — the measures and the baselines
"""

import importlib
import importlib.util

# Imported when first used (PEP 562), so that `inverse-set` answers a bad argument before JAX starts.
_WHERE = {
    'initialization': ('inverse_set.paper.initialization', None),
    'Sampler': ('inverse_set.api', 'Sampler'),
    'make_sampler': ('inverse_set.api', 'make_sampler'),
    'sample_inverse_set': ('inverse_set.api', 'sample_inverse_set'),
    'sample_inverse_sets': ('inverse_set.api', 'sample_inverse_sets'),
    'atlas': ('inverse_set.api', 'atlas'),
    'attribution_maps': ('inverse_set.attribution', 'attribution_maps'),
    'change_map': ('inverse_set.attribution', 'change_map'),
    'Near': ('inverse_set.results', 'Near'),
    'Unit': ('inverse_set.core.constraints', 'Unit'),
    'DatasetExamples': ('inverse_set.report.dataset_examples', 'DatasetExamples'),
    'dataset_examples': ('inverse_set.report.dataset_examples', 'dataset_examples'),
    'Facet': ('inverse_set.report.facets', 'Facet'),
    'Facets': ('inverse_set.report.facets', 'Facets'),
    'facets': ('inverse_set.report.facets', 'facets'),
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
    'Objective': ('inverse_set.paper.lagrangian', 'Objective'),
    'METHODS': ('inverse_set.methods', 'PRESETS'),
    'Method': ('inverse_set.methods', 'Method'),
    'get_method': ('inverse_set.methods', 'get'),
    'Models': ('inverse_set.models', 'Models'),
    'Section': ('inverse_set.report.page', 'Section'),
    'build_section': ('inverse_set.report.page', 'build_section'),
    'report_html': ('inverse_set.report.page', 'report_html'),
    'write_report': ('inverse_set.report.page', 'write_report'),
    'InverseSetResult': ('inverse_set.results', 'InverseSetResult'),
    'SamplerStats': ('inverse_set.results', 'SamplerStats'),
    'SeedConfig': ('inverse_set.paper.seeds', 'SeedConfig'),
    'atlas_grid': ('inverse_set.report.viz', 'atlas_grid'),
    'near_grid': ('inverse_set.report.viz', 'near_grid'),
    'sample_grid': ('inverse_set.report.viz', 'sample_grid'),
    'EllipticalSliceWalk': ('inverse_set.walks.elliptical_slice', 'EllipticalSliceWalk'),
    'GradientWalk': ('inverse_set.walks.gradient', 'GradientWalk'),
    'LadderWalk': ('inverse_set.walks.ladder', 'LadderWalk'),
    'Ladder': ('inverse_set.particles.state', 'Ladder'),
}


def __getattr__(name):
    if name not in _WHERE:
        if importlib.util.find_spec(f"inverse_set.{name}") is None:
            raise AttributeError(f"module 'inverse_set' has no attribute {name!r}")
        return importlib.import_module(f"inverse_set.{name}")  # a subpackage or top-level module, e.g. inverse_set.particles
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
    "EllipticalSliceWalk",
    "Facet",
    "Facets",
    "GradientWalk",
    "IncompleteSampleWarning",
    "InfeasibleBandError",
    "InverseSetResult",
    "Ladder",
    "LadderWalk",
    "Method",
    "Models",
    "Near",
    "NonFiniteActivationError",
    "Objective",
    "Parameterisation",
    "Sampler",
    "SamplerStats",
    "SamplingError",
    "Section",
    "SeedConfig",
    "Unit",
    "atlas",
    "atlas_grid",
    "attribution_maps",
    "build_section",
    "change_map",
    "dataset_examples",
    "facets",
    "flax_target",
    "get_method",
    "initialization",
    "make_sampler",
    "near_grid",
    "nnx_function",
    "nnx_target",
    "report_html",
    "sample_grid",
    "sample_inverse_set",
    "sample_inverse_sets",
    "torch_function",
    "torch_target",
    "write_report",
]
