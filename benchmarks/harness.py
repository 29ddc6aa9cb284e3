"""The diversity benchmark: run every method on a (neurons, band) cell, score all of them on the same n.

A cell's rows are made in two passes. :func:`run_cell` runs each method and keeps
what it returned, in order, with the cost it paid (forward-only and
forward+backward passes counted apart, wall time with compilation apart);
membership is recomputed from the returned images. :func:`score_cell` then takes
``n_scored``, the smallest in-band count among the methods that reached at least
``Budget.min_scored`` samples (the others are reported with their count, not
scored), and measures the first ``n_scored`` in-band samples of every method in
the judge network's penultimate space (a space the sampler never sees):

* against real images in the band (a random half of the training and test images
  in the band; the ``real`` row is the other half): coverage, density, precision,
  recall, Fréchet distance, each with a bootstrap 90% interval;
* against independent draws from the prior the default samples (the second half
  of ``rejection_prior``'s draws; the row is the first half): recall, coverage and
  Fréchet distance "vs prior", so that ``rejection_prior``'s own row is the ideal;
* Vendi, quality-weighted Vendi (Vendi × the fraction of samples inside the real
  reference's balls) and judge agreement with the neuron's class;
* ``path_similarity``: how alike the target processes the samples and real in-band
  images, per layer (:func:`inverse_set.evaluation.metrics.path_similarity`).

Where the reference half has fewer than ``MIN_REFERENCE`` real images (beyond the
data: none at all) only what needs no in-band reference is measured: Vendi,
judge agreement, and precision (and the quality of quality-weighted Vendi)
against every real test image of the class.

``benchmarks/diversity.py`` is the command line; tests run a reduced version
(the scripts of this folder import this module as ``harness``).
"""

from __future__ import annotations

import os
import shlex
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import generators
from inverse_set import InfeasibleBandError, SeedConfig, Unit, sample_inverse_set
from inverse_set.cli.main import machine
from inverse_set.core.bands import Bands, in_band
from inverse_set.core.chunks import chunked
from inverse_set.core.constraints import as_layer_dict, make_activation_fn, resolve
from inverse_set.core.problem import Problem
from inverse_set.evaluation import metrics
from inverse_set.evaluation.baselines import (
    dgn_am,
    gram_diversity,
    joint,
    ppgn,
    rejection,
    rejection_from_pool,
)

METHODS = ("ours", "paper", "ppgn", "dgn_am", "gram_diversity", "rejection_prior", "rejection_real", "real")
OPTIONAL_METHODS = ("ladder", "slice", "joint")  # by --methods only: not in the headline
LEVELS = ("p50", "p95", "p99.9", "max+")
WINDOW = 100  # samples per window of the diversity-along-the-walk measure
MIN_REFERENCE = 20  # real in-band images in the reference half needed for the measures against real members
# The cells on which the defaults were chosen (docs/decisions/): class index, band. Every benchmark cell whose band
# overlaps one of these is in the dev split; the headline is computed on the others.
DEV_CELLS = ((8, "p50"), (7, "p95"), (6, "p50"), (3, "p95"), (0, "p99"), (9, "p95"))


@dataclass(frozen=True)
class Budget:
    """Sizes of every method's run (defaults: the full benchmark)."""

    n: int = 500
    num_seeds: int = 10
    ppgn_chains: int = 100  # per neuron, shared by its bands; 200 steps each, a sample every 5 (published)
    ppgn_steps: int = 200
    ppgn_save_every: int = 5
    dgn_restarts: int = 100  # per neuron, shared by its bands; one image per restart (published)
    dgn_steps: int = 200
    gram_n: int = 100  # per cell: gram_n / gram_batch batches of Lucid's 512 Adam steps
    gram_steps: int = 512
    gram_batch: int = 10
    rejection_max_draws: int = 60_000  # per rejection method and cell (rejection_prior wants 2n in band)
    min_scored: int = 20
    bootstrap: int = 100
    joint_n: int = 100
    joint_steps: int = 2000


@dataclass
class Cell:
    """One benchmark problem: neurons (ints = logits, or Units) and their bands."""

    name: str
    neurons: tuple
    z1: tuple
    z2: tuple
    class_index: int | None  # the class a class neuron stands for (for judge agreement)
    kind: str  # "class", "intersection" or "hidden"
    band_name: str = ""


