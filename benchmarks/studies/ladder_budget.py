"""Where the ladder's forward passes go, per sample: the first draws and the pilot, each level's moves, the band's own
moves (of the whole population, then of the repeats left), the gradients each resampling's fitted law takes
(:func:`inverse_set.particles.laws.subspace_law`), beside rejection's expected draws per sample (1 / the band's mass,
the ladder's own estimate). The default method's ladder, N = n, on class cells
(``harness.class_cells``).

    python benchmarks/studies/ladder_budget.py --classes 7,3 --bands p95,p99 --keys 0,1     # about 3 min

It shows what a cost target leaves for decorrelation: ``band`` is what the moves inside the band cost once the climb
is paid, and ``ρ`` the lag correlation they stopped at (:mod:`inverse_set.particles.decorrelation`); ``ρ along μ``, the lag
correlation of the codes' coordinate along their centre's direction over the same moves, which the stop does not
watch. Each level's moves, and the band's, say which part of ρ was the larger when they stopped: the encodings'
pooled (φ) or an activation's (f).
``weights' ESS`` is what the band's fresh draws are worth to the mass (:func:`inverse_set.particles.mass.weights_worth`;
:func:`inverse_set.particles.mass.band_mass` trusts them from ``MIN_WEIGHT_ESS``); ``--mass-ess M`` moves the whole
population on after the stop until they are worth M (or ``max_final_moves``), counted in the band's moves and in their
own column: what a stop that also waited for the mass would cost, and the mass it would give.
The last two columns are the samples' design effect (n / D independent draws' worth): the stop's, over the families of
copies at the last two resamplings, and the same over every level's families
(:func:`inverse_set.particles.decorrelation.lineage_design_effect`), which the stop leaves out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import generators

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for the shared harness
import harness as bm

from inverse_set import get_method
from inverse_set.api import make_sampler
from inverse_set.particles import decorrelation, ladder, laws, moves
from inverse_set.particles.mass import band_mass, weights_worth


def budget(sampler, z1, z2, lad: ladder.Ladder, n: int, key: int, mass_ess: float = 0.0) -> dict:
    """One climb and its moves in the band, counted: a dict of passes per sample."""
    problem, indices, bands = bm.solver_problem(sampler, z1, z2)
    levels = []

    def on_level(level, passes, moved, log_mass, rho_phi, rho_f, rho, parent):
        levels.append((int(level), int(passes), int(moved), float(np.exp(log_mass)), float(rho_phi), float(rho_f),
                       float(rho), np.asarray(parent)))

    def callback(s):
        jax.debug.callback(on_level, s.level, s.forward_passes, s.moves, s.mass.log_mass, *memories(s), s.lineage.memory, s.lineage.parent)

    dim = jax.eval_shape(sampler.compiled.init_fn, jax.random.key(0)).shape[-1]
    climb = jax.jit(lambda k: ladder.climb(problem, indices, bands, lad, n, dim, k, callback))
    state = jax.block_until_ready(climb(jax.random.key(key)))
    row = {"by_rejection": bool(state.by_rejection), "levels": []}
    previous = 0
    fit = laws.fit_cost(n, state.particles.f.shape[-1])  # each resampling's fitted law: its gradients' passes
    levels.sort(key=lambda lv: lv[0])  # the callbacks may come in any order
    for level, passes, moved, mass, rho_phi, rho_f, _, _ in levels:
        before = passes - moved * n  # the level's own moves are its last passes, its law's gradients before them
        if not row["levels"]:
            row["start"] = (before - fit) / n
        row["levels"].append({"moves": moved, "kept": mass / previous if previous else mass,
                              "by": "f" if rho_f > rho_phi else "φ"})
        previous = mass
    row.setdefault("start", int(state.forward_passes) / n)
    if int(state.status) != ladder.LadderStatus.IN_BAND:
        return row
    start_along = along(state.particles.z, state.law.centre)  # at the band's resampling, where the stop's ρ starts too
    advance = jax.jit(lambda s: moves.advance(problem, indices, bands, lad, s))
    where = jax.jit(lambda s: (moves.settled(lad, s), moves.decorrelated(lad, s)))  # done; the repeats' turn
    full, repeats = 0, 0
    while not bool((flags := where(state))[0]):
        alone, passes = bool(flags[1]), int(state.forward_passes)
        state = advance(state)
        if alone:
            repeats += int(state.forward_passes) - passes
        else:
            full += 1
    more = jax.jit(lambda s: moves.move(problem, indices, bands, s, jnp.asarray(0.0, jnp.float32)))
    added = 0
    while weights_worth(state) < mass_ess and int(state.moves) < lad.max_final_moves:
        state, added = more(state), added + 1
    mass = band_mass(state)[0]
    total = int(state.forward_passes) / n
    rho_phi, rho_f = (float(r) for r in memories(state))
    row.update(gradients=len(levels) * fit / n, band=full + added, band_by="f" if rho_f > rho_phi else "φ", for_mass=added, weights_ess=weights_worth(state), repeats=repeats / n, total=total,
               rho=float(state.lineage.memory), mass=mass,
               rho_along=float(decorrelation.lag_correlation(start_along[:, None],  # since the band's resampling
                                                             along(state.particles.z, state.law.centre)[:, None], pooled=False)[0]),
               rejection=1 / mass, ratio=total * mass, **lineage(levels, state))
    return row


def lineage(levels: list, state: ladder.LadderState) -> dict:
    """The samples' design effect over their families at the last two resamplings (what the band's stop counts:
    :func:`inverse_set.particles.moves.families_effect`) and over all the levels'
    (:func:`inverse_set.particles.decorrelation.lineage_design_effect`): each level's copies parted at the ρ its moves
    reached."""
    counted = ladder.samples(state)
    two = float(moves.families_effect(state, counted))
    if not levels:  # drawn by rejection: no copies
        return {"effect_two": two, "effect_all": two}
    *_, family = levels[-1]  # the band's resampling: each sample's parent there
    families, rhos = [], [float(state.lineage.memory)]
    for *_, rho, parent in reversed(levels[:-1]):  # the level before the band's resampling, then the one before …
        families.append(family)
        family = parent[family]
        rhos.append(rho)
    families.append(family)
    assert abs(two - float(decorrelation.lineage_design_effect(families[:2], rhos[:2], counted))) < 1e-4 * two
    return {"effect_two": two, "effect_all": float(decorrelation.lineage_design_effect(families, rhos, counted))}


def along(z, centre):
    """Each code's coordinate along its centre's direction u, ``z · u`` (N,): the one the stop does not watch."""
    norm = jnp.sqrt(jnp.sum(centre ** 2, axis=-1, keepdims=True))
    return jnp.sum(z * centre / jnp.maximum(norm, 1e-12), axis=-1)


def memories(s):
    """The two parts of ρ since the last resampling (:func:`inverse_set.particles.decorrelation.memory_parts`): the encodings'
    pooled and the activations' largest; the stop watches the larger."""
    return decorrelation.memory_parts(s.lineage.start_phi, s.lineage.start_f, s.particles.phi, s.particles.f)


