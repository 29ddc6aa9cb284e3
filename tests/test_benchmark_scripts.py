"""The benchmark scripts run end to end on a tiny budget (as scripts: the tests import nothing from benchmarks/).

Every run writes under the test's tmp_path only: each script is given ``--out`` there, and no bytecode is written
beside the scripts (``PYTHONDONTWRITEBYTECODE``). The studies in benchmarks/studies/ are not run here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("ours", "ppgn", "rejection_prior", "rejection_real", "real")
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def script(name, *args, timeout=300):
    """Run ``benchmarks/<name>`` from the repository root; the finished process."""
    return subprocess.run([sys.executable, f"benchmarks/{name}", *map(str, args)], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=ENV)


def diversity(*args, timeout=900):
    proc = script("diversity.py", *args, timeout=timeout)
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
    ours = [r for r in rows if r["method"] == "ours"]
    assert {r["method_name"] for r in ours} == {"prior-ladder"}  # the method that ran, and its resolved settings
    assert all(r["method_settings"]["walk"]["kind"] == "LadderWalk" for r in ours)
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
    # --add runs another method on the stored cells of --bands and scores it on each cell's stored n_scored.
    diversity(*args[:args.index("--methods")], "--bands", "p95", "--add", "slice", "--out", str(tmp_path))
    added = json.loads((tmp_path / "results.json").read_text())
    assert added["rows"][: len(rows)] == rows and len(added["commands"]) == 3
    (extra,) = added["rows"][len(rows):]
    assert extra["cell"] == "Bag p95" and extra["method"] == "slice" and extra["method_name"] == "prior-slice"
    assert extra["n_scored"] == inside["n_scored"] or (extra["n_scored"] == 0 and "not scored" in extra["note"])
    assert extra["in_band_rate"] == 1.0 and "| Bag p95 | slice |" in (tmp_path / "results.md").read_text()


def test_the_benchmark_page_quotes_the_committed_benchmark_as_generated():
    proc = script("readme_table.py", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_benchmark_blocks_are_written_between_their_markers_and_a_stale_one_fails_the_check(tmp_path):
    page, readme = tmp_path / "benchmarks.md", tmp_path / "README.md"
    page.write_text("# Benchmarks\n\nbefore\n<!-- benchmark: start -->\nold figures\n<!-- benchmark: end -->\n"
                    "between\n<!-- independence: start -->\n<!-- independence: end -->\nafter\n")
    readme.write_text("# Project\n<!-- headline: start -->\nold\n<!-- headline: end -->\nrest\n")
    pages = ("--page", page, "--readme", readme)
    stale = script("readme_table.py", *pages, "--check")
    assert stale.returncode != 0 and "stale" in stale.stderr, stale.stderr[-2000:]
    wrote = script("readme_table.py", *pages)
    assert wrote.returncode == 0, wrote.stderr[-2000:]
    text = page.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n<!-- benchmark: start -->\nGenerated by")
    assert text.endswith("<!-- independence: end -->\nafter\n") and "old figures" not in text
    assert "| class | p95 | ours |" in text and "rejection_prior" in text and "`ours` is the default" in text
    assert "fwd/sample ÷ rejection" in text  # the independence benchmark's pooled table
    head = readme.read_text()
    assert head.startswith("# Project\n<!-- headline: start -->\nGenerated by") and head.endswith("rest\n")
    table = [line for line in head.splitlines() if line.startswith("| ") and not line.startswith("| band")]
    assert 1 <= len(table) <= 12 and all(line.count(" | ") == 6 for line in table)
    fresh = script("readme_table.py", *pages, "--check")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    page.write_text(text.replace("| class | p95 | ours |", "| class | p95 | ours (edited) |"))
    edited = script("readme_table.py", *pages, "--check")
    assert edited.returncode != 0 and "stale" in edited.stderr
    page.write_text("# Benchmarks\n")
    missing = script("readme_table.py", *pages)
    assert missing.returncode != 0 and "no '<!-- benchmark: start -->'" in missing.stderr


def test_the_tables_refuse_a_results_file_whose_ours_is_not_the_current_default(tmp_path):
    payload = json.loads((ROOT / "benchmarks/results/results.json").read_text())
    page, readme = tmp_path / "benchmarks.md", tmp_path / "README.md"
    page.write_text("<!-- benchmark: start -->\n<!-- benchmark: end -->\n"
                    "<!-- independence: start -->\n<!-- independence: end -->\n")
    readme.write_text("<!-- headline: start -->\n<!-- headline: end -->\n")
    edits = {"an older default": lambda r: r.update(method_name="prior-slice",
                                                      method_settings={**r["method_settings"], "method": "prior-slice"}),
             "other settings": lambda r: r["method_settings"]["walk"].update(num_particles=7),
             "not recorded": lambda r: (r.pop("method_name"), r.pop("method_settings"))}
    for what, edit in edits.items():
        changed = json.loads(json.dumps(payload))
        for row in changed["rows"]:
            if row["method"] == "ours":
                edit(row)
        results = tmp_path / f"{what}.json"
        results.write_text(json.dumps(changed))
        proc = script("readme_table.py", "--results", results, "--page", page, "--readme", readme)
        assert proc.returncode != 0, what
        assert "but the default is now 'prior-ladder'" in proc.stderr and "diversity.py" in proc.stderr, proc.stderr
        assert page.read_text().count("Generated") == 0  # nothing written
        said = {"an older default": "ran prior-slice,", "other settings": "ran prior-ladder with other settings",
                "not recorded": "ran a method it did not record"}[what]
        assert said in proc.stderr, proc.stderr


def test_the_fourier_benchmark_runs_and_scores_each_method(tmp_path):
    proc = script("fourier.py", "--classes", "5", "--n", "8", "--methods", "fourier,pixel", "--grid-classes", "5",
                  "--out", tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = json.loads((tmp_path / "fourier.json").read_text())
    assert [r["method"] for r in rows] == ["fourier", "pixel"]
    assert all(r["returned"] == 8 and r["in_band"] == 1.0 and 0 <= r["judge_agreement"] <= 1 for r in rows)
    assert (tmp_path / "fourier_bundled_Sandal.png").stat().st_size > 1000
    assert "judge agreement" in (tmp_path / "fourier.md").read_text()


def test_the_independence_benchmark_runs_the_named_methods_only():
    """The ladder's research variants are gone: a name that is not a method is refused before any model loads."""
    for methods in ("ladder,ladder_watch", "ladder_set"):
        bad = script("independence.py", "--split", "dev", "--classes", "7", "--bands", "p95", "--methods", methods)
        assert bad.returncode == 2 and "unknown methods" in bad.stderr, (methods, bad.stderr[-2000:])
    bad = script("independence.py", "--ladder", "decorrelation=0.3")
    assert bad.returncode == 2 and "unrecognized arguments: --ladder" in bad.stderr, bad.stderr[-2000:]


def test_the_device_scale_compares_each_n_with_rejection_and_stops_at_its_limit(tmp_path):
    out = tmp_path / "scale.md"
    proc = script("device_scale.py", "--classes", "8", "--bands", "p95", "--n", "40", "--max-n", "79",
                  "--rejection-batches", "2", "--out", out, timeout=900)
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
    bad = script("device_scale.py", "--n", "100", "--max-n", "50")
    assert bad.returncode == 2 and "--max-n is at least --n" in bad.stderr, bad.stderr[-2000:]
