"""Experiment (issue 53, beyond the data in 20 s): what a shorter ladder budget, or the slice walk, costs and gives
at bands above every test activation of a hidden unit, against the default.

For each fc6 unit of ``--units`` (hidden units no benchmark cell uses), its max+ band (:func:`harness.level_band`):
the default; the default with ``Ladder(max_moves_per_level=M, max_final_moves=F)`` for each ``--budgets`` pair M:F;
and ``"prior-slice"``. n samples, key 0; for each: wall time (compilation apart), forward passes a sample, how many
returned and in band, the effective sample size the ladder reports, and the judge-space Vendi score of the samples.

    python benchmarks/studies/beyond_budget.py --units 151,198 --budgets 10:40,4:16
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for the shared harness
import harness as bm

from inverse_set import Unit, get_method, make_sampler
from inverse_set.evaluation import metrics
from inverse_set.particles.state import Ladder
from inverse_set.report.viz import atlas_grid


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", default="151,198")
    parser.add_argument("--budgets", default="10:40,4:16", help="max_moves_per_level:max_final_moves pairs")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--out", default=None, help="a folder for one picture a unit: ten samples of each method")
    args = parser.parse_args()
    ctx = bm.Context()
    fc6 = ctx.real_encoder
    methods = [("default", get_method("prior-ladder"))]
    base = get_method("prior-ladder")
    for pair in args.budgets.split(","):
        m, f = (int(v) for v in pair.split(":"))
        methods.append((f"ladder {m}:{f}", base.replace(walk=type(base.walk)(
            ladder=Ladder(max_moves_per_level=m, max_final_moves=f)))))
    methods.append(("prior-slice", get_method("prior-slice")))
    print("| unit | method | returned | in band | wall s | passes/sample | ESS | Vendi (judge) |")
    print("|---|---|---|---|---|---|---|---|")
    for u in (int(v) for v in args.units.split(",")):
        z1, z2 = bm.level_band(fc6[:, u], "max+")
        results = []
        for name, method in methods:
            sampler = make_sampler([Unit("fc6", u)], args.n, models=ctx.zoo, method=method)
            res = sampler.sample([z1], [z2], 0)  # run_time_s leaves the compilation out
            results.append(res)
            acts = np.asarray(res.activations).reshape(len(res.codes), -1)[:, 0]
            inside = int(np.sum((acts >= z1) & (acts <= z2)))
            s = res.stats
            passes = (s.forward_evaluations + 3 * s.gradient_evaluations) / max(len(res.codes), 1)
            ess = s.effective_sample_size
            vendi = metrics.vendi_score(ctx.judge_features(np.asarray(res.images)) + 1e-9)
            print(f"| fc6[{u}] | {name} | {len(res.codes)} | {inside} | {s.run_time_s:.1f} | {passes:.0f} | "
                  f"{'–' if ess is None else f'{ess:.0f}'} | {vendi:.2f} |", flush=True)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            atlas_grid(results, row_titles=[name for name, _ in methods],
                       title=f"fc6[{u}] in [{z1:.2f}, {z2:.2f}], above every test image").save(f"{args.out}/fc6_{u}.png")


if __name__ == "__main__":
    main()
