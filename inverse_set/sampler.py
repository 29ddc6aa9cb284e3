"""The public call: ``sample_inverse_set(neuron, z1, z2, n, …)``.

It checks the input, builds (once per problem structure) a :class:`Sampler` whose
``run`` is one jitted function — seeds (eq. 7–8), then the walker (eq. 9–10) with
the seeds' λ*, μ* — and turns the fixed-size buffers into an
:class:`InverseSetResult`. Bands and unit indices are traced arguments, so a new
band or another unit of the same layer reuses the compiled function; many
problems run in one call with :func:`sample_inverse_sets` (vmapped).
"""

from __future__ import annotations

import collections
import functools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import initialization
from inverse_set import seeds as seeds_lib
from inverse_set import walker as walker_lib
from inverse_set.constraints import Bands, ConstraintIndices, Unit, as_layer_dict, make_activation_fn, resolve
from inverse_set.errors import IncompleteSampleWarning, InfeasibleBandError, NonFiniteActivationError
from inverse_set.problem import Problem, evaluate
from inverse_set.seeds import SeedConfig
from inverse_set.walker import WalkerConfig

Array = jax.Array

REALISM_LABEL = "realism r(c) = mean((E(G(c)) − c)²)"

_WALKER_STATUS = {
    walker_lib.DONE: "complete",
    walker_lib.STALLED: "stalled",
    walker_lib.MAX_STEPS: "out of walker steps",
    walker_lib.NON_FINITE: "non-finite activations",
}


@dataclass
class SamplerStats:
    """Diagnostics of one run.

    Attributes:
      seed_steps: gradient steps of the seed solver.
      seed_outer_iterations: multiplier updates of the seed solver.
      walker_steps: gradient steps of the walker.
      acceptance_rate: fraction of the K walkers kept at each walker iteration
        (entry 0 is the seeds themselves).
      network_evaluations: forward+backward passes through G, E and the target,
        counted per code: K × (candidates per seed + seed steps + walker steps), each
        initial candidate counted as one evaluation.
      compile_time_s, run_time_s: compilation (0 if cached) and run time.
      status: "complete", "stalled" or "out of walker steps".
      mu, lam: the frozen penalty μ* and multipliers λ* the walker used.
      rejected_on_recheck: walker samples whose activations, recomputed from the
        returned images, fell outside the band (removed, never returned).
    """

    seed_steps: int
    seed_outer_iterations: int
    walker_steps: int
    acceptance_rate: np.ndarray
    network_evaluations: int
    compile_time_s: float
    run_time_s: float
    status: str
    mu: float
    lam: np.ndarray
    rejected_on_recheck: int = 0

    @property
    def mean_acceptance_rate(self) -> float:
        """Mean fraction of walkers kept per walker step (excluding the seeds)."""
        rates = self.acceptance_rate[1:]
        return float(rates.mean()) if rates.size else float("nan")


@dataclass
class InverseSetResult:
    """Samples of the inverse set: every one lies inside every band.

    Attributes:
      codes: (m, d) codes, m ≤ n (m < n only when the walker stopped early).
      images: (m, …) generated images G(codes).
      activations: (m, p) activations of every constraint, recomputed from ``images``.
      seeds: (K, d) the seed codes C₀; ``seed_activations`` (K, p).
      z1, z2: (p,) the bands; ``constraints``: a label per constraint.
      n_requested: n.
      stats: :class:`SamplerStats`.
      realism: (m,) the realism residual r(c) = mean((E(G(c)) − c)²) of each sample,
        recomputed like the activations, when a realism bound τ was set (each ≤ τ).
    """

    codes: np.ndarray
    images: np.ndarray
    activations: np.ndarray
    seeds: np.ndarray
    seed_activations: np.ndarray
    z1: np.ndarray
    z2: np.ndarray
    constraints: tuple[str, ...]
    n_requested: int
    stats: SamplerStats = field(repr=False)
    realism: np.ndarray | None = None

    def __len__(self) -> int:
        return self.codes.shape[0]

    @property
    def is_complete(self) -> bool:
        return len(self) == self.n_requested


