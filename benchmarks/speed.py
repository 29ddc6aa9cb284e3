"""Speed of the bundled defaults: network evaluations per in-band sample, step cost, compile time, memory.

One table per run, printed and written to ``--out``:

* **cells**: per class neuron × band (bands as in the diversity benchmark) and per n:
  seed steps, walker steps, samples kept per step, network evaluations per in-band sample
  (forward+backward, forward-only, and both in fwd+bwd time units using the
  forward ÷ fwd+bwd time ratio measured here), run and compile time, the
  executable's memory (arguments + outputs + temporaries, from XLA's own memory
  analysis) and the output buffers' share of it; PPGN's evaluations per in-band
  sample for the same cell from the committed benchmark (``results.json``).
* **seeds**: seed steps and the seeds' spread (mean pairwise distance of E(G(c))
  over the K seeds) for every class neuron × ``--seed-bands`` and the benchmark's
  two hidden units, with the bundled seed settings and with the previous ones
  (``select="alive"`` of 4 candidates per seed).
* **step cost**: one walker step (the slice walk's, and the code-space gradient
  walker's) ÷ the bare batched pass it is built on (forward, resp. forward+backward,
  of G, E and the target for K codes), each a ``lax.fori_loop`` of the same length
  timed in this process, at the smallest and the largest n (a step that grew with
  n would show here).
* **memory with a 4096-feature encoder**: the same memory figures with the
  bundled G and target and a synthetic encoder E(x) = tanh(W vec(x)), W 784 × 4096.

    python benchmarks/speed.py [--classes 0,3,7,8] [--bands p50,p95] [--n 500,2000,10000]
                               [--seed-classes 0,…,9] [--seed-bands p50,p95,p99] [--out benchmarks/results/speed.md]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import NamedTuple

import harness as bm
import jax
import jax.numpy as jnp
import numpy as np

import generators
from inverse_set import (
    GradientWalk,
    Objective,
    SeedConfig,
    Unit,
    get_method,
    make_sampler,
    sample_inverse_set,
)
from inverse_set.core.bands import Bands
from inverse_set.core.problem import forward, pullback
from inverse_set.walks import WalkContext

# The code-space gradient walker timed beside the slice walk: the paper's method, realism term ρ = 10, β = 0.3.
PAPER_WITH_REALISM = get_method("paper").replace(name="paper+realism", objective=Objective(realism_weight=10.0),
                                                 walk=GradientWalk(step_size=0.3))


class Seeds(NamedTuple):  # what a walk's init reads of the seeds
    codes: jax.Array
    lam: jax.Array
    mu: jax.Array


def walk_step_time(sampler, codes, cell) -> float:
    """Seconds per step of the sampler's walk from ``codes`` (K, d), in a compiled loop."""
    c = sampler.compiled
    lo, hi = c.solver_bands(np.asarray(cell.z1), np.asarray(cell.z2))
    ctx = WalkContext(c.problem, c.method.objective, Bands(jnp.asarray(lo), jnp.asarray(hi)), sampler.indices, c.n,
                      c.num_features)
    seeds = Seeds(codes, jnp.zeros((codes.shape[0], lo.shape[0])), jnp.asarray(10.0))
    state = c.method.walk.init(ctx, seeds, jax.random.key(0))
    return timed_loop(lambda s: c.method.walk.step(ctx, s)[0], state)

RESULTS = os.path.join(os.path.dirname(__file__), "results", "results.json")
LOOP = 200  # steps per timed loop


def ppgn_costs() -> dict:
    """cell name -> PPGN's network evaluations per in-band sample in the committed benchmark."""
    if not os.path.exists(RESULTS):
        return {}
    rows = json.loads(Path(RESULTS).read_text())["rows"]
    return {r["cell"]: r["gradient_per_in_band"] for r in rows
            if r["method"] == "ppgn" and r.get("gradient_per_in_band") is not None}


def memory(compiled) -> tuple[float, float]:
    """(MB of arguments + outputs + temporaries, MB of outputs) of a compiled executable."""
    m = compiled.memory_analysis()
    total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
    return total / 2**20, m.output_size_in_bytes / 2**20


def timed_loop(body, state, steps=LOOP, repeats=3) -> float:
    """Seconds per iteration of ``body`` in a compiled ``fori_loop`` (best of ``repeats``)."""
    run = jax.jit(lambda s: jax.lax.fori_loop(0, steps, lambda i, s: body(s), s)).lower(state).compile()
    return bm.best_of(run, state, repeats) / steps


