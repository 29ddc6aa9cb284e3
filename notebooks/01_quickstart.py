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
# # Quickstart: what makes the Bag neuron fire at a given level?
#
# The *inverse set* of a neuron at band [z1, z2] is every input where the neuron's
# activation lies in the band. `sample_inverse_set` draws n different inputs from it,
# through a generator G: it searches G's code space, and every returned image is
# checked to lie in the band.
#
# Here: the bundled Fashion-MNIST classifier's "Bag" logit, at the band between the
# median and the 95th percentile of its activation on real bags.

# %%
import tempfile

import numpy as np

import generators
from inverse_set import InverseSetResult, Unit, sample_inverse_set
from inverse_set.atlas import atlas, atlas_grid
from inverse_set.viz import sample_grid

models = generators.load("fashion")
bag = models.percentiles(Unit(None, models.class_names.index("Bag")))  # the Bag logit on real bags
print({k: round(v, 2) for k, v in bag.items()})

# %%
res = sample_inverse_set("Bag", bag["p50"], bag["p95"], n=40, models=models, rng_key=0)
inside = (res.activations >= res.z1) & (res.activations <= res.z2)
assert inside.all() and len(res) == 40
print(f"{len(res)} samples, all in band; seed steps {res.stats.seed_steps}, walker steps {res.stats.walker_steps}")

# %% [markdown]
# The samples, each with its activation under it (to the precision the band needs):

# %%
sample_grid(res.images, res.activations, res.constraints, z1=res.z1, z2=res.z2)

# %% [markdown]
# ## The atlas: one neuron across bands
# One batched call, one row per band: from barely-bag to the most bag-like images.

# %%
bands = [(bag["p5"], bag["p25"]), (bag["p50"], bag["p75"]), (bag["p95"], bag["p99"])]
rows = atlas("Bag", bands, n=20, models=models, rng_key=0)
assert all(not isinstance(r, Exception) for r in rows)
atlas_grid(rows, [f"{a}-{b}" for a, b in [("p5", "p25"), ("p50", "p75"), ("p95", "p99")]])

# %% [markdown]
# ## Save and reload
# A result is saved as an `.npz` of arrays and a `.json` of everything else (strict JSON).

# %%
path = tempfile.mkdtemp() + "/bag"
res.save(path)
again = InverseSetResult.load(path)
assert np.array_equal(again.codes, res.codes) and again.constraints == res.constraints
print(f"reloaded {len(again)} samples from {path}.npz / .json")
