"""Walker and seed variants on the bundled models, measured like the diversity benchmark.

Each variant samples n points of a class neuron's p50 band and is measured in the
judge's feature space against half of the real in-band test images (the other
half is the `real` row). The package's defaults for the bundled models were
chosen from this table (benchmarks/results/variants.md).

    python benchmarks/variants.py [--classes 8,6,3] [--bands p50,p95] [--n 200] [--only 'NAME;…']
                                  [--out benchmarks/results/variants.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import jax
import numpy as np

from inverse_set import SeedConfig, WalkerConfig, initialization, sample_inverse_set
import harness as bm


def variants(ctx):
    """name -> (init, SeedConfig, WalkerConfig, code_bounds, realism_bound)."""
    b = ctx.zoo
    noise = initialization.encoded_noise(b.encoder, (28, 28, 1))
    vae = initialization.encoded_samples(b.encoder, b.gaussian_generator, b.gaussian_latent_dim)
    tau = ctx.realism_tau  # the 90th percentile of r(c) on codes of real training images

    def r(rho, candidates=1, **w):
        return SeedConfig(realism_weight=rho, candidates_per_seed=candidates), WalkerConfig(realism_weight=rho, **w)

    paper = (SeedConfig(candidates_per_seed=1), WalkerConfig())
    return {
        "paper: noise init": (noise, *paper, (0.0, None), None),
        "paper, bounds off": (noise, *paper, None, None),
        "paper, 4 candidates per seed": (noise, *r(0.0, 4), (0.0, None), None),
        "real-code init": (ctx.draw_prior, *paper, (0.0, None), None),
        "VAE-code init": (vae, *paper, (0.0, None), None),
        "noise init + realism 1": (noise, *r(1.0), (0.0, None), None),
        "VAE init + realism 10": (vae, *r(10.0), (0.0, None), None),
        "VAE init + realism 10, rbf": (vae, *r(10.0, repulsion="rbf"), (0.0, None), None),
        "VAE init + realism 10, β 0.3": (vae, *r(10.0, step_size=0.3), (0.0, None), None),
        "VAE init + realism 10, β 0.3, repel all": (vae, *r(10.0, step_size=0.3, repel_from="all"), (0.0, None),
                                                    None),
        "VAE init + realism 30": (vae, *r(30.0), (0.0, None), None),
        "VAE init + realism 10, β 0.3, 4 candidates (default)": (vae, *r(10.0, 4, step_size=0.3), (0.0, None), None),
        "default, nearest of 4 candidates": (vae, SeedConfig(realism_weight=10.0, select="nearest"),
                                             WalkerConfig(realism_weight=10.0, step_size=0.3), (0.0, None), None),
        "default + realism bound τ": (vae, *r(10.0, 4, step_size=0.3), (0.0, None), tau),
        "default, no realism term, + realism bound τ": (vae, *r(0.0, 4, step_size=0.3), (0.0, None), tau),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="8,6,3")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--bands", default="p50")
    parser.add_argument("--only", default="", help="variant names separated by ';' (default: all)")
    parser.add_argument("--out", default="benchmarks/results/variants.md")
    args = parser.parse_args(argv)
    ctx = bm.Context(max_train=5000)
    b = ctx.zoo
    keys = ["vendi_judge", "coverage", "density", "precision", "judge_agreement", "frechet_judge",
            "evals_per_in_band"]
    lines = ["| cell | variant | in-band | " + " | ".join(keys) + " | seed steps | walker steps |",
             "|" + "---|" * (len(keys) + 5)]
    table = variants(ctx)
    if args.only:
        unknown = [name for name in args.only.split(";") if name not in table]
        if unknown:
            parser.error(f"unknown variants {unknown}; known: {list(table)}")
        table = {name: table[name] for name in args.only.split(";")}
    for cell in bm.class_cells(b.stats, [int(c) for c in args.classes.split(",")], args.bands.split(",")):
        half_a, half_b = bm.real_reference(ctx, cell)
        ref = (ctx.real_judge[half_b], ctx.real_encoder[half_b])
        rows = [(bm.measure(ctx, cell, "real", ctx.test_images[half_a], 0, 0, ref), "", "")]
        for name, (init, sc, wc, bounds, tau) in table.items():
            t0 = time.perf_counter()
            res = sample_inverse_set(cell.neurons[0], cell.z1[0], cell.z2[0], args.n, generator=b.generator,
                                     encoder=b.encoder, target=b.target, init=init, code_bounds=bounds,
                                     seed_config=sc, walker_config=wc, realism_bound=tau, rng_key=0)
            row = bm.measure(ctx, cell, name, res.images, res.stats.network_evaluations,
                             time.perf_counter() - t0, ref)
            rows.append((row, res.stats.seed_steps, res.stats.walker_steps))
        for row, seed_steps, walker_steps in rows:
            vals = " | ".join(f"{row[k]:.3g}" for k in keys)
            lines.append(f"| {cell.name} | {row['method']} | {row['n_in_band']}/{row['n_returned']} | {vals} | "
                         f"{seed_steps} | {walker_steps} |")
            print(lines[-1], flush=True)
    command = "python benchmarks/variants.py " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} on {jax.default_backend()}"
    text = [f"# Walker and seed variants (n = {args.n}, bands {args.bands} of each class)\n", f"Command: `{command}`  ",
            f"Machine: {machine}\n",
            "Judge-space measures against half of the real in-band test images; `real` is the other half. "
            "Candidates: initial codes drawn per seed; the first K whose violated constraints have a gradient "
            "are kept ('alive'), or the K nearest the band ('nearest'); 1 is the paper. "
            f"Realism bound: r(c) = mean((E(G(c)) − c)²) ≤ τ = {ctx.realism_tau:.3g}, the 90th percentile of r "
            "on codes of real training images.\n",
            *lines]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write("\n".join(text) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
