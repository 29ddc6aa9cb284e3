"""The samples' law along the directions their band depends on, against independent draws: the codes, not the images.

``independence.py`` scores the images in the judge's feature space; this looks at the codes z the prior methods
sample (z ~ N(0, I) restricted to the band), along a few directions fitted on rejection draws of their own:
u, the in-band draws' mean direction (the direction the ladder's moves centre on, and the one its band depends on
most), and the top three principal directions of their spread. Against a reference of R more rejection draws A,
each method's n samples S get, per direction d,

    t² = (mean(S·d) − mean(A·d))² / (var(A·d) (1/n + 1/R)),   and the spread ratio sd(S·d) / sd(A·d).

For n independent draws of the band t² is about 1 (χ² with one degree of freedom: the ``ideal`` row, n more
rejection draws, shows it); for samples worth n / D independent ones along d (families of copies still alike
there), about (D/n + 1/R) / (1/n + 1/R); a sampler whose law along d is off, more, and growing with n. Pooled over
the cells and keys, the last table prints the design effect along each direction, D = n (mean t² (1/n + 1/R) −
1/R) (``inverse_set.evaluation.metrics.mean_shift``, ``design_effect``): 1 for independent draws; the n samples are worth
about n / D independent ones along d.

The last table is the fit draws' covariance spectrum against isotropic draws' (:func:`spectrum`): how many directions
besides u the band's law is narrower or wider in than the prior, beyond sampling noise (with ``--fit`` well above the
code's dimension, e.g. ``--methods '' --fit 2200 --n 10 --reference 10``).

    python benchmarks/studies/code_law.py --classes 7,3,0 --bands p95 --keys 0,1          # about 15 min
    python benchmarks/studies/code_law.py --classes 9,7 --bands p99 --keys 0,1             # about 20 min

Rejection needs 1/(band mass) forward passes per draw: at p99 and beyond, minutes per cell. ``--cache DIR`` keeps
each cell-key's rejection draws and reuses them, so that the same command run again on changed code (before and
after a change to the ladder) is compared against the same draws and costs only the methods' own runs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import jax
import numpy as np

import generators

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for the shared harness
import harness as bm

from inverse_set import get_method, sample_inverse_set
from inverse_set.api import make_sampler
from inverse_set.core.problem import forward
from inverse_set.evaluation import metrics
from inverse_set.particles.levels import distance

DIRECTIONS = ("u", "pc1", "pc2", "pc3")
METHODS = {"ladder": get_method("prior-ladder"), "slice": get_method("prior-slice")}


def directions(fit: np.ndarray) -> dict[str, np.ndarray]:
    """u, the fitted draws' mean direction, and their top three principal directions."""
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    return {"u": mean / np.linalg.norm(mean), "pc1": vt[0], "pc2": vt[1], "pc3": vt[2]}


def spectrum(fit: np.ndarray, u: np.ndarray, seed: int = 0) -> dict:
    """The fit draws' covariance eigenvalues against those of as many N(0, I) draws of the same dimension (the
    isotropic law's own sampling spread, Marchenko–Pastur): how many directions the band narrows (below the
    smallest of five such sets) or widens (above their largest), the extremes, and the variance along u
    (:func:`directions`): how many directions the band's law differs from the prior's in, which a proposal fitted
    to the band could use."""
    cov = np.cov(fit.T)
    values = np.linalg.eigvalsh(cov)
    rng = np.random.default_rng(seed)  # the extremes over five isotropic sets: one set's own vary by a few percent
    iso = np.sort(np.concatenate([np.linalg.eigvalsh(np.cov(rng.standard_normal(fit.shape).T))[[0, -1]]
                                  for _ in range(5)]))
    return {"draws": len(fit), "narrower": int(np.sum(values < iso[0])), "wider": int(np.sum(values > iso[-1])),
            "smallest": [float(v) for v in values[:3]], "largest": float(values[-1]),
            "isotropic": [float(iso[0]), float(iso[-1])], "along_u": float(u @ cov @ u)}