def step_costs(models, cell, result, n) -> dict:
    """A walker step over the bare pass it is built on, both timed here (see the module docstring)."""
    sampler = make_sampler(list(cell.neurons), n, models=models)
    problem, k, indices = sampler.compiled.problem, sampler.compiled.num_seeds, sampler.indices
    codes = jnp.asarray(result.seeds)

    def bare_forward(c):
        phi, f = forward(problem, c, indices)
        return c + 1e-12 * (phi.sum() + f.sum())  # depends on the pass, so it is not hoisted out of the loop

    def bare_fwd_bwd(c):
        (phi, f), vjp = pullback(problem, c, indices)
        return c + 1e-12 * vjp((jnp.ones_like(phi), jnp.ones_like(f)))

    t_fwd, t_fwd_bwd = timed_loop(bare_forward, codes), timed_loop(bare_fwd_bwd, codes)
    out = {"n": n, "forward_ms": 1e3 * t_fwd, "fwd_bwd_ms": 1e3 * t_fwd_bwd, "forward_over_fwd_bwd": t_fwd / t_fwd_bwd}
    t = walk_step_time(sampler, codes, cell)
    out.update(slice_step_ms=1e3 * t, slice_step_over_forward=t / t_fwd)
    gsampler = make_sampler(list(cell.neurons), n, models=models, method=PAPER_WITH_REALISM)
    gproblem = gsampler.compiled.problem
    gcodes = jnp.asarray(models.code_mean, jnp.float32)[None].repeat(k, 0)

    def g_bare(c):
        (phi, f), vjp = pullback(gproblem, c, indices)
        return c + 1e-12 * vjp((jnp.ones_like(phi), jnp.ones_like(f)))

    t_g, t_gb = walk_step_time(gsampler, gcodes, cell), timed_loop(g_bare, gcodes)
    out.update(gradient_step_ms=1e3 * t_g, gradient_step_over_fwd_bwd=t_g / t_gb)
    return out


