"""Sample the inverse set of a class neuron of the bundled Fashion-MNIST classifier.

    python -m generators.demo [--neuron Bag] [--band p25,p75] [--n 100] [--out out/demo]

The band is read from the stored activation statistics of the class's own test
images (percentile names such as p5, p50, p99, max, or numbers). Writes

* ``samples.png``: the samples, each captioned with its activation;
* ``samples.npz``: codes, activations and images (no pickle);
* ``run.json``: what was run, the band, the figures and the timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

import generators
from inverse_set.batching import chunked
from inverse_set import sample_inverse_set
from inverse_set.viz import sample_grid


def band_from_stats(stats, class_index: int, spec: str) -> tuple[float, float]:
    """``"p25,p75"`` → the class logit's percentiles on its own test images; numbers pass through."""
    by_class = stats["logits_by_class"][str(class_index)]
    edges = []
    for part in spec.split(","):
        part = part.strip()
        if part in by_class:
            edges.append(float(by_class[part]))
        else:
            try:
                edges.append(float(part))
            except ValueError:
                names = [k for k in by_class if k.startswith("p") or k in ("min", "max")]
                raise SystemExit(f"--band: {part!r} is neither a number nor one of {names}") from None
    if len(edges) != 2:
        raise SystemExit(f"--band needs two edges, e.g. p25,p75; got {spec!r}")
    return edges[0], edges[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neuron", default="Bag", help="class name or logit index (default: Bag)")
    parser.add_argument("--band", default="p25,p75", help="two percentiles or numbers (default: p25,p75)")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10, help="K, the number of seeds/walkers")
    parser.add_argument("--rng", type=int, default=0)
    parser.add_argument("--out", default="out/demo")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    bundle = generators.load("fashion")
    load_time = time.perf_counter() - t0
    names = list(bundle.class_names)
    neuron = int(args.neuron) if args.neuron.isdigit() else args.neuron
    if isinstance(neuron, str) and neuron not in names:
        raise SystemExit(f"--neuron: unknown class {neuron!r}; choose one of {names} or an index 0–9")
    class_index = neuron if isinstance(neuron, int) else names.index(neuron)
    z1, z2 = band_from_stats(bundle.stats, class_index, args.band)
    print(f"neuron: logit {class_index} ({names[class_index]}), band [{z1:.3f}, {z2:.3f}] ({args.band} of "
          f"the class's own test images), n={args.n}, K={args.seeds}", file=sys.stderr)

    res = sample_inverse_set(neuron, z1, z2, args.n, models=bundle, num_seeds=args.seeds, rng_key=args.rng,
                             progress=True)
    s = res.stats
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    title = (f"{names[class_index]} logit in [{z1:.2f}, {z2:.2f}]: {len(res)} samples "
             f"(first {min(len(res), 50)} shown), activation under each")
    sample_grid(res.images, res.activations, res.constraints, title=title).save(out / "samples.png")
    np.savez_compressed(out / "samples.npz", codes=res.codes, activations=res.activations, images=res.images,
                        z1=res.z1, z2=res.z2)
    judge = chunked(bundle.judge_logits)(res.images).argmax(-1)
    run = {
        "command": "python -m generators.demo " + " ".join(argv if argv is not None else sys.argv[1:]),
        "neuron": {"layer": "logits", "index": class_index, "class_name": names[class_index]},
        "band": {"z1": z1, "z2": z2, "from": args.band},
        "n_requested": args.n,
        "num_samples": len(res),
        "num_seeds": args.seeds,
        "rng": args.rng,
        "activation_range": [float(res.activations.min()), float(res.activations.max())],
        "judge_agreement": float(np.mean(judge == class_index)),
        "seed_steps": s.seed_steps,
        "walker_steps": s.walker_steps,
        "mean_acceptance_rate": s.mean_acceptance_rate,
        "network_evaluations": s.network_evaluations,
        "status": s.status,
        "load_time_s": load_time,
        "compile_time_s": s.compile_time_s,
        "run_time_s": s.run_time_s,
        "machine": {"processor": platform.machine(), "jax": jax.__version__, "backend": jax.default_backend()},
        "files": ["samples.png", "samples.npz", "run.json"],
    }
    (out / "run.json").write_text(json.dumps(run, indent=2))
    print(f"{len(res)} samples in band [{z1:.3f}, {z2:.3f}] (activations {res.activations.min():.3f}–"
          f"{res.activations.max():.3f}); judge agrees with {names[class_index]} for "
          f"{100 * run['judge_agreement']:.0f}%")
    print(f"seed steps {s.seed_steps}, walker steps {s.walker_steps}, acceptance {s.mean_acceptance_rate or 0:.2f}; "
          f"load {load_time:.1f} s, compile {s.compile_time_s:.1f} s, run {s.run_time_s:.1f} s")
    print(f"wrote {out / 'samples.png'}, {out / 'samples.npz'}, {out / 'run.json'}")


if __name__ == "__main__":
    main()
