"""Independent samples: each method against independent draws from the same prior, by the targets of issue 19.

For each cell, the methods (default: ``ladder``, the ``"prior-ladder"`` method,
the default, and ``slice``, ``"prior-slice"``, the previous one) beside ``rejection_prior`` — 2n draws from the prior
kept in band, alternately its row (the ideal sampler of the target: independent
draws) and the reference — and ``real``, all scored by ``harness.score_cell`` on
the same n. Per cell and method it prints:

1. representativeness, as ratios to the ideal row's figures against the same
   reference: recall, coverage, Fréchet distance, and the Vendi score of the last
   100 samples (the ideal's last 100 as the scale);
2. cost: wall time per sample (compilation apart) and forward passes per sample
   (a forward+backward counted as 3) over rejection's — where rejection fell
   short, its expected figures from its measured acceptance (none at all:
   "> max draws"); the regime by rejection's draws per sample (``mid`` below 30:
   at most 1×; 30–1000: at most 1/10; beyond 1000: at most 1/100, and the tail
   targets: all in band, judge agreement ≥ 0.95 or within 0.05 of the class's
   real top-1% images' own, Vendi ≥ 0.9× the method's at the class's p99 band
   when that cell ran);
3. the band's mass: the method's estimate and interval beside rejection's
   acceptance where rejection had ≥ 100 hits, and whether each lies in the
   other's interval;

then, per method, the geometric means of the ratios of 1 and of the forward
passes over the scored cells it climbed (one cell's Fréchet ratio is
noise-bound at n ≈ 100: the means decide); per class cell, the ladder's band
mass over three nested bands (the cell's band and the bands two and four times
as wide around the same centre: the masses must grow), and with ``--windows M``
the Vendi of every window of 100 along a run of M samples of each method on the
first cell (or ``--windows-cell``), over the ideal's last-100 Vendi.
The dev split is the harness's dev cells and the cells overlapping them (the
defaults are chosen there); the report split is the rest.

    python benchmarks/independence.py --split dev                  # choose on these
    python benchmarks/independence.py --split report               # report on these
    python benchmarks/independence.py --classes 1 --bands p95 --n 100 --quick --out /tmp/ind   # a smoke test

Writes independence_<split>.json (every row) and independence_<split>.md, and
grids of the p50, p99.9 and max+ cells (method rows beside rejection's and the
real images') to --out (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import harness as bm
import numpy as np
from diversity import grid, save

from inverse_set import sample_inverse_set

DEV_LEVELS = ("p50", "p95", "p99", "p99.9")  # with harness.DEV_CELLS' own bands, the dev cells are those overlapping
REPORT_CLASSES, REPORT_LEVELS = "1,2,5", "p50,p95,p99,p99.9,max+"
GRID_LEVELS = ("p50", "p99.9", "max+")
METHODS = ("ladder", "slice", "ours")  # --methods: "prior-ladder", "prior-slice", whatever is the default
REGIMES = ((30, "mid", 1.0), (1000, "p90–p99", 0.1), (np.inf, "tail", 0.01))  # rejection's draws per sample


def regime(draws_per_sample: float) -> tuple[str, float]:
    """The cost regime of a cell by rejection's draws per sample, and the target ratio of cost to rejection's."""
    return next((name, target) for limit, name, target in REGIMES if draws_per_sample < limit or limit == np.inf)


def rejection_cost(ideal: dict, n: int, max_draws: int) -> dict:
    """Rejection's draws, wall time and forward passes per sample, expected from its acceptance where it fell short."""
    hits = round(ideal["acceptance_rate"] * ideal["draws"])
    per_draw = ideal["wall_s"] * 2 / max(ideal["draws"], 1)  # its row is charged half its draws' time
    # no hit at all: at least all its draws per sample, so the ratios below are upper bounds ("≤")
    draws = ideal["draws"] / max(hits, 1)
    return {"draws_per_sample": draws if hits else np.inf, "bound": not hits, "wall_per_sample": per_draw * draws,
            "forward_per_sample": draws, "short": hits < 2 * n, "hits": hits, "max_draws": max_draws}


def top_real_agreement(ctx, cell) -> float | None:
    """Judge agreement of the class's real test images at or above its 99th percentile of the logit."""
    if cell.class_index is None or cell.kind != "class":
        return None
    images = ctx.test_images[ctx.test_labels == cell.class_index]
    logit = ctx.activation(cell)[0](images).reshape(-1)
    top = images[logit >= np.percentile(logit, 99)]
    return float(np.mean(ctx.judge_logits(top).argmax(-1) == cell.class_index))