MAX_DRAWS = 5_000_000  # prior draws per cell-key: about 25 min here, a band of 1/2300 of the prior at the defaults


def rejection_codes(sampler, z1, z2, m: int, key, chunk: int = 4000) -> tuple[np.ndarray, int]:
    """m prior draws in the band, by rejection, and the draws it took (at most MAX_DRAWS)."""
    problem, indices, bands = bm.solver_problem(sampler, z1, z2)

    @jax.jit
    def draw(k):
        z = jax.vmap(sampler.compiled.init_fn)(jax.random.split(k, chunk))
        return z, distance(bands, forward(problem, z, indices)[1]) <= 0

    kept, draws = [], 0
    while sum(len(k) for k in kept) < m:
        if draws >= MAX_DRAWS:
            raise SystemExit(f"code_law: only {sum(len(k) for k in kept)} of {m} in-band draws in {draws} prior "
                             "draws: the band is too narrow for rejection to be the reference (take a wider band, "
                             "or smaller --n, --reference and --fit)")
        key, sub = jax.random.split(key)
        z, inside = draw(sub)
        kept.append(np.asarray(z)[np.asarray(inside)])
        draws += chunk
    return np.concatenate(kept)[:m], draws


def cached_rejection_codes(zoo, cell, m: int, key: int, cache: Path | None, log=print) -> np.ndarray:
    """:func:`rejection_codes` of the cell and key, read from (else written to) ``cache`` where one is given: the
    same draws for any method compared, so that comparing another costs only its own run."""
    band = "_".join(f"{v:.6g}" for v in (*cell.z1, *cell.z2))  # the cell's band as the models now put it
    path = cache / f"{cell.name}_{band}_{key}_{m}.npy".replace(" ", "_").replace("/", "-") if cache else None
    if path is not None and path.exists():
        return np.load(path)
    sampler = make_sampler(list(cell.neurons), m, models=zoo, method=METHODS["ladder"])
    t0 = time.perf_counter()
    drawn, draws = rejection_codes(sampler, cell.z1, cell.z2, m, jax.random.key(10_000 + key))
    log(f"  {cell.name} key {key}: {m} rejection draws in band of {draws} ({time.perf_counter() - t0:.0f} s)")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, drawn)
    return drawn


def cell_rows(zoo, cell, methods: dict, n: int, r: int, fit: int, key: int, cache: Path | None = None,
              log=print) -> list[dict]:
    """Every method's (a row name → Method) t² and spread ratio along each direction on one cell and key, and the
    ideal's (with the fit draws' :func:`spectrum`)."""
    drawn = cached_rejection_codes(zoo, cell, fit + r + n, key, cache, log)
    dirs = directions(drawn[:fit])
    fitted = spectrum(drawn[:fit], dirs["u"], key)
    reference, sets = drawn[fit:fit + r], {"ideal": drawn[fit + r:]}
    for name, method in methods.items():
        res = sample_inverse_set(list(cell.neurons), list(cell.z1), list(cell.z2), n, models=zoo,
                                 method=method, rng_key=key)
        sets[name] = np.asarray(res.codes)
    rows = []
    for name, codes in sets.items():
        row = {"cell": cell.name, "key": key, "method": name, "n": len(codes)}
        for d, v in dirs.items():
            s, a = codes @ v, reference @ v
            t2 = metrics.mean_shift(s, a)
            row[d] = {"t2": t2, "t": float(np.sign(s.mean() - a.mean()) * np.sqrt(t2)),  # t: which side
                      "spread": float(s.std(ddof=1) / a.std(ddof=1))}
        rows.append(row | ({"spectrum": fitted} if name == "ideal" else {}))
    return rows