def _build_progress(n: int, k: int, enabled: bool):
    """Host-side progress (tqdm) fed from inside the jitted loops by ``jax.debug.callback``."""
    if not enabled:
        return None, None, None
    from tqdm.auto import tqdm

    bars = {}

    def on_seed(step, num_inside):
        bar = bars.get("seed")
        if bar is None:
            bar = bars["seed"] = tqdm(desc="seeds (steps)", unit="step", leave=False)
        bar.set_postfix_str(f"{int(num_inside)}/{k} seeds in band")
        bar.update(int(step) - bar.n)

    def on_walk(num_kept):
        if "seed" in bars:
            bars.pop("seed").close()
        bar = bars.get("walk")
        if bar is None:
            bar = bars["walk"] = tqdm(total=n, desc="samples", unit="sample")
        bar.update(int(num_kept) - bar.n)

    def close():
        for bar in bars.values():
            bar.close()
        bars.clear()

    def seed_callback(state, bands):
        jax.debug.callback(on_seed, state.step, jnp.sum(bands.contains(state.f)))

    def walk_callback(state):
        jax.debug.callback(on_walk, state.num_kept)

    return seed_callback, walk_callback, close


class Sampler:
    """A compiled sampler for one problem structure (networks, layers, n, K, settings).

    ``run(rng_key, z1, z2, indices)`` is pure and jittable; :meth:`sample` calls its
    compiled form and returns an :class:`InverseSetResult`. Build it with
    :func:`make_sampler` (or let :func:`sample_inverse_set` do it).
    """

    def __init__(self, problem, init_fn, n, num_seeds, num_features, seed_config, walker_config, progress,
                 realism_bound=None):
        self.problem = problem
        self.realism_bound = realism_bound
        self.init_fn = init_fn
        self.n = n
        self.num_seeds = num_seeds
        self.num_features = num_features
        self.seed_config = seed_config
        self.walker_config = walker_config
        self._seed_cb, self._walk_cb, self._close_progress = _build_progress(n, num_seeds, progress)
        self._compiled = {}
        self._render = jax.jit(jax.vmap(self._render_one, in_axes=(0, None)))

    def _render_one(self, code, indices):
        image, _, f = evaluate(self.problem, code, indices)
        return image, f

    def bands(self, z1, z2) -> Bands:
        """The bands of the neurons, and ``r ≤ τ`` (as ``[−τ, τ]``, r ≥ 0) for the realism constraint."""
        z1, z2 = jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32)
        if self.realism_bound is not None:
            tau = jnp.full(z1.shape[:-1] + (1,), self.realism_bound, jnp.float32)
            z1, z2 = jnp.concatenate([z1, -tau], axis=-1), jnp.concatenate([z2, tau], axis=-1)
        return Bands(z1, z2)

    def run(self, rng_key: Array, z1: Array, z2: Array, indices: ConstraintIndices):
        """Seeds then walker for one problem; returns ``(SeedState, WalkerState)``."""
        bands = self.bands(z1, z2)
        keys = jax.random.split(rng_key, self.num_seeds * self.seed_config.candidates_per_seed)
        candidates = jax.vmap(self.init_fn)(keys).astype(jnp.float32)
        codes0 = seeds_lib.select_initial(self.problem, candidates, bands, indices, self.num_seeds,
                                          self.seed_config.select)
        seed_cb = None if self._seed_cb is None else (lambda s: self._seed_cb(s, bands))
        seed_state = seeds_lib.run(self.seed_config, self.problem, codes0, bands, indices, seed_cb)
        walk_state = walker_lib.run(
            self.walker_config,
            self.problem,
            seed_state.codes,
            bands,
            indices,
            lam=seed_state.lam,  # λ*
            mu=seed_state.mu,  # μ*
            n=self.n,
            num_features=self.num_features,
            callback=self._walk_cb,
        )
        return seed_state, walk_state

    def _compile(self, batch: int | None, args):
        """Ahead-of-time compile once per batch size; returns (executable, seconds)."""
        if batch not in self._compiled:
            fn = self.run if batch is None else jax.vmap(self.run)
            t0 = time.perf_counter()
            self._compiled[batch] = jax.jit(fn).lower(*args).compile()
            return self._compiled[batch], time.perf_counter() - t0
        return self._compiled[batch], 0.0

    def sample(self, rng_key, z1, z2, indices, labels) -> InverseSetResult:
        """Run the compiled sampler on one problem and check every returned sample."""
        args = (rng_key, jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32), indices)
        compiled, compile_time = self._compile(None, args)
        t0 = time.perf_counter()
        try:
            seed_state, walk_state = jax.block_until_ready(compiled(*args))
        finally:
            if self._close_progress is not None:
                self._close_progress()
        run_time = time.perf_counter() - t0
        return self._finish(seed_state, walk_state, z1, z2, indices, labels, compile_time, run_time)

    def sample_batch(self, rng_keys, z1, z2, indices, labels) -> list[InverseSetResult]:
        """Run B problems (leading axis of every argument) in one vmapped call."""
        args = (rng_keys, jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32), indices)
        compiled, compile_time = self._compile(z1.shape[0], args)
        t0 = time.perf_counter()
        seed_states, walk_states = jax.block_until_ready(compiled(*args))
        run_time = time.perf_counter() - t0
        results = []
        for b in range(z1.shape[0]):
            pick = lambda tree: jax.tree.map(lambda x: x[b], tree)  # noqa: E731, B023
            try:
                results.append(
                    self._finish(
                        pick(seed_states), pick(walk_states), z1[b], z2[b], pick(indices), labels[b],
                        compile_time, run_time,
                    )
                )
            except (InfeasibleBandError, NonFiniteActivationError) as err:
                err.add_note(f"(problem {b} of the batch of {z1.shape[0]})")
                raise
        return results

    def _finish(self, seed_state, walk_state, z1, z2, indices, labels, compile_time, run_time):
        seed_state = jax.device_get(seed_state)
        walk_state = jax.device_get(walk_state)
        k = self.num_seeds
        bands = jax.device_get(self.bands(z1, z2))
        z1, z2 = np.asarray(z1, np.float32), np.asarray(z2, np.float32)
        all_labels = (*labels, REALISM_LABEL) if self.realism_bound is not None else tuple(labels)
        if seed_state.status == seeds_lib.NON_FINITE:
            raise NonFiniteActivationError(
                f"NaN or Inf appeared in the activations or encodings during the seed search "
                f"(step {int(seed_state.step)}). Check the networks for overflow (e.g. exp of a "
                "large value) or bound the codes with code_bounds=(low, high)."
            )
        if seed_state.status != seeds_lib.FEASIBLE:
            inside = int(np.sum(np.all((seed_state.f >= bands.z1) & (seed_state.f <= bands.z2), axis=-1)))
            raise InfeasibleBandError(
                all_labels, bands.z1, bands.z2, seed_state.f_min, seed_state.f_max, int(seed_state.step), inside, k
            )
        if walk_state.status == walker_lib.NON_FINITE:
            raise NonFiniteActivationError(
                f"NaN or Inf appeared in the activations or encodings during the walk (walker "
                f"step {int(walk_state.step)}). Lower WalkerConfig(step_size=…) or bound the codes "
                "with code_bounds=(low, high)."
            )
        m = int(walk_state.num_kept)
        codes = walk_state.kept_codes[:m]
        images, f = jax.device_get(self._render(codes, indices))
        # Never out of band: recompute the activations (and realism) from the returned codes' images.
        is_inside = np.all((f >= bands.z1) & (f <= bands.z2), axis=-1)
        rejected = int(np.sum(~is_inside))
        codes, images, f = codes[is_inside], images[is_inside], f[is_inside]
        acts = f[:, : len(z1)]
        status = _WALKER_STATUS[int(walk_state.status)]
        iterations = int(walk_state.step) + 1
        stats = SamplerStats(
            seed_steps=int(seed_state.step),
            seed_outer_iterations=int(seed_state.num_outer),
            walker_steps=int(walk_state.step),
            acceptance_rate=walk_state.num_accepted[:iterations] / k,
            network_evaluations=k * (
                self.seed_config.candidates_per_seed + int(seed_state.step) + 1 + iterations
            ),
            compile_time_s=compile_time,
            run_time_s=run_time,
            status=status,
            mu=float(seed_state.mu),
            lam=np.asarray(seed_state.lam),
            rejected_on_recheck=rejected,
        )
        if codes.shape[0] < self.n:
            why = status if rejected == 0 else f"{status}; {rejected} fell outside on recheck"
            warnings.warn(
                f"Returning {codes.shape[0]} of the {self.n} samples asked for ({why} after "
                f"{stats.walker_steps} walker steps). Try a wider band, more seeds, "
                "WalkerConfig(max_steps=…, max_stall_steps=…) or a smaller step_size.",
                IncompleteSampleWarning,
                stacklevel=3,
            )
        return InverseSetResult(
            codes=np.asarray(codes),
            images=np.asarray(images),
            activations=np.asarray(acts),
            seeds=np.asarray(seed_state.codes),
            seed_activations=np.asarray(seed_state.f[:, : len(z1)]),
            realism=np.asarray(f[:, -1]) if self.realism_bound is not None else None,
            z1=z1,
            z2=z2,
            constraints=tuple(labels),
            n_requested=self.n,
            stats=stats,
        )