@dataclass
class Run:
    """What one method returned on a cell, in order, and what it cost."""

    method: str
    images: np.ndarray
    forward: int = 0  # forward-only passes through G (+ E) + target, per code
    gradient: int = 0  # forward+backward passes
    wall_s: float = 0.0  # compilation excluded
    compile_s: float = 0.0
    note: str = ""
    inside: np.ndarray | None = None  # membership, recomputed from the images
    draws: int | None = None  # rejection: codes drawn
    acceptance_rate: float | None = None
    reference: np.ndarray | None = None  # rejection_prior: the other half of its draws, the "vs prior" reference
    stats: dict | None = None  # the sampler's own figures (band_mass, effective_sample_size, …), into the row


# What a sampler row carries of its SamplerStats besides its cost.
SAMPLER_STATS = ("seed_steps", "band_mass", "effective_sample_size", "decorrelation", "population_start",
                 "ladder_levels", "distinct_ancestors")

# The rows that run sample_inverse_set, and the method each runs (None: the models' default, "prior-ladder"). Each
# such row records the name (``method_name``) and every resolved setting (``method_settings``) of what ran.
NAMED = {"ours": None, "paper": "paper", "ladder": "prior-ladder", "slice": "prior-slice"}


def add_cell_arguments(parser, classes: str, bands: str, keys: str) -> None:
    """The class cells and keys a script runs on: ``--classes``, ``--bands``, ``--keys`` (:func:`class_cells`)."""
    parser.add_argument("--classes", default=classes, help="class indices, comma-separated")
    parser.add_argument("--bands", default=bands, help="levels of the zoo's stats: p50, p95, p99, p99.9, max+")
    parser.add_argument("--keys", default=keys, help="random keys, comma-separated")


def solver_problem(sampler, z1, z2):
    """``(problem, indices, bands)``: what a sampler's compiled problem needs to evaluate codes against a cell's band
    (for the scripts that drive the ladder or the forward pass themselves)."""
    lo, hi = sampler.compiled.solver_bands(np.asarray(z1), np.asarray(z2))
    return sampler.compiled.problem, sampler.indices, Bands(jnp.asarray(lo), jnp.asarray(hi))


def adaptations(budget: Budget) -> dict:
    """How each baseline differs from its authors' configuration (baselines.md), written into the results."""
    return {
        "ppgn": f"h clipped to the range of real codes per dimension (the reference clips to [0, 30]; our fc6 is "
                f"256-d on 28×28 images); {budget.ppgn_steps} steps per chain and a sample every "
                f"{budget.ppgn_save_every} (published); {budget.ppgn_chains} chains per neuron, shared by its bands, "
                "its samples taken step by step over the chains (every chain's first save, then every chain's "
                "second, …) and each band charged for the save windows it needed; no probability threshold "
                "(class unit)",
        "dgn_am": f"{budget.dgn_restarts} restarts per neuron, {budget.dgn_steps} steps each (published), "
                  "lr 8 → 1e-10, upper clip mean + 3 std of real codes; one image per restart; shared by the "
                  "neuron's bands",
        "gram_diversity": f"Lucid's Gram-cosine term (weight 1e2) on conv2, Adam lr 0.05, {budget.gram_steps} steps, "
                          f"batches of {budget.gram_batch}; the maximisation replaced by a squared band-distance "
                          f"penalty (Lucid has no band); {budget.gram_n} samples per cell",
        "rejection_prior": "draws from the flow prior the default samples (z ~ N(0, I) → relu(T⁻¹(z))), "
                           "2n wanted: alternate in-band draws go to the row and to the 'vs prior' reference",
        "rejection_real": f"codes E(x) of the 60,000 training images in a random order, each at most once, through G "
                          f"(at most {budget.rejection_max_draws})",
        "real": "a random half of every real in-band image (training and test sets); the other half is the "
                "reference",
    }


def layer_shapes(target) -> dict:
    """Each layer's activation shape on one 28×28 image: what neurons given by layer resolve against."""
    return {k: tuple(v.shape) for k, v in jax.eval_shape(
        lambda x: dict(as_layer_dict(target(x))), jax.ShapeDtypeStruct((28, 28, 1), jnp.float32)).items()}


def cell_activation(target, layers: dict, neurons):
    """``image -> (p,)``, the activations of these neurons, with their specs, indices and labels."""
    specs, indices, labels = resolve(list(neurons), layers)
    f = make_activation_fn(specs, target)
    return (lambda x: f(x, indices)), specs, indices, labels