def cell_figures(rows: list[dict], budget: bm.Budget, agreement_real: float | None) -> list[dict]:
    """The targets' figures of every method row of one cell against its rejection_prior row."""
    by = {r["method"]: r for r in rows}
    ideal = by["rejection_prior"]
    cost = rejection_cost(ideal, budget.n, budget.rejection_max_draws)
    name, target = regime(cost["draws_per_sample"])
    out = []
    for method, r in by.items():
        if method in ("rejection_prior", "real", "rejection_real"):
            continue
        def ratio(k, r=r):
            a, b = r.get(k), ideal.get(k)
            return a / b if a is not None and b and np.isfinite(a) and np.isfinite(b) else None

        windows, ideal_windows = r.get("vendi_windows") or [], ideal.get("vendi_windows") or []
        fwd = r["forward_evals"] + 3 * r["gradient_evals"]
        m = min(r["n_in_band"], budget.n)
        mass = r.get("band_mass")
        p_hat = cost["hits"] / ideal["draws"] if ideal["draws"] else None
        p_sd = np.sqrt(p_hat * (1 - p_hat) / ideal["draws"]) if p_hat else None
        out.append({
            "cell": r["cell"], "band": r["band"], "method": method, "n_scored": r["n_scored"],
            "in_band": f"{r['n_in_band']}/{r['n_returned']}",
            "recall": ratio("recall_prior"), "coverage": ratio("coverage_prior"), "frechet": ratio("frechet_prior"),
            "vendi_last": windows[-1] / ideal_windows[-1] if windows and ideal_windows else None,
            "regime": name, "cost_target": target, "rejection_draws_per_sample": cost["draws_per_sample"],
            "rejection_short": cost["short"], "upper_bound": cost["bound"],
            "wall": (r["wall_s"] / m) / cost["wall_per_sample"] if m else None,
            "forward": (fwd / m) / cost["forward_per_sample"] if m else None,
            "forward_per_sample": fwd / m if m else None,
            "judge_agreement": r.get("judge_agreement"), "real_top_agreement": agreement_real,
            "vendi": r.get("vendi_judge"), "band_mass": mass, "rejection_mass": p_hat if cost["hits"] >= 100 else None,
            "rejection_mass_ci90": [p_hat - 1.645 * p_sd, p_hat + 1.645 * p_sd] if p_hat and cost["hits"] >= 100
            else None, "effective_sample_size": r.get("effective_sample_size"),
            "population_start": r.get("population_start"), "seed_steps": r.get("seed_steps")})
    return out


def nested_masses(ctx, cell, rng: int = 0) -> list:
    """The ladder's band mass over the cell's band and the bands 2 and 4 times as wide around its centre."""
    centre, half = (np.asarray(cell.z1) + np.asarray(cell.z2)) / 2, (np.asarray(cell.z2) - np.asarray(cell.z1)) / 2
    out = []
    for scale in (1, 2, 4):
        res = sample_inverse_set(list(cell.neurons), list(centre - scale * half), list(centre + scale * half), 200,
                                 models=ctx.zoo, method="prior-ladder", rng_key=rng)
        out.append(None if res.stats.band_mass is None else list(res.stats.band_mass))
    return out


def window_ratios(ctx, cell, methods, m, ideal_last: float | None) -> dict:
    """Vendi of each window of 100 along m samples of each method, over the ideal's last-100 Vendi."""
    out = {}
    for method in methods:
        res = sample_inverse_set(list(cell.neurons), list(cell.z1), list(cell.z2), m, models=ctx.zoo,
                                 method=bm.NAMED[method], rng_key=1)
        windows = bm.window_vendi(ctx.judge_features(np.asarray(res.images)))
        out[method] = [w / ideal_last for w in windows] if ideal_last else windows
    return out


def fmt(v, spec=".2f") -> str:
    return "–" if v is None else f"{v:{spec}}"