# ---------------------------------------------------------------------------
# Input checks and the sampler cache


def _as_list(neuron) -> list:
    if isinstance(neuron, Unit) or isinstance(neuron, (str, int, np.integer)) or callable(neuron):
        return [neuron]
    if isinstance(neuron, Sequence):
        if len(neuron) == 0:
            raise ValueError("neuron is an empty sequence; give at least one neuron.")
        return list(neuron)
    raise TypeError(
        f"neuron must be an int, a Unit, a callable or a sequence of them, got {type(neuron).__name__}."
    )


def _check_count(name: str, value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int ({what}), got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be ≥ 1 ({what}), got {value}.")
    return int(value)


def check_bands(z1, z2, p: int, labels: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bands as float32 arrays of shape (p,), checked: same length as the neurons, finite, z1 < z2."""
    out = []
    for name, z in (("z1", z1), ("z2", z2)):
        arr = np.asarray(z, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full((p,), float(arr)) if p == 1 else arr.reshape(1)
        if arr.ndim != 1 or arr.shape[0] != p:
            raise ValueError(
                f"{name} has {arr.size} value(s) but there are {p} neuron(s); give one band edge "
                f"per neuron (neuron, z1 and z2 must have equal lengths)."
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got {arr.tolist()}.")
        out.append(arr.astype(np.float32))
    lo, hi = out
    bad = np.flatnonzero(~(lo < hi))
    if bad.size:
        i = int(bad[0])
        which = f" ({labels[i]})" if labels else ""
        raise ValueError(
            f"band {i}{which} is empty or reversed: z1={lo[i]:.6g} ≥ z2={hi[i]:.6g}; "
            "z1 must be strictly below z2."
        )
    return lo, hi


def _bounds_key(bounds):
    if bounds is None:
        return None
    return tuple(None if b is None else (np.shape(b), np.asarray(b, np.float32).tobytes()) for b in bounds)


def _layer_shapes(generator, encoder, target, code_spec, specs_need_target):
    """Check that G's output fits E and the target; return (image spec, features, layer shapes)."""
    try:
        image = jax.eval_shape(generator, code_spec)
    except Exception as err:  # noqa: BLE001 — re-raised with context
        raise ValueError(f"the generator failed on a code of shape {code_spec.shape}: {err}") from err
    try:
        phi = jax.eval_shape(encoder, image)
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"the encoder does not accept the generator's output of shape {image.shape}: {err}"
        ) from err
    layers = None
    if target is not None and specs_need_target:
        try:
            layers = jax.eval_shape(lambda x: dict(as_layer_dict(target(x))), image)
        except Exception as err:  # noqa: BLE001
            raise ValueError(
                f"the generator's output shape {image.shape} does not fit the target network: {err}. "
                "The generator must return one image in the shape the target takes (no batch axis)."
            ) from err
        layers = {name: tuple(v.shape) for name, v in layers.items()}
    return image, int(np.prod(phi.shape)), layers


_CACHE: collections.OrderedDict = collections.OrderedDict()
_CACHE_SIZE = 16


def make_sampler(
    neuron,
    n: int,
    *,
    generator: Callable,
    encoder: Callable,
    target: Callable | None = None,
    init: Callable | int,
    num_seeds: int = 10,
    code_bounds: tuple | None = None,
    seed_config: SeedConfig = SeedConfig(),
    walker_config: WalkerConfig = WalkerConfig(),
    realism_bound: float | None = None,
    progress: bool = False,
):
    """Build (or fetch from a small cache) the :class:`Sampler` for a problem structure.

    Returns:
      ``(sampler, indices, labels)`` where ``indices`` are the traced unit indices
      of these neurons.
    """
    n = _check_count("n", n, "the number of samples")
    num_seeds = _check_count("num_seeds", num_seeds, "K, the number of seeds and walkers")
    _check_count("SeedConfig.candidates_per_seed", seed_config.candidates_per_seed,
                 "initial codes drawn per seed; 1 is the paper")
    neurons = _as_list(neuron)
    if isinstance(init, (int, np.integer)) and not isinstance(init, bool):
        init = _cached_gaussian(int(init))
    if not callable(init):
        raise TypeError(
            "init must be a callable rng_key -> code (see inverse_set.initialization) or an int "
            f"code dimension for a standard Gaussian, got {init!r}."
        )
    for name, fn in (("generator", generator), ("encoder", encoder)):
        if not callable(fn):
            raise TypeError(f"{name} must be a callable taking one example, got {fn!r}.")
    if seed_config.select not in ("alive", "nearest"):
        raise ValueError(f"SeedConfig.select must be 'alive' or 'nearest', got {seed_config.select!r}.")
    if seed_config.repulsion not in ("squared", "rbf") or walker_config.repulsion not in ("squared", "rbf"):
        raise ValueError("repulsion must be 'squared' or 'rbf'.")
    if walker_config.repel_from not in ("last", "all"):
        raise ValueError(f"repel_from must be 'last' or 'all', got {walker_config.repel_from!r}.")

    needs_target = any(not (callable(x) and not isinstance(x, (Unit, int))) for x in neurons)
    try:
        code_spec = jax.eval_shape(init, jax.random.key(0))
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"init(rng_key) failed: {err}") from err
    if len(code_spec.shape) != 1:
        raise ValueError(f"init must return one code vector of shape (d,), got shape {code_spec.shape}.")
    image, num_features, layers = _layer_shapes(generator, encoder, target, code_spec, needs_target)
    if realism_bound is not None and not (isinstance(realism_bound, (int, float, np.floating))
                                          and not isinstance(realism_bound, bool) and realism_bound > 0):
        raise ValueError(f"realism_bound must be a positive number τ (r(c) ≤ τ) or None, got {realism_bound!r}.")
    if realism_bound is not None and np.isinf(realism_bound):
        realism_bound = None  # r ≤ ∞: no constraint
    uses_realism = seed_config.realism_weight or walker_config.realism_weight or realism_bound is not None
    if uses_realism and num_features != code_spec.shape[0]:
        raise ValueError(
            f"realism_weight and realism_bound need an encoder whose output lives in the code space: E(G(c)) "
            f"has {num_features} entries but codes have {code_spec.shape[0]}. Set realism_weight=0 and "
            "realism_bound=None."
        )
    specs, indices, labels = resolve(neurons, layers)
    for spec, label in zip(specs, labels):
        if spec.fn is not None:
            try:
                out = jax.eval_shape(spec.fn, image)
            except Exception as err:  # noqa: BLE001
                raise ValueError(f"neuron {label} failed on an image of shape {image.shape}: {err}") from err
            if int(np.prod(out.shape)) != 1:
                raise ValueError(f"neuron {label} must return a scalar, got shape {out.shape}.")

    key = (generator, encoder, target, specs, init, n, num_seeds, _bounds_key(code_bounds),
           seed_config, walker_config, realism_bound, bool(progress))
    sampler = _CACHE.get(key)
    if sampler is None:
        low, high = (-np.inf, np.inf) if code_bounds is None else code_bounds
        problem = Problem(
            generator=generator,
            encoder=encoder,
            activation=make_activation_fn(specs, target),
            code_low=-jnp.inf if low is None else jnp.asarray(low, jnp.float32),
            code_high=jnp.inf if high is None else jnp.asarray(high, jnp.float32),
            realism_constraint=realism_bound is not None,
        )
        sampler = Sampler(problem, init, n, num_seeds, num_features, seed_config, walker_config, progress,
                          None if realism_bound is None else float(realism_bound))
        _CACHE[key] = sampler
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return sampler, indices, labels


