"""The entry points: :func:`sample_inverse_set`, :func:`sample_inverse_sets`, :func:`make_sampler` and :func:`atlas`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import checks, methods, near
from inverse_set.cache import cached_sampler
from inverse_set.core.constraints import ConstraintIndices, Unit, make_activation_fn, resolve
from inverse_set.core.problem import Problem
from inverse_set.core.tracing import TracedOnce
from inverse_set.errors import InfeasibleBandError, SamplingError
from inverse_set.fourier import robust
from inverse_set.methods import Method
from inverse_set.models import Models, resolve_models
from inverse_set.paper.realism import RealismConstraint
from inverse_set.progress import Progress
from inverse_set.results import InverseSetResult, Near
from inverse_set.sampler import CompiledSampler


class Sampler(NamedTuple):
    """A compiled sampler bound to its neurons: call :meth:`sample` with bands and a key.

    Build it with :func:`make_sampler`. ``labels`` names each constraint;
    ``indices`` are the neurons' traced unit indices.
    """

    compiled: CompiledSampler
    indices: ConstraintIndices
    labels: tuple[str, ...]

    def sample(self, z1, z2, rng_key: Any = None) -> InverseSetResult:
        """n samples of the inverse set of these neurons in the band ``[z1, z2]``."""
        lo, hi = checks.check_bands(z1, z2, len(self.labels), self.labels)
        return self.compiled.sample(checks.as_key(rng_key), lo, hi, self.indices, self.labels)

    def run(self, rng_key, z1, z2):
        """The pure run for one band, ``(SeedState, walk state, Evaluations)``, e.g. under ``jax.disable_jit()``."""
        lo, hi = self.compiled.solver_bands(*checks.check_bands(z1, z2, len(self.labels), self.labels))
        return self.compiled.run(checks.as_key(rng_key), jnp.asarray(lo), jnp.asarray(hi), self.indices)


def make_sampler(neuron, n: int, *, models: Models | None = None, method: str | Method | None = None,
                 num_seeds: int = 10, progress: bool = False, **fields) -> Sampler:
    """Build (or fetch from the cache) the sampler for these neurons, n, models and method.

    Arguments as in :func:`sample_inverse_set`.
    """
    models = resolve_models(models, **fields)
    method = methods.resolve(method, models)
    n = checks.check_count("n", n, "the number of samples")
    num_seeds = checks.check_count("num_seeds", num_seeds, "K, the number of seeds and walkers")
    neurons = [checks.by_name(x, models.class_names) for x in checks.as_neuron_list(neuron)]
    space = methods.search_space(method, models)
    init_fn, init_key = checks.check_init(space.init)
    spec = checks.code_spec(init_fn)
    needs_target = any(not checks.is_neuron_callable(x) for x in neurons)
    image, num_features, layers = checks.layer_shapes(space.generator, space.encoder, models.target, spec,
                                                      needs_target)
    code_constraints = _code_constraints(models, method, num_features, spec.shape[0])
    specs, indices, labels = resolve(neurons, layers)
    for spec_, label in zip(specs, labels):
        if spec_.fn is not None:
            try:
                out = jax.eval_shape(spec_.fn, image)
            except Exception as err:
                raise ValueError(f"neuron {label} failed on an image of shape {image.shape}: {err}") from err
            if int(np.prod(out.shape)) != 1:
                raise ValueError(f"neuron {label} must return a scalar, got shape {out.shape}.")
    low, high = checks.check_code_bounds(space.code_bounds, spec.shape[0])
    key = (space.generator, space.encoder, models.target, specs, init_key, n, num_seeds,
           checks.bounds_key(low, high), method, code_constraints, space.to_input, bool(progress))

    def build():
        activation = robust(make_activation_fn(specs, models.target), space.transforms)
        problem = Problem(TracedOnce(space.generator), TracedOnce(space.encoder), TracedOnce(activation), low,
                          high, code_constraints)
        return CompiledSampler(problem, init_fn, n, num_seeds, num_features, method, progress, space.to_input)

    return Sampler(cached_sampler(key, build), indices, labels)


def _code_constraints(models: Models, method: Method, num_features: int, code_dim: int) -> tuple:
    tau = models.realism_bound
    if tau is not None and not (checks.is_number(tau) and tau > 0):
        raise ValueError(f"realism_bound must be a positive number τ (r(c) ≤ τ) or None, got {tau!r}.")
    uses_realism = method.objective.realism_weight or tau is not None
    if uses_realism and method.space == "prior" and models.prior is not None:
        raise ValueError(
            f"realism compares E(G(c)) with the code c, but the {method.name!r} method searches z ~ N(0, I) through "
            "the prior, not codes: use method='paper' (the generator's code space) for realism_bound or "
            "realism_weight, or drop them.")
    if uses_realism and num_features != code_dim:
        raise ValueError(
            f"realism_weight and realism_bound need an encoder whose output lives in the code space: E(G(c)) "
            f"has {num_features} entries but codes have {code_dim}. Set realism_weight=0 and realism_bound=None."
        )
    if tau is None or np.isinf(tau):
        return ()  # r ≤ ∞: no constraint
    return (RealismConstraint(float(tau)),)


def sample_inverse_set(neuron, z1, z2, n: int, *, models: Models | None = None, method: str | Method | None = None,
                       num_seeds: int = 10, rng_key: Any = None, progress: bool = False, near: Any = None,
                       near_scale: float | None = None, **fields) -> InverseSetResult:
    """Sample n points of the inverse set ``{x : z1 ≤ a(x) ≤ z2}`` through a generator.

    Args:
      neuron: an int (unit of the target's output layer), a class name (with
        ``class_names``), a :class:`~inverse_set.core.constraints.Unit`, a callable
        ``image -> scalar``, or a sequence of these for an intersection (eq. 11–12).
      z1, z2: band edges, numbers or sequences with one number per neuron.
      n: number of samples (the K seeds included for the chain methods, "paper" and "prior-slice").
      models: the networks (:class:`~inverse_set.models.Models`), e.g.
        ``generators.load("fashion")`` for the bundled ones.
      method: ``"prior-ladder"``, ``"paper"``, ``"prior-slice"`` or a :class:`~inverse_set.methods.Method`
        (:mod:`inverse_set.methods`); None: the models' default (``"prior-ladder"`` on the
        bundled models and on any with a prior or a standard-Gaussian init, else ``"paper"``).
      num_seeds: K, the number of seeds and walkers.
      rng_key: an int, ``jax.random.key(…)`` or ``jax.random.PRNGKey(…)``; the same key gives the same samples.
      progress: show progress (bars on a terminal, a line every few seconds otherwise).
      near: an image x0 (the generator's output shape and range): sample the band near it, from the prior
        localised at the latent z₀ that reconstructs x0, N(z₀, σ² I), restricted to the band
        (:mod:`inverse_set.near`); ``res.near`` then says how near each sample stayed.
      near_scale: σ for ``near``; None: the smallest of ``inverse_set.near.SCALES`` from which the band is
        reachable.
      **fields: fields of :class:`~inverse_set.models.Models` (``generator``, ``encoder``,
        ``target``, ``init``, ``prior``, ``latent_dim``, ``code_bounds``, ``class_names``,
        ``realism_bound``), given directly (your own networks without building a
        ``Models``) or to override those of ``models``.

    Returns:
      An :class:`~inverse_set.results.InverseSetResult` of n samples, each inside every band
      (fewer, with an :class:`~inverse_set.errors.IncompleteSampleWarning`, if the walk stopped early);
      ``res.stats.method`` and ``res.stats.settings`` say what ran.

    Raises:
      InfeasibleBandError: the seeds could not reach the band (reports the range reached).
      NonFiniteActivationError: NaN or Inf appeared during the search.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from inverse_set import sample_inverse_set
      >>> w = jnp.ones(4)
      >>> res = sample_inverse_set(lambda x: jax.nn.sigmoid(w @ x - 2.0), 0.4, 0.6, n=30,
      ...                          generator=jax.nn.sigmoid, encoder=lambda x: x, init=4)
      >>> bool(((res.activations >= 0.4) & (res.activations <= 0.6)).all()), res.stats.method
      (True, 'prior-ladder')
    """
    if near is not None:
        return _sample_near(neuron, z1, z2, n, near, near_scale, models=resolve_models(models, **fields),
                            method=method, num_seeds=num_seeds, rng_key=rng_key, progress=progress)
    if near_scale is not None:
        raise ValueError("near_scale is σ of a run near an image: give the image too, near=x0.")
    sampler = make_sampler(neuron, n, models=models, method=method, num_seeds=num_seeds, progress=progress,
                           **fields)
    return sampler.sample(z1, z2, rng_key)


def _sample_near(neuron, z1, z2, n, image, scale, *, models: Models, method, rng_key, inversion=None,
                 **kwargs) -> InverseSetResult:
    """:func:`sample_inverse_set` near an image: z₀ by :func:`inverse_set.near.invert` (or ``inversion``, its
    result already), then the band under the prior localised at z₀ (σ given, or the first of ``SCALES`` from which
    the ladder reaches the band)."""
    chosen = methods.resolve(method, models)
    if chosen.space != "prior":
        raise ValueError(f"near= samples the prior localised at x0's latent: use a method of the prior's space "
                         f"(\"prior-ladder\" or \"prior-slice\"), not {chosen.name!r}.")
    key = checks.as_key(rng_key)
    z0, reconstruction, error = inversion or near.invert(models, image, jax.random.fold_in(key, 1))
    scales = (near.check_scale(scale),) if scale is not None else near.SCALES
    for i, sigma in enumerate(scales):
        last = i == len(scales) - 1
        try:
            res = make_sampler(neuron, n, models=near.localised(models, z0, sigma), method=chosen,
                               **kwargs).sample(z1, z2, key)
        except InfeasibleBandError:
            if last:
                raise
            continue
        if last or res.stats.population_start != "seeds":  # the ladder reached the band from this σ's prior
            break
    to_latent = lambda u: z0 + sigma * np.asarray(u)
    pixels, features = near.distances(models, res.images, reconstruction)
    return dataclasses.replace(
        res, codes=to_latent(res.codes), seeds=to_latent(res.seeds) if len(res.seeds) else res.seeds,
        generator_inputs=res.generator_inputs if models.prior is not None else None,
        near=Near(np.asarray(image, np.float32), reconstruction, z0, sigma, error, pixels, features))


def sample_inverse_sets(neurons: Sequence, z1, z2, n: int, *, rng_key: Any = None, devices: Sequence | None = None,
                        **kwargs) -> list:
    """Run B problems with one compiled sampler: ``neurons[b]`` in band ``(z1[b], z2[b])``.

    Every problem must read the same layers in the same way (e.g. different units
    of the logits layer, or different bands of one neuron); unit indices and bands
    are traced, so one compilation serves them all. Keyword arguments are those
    of :func:`sample_inverse_set`; ``progress=True`` reports the compilation and
    the problems done, from the host (nothing inside the compiled run).

    The problems are spread over ``devices`` (default: every device of
    ``jax.devices()``; on a CPU, ``jax.config.update("jax_num_cpu_devices", N)``
    right after ``import jax`` makes N of them): each device runs its share one
    problem after another, each until it alone is done, all devices at once.

    What a batch promises: problem b uses the key ``fold_in(rng_key, b)`` and
    returns the samples of ``sample_inverse_set(neurons[b], z1[b], z2[b], n,
    rng_key=fold_in(rng_key, b), …)``.

    Returns:
      One entry per problem: its :class:`~inverse_set.results.InverseSetResult`,
      or the :class:`~inverse_set.errors.SamplingError` it ended with (its
      ``member`` is the problem's index); one failing problem never aborts the others.
    """
    progress = Progress(kwargs.get("num_seeds", 10), 0, n) if kwargs.pop("progress", False) else None
    if len(neurons) == 0:
        raise ValueError("neurons is empty; give at least one problem.")
    for name, edges in (("z1", z1), ("z2", z2)):
        if not _is_sequence(edges):
            raise ValueError(f"{name} must have one entry per problem, a list of {len(neurons)} band edges (or of "
                             f"lists, one edge per neuron, for intersections); got {edges!r}. For the same band in "
                             f"every problem, repeat it: {name}=[{edges!r}] * {len(neurons)}.")
    if len(z1) != len(neurons) or len(z2) != len(neurons):
        raise ValueError(
            f"neurons, z1 and z2 must have one entry per problem; got {len(neurons)}, {len(z1)}, {len(z2)}."
        )
    if devices is not None and (len(devices) == 0 or not all(isinstance(d, jax.Device) for d in devices)):
        raise ValueError(f"devices must be a non-empty list of JAX devices (e.g. jax.devices()[:2]), got {devices!r}.")
    samplers = [make_sampler(nb, n, **kwargs) for nb in neurons]  # the cache gives every problem one sampler
    compiled = samplers[0].compiled
    if any(s.compiled is not compiled for s in samplers):
        raise ValueError(
            "the problems do not share one structure (same layers, same kind of unit, same number "
            "of constraints); run them in separate calls."
        )
    labels = [s.labels for s in samplers]
    bands = [checks.check_bands(a, b, len(lab), lab) for a, b, lab in zip(z1, z2, labels)]
    lo, hi = np.stack([b[0] for b in bands]), np.stack([b[1] for b in bands])
    indices = jax.tree.map(lambda *xs: jnp.stack(xs), *[s.indices for s in samplers])
    key = checks.as_key(rng_key)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(len(neurons)))
    return compiled.sample_batch(keys, lo, hi, indices, labels, devices, progress)


def _is_sequence(edges) -> bool:
    """Whether ``edges`` has one entry per problem: a list, tuple or array of at least one dimension (its entries
    may differ in length: one edge per neuron of each problem)."""
    if isinstance(edges, np.ndarray):
        return edges.ndim > 0
    return isinstance(edges, Sequence) and not isinstance(edges, (str, bytes))


def atlas(neurons: Any, bands: Sequence[tuple[float, float]], n: int, *, near: Any = None,
          near_scale: float | None = None, **kwargs) -> list:
    """Sample each (neuron, band) row of an atlas with one :func:`~inverse_set.sample_inverse_sets` call.

    Args:
      neurons: one neuron (sampled at every band) or a list with one neuron per band
        (e.g. the first m units of a layer; an entry may itself be a list, an intersection).
      bands: ``[(z1, z2), …]``, one band per row.
      n: samples per row.
      near, near_scale: an image x0: each row is the band near it (a series across bands of one neuron,
        :func:`sample_inverse_set`'s ``near=``; x0 inverted once, each row a call of its own).
      **kwargs: as :func:`~inverse_set.sample_inverse_set` (``models=``, ``rng_key=``, …).

    Returns:
      One entry per row: its :class:`~inverse_set.InverseSetResult`, or the
      :class:`~inverse_set.SamplingError` it ended with. Draw them with :func:`atlas_grid`.
    """
    bands = [tuple(b) for b in bands]
    if not bands or any(len(b) != 2 for b in bands):
        raise ValueError(f"bands must be a non-empty list of (z1, z2) pairs; got {bands!r}.")
    if isinstance(neurons, (list, tuple)) and not isinstance(neurons, Unit):
        if len(neurons) != len(bands):
            raise ValueError(f"give one band per neuron: {len(neurons)} neurons but {len(bands)} bands "
                             "(or one neuron to sample at every band).")
        rows = list(neurons)
    else:
        rows = [neurons] * len(bands)
    if near is not None:
        return _series_near(rows, bands, n, near, near_scale, **kwargs)
    return sample_inverse_sets(rows, [b[0] for b in bands], [b[1] for b in bands], n, **kwargs)


def _series_near(rows, bands, n, image, scale, *, models=None, method=None, rng_key=None, devices=None,
                 **kwargs) -> list:
    """The atlas near an image: x0 inverted once, then each row sampled near it; a row that fails gives its error."""
    fields = {f.name for f in dataclasses.fields(Models)}
    models = resolve_models(models, **{k: kwargs.pop(k) for k in list(kwargs) if k in fields})
    key = checks.as_key(rng_key)
    inversion = near.invert(models, image, jax.random.fold_in(key, 1))
    out = []
    for row, (neuron, (z1, z2)) in enumerate(zip(rows, bands)):
        try:
            out.append(_sample_near(neuron, z1, z2, n, image, scale, models=models, method=method, rng_key=key,
                                    inversion=inversion, **kwargs))
        except SamplingError as err:
            err.member = row
            out.append(err)
    return out
