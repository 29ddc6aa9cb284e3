"""Time per sample against rejection's, and the largest N that fits, on whatever device JAX runs on.

Issue 19's target 5 ("on a GPU: time per sample vs rejection there, and the largest N that fits"): run it on the
machine whose device is to be measured. For each N, doubling from ``--n`` until ``--max-n``, until a run takes longer
than ``--max-run-s`` or until the device runs out of memory, on one class cell:

* the default method with n = N samples (its ladder moves N = n particles), run twice with the same key: the first
  compiles, the second is timed (compilation apart); its forward passes per sample, and the device's peak memory
  (the allocator's own figure where the device keeps one, else XLA's memory analysis of the executable);
* rejection from the same prior, N codes a batch (the same batch as the ladder's moves): its wall time per draw,
  timed over ``--rejection-batches`` batches (compilation apart), times its draws per sample, 1 / the band's
  mass (rejection's own acceptance where it hit at least 100 times, else the ladder's estimate, said so in the
  row): so a tail where rejection would take hours is still compared, at its expected time.

The last line says the largest N that ran, and what stopped the doubling.

    python benchmarks/device_scale.py                                   # Sneaker p95, N = 500, 1000, … 64000
    python benchmarks/device_scale.py --n 500 --max-n 2000              # a few minutes on 2 CPU cores
    python benchmarks/device_scale.py --classes 2 --bands p99 --max-n 1000000 --max-run-s 300   # on a GPU
"""

from __future__ import annotations

import argparse

import harness as bm
import jax
from speed import memory

import generators
from inverse_set import make_sampler
from inverse_set.evaluation.baselines import rejection

OUT_OF_MEMORY = ("RESOURCE_EXHAUSTED", "out of memory", "Out of memory", "OOM")


def out_of_memory(err: Exception) -> bool:
    """Whether an error is the device running out of memory (the doubling's end), not a bug."""
    return any(s in str(err) for s in OUT_OF_MEMORY)


def peak_memory_mb(executable) -> tuple[float | None, str]:
    """The device's peak memory in MB and where the figure comes from: the allocator's peak where the device keeps
    one (GPUs), else XLA's analysis of the executable (arguments + outputs + temporaries)."""
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20, "allocator's peak"
    if executable is None:
        return None, "–"
    return memory(executable)[0], "XLA's analysis"


def ladder_row(zoo, cell, n: int, key: int) -> dict:
    """The default method at n = N: compiled by a first run, timed by a second with the same key."""
    sampler = make_sampler(list(cell.neurons), n, models=zoo)
    first = sampler.sample(cell.z1, cell.z2, key)
    res = sampler.sample(cell.z1, cell.z2, key)
    s, m = res.stats, len(res.codes)
    memory, source = peak_memory_mb(sampler.compiled.executable())
    return {"n": n, "returned": m, "compile_s": first.stats.compile_time_s, "run_s": s.run_time_s,
            "s_per_sample": s.run_time_s / m, "passes_per_sample": (s.forward_evaluations
                                                                  + 3 * s.gradient_evaluations) / m,
            "band_mass": s.band_mass, "start": s.population_start, "memory_mb": memory, "memory_source": source}


def rejection_per_draw(zoo, cell, batch: int, batches: int, key: int) -> dict:
    """Rejection from the prior, ``batch`` codes at a time: seconds per draw over ``batches`` batches, and its
    hits."""
    activation = bm.cell_activation(zoo.target, bm.layer_shapes(zoo.target), cell.neurons)[0]
    draws = batch * batches  # as many draws as hits asked for: it runs them all (its compilation timed apart)
    res = rejection(zoo.generator, activation, zoo.init, cell.z1, cell.z2, draws, max_draws=draws,
                    chunk=batch, rng_key=jax.random.key(key))
    return {"s_per_draw": res.wall_time_s / res.info["draws"], "draws": res.info["draws"],
            "hits": round(res.info["acceptance_rate"] * res.info["draws"])}


def row_text(cell, r: dict, rej: dict) -> tuple[str, float]:
    """One table row, and rejection's expected seconds per sample."""
    if rej["hits"] >= 100:
        per_sample, source = rej["draws"] / rej["hits"], "its acceptance"
    else:
        per_sample, source = 1 / r["band_mass"][0], "the ladder's mass"
    rejection_s = rej["s_per_draw"] * per_sample
    memory = "–" if r["memory_mb"] is None else f"{r['memory_mb']:.0f} ({r['memory_source']})"
    return (f"| {cell.name} | {r['n']} | {r['returned']} | {r['start']} | {r['compile_s']:.1f} | {r['run_s']:.2f} | "
            f"{r['s_per_sample'] * 1e3:.3g} | {r['passes_per_sample']:.1f} | {rej['s_per_draw'] * 1e6:.3g} | "
            f"{per_sample:.3g} ({source}) | {rejection_s * 1e3:.3g} | {r['s_per_sample'] / rejection_s:.3g} | "
            f"{memory} |"), rejection_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bm.add_cell_arguments(parser, classes="7", bands="p95", keys="0")
    parser.add_argument("--n", type=int, default=500, help="the first N (= n), doubled each row")
    parser.add_argument("--max-n", type=int, default=64_000, help="the largest N tried")
    parser.add_argument("--max-run-s", type=float, default=120.0,
                        help="no larger N once one run (compilation apart) took this long")
    parser.add_argument("--rejection-batches", type=int, default=10, help="batches of N draws timed for rejection")
    parser.add_argument("--out", default=None, help="write the table to this Markdown file too")
    args = parser.parse_args(argv)
    if args.n < 1 or args.max_n < args.n:
        parser.error(f"--n {args.n} --max-n {args.max_n}: N starts at 1 or more and --max-n is at least --n")
    if args.rejection_batches < 1:
        parser.error(f"--rejection-batches {args.rejection_batches}: at least one batch")
    zoo = generators.load("fashion")
    cells = bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(","))
    key = int(args.keys.split(",")[0])
    lines = [(f"Device: {jax.devices()[0].device_kind} ({jax.default_backend()}), {len(jax.devices())} visible; "
             "the sampler runs on the first.\n"),
             ("| cell | N = n | returned | start | compile s | run s | ms/sample | passes/sample | rejection µs/draw "
             "(batch N) | rejection draws/sample | rejection ms/sample | ÷ rejection | peak memory MB |"),
             "|" + "---|" * 13]
    print("\n".join(lines), flush=True)
    for cell in cells:
        n, largest, why = args.n, None, f"--max-n {args.max_n} reached"
        while n <= args.max_n:
            try:
                r = ladder_row(zoo, cell, n, key)
                rej = rejection_per_draw(zoo, cell, n, args.rejection_batches, key)
            except Exception as err:
                if not out_of_memory(err):
                    raise
                why = f"N = {n} did not fit: {str(err).splitlines()[0][:200]}"
                break
            lines.append(row_text(cell, r, rej)[0])
            print(lines[-1], flush=True)
            largest = n
            if r["run_s"] > args.max_run_s:
                why = f"N = {n} took {r['run_s']:.0f} s (> --max-run-s {args.max_run_s:g})"
                break
            n *= 2
        lines.append(f"\n{cell.name}: the largest N that ran is {largest}; the doubling stopped because {why}.\n")
        print(lines[-1], flush=True)
    if args.out:
        bm.write_page(args.out, "Time per sample and the largest N, on one device", "benchmarks/device_scale.py",
                      argv, "\n\n".join(__doc__.split("\n\n")[1:4]), lines)


if __name__ == "__main__":
    main()
