"""Sampler variants on the bundled models, measured like the diversity benchmark; the bundled defaults come from here.

Each variant samples n points of a class neuron's band and is measured in the
judge's feature space against half of the real in-band images (the other half
is the `real` row): in-band rate, Vendi, coverage, precision, recall,
judge agreement, Fréchet distance, the Vendi of the last window of 100 samples
over the first's, and the cost (network evaluations — forward and backward —
and forward-only evaluations per sample).

Each variant is a method (:mod:`inverse_set.methods`) in one of two spaces.
*code*: the paper's — the search variable is G's fc6 code. *prior*: the codes
are drawn through the code prior, c = relu(T⁻¹(z)) with z ~ N(0, I), so the
sampler works on z.

    python benchmarks/variants.py [--cells 8:p50,7:p95,6:p50,3:p95] [--n 500] [--only 'NAME;…']
                                  [--out benchmarks/results/variants.md]
"""

from __future__ import annotations

import argparse
import time

import harness as bm

from inverse_set import EllipticalSliceWalk, GradientWalk, Objective, SeedConfig, get_method, initialization
from inverse_set import sample_inverse_set


def variants(ctx) -> dict:
    """name -> (Models, method)."""
    zoo = ctx.zoo
    noise = initialization.encoded_noise(zoo.encoder, (28, 28, 1))
    paper, slice_ = get_method("paper"), get_method("prior-slice")
    realism = Objective(realism_weight=10.0)
    previous = paper.replace(name="paper+realism", objective=realism, walk=GradientWalk(step_size=0.3))
    prior_gradient = slice_.replace(name="prior-gradient", walk=GradientWalk(step_size=0.3))
    return {
        "code: paper (noise init)": (zoo.replace(init=noise), paper.replace(seeds=SeedConfig(candidates_per_seed=1))),
        "code: realism 10, β 0.3 (the previous default)": (zoo, previous),
        "code: realism 10, β 0.3, rbf from all kept": (zoo, previous.replace(
            objective=Objective(realism_weight=10.0, repulsion="rbf"), walk=GradientWalk(step_size=0.3,
                                                                                         repel_from="all"))),
        "code: + realism bound τ": (zoo.replace(realism_bound=ctx.realism_tau), previous),
        "prior: gradient walker, prior term": (zoo, prior_gradient),
        "prior: gradient walker, prior term, rbf from all kept": (zoo, prior_gradient.replace(
            objective=Objective(prior_weight=1.0, repulsion="rbf"), walk=GradientWalk(step_size=0.3,
                                                                                      repel_from="all"))),
        "prior: elliptical slice walk, seeds: 'alive' of 4 candidates": (zoo, slice_.replace(seeds=SeedConfig())),
        "prior: elliptical slice walk, σ 0.8": (zoo, slice_.replace(walk=EllipticalSliceWalk(prior_scale=0.8))),
        "prior: slice walk, seeds: nearest 10 of 160 candidates": (zoo, slice_.replace(
            seeds=SeedConfig(select="nearest", candidates_per_seed=16))),
        "prior: slice walk, seeds: spread among the 30 nearest of 160": (zoo, slice_),
        "default (generators.load('fashion'))": (zoo, None),
    }


KEYS = ["vendi_judge", "coverage", "precision", "recall", "judge_agreement", "frechet_judge",
        "vendi_last_over_first_window"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default=",".join(f"{c}:{band}" for c, band in bm.DEV_CELLS),
                        help="class:band, comma separated (default: the dev split, harness.DEV_CELLS, which the "
                             "diversity benchmark's headline leaves out)")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--only", default="", help="variant names separated by ';' (default: all)")
    parser.add_argument("--out", default="benchmarks/results/variants.md")
    args = parser.parse_args(argv)
    ctx = bm.Context(max_train=5000)
    table = variants(ctx)
    if args.only:
        unknown = [name for name in args.only.split(";") if name not in table]
        if unknown:
            parser.error(f"unknown variants {unknown}; known: {list(table)}")
        table = {name: table[name] for name in args.only.split(";")}
    lines = ["| cell | variant | in-band | " + " | ".join(KEYS) + " | evals/sample | fwd evals/sample | seed steps "
             "| walker steps | s |", "|" + "---|" * (len(KEYS) + 8)]
    fmt = lambda v: "–" if v != v else f"{v:.3g}"  # noqa: E731
    for spec in args.cells.split(","):
        c, band = spec.split(":")
        cell = bm.class_cells(ctx.zoo.stats, [int(c)], [band])[0]
        real_row, _ = bm.real_reference(ctx, cell)
        row = bm.measure_images(ctx, cell, real_row[: args.n])
        lines.append(f"| {cell.name} | real | {row['n_in_band']} | " + " | ".join(fmt(row[k]) for k in KEYS)
                     + " | | | | | |")
        print(lines[-1], flush=True)
        for name, (models, method) in table.items():
            t0 = time.perf_counter()
            try:
                res = sample_inverse_set(cell.neurons[0], cell.z1[0], cell.z2[0], args.n, models=models,
                                         method=method, rng_key=0)
            except Exception as err:  # noqa: BLE001 — a variant that fails is a row of the table
                lines.append(f"| {cell.name} | {name} | failed: {type(err).__name__}: {str(err).splitlines()[0]} |")
                print(lines[-1], flush=True)
                continue
            wall = time.perf_counter() - t0
            row = bm.measure_images(ctx, cell, res.images)
            s = res.stats
            lines.append(f"| {cell.name} | {name} | {row['n_in_band']}/{row['n_returned']} | "
                         + " | ".join(fmt(row[k]) for k in KEYS)
                         + f" | {s.gradient_evaluations / max(len(res), 1):.2f} | "
                           f"{s.forward_evaluations / max(len(res), 1):.2f} | {s.seed_steps} | {s.walker_steps} | "
                           f"{wall:.0f} |")
            print(lines[-1], flush=True)
    bm.write_page(args.out, f"Sampler variants (n = {args.n})", "benchmarks/variants.py", argv,
                  "Judge-space measures against half of the real in-band images (training and test sets); `real` is "
                  "the other half. "
                  "`vendi_last_over_first_window`: Vendi of the last 100 samples over that of the first 100. "
                  "evals/sample: forward+backward network evaluations per sample; fwd evals/sample: forward-only "
                  f"ones (the slice walk's proposals). Realism bound: τ = {ctx.realism_tau:.3g}, the 90th percentile "
                  "of r(c) = mean((E(G(c)) − c)²) on codes of real training images.", lines)

if __name__ == "__main__":
    main()
