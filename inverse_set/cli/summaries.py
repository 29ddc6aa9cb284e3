"""The command line's summaries: ``show`` (a saved result) and ``bench`` (a benchmark results file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inverse_set.cli.arguments import UsageError
from inverse_set.core.bands import in_band
from inverse_set.report.viz import band_text, decimals
from inverse_set.results import InverseSetResult


def evaluations_text(stats) -> str:
    """The passes through the networks a run cost, both kinds."""
    return f"{stats.gradient_evaluations} forward+backward and {stats.forward_evaluations} forward-only passes"


def mass_text(stats) -> str:
    """The band's probability under the prior, for a method that estimates it (else nothing)."""
    if stats.band_mass is None:
        return ""
    estimate, low, high = stats.band_mass
    ess = "" if stats.effective_sample_size is None else \
        f"; worth about {stats.effective_sample_size:.0f} independent draws"
    return f"; the band holds {estimate:.3g} of the prior (90% interval {low:.3g}–{high:.3g}){ess}"


def cmd_show(args) -> int:
    path = Path(args.result)
    base = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    if not base.with_name(base.name + ".json").is_file():
        raise UsageError(f"{args.result}: no saved result there (expected {base}.json and {base}.npz, as "
                         "`sample --out DIR` writes to DIR/result)")
    res = InverseSetResult.load(base)
    s = res.stats
    run = base.parent / "run.json"  # the command line's names of the neurons (e.g. "Bag" for logits[8])
    labels = json.loads(run.read_text()).get("labels") if run.is_file() and base.name == "result" else None
    names = [f"{a} ({b})" if a != b else b for a, b in zip(labels, res.constraints)] if labels and len(
        labels) == len(res.constraints) else res.constraints
    print(f"{base}: {len(res)} of {res.n_requested} samples, {band_text(res.z1, res.z2, names)}")
    inside = in_band(res.activations, res.z1, res.z2)
    d = decimals(res.z1, res.z2)
    low, high = res.activations.min(0), res.activations.max(0)
    print(f"  all inside their bands: {bool(inside.all())}; activations from "
          + ", ".join(f"[{a:.{d}f}, {b:.{d}f}]" for a, b in zip(low, high)))
    seeds = "no seeds needed" if s.seed_status == "skipped" else f"seeds {s.seed_status} after {s.seed_steps} steps"
    print(f"  method {s.method!r}; {seeds}, walk {s.walk_status} after "
          f"{s.walker_steps} steps; {evaluations_text(s)}; run {s.run_time_s:.1f} s + compile "
          f"{s.compile_time_s:.1f} s{mass_text(s)}")
    return 0


BENCH_COLUMNS = ("n_scored", "in_band_rate", "coverage", "precision", "recall", "frechet_judge", "recall_prior",
                 "frechet_prior", "precision_class", "vendi_judge", "vendi_quality", "judge_agreement",
                 "path_similarity", "cost_per_in_band", "wall_s")


def cmd_bench(args) -> int:
    path = Path(args.results_file)
    if not path.is_file():
        raise UsageError(f"{path}: no benchmark results there; give a results.json written by "
                         "`python benchmarks/diversity.py`")
    data = json.loads(path.read_text())
    groups: dict = {}
    report = [row for row in data["rows"] if row.get("split", "report") == "report"]
    for row in report:
        groups.setdefault((row.get("kind", ""), row.get("band", ""), row["method"]), []).append(row)
    print(f"{path}: {len(report)} rows of the report split; medians over the cells where a figure exists (a "
          "method not scored in a cell has none there but its in-band rate and wall time; see `cells`); "
          f"machine: {data.get('machine', '?')}")
    print(" | ".join(["kind", "band", "method", "cells", *BENCH_COLUMNS]))
    for (kind, band, method), rows in groups.items():
        values = []
        for col in BENCH_COLUMNS:
            v = [r[col] for r in rows if isinstance(r.get(col), (int, float)) and r[col] == r[col]]
            values.append(f"{np.median(v):.3g}" if v else "–")
        print(" | ".join([kind, str(band), method, str(len(rows)), *values]))
    return 0
