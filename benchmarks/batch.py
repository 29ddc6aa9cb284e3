"""A layer at once: many units of fc6 in one sharded batch, against the same problems one by one.

Each problem is one fc6 unit of the bundled classifier at a band of its
activations on the test images (``--band``, default p50–p95; units whose band is
empty are skipped), n samples, key ``fold_in(key, b)``. The script splits the CPU
into ``--cpu-devices`` JAX devices (before JAX starts), compiles once, then times

* the problems one by one (``sample_inverse_set`` each, all on the first device),
* one ``sample_inverse_sets`` call over every device, for the first 8, 16, … and all
  the problems (how a batch's time grows with its size),

and prints problems per minute and the ratio, measured in one process. Every
batch member is checked to equal its separate call, sample for sample.

    python benchmarks/batch.py [--units 64] [--band p50,p95] [--n 100] [--cpu-devices 4]
                               [--out benchmarks/results/batch.md]
"""

from __future__ import annotations

import argparse
import sys
import time

import jax


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--band", default="p50,p95")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--cpu-devices", type=int, default=None)
    parser.add_argument("--key", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/batch.md")
    args = parser.parse_args(argv)
    if args.cpu_devices:
        jax.config.update("jax_num_cpu_devices", args.cpu_devices)  # before anything else touches JAX

    import harness as bm
    import numpy as np

    import generators
    from inverse_set import Unit, sample_inverse_set, sample_inverse_sets

    zoo = generators.load("fashion")
    low_name, high_name = args.band.split(",")
    units, bands = [], []
    for u in range(256):
        q = zoo.percentiles(Unit("fc6", u))
        if q[high_name] > q[low_name]:
            units.append(Unit("fc6", u))
            bands.append((q[low_name], q[high_name]))
        if len(units) == args.units:
            break
    key = jax.random.key(args.key)
    devices = jax.devices()
    t0 = time.perf_counter()
    sample_inverse_set(units[0], *bands[0], args.n, models=zoo, rng_key=0)  # compile
    compile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    single, elapsed = [], []  # elapsed[b]: seconds until problem b was done, one by one
    for b, (u, band) in enumerate(zip(units, bands)):
        try:
            single.append(sample_inverse_set(u, *band, args.n, models=zoo, rng_key=jax.random.fold_in(key, b)))
        except Exception as err:  # noqa: BLE001 (an infeasible unit is an outcome like any other)
            single.append(err)
        elapsed.append(time.perf_counter() - t0)
    lines = [(f"Devices: {len(devices)} × {devices[0].platform.upper()}; {len(units)} fc6 units at "
             f"{args.band}, n = {args.n}, K = 10; compile {compile_s:.1f} s (once).\n"),
             ("| problems | one by one s | batch s | problems / min one by one | problems / min batch | "
             "batch speed-up | members equal to their separate call |"), "|" + "---|" * 7]
    sizes = sorted({s for s in (8, 16, 32, len(units)) if s <= len(units)})
    for size in sizes:
        t0 = time.perf_counter()
        batch = sample_inverse_sets(units[:size], [b[0] for b in bands[:size]], [b[1] for b in bands[:size]],
                                    args.n, models=zoo, rng_key=key)
        wall = time.perf_counter() - t0
        same = sum(
            (isinstance(a, Exception) and type(a) is type(s))
            or (not isinstance(a, Exception) and not isinstance(s, Exception) and np.array_equal(a.codes, s.codes))
            for a, s in zip(batch, single[:size]))
        solo = elapsed[size - 1]
        lines.append(f"| {size} | {solo:.1f} | {wall:.1f} | {60 * size / solo:.1f} | {60 * size / wall:.1f} | "
                     f"{solo / wall:.2f} | {same} of {size} |")
        print(lines[-1], flush=True)
    errors = sum(isinstance(r, Exception) for r in single)
    lines += ["", (f"{errors} of the {len(units)} problems ended with an error (the same in the batch). One by one "
              "for the first m problems: the time until the m-th was done in the one sequence of separate calls.")]
    bm.write_page(args.out, "A layer at once: sharded batch against one by one", "benchmarks/batch.py",
                  argv if argv is not None else sys.argv[1:], __doc__.split("\n\n")[0], lines)


if __name__ == "__main__":
    main()
