"""Record the codes the sampler returns for fixed keys (tests/test_same_key.py checks them).

Run from the repository root, on the commit *before* a change (so the record
holds what the change must keep), or when a change is *meant* to change the
samples (say so in the commit):

    python3 tests/golden/record_same_key.py           # the bundled cases, for this kind of machine
    python3 tests/golden/record_same_key.py --slab    # also rewrite the slab cases (the same on every machine)

It writes tests/golden/same_key_bundled/<fingerprint>.npz (and tests/golden/same_key.npz
with --slab). The cases are in tests/same_key_cases.py.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from same_key_cases import CASES, SLAB_CASES, fingerprint

slab = "--slab" in sys.argv[1:]
out = {True: {}, False: {}}
for name, case in CASES.items():
    if name in SLAB_CASES and not slab:
        continue
    results = case()
    for i, res in enumerate(results):
        group = out[name in SLAB_CASES]
        group[f"{name}/{i}/codes"] = res.codes
        group[f"{name}/{i}/seeds"] = res.seeds
        group[f"{name}/{i}/steps"] = np.array([res.stats.seed_steps, res.stats.walker_steps])
    print(name, [len(r) for r in results], [(r.stats.seed_steps, r.stats.walker_steps) for r in results])
here = Path(__file__).parent
(here / "same_key_bundled").mkdir(exist_ok=True)
np.savez_compressed(here / "same_key_bundled" / f"{fingerprint()}.npz", **out[False])
if slab:
    np.savez_compressed(here / "same_key.npz", **out[True])