class Context:
    """The bundled models, batched, and the real images' features and activations."""

    def __init__(self, test_images=None, test_labels=None, train_images=None, max_train=60_000, zoo=None):
        self.zoo = zoo if zoo is not None else generators.load("fashion")
        b = self.zoo
        if test_images is None:
            test_images, test_labels = generators.load_fashion_mnist("test")
        self.test_images, self.test_labels = np.asarray(test_images), np.asarray(test_labels)
        if train_images is None:
            train_images, _ = generators.load_fashion_mnist("train")
        self.train_images = np.asarray(train_images)[:max_train]
        self.judge_features = chunked(b.judge_features)
        self.judge_logits = chunked(b.judge_logits)
        self.encode = chunked(b.encoder)
        self.real_judge = self.judge_features(self.test_images)
        self.real_encoder = self.encode(self.test_images)
        self.layers = layer_shapes(b.target)
        # Every layer of the target, conv maps pooled over space: the path_similarity features.
        self.target_layers = chunked(lambda x: {k: (jnp.mean(v, axis=(0, 1)) if v.ndim == 3 else v)
                                                for k, v in as_layer_dict(b.target(x)).items()})
        self.train_codes = self.encode(self.train_images)  # rejection_real's pool: codes of real training images
        self.forward_cost = forward_over_fwd_bwd(b)
        self._activation_fns, self._real_acts = {}, {}

    def activation(self, cell: Cell):
        """Batched ``images -> (m, p)`` activations of the cell's constraints, plus the traced pieces."""
        key = tuple(cell.neurons)
        if key not in self._activation_fns:
            single, specs, indices, labels = cell_activation(self.zoo.target, self.layers, cell.neurons)
            self._activation_fns[key] = (chunked(single), single, specs, indices, labels)
        return self._activation_fns[key]

    def real_members(self, cell: Cell) -> np.ndarray:
        """Every real image (training and test sets) inside the cell's bands, training images first."""
        key = tuple(cell.neurons)
        if key not in self._real_acts:  # activations of every real image, once per set of neurons
            batched, *_ = self.activation(cell)
            images = np.concatenate([self.train_images, self.test_images])
            self._real_acts[key] = batched(images).reshape(len(images), -1)
        inside = np.flatnonzero(in_band(self._real_acts[key], np.asarray(cell.z1), np.asarray(cell.z2)))
        n_train = len(self.train_images)
        return np.concatenate([self.train_images[inside[inside < n_train]],
                               self.test_images[inside[inside >= n_train] - n_train]])


def forward_over_fwd_bwd(zoo, batch: int = 200, repeats: int = 3) -> float:
    """Measured time of a forward pass (prior, G, target) over that of a forward+backward, same batch, best of 3."""
    def f(z):
        return zoo.target(zoo.generator(zoo.prior(z)))["logits"][0]
    z = jax.random.normal(jax.random.key(0), (batch, zoo.latent_dim))
    forward, both = jax.jit(jax.vmap(f)), jax.jit(jax.vmap(jax.value_and_grad(f)))
    return best_of(forward, z, repeats) / best_of(both, z, repeats)


def best_of(fn, arg, repeats: int = 3) -> float:
    """Seconds of ``fn(arg)``, best of ``repeats`` runs after a first one (compilation and warm-up)."""
    jax.block_until_ready(fn(arg))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg))
        best = min(best, time.perf_counter() - t0)
    return float(best)


