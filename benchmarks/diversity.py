"""An honest benchmark: every method on the same n, the sampler's own prior as a reference, cost as paid.

For the ten class neurons of the bundled classifier at bands centred on the 50th,
95th and 99.9th percentile of the class's own test-image logits and beyond the
highest one (``max+``), and for two intersections and two hidden units at the same
levels, run every method and score all of them on the same number of in-band
samples (see benchmarks/harness.py): against real in-band images, against
independent draws from the prior the default samples (``rejection_prior``), with
bootstrap intervals, quality-weighted Vendi and path similarity; cost as forward
and forward+backward passes and wall time. The cells on which the defaults were
chosen (``harness.DEV_CELLS``, the dev split) are left out unless --include-dev;
the headline is the report split.

    python benchmarks/diversity.py                       # the full run (n = 500, about 3 h on 2 CPU cores)
    python benchmarks/diversity.py --classes 8,1 --bands p50 --n 50 --quick --out /tmp/bench
    python benchmarks/diversity.py --add slice           # "prior-slice" rows on the cells results.json holds

Writes results.json (every row, after every cell: --resume continues a stopped
run), results.md (medians per band and method, the ratios to independent draws,
every cell) and grid_*.png (methods side by side, activations under each image)
to --out (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import harness as bm
import numpy as np

from inverse_set.core.bands import in_band
from inverse_set.report.viz import image_grid

GRID_METHODS = ("ours", "ppgn", "rejection_prior", "real")  # a grid's rows: the default beside PPGN, the ideal, real


def grid(cell, samples, rows_methods, ctx, path):
    batched, *_ = ctx.activation(cell)
    rows, caps, titles = [], [], []
    z1, z2 = np.asarray(cell.z1), np.asarray(cell.z2)
    for method in rows_methods:
        images = samples.get(method)
        if images is None or len(images) == 0:
            continue
        acts = batched(images).reshape(len(images), -1)
        inside = in_band(acts, z1, z2)
        # ten in-band samples spread over the run; with fewer in band, each of them once, then out-of-band ones
        members, others = np.flatnonzero(inside), np.flatnonzero(~inside)
        pick = members[np.linspace(0, len(members) - 1, 10).astype(int)] if len(members) >= 10 else \
            np.concatenate([members, others[: 10 - len(members)]])
        rows.append(list(images[pick]))
        caps.append([("" if inside[i] else "out ") + " ".join(f"{a:.1f}" for a in acts[i]) for i in pick])
        titles.append(method)
    band = ", ".join(f"[{a:.2f}, {b:.2f}]" for a, b in zip(cell.z1, cell.z2))
    name = cell.name.replace("∧", "and")  # the picture's font has no ∧
    image_grid(rows, caps, titles, scale=2, title=f"{name}: band {band}").save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--bands", default=",".join(bm.LEVELS), help="levels: p50, p95, p99.9, max+, … "
                        "(any percentile the zoo's stats have)")
    parser.add_argument("--methods", default=",".join(bm.METHODS),
                        help=f"of {', '.join(bm.METHODS + bm.OPTIONAL_METHODS)}")
    parser.add_argument("--n", type=int, default=bm.Budget.n)
    parser.add_argument("--no-extra", action="store_true", help="skip the intersections and hidden units")
    parser.add_argument("--include-dev", action="store_true", help="also run the dev cells (harness.DEV_CELLS)")
    parser.add_argument("--gram-classes", default="1", help="class cells the Gram baseline runs on (it costs "
                        "Lucid's 512 steps per batch; default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="short baseline runs, 2000 training images and few "
                        "rejection draws (a smoke test)")
    parser.add_argument("--grid-classes", default="1,5,9", help="classes to draw method grids for")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--report-only", action="store_true", help="rewrite results.md from --out/results.json")
    parser.add_argument("--resume", action="store_true", help="keep the rows of --out/results.json and run only the "
                        "cells it lacks (same budget and machine)")
    parser.add_argument("--add", metavar="METHODS", help="add these methods' rows to the cells --out/results.json "
                        "holds (of --classes and --bands), each scored on its cell's stored n_scored; cells that "
                        "have them are skipped (same budget and machine)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        write_report(json.loads((out / "results.json").read_text()), out)
        return
    if args.add:
        add_methods(args, argv, parser)
        return

    budget = bm.Budget(n=args.n)
    if args.quick:
        budget = replace(budget, ppgn_chains=3, dgn_restarts=5, dgn_steps=30, gram_n=10, gram_steps=30,
                         rejection_max_draws=2000, min_scored=min(budget.min_scored, 5), bootstrap=10, joint_n=10,
                         joint_steps=50)
    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in bm.METHODS + bm.OPTIONAL_METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {', '.join(bm.METHODS + bm.OPTIONAL_METHODS)}")
    out.mkdir(parents=True, exist_ok=True)
    given = list(argv if argv is not None else sys.argv[1:])
    command = shlex.join(["python", "benchmarks/diversity.py", *given])
    rules = {k: v for k, v in vars(args).items() if k not in ("resume", "out", "report_only")}  # what rows depend on
    previous = json.loads((out / "results.json").read_text()) if args.resume and (out / "results.json").exists() \
        else None
    if previous and (previous.get("flags") != rules or previous["budget"] != asdict(budget)
                     or previous["machine"] != bm.machine()):
        raise SystemExit(f"--resume: the flags, budget or machine differ from the stored run's "
                         f"({previous.get('flags')}, {previous['machine']}); resume only with the same flags on the "
                         "same machine.")
    t_start = time.perf_counter()
    ctx = bm.Context(max_train=2000 if args.quick else 60_000)
    classes = [int(c) for c in args.classes.split(",") if c]
    cells = bm.class_cells(ctx.zoo.stats, classes, args.bands.split(","))
    if not args.no_extra:
        cells += bm.extra_cells(ctx, args.bands.split(","))
    dev = bm.dev_cells(ctx.zoo.stats)
    split = {c.name: bm.split_of(c, dev) for c in cells}
    if not args.include_dev:
        cells = [c for c in cells if split[c.name] == "report"]
    cells = interleaved(cells)
    done = {r["cell"] for r in previous["rows"]} if previous else set()
    grid_classes = {int(c) for c in args.grid_classes.split(",") if c}
    gram_classes = {int(c) for c in args.gram_classes.split(",") if c}
    adapted = bm.adaptations(budget)
    adapted["gram_diversity"] += f"; run on the {', '.join(ctx.zoo.class_names[c] for c in sorted(gram_classes))} " \
                                 "cells only (its cost)"
    if previous:
        ctx.forward_cost = previous["forward_over_fwd_bwd"]  # the rows already stored were costed with it
    payload = {"commands": (previous["commands"] if previous else []) + [command], "machine": bm.machine(),
               "flags": rules,
               "budget": asdict(budget), "adaptations": adapted,
               "forward_over_fwd_bwd": ctx.forward_cost, "min_reference": bm.MIN_REFERENCE,
               "split": {"dev": [d.name for d in dev] + [name for name, v in split.items() if v == "dev"],
                         "report": [name for name, v in split.items() if v == "report"]},
               "total_time_s": previous["total_time_s"] if previous else 0.0,
               "rows": previous["rows"] if previous else []}
    shared = {}  # PPGN and DGN-AM runs, one per neuron, shared by its bands
    for i, cell in enumerate(cells):
        if cell.name in done:
            continue
        cell_methods = [m for m in methods if m != "gram_diversity" or cell.class_index in gram_classes]
        cell_methods = [m for m in cell_methods if m != "joint" or i == 0]  # eq. 5 is quadratic: one cell only
        t_cell = time.perf_counter()
        print(f"[{i + 1}/{len(cells)}] {cell.name}  band {cell.z1} – {cell.z2}", flush=True)
        runs = bm.run_cell(ctx, cell, budget, cell_methods, shared=shared)
        rows = bm.score_cell(ctx, cell, runs, budget)
        for row in rows:
            row["split"] = split[cell.name]
        payload["rows"] += bm.as_json(rows)
        print(f"  scored on n = {max(r['n_scored'] for r in rows)} ({time.perf_counter() - t_cell:.0f} s)", flush=True)
        if cell.class_index in grid_classes or cell.kind != "class":
            safe = "".join(ch if ch.isalnum() else "_" for ch in cell.name)
            grid(cell, {r.method: r.images for r in runs}, [m for m in GRID_METHODS if m in methods], ctx,
                 out / f"grid_{safe}.png")
        payload["total_time_s"] += time.perf_counter() - t_start
        t_start = time.perf_counter()
        save(payload, out / "results.json")
    save(payload, out / "results.json")
    write_report(payload, out)
    print(f"wrote {out}/results.json, results.md and grids ({payload['total_time_s'] / 60:.1f} min in all)")


def add_methods(args, argv, parser) -> None:
    """``--add``: run more methods on the stored cells and score them on each cell's ``n_scored``.

    ``rejection_prior`` and ``real`` run again (not stored) for the references they give: same keys, same draws. A
    method with fewer in-band samples than the cell's ``n_scored`` is listed with its count, not scored.
    """
    out = Path(args.out)
    added = args.add.split(",")
    unknown = [m for m in added if m not in bm.METHODS + bm.OPTIONAL_METHODS or m in ("rejection_prior", "real")]
    if unknown:
        parser.error(f"--add: unknown or reference methods {unknown}; known: "
                     f"{', '.join(m for m in bm.METHODS + bm.OPTIONAL_METHODS if m not in ('rejection_prior', 'real'))}")
    if not (out / "results.json").exists():
        raise SystemExit(f"--add: no {out}/results.json to add rows to; run the benchmark first.")
    payload = json.loads((out / "results.json").read_text())
    budget = bm.Budget(**payload["budget"])
    if payload["machine"] != bm.machine() or budget.n != args.n:
        raise SystemExit(f"--add: the machine or n differ from the stored run's ({payload['machine']}, n = "
                         f"{payload['budget']['n']}); add rows only on the same machine with the same n.")
    given = list(argv if argv is not None else sys.argv[1:])
    payload["commands"].append(shlex.join(["python", "benchmarks/diversity.py", *given]))
    ctx = bm.Context(max_train=2000 if payload["flags"]["quick"] else 60_000)
    ctx.forward_cost = payload["forward_over_fwd_bwd"]
    bands = args.bands.split(",")
    cells = bm.class_cells(ctx.zoo.stats, [int(c) for c in args.classes.split(",") if c], bands)
    if not payload["flags"]["no_extra"]:
        cells += bm.extra_cells(ctx, bands)
    stored = {}
    for r in payload["rows"]:
        stored.setdefault(r["cell"], {})[r["method"]] = r
    todo = [c for c in interleaved(cells) if c.name in stored and any(m not in stored[c.name] for m in added)]
    for i, cell in enumerate(todo):
        t_start = time.perf_counter()
        methods = [m for m in added if m not in stored[cell.name]]
        n_scored = max(r["n_scored"] for r in stored[cell.name].values()) or None  # none scored: the usual rule
        print(f"[{i + 1}/{len(todo)}] {cell.name}: adding {', '.join(methods)}", flush=True)
        runs = bm.run_cell(ctx, cell, budget, [*methods, "rejection_prior", "real"])
        split = next(iter(stored[cell.name].values())).get("split", "report")
        rows = [{**row, "split": split} for row in bm.score_cell(ctx, cell, runs, budget, n_scored=n_scored)
                if row["method"] in methods]
        payload["rows"] += bm.as_json(rows)
        payload["total_time_s"] += time.perf_counter() - t_start
        save(payload, out / "results.json")
    write_report(payload, out)
    print(f"added {', '.join(added)} to {len(todo)} cells of {out}/results.json")


def save(payload: dict, path: Path) -> None:
    """Write results.json whole or not at all (a run stopped mid-write keeps the previous file)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)


