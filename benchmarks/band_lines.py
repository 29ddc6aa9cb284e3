"""Where the samples' spread along u comes from: the band's own width along a line, or its place moving with the rest.

The codes' coordinate along u (the in-band samples' mean direction: ``code_law.py``'s u) is the one the ladder's
samples forget slowest. For each of the default's n samples c, this scans the line ``c + g u`` (a grid of ``--grid``
points over ±3 sd of the samples' c · u) and takes the prior restricted to the band along that line: its sd is what
a move along u alone (``Ladder(along_share=…)``, which keeps the rest of c) can change c · u by. Per cell and key:

* ``line sd ÷ spread``: the median over the samples of that line's sd, over the sd of c · u across the samples;
* ``across share``: the share of c · u's variance that is the band's place moving with the rest of the code,
  ``1 − mean(line variance) / var(c · u)`` (0 where the band depends on c · u alone, as a linear neuron's with u its
  weights; 1 where c · u is fixed by the rest);
* ``segments``: the median number of in-band stretches a line crosses (1: one interval).

A large across share says that c · u is forgotten only as fast as the rest of the code that places the band is: a
move along u alone cannot forget it.

    python benchmarks/band_lines.py --classes 7,3,0 --bands p95 --keys 0     # about 2 min
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import generators
import harness as bm
from inverse_set import ladder, moves
from inverse_set.api import make_sampler


def line_laws(problem, indices, bands, codes: np.ndarray, u: np.ndarray, grid: int) -> dict:
    """The prior restricted to the band along each code's line ``c + g u``: the figures of the module docstring."""
    along = codes @ u
    spread = along.std(ddof=1)
    steps = np.linspace(-3, 3, grid) * spread
    inside = jax.jit(lambda z: moves.evaluate(problem, indices, bands, z)[2] <= 0)
    hits = np.stack([np.asarray(inside(jnp.asarray(codes + g * u[None, :], jnp.float32))) for g in steps], axis=1)
    t = along[:, None] + steps[None, :]  # each grid point's coordinate along u
    weight = np.exp(-0.5 * (t ** 2 - along[:, None] ** 2)) * hits  # ∝ N(t; 0, 1) on the line, in band
    weight /= weight.sum(axis=1, keepdims=True)  # every line holds its own code, in band
    mean = np.sum(weight * t, axis=1)
    variance = np.sum(weight * (t - mean[:, None]) ** 2, axis=1)
    return {"line_sd": float(np.median(np.sqrt(variance)) / spread),
            "across_share": float(1 - variance.mean() / along.var(ddof=1)),
            "segments": float(np.median(np.sum(np.diff(hits.astype(int), axis=1) == 1, axis=1) + hits[:, 0]))}


def cell_row(sampler, cell, lad: ladder.Ladder, n: int, key: int, grid: int) -> dict:
    problem, indices, bands = bm.solver_problem(sampler, cell.z1, cell.z2)
    dim = jax.eval_shape(sampler.compiled.init_fn, jax.random.key(0)).shape[-1]
    state = jax.jit(lambda k: ladder.run(problem, indices, bands, lad, n, dim, k))(jax.random.key(key))
    codes = np.asarray(state.z)[np.asarray(ladder.samples(state))]
    if len(codes) < 10:
        return {"cell": cell.name, "key": key, "samples": len(codes)}
    u = codes.mean(axis=0) / np.linalg.norm(codes.mean(axis=0))
    return {"cell": cell.name, "key": key, "samples": len(codes), **line_laws(problem, indices, bands, codes, u, grid)}


def table(rows: list[dict]) -> list[str]:
    lines = ["| cell | key | samples | line sd ÷ spread along u | across share of var(c · u) | segments per line |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "line_sd" not in r:
            lines.append(f"| {r['cell']} | {r['key']} | {r['samples']} | – | – | – |")
            continue
        lines.append(f"| {r['cell']} | {r['key']} | {r['samples']} | {r['line_sd']:.2f} | {r['across_share']:.2f} | "
                     f"{r['segments']:.0f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bm.add_cell_arguments(parser, classes="7,3,0", bands="p95", keys="0")
    parser.add_argument("--n", type=int, default=500, help="samples, and particles (N = n)")
    parser.add_argument("--grid", type=int, default=121, help="points along each line (one forward pass of n each)")
    parser.add_argument("--ladder", default="", help="the default's Ladder settings changed, name=value,…")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if args.n < 10 or args.grid < 11:
        parser.error(f"--n must be at least 10 and --grid at least 11, got {args.n} and {args.grid}")
    try:
        method, lad = bm.changed_ladder(args.ladder)
    except ValueError as err:
        parser.error(f"--ladder {err}")
    zoo = generators.load("fashion")
    rows = []
    for cell in bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(",")):
        sampler = make_sampler(list(cell.neurons), args.n, models=zoo, method=method)
        for key in (int(k) for k in args.keys.split(",")):
            rows.append(cell_row(sampler, cell, lad, args.n, key, args.grid))
            print(table(rows[-1:])[-1], flush=True)
    lines = table(rows)
    print("\n".join(lines))
    if args.out:
        command = "python benchmarks/band_lines.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        Path(args.out).write_text(f"# The band along the lines of u\n\nCommand: `{command}`\n\n"
                                  + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
