# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Explain one image: the band near it, and where the neuron looks
#
# What would this very sandal look like if the Sandal logit fired at its median, or at its
# 99th percentile, and in how many different ways? `near=x0` samples the band from the prior
# localised at the latent z₀ whose image G(z₀) best reconstructs x0: N(z₀, σ² I) restricted
# to the band. Every promise of an ordinary call holds (in band, no repeats, same key, same
# samples), and `res.near` says how near each sample stayed. `atlas(…, near=x0)` is the
# series across bands; `attribution_maps` shows where the neuron looks (gradient × input,
# smoothed over small jitters).

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np

import generators
from inverse_set import Unit, atlas, attribution_maps, change_map, near_grid

models = generators.load("fashion")
images, labels = generators.load_fashion_mnist("test")
sandal = models.class_names.index("Sandal")
x0 = np.asarray(images[np.flatnonzero(labels == sandal)[0]])
logit = models.percentiles(Unit(None, sandal))  # the Sandal logit on real sandals
bands = {"p5–p50": (logit["p5"], logit["p50"]), "p95–p99": (logit["p95"], logit["p99"])}

# %%
series = atlas(sandal, list(bands.values()), 16, models=models, near=x0, rng_key=0)
for (name, (z1, z2)), res in zip(bands.items(), series):
    assert len(res) == 16 and ((res.activations >= z1) & (res.activations <= z2)).all()
    print(f"{name}: σ = {res.near.scale}, median pixel distance to G(z0) {np.median(res.near.pixel_distance):.3f}")
info = series[0].near
print(f"G reconstructs x0 to a root-mean-square pixel error of {info.reconstruction_error:.3f}")
assert info.reconstruction_error < 0.1

# %% [markdown]
# The image, its reconstruction, then the samples band by band (activation and pixel distance under each), with
# where the Sandal logit looks in each under it: red where a pixel pushes the logit up, blue down.

# %%
maps = partial(attribution_maps, sandal, models=models)
picture = near_grid(series, list(bands), columns=8, attribution=maps, title="a test sandal, near it")
plt.figure(figsize=(12, 7))
plt.imshow(picture)
plt.axis("off")
plt.show()

# %% [markdown]
# What changed from the reconstruction: at the higher band the samples change more of the sandal's straps and sole.

# %%
changed = [change_map(res.images, info.reconstruction).mean(axis=0) for res in series]
fig, axes = plt.subplots(1, len(changed), figsize=(6, 3))
for ax, name, c in zip(axes, bands, changed):
    ax.imshow(c, cmap="magma")
    ax.set_title(f"mean |x − G(z0)|, {name}")
    ax.axis("off")
plt.show()
assert all(c.shape == x0.shape[:2] for c in changed)
