"""Randomised problems with known inverse sets: is anything out of band, duplicated, or falsely infeasible?

Each problem draws a generator G (sigmoid(c), or tanh(A c)), 1–4 neurons
(linear-logistic units, or small random MLPs), a known code c₀ and, for each
neuron, a band around its activation at G(c₀) — so c₀ lies in the intersection
and every band is reachable by construction — sometimes narrow (width 0.02), and
sometimes code bounds around c₀. The sampler's returned images are rechecked
here in float64 NumPy, independently of the package.

    python benchmarks/fuzz.py [--problems 200] [--seed 0]

Prints per-kind counts: problems, false "infeasible" reports, samples out of
band, duplicate samples, incomplete runs, other errors.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import (GradientWalk, IncompleteSampleWarning, InfeasibleBandError, Objective, get_method,
                         initialization, sample_inverse_set)


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def draw_problem(rng: np.random.Generator):
    """A random problem: (kwargs for sample_inverse_set, float64 check of one image, its description)."""
    d = int(rng.choice([1, 2, 4, 8]))
    p = int(rng.choice([1, 1, 2, 3, 4]))
    kind = str(rng.choice(["slab", "mlp"]))
    if rng.random() < 0.5:
        generator, gen_np, image_dim = jax.nn.sigmoid, _sigmoid, d
    else:
        image_dim = d + 2
        a = rng.normal(size=(image_dim, d)).astype(np.float32)
        generator, gen_np = (lambda c, a=jnp.asarray(a): jnp.tanh(a @ c)), (lambda c, a=a: np.tanh(c @ a.T))
    neurons, neurons_np = [], []
    for _ in range(p):
        if kind == "slab":
            w, b = rng.normal(size=image_dim).astype(np.float32), float(rng.normal())
            neurons.append(lambda x, w=jnp.asarray(w), b=b: jax.nn.sigmoid(w @ x + b))
            neurons_np.append(lambda x, w=w, b=b: _sigmoid(x @ w.astype(np.float64) + b))
        else:
            w1, b1 = rng.normal(size=(8, image_dim)).astype(np.float32), rng.normal(size=8).astype(np.float32)
            w2 = rng.normal(size=8).astype(np.float32)
            neurons.append(lambda x, w1=jnp.asarray(w1), b1=jnp.asarray(b1), w2=jnp.asarray(w2):
                           w2 @ jnp.tanh(w1 @ x + b1))
            neurons_np.append(lambda x, w1=w1, b1=b1, w2=w2: np.tanh(x @ w1.T.astype(np.float64) + b1) @ w2)
    c0 = rng.normal(size=d)
    x0 = gen_np(c0[None].astype(np.float32).astype(np.float64))[0]
    narrow = rng.random() < 0.3
    z1, z2 = [], []
    for f in neurons_np:
        a0 = float(f(x0[None])[0])
        width = 0.02 if narrow else float(rng.choice([0.05, 0.2, 0.5]))
        u = rng.uniform(0.1, 0.9)
        z1.append(a0 - u * width)
        z2.append(a0 + (1 - u) * width)
    bounds = None
    if rng.random() < 0.3:
        bounds = (float(c0.min() - rng.uniform(0.1, 1.0)), float(c0.max() + rng.uniform(0.1, 1.0)))
    kwargs = dict(generator=generator, encoder=lambda x: x, init=initialization.gaussian(d),
                  code_bounds=bounds, num_seeds=int(rng.choice([1, 5, 10])), n=int(rng.choice([20, 50])),
                  rng_key=int(rng.integers(1 << 30)))
    if rng.random() < 0.2:
        kwargs["method"] = get_method("paper").replace(
            objective=Objective(diversity_weight=float(rng.choice([0.0, 1.0]))),
            walk=GradientWalk(step_size=float(rng.choice([0.01, 0.1, 0.5]))))

    def excess(images):
        """How far each image's activations lie outside the bands (0 inside), recomputed in float64."""
        f = np.stack([fn(np.asarray(images, np.float64)) for fn in neurons_np], axis=1)
        return np.max(np.maximum(np.array(z1) - f, f - np.array(z2)), axis=1).clip(0)

    desc = f"{kind} d={d} p={p} {'narrow' if narrow else 'wide'}{' bounds' if bounds else ''}"
    return neurons, z1, z2, kwargs, excess, desc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    counts = collections.defaultdict(collections.Counter)
    t0 = time.perf_counter()
    for i in range(args.problems):
        neurons, z1, z2, kwargs, excess, desc = draw_problem(rng)
        kind = desc.split()[0] + (" narrow" if "narrow" in desc else " wide")
        c = counts[kind]
        c["problems"] += 1
        n = kwargs.pop("n")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = sample_inverse_set(neurons, z1, z2, n, **kwargs)
        except InfeasibleBandError:
            c["false infeasible"] += 1
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
        c["incomplete"] += int(any(issubclass(w.category, IncompleteSampleWarning) for w in caught))
    total = sum(counts.values(), collections.Counter())
    keys = ["problems", "samples", "false infeasible", "out of band by > 1e-6 (float64 recheck)",
            "out of band by ≤ 1e-6 (float32 rounding)", "duplicate samples", "incomplete"] + sorted(k for k in total if k.startswith("error"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}; "
          f"{time.perf_counter() - t0:.0f} s; command: python benchmarks/fuzz.py --problems {args.problems} "
          f"--seed {args.seed}")
    print("| kind | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for kind in sorted(counts) + ["all"]:
        c = total if kind == "all" else counts[kind]
        print(f"| {kind} | " + " | ".join(str(c[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
