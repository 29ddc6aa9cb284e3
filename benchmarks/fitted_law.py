"""How near the band's own law the ladder's moves' law N(μ, Σ) is: fitted on m in-band codes, how often a draw from it
lands in the band, and how often an independence sampler proposing from it would accept (the fresh draws of
:mod:`inverse_set.moves`, and what the rotations about it approach at wide angles).

Two fits, with the package's own functions, on the same m rejection draws of the band (``code_law`` draws them):

* ``one axis`` (``Ladder(subspace=0)``): μ the codes' mean over all d directions, shrunk by its noise
  (:func:`inverse_set.laws.centre`), Σ = I but along μ's direction, where its variance is the codes'
  (:func:`inverse_set.laws.axis_scale`);
* ``gradients' span`` (``Ladder(subspace=k)``, the default): μ and Σ fitted along the top k directions of g gradients
  of the neuron at the codes (:func:`inverse_set.laws.subspace_law`), Σ = I across them.

Per cell, key and fit: the share of D draws of N(μ, Σ) in the band, and the independence sampler's acceptance at
stationarity, ``P(c' ∈ B) · E[min(1, w(c') / w(c))]`` with w = p / N(μ, Σ), c from further rejection draws of the
band and c' from the draws that landed in it.

    python benchmarks/fitted_law.py --classes 7,3,0 --bands p95 --keys 0      # about 5 min
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
from code_law import METHODS, cached_rejection_codes
from inverse_set import laws, moves
from inverse_set.api import make_sampler
from inverse_set.ladder import Ladder
from inverse_set.problem import forward


def fitted_laws(problem, indices, fit: np.ndarray, test: np.ndarray, subspace: int, gradients: int, key) -> dict:
    """Each fit's ``(μ, W, L)`` (d,), (d, k), (k, k) from the ``fit`` codes, as the moves would use it for a code
    outside them (a ``test`` code's)."""
    z = jnp.asarray(np.concatenate([test[:1], fit]), jnp.float32)
    kept = jnp.arange(len(z)) > 0  # the fit codes; the test code is the particle whose law it is
    mu = laws.centre(z, kept)
    axes, root = laws.axis_law(mu, laws.axis_scale(z, kept, mu))
    lines = jnp.where(kept, 1, 0)  # the fit codes one half, the test code the other
    law = laws.subspace_law(problem, indices, Ladder(subspace=subspace, gradients=gradients), z, kept, lines, key)
    return {"one axis": (mu[0], axes[0], root[0]), "gradients' span": tuple(a[0] for a in law[:3])}


def scores(problem, indices, bands, law, test: np.ndarray, draws: int, key) -> dict:
    """The share of ``draws`` draws of N(μ, Σ) in the band, and the independence sampler's acceptance."""
    mu, axes, root = law
    many = lambda a: jnp.broadcast_to(a, (draws, *a.shape))  # noqa: E731
    nu = jax.random.normal(key, (draws, mu.shape[0]))
    c = many(mu) + laws.root_covariance(many(axes), many(root), nu)
    inside = np.asarray(moves.distance(bands, forward(problem, c, indices)[1]) <= 0)
    log_w = lambda x: np.asarray(laws.gaussian_log_weight(  # noqa: E731
        *(jnp.broadcast_to(a, (len(x), *a.shape)) for a in law), jnp.asarray(x, jnp.float32)))
    proposed, target = log_w(np.asarray(c)[inside][:300]), log_w(test)
    accept = np.mean(np.minimum(1, np.exp(proposed[None, :] - target[:, None]))) if inside.any() else 0.0
    return {"in band": float(inside.mean()), "accepted": float(inside.mean() * accept)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bm.add_cell_arguments(parser, classes="7,3,0", bands="p95", keys="0")
    parser.add_argument("--fit", default="200,500", help="m, the in-band codes each law is fitted on (comma list)")
    parser.add_argument("--test", type=int, default=500, help="further in-band codes: the sampler's states")
    parser.add_argument("--draws", type=int, default=4000, help="D, draws of each fitted law")
    parser.add_argument("--subspace", type=int, default=Ladder().subspace, help="k, the fitted axes")
    parser.add_argument("--gradients", type=int, default=Ladder().gradients, help="g, the gradients they come from")
    parser.add_argument("--cache", default=None, type=Path, help="as code_law.py's: reuse its rejection draws")
    parser.add_argument("--out", default=None, help="also write the table (markdown)")
    args = parser.parse_args(argv)
    sizes = [int(m) for m in args.fit.split(",")]
    if min(sizes) < 10 or args.test < 10 or args.draws < 100:
        parser.error("--fit sizes and --test must be at least 10 and --draws at least 100")
    zoo = generators.load("fashion")
    lines = ["| cell | key | m | fit | in band | accepted |", "|---|---|---|---|---|---|"]
    for cell in bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(",")):
        sampler = make_sampler(list(cell.neurons), 10, models=zoo, method=METHODS["ladder"])
        problem, indices, bands = bm.solver_problem(sampler, cell.z1, cell.z2)
        for key in (int(k) for k in args.keys.split(",")):
            drawn = cached_rejection_codes(zoo, cell, max(sizes) + args.test, key, args.cache)
            test = drawn[max(sizes):]
            for m in sizes:
                k_fit, k_draw = jax.random.split(jax.random.key(key * 1000 + m))
                for name, law in fitted_laws(problem, indices, drawn[:m], test, args.subspace, args.gradients,
                                             k_fit).items():
                    got = scores(problem, indices, bands, law, test, args.draws, k_draw)
                    lines.append(f"| {cell.name} | {key} | {m} | {name} | {got['in band']:.3f} | "
                                 f"{got['accepted']:.3f} |")
                    print(lines[-1], flush=True)
    if args.out:
        command = "python benchmarks/fitted_law.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        Path(args.out).write_text("# How near the band's law the moves' fitted law is\n\n"
                                  f"Command: `{command}`\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
