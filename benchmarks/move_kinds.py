"""How far each kind of move carries the particles in the band, per forward pass: where a better kernel could gain.

From the default's population settled in the band (:func:`inverse_set.ladder.climb`, then
:func:`inverse_set.ladder.in_band`), each kind of move is proposed to every particle ``--repeats`` times (from the
same states, not applied) and scored:

* ``in band``: the share of its proposals that land in the band;
* ``accepted``: the share accepted (in the band and through the Metropolis–Hastings test);
* ``jump``: the encodings' expected squared jump per forward pass, ``E[1_accepted ‖φ' − φ‖²] / (2 tr Var φ)``,
  Var φ over the population: 1 where every pass moved each particle as far as an independent draw from the band would.

The kinds: the default's own mix (:func:`inverse_set.moves.propose`), and each of its parts alone, with the same
law N(μ, Σ) and the same h: ``fresh N(μ, Σ)`` (``independent_share=1, isotropic_share=0``), ``fresh N(μ, I)``
(``isotropic_share=1``), ``local`` (the rotations, ``independent_share=0``); and two moves the package does not make:
``across`` (the coordinates across the fitted axes W redrawn from the prior, those along W kept: the prior's own
law there, so only the band decides) and ``walk s`` (a random walk along W, ``s L ν``, the rest kept: the prior's
ratio decides).

With ``--trajectory K``, also the default's own kinds applied: from the band's resampling, K moves of the mix, of
fresh draws from N(μ, Σ) alone and of rotations alone, and after each the encodings' ρ (what the band's stop watches,
:func:`inverse_set.decorrelation.memory_parts`), then the share of particles that never moved, and where those and
the others started in their fitted law (medians of :func:`where_in_law`).

    python benchmarks/move_kinds.py --classes 7,3 --bands p95 --keys 0      # about 2 min
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import generators
import harness as bm
from inverse_set import decorrelation, ladder, laws, moves
from inverse_set.api import make_sampler

WALK_SCALES = (0.3, 0.6)


def other_kind(name: str, state: ladder.LadderState, key) -> tuple:
    """``(z', log ratio)`` of a move the package does not make (the module docstring's ``across`` and ``walk s``)."""
    z, axes, root = state.z, state.axes, state.root
    nu = jax.random.normal(key, z.shape, z.dtype)
    across = lambda v: laws.root_covariance(axes, jnp.zeros_like(root), v)  # noqa: E731  v's part across W
    if name == "across":
        return z - across(z) + across(nu), jnp.zeros(z.shape[:1], z.dtype)
    new = z + laws.root_covariance(axes, float(name.split()[1]) * root, nu) - across(nu)  # + s L ν along W
    return new, -0.5 * (jnp.sum(new ** 2, -1) - jnp.sum(z ** 2, -1))


def own_kinds(lad: ladder.Ladder) -> dict:
    """The default's mix and each of its parts alone, as Ladder settings (the module docstring's names)."""
    return {"mix (the default's)": lad,
            "fresh N(μ, Σ)": dataclasses.replace(lad, independent_share=1.0, isotropic_share=0.0),
            "fresh N(μ, I)": dataclasses.replace(lad, independent_share=1.0, isotropic_share=1.0),
            "local": dataclasses.replace(lad, independent_share=0.0)}


def trajectory(problem, indices, bands, lad: ladder.Ladder, start: ladder.LadderState, name: str, moves_: int):
    """ρ over the encodings after each of ``moves_`` moves of one kind from the band's resampling, and the share of
    particles that never moved."""
    kind = own_kinds(lad)[name]

    def one(s, _):
        s = moves.move(problem, indices, bands, kind, s, jnp.asarray(0.0))
        return s, decorrelation.memory_parts(s.start_phi, s.start_f, s.phi, s.f)[0]

    end, rhos = jax.jit(lambda s: jax.lax.scan(one, s, None, length=moves_))(start)
    never = np.asarray(jnp.all(end.phi == start.phi, axis=-1))
    medians = {name: tuple(np.median(v[part]) if part.any() else np.nan for part in (never, ~never))
               for name, v in ((name, np.asarray(v)) for name, v in where_in_law(start).items())}
    return [float(r) for r in rhos], float(never.mean()), medians


def where_in_law(state: ladder.LadderState) -> dict:
    """Where each code lies in its fitted law N(μ, Σ): ``log w`` = log p / N(μ, Σ) (a fresh draw from N(μ, Σ)
    alone is accepted less, the larger it is), and ``toward the mode``, the code's offset from μ along W, whitened
    by L, projected on the prior's mode's (−μ's) whitened direction: above 0 on the prior's side of μ."""
    whiten = jax.vmap(lambda root, y: jax.scipy.linalg.solve_triangular(root, y, lower=True))
    offset = whiten(state.root, jnp.einsum("ndk,nd->nk", state.axes, state.z - state.centre))
    mode = whiten(state.root, jnp.einsum("ndk,nd->nk", state.axes, -state.centre))
    unit = mode / jnp.maximum(jnp.linalg.norm(mode, axis=-1, keepdims=True), 1e-12)
    return {"log w": laws.gaussian_log_weight(state.centre, state.axes, state.root, state.z),
            "toward the mode": jnp.sum(offset * unit, axis=-1)}


def score(problem, indices, bands, lad: ladder.Ladder, state: ladder.LadderState, name: str, repeats: int,
          key) -> dict:
    """One kind's in-band share, acceptance and jump per pass, over ``repeats`` proposals to every particle."""
    own = own_kinds(lad)
    spread = 2 * float(jnp.sum(jnp.var(state.phi, axis=0)))
    inside, accepted, jump = [], [], []
    for r in range(repeats):
        k_move, k_test = jax.random.split(jax.random.fold_in(key, r))
        if name in own:
            accept, *_, phi, _, d, _ = moves.propose(problem, indices, bands, own[name], state.z, state.centre,
                                                     state.axes, state.root, state.angle, jnp.asarray(0.0), k_move)
        else:
            z_new, log_ratio = other_kind(name, state, k_move)
            phi, _, d = moves.evaluate(problem, indices, bands, z_new)
            accept = (d <= 0) & (jnp.log(jax.random.uniform(k_test, d.shape)) < log_ratio)
        inside.append(float(jnp.mean(d <= 0)))
        accepted.append(float(jnp.mean(accept)))
        jump.append(float(jnp.sum(jnp.where(accept[:, None], (phi - state.phi) ** 2, 0.0))) / len(d) / spread)
    return {"in band": np.mean(inside), "accepted": np.mean(accepted), "jump": np.mean(jump)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bm.add_cell_arguments(parser, classes="7,3", bands="p95", keys="0")
    parser.add_argument("--n", type=int, default=500, help="particles (N = n, as the default)")
    parser.add_argument("--repeats", type=int, default=3, help="proposals of each kind to every particle")
    parser.add_argument("--ladder", default="", help="the default's Ladder settings changed, name=value,…")
    parser.add_argument("--trajectory", type=int, default=0, help="also K moves of each of the default's kinds from "
                        "the band's resampling: ρ after each (0: none)")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if args.n < 2 or args.repeats < 1 or args.trajectory < 0:
        parser.error(f"--n must be at least 2, --repeats at least 1 and --trajectory at least 0, got {args.n}, "
                     f"{args.repeats} and {args.trajectory}")
    try:
        method, lad = bm.changed_ladder(args.ladder)
    except ValueError as err:
        parser.error(f"--ladder {err}")
    zoo = generators.load("fashion")
    kinds = ["mix (the default's)", "fresh N(μ, Σ)", "fresh N(μ, I)", "local", "across",
             *(f"walk {s}" for s in WALK_SCALES)]
    lines = ["| cell | key | moves in the band | h | kind | in band | accepted | jump per pass |",
             "|---|---|---|---|---|---|---|---|"]
    paths = ["| cell | key | kind | ρ after each move | never moved | log w: never moved, others | toward the mode: "
             "never moved, others |", "|---|---|---|---|---|---|---|"]
    for cell in bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(",")):
        sampler = make_sampler(list(cell.neurons), args.n, models=zoo, method=method)
        problem, indices, bands = bm.solver_problem(sampler, cell.z1, cell.z2)
        dim = jax.eval_shape(sampler.compiled.init_fn, jax.random.key(0)).shape[-1]
        for key in (int(k) for k in args.keys.split(",")):
            climb = jax.jit(lambda k: ladder.climb(problem, indices, bands, lad, args.n, dim, k))
            climbed = climb(jax.random.key(key))  # the band's resampling: where the trajectories start
            state = jax.jit(lambda s: ladder.in_band(problem, indices, bands, lad, s))(climbed)
            if int(state.status) != ladder.LadderStatus.IN_BAND or bool(state.by_rejection):
                lines.append(f"| {cell.name} | {key} | {'by rejection' if state.by_rejection else 'stalled'} |"
                             + " – |" * 5)
                print(lines[-1], flush=True)
                continue
            for i, name in enumerate(kinds):
                got = score(problem, indices, bands, lad, state, name, args.repeats, jax.random.key(1000 * key + i))
                lines.append(f"| {cell.name} | {key} | {int(state.moves)} | {float(state.angle):.2f} | {name} | "
                             f"{got['in band']:.3f} | {got['accepted']:.3f} | {got['jump']:.4f} |")
                print(lines[-1], flush=True)
            for name in ("mix (the default's)", "fresh N(μ, Σ)", "local") if args.trajectory else ():
                rhos, never, medians = trajectory(problem, indices, bands, lad, climbed, name, args.trajectory)
                at = " | ".join(f"{a:.2f}, {b:.2f}" for a, b in medians.values())
                paths.append(f"| {cell.name} | {key} | {name} | {' '.join(f'{r:.2f}' for r in rhos)} | {never:.3f} | "
                             f"{at} |")
                print(paths[-1], flush=True)
    if args.trajectory:
        lines += ["", f"From the band's resampling, {args.trajectory} moves of each kind:", "", *paths]
    if args.out:
        bm.write_page(args.out, "How far each kind of move carries the particles in the band",
                      "benchmarks/move_kinds.py", argv, "Per kind: the share of its proposals in the band, "
                      "accepted, and the encodings' squared jump per forward pass over an independent draw's (the "
                      "module docstring).", lines)


if __name__ == "__main__":
    main()
