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
# # Many units and bands in one batched call
#
# `sample_inverse_sets` runs B problems with one compiled sampler: each problem gets
# its own key (`fold_in(rng_key, b)`) and returns what a separate call with that key
# would, or the error it ended with; one failing problem never aborts the others.
# `atlas` wraps it for the two common shapes and `atlas_grid` draws one row per problem.
#
# The problems are spread over every device JAX sees (`jax.devices()`), one problem per
# device at a time, each device going on to its next problem when its own is done. On a
# CPU, `jax.config.update("jax_num_cpu_devices", 4)` right after `import jax` (before
# anything runs) splits it into 4 devices; on the 2-core reference CPU this is about
# 1.5× faster than one by one for 64 fc6 units (`benchmarks/results/batch.md`).

# %%
import jax

import generators
from inverse_set import SamplingError, Unit, atlas, atlas_grid, sample_inverse_sets

models = generators.load("fashion")
print(jax.devices())

# %% [markdown]
# ## The first live units of fc6, each between its own p90 and p99 on the test images
# (about a fifth of fc6's units are 0 on at least 99% of the test images: their band is empty.)

# %%
units = [u for u in (Unit("fc6", i) for i in range(16))
         if models.percentiles(u)["p90"] < models.percentiles(u)["p99"]][:4]
bands = [(models.percentiles(u)["p90"], models.percentiles(u)["p99"]) for u in units]
results = atlas(units, bands, n=15, models=models, rng_key=0)
for u, r in zip(units, results):
    print(u, "->", r if isinstance(r, SamplingError) else f"{len(r)} samples")
atlas_grid(results)

# %% [markdown]
# ## Every class logit at its own median band, as a plain batch

# %%
names = list(models.class_names)
pct = [models.percentiles(Unit(None, c)) for c in range(len(names))]
results = sample_inverse_sets(names[:4], [p["p50"] for p in pct[:4]], [p["p95"] for p in pct[:4]], n=15,
                              models=models, rng_key=0)
assert all(not isinstance(r, Exception) and ((r.activations >= r.z1) & (r.activations <= r.z2)).all()
           for r in results)
atlas_grid(results, [f"{n} p50-p95" for n in names[:4]])
