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
# # The committed diversity benchmark: ours against PPGN and the other baselines
#
# `benchmarks/results/results.json` is written by `python benchmarks/diversity.py`
# (see `benchmarks/results/results.md` for the commands and the machine). Each row is
# one method on one cell (a neuron at a band); the measures are in the feature space
# of an independent judge network (`benchmarks/` and `../shared/reference/metrics.md`).

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "benchmarks/results/results.json").is_file())
data = json.loads((root / "benchmarks/results/results.json").read_text())
rows = [r for r in data["rows"] if r.get("kind") == "class"]
methods = sorted({r["method"] for r in rows})
print(len(data["rows"]), "rows;", "methods:", methods, "; machine:", data.get("machine"))
assert {"ours", "ppgn", "rejection", "real"} <= set(methods), methods
assert all(r["in_band_rate"] == 1.0 for r in rows if r["method"] == "ours")  # ours never returns out of band


# %%
def median(method, band, key):
    v = [r[key] for r in rows if r["method"] == method and r["band"] == band
         and isinstance(r.get(key), (int, float)) and r[key] == r[key]]
    return float(np.median(v)) if v else np.nan


bands = sorted({r["band"] for r in rows})
fig, axes = plt.subplots(1, len(bands), figsize=(5 * len(bands), 4), squeeze=False)
for ax, band in zip(axes[0], bands):
    for m in methods:
        x, y = median(m, band, "precision"), median(m, band, "vendi_judge")
        if np.isfinite(x) and np.isfinite(y):
            ax.scatter(x, y, s=40)
            ax.annotate(m, (x, y), fontsize=8)
    ax.set(title=f"class neurons, band {band}", xlabel="precision (realism)", ylabel="Vendi, judge (diversity)")
plt.tight_layout()
plt.show()

# %% [markdown]
# Cost: network evaluations per in-band sample (log scale), median over cells.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for i, band in enumerate(bands):
    vals = [median(m, band, "evals_per_in_band") for m in methods]
    ax.bar(np.arange(len(methods)) + 0.25 * i, vals, width=0.25, label=band)
ax.set_xticks(np.arange(len(methods)) + 0.25, methods, rotation=30)
ax.set_yscale("log")
ax.set_ylabel("evaluations per in-band sample")
ax.legend()
plt.tight_layout()
plt.show()