_GAUSSIANS: dict[int, Callable] = {}


def _cached_gaussian(dim):
    # One function object per dimension, so that init=d hits the sampler cache.
    if dim not in _GAUSSIANS:
        _GAUSSIANS[dim] = initialization.gaussian(dim)
    return _GAUSSIANS[dim]


def _as_key(rng_key):
    if rng_key is None:
        return jax.random.key(0)
    if isinstance(rng_key, (int, np.integer)):
        return jax.random.key(int(rng_key))
    return rng_key


class DefaultModels(NamedTuple):
    """The bundled models and the settings the benchmark chose for them."""

    bundle: Any
    init: Callable
    seed_config: SeedConfig
    walker_config: WalkerConfig
    code_bounds: tuple
    realism_bound: float | None = None


@functools.lru_cache(maxsize=1)
def default_models() -> DefaultModels:
    """The bundled Fashion-MNIST models, loaded once, with their chosen settings.

    The bundle is ``generators.load("fashion")`` (target: the classifier by layer
    name; G: the DGN-style generator; E: the classifier up to fc6). The settings
    differ from the paper's where ``benchmarks/variants.py`` measured better
    coverage and realism on these models (``benchmarks/results/variants.md``):
    seeds start from codes of the bundled VAE's samples, E(G_vae(z)), instead of
    codes of noise images; the realism term ρ/2‖E(G(c)) − c‖² with ρ = 10 keeps
    codes where G was trained; the walker's step is β = 0.3. Codes are
    non-negative (post-ReLU features). Loading once keeps the same function
    objects, so repeated calls reuse the compiled sampler.
    """
    import generators

    bundle = generators.load("fashion")
    init = initialization.encoded_samples(bundle.encoder, bundle.gaussian_generator, bundle.gaussian_latent_dim)
    return DefaultModels(
        bundle=bundle,
        init=init,
        seed_config=SeedConfig(realism_weight=10.0),
        walker_config=WalkerConfig(realism_weight=10.0, step_size=0.3),
        code_bounds=(0.0, None),
    )


