"""How realistic and how sharp a generator's images are: reconstructions G(E(x)) against the test images x.

For each generator weight file given (default: the shipped one), over the
10,000 test images:

* Fréchet distance in the judge's feature space between G(E(x)) and x;
* judge accuracy on G(E(x)) and pixel MSE;
* sharpness: the share of each image's spectral energy (2-D FFT, mean removed)
  above half the Nyquist frequency, averaged over images, beside the same for x;
* the same Fréchet distance and judge agreement for interpolated codes
  (a c_i + (1 − a) c_j) and noisy codes, where the sampler's walks go.

    python benchmarks/generator_quality.py [--weights old=path/to/generator.msgpack …] [--out grid.png]
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import flax.serialization
import jax
import numpy as np

import generators
from generators.models import Generator
from inverse_set.core.chunks import chunked
from inverse_set.evaluation import metrics
from inverse_set.report.viz import image_grid


def high_frequency_share(images: np.ndarray, cutoff: float = 0.5) -> float:
    """Mean share of spectral energy above ``cutoff`` × Nyquist (radially), the image's mean removed."""
    x = np.asarray(images, np.float64).reshape(len(images), 28, 28)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(x)) ** 2
    f = np.fft.fftfreq(28)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2) / 0.5
    total = power.sum(axis=(1, 2))
    return float(np.mean(power[:, radius > cutoff].sum(axis=1) / np.maximum(total, 1e-12)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", nargs="*", default=[], help="name=path of generator weights to compare")
    parser.add_argument("--out", default="", help="a PNG of real images and each generator's reconstructions")
    args = parser.parse_args(argv)
    zoo = generators.load("fashion")
    x, y = generators.load_fashion_mnist("test")
    judge, judge_logits = chunked(zoo.judge_features), chunked(zoo.judge_logits)
    codes = chunked(zoo.encoder)(x)
    real = judge(x)
    rng = np.random.default_rng(0)
    i, j, a = rng.integers(0, len(x), 5000), rng.integers(0, len(x), 5000), rng.uniform(0, 1, 5000)
    interp = (a[:, None] * codes[i] + (1 - a[:, None]) * codes[j]).astype(np.float32)
    noisy = np.maximum(codes[:5000] + 0.5 * zoo.code_std * rng.standard_normal((5000, codes.shape[1])), 0)
    candidates = {"shipped": zoo.params["generator"]}
    for spec in args.weights:
        name, path = spec.split("=", 1)
        template = jax.tree.map(np.asarray, zoo.params["generator"])
        candidates[name] = flax.serialization.from_bytes(template, Path(path).read_bytes())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; test images: high-frequency share "
          f"{high_frequency_share(x):.4f}")
    print("| generator | Fréchet judge G(E(x)) vs x | judge acc | MSE | high-freq share | Fréchet interp | agree interp "
          "| Fréchet noisy | agree noisy |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [list(x[:12])]
    for name, params in candidates.items():
        g = chunked(lambda c, p=params: Generator().apply(p, c[None])[0])
        rec = g(codes)
        fi, fn = judge(g(interp)), judge(g(noisy.astype(np.float32)))
        agree_i = np.mean(judge_logits(g(interp)).argmax(-1) == np.where(a >= 0.5, y[i], y[j]))
        agree_n = np.mean(judge_logits(g(noisy.astype(np.float32))).argmax(-1) == y[:5000])
        print(f"| {name} | {metrics.frechet_distance(judge(rec), real):.2f} | "
              f"{np.mean(judge_logits(rec).argmax(-1) == y):.3f} | {np.mean((rec - x) ** 2):.4f} | "
              f"{high_frequency_share(rec):.4f} | {metrics.frechet_distance(fi, real):.2f} | {agree_i:.3f} | "
              f"{metrics.frechet_distance(fn, real):.2f} | {agree_n:.3f} |")
        rows.append(list(rec[:12]))
    if args.out:
        image_grid(rows, row_titles=["real", *candidates], scale=3).save(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