def fraction_needed(inside: np.ndarray, n: int, per_unit: int) -> float:
    """Fraction of a run's units (chains' save windows, restarts: ``per_unit`` images each, in order) that produced
    its first n in-band images; 1 if it has fewer."""
    hits = np.flatnonzero(inside)
    if len(hits) < n or n == 0:
        return 1.0
    units = -(-len(inside) // per_unit)
    return (hits[n - 1] // per_unit + 1) / units


def charged(method, res, images, inside, n, per_unit, note) -> Run:
    """A shared baseline run charged for the units it needed for this cell's n in-band samples."""
    frac = fraction_needed(inside, n, per_unit)
    return Run(method, images, gradient=round(frac * res.network_evaluations),
               wall_s=frac * res.wall_time_s, compile_s=res.compile_time_s, inside=inside,
               note=note + (f"; charged {frac:.0%} of the run" if frac < 1 else ""))


def real_reference(ctx: Context, cell: Cell, rng=0) -> tuple[np.ndarray, np.ndarray]:
    """Every real in-band image (training and test sets) in a random order, split in two halves: the `real` row's
    images and the reference the methods are measured against."""
    images = ctx.real_members(cell)
    images = images[np.random.default_rng(rng).permutation(len(images))]
    return images[: len(images) // 2], images[len(images) // 2 :]


def cell_key(cell: Cell, rng: int) -> jax.Array:
    """A random key of its own for each cell (the same every run)."""
    return jax.random.fold_in(jax.random.key(rng), zlib.crc32(cell.name.encode()))


def run_cell(ctx: Context, cell: Cell, budget: Budget, methods: Sequence[str], rng: int = 0,
             shared: dict | None = None, log: Callable = print) -> list[Run]:
    """Run the methods on one cell; returns their runs (membership recomputed from the images).

    ``shared`` caches band-independent runs (PPGN, DGN-AM) per neuron.
    """
    shared = {} if shared is None else shared
    b = ctx.zoo
    batched, single, specs, indices, _ = ctx.activation(cell)
    is_class = cell.kind == "class"
    unit = cell.neurons[0] if is_class else None
    key = cell_key(cell, rng)
    z1, z2 = np.asarray(cell.z1), np.asarray(cell.z2)
    inside_of = lambda images: in_band(batched(images).reshape(len(images), -1), z1, z2) if len(images) else \
        np.zeros(0, bool)
    runs: list[Run] = []
    for method in methods:
        t0 = time.perf_counter()
        if method == "real":
            row, reference = real_reference(ctx, cell, rng)
            run = Run("real", row[: budget.n], note=f"{len(row)} real in-band images (training and test sets; "
                                                    f"{len(reference)} more are the reference)")
        elif method in NAMED:
            try:
                res = sample_inverse_set(list(cell.neurons), list(cell.z1), list(cell.z2), budget.n, models=ctx.zoo,
                                         method=NAMED[method], num_seeds=budget.num_seeds, rng_key=rng)
                s = res.stats
                mass = "" if s.band_mass is None else f", band mass {s.band_mass[0]:.3g} [{s.band_mass[1]:.3g}, " \
                    f"{s.band_mass[2]:.3g}], {s.distinct_ancestors} distinct ancestors, from the {s.population_start}"
                run = Run(method, res.images, forward=s.forward_evaluations, gradient=s.gradient_evaluations,
                          wall_s=s.run_time_s, compile_s=s.compile_time_s,
                          stats={**{k: getattr(s, k) for k in SAMPLER_STATS}, "method_name": s.method,
                                 "method_settings": s.settings},
                          note=f"{s.method}: seed steps {s.seed_steps}, walker steps {s.walker_steps}" + mass)
            except InfeasibleBandError as err:
                run = Run(method, np.zeros((0, 28, 28, 1)), wall_s=time.perf_counter() - t0,
                          note="infeasible: " + str(err).splitlines()[0])
        elif method == "rejection_prior":
            res = rejection(b.generator, single, b.init, z1, z2, 2 * budget.n, max_draws=budget.rejection_max_draws,
                            rng_key=key)
            got = len(res.images)
            run = Run(method, res.images[0::2], forward=res.network_evaluations // 2, wall_s=res.wall_time_s / 2,
                      compile_s=res.compile_time_s, reference=res.images[1::2], draws=res.info["draws"],
                      acceptance_rate=res.info["acceptance_rate"],
                      note=f"acceptance {res.info['acceptance_rate']:.2g} of {res.info['draws']} prior draws; "
                           f"{got} in band, alternately the row and the 'vs prior' reference; charged half")
        elif method == "rejection_real":
            res = rejection_from_pool(b.generator, single, ctx.train_codes, z1, z2, budget.n,
                                      max_draws=budget.rejection_max_draws, rng_key=key)
            run = Run(method, res.images, forward=res.network_evaluations, wall_s=res.wall_time_s,
                      compile_s=res.compile_time_s, draws=res.info["draws"],
                      acceptance_rate=res.info["acceptance_rate"],
                      note=f"acceptance {res.info['acceptance_rate']:.2g} of {res.info['draws']} training codes")
        elif not is_class:
            continue  # the other baselines target one class unit
        elif method == "ppgn":
            if ("ppgn", unit) not in shared:
                logits = lambda x: b.target(x)["logits"]
                shared[("ppgn", unit)] = ppgn(b.generator, b.encoder, logits, unit, b.code_dim, code_low=b.code_min,
                                              code_high=b.code_max, num_chains=budget.ppgn_chains,
                                              num_steps=budget.ppgn_steps, save_every=budget.ppgn_save_every,
                                              rng_key=key)
            res = shared[("ppgn", unit)]
            # step by step over all chains (every chain's first save, then every chain's second, …): the first
            # n in-band samples come from every chain, and the cost charged is the save windows they needed
            saves = budget.ppgn_steps // budget.ppgn_save_every
            images = np.asarray(res.images).reshape(budget.ppgn_chains, saves, *res.images.shape[1:])
            images = images.swapaxes(0, 1).reshape(res.images.shape)
            run = charged("ppgn", res, images, inside_of(images), budget.n, budget.ppgn_chains,
                          f"one run of {budget.ppgn_chains} chains per neuron, samples taken step by step over them")
        elif method == "dgn_am":
            if ("dgn_am", unit) not in shared:
                act = lambda x: b.target(x)["logits"][unit]
                shared[("dgn_am", unit)] = dgn_am(b.generator, act, b.init, budget.dgn_restarts,
                                                  code_upper=b.code_mean + 3 * b.code_std,
                                                  num_steps=budget.dgn_steps, rng_key=key)
            res = shared[("dgn_am", unit)]
            run = charged("dgn_am", res, res.images, inside_of(res.images), budget.n, 1,
                          f"one run of {budget.dgn_restarts} restarts per neuron")
        elif method == "gram_diversity":
            act = lambda x: single(x)[0]
            conv = lambda x: b.target(x)["conv2"]
            res = gram_diversity(b.generator, act, conv, b.init, cell.z1[0], cell.z2[0], budget.gram_n,
                                 batch_size=budget.gram_batch, num_steps=budget.gram_steps, rng_key=key)
            run = Run(method, res.images, gradient=res.network_evaluations, wall_s=res.wall_time_s,
                      compile_s=res.compile_time_s, note="Gram of conv2")
        elif method == "joint":
            problem = Problem(b.generator, b.encoder, make_activation_fn(specs, b.target), 0.0, jnp.inf)
            res = joint(problem, indices, b.init, cell.z1, cell.z2, budget.joint_n,
                        config=SeedConfig(max_steps=budget.joint_steps), rng_key=key)
            run = Run(method, res.images, gradient=res.network_evaluations, wall_s=res.wall_time_s,
                      note=f"eq. 5 with n={budget.joint_n}, {res.info['steps']} steps; not scored (its own n)")
        else:
            raise ValueError(f"unknown method {method!r}; known: {METHODS + OPTIONAL_METHODS}")
        if run.inside is None:
            run.inside = inside_of(np.asarray(run.images))
        runs.append(run)
        log(f"  {cell.name:<28} {method:<15} in band {int(run.inside.sum()):>4}/{len(run.images):<5} "
            f"{run.wall_s:6.1f} s (+{run.compile_s:.1f} s compile)  {run.note}")
    return runs


def class_reference(ctx: Context, cell: Cell) -> np.ndarray:
    """Judge features of every real test image of the cell's class (of all test images for a hidden unit)."""
    if cell.class_index is None:
        return ctx.real_judge
    return ctx.real_judge[ctx.test_labels == cell.class_index]


def score_cell(ctx: Context, cell: Cell, runs: list[Run], budget: Budget, rng: int = 0,
               n_scored: int | None = None) -> list[dict]:
    """Every method's row, all scored on the same ``n_scored`` first in-band samples (see the module docstring).

    ``n_scored`` given (rows added to a stored cell): the cell's own; a method with fewer in band is not scored.
    """
    real_row, reference = real_reference(ctx, cell, rng)
    ref = ctx.judge_features(reference) if len(reference) else np.zeros((0, ctx.real_judge.shape[1]))
    ref_layers = ctx.target_layers(reference) if len(reference) >= MIN_REFERENCE else None
    counts = {r.method: min(int(r.inside.sum()), budget.n) for r in runs}
    floor = budget.min_scored if n_scored is None else max(n_scored, budget.min_scored)
    scored = [m for m, c in counts.items() if c >= floor and m != "joint"]
    if n_scored is None:
        n_scored = min((counts[m] for m in scored), default=0)
    members = {r.method: np.asarray(r.images)[r.inside][:n_scored] for r in runs}
    prior_run = next((r for r in runs if r.method == "rejection_prior"), None)
    prior_ref = None if prior_run is None else prior_run.reference
    prior_ref = ctx.judge_features(prior_ref) if prior_ref is not None and len(prior_ref) >= MIN_REFERENCE else None
    real_layers = ctx.target_layers(members["real"]) if "real" in scored and ref_layers is not None else None
    rows = []
    for run in runs:
        m = counts[run.method]
        n_in = int(run.inside.sum())
        total = run.gradient + ctx.forward_cost * run.forward
        row = dict(cell=cell.name, kind=cell.kind, band=cell.band_name, z1=list(cell.z1), z2=list(cell.z2),
                   method=run.method, n_returned=len(run.images), n_in_band=n_in,
                   in_band_rate=float(run.inside.mean()) if len(run.images) else float("nan"),
                   n_scored=n_scored if run.method in scored else 0, n_reference=len(reference),
                   beyond_data=len(real_row) + len(reference) == 0,
                   forward_evals=run.forward, gradient_evals=run.gradient, cost_total=total,
                   draws=run.draws, acceptance_rate=run.acceptance_rate,
                   wall_s=run.wall_s, compile_s=run.compile_s, note=run.note, **(run.stats or {}))
        row["forward_per_in_band"] = run.forward / m if m else float("nan")
        row["gradient_per_in_band"] = run.gradient / m if m else float("nan")
        row["cost_per_in_band"] = total / m if m else float("nan")  # None in the JSON: no sample for that cost
        row["wall_s_per_in_band"] = run.wall_s / m if m else float("nan")
        if run.method in scored:
            # the real row is the scale of path_similarity (1 by construction), so it gets none
            row.update(measures(ctx, cell, members[run.method], ref, prior_ref, ref_layers,
                                None if run.method == "real" else real_layers, budget, rng))
            fj_all = ctx.judge_features(np.asarray(run.images)[run.inside][: budget.n])
            row["vendi_windows"] = window_vendi(fj_all)
            if len(row["vendi_windows"]) >= 2:
                row["vendi_last_over_first_window"] = row["vendi_windows"][-1] / row["vendi_windows"][0]
        elif run.method != "joint":
            row["note"] += f"; not scored: {n_in} in band, fewer than {floor}"
        rows.append(row)
    for row in rows:
        for key in MEASURES:
            row.setdefault(key, float("nan"))
    return rows


MEASURES = ("vendi_judge", "vendi_encoder", "vendi_quality", "mean_pairwise_distance_judge", "density", "coverage",
            "precision", "recall", "frechet_judge", "judge_agreement", "precision_class", "recall_prior",
            "coverage_prior", "frechet_prior", "path_similarity", "vendi_last_over_first_window")


def measures(ctx, cell, images, ref, prior_ref, ref_layers, real_layers, budget, rng=0) -> dict:
    """Every measure of one method's scored samples (see the module docstring)."""
    fj, fe = ctx.judge_features(images), ctx.encode(images)
    out = {"vendi_judge": metrics.vendi_score(fj + 1e-9), "vendi_encoder": metrics.vendi_score(fe + 1e-9),
           "mean_pairwise_distance_judge": metrics.mean_pairwise_distance(fj)}
    if cell.class_index is not None:
        out["judge_agreement"] = float(np.mean(ctx.judge_logits(images).argmax(-1) == cell.class_index))
    class_member = metrics.precision_membership(class_reference(ctx, cell), fj, k=3)
    out["precision_class"] = float(class_member.mean())
    if len(ref) >= MIN_REFERENCE:
        # Intervals: precision is a mean over the samples, recall and coverage means over the reference, so their
        # per-point terms are resampled; Fréchet resamples the samples, centred (see metrics.bootstrap_interval).
        quality = metrics.precision_membership(ref, fj, k=3)
        terms = {"coverage": metrics.coverage_membership(ref, fj, k=5), "precision": quality,
                 "recall": metrics.recall_membership(ref, fj, k=3)}
        for name, term in terms.items():
            out[name] = float(term.mean())
            out[name + "_ci90"] = list(metrics.bootstrap_interval(np.mean, term, num=budget.bootstrap, rng=rng))
        out["frechet_judge"] = metrics.frechet_distance(fj, ref)
        out["frechet_judge_ci90"] = list(metrics.bootstrap_interval(
            lambda s: metrics.frechet_distance(s, ref), fj, num=budget.bootstrap, rng=rng, centred=True))
        out["density"] = metrics.density_coverage(ref, fj, k=5)[0]
    else:
        quality = class_member  # beyond the data: realism against all real images of the class
    out["vendi_quality"] = metrics.quality_vendi(fj + 1e-9, quality)
    if prior_ref is not None:
        out["recall_prior"] = float(metrics.recall_membership(prior_ref, fj, k=3).mean())
        out["coverage_prior"] = float(metrics.coverage_membership(prior_ref, fj, k=5).mean())
        out["frechet_prior"] = metrics.frechet_distance(fj, prior_ref)
    if real_layers is not None:
        out["path_similarity"], out["path_similarity_layers"] = metrics.path_similarity(
            ctx.target_layers(images), real_layers, ref_layers)
    return out


def window_vendi(features, window: int = WINDOW) -> list[float]:
    """Judge-space Vendi score of each run of ``window`` consecutive samples (1–100, 101–200, …), in order."""
    return [metrics.vendi_score(features[i : i + window] + 1e-9) for i in range(0, len(features) - window + 1, window)]


def level_band(values, level: str) -> tuple[float, float]:
    """A band of width half the IQR of ``values``, centred on their percentile ``level`` ("p95"), or for ``"max+"``
    above their maximum (from max + half a width to max + 1.5 widths): beyond the data."""
    values = np.asarray(values, np.float64)
    half_width = (np.percentile(values, 75) - np.percentile(values, 25)) / 4
    centre = values.max() + 2 * half_width if level == "max+" else np.percentile(values, float(level[1:]))
    return float(centre - half_width), float(centre + half_width)


def class_cells(stats, classes: Sequence[int], bands: Sequence[str]) -> list[Cell]:
    """Bands of the class's own test-image logits by :func:`level_band`'s rule (from the zoo's stats)."""
    cells = []
    for c in classes:
        s = stats["logits_by_class"][str(c)]
        half_width = (s["p75"] - s["p25"]) / 4
        for name in bands:
            centre = s["max"] + 2 * half_width if name == "max+" else s[name]
            cells.append(Cell(f"{stats['class_names'][c]} {name}", (c,), (centre - half_width,),
                              (centre + half_width,), c, "class", name))
    return cells


def extra_cells(ctx: Context, levels: Sequence[str] = LEVELS) -> list[Cell]:
    """Two intersections and two hidden units, each at every level, by :func:`level_band` on test images.

    Intersections (each constraint at the same level of its distribution over the class's images): Pullover ∧ Coat
    logits over Pullover images; the fc6 unit most active on Sneakers ∧ the Sneaker logit over Sneaker images.
    Hidden units (over all test images): the most variable fc6 unit; the most variable conv2 channel's spatial mean.
    """
    names = ctx.zoo.class_names
    logits = chunked(lambda x: ctx.zoo.target(x)["logits"])(ctx.test_images)
    fc6, labels = ctx.real_encoder, ctx.test_labels
    u = int(np.argmax(fc6[labels == 7].mean(0) - fc6.mean(0)))
    v = int(np.argmax(fc6.std(0)))
    conv = chunked(lambda x: jnp.mean(ctx.zoo.target(x)["conv2"], axis=(0, 1)))(ctx.test_images)
    ch = int(np.argmax(conv.std(0)))
    specs = [("Pullover ∧ Coat", (2, 4), (logits[labels == 2][:, 2], logits[labels == 2][:, 4]), 2, "intersection"),
             (f"fc6[{u}] ∧ {names[7]}", (Unit("fc6", u), 7), (fc6[labels == 7][:, u], logits[labels == 7][:, 7]), 7,
              "intersection"),
             (f"fc6[{v}]", (Unit("fc6", v),), (fc6[:, v],), None, "hidden"),
             (f"mean conv2[:,:,{ch}]", (Unit("conv2", ch),), (conv[:, ch],), None, "hidden")]
    cells = []
    for name, neurons, distributions, class_index, kind in specs:
        for level in levels:
            bands = [level_band(d, level) for d in distributions]
            cells.append(Cell(f"{name} {level}", neurons, tuple(lo for lo, _ in bands), tuple(hi for _, hi in bands),
                              class_index, kind, level))
    return cells


def dev_cells(stats) -> list[Cell]:
    """The cells the defaults were chosen on (:data:`DEV_CELLS`)."""
    return [class_cells(stats, [c], [band])[0] for c, band in DEV_CELLS]


def split_of(cell: Cell, dev: Sequence[Cell]) -> str:
    """``"dev"`` for a cell whose bands overlap those of a dev cell of the same neurons, else ``"report"``."""
    overlaps = lambda a, b: all(lo < hi_ and lo_ < hi for lo, hi, lo_, hi_ in zip(a.z1, a.z2, b.z1, b.z2))
    return "dev" if any(d.neurons == cell.neurons and overlaps(d, cell) for d in dev) else "report"


def block_rank(kind: str, band: str, method: str) -> tuple:
    """Table order: class neurons, intersections, hidden units; p50 to max+; the methods as in METHODS."""
    kinds, methods = ("class", "intersection", "hidden"), METHODS + OPTIONAL_METHODS
    index = lambda seq, x: seq.index(x) if x in seq else len(seq)
    return index(kinds, kind), index(LEVELS, band), band, index(methods, method), method


def summary_table(rows: list[dict], keys=("n_scored", "in_band_rate", "coverage", "precision", "recall",
                                           "frechet_judge", "recall_prior", "frechet_prior", "precision_class",
                                           "vendi_judge",
                                           "vendi_quality", "judge_agreement", "path_similarity", "cost_per_in_band",
                                           "wall_s")) -> str:
    """Markdown: per (kind, band, method), the median over cells of every measure and the cells it is over."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["kind"], r["band"], r["method"]), []).append(r)
    head = "| kind | band | method | cells | cells not scored | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (5 + len(keys))]
    for (kind, band, method), rs in sorted(groups.items(), key=lambda g: block_rank(*g[0])):
        cols = []
        for k in keys:
            v = np.array([np.nan if r.get(k) is None else r[k] for r in rs], float)
            v = v[np.isfinite(v)]
            cols.append("–" if v.size == 0 else f"{np.median(v):.3g}")
        unscored = sum(1 for r in rs if not r["n_scored"])
        lines.append(f"| {kind} | {band} | {method} | {len(rs)} | {unscored} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


RATIO_KEYS = ("recall_prior", "coverage_prior", "frechet_prior")


def ideal_ratios(rows: list[dict]) -> str:
    """Markdown: per band and method, the median over cells of the method's figure over ``rejection_prior``'s (the
    ideal sampler of the default's target: independent draws from the same prior, scored the same way)."""
    by_cell: dict = {}
    for r in rows:
        by_cell.setdefault(r["cell"], {})[r["method"]] = r
    groups: dict = {}
    for methods in by_cell.values():
        ideal = methods.get("rejection_prior")
        if not ideal or not ideal["n_scored"]:
            continue
        for method, r in methods.items():
            if method == "rejection_prior" or not r["n_scored"]:
                continue
            ratios = [r[k] / ideal[k] if r.get(k) is not None and ideal.get(k) else None for k in RATIO_KEYS]
            groups.setdefault((r["kind"], r["band"], method), []).append(ratios)
    lines = ["| kind | band | method | cells | " + " | ".join(f"{k} ÷ ideal" for k in RATIO_KEYS) + " |",
             "|" + "---|" * (4 + len(RATIO_KEYS))]
    for (kind, band, method), ratios in sorted(groups.items(), key=lambda g: block_rank(*g[0])):
        cols = []
        for j in range(len(RATIO_KEYS)):
            v = [x[j] for x in ratios if x[j] is not None]
            cols.append(f"{np.median(v):.2f}" if v else "–")
        lines.append(f"| {kind} | {band} | {method} | {len(ratios)} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def write_page(out: str, title: str, script: str, argv, description: str, lines: list[str]) -> None:
    """A results page: the title, the command that made it (as typed), the machine, what it measures, the table."""
    command = f"python {script} " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = [f"# {title}\n", f"Command: `{command}`  ", f"Machine: {machine()}\n", description + "\n", *lines]
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as fh:
        fh.write("\n".join(text) + "\n")
    print(f"wrote {out}")


def as_json(rows):
    def clean(v):
        if isinstance(v, float):
            return v if np.isfinite(v) else None
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (np.bool_, np.integer, np.floating)):
            return clean(v.item())
        return v
    return [{k: clean(v) for k, v in r.items()} for r in rows]


__all__ = [
    "DEV_CELLS",
    "LEVELS",
    "METHODS",
    "Budget",
    "Cell",
    "Context",
    "Run",
    "adaptations",
    "as_json",
    "best_of",
    "class_cells",
    "dev_cells",
    "extra_cells",
    "ideal_ratios",
    "level_band",
    "machine",
    "measures",
    "real_reference",
    "run_cell",
    "score_cell",
    "split_of",
    "summary_table",
    "window_vendi",
    "write_page",
]