def tables(rows: list[dict], r: int) -> list[str]:
    head = " | ".join(f"t² along {d} | spread" for d in DIRECTIONS)
    lines = [f"| cell | key | method | {head} |", "|---|---|---|" + "---|---|" * len(DIRECTIONS)]
    for row in rows:
        cols = " | ".join(f"{row[d]['t2']:.2f} | {row[d]['spread']:.2f}" for d in DIRECTIONS)
        lines.append(f"| {row['cell']} | {row['key']} | {row['method']} | {cols} |")
    pooled = " | ".join(f"{d}: mean t² (D) | spread" for d in DIRECTIONS)
    lines += ["", ("Pooled over the cells and keys: mean t² (design effect D) along each direction, and the median "
              "spread ratio."), "", f"| method | cell-keys | {pooled} |", "|---|---|" + "---|---|" * len(DIRECTIONS)]
    for method in dict.fromkeys(row["method"] for row in rows):
        mine = [row for row in rows if row["method"] == method]
        n = int(np.median([row["n"] for row in mine]))
        cols = []
        for d in DIRECTIONS:
            mean = float(np.mean([row[d]["t2"] for row in mine]))
            cols.append(f"{mean:.2f} ({metrics.design_effect(mean, n, r):.1f}) | "
                        f"{np.median([row[d]['spread'] for row in mine]):.2f}")
        lines.append(f"| {method} | {len(mine)} | {' | '.join(cols)} |")
    lines += ["",
              ("The fit draws' covariance against as many N(0, I) draws' (`spectrum`): directions narrower than the "
              "smallest eigenvalue of five sets of isotropic draws, wider than their largest, the smallest three, "
              "the largest, and the variance along u."),
              "",
              "| cell | key | draws | narrower | wider | smallest three | largest | N(0, I)'s range | along u |",
              "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if "spectrum" in row:
            s = row["spectrum"]
            lines.append(f"| {row['cell']} | {row['key']} | {s['draws']} | {s['narrower']} | {s['wider']} | "
                         f"{', '.join(f'{v:.2f}' for v in s['smallest'])} | {s['largest']:.2f} | "
                         f"{s['isotropic'][0]:.2f}–{s['isotropic'][1]:.2f} | {s['along_u']:.2f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bm.add_cell_arguments(parser, classes="7,3,0", bands="p95", keys="0,1")
    parser.add_argument("--methods", default="ladder", help=f"of {', '.join(METHODS)}")
    parser.add_argument("--n", type=int, default=500, help="samples per method (and the ideal's draws)")
    parser.add_argument("--reference", type=int, default=1000, help="R, rejection draws of the reference")
    parser.add_argument("--fit", type=int, default=700, help="rejection draws the directions are fitted on")
    parser.add_argument("--cache", default=None, type=Path, help="a folder to keep each cell-key's rejection draws "
                        "in and reuse them from (they depend only on the cell's band, the key and the sizes)")
    parser.add_argument("--out", default=None, help="also write the tables (markdown) and rows (.json beside it)")
    args = parser.parse_args(argv)
    names = [m for m in args.methods.split(",") if m]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; known: {', '.join(METHODS)}")
    methods = {name: METHODS[name] for name in names}
    for name in ("n", "reference", "fit"):
        if getattr(args, name) < 10:
            parser.error(f"--{name} must be at least 10 (a variance and three directions), got {getattr(args, name)}")
    zoo = generators.load("fashion")
    cells = bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(","))
    rows = []
    for cell in cells:
        for key in (int(k) for k in args.keys.split(",")):
            rows += cell_rows(zoo, cell, methods, args.n, args.reference, args.fit, key, args.cache)
            print("\n".join(tables(rows[-1 - len(methods):], args.reference)[2:3 + len(methods)]), flush=True)
    lines = tables(rows, args.reference)
    print("\n".join(lines))
    if args.out:
        command = "python benchmarks/studies/code_law.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        Path(args.out).write_text(f"# The samples' codes along the band's directions, against rejection\n\n"
                                  f"Command: `{command}`\n\n" + "\n".join(lines) + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