def table(figures: list[dict]) -> list[str]:
    lines = [("| cell | method | in band | n | recall ÷ ideal | coverage ÷ ideal | Fréchet ÷ ideal | Vendi last 100 ÷ "
             "ideal | regime (rejection draws/sample) | wall/sample ÷ rejection | fwd/sample ÷ rejection "
             "(target) | agreement (real top 1%) | band mass [90%] | rejection's [90%] | ESS | start | seed steps |"),
             "|" + "---|" * 17]
    for f in figures:
        mass = "–" if f["band_mass"] is None else "{:.3g} [{:.3g}, {:.3g}]".format(*f["band_mass"])
        rej = "–" if f["rejection_mass"] is None else "{:.3g} [{:.3g}, {:.3g}]".format(
            f["rejection_mass"], *f["rejection_mass_ci90"])
        draws = "> max" if not np.isfinite(f["rejection_draws_per_sample"]) else fmt(f["rejection_draws_per_sample"],
                                                                                      ".3g")
        lines.append(
            f"| {f['cell']} | {f['method']} | {f['in_band']} | {f['n_scored']} | {fmt(f['recall'])} | "
            f"{fmt(f['coverage'])} | {fmt(f['frechet'])} | {fmt(f['vendi_last'])} | {f['regime']} ({draws}"
            f"{', expected' if f['rejection_short'] else ''}) | {'≤ ' * f['upper_bound']}{fmt(f['wall'], '.3g')} | "
            f"{'≤ ' * f['upper_bound']}{fmt(f['forward'], '.3g')} "
            f"(≤ {f['cost_target']:g}) | {fmt(f['judge_agreement'])} ({fmt(f['real_top_agreement'])}) | {mass} | "
            f"{rej} | {fmt(f['effective_sample_size'], '.0f')} | {f['population_start'] or '–'} | "
            f"{fmt(f['seed_steps'], 'd')} |")
    return lines


