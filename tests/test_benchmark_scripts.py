"""The benchmark scripts run end to end on a tiny budget (as scripts: the tests import nothing from benchmarks/)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_the_reduced_diversity_benchmark_runs_every_method_and_its_measures_are_in_range(tmp_path):
    # The baselines DGN-AM, the Gram term and eq. 5 are left out here (tests/test_baselines.py runs them).
    cmd = [sys.executable, "benchmarks/diversity.py", "--classes", "8", "--bands", "p50", "--n", "20", "--quick",
           "--no-extra", "--grid-classes", "8", "--methods", "ours,ours_realism,ppgn,rejection,real",
           "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    rows = data["rows"]
    methods = {r["method"] for r in rows}
    assert methods == {"ours", "ours_realism", "ppgn", "rejection", "real"}
    ours = [r for r in rows if r["method"] in ("ours", "ours_realism")]
    assert len(ours) == 2 and all(r["in_band_rate"] == 1.0 and r["n_in_band"] == 20 for r in ours)
    for r in rows:
        assert 0.0 <= r["in_band_rate"] <= 1.0
        if r["n_in_band"] >= 2:
            assert 1.0 <= r["vendi_judge"] <= r["n_in_band"] + 1e-6
            assert np.isfinite(r["frechet_judge"]) and r["frechet_judge"] >= 0
            keys = ("coverage", "judge_agreement") + (("precision",) if r["n_in_band"] > 3 else ())
            for key in keys:  # precision needs more samples than its k = 3; NaN below that
                assert 0.0 <= r[key] <= 1.0, (r["method"], key, r[key])
    page = (tmp_path / "results.md").read_text()
    assert "| class | p50 | ours |" in page
    assert list(tmp_path.glob("grid_*.png"))
