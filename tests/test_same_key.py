"""Same key, same samples: the codes of fixed-key runs match those recorded in tests/golden/same_key.npz.

The record was made before the package was reshaped; a change that is meant to
change the samples re-records it (tests/golden/record_same_key.py) and says why.
"""

from pathlib import Path

import numpy as np
import pytest

from same_key_cases import CASES

GOLDEN = np.load(Path(__file__).parent / "golden" / "same_key.npz")


@pytest.mark.parametrize("name", list(CASES))
def test_same_key_gives_the_recorded_codes(name):
    results = CASES[name]()
    recorded = sorted({k.split("/")[1] for k in GOLDEN.files if k.startswith(name + "/")}, key=int)
    assert len(results) == len(recorded)
    for i, res in enumerate(results):
        np.testing.assert_allclose(res.seeds, GOLDEN[f"{name}/{i}/seeds"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(res.codes, GOLDEN[f"{name}/{i}/codes"], rtol=1e-5, atol=1e-5)
        assert [res.stats.seed_steps, res.stats.walker_steps] == GOLDEN[f"{name}/{i}/steps"].tolist()
