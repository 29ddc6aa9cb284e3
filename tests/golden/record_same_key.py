"""Record the codes the sampler returns for fixed keys (tests/test_same_key.py checks them).

Run from the repository root, only when a change is *meant* to change the samples
(say so in the commit):

    python3 tests/golden/record_same_key.py

It writes tests/golden/same_key.npz. The cases are in tests/same_key_cases.py.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from same_key_cases import CASES  # noqa: E402

out = {}
for name, case in CASES.items():
    results = case()
    for i, res in enumerate(results):
        out[f"{name}/{i}/codes"] = res.codes
        out[f"{name}/{i}/seeds"] = res.seeds
        out[f"{name}/{i}/steps"] = np.array([res.stats.seed_steps, res.stats.walker_steps])
    print(name, [len(r) for r in results], [(r.stats.seed_steps, r.stats.walker_steps) for r in results])
np.savez_compressed(Path(__file__).with_name("same_key.npz"), **out)
