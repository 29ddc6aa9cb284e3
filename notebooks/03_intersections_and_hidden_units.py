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
# # Intersections and hidden units
#
# Several constraints at once: every sample lies in *every* band. Neurons can come
# from any layer: class logits, fc6 units, conv channels.

# %%
import numpy as np

import generators
from inverse_set import Unit, sample_grid, sample_inverse_set

models = generators.load("fashion")
names = list(models.class_names)

# %% [markdown]
# ## Two class neurons: images both Pullover-like and Coat-like
# Both logits at their median level on their own class's images or above.

# %%
pull, coat = (models.percentiles(Unit(None, names.index(c))) for c in ("Pullover", "Coat"))
res = sample_inverse_set(["Pullover", "Coat"], [pull["p25"], coat["p25"]], [pull["max"], coat["max"]], n=30,
                         models=models, rng_key=0)
assert ((res.activations >= res.z1) & (res.activations <= res.z2)).all()
sample_grid(res.images, res.activations, res.constraints, z1=res.z1, z2=res.z2,
            title="Pullover and Coat logits both at least their p25 (activations: Pullover, Coat)")

# %% [markdown]
# ## A hidden unit with a class neuron (the paper's Fig. 5, in small)
# The fc6 unit that fires most on typical images, held at a high level, together
# with the Sneaker logit in its median band: which sneakers drive that unit?

# %%
unit = int(np.argmax(models.stats["fc6"]["p75"]))
u = models.percentiles(Unit("fc6", unit))
sneaker = models.percentiles(Unit(None, names.index("Sneaker")))
res = sample_inverse_set([Unit("fc6", unit), "Sneaker"], [u["p75"], sneaker["p25"]], [u["max"], sneaker["p75"]],
                         n=30, models=models, rng_key=0)
assert ((res.activations >= res.z1) & (res.activations <= res.z2)).all()
sample_grid(res.images, res.activations, res.constraints, z1=res.z1, z2=res.z2,
            title=f"fc6:{unit} in its top quarter and Sneaker in p25-p75 (activations: fc6:{unit}, Sneaker)")

# %% [markdown]
# ## A conv channel, averaged over positions

# %%
c = models.percentiles(Unit("conv2", 5))
res = sample_inverse_set(Unit("conv2", 5), c["p95"], c["p99"], n=30, models=models, rng_key=0)
assert ((res.activations >= res.z1) & (res.activations <= res.z2)).all()
sample_grid(res.images, res.activations, res.constraints, z1=res.z1, z2=res.z2)