def _models(generator, encoder, target, init, code_bounds, class_names, seed_config, walker_config,
            realism_bound=None):
    """Fill in the bundled models and their settings when no models are given; else the paper's settings."""
    if generator is None and encoder is None and target is None:
        d = default_models()
        return dict(
            generator=d.bundle.generator,
            encoder=d.bundle.encoder,
            target=d.bundle.target,
            init=d.init if init is None else init,
            code_bounds=d.code_bounds if code_bounds is None else code_bounds,
            seed_config=d.seed_config if seed_config is None else seed_config,
            walker_config=d.walker_config if walker_config is None else walker_config,
            realism_bound=d.realism_bound if realism_bound is None else realism_bound,
        ), d.bundle.class_names if class_names is None else class_names
    missing = [name for name, v in (("generator", generator), ("encoder", encoder), ("init", init)) if v is None]
    if missing:
        raise TypeError(
            f"with your own models, also give {', '.join(missing)} (or give none of generator, encoder "
            "and target to use the bundled Fashion-MNIST models)."
        )
    return dict(
        generator=generator, encoder=encoder, target=target, init=init, code_bounds=code_bounds,
        seed_config=SeedConfig() if seed_config is None else seed_config,
        walker_config=WalkerConfig() if walker_config is None else walker_config,
        realism_bound=realism_bound,
    ), class_names


