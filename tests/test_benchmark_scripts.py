"""The benchmark scripts run end to end on a tiny budget (as scripts: the tests import nothing from benchmarks/)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("ours", "ppgn", "rejection_prior", "rejection_real", "real")


def diversity(*args, timeout=900):
    proc = subprocess.run([sys.executable, "benchmarks/diversity.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_the_reduced_benchmark_scores_every_method_of_a_cell_on_the_same_n_and_resumes(tmp_path):
    # The baselines DGN-AM, the Gram term and eq. 5 are left out here (tests/test_baselines.py runs them); the
    # paper's method is the same sampler through another preset (tests/test_methods.py).
    args = ["--classes", "8", "--bands", "p95,max+", "--n", "20", "--quick", "--no-extra", "--grid-classes", "8",
            "--methods", ",".join(METHODS), "--out", str(tmp_path)]
    diversity(*args)
    data = json.loads((tmp_path / "results.json").read_text())
    rows = data["rows"]
    assert {r["method"] for r in rows} == set(METHODS)
    assert {r["cell"] for r in rows} == {"Bag p95", "Bag max+"}
    # the split: Bag p50 is a dev cell (the defaults were chosen on it) and is not run; the two are disjoint
    assert "Bag p50" in data["split"]["dev"] and {"Bag p95", "Bag max+"} <= set(data["split"]["report"])
    assert not set(data["split"]["dev"]) & set(data["split"]["report"])
    assert all(r["split"] == "report" for r in rows)
    assert set(data["adaptations"]) >= {"ppgn", "dgn_am", "gram_diversity", "rejection_prior", "rejection_real"}
    assert 0 < data["forward_over_fwd_bwd"] < 1.5
    for cell in ("Bag p95", "Bag max+"):
        cell_rows = [r for r in rows if r["cell"] == cell]
        scored = [r for r in cell_rows if r["n_scored"]]
        assert scored and len({r["n_scored"] for r in scored}) == 1, "every scored method of a cell on the same n"
        n = scored[0]["n_scored"]
        assert n == min(min(r["n_in_band"], 20) for r in scored)
        for r in cell_rows:
            for key in ("recall", "vendi_quality", "wall_s", "path_similarity", "compile_s", "forward_evals",
                        "gradient_evals", "cost_per_in_band"):
                assert key in r, (r["method"], key)
            if not r["n_scored"]:
                assert r["vendi_judge"] is None and "not scored" in r["note"]
    ours = {r["cell"]: r for r in rows if r["method"] == "ours"}
    assert all(r["in_band_rate"] == 1.0 and r["n_in_band"] == 20 for r in ours.values())
    # counted apart: the ladder's forward passes, and gradients only where it stalled and the seeds ran
    for r in ours.values():
        assert r["forward_evals"] > 0 and (r["gradient_evals"] > 0) == (r["population_start"] == "seeds"), r
    # In the data: measures against real members, with bootstrap intervals, and the ideal's reference.
    inside = ours["Bag p95"]
    assert not inside["beyond_data"] and inside["n_reference"] >= 20
    for key in ("coverage", "precision", "recall"):
        lo, hi = inside[key + "_ci90"]
        assert 0.0 <= lo <= hi <= 1.0 and 0.0 <= inside[key] <= 1.0
    assert 0.0 < inside["path_similarity"] <= 1.0 and 0.0 <= inside["vendi_quality"] <= inside["vendi_judge"]
    real = next(r for r in rows if r["cell"] == "Bag p95" and r["method"] == "real")
    assert real["path_similarity"] is None and real["n_scored"] == inside["n_scored"]  # the real row is the scale
    prior = next(r for r in rows if r["cell"] == "Bag p95" and r["method"] == "rejection_prior")
    assert prior["draws"] > 0 and 0 < prior["acceptance_rate"] < 1
    # Beyond the data: no real member, so nothing measured against one; precision against the class's images.
    beyond = ours["Bag max+"]
    assert beyond["beyond_data"] and beyond["coverage"] is None and beyond["recall"] is None
    assert 0.0 <= beyond["precision_class"] <= 1.0 and beyond["vendi_quality"] <= beyond["vendi_judge"]
    assert all(not r["n_scored"] for r in rows if r["cell"] == "Bag max+" and r["method"] == "real")
    page = (tmp_path / "results.md").read_text()
    assert "## Headline (report split)" in page and "| class | p95 | ours |" in page and "ideal" in page
    assert list(tmp_path.glob("grid_*.png"))
    # --resume runs only the cells results.json lacks: here none, so the rows are kept as they were.
    proc = diversity(*args, "--resume")
    again = json.loads((tmp_path / "results.json").read_text())
    assert again["rows"] == rows and len(again["commands"]) == 2 and "[1/2]" not in proc.stdout



def test_the_readme_quotes_the_committed_benchmark_as_generated():
    proc = subprocess.run([sys.executable, "benchmarks/readme_table.py", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_fourier_benchmark_runs_and_scores_each_method(tmp_path):
    proc = subprocess.run([sys.executable, "benchmarks/fourier.py", "--classes", "5", "--n", "8", "--methods",
                           "fourier,pixel", "--grid-classes", "5", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = json.loads((tmp_path / "fourier.json").read_text())
    assert [r["method"] for r in rows] == ["fourier", "pixel"]
    assert all(r["returned"] == 8 and r["in_band"] == 1.0 and 0 <= r["judge_agreement"] <= 1 for r in rows)
    assert (tmp_path / "fourier_bundled_Sandal.png").stat().st_size > 1000
    assert "judge agreement" in (tmp_path / "fourier.md").read_text()


def test_the_rejection_mass_script_counts_hits_of_a_cell():
    proc = subprocess.run([sys.executable, "benchmarks/rejection_mass.py", "--class", "8", "--band", "p50", "--draws",
                           "10000"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["cell"] == "Bag p50" and out["draws"] == 10000 and 0 < out["hits"] < 10000
    assert out["mass"] == out["hits"] / 10000 and out["sd"] > 0
    bad = subprocess.run([sys.executable, "benchmarks/rejection_mass.py", "--class", "8", "--band", "p50", "--draws",
                          "1234"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "multiple of 5000" in bad.stderr


def test_the_ladder_budget_adds_up_to_the_passes_per_sample(tmp_path):
    out = tmp_path / "budget.md"
    proc = subprocess.run([sys.executable, "benchmarks/ladder_budget.py", "--classes", "8", "--bands", "p50,p95",
                           "--keys", "0", "--n", "100", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r[0]: r[1:] for r in (line.strip("| ").split(" | ") for line in out.read_text().splitlines()[6:])}
    assert set(rows) == {"Bag p50", "Bag p95"}
    assert rows["Bag p50"][2] == "by rejection"  # a band with a large share of the prior: drawn, nothing to move
    (start, levels, band, repeats, gradients, total, rho, rho_along, mass, _, ratio, worth, for_mass, two,
     every) = rows["Bag p95"][1:16]
    assert 1 <= float(two) <= float(every)  # the older levels' families only add to the stop's design effect
    assert float(worth) >= 0 and for_mass == "0"  # no --mass-ess: the band's moves are the stop's alone
    parts = re.findall(r"(\d+) \((\d\.\d+), (φ|f)\)", levels)  # moves (share kept, which part of ρ stopped them)
    moves = [int(m) for m, _, _ in parts]
    band, band_by = re.fullmatch(r"(\d+) \((φ|f)\)", band).groups()
    assert float(start) == 10.0  # the first 100 draws and the pilot's 900 more, per sample of 100
    assert len(moves) >= 2 and moves[-1] == 0  # levels below the band moved, the last one is the band itself
    # the climb starts from the 100 of the pilot's 1000 draws nearest the band: its first level keeps p₀ × 100 of 1000
    assert float(parts[0][1]) == pytest.approx(0.04, abs=0.005), parts
    # each resampling fits the moves' law on two halves' 32 gradients (three passes each), per sample of 100
    assert float(gradients) == pytest.approx(len(moves) * 2 * 32 * 3 / 100, abs=0.05)
    assert abs(float(start) + sum(moves) + int(band) + float(repeats) + float(gradients) - float(total)) < 0.2
    assert 0 <= float(rho) <= 1 and abs(float(ratio) - float(total) * float(mass)) < 0.01 * float(ratio) + 1e-3
    assert float(rho_along) <= 1  # 1 − E(x − x₀)² / (2 Var x): below −1 where x₀ spread more than x does now
    bad = subprocess.run([sys.executable, "benchmarks/ladder_budget.py", "--ladder", "independent_share=1.5"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "must be a share, a number in [0, 1]" in bad.stderr, bad.stderr[-2000:]


def test_the_independence_benchmark_runs_the_default_with_changed_settings_only_when_asked_both_ways():
    """``--ladder name=value,…`` is the method ``ladder_set``: one without the other, or a bad setting, is refused
    before any model loads."""
    script = [sys.executable, "benchmarks/independence.py", "--split", "dev", "--classes", "7", "--bands", "p95"]
    for extra, says in ((["--methods", "ladder,ladder_set"], "go together"),
                        (["--ladder", "level_decorrelation=0.65"], "go together"),
                        (["--methods", "ladder_set", "--ladder", "independent_share=1.5"],
                         "must be a share, a number in [0, 1]")):
        bad = subprocess.run(script + extra, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and says in bad.stderr, (extra, bad.stderr[-2000:])


def test_the_fitted_law_scores_both_fits_of_the_moves_law_against_the_band(tmp_path):
    out = tmp_path / "law.md"
    proc = subprocess.run([sys.executable, "benchmarks/fitted_law.py", "--classes", "8", "--bands", "p50", "--keys", "0",
                           "--fit", "20,40", "--test", "20", "--draws", "200", "--subspace", "4", "--gradients", "8",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.strip("| ").split(" | ") for line in out.read_text().splitlines() if line.startswith("| Bag")]
    assert [(m, fit) for _, _, m, fit, _, _ in rows] == [(m, fit) for m in ("20", "40")
                                                         for fit in ("one axis", "gradients' span")]
    for *_, inside, accepted in rows:  # shares of the draws: the accepted ones land in the band first
        assert 0 < float(inside) <= 1 and 0 <= float(accepted) <= float(inside)
    bad = subprocess.run([sys.executable, "benchmarks/fitted_law.py", "--fit", "5"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "--fit sizes and --test must be at least 10" in bad.stderr, bad.stderr[-2000:]


def test_the_move_kinds_score_each_kind_of_move_from_the_settled_band(tmp_path):
    out = tmp_path / "kinds.md"
    proc = subprocess.run([sys.executable, "benchmarks/move_kinds.py", "--classes", "8", "--bands", "p50,p95", "--keys",
                           "0", "--n", "100", "--repeats", "1", "--trajectory", "3", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.strip("| ").split(" | ") for line in out.read_text().splitlines() if line.startswith("| Bag")]
    paths = [r for r in rows if len(r) == 7]  # the trajectories': cell, key, kind, ρ after each move, never moved, …
    rows = [r for r in rows if len(r) != 7]
    assert [r[2] for r in paths] == ["mix (the default's)", "fresh N(μ, Σ)", "local"]
    for *_, rhos, never, log_w, toward in paths:
        rhos = [float(r) for r in rhos.split()]
        assert len(rhos) == 3 and all(r <= 1 for r in rhos) and 0 <= float(never) < 1
        assert all(len(pair.split(", ")) == 2 for pair in (log_w, toward))  # never moved (nan if none), others
    assert float(paths[0][3].split()[0]) < 1  # the mix's first move moved some particles: ρ fell
    assert rows[0][:3] == ["Bag p50", "0", "by rejection"]  # independent draws: nothing to move
    kinds = {r[4]: [float(v) for v in r[5:]] for r in rows[1:]}
    assert list(kinds) == ["mix (the default's)", "fresh N(μ, Σ)", "fresh N(μ, I)", "local", "across", "walk 0.3",
                           "walk 0.6"]
    assert all(r[0] == "Bag p95" and int(r[2]) >= 4 for r in rows[1:])  # settled: at least the band's final moves
    for inside, accepted, jump in kinds.values():
        assert 0 <= accepted <= inside <= 1 and jump >= 0 and (jump > 0) == (accepted > 0)
    assert kinds["across"][0] == kinds["across"][1]  # the prior's own law across the axes: only the band decides
    bad = subprocess.run([sys.executable, "benchmarks/move_kinds.py", "--repeats", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--repeats at least 1" in bad.stderr, bad.stderr[-2000:]


def test_the_device_scale_compares_each_n_with_rejection_and_stops_at_its_limit(tmp_path):
    out = tmp_path / "scale.md"
    proc = subprocess.run([sys.executable, "benchmarks/device_scale.py", "--classes", "8", "--bands", "p95", "--n", "40",
                           "--max-n", "79", "--rejection-batches", "2", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    rows = [line.strip("| ").split(" | ") for line in text.splitlines() if line.startswith("| Bag p95")]
    assert [int(r[1]) for r in rows] == [40]  # the next, 80, is past --max-n
    for r in rows:
        n, returned, run_s, ms, passes = int(r[1]), int(r[2]), float(r[5]), float(r[6]), float(r[7])
        assert returned == n and passes >= 1 and abs(ms - 1e3 * run_s / n) <= 0.01 * ms + 1e-3
        per_draw, draws, rejection_ms, ratio = float(r[8]), float(r[9].split()[0]), float(r[10]), float(r[11])
        assert draws > 1 and abs(rejection_ms - per_draw * draws / 1e3) <= 0.01 * rejection_ms
        assert abs(ratio - ms / rejection_ms) <= 0.01 * ratio
        assert float(r[12].split()[0]) > 0  # the executable's memory
    assert "the largest N that ran is 40; the doubling stopped because --max-n 79 reached" in text
    bad = subprocess.run([sys.executable, "benchmarks/device_scale.py", "--n", "100", "--max-n", "50"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--max-n is at least --n" in bad.stderr, bad.stderr[-2000:]


def test_the_code_law_compares_the_codes_with_rejection_along_the_bands_directions(tmp_path):
    out = tmp_path / "law.md"
    small = ["benchmarks/code_law.py", "--classes", "8", "--bands", "p50", "--keys", "0", "--n", "60",
             "--reference", "80", "--fit", "40", "--cache", str(tmp_path / "cache")]
    proc = subprocess.run([sys.executable, *small, "--ladder", "watch_along=True", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rejection draws in band" in proc.stdout and len(list((tmp_path / "cache").iterdir())) == 1
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [r["method"] for r in rows] == ["ideal", "ladder", "changed"] and all(r["n"] == 60 for r in rows)
    again = subprocess.run([sys.executable, *small, "--out", str(tmp_path / "again.md")], cwd=ROOT,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "rejection draws in band" not in again.stdout  # the cached draws, the same ideal and reference
    assert json.loads((tmp_path / "again.json").read_text())[0] == rows[0]
    for r in rows:  # Bag p50 holds a large share of the prior: the ladder draws it by rejection too
        assert set(r) >= {"u", "pc1", "pc2", "pc3"}
        assert all(r[d]["t2"] >= 0 and r[d]["spread"] > 0 for d in ("u", "pc1", "pc2", "pc3"))
        assert all(r[d]["t"] ** 2 == pytest.approx(r[d]["t2"]) for d in ("u", "pc1", "pc2", "pc3"))
    fitted = rows[0]["spectrum"]  # the ideal row carries the fit draws' covariance spectrum, tabled last
    assert fitted["draws"] == 40 and fitted["narrower"] + fitted["wider"] <= 256 and fitted["along_u"] > 0
    assert fitted["isotropic"][0] <= fitted["isotropic"][1] and "| Bag p50 | 0 | 40 |" in out.read_text()
    pooled = out.read_text().split("Pooled")[1]
    assert "| ideal | 1 |" in pooled and "| ladder | 1 |" in pooled
    bad = subprocess.run([sys.executable, "benchmarks/code_law.py", "--methods", "ladder,nonsense"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown nonsense" in bad.stderr
    bad = subprocess.run([sys.executable, "benchmarks/code_law.py", "--ladder", "survival=2"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--ladder" in bad.stderr and "survival" in bad.stderr, bad.stderr[-2000:]


def test_the_band_lines_say_how_much_of_the_spread_along_u_is_the_bands_place_moving(tmp_path):
    out = tmp_path / "lines.md"
    proc = subprocess.run([sys.executable, "benchmarks/band_lines.py", "--classes", "8", "--bands", "p50", "--n", "40",
                           "--grid", "21", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = [line for line in out.read_text().splitlines() if line.startswith("| Bag p50 | 0 |")]
    assert len(row) == 1, out.read_text()
    samples, line_sd, across, segments = (float(v) for v in row[0].strip("|").split("|")[2:6])
    assert samples == 40 and 0 < line_sd <= 3 and across <= 1 and segments >= 1
    bad = subprocess.run([sys.executable, "benchmarks/band_lines.py", "--grid", "3"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "--grid at least 11" in bad.stderr
