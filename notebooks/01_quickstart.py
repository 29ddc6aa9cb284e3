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
# through a generator G, and every returned image is checked to lie in the band.
#
# On the bundled models the default method is `"prior-ladder"`: the search variable is
# z ~ N(0, I), the input of a code prior (a flow fitted to the codes of real images) in
# front of G, and the n samples behave like n independent draws from the prior
# restricted to the band: a population of prior draws is brought into the band by
# rejection where the band holds a large share of the prior, else through a ladder of
# relaxed bands, then moved inside it until it has forgotten where it was copied. The
# paper's method — seeds, then gradient steps in G's own code space with repulsion from
# the samples kept — runs with `method="paper"`.
#
# Here: the bundled Fashion-MNIST classifier's "Bag" logit, at the band between the
# median and the 95th percentile of its activation on real bags.

# %%
import tempfile

import numpy as np

import generators
from inverse_set import (
                         InverseSetResult,
                         Unit,
                         atlas,
                         atlas_grid,
                         dataset_examples,
                         facets,
                         sample_grid,
                         sample_inverse_set,
)

models = generators.load("fashion")
bag = models.percentiles(Unit(None, models.class_names.index("Bag")))  # the Bag logit on real bags
print({k: round(v, 2) for k, v in bag.items()})

# %%
res = sample_inverse_set("Bag", bag["p50"], bag["p95"], n=40, models=models, rng_key=0)
inside = (res.activations >= res.z1) & (res.activations <= res.z2)
assert inside.all() and len(res) == 40
assert res.stats.method == "prior-ladder"  # what ran, with every setting in res.stats.settings
low, high = res.stats.band_mass[1:]  # the band's probability under the prior, a 90% interval
print(f"the band holds {res.stats.band_mass[0]:.2%} of the generator's images [{low:.2%}, {high:.2%}], "
      f"drawn from the {res.stats.population_start}")
# res.codes are the z's; G's own inputs prior(z) are res.generator_inputs, and res.images = G(res.generator_inputs)
assert res.generator_inputs.shape == res.codes.shape and (res.generator_inputs >= 0).all()
print(f"{len(res)} samples, all in band, by {res.stats.method!r}: seed steps {res.stats.seed_steps}, walk steps "
      f"{res.stats.walker_steps}, {res.stats.gradient_evaluations} forward+backward and "
      f"{res.stats.forward_evaluations} forward-only passes")

# %% [markdown]
# The samples, each with its activation under it (to the precision the band needs):

# %%
sample_grid(res.images, res.activations, res.constraints, z1=res.z1, z2=res.z2)

# %% [markdown]
# ## Facets and real examples
# The kinds of input the neuron responds to in this band: the samples clustered in the encoder's
# space (k chosen by the silhouette), each facet shown by its medoid; then real test images
# whose Bag logit lies in the same band.

# %%
found = facets(res, models=models)
print(f"{len(found)} facet(s) ({found.chosen_by}): sizes {[f.size for f in found]}")
assert sum(f.size for f in found) == len(res) and all(f.medoid in f.members for f in found)
real = models.dataset()  # the Fashion-MNIST test images
ex = dataset_examples("Bag", res.z1, res.z2, real, models=models)
print(f"{ex.inside.sum()} of {len(real)} test images lie in the band")
assert ((ex.activations[ex.indices] >= res.z1) & (ex.activations[ex.indices] <= res.z2)).all()
medoids = [f.medoid for f in found]
shown = ex.indices[np.linspace(0, len(ex.indices) - 1, 10).astype(int)]  # ten real bags, lowest logit to highest
sample_grid(np.concatenate([res.images[medoids], real[shown]]),
            np.concatenate([res.activations[medoids], ex.activations[shown]]), res.constraints, columns=12,
            title="the facets' medoids, then real bags in the band")

# %% [markdown]
# `inverse-set sample --neuron Bag --band p50,p95 --report` writes all of this (and the activation
# histogram) as one HTML page; `inverse_set.write_report` does the same from Python.

# %% [markdown]
# ## The paper's method
# The same band with `method="paper"`: the search runs in G's code space (post-ReLU fc6
# codes, bounded below by 0), and the walker takes gradient steps of the augmented
# Lagrangian, repelled from the samples it kept.

# %%
paper = sample_inverse_set("Bag", bag["p50"], bag["p95"], n=40, models=models, method="paper", rng_key=0)
assert paper.stats.method == "paper" and paper.generator_inputs is None and (paper.codes >= 0).all()
assert ((paper.activations >= paper.z1) & (paper.activations <= paper.z2)).all()
print(f"{len(paper)} samples by {paper.stats.method!r} ({paper.stats.settings['walk']['kind']})")
sample_grid(paper.images, paper.activations, paper.constraints, z1=paper.z1, z2=paper.z2)

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
