"""Diversity, coverage, realism and cost of our sampler against the baselines.

For every class neuron of the bundled classifier and bands centred on the 50th,
95th and 99.9th percentile of the class's own test-image logits, run every
method at the same n and measure its samples in the judge's feature space (see
benchmarks/harness.py). Also two intersections and two hidden units (our
method and rejection sampling; the other baselines target one class unit).

    python benchmarks/diversity.py                        # the full run (n = 500)
    python benchmarks/diversity.py --classes 8,1 --bands p50 --n 50 --quick --out /tmp/bench

Writes results.json (every row), results.md (mean ± std over neurons per band
and method, with the command and machine) and grid_*.png (methods side by side,
activations under each image) to --out (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

import harness as bm
from inverse_set.bands import in_band
from inverse_set.viz import image_grid


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
        # ten samples spread over the run, in-band ones first
        order = np.concatenate([np.flatnonzero(inside), np.flatnonzero(~inside)])
        pick = order[np.linspace(0, max(inside.sum(), 10) - 1, 10).astype(int).clip(0, len(order) - 1)]
        rows.append(list(images[pick]))
        caps.append([("" if inside[i] else "out ") + " ".join(f"{a:.1f}" for a in acts[i]) for i in pick])
        titles.append(method)
    band = ", ".join(f"[{a:.2f}, {b:.2f}]" for a, b in zip(cell.z1, cell.z2))
    image_grid(rows, caps, titles, scale=2, title=f"{cell.name}: band {band}").save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--bands", default="p50,p95,p99.9")
    parser.add_argument("--methods", default=",".join(bm.METHODS))
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--no-extra", action="store_true", help="skip the intersections and hidden units")
    parser.add_argument("--quick", action="store_true", help="short baseline runs and 2000 training codes as "
                        "rejection's prior (for a smoke test)")
    parser.add_argument("--gram-steps", type=int, default=bm.Budget.gram_steps)
    parser.add_argument("--dgn-steps", type=int, default=bm.Budget.dgn_steps)
    parser.add_argument("--joint-n", type=int, default=bm.Budget.joint_n)
    parser.add_argument("--joint-steps", type=int, default=bm.Budget.joint_steps)
    parser.add_argument("--grid-classes", default="8,1,3", help="classes to draw method grids for")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--report-only", action="store_true", help="rewrite results.md from --out/results.json")
    parser.add_argument("--merge", action="store_true",
                        help="add this run's rows to --out/results.json, replacing rows of the same cell and method "
                             "(to split the full run over several sessions)")
    args = parser.parse_args(argv)
    if args.report_only:
        write_report(json.loads((Path(args.out) / "results.json").read_text()), Path(args.out))
        return

    budget = bm.Budget(n=args.n, gram_steps=args.gram_steps, dgn_steps=args.dgn_steps, joint_n=args.joint_n,
                       joint_steps=args.joint_steps)
    if args.quick:
        budget = replace(budget, ppgn_chains=3, dgn_steps=30, gram_steps=30, rejection_max_draws=2000, joint_n=10,
                         joint_steps=50)
    methods = args.methods.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    ctx = bm.Context(max_train=2000 if args.quick else 20_000)
    classes = [int(c) for c in args.classes.split(",") if c]
    cells = bm.class_cells(ctx.zoo.stats, classes, args.bands.split(","))
    if not args.no_extra:
        cells += bm.extra_cells(ctx)
    grid_classes = {int(c) for c in args.grid_classes.split(",") if c}
    rows, shared = [], {}
    for i, cell in enumerate(cells):
        cell_methods = [m for m in methods if m != "joint" or i == 0]  # eq. 5 is quadratic: one cell only
        if i and cell.neurons != cells[i - 1].neurons:
            shared.clear()  # PPGN and DGN-AM runs are shared by the bands of one neuron only
        print(f"[{i + 1}/{len(cells)}] {cell.name}  band {cell.z1} – {cell.z2}", flush=True)
        cell_rows, samples = bm.run_cell(ctx, cell, budget, cell_methods, shared=shared)
        rows += cell_rows
        if cell.class_index in grid_classes or cell.kind != "class":
            safe = "".join(ch if ch.isalnum() else "_" for ch in cell.name)
            grid(cell, samples, [m for m in bm.METHODS if m in samples], ctx, out / f"grid_{safe}.png")
    total = time.perf_counter() - t_start

    command = "python benchmarks/diversity.py " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = bm.machine()
    payload = {"commands": [command], "machine": machine, "budget": asdict(budget), "total_time_s": total,
               "rows": bm.as_json(rows)}
    if args.merge and (out / "results.json").exists():
        payload = merge(json.loads((out / "results.json").read_text()), payload)
    (out / "results.json").write_text(json.dumps(payload, indent=1))
    write_report(payload, out)
    print(f"wrote {out}/results.json, results.md and grids ({total / 60:.1f} min)")


def merge(old: dict, new: dict) -> dict:
    """Rows of both runs, by cell (in order of first appearance); a new row replaces an old one."""
    if old["budget"] != new["budget"] or old["machine"] != new["machine"]:
        raise SystemExit(f"--merge: budget or machine differ from the stored run's ({old['budget']}, "
                         f"{old['machine']}); merge only runs with the same flags on the same machine.")
    by_cell: dict = {}
    for r in old["rows"] + new["rows"]:
        by_cell.setdefault(r["cell"], {})[r["method"]] = r
    rows = [r for methods in by_cell.values() for r in methods.values()]
    commands = old.get("commands", [old.get("command")]) + new["commands"]
    return {**new, "commands": commands, "total_time_s": old["total_time_s"] + new["total_time_s"], "rows": rows}


def write_report(payload, out: Path):
    """results.md from the payload of results.json (``--report-only`` redoes it from the file)."""
    commands = payload.get("commands", [payload.get("command")])
    md = [f"# Diversity benchmark\n", "Commands (rows of a later command replace those of the same cell and "
          "method):  " if len(commands) > 1 else "Command:  ", *[f"`{c}`  " for c in commands],
          f"Machine: {payload['machine']}; total {payload['total_time_s'] / 60:.1f} min  ",
          f"Budget: {payload['budget']}\n",
          "Measures in the judge network's feature space unless labelled encoder; diversity on the in-band "
          "samples; coverage, density, precision and Fréchet distance against half of the real in-band test "
          "images, the other half being the `real` row. Means ± std over the cells (neurons) that have a "
          "value; `–`: not measurable (too few in-band samples or references). PPGN, DGN-AM, the Gram "
          "baseline and eq. 5 target one class unit: they have no intersection or hidden-unit rows. PPGN and "
          "DGN-AM runs are per neuron and counted against each band. Our in-band rate is over the samples "
          "returned; a cell where our seeds could not reach the band (InfeasibleBandError) returns none and is "
          "counted in 'cells with no in-band sample'. `ours_realism` is our sampler with the realism constraint "
          "r(c) = mean((E(G(c)) − c)²) ≤ τ, τ the 90th percentile of r on codes of real training images.\n",
          bm.summary_table(payload["rows"]), "", "## Every cell", "",
          "| cell | method | in-band | vendi judge | coverage | precision | agreement | evals/sample | note |",
          "|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v: "–" if v is None else f"{v:.3g}"  # noqa: E731
    for r in payload["rows"]:
        md.append(f"| {r['cell']} | {r['method']} | {r['n_in_band']}/{r['n_returned']} | {fmt(r['vendi_judge'])} | "
                  f"{fmt(r['coverage'])} | {fmt(r['precision'])} | {fmt(r['judge_agreement'])} | "
                  f"{fmt(r['evals_per_in_band'])} | {r['note']} |")
    (out / "results.md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
