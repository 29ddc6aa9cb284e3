"""Randomised problems with known inverse sets: is anything out of band, duplicated, or falsely infeasible?

Each problem is one of the tests' random reachable problems (tests/problems.py,
``draw_problem``): a generator G (sigmoid(c), or tanh(A c)), 1–4 neurons
(linear-logistic units, or small random MLPs), a known code c₀ and, for each
neuron, a band around its activation at G(c₀) — so c₀ lies in the intersection
and every band is reachable by construction — sometimes narrow (width 0.02),
sometimes code bounds around c₀, sometimes the "paper" method with other
settings. The sampler's returned images are rechecked in float64 NumPy,
independently of the package. The tests run a few of them; this runs hundreds.

    python benchmarks/fuzz.py [--problems 200] [--seed 0]
    python benchmarks/fuzz.py --narrow-intersections --problems 300   # issue 20's family: 2–4 narrow bands

Prints per-kind counts: problems, false "infeasible" reports, samples out of
band, duplicate samples, incomplete runs, other errors.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np

from inverse_set import IncompleteSampleWarning, InfeasibleBandError, sample_inverse_set

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from problems import draw_problem


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--narrow-intersections", action="store_true",
                        help="only intersections of 2–4 narrow bands (widths 0.005–0.1) over 6- or 8-d codes")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    counts = collections.defaultdict(collections.Counter)
    t0 = time.perf_counter()
    for i in range(args.problems):
        neurons, z1, z2, kwargs, excess, desc = draw_problem(rng, args.narrow_intersections)
        kind = desc.split()[0] + (f" p={len(z1)}" if args.narrow_intersections
                                  else " narrow" if "narrow" in desc else " wide")
        c = counts[kind]
        c["problems"] += 1
        n = kwargs.pop("n")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = sample_inverse_set(neurons, z1, z2, n, **kwargs)
        except InfeasibleBandError as err:
            c["false infeasible"] += 1
            print(f"  problem {i} ({desc}): false infeasible: {str(err).splitlines()[0][:200]}")
            continue
        except Exception as err:  # noqa: BLE001 — counted, and shown
            c[f"error {type(err).__name__}"] += 1
            print(f"  problem {i} ({desc}): {type(err).__name__}: {str(err).splitlines()[0][:160]}")
            continue
        c["samples"] += len(res)
        out = excess(res.images) if len(res) else np.zeros(0)
        c["out of band by > 1e-6 (float64 recheck)"] += int((out > 1e-6).sum())
        c["out of band by ≤ 1e-6 (float32 rounding)"] += int(((out > 0) & (out <= 1e-6)).sum())
        c["duplicate samples"] += len(res) - len(np.unique(res.codes, axis=0))
        incomplete = any(issubclass(w.category, IncompleteSampleWarning) for w in caught)
        c["incomplete"] += int(incomplete)
        if incomplete:
            print(f"  problem {i} ({desc}): incomplete, {len(res)} of {n} samples ({res.stats.method}, "
                  f"start {getattr(res.stats, 'population_start', None)})")
    total = sum(counts.values(), collections.Counter())
    keys = ["problems", "samples", "false infeasible", "out of band by > 1e-6 (float64 recheck)",
            "out of band by ≤ 1e-6 (float32 rounding)", "duplicate samples", "incomplete"] + sorted(k for k in total if k.startswith("error"))
    seconds = time.perf_counter() - t0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}; "
          f"{seconds:.0f} s ({seconds / args.problems:.1f} s per problem, compilation included); command: "
          f"python benchmarks/fuzz.py --problems {args.problems} --seed {args.seed}"
          f"{' --narrow-intersections' if args.narrow_intersections else ''}")
    print("| kind | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for kind in sorted(counts) + ["all"]:
        c = total if kind == "all" else counts[kind]
        print(f"| {kind} | " + " | ".join(str(c[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
