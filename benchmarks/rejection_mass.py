"""A class cell's band mass under the prior by plain rejection with many draws: the truth the ladder's estimate is
checked against where the benchmark's 60,000 draws are too few.

The cell is ``harness.class_cells``' (the class's own test-image logit percentile, half an IQR wide); the draws are
z ~ N(0, I) through the bundled prior, generator and classifier, 5,000 at a time with keys 10,000 + i.

    python benchmarks/rejection_mass.py --class 1 --band p99 --draws 1000000     # Trouser p99: about 10 min
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

import generators
import harness as bm

BATCH = 5000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--class", dest="cls", type=int, required=True, help="class index (1: Trouser, 2: Pullover)")
    parser.add_argument("--band", required=True, help="a level of the zoo's stats: p50, p95, p99, p99.9, …")
    parser.add_argument("--draws", type=int, default=1_000_000, help=f"prior draws, a multiple of {BATCH}")
    args = parser.parse_args(argv)
    if args.draws < BATCH or args.draws % BATCH:
        parser.error(f"--draws must be a positive multiple of {BATCH}, got {args.draws}")
    zoo = generators.load("fashion")
    cell = bm.class_cells(zoo.stats, [args.cls], [args.band])[0]

    @jax.jit
    def hits(key):
        z = jax.random.normal(key, (BATCH, zoo.latent_dim))
        a = jax.vmap(lambda z: zoo.target(zoo.generator(zoo.prior(z)))["logits"][args.cls])(z)
        return jnp.sum((a >= cell.z1[0]) & (a <= cell.z2[0]))

    h = sum(int(hits(jax.random.key(10_000 + i))) for i in range(args.draws // BATCH))
    p = h / args.draws
    print(json.dumps({"cell": cell.name, "z1": cell.z1[0], "z2": cell.z2[0], "hits": h, "draws": args.draws,
                      "mass": p, "sd": float(np.sqrt(p * (1 - p) / args.draws))}))


if __name__ == "__main__":
    main()