def synthetic_encoder(features=4096, seed=0):
    w = jax.random.normal(jax.random.key(seed), (28 * 28, features)) / 28.0
    return lambda image: jnp.tanh(jnp.ravel(image) @ w)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", default="0,3,7,8")
    parser.add_argument("--bands", default="p50,p95")
    parser.add_argument("--n", default="500,2000,10000")
    parser.add_argument("--seed-classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--seed-bands", default="p50,p95,p99")
    parser.add_argument("--key", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/speed.md")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.n.split(",")]
    zoo = generators.load("fashion")
    ppgn = ppgn_costs()
    cells = bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(","))
    t_start = time.perf_counter()
    lines = ["## Cells (bundled defaults: prior space, elliptical slice walk, K = 10)\n",
             ("| cell | n | seed steps | walker steps | kept per step | fwd+bwd / sample | forward / sample | "
             "fwd+bwd units / sample | PPGN fwd+bwd / sample | run s | compile s | memory MB | of which outputs MB |"),
             "|" + "---|" * 13]
    ratio = None
    for cell in cells:
        for n in sizes:
            res = sample_inverse_set(list(cell.neurons), cell.z1, cell.z2, n, models=zoo, rng_key=args.key)
            s, m = res.stats, len(res.codes)
            if ratio is None:  # the forward ÷ fwd+bwd time ratio, measured once on these networks
                ratio = step_costs(zoo, cell, res, sizes[0])["forward_over_fwd_bwd"]
            compiled = make_sampler(list(cell.neurons), n, models=zoo).compiled.executable()
            total_mb, out_mb = memory(compiled)
            units = (s.gradient_evaluations + ratio * s.forward_evaluations) / m
            lines.append(
                f"| {cell.name} | {n} | {s.seed_steps} | {s.walker_steps} | {s.mean_kept_per_step:.1f} | "
                f"{s.gradient_evaluations / m:.2f} | {s.forward_evaluations / m:.2f} | {units:.2f} | "
                f"{ppgn.get(cell.name, float('nan')):.1f} | {s.run_time_s:.1f} | {s.compile_time_s:.1f} | "
                f"{total_mb:.1f} | {out_mb:.1f} |")
            print(lines[-1], flush=True)
    lines += ["", (f"fwd+bwd units: forward passes counted at {ratio:.2f} of a fwd+bwd (the time ratio measured "
              "below)."), ""]

    lines += [("## Step cost (ms per step of K = 10 codes, each a fori_loop of "
              f"{LOOP} steps, best of 3)\n"),
              ("| n | bare forward | bare fwd+bwd | slice step | slice ÷ forward | gradient step (code space) | "
              "gradient ÷ its fwd+bwd |"), "|" + "---|" * 7]
    cell = cells[0]
    res = sample_inverse_set(list(cell.neurons), cell.z1, cell.z2, sizes[0], models=zoo, rng_key=args.key)
    for n in (sizes[0], sizes[-1]):
        c = step_costs(zoo, cell, res, n)
        lines.append(f"| {n} | {c['forward_ms']:.2f} | {c['fwd_bwd_ms']:.2f} | {c['slice_step_ms']:.2f} | "
                     f"{c['slice_step_over_forward']:.2f} | {c['gradient_step_ms']:.2f} | "
                     f"{c['gradient_step_over_fwd_bwd']:.2f} |")
        print(lines[-1], flush=True)

    lines += ["", "## Memory with a 4096-feature encoder (bundled G and target)\n",
              "| n | memory MB | of which outputs MB |", "|---|---|---|"]
    wide = zoo.replace(encoder=synthetic_encoder())
    for n in sizes:
        sampler = make_sampler(list(cell.neurons), n, models=wide)
        sampler.sample(cell.z1, cell.z2, args.key)
        total_mb, out_mb = memory(sampler.compiled.executable())
        lines.append(f"| {n} | {total_mb:.1f} | {out_mb:.1f} |")
        print(lines[-1], flush=True)

    default = get_method("prior-slice")
    previous = SeedConfig()  # before issue 12: "alive" of 4 candidates per seed
    configs = {"default": default.seeds, "previous": previous}
    lines += ["", "## Seeds (n = K = 10: the seeds alone)\n",
              (f"default: {default.seeds.select!r} of {default.seeds.candidates_per_seed} candidates per seed; "
              f"previous: {previous.select!r} of {previous.candidates_per_seed}. Spread: the mean pairwise "
              "distance ‖E(G(cᵢ)) − E(G(cⱼ))‖ over the K seeds.\n"),
              "| cell | seed steps | spread | previous: seed steps | previous: spread |", "|---|---|---|---|---|"]
    seed_cells = bm.class_cells(zoo.stats, [int(c) for c in args.seed_classes.split(",")],
                                args.seed_bands.split(","))
    hidden = []
    for unit in (Unit("fc6", 46), Unit("conv2", 33)):  # the diversity benchmark's two hidden units
        q = zoo.percentiles(unit)
        hidden.append(bm.Cell(f"{unit.layer}[{unit.index}] p90–p99", (unit,), (q["p90"],), (q["p99"],), None,
                              "hidden", "p90–p99"))
    steps, spread = {name: [] for name in configs}, {name: [] for name in configs}
    for cell in [*seed_cells, *hidden]:
        cols = []
        for name, config in configs.items():
            try:
                res = sample_inverse_set(list(cell.neurons), cell.z1, cell.z2, 10, models=zoo,
                                         method=default.replace(seeds=config), rng_key=args.key)
            except Exception as err:  # noqa: BLE001 (a cell the seeds fail on is a row of the table)
                cols += [f"failed: {type(err).__name__}", ""]
                continue
            phi = np.asarray(jax.vmap(lambda z: zoo.encoder(zoo.generator(zoo.prior(z))))(jnp.asarray(res.seeds)))
            dist = np.sqrt(((phi[:, None] - phi[None]) ** 2).sum(-1))[np.triu_indices(len(phi), 1)].mean()
            steps[name].append(res.stats.seed_steps)
            spread[name].append(dist)
            cols += [str(res.stats.seed_steps), f"{dist:.2f}"]
        lines.append(f"| {cell.name} | " + " | ".join(cols) + " |")
        print(lines[-1], flush=True)
    lines.append("")
    for name in configs:
        lines.append(f"{name}: median seed steps {np.median(steps[name]):.0f} over {len(steps[name])} cells (min "
                     f"{min(steps[name])}, max {max(steps[name])}); median spread {np.median(spread[name]):.2f}.  ")
    lines += ["", f"Total time {time.perf_counter() - t_start:.0f} s."]
    bm.write_page(args.out, "Speed of the bundled defaults", "benchmarks/speed.py", argv,
                  __doc__.split("\n\n")[0], lines)


if __name__ == "__main__":
    main()