def interleaved(cells: list) -> list:
    """The cells neuron by neuron (every level of one neuron together, as PPGN and DGN-AM runs are shared by them),
    class neurons alternating with the intersections and hidden units, so that a stopped run (--resume continues
    it) has every level of every kind."""
    groups: dict = {}
    for cell in cells:
        groups.setdefault(cell.neurons, []).append(cell)
    classes = [g for g in groups.values() if g[0].kind == "class"]
    others = [g for g in groups.values() if g[0].kind != "class"]
    order = [g for pair in zip(classes, others) for g in pair]
    order += classes[len(others):] + others[len(classes):]
    return [cell for group in order for cell in group]


def write_report(payload, out: Path):
    """results.md from the payload of results.json (``--report-only`` redoes it from the file)."""
    fmt = lambda v: "–" if v is None else f"{v:.3g}"
    def ci(r, k):
        return "" if not r.get(k + "_ci90") else f" [{fmt(r[k + '_ci90'][0])}, {fmt(r[k + '_ci90'][1])}]"
    report = [r for r in payload["rows"] if r.get("split", "report") == "report"]
    dev = [r for r in payload["rows"] if r.get("split") == "dev"]
    md = ["# Diversity benchmark\n", "Commands (a later one continues the run with --resume):  "
          if len(payload["commands"]) > 1 else "Command:  ", *[f"`{c}`  " for c in payload["commands"]],
          f"Machine: {payload['machine']}; total {payload['total_time_s'] / 60:.1f} min  ",
          f"Budget: {payload['budget']}\n",
          ("**Rules.** Every method of a cell is scored on the same `n_scored`: the smallest in-band count among "
          f"the methods that reached at least {payload['budget']['min_scored']} (the first `n_scored` in-band samples "
          "of each, in the order returned); a method with fewer is listed with its count and not scored. Measures "
          "are in the judge network's feature space: coverage, density, precision, recall and Fréchet distance "
          "against a random half of the real in-band images (training and test sets; `n_reference` of them); the "
          "`real` row is the other half. `*_prior`: against independent draws from the prior the default samples "
          "(the other half of `rejection_prior`'s draws), so `rejection_prior`'s own row is the ideal sampler of "
          "that target. `vendi_quality`: Vendi × the fraction of samples inside the real reference's k-NN balls. "
          "`path_similarity`: mean over the target's layers of min(1, d(real, ref) / d(samples, ref)), d the "
          "Fréchet distance of the layer's activations (conv maps pooled over space), `real` the real row at the "
          "same n (so the real row itself has none). **Few or no real members** (a reference of fewer than "
          f"{payload['min_reference']}; `beyond_data`: none at all, e.g. `max+`): coverage, density, precision, "
          "recall, Fréchet distance and path similarity cannot be measured (no real members to compare with); "
          "`precision_class` (against every real test image of the class; of all test images for a hidden unit) "
          "is the quality of `vendi_quality` there, and judge agreement and Vendi are shown. **Cost**: "
          "`cost_per_in_band` counts forward+backward passes plus forward-only passes at their measured cost, "
          f"{payload['forward_over_fwd_bwd']:.2f} of a forward+backward (prior, G and target, this machine), over "
          "the in-band samples (none: no figure; `cost_total` holds what was spent); `wall_s` excludes compilation "
          "(`compile_s`). Medians over cells. Bootstrap 90% intervals (results.json and the per-cell table): "
          "precision's per-sample terms and recall's and coverage's per-reference terms resampled; Fréchet's "
          "samples resampled, the interval centred on the estimate.\n"),
          (f"**Split.** The defaults were chosen on the dev cells (docs/decisions/); every cell "
          f"whose band overlaps one of theirs is dev too: {', '.join(payload['split']['dev'])}. The headline below "
          "is the report split, which contains none of them.\n"),
          "**Baselines as configured** (adaptations to our models):\n",
          *[f"- `{k}`: {v}" for k, v in payload["adaptations"].items()], "",
          "## Headline (report split)\n", bm.summary_table(report), "",
          "## Against the ideal sampler of the default's target\n",
          ("Per cell, the method's figure over `rejection_prior`'s (1.0: as good as independent draws from the prior; "
          "Fréchet: lower is better, so above 1 is worse), medians over cells where both are scored.\n"),
          bm.ideal_ratios(report), ""]
    if dev:
        md += ["## Dev cells (not in the headline)\n", bm.summary_table(dev), ""]
    md += ["## Every cell\n",
           ("| cell | method | in band | n_scored | coverage [90%] | precision [90%] | recall [90%] | Fréchet [90%] | "
           "recall vs prior | Vendi | qVendi | agreement | path sim. | cost/sample | wall s | note |"),
           "|" + "---|" * 16]
    for r in sorted(payload["rows"], key=lambda r: (r["cell"], bm.block_rank(r["kind"], r["band"], r["method"]))):
        md.append(f"| {r['cell']} | {r['method']} | {r['n_in_band']}/{r['n_returned']} | {r['n_scored']} | "
                  f"{fmt(r['coverage'])}{ci(r, 'coverage')} | {fmt(r['precision'])}{ci(r, 'precision')} | "
                  f"{fmt(r['recall'])}{ci(r, 'recall')} | {fmt(r['frechet_judge'])}{ci(r, 'frechet_judge')} | "
                  f"{fmt(r['recall_prior'])} | {fmt(r['vendi_judge'])} | {fmt(r['vendi_quality'])} | "
                  f"{fmt(r['judge_agreement'])} | {fmt(r['path_similarity'])} | {fmt(r['cost_per_in_band'])} | "
                  f"{fmt(r['wall_s'])} | {r['note']} |")
    (out / "results.md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