def _by_name(neuron, class_names):
    """A class name (e.g. ``"Bag"``) as the index of its logit."""
    if not isinstance(neuron, str):
        return neuron
    names = list(class_names or [])
    if neuron not in names:
        hint = f"known class names: {names}" if names else "no class names are known for these models"
        raise ValueError(f"unknown neuron name {neuron!r}; {hint}. Or give the unit's index.")
    return names.index(neuron)


def sample_inverse_set(
    neuron,
    z1,
    z2,
    n: int,
    *,
    generator: Callable | None = None,
    encoder: Callable | None = None,
    target: Callable | None = None,
    init: Callable | int | None = None,
    num_seeds: int = 10,
    code_bounds: tuple | None = None,
    class_names: Sequence[str] | None = None,
    seed_config: SeedConfig | None = None,
    walker_config: WalkerConfig | None = None,
    realism_bound: float | None = None,
    rng_key: Any = None,
    progress: bool = False,
) -> InverseSetResult:
    """Sample n points of the inverse set ``{x : z1 ≤ a(x) ≤ z2}`` through a generator.

    With no models given, the bundled Fashion-MNIST models are used (target: the
    classifier, by layer name; G: the DGN-style generator; E: the classifier up to
    fc6) with the settings of :func:`default_models`.

    Args:
      neuron: an int (unit of the target's output layer), a class name (with
        ``class_names`` or the bundled models), a
        :class:`~inverse_set.constraints.Unit`, a callable ``image -> scalar``, or a
        sequence of these for an intersection (eq. 11–12).
      z1, z2: band edges, scalars or sequences with one entry per neuron.
      n: number of samples (the K seeds included).
      generator: ``G(code) -> image`` for one code.
      encoder: ``E(image) -> features``, the space where diversity is measured.
      target: ``image -> activations`` (an array, or a dict by layer name; see
        :func:`~inverse_set.constraints.flax_target`). Not needed if every neuron
        is a callable.
      init: ``init(rng_key) -> code`` for the seeds' starting codes
        (:mod:`inverse_set.initialization`), or an int d for N(0, I_d).
      num_seeds: K, the number of seeds and walkers.
      code_bounds: ``(low, high)`` bounds on the code (scalars, arrays or None).
      class_names: names of the output units, so neurons can be given by name.
      seed_config, walker_config: solver settings (default: the paper's, or those of
        :func:`default_models` for the bundled models).
      realism_bound: τ of the realism constraint r(c) = mean((E(G(c)) − c)²) ≤ τ, one
        more augmented-Lagrangian constraint that every sample also satisfies (needs
        codes in E's space, as for a DGN-style generator). None: off for your own
        models, the bundled models' τ for them; ``math.inf``: off.
      rng_key: a JAX key or int seed; the same key gives the same samples.
      progress: show progress bars.

    Returns:
      An :class:`InverseSetResult` of n samples, each inside every band.

    Raises:
      InfeasibleBandError: the seeds could not reach the band (reports the range reached).
      NonFiniteActivationError: NaN or Inf appeared during the search.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from inverse_set import sample_inverse_set
      >>> w = jnp.ones(4)
      >>> res = sample_inverse_set(lambda x: jax.nn.sigmoid(w @ x - 2.0), 0.4, 0.6, n=30,
      ...                          generator=jax.nn.sigmoid, encoder=lambda x: x, init=4)
      >>> bool(((res.activations >= 0.4) & (res.activations <= 0.6)).all())
      True
    """
    models, class_names = _models(generator, encoder, target, init, code_bounds, class_names, seed_config,
                                  walker_config, realism_bound)
    neurons = [_by_name(x, class_names) for x in _as_list(neuron)]
    sampler, indices, labels = make_sampler(neurons, n, num_seeds=num_seeds, progress=progress, **models)
    lo, hi = check_bands(z1, z2, len(labels), labels)
    return sampler.sample(_as_key(rng_key), lo, hi, indices, labels)


