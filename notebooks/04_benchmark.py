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
# # The committed diversity benchmark: the default against PPGN and the other baselines
#
# `ours` is the package's default method on the bundled models (`"prior-ladder"`): each of its rows
# records the method that ran and its settings, and the notebook checks them.
# `benchmarks/results/results.json` is written by `python benchmarks/diversity.py`
# (see `benchmarks/results/results.md` for the commands and the machine). Each row is
# one method on one cell (a neuron at a band), every method of a cell scored on the same
# number of in-band samples (`n_scored`); the measures are in the feature space of an
# independent judge network (`benchmarks/harness.py`). The headline is the report split:
# the cells the defaults were chosen on (the dev split) are not in it.

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "benchmarks/results/results.json").is_file())
data = json.loads((root / "benchmarks/results/results.json").read_text())
rows = [r for r in data["rows"] if r.get("kind") == "class" and r.get("split") == "report"]
methods = sorted({r["method"] for r in rows})
print(len(data["rows"]), "rows;", "methods:", methods, "; machine:", data.get("machine"))
assert {"ours", "ppgn", "rejection_prior", "real"} <= set(methods), methods
assert all(r["in_band_rate"] == 1.0 for r in rows if r["method"] == "ours" and r["n_returned"])  # never out of band
assert not set(data["split"]["dev"]) & {r["cell"] for r in rows}  # no dev cell in the headline
assert {r["method_name"] for r in rows if r["method"] == "ours"} == {"prior-ladder"}  # the default ran as `ours`


# %%
def median(method, band, key):
    v = [r[key] for r in rows if r["method"] == method and r["band"] == band
         and isinstance(r.get(key), (int, float)) and r[key] == r[key]]
    return float(np.median(v)) if v else np.nan


bands = sorted({r["band"] for r in rows})
fig, axes = plt.subplots(1, len(bands), figsize=(5 * len(bands), 4), squeeze=False)
for ax, band in zip(axes[0], bands):
    for m in methods:
        # beyond the data there is no in-band real image: precision against all real images of the class
        x = median(m, band, "precision") if band != "max+" else median(m, band, "precision_class")
        y = median(m, band, "vendi_quality")
        if np.isfinite(x) and np.isfinite(y):
            ax.scatter(x, y, s=40)
            ax.annotate(m, (x, y), fontsize=8)
    ax.set(title=f"class neurons, band {band}", xlabel="precision (realism)",
           ylabel="quality-weighted Vendi, judge (diversity of the realistic)")
plt.tight_layout()
plt.show()

# %% [markdown]
# Cost as a user pays it: forward+backward passes per in-band sample, forward-only passes counted at their
# measured cost (log scale), median over the cells where a method is scored. Beyond the data (`max+`) precision is
# against every real image of the class, and most baselines get no in-band sample there.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for i, band in enumerate(bands):
    vals = [median(m, band, "cost_per_in_band") for m in methods]
    ax.bar(np.arange(len(methods)) + 0.8 / len(bands) * i, vals, width=0.8 / len(bands), label=band)
ax.set_xticks(np.arange(len(methods)) + 0.4, methods, rotation=30)
ax.set_yscale("log")
ax.set_ylabel("cost per in-band sample")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The default against the ideal sampler of its own target, `rejection_prior` (independent draws from the same prior,
# scored on the same samples): per band, the median over cells of the default's figure over the ideal's. 1.0 is as
# good as independent draws; for the Fréchet distance lower is better. Beyond the data rejection finds nothing to
# compare with.


# %%
def ratios(method, band, key):
    by_cell = {}
    for r in rows:
        if r["band"] == band and r["method"] in (method, "rejection_prior") and r["n_scored"]:
            by_cell.setdefault(r["cell"], {})[r["method"]] = r.get(key)
    v = [c[method] / c["rejection_prior"] for c in by_cell.values()
         if c.get(method) is not None and c.get("rejection_prior")]
    return float(np.median(v)) if v else np.nan


keys = {"recall_prior": "recall", "coverage_prior": "coverage", "frechet_prior": "Fréchet (lower is better)"}
fig, ax = plt.subplots(figsize=(7, 3.5))
for i, (key, label) in enumerate(keys.items()):
    ax.bar(np.arange(len(bands)) + 0.27 * i, [ratios("ours", band, key) for band in bands], width=0.27, label=label)
ax.axhline(1.0, color="k", lw=0.8)
ax.set_xticks(np.arange(len(bands)) + 0.27, bands)
ax.set_ylabel("the default ÷ the ideal")
ax.legend()
plt.tight_layout()
plt.show()
scored = [ratios("ours", band, "recall_prior") for band in bands]
assert any(np.isfinite(scored)), "no band where both the default and the ideal were scored"
