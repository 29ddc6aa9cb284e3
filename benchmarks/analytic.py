"""Seed steps, walker steps, samples kept per step and time on the analytic slab problem.

G(c) = sigmoid(c) on a d-dimensional code, E = identity, and a linear-logistic
neuron a(x) = sigmoid(w·x + b): the inverse set of [z1, z2] is a slab in the unit
cube. Runs K = 10, n = 500 (the paper's setting) for several keys and prints
per-run figures and their median. The walker's floor is ⌈(n − K)/K⌉ = 49 steps.

    python benchmarks/analytic.py [--n 500] [--k 10] [--dim 16] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import GradientWalk, get_method, initialization, sample_inverse_set


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--z1", type=float, default=0.6)
    parser.add_argument("--z2", type=float, default=0.7)
    parser.add_argument("--step-size", type=float, default=GradientWalk().step_size)
    args = parser.parse_args()

    w = jax.random.normal(jax.random.key(1), (args.dim,))
    b = -float(w.sum()) / 2
    neuron = lambda x: jax.nn.sigmoid(w @ x + b)
    init = initialization.gaussian(args.dim, scale=0.1)
    encoder = lambda x: x
    method = get_method("paper").replace(walk=GradientWalk(step_size=args.step_size))
    floor = -(-(args.n - args.k) // args.k)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
          f"on {jax.devices()[0].platform}")
    print(f"problem: d={args.dim}, band [{args.z1}, {args.z2}], K={args.k}, n={args.n}, "
          f"walker step {args.step_size}; walker floor {floor} steps")
    header = f"{'run':>3} {'seed steps':>10} {'walker steps':>12} {'kept':>7} {'compile s':>9} {'run ms':>8} {'spread x':>8}"
    print(header)
    rows = []
    u = np.asarray(w / jnp.linalg.norm(w))
    for run in range(args.runs):
        t0 = time.perf_counter()
        res = sample_inverse_set(neuron, args.z1, args.z2, args.n, generator=jax.nn.sigmoid,
                                 encoder=encoder, init=init, num_seeds=args.k,
                                 method=method, rng_key=run)
        wall = time.perf_counter() - t0
        s = res.stats
        seeds = 1 / (1 + np.exp(-res.seeds))

        def orth(x):
            return (x - np.outer(x @ u, u)).std(0).sum()

        spread = orth(res.images) / orth(seeds)
        assert len(res) == args.n and ((res.activations >= args.z1) & (res.activations <= args.z2)).all()
        rows.append((s.seed_steps, s.walker_steps, s.mean_kept_per_step, s.compile_time_s, s.run_time_s, spread))
        print(f"{run:>3} {s.seed_steps:>10} {s.walker_steps:>12} {s.mean_kept_per_step:>7.1f} "
              f"{s.compile_time_s:>9.2f} {1e3 * s.run_time_s:>8.1f} {spread:>8.1f}   (wall {wall:.2f} s)")
    med = np.median(np.array(rows), axis=0)
    print(f"{'med':>3} {med[0]:>10.0f} {med[1]:>12.0f} {med[2]:>7.3f} {rows[0][3]:>9.2f} {1e3 * med[4]:>8.1f} "
          f"{med[5]:>8.1f}")
    print("compile s: paid by the first run only (later runs reuse the compiled sampler; the median row shows "
          "the first run's); run ms: after compilation; kept: mean samples kept per walk step; "
          "spread x: samples' spread orthogonal to w over the seeds' spread")


if __name__ == "__main__":
    main()
