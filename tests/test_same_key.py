"""Same key, same samples: the codes of fixed-key runs match those recorded in tests/golden/.

The record was made before the package was reshaped; a change that is meant to
change the samples re-records it (tests/golden/record_same_key.py) and says why.
The slab cases are checked on every machine; the bundled cases against the
record of this kind of machine (tests/same_key_cases.py says why), and are
skipped, saying how to record them, on a kind of machine that has none.
"""

from pathlib import Path

import numpy as np
import pytest
from same_key_cases import CASES, SLAB_CASES, fingerprint

GOLDEN = Path(__file__).parent / "golden"


def record_for(name):
    path = GOLDEN / "same_key.npz" if name in SLAB_CASES else GOLDEN / "same_key_bundled" / f"{fingerprint()}.npz"
    if not path.is_file():
        pytest.skip(f"no same-key record of the bundled cases for this kind of machine ({fingerprint()}); "
                    "record one from the commit before a change with python3 tests/golden/record_same_key.py")
    return np.load(path)


@pytest.mark.parametrize("name", list(CASES))
def test_same_key_gives_the_recorded_codes(name):
    golden = record_for(name)
    results = CASES[name]()
    recorded = sorted({k.split("/")[1] for k in golden.files if k.startswith(name + "/")}, key=int)
    assert len(results) == len(recorded) > 0
    for i, res in enumerate(results):
        np.testing.assert_allclose(res.seeds, golden[f"{name}/{i}/seeds"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(res.codes, golden[f"{name}/{i}/codes"], rtol=1e-5, atol=1e-5)
        assert [res.stats.seed_steps, res.stats.walker_steps] == golden[f"{name}/{i}/steps"].tolist()