def table(rows: list[dict]) -> list[str]:
    lines = [("| cell | key | first draws + pilot | levels (moves, share kept, ρ's larger part) | moves in the band (the same) | "
             "repeats' passes | the fitted laws' gradients | "
             "passes/sample | ρ at the stop | ρ along μ | band mass | rejection's draws/sample | ÷ rejection | "
             "weights' ESS | of the band's moves, for the mass | design effect: the stop's (two levels' families) | "
             "all levels' |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["by_rejection"] or "total" not in r:
            lines.append(f"| {r['cell']} | {r['key']} | {r['start']:.1f} | "
                         f"{'by rejection' if r['by_rejection'] else 'stalled'} |" + " – |" * 13)
            continue
        levels = ", ".join(f"{lv['moves']} ({lv['kept']:.2f}, {lv['by']})" for lv in r["levels"])
        lines.append(f"| {r['cell']} | {r['key']} | {r['start']:.1f} | {levels} | {r['band']} ({r['band_by']}) | {r['repeats']:.1f} | "
                     f"{r['gradients']:.1f} | "
                     f"{r['total']:.1f} | {r['rho']:.2f} | {r['rho_along']:.2f} | {r['mass']:.3g} | {r['rejection']:.0f} | "
                     f"{r['ratio']:.3f} | {r['weights_ess']:.1f} | {r['for_mass']} | {r['effect_two']:.2f} | "
                     f"{r['effect_all']:.2f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bm.add_cell_arguments(parser, classes="7,3", bands="p95,p99", keys="0,1")
    parser.add_argument("--n", type=int, default=500, help="samples, and particles (N = n)")
    parser.add_argument("--mass-ess", type=float, default=0.0, help="move on after the stop until the band's "
                        "fresh draws' weights are worth this many draws (0: no)")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be a positive count, got {args.n}")
    if not args.mass_ess >= 0:
        parser.error(f"--mass-ess must be a number of draws ≥ 0, got {args.mass_ess}")
    zoo = generators.load("fashion")
    cells = bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(","))
    method = get_method("prior-ladder")
    lad = method.walk.ladder
    rows = []
    for cell in cells:
        sampler = make_sampler(list(cell.neurons), args.n, models=zoo, method=method)
        for key in (int(k) for k in args.keys.split(",")):
            rows.append({"cell": cell.name, "key": key,
                         **budget(sampler, cell.z1, cell.z2, lad, args.n, key, args.mass_ess)})
            print(table(rows[-1:])[-1], flush=True)
    lines = table(rows)
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text(f"# Where the ladder's forward passes go\n\nCommand: `python "
                                  f"benchmarks/studies/ladder_budget.py --classes {args.classes} --bands {args.bands} "
                                  f"--keys {args.keys} --n {args.n}"
                                  + (f" --mass-ess {args.mass_ess:g}" if args.mass_ess else "") + "`\n\n"
                                  + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