def sample_inverse_sets(
    neurons: Sequence,
    z1,
    z2,
    n: int,
    *,
    rng_key: Any = None,
    **kwargs,
) -> list[InverseSetResult]:
    """Run B problems in one vmapped call: ``neurons[b]`` in band ``(z1[b], z2[b])``.

    Every problem must read the same layers in the same way (e.g. different units
    of the logits layer, or different bands of one neuron); unit indices and bands
    are batched. Keyword arguments are those of :func:`sample_inverse_set`
    (``progress`` is not supported here). Problem b uses ``fold_in(rng_key, b)``.
    """
    if kwargs.get("progress"):
        raise ValueError("progress bars are not supported for batched problems; drop progress=True.")
    if len(neurons) == 0:
        raise ValueError("neurons is empty; give at least one problem.")
    if len(z1) != len(neurons) or len(z2) != len(neurons):
        raise ValueError(
            f"neurons, z1 and z2 must have one entry per problem; got {len(neurons)}, {len(z1)}, {len(z2)}."
        )
    names = ("generator", "encoder", "target", "init", "code_bounds", "class_names", "seed_config", "walker_config",
             "realism_bound")
    models, class_names = _models(*(kwargs.pop(k, None) for k in names))
    built = [
        make_sampler([_by_name(x, class_names) for x in _as_list(nb)], n, **models, **kwargs) for nb in neurons
    ]
    sampler = built[0][0]
    if any(b[0] is not sampler for b in built):
        raise ValueError(
            "the problems do not share one structure (same layers, same kind of unit, same number "
            "of constraints); run them in separate calls."
        )
    labels = [b[2] for b in built]
    bands = [check_bands(a, b, len(lab), lab) for a, b, lab in zip(z1, z2, labels)]
    lo = np.stack([b[0] for b in bands])
    hi = np.stack([b[1] for b in bands])
    indices = jax.tree.map(lambda *xs: jnp.stack(xs), *[b[1] for b in built])
    key = _as_key(rng_key)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(len(neurons)))
    return sampler.sample_batch(keys, lo, hi, indices, labels)