def pooled(figures: list[dict]) -> list[str]:
    """Per method, over the scored cells it did not draw by rejection: the geometric means of its ratios to the
    ideal (one cell's Fréchet ratio moves by a third between keys at n ≈ 100: the mean over cells is what decides)
    and of its forward passes per sample over rejection's, and the cells within the Fréchet target."""
    lines = [("| method | cells | recall ÷ ideal | coverage ÷ ideal | Fréchet ÷ ideal | Fréchet ≤ 1.15× | "
             "fwd/sample ÷ rejection |"), "|" + "---|" * 7]
    for method in dict.fromkeys(f["method"] for f in figures):
        rows = [f for f in figures if f["method"] == method and f["frechet"] is not None
                and f["population_start"] != "rejection"]
        if not rows:
            continue

        def mean(k, rows=rows):
            v = [f[k] for f in rows if f[k] is not None]
            return float(np.exp(np.mean(np.log(v)))) if v else None

        lines.append(f"| {method} | {len(rows)} | {fmt(mean('recall'))} | {fmt(mean('coverage'))} | "
                     f"{fmt(mean('frechet'))} | {sum(f['frechet'] <= 1.15 for f in rows)} of {len(rows)} | "
                     f"{fmt(mean('forward'), '.3g')} |")
    return lines if len(lines) > 2 else ["- none scored"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("dev", "report"), default="dev")
    parser.add_argument("--classes", help=f"class cells to run (report default {REPORT_CLASSES}; dev: every class, "
                        "the cells overlapping the dev cells kept)")
    parser.add_argument("--bands", help=f"levels (report default {REPORT_LEVELS}; dev {','.join(DEV_LEVELS)})")
    parser.add_argument("--methods", default="ladder,slice", help="of ladder (\"prior-ladder\", the default "
                        "method), slice (\"prior-slice\", the previous default) and ours (whatever is the default)")
    parser.add_argument("--n", type=int, default=bm.Budget.n)
    parser.add_argument("--windows", type=int, default=2000, help="samples of the windows run (0: none)")
    parser.add_argument("--windows-cell", help="the cell of the windows run, e.g. 'Pullover p95' (default: the "
                        "first cell)")
    parser.add_argument("--no-nested", action="store_true", help="skip the nested-band masses")
    parser.add_argument("--rng", type=int, default=0, help="the key of every run (another: the figures' own noise)")
    parser.add_argument("--quick", action="store_true", help="few rejection draws and 2000 training images")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    if unknown := [m for m in methods if m not in METHODS]:
        parser.error(f"unknown methods {unknown}: give {', '.join(METHODS)}")
    budget = bm.Budget(n=args.n)
    if args.quick:
        budget = replace(budget, rejection_max_draws=4000, min_scored=5, bootstrap=10)
    ctx = bm.Context(max_train=2000 if args.quick else 60_000)
    stats, dev = ctx.zoo.stats, bm.dev_cells(ctx.zoo.stats)
    if args.split == "dev":
        classes = range(10) if args.classes is None else [int(c) for c in args.classes.split(",")]
        levels = DEV_LEVELS if args.bands is None else args.bands.split(",")
        cells = [c for c in bm.class_cells(stats, classes, levels) if bm.split_of(c, dev) == "dev"]
    else:
        classes = [int(c) for c in (args.classes or REPORT_CLASSES).split(",")]
        cells = [c for c in bm.class_cells(stats, classes, (args.bands or REPORT_LEVELS).split(","))
                 if bm.split_of(c, dev) == "report"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    given = list(argv if argv is not None else sys.argv[1:])
    payload = {"command": shlex.join(["python", "benchmarks/independence.py", *given]),
               "machine": bm.machine(), "budget": asdict(budget),
               "forward_over_fwd_bwd": ctx.forward_cost, "rows": [], "figures": [], "nested": {}, "windows": {}}
    t0 = time.perf_counter()
    figures, vendi_by_cell = [], {}
    for i, cell in enumerate(cells):
        print(f"[{i + 1}/{len(cells)}] {cell.name}  band {cell.z1} – {cell.z2}", flush=True)
        runs = bm.run_cell(ctx, cell, budget, [*methods, "rejection_prior", "real"], rng=args.rng)
        rows = bm.score_cell(ctx, cell, runs, budget, rng=args.rng)
        payload["rows"] += bm.as_json(rows)
        cell_fig = cell_figures(rows, budget, top_real_agreement(ctx, cell))
        figures += cell_fig
        vendi_by_cell[cell.name] = {f["method"]: f["vendi"] for f in cell_fig}
        print("\n".join(table(cell_fig)[2:]), flush=True)
        if cell.band_name in GRID_LEVELS:
            safe = "".join(ch if ch.isalnum() else "_" for ch in cell.name)
            grid(cell, {r.method: r.images for r in runs}, [*methods, "rejection_prior", "real"], ctx,
                 out / f"independence_{safe}.png")
        if not args.no_nested and "ladder" in methods:
            payload["nested"][cell.name] = nested_masses(ctx, cell)
            print(f"  nested bands ×1, ×2, ×4: masses {payload['nested'][cell.name]}", flush=True)
        if args.windows and (cell.name == args.windows_cell if args.windows_cell else i == 0):
            ideal = next(r for r in rows if r["method"] == "rejection_prior")
            last = (ideal.get("vendi_windows") or [None])[-1]
            payload["windows"][cell.name] = window_ratios(ctx, cell, methods, args.windows, last)
            print(f"  windows of 100 along {args.windows}, Vendi ÷ ideal's last 100: {payload['windows']}", flush=True)
        payload["figures"] = bm.as_json(figures)
        save(payload, out / f"independence_{args.split}.json")
    # the tail's collapse check: Vendi beyond the data over the same method's at the class's p99 band
    for f in figures:
        base = vendi_by_cell.get(f["cell"].rsplit(" ", 1)[0] + " p99", {}).get(f["method"])
        f["vendi_over_p99"] = f["vendi"] / base if base and f["vendi"] is not None else None
    payload["figures"] = bm.as_json(figures)
    payload["total_time_s"] = time.perf_counter() - t0
    save(payload, out / f"independence_{args.split}.json")
    nested = [f"- {name}: " + ", ".join("–" if m is None else f"{m[0]:.3g}" for m in masses)
              + ("" if all(m is not None for m in masses) and masses[0][0] < masses[1][0] < masses[2][0]
                 else " (not increasing)") for name, masses in payload["nested"].items()]
    windows = [f"- {name}, {method}: " + ", ".join(f"{w:.2f}" for w in ws)
               for name, by in payload["windows"].items() for method, ws in by.items()]
    tails = [f"- {f['cell']} {f['method']}: Vendi ÷ p99 band's {fmt(f['vendi_over_p99'])}" for f in figures
             if f["vendi_over_p99"] is not None and f["band"] in ("p99.9", "max+")]
    bm.write_page(str(out / f"independence_{args.split}.md"), f"Independent samples ({args.split} cells)",
                  "benchmarks/independence.py", given, __doc__.split("\n\n")[0], [
                      f"n = {budget.n}; {payload['total_time_s'] / 60:.1f} min in all.\n", *table(figures), "",
                      "Pooled over the scored cells each method climbed (geometric means):\n", *pooled(figures), "",
                      "Band masses over nested bands (the cell's, ×2, ×4 as wide):\n", *(nested or ["- none run"]), "",
                      f"Windows of 100 along {args.windows} samples, Vendi ÷ the ideal's last 100:\n",
                      *(windows or ["- none run"]), "", "Tail cells, Vendi over the p99 band's:\n",
                      *(tails or ["- none"])])


if __name__ == "__main__":
    main()
