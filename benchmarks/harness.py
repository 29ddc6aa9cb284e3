"""The diversity benchmark: run each method on a (neurons, band) cell and measure its samples.

Measures (see :mod:`inverse_set.metrics`) are taken in the judge network's
penultimate feature space, a space the sampler never sees; encoder-space Vendi is
reported beside it, labelled. Membership is recomputed from the returned images.
Diversity is measured on the *in-band* samples (the members of the inverse set);
coverage, density and precision against real test images in the band (one half
of them; the other half is measured the same way as the "real" row), judge
agreement with the neuron's class, and a Fréchet distance in judge space.
Cost is network evaluations per in-band sample.

``benchmarks/diversity.py`` is the command line; tests run a reduced version
(the scripts of this folder and the tests import this module as ``harness``).
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import generators
from inverse_set import GradientWalk, InfeasibleBandError, Objective, SeedConfig, Unit, get_method, metrics, sample_inverse_set
from inverse_set.baselines import dgn_am, gram_diversity, joint, ppgn, rejection
from inverse_set.chunks import chunked
from inverse_set.cli import machine
from inverse_set.bands import in_band
from inverse_set.constraints import as_layer_dict, make_activation_fn, resolve
from inverse_set.problem import Problem

METHODS = ("ours", "ours_realism", "ppgn", "dgn_am", "gram_diversity", "rejection", "joint", "real")
WINDOW = 100  # samples per window of the diversity-along-the-walk measure


@dataclass(frozen=True)
class Budget:
    """Sizes of every method's run (defaults: the full benchmark)."""

    n: int = 500
    num_seeds: int = 10
    ppgn_chains: int = 10
    ppgn_save_every: int = 5
    dgn_steps: int = 200
    gram_steps: int = 512
    gram_batch: int = 10
    rejection_max_draws: int = 60_000
    joint_n: int = 100
    joint_steps: int = 2000

    @property
    def ppgn_steps(self) -> int:
        """Steps per chain so that chains × steps / save_every = n samples."""
        return -(-self.n // self.ppgn_chains) * self.ppgn_save_every


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


# The code-space method of the `ours_realism` rows: the paper's with a realism term (ρ = 10) and β = 0.3, the
# settings benchmarks/variants.py chose for the generator's code space.
PAPER_WITH_REALISM = get_method("paper").replace(name="paper+realism", objective=Objective(realism_weight=10.0),
                                                 walk=GradientWalk(step_size=0.3))


class Context:
    """The bundled models, batched, and the real test images' features and activations."""

    def __init__(self, test_images=None, test_labels=None, train_images=None, max_train=20_000, zoo=None):
        self.zoo = zoo if zoo is not None else generators.load("fashion")
        b = self.zoo  # the baselines and the prior of rejection sampling work on the generator's fc6 codes
        if test_images is None:
            test_images, test_labels = generators.load_fashion_mnist("test")
        self.test_images, self.test_labels = np.asarray(test_images), np.asarray(test_labels)
        if train_images is None:
            train_images, _ = generators.load_fashion_mnist("train")
        self.judge_features = chunked(b.judge_features)
        self.judge_logits = chunked(b.judge_logits)
        self.encode = chunked(b.encoder)
        self.real_judge = self.judge_features(self.test_images)
        self.real_encoder = self.encode(self.test_images)
        self.layers = {k: tuple(v.shape) for k, v in jax.eval_shape(
            lambda x: dict(as_layer_dict(b.target(x))), jax.ShapeDtypeStruct((28, 28, 1), jnp.float32)).items()}
        # The DGN generator's prior: codes of random real (training) images.
        self.train_codes = jnp.asarray(self.encode(np.asarray(train_images)[:max_train]))
        # τ of the `ours_realism` rows: the 90th percentile of r(c) = mean((E(G(c)) − c)²) on real codes.
        codes = np.asarray(self.train_codes[:5000])
        residual = np.mean((self.encode(chunked(b.generator)(codes)) - codes) ** 2, axis=1)
        self.realism_tau = float(np.percentile(residual, 90))
        self._activation_fns = {}

    def activation(self, cell: Cell):
        """Batched ``images -> (m, p)`` activations of the cell's constraints, plus the traced pieces."""
        key = tuple(cell.neurons)
        if key not in self._activation_fns:
            specs, indices, labels = resolve(list(cell.neurons), self.layers)
            f = make_activation_fn(specs, self.zoo.target)
            single = lambda x: f(x, indices)  # noqa: E731
            self._activation_fns[key] = (chunked(single), single, specs, indices, labels)
        return self._activation_fns[key]

    def draw_prior(self, key):
        i = jax.random.randint(key, (), 0, self.train_codes.shape[0])
        return self.train_codes[i]


def measure(ctx: Context, cell: Cell, method: str, images, evaluations, wall, reference, note="") -> dict:
    """Every measure of one method's samples on one cell."""
    z1, z2 = np.asarray(cell.z1, np.float32), np.asarray(cell.z2, np.float32)
    batched, *_ = ctx.activation(cell)
    images = np.asarray(images)
    n = len(images)
    acts = batched(images).reshape(n, -1) if n else np.zeros((0, len(z1)))
    inside = in_band(acts, z1, z2) if n else np.zeros((0,), bool)
    member = images[inside]
    row = dict(cell=cell.name, kind=cell.kind, band=cell.band_name, z1=cell.z1, z2=cell.z2, method=method,
               n_returned=n, n_in_band=int(inside.sum()), in_band_rate=float(inside.mean()) if n else float("nan"),
               evals_per_in_band=float(evaluations / inside.sum()) if inside.sum() else float("inf"),
               wall_s=float(wall), note=note)
    nan = float("nan")
    ref_j, ref_e = reference
    if len(member) >= 2:
        fj, fe = ctx.judge_features(member), ctx.encode(member)
        row["vendi_judge"] = metrics.vendi_score(fj + 1e-9)
        row["vendi_encoder"] = metrics.vendi_score(fe + 1e-9)
        row["mean_pairwise_distance_judge"] = metrics.mean_pairwise_distance(fj)
        if len(ref_j) > 5:
            row["density"], row["coverage"] = metrics.density_coverage(ref_j, fj, k=5)
        if len(ref_j) > 3 and len(member) > 3:
            row["precision"], row["recall"] = metrics.precision_recall(ref_j, fj, k=3)
        if len(ref_j) >= 2:
            row["frechet_judge"] = metrics.frechet_distance(fj, ref_j)
        if cell.class_index is not None:
            row["judge_agreement"] = float(np.mean(ctx.judge_logits(member).argmax(-1) == cell.class_index))
        row["vendi_windows"] = window_vendi(fj)
        if len(row["vendi_windows"]) >= 2:
            row["vendi_last_over_first_window"] = row["vendi_windows"][-1] / row["vendi_windows"][0]
    for key in ("vendi_judge", "vendi_encoder", "mean_pairwise_distance_judge", "density", "coverage",
                "precision", "recall", "frechet_judge", "judge_agreement", "vendi_last_over_first_window"):
        row.setdefault(key, nan)
    return row


def window_vendi(features, window: int = WINDOW) -> list[float]:
    """Judge-space Vendi score of each run of ``window`` consecutive samples (1–100, 101–200, …), in order."""
    return [metrics.vendi_score(features[i : i + window] + 1e-9) for i in range(0, len(features) - window + 1, window)]


def growth(ctx: Context, images, reference, sizes=(100, 500, 2000)) -> dict:
    """Coverage and recall of the first m samples, for each m in ``sizes`` (≤ the number of samples)."""
    fj = ctx.judge_features(np.asarray(images))
    out = {}
    for m in sizes:
        if m <= len(fj) and len(reference) > 5:
            out[m] = {"coverage": metrics.density_coverage(reference, fj[:m], k=5)[1],
                      "recall": metrics.precision_recall(reference, fj[:m], k=3)[1]}
    return out


def real_reference(ctx: Context, cell: Cell, rng=0):
    """Real test images inside the cell's bands, split in two halves (A: measured row, B: reference)."""
    batched, *_ = ctx.activation(cell)
    acts = batched(ctx.test_images).reshape(len(ctx.test_images), -1)
    inside = np.flatnonzero(in_band(acts, np.asarray(cell.z1), np.asarray(cell.z2)))
    perm = np.random.default_rng(rng).permutation(inside)
    half_a, half_b = perm[: len(perm) // 2], perm[len(perm) // 2 :]
    return half_a, half_b


def run_cell(ctx: Context, cell: Cell, budget: Budget, methods: Sequence[str], rng: int = 0,
             shared: dict | None = None, log: Callable = print):
    """Run the methods on one cell; returns (rows, {method: images}).

    ``shared`` caches band-independent runs (PPGN, DGN-AM) per neuron.
    """
    shared = {} if shared is None else shared
    b = ctx.zoo
    batched, single, specs, indices, labels = ctx.activation(cell)
    half_a, half_b = real_reference(ctx, cell, rng)
    reference = (ctx.real_judge[half_b], ctx.real_encoder[half_b])
    rows, samples = [], {}
    is_class = cell.kind == "class"
    unit = cell.neurons[0] if is_class else None
    key = jax.random.key(rng)

    def record(method, images, evals, wall, note=""):
        rows.append(measure(ctx, cell, method, images, evals, wall, reference, note))
        samples[method] = np.asarray(images)
        r = rows[-1]
        log(f"  {cell.name:<28} {method:<15} in-band {r['n_in_band']:>4}/{r['n_returned']:<4} "
            f"vendi(judge) {r['vendi_judge']:6.2f} coverage {r['coverage']:.2f} agree {r['judge_agreement']:.2f} "
            f"evals/sample {r['evals_per_in_band']:9.1f} {wall:6.1f}s")

    for method in methods:
        t0 = time.perf_counter()
        if method == "real":
            record("real", ctx.test_images[half_a], 0, 0.0, f"{len(half_a)} real in-band test images (half A)")
        elif method in ("ours", "ours_realism"):
            tau = ctx.realism_tau if method == "ours_realism" else None
            try:
                method_ = PAPER_WITH_REALISM if tau is not None else None  # the realism bound lives in code space
                res = sample_inverse_set(list(cell.neurons), list(cell.z1), list(cell.z2), budget.n, models=ctx.zoo,
                                         method=method_, num_seeds=budget.num_seeds, realism_bound=tau, rng_key=rng)
                # Forward-only evaluations (the slice walk's) are counted as whole ones: an upper bound.
                evaluations = res.stats.gradient_evaluations + res.stats.forward_evaluations
                record(method, res.images, evaluations, time.perf_counter() - t0,
                       f"seed steps {res.stats.seed_steps}, walker steps {res.stats.walker_steps}"
                       + ("" if tau is None else f", realism r ≤ {tau:.3g}"))
            except InfeasibleBandError as err:
                record(method, np.zeros((0, 28, 28, 1)), 0, time.perf_counter() - t0,
                       "infeasible: " + str(err).splitlines()[0])
        elif method == "rejection":
            res = rejection(b.generator, single, ctx.draw_prior, np.asarray(cell.z1), np.asarray(cell.z2), budget.n,
                            max_draws=budget.rejection_max_draws, rng_key=key)
            record("rejection", res.images, res.network_evaluations, time.perf_counter() - t0,
                   f"acceptance {res.info['acceptance_rate']:.4f} of {res.info['draws']} prior draws")
        elif not is_class:
            continue  # the other baselines target one class unit
        elif method == "ppgn":
            if ("ppgn", unit) not in shared:
                logits = lambda x: b.target(x)["logits"]  # noqa: E731
                shared[("ppgn", unit)] = ppgn(b.generator, b.encoder, logits, unit, b.code_dim, code_low=b.code_min,
                                              code_high=b.code_max, num_chains=budget.ppgn_chains,
                                              num_steps=budget.ppgn_steps, save_every=budget.ppgn_save_every,
                                              rng_key=key)
            res = shared[("ppgn", unit)]
            record("ppgn", res.images, res.network_evaluations, res.wall_time_s, "one run per neuron, all bands")
        elif method == "dgn_am":
            if ("dgn_am", unit) not in shared:
                act = lambda x: b.target(x)["logits"][unit]  # noqa: E731
                shared[("dgn_am", unit)] = dgn_am(b.generator, act, b.init, budget.n,
                                                  code_upper=b.code_mean + 3 * b.code_std,
                                                  num_steps=budget.dgn_steps, rng_key=key)
            res = shared[("dgn_am", unit)]
            record("dgn_am", res.images, res.network_evaluations, res.wall_time_s, "one run per neuron, all bands")
        elif method == "gram_diversity":
            act = lambda x: single(x)[0]  # noqa: E731
            conv = lambda x: b.target(x)["conv2"]  # noqa: E731
            res = gram_diversity(b.generator, act, conv, b.init, cell.z1[0], cell.z2[0], budget.n,
                                 batch_size=budget.gram_batch, num_steps=budget.gram_steps, rng_key=key)
            record("gram_diversity", res.images, res.network_evaluations, res.wall_time_s, "Gram of conv2")
        elif method == "joint":
            problem = Problem(b.generator, b.encoder, make_activation_fn(specs, b.target), 0.0, jnp.inf)
            res = joint(problem, indices, b.init, cell.z1, cell.z2, budget.joint_n,
                        config=SeedConfig(max_steps=budget.joint_steps), rng_key=key)
            record("joint", res.images, res.network_evaluations, res.wall_time_s,
                   f"eq. 5 with n={budget.joint_n}, {res.info['steps']} steps")
    return rows, samples


def class_cells(stats, classes: Sequence[int], bands: Sequence[str]) -> list[Cell]:
    """Bands centred on percentiles of the class's own test-image logits, width half the IQR.

    The band ``"max+"`` lies above the highest logit of any test image of the class
    (from max + half a width to max + 1.5 widths): beyond the data, with no real member.
    """
    cells = []
    for c in classes:
        s = stats["logits_by_class"][str(c)]
        half_width = (s["p75"] - s["p25"]) / 4
        for name in bands:
            centre = s["max"] + 2 * half_width if name == "max+" else s[name]
            cells.append(Cell(f"{stats['class_names'][c]} {name}", (c,), (centre - half_width,),
                              (centre + half_width,), c, "class", name))
    return cells


def extra_cells(ctx: Context) -> list[Cell]:
    """Two intersections (two class neurons; an fc6 unit with a class neuron) and two hidden units.

    Bands come from real test images so that each cell has real members to compare with.
    """
    names = ctx.zoo.class_names
    logits = chunked(lambda x: ctx.zoo.target(x)["logits"])(ctx.test_images)
    fc6 = ctx.real_encoder
    labels = ctx.test_labels
    cells = []
    # Pullover (2) ∧ Coat (4): Pullover images' Pullover logit mid band, and their Coat logit upper half.
    a, c2 = logits[labels == 2][:, 2], logits[labels == 2][:, 4]
    cells.append(Cell("Pullover ∧ Coat", (2, 4), (float(np.percentile(a, 25)), float(np.percentile(c2, 50))),
                      (float(np.percentile(a, 75)), float(np.percentile(c2, 95))), 2, "intersection", "real"))
    # The fc6 unit most active on Sneakers (7) ∧ the Sneaker logit.
    u = int(np.argmax(fc6[labels == 7].mean(0) - fc6.mean(0)))
    f7 = fc6[labels == 7][:, u]
    l7 = logits[labels == 7][:, 7]
    cells.append(Cell(f"fc6[{u}] ∧ {names[7]}", (Unit("fc6", u), 7),
                      (float(np.percentile(f7, 50)), float(np.percentile(l7, 25))),
                      (float(np.percentile(f7, 95)), float(np.percentile(l7, 75))), 7, "intersection", "real"))
    # Two hidden units: the most variable fc6 unit at its 90–99th percentile, a conv2 channel (mean) likewise.
    v = int(np.argmax(fc6.std(0)))
    cells.append(Cell(f"fc6[{v}]", (Unit("fc6", v),), (float(np.percentile(fc6[:, v], 90)),),
                      (float(np.percentile(fc6[:, v], 99)),), None, "hidden", "p90–p99"))
    conv = chunked(lambda x: jnp.mean(ctx.zoo.target(x)["conv2"], axis=(0, 1)))(ctx.test_images)
    ch = int(np.argmax(conv.std(0)))
    cells.append(Cell(f"mean conv2[:,:,{ch}]", (Unit("conv2", ch),), (float(np.percentile(conv[:, ch], 90)),),
                      (float(np.percentile(conv[:, ch], 99)),), None, "hidden", "p90–p99"))
    return cells


def summary_table(rows: list[dict], keys=("in_band_rate", "vendi_judge", "vendi_encoder", "coverage", "density",
                                           "precision", "judge_agreement", "frechet_judge", "evals_per_in_band",
                                           "wall_s")) -> str:
    """Markdown: per (kind, band, method), mean ± std over cells of every measure (NaN-aware)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["kind"], r["band"], r["method"]), []).append(r)
    head = "| kind | band | method | cells | cells with no in-band sample | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (5 + len(keys))]
    blocks = list(dict.fromkeys((kind, band) for kind, band, _ in groups))  # in order of appearance
    rank = lambda g: (blocks.index(g[0][:2]), METHODS.index(g[0][2]) if g[0][2] in METHODS else len(METHODS))  # noqa: E731
    for (kind, band, method), rs in sorted(groups.items(), key=rank):
        cols = []
        for k in keys:
            v = np.array([np.nan if r[k] is None else r[k] for r in rs], float)
            v = v[np.isfinite(v)]
            cols.append("–" if v.size == 0 else (f"{v.mean():.3g}" if v.size == 1 else f"{v.mean():.3g} ± {v.std():.2g}"))
        empty = sum(1 for r in rs if not r["n_in_band"])
        lines.append(f"| {kind} | {band} | {method} | {len(rs)} | {empty} | " + " | ".join(cols) + " |")
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
    return [{k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in r.items()} for r in rows]


__all__ = ["Budget", "Cell", "Context", "METHODS", "as_json", "class_cells", "extra_cells", "growth", "machine",
           "measure", "real_reference", "run_cell", "summary_table", "window_vendi", "write_page"]
