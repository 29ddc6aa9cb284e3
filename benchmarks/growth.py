"""Coverage and recall as n grows (n = 100, 500, 2000), ours against rejection sampling, and Vendi per window.

For each cell, our sampler (the bundled defaults) and rejection sampling — from
the prior the default samples (``rejection_prior``, its exact target) and from the
codes of real training images through the same G, each code at most once
(``rejection_real``) — each draw up to n = 2000 in-band samples; coverage and
recall of the first m (m = 100, 500, 2000) are measured against half of the real
in-band images, in the judge's feature space. The judge-space Vendi score of
each window of 100 consecutive samples shows whether the walk keeps finding new
kinds of images.

    python benchmarks/growth.py [--cells 8:p50,7:p95,6:p50,3:p95] [--n 2000]
                                [--out benchmarks/results/growth.md]
"""

from __future__ import annotations

import argparse
import time

import harness as bm
import jax
import numpy as np

from inverse_set import sample_inverse_set
from inverse_set.baselines import rejection, rejection_from_pool

SIZES = (100, 500, 2000)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default=",".join(f"{c}:{b}" for c, b in bm.DEV_CELLS[:4]),
                        help="class:band, comma separated (default: dev cells, harness.DEV_CELLS)")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", default="benchmarks/results/growth.md")
    args = parser.parse_args(argv)
    ctx = bm.Context(max_train=60_000)
    lines = ["| cell | method | samples | " + " | ".join(f"coverage@{m} | recall@{m}" for m in SIZES)
             + " | Vendi per window of 100 | s |", "|" + "---|" * (5 + 2 * len(SIZES))]
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    for spec in args.cells.split(","):
        c, band = spec.split(":")
        cell = bm.class_cells(ctx.zoo.stats, [int(c)], [band])[0]
        _, reference = bm.real_reference(ctx, cell)
        reference = ctx.judge_features(reference)
        _, single, *_ = ctx.activation(cell)
        for method in ("ours", "rejection_prior", "rejection_real"):
            t0 = time.perf_counter()
            if method == "ours":
                images = sample_inverse_set(cell.neurons[0], cell.z1[0], cell.z2[0], args.n, models=ctx.zoo,
                                            rng_key=0).images
            elif method == "rejection_prior":
                images = rejection(ctx.zoo.generator, single, ctx.zoo.init, np.asarray(cell.z1),
                                   np.asarray(cell.z2), args.n, max_draws=60_000, rng_key=jax.random.key(0)).images
            else:
                images = rejection_from_pool(ctx.zoo.generator, single, ctx.train_codes, np.asarray(cell.z1),
                                             np.asarray(cell.z2), args.n, rng_key=jax.random.key(0)).images
            wall = time.perf_counter() - t0
            grown = bm.growth(ctx, images, reference, SIZES)
            windows = bm.window_vendi(ctx.judge_features(np.asarray(images)))
            cells = " | ".join(f"{fmt(grown.get(m, {}).get('coverage'))} | {fmt(grown.get(m, {}).get('recall'))}"
                               for m in SIZES)
            lines.append(f"| {cell.name} | {method} | {len(images)} | {cells} | "
                         + " ".join(f"{v:.2f}" for v in windows) + f" | {wall:.0f} |")
            print(lines[-1], flush=True)
    bm.write_page(args.out, "Coverage and recall as n grows", "benchmarks/growth.py", argv,
                  "Judge-space coverage (k = 5) and recall (k = 3) of the first m samples against half of the real "
                  "in-band images (training and test sets); rejection_prior draws at most 60,000 codes from the prior "
                  "the default samples, rejection_real at most the 60,000 codes of real training images (each once), "
                  "so either may return "
                  "fewer than n. Vendi per window: samples 1–100, 101–200, ….",
                  lines)

if __name__ == "__main__":
    main()
