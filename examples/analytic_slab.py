"""The smallest end-to-end run: the inverse set of a linear-logistic neuron is a slab.

G(c) = sigmoid(c) maps 2-d codes into the unit square; the neuron
a(x) = sigmoid(w·x + b) fires in [0.6, 0.7] on a band across the square.
Writes out/slab.png (samples in red over the band in grey) and prints the run's figures.

    python examples/analytic_slab.py [--method paper|prior-slice] [--out out/slab.png]

With the paper's gradient walker the samples spread *along* the slab but stay
near the edge where the seeds entered it: the seeds stop as soon as they are
inside (just past the lower edge, coming from the centre of the square), and the
walker's steps follow the repulsion from the last kept samples, which points
along the level sets, while the constraint term only pulls a walker back when
it leaves the band. Nothing drives a walker across the band's width. With
``--method prior-slice`` (elliptical slice sampling of the N(0, I) prior on the codes,
restricted to the band) the samples fill the slab as the prior weighs it.
"""

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from inverse_set import initialization, sample_inverse_set

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="out/slab.png")
parser.add_argument("--n", type=int, default=300)
parser.add_argument("--method", choices=("paper", "prior-slice"), default="paper",
                    help="paper: codes from N(0, 0.1² I), gradient walker; prior-slice: the N(0, I) prior restricted "
                    "to the band, elliptical slice walk")
args = parser.parse_args()

w, b = jnp.array([3.0, -2.0]), -0.5
neuron = lambda x: jax.nn.sigmoid(w @ x + b)
res = sample_inverse_set(neuron, 0.6, 0.7, n=args.n, generator=jax.nn.sigmoid, encoder=lambda x: x,
                         init=initialization.gaussian(2, scale=0.1 if args.method == "paper" else 1.0),
                         method=args.method, progress=True)
s = res.stats
print(f"{len(res)} samples, activations in [{res.activations.min():.4f}, {res.activations.max():.4f}] "
      f"(band [0.6, 0.7])")
print(f"seed steps {s.seed_steps}, walker steps {s.walker_steps}, kept per step {s.mean_kept_per_step:.1f}, "
      f"compile {s.compile_time_s:.2f} s, run {1e3 * s.run_time_s:.1f} ms")

size = 400
grid = (np.stack(np.meshgrid(np.arange(size), np.arange(size)), -1) + 0.5) / size
act = 1 / (1 + np.exp(-(grid @ np.asarray(w) + b)))
canvas = np.where((act >= 0.6) & (act <= 0.7), 220, 255).astype(np.uint8)
img = Image.fromarray(canvas).convert("RGB")
draw = ImageDraw.Draw(img)
for x, y in res.images * size:
    draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(200, 0, 0))
for x, y in (1 / (1 + np.exp(-res.seeds))) * size:
    draw.rectangle([x - 3, y - 3, x + 3, y + 3], outline=(0, 0, 200))
os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
img.save(args.out)
print(f"wrote {args.out} (grey: the inverse set; red: samples; blue squares: seeds)")
