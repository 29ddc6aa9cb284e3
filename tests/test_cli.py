"""The command line: argument parsing, every error path (one line, exit status 2), the files written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inverse_set import InverseSetResult, Ladder, Models, Unit
from inverse_set.cli.main import main

ROOT = Path(__file__).resolve().parents[1]

SLAB_MODELS = '''
import jax, jax.numpy as jnp
from inverse_set import Models
w = jnp.array([3.0, -2.0])
models = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=2,
                target=lambda x: jnp.stack([jax.nn.sigmoid(w @ x - 0.5)]))
'''


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("argv, says", [
    (["sample", "--neuron", "10", "--band", "1,2"], "10"),
    (["sample", "--neuron", "Bag", "--band", "14,9"], "z1"),
    (["sample", "--neuron", "Bag", "--band", "p50,p50"], "z1 = z2"),
    (["sample", "--neuron", "fc6:99999", "--band", "p50,p95"], ("index 99999 is out of range for layer 'fc6', which "
                                                               "has 256 units")),
    (["sample", "--neuron", "12", "--band", "p50,p95"], "index 12 is out of range for layer 'logits'"),
    (["sample", "--neuron", "fc6:-1", "--band", "p50,p95"], "unit indices count from 0; got -1"),
    (["sample", "--neuron", "-3", "--band", "1,2"], "unit indices count from 0; got -3"),
    (["sample", "--neuron", "Bag", "--band", "nan,14"], "finite"),
    (["sample", "--neuron", "Bag", "--band", "p50,p95", "--n", "0"], "--n"),
    (["sample", "--neuron", "Bag", "--band", "p50,p95", "--seeds", "0"], "--seeds"),
    (["sample", "--neuron", "Hat", "--band", "1,2"], "not a class name"),
    (["sample", "--neuron", "fc6:x", "--band", "1,2"], "LAYER:UNIT"),
    (["sample", "--neuron", "Bag", "--band", "p142,p95"], "nor a percentile pX with 0 < X < 100"),
    (["sample", "--neuron", "Bag", "--band", "q5,p95"], "neither a number, nor one of p1"),
    (["sample", "--neuron", "Bag", "--band", "1"], "two edges"),
    (["sample", "--neuron", "Bag"], "one --band per --neuron"),
    (["sample", "--neuron", "conv2:5@3,3", "--band", "p50,p95"], "give the band as numbers"),
    (["sample", "--neuron", "fc6:3@x", "--band", "1,2"], "LAYER:UNIT@T (a token layer's channel at one token)"),
    (["sample", "--neuron", "conv2:5@3", "--band", "1,2"], "its position is a pair (h, w), not the token 3"),
    (["sample", "--neuron", "fc6:3@2", "--band", "1,2"], "token layers shaped (T, C). Drop position="),
    (["sample", "--neuron", "Bag", "--band", "1,2", "--models", "nope"], "installed"),
    (["sample", "--neuron", "Bag", "--band", "1,2", "--models", "missing.py"], "no such file"),
    (["atlas", "--neuron", "Bag"], "bands"),
    (["atlas", "--layer", "fc6", "--units", "5:2", "--band", "p90,p99"], "selects no unit"),
    (["show", "nowhere/result"], "no saved result"),
    (["bench", "nowhere.json"], "no benchmark results"),
    (["bench"], "required: results_file"),
    (["frobnicate"], "invalid choice"),
    (["sample", "--neuron", "Bag", "--band", "p50,p95", "--method", "ppgn"], "invalid choice"),
])
def test_every_error_is_one_line_and_exit_status_2(argv, says, capsys):
    # in an empty directory of the test's own (tests/conftest.py): a run in ./out/sample, where the suite started,
    # would answer "already holds a run" before the error checked here
    rc, out, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert says in lines[0] and "Traceback" not in err and lines[0].split(":")[1].strip() == "error"
    assert "sampling" not in out  # checked in full before anything is printed


def test_each_test_runs_in_an_empty_directory_not_where_the_suite_started(request):
    # README command 1, run where the suite starts (as CI does), writes ./out/sample: no test sees it.
    assert Path.cwd() != request.config.invocation_params.dir and list(Path.cwd().iterdir()) == []
    assert main(["show", "out/sample/result"]) == 2


def test_help_names_the_program_and_documents_every_option():
    for cmd, prog in ([sys.executable, "-m", "inverse_set"], "python -m inverse_set"), \
                     ([sys.executable, "-c", ("import sys; from inverse_set.cli.main import main; sys.argv[0] = "
                       "'inverse-set'; sys.exit(main())")], "inverse-set"):
        out = subprocess.run([*cmd, "sample", "--help"], capture_output=True, text=True, check=True).stdout
        assert out.startswith(f"usage: {prog} sample")
        for option in ("--neuron", "--band", "--models", "--n ", "--seeds", "--rng", "--out", "--show", "--quiet",
                       "--method", "prior-ladder", "prior-slice"):
            assert option in out


def test_sample_writes_a_result_a_picture_and_strict_json(tmp_path, capsys):
    out = tmp_path / "bag"
    rc, stdout, err = run(["sample", "--neuron", "bag", "--band", "p25,p95", "--n", "12", "--out", str(out)],
                          capsys)
    assert rc == 0, err
    res = InverseSetResult.load(out / "result")
    assert len(res) == 12 and ((res.activations >= res.z1) & (res.activations <= res.z2)).all()
    assert res.constraints == ("logits[8]",)
    assert Image.open(out / "samples.png").size[0] > 200
    reject = lambda c: (_ for _ in ()).throw(ValueError(c))
    run_json = json.loads((out / "run.json").read_text(), parse_constant=reject)
    assert run_json["num_samples"] == 12 and run_json["labels"] == ["Bag"]
    assert run_json["command"].endswith(f"sample --neuron bag --band p25,p95 --n 12 --out {out}")  # as given
    # What ran: the bundled models' default, with its settings; both kinds of passes through the networks.
    assert "method 'prior-ladder'" in stdout and run_json["method"] == "prior-ladder"
    assert run_json["settings"] == res.stats.settings and run_json["settings"]["walk"]["kind"] == "LadderWalk"
    # The Bag's p25–p95 band holds about 3.5% of the prior (p50–p95: 1.6%, at the limit, either way by chance),
    # above the rejection limit's share: drawn by rejection, forward passes only, no seed.
    limit = Ladder().rejection_limit
    assert run_json["seed_status"] == "skipped" and run_json["walk_status"] == "complete"
    assert run_json["population_start"] == "rejection" and run_json["band_mass"][1] > 1 / limit
    assert run_json["forward_evaluations"] > 0 and run_json["gradient_evaluations"] == 0
    assert "\r" not in err and "samples: 12/12" in err  # not a terminal: plain progress lines
    rc, stdout, _ = run(["show", str(out / "result")], capsys)
    assert rc == 0 and "12 of 12 samples" in stdout and "all inside their bands: True" in stdout
    assert "Bag (logits[8]) in [" in stdout  # the name the command was given, beside the layer's
    # the same --out again: refused, not overwritten, unless --overwrite
    rc, _, err = run(["sample", "--neuron", "bag", "--band", "p25,p95", "--n", "12", "--out", str(out)], capsys)
    assert rc == 2 and "already holds a run" in err and "--overwrite" in err
    assert "method 'prior-ladder'" in stdout and "forward-only passes" in stdout


def test_sample_by_the_fourier_method_runs_on_the_classifier_alone(tmp_path, capsys):
    out = tmp_path / "sandal"
    rc, stdout, err = run(["sample", "--neuron", "Sandal", "--band", "p50,p95", "--n", "8", "--method", "fourier",
                           "--quiet", "--out", str(out)], capsys)
    assert rc == 0, err
    res = InverseSetResult.load(out / "result")
    assert len(res) == 8 and ((res.activations >= res.z1) & (res.activations <= res.z2)).all()
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["method"] == "fourier" and run_json["settings"]["space"] == "image"
    assert "an image's spectrum" in stdout and res.codes.shape[1] == 2 * 28 * 15  # the spectrum, not G's codes


def test_sample_with_the_papers_method_says_so(tmp_path, capsys):
    rc, stdout, err = run(["sample", "--neuron", "Bag", "--band", "p50,p95", "--n", "12", "--method", "paper",
                           "--quiet", "--out", str(tmp_path)], capsys)
    assert rc == 0, err
    assert "method 'paper'" in stdout and "gradient walker" in stdout
    run_json = json.loads((tmp_path / "run.json").read_text())
    assert run_json["method"] == "paper" and run_json["settings"]["walk"]["kind"] == "GradientWalk"
    res = InverseSetResult.load(tmp_path / "result")
    assert res.stats.method == "paper" and res.generator_inputs is None and (res.codes >= 0).all()
    assert len(res) == 12 and ((res.activations >= res.z1) & (res.activations <= res.z2)).all()


def test_intersection_of_a_hidden_unit_and_a_class(tmp_path, capsys):
    import generators

    unit = int(np.argmax(generators.load("fashion").stats["fc6"]["p75"]))
    rc, _, err = run(["sample", "--neuron", f"fc6:{unit}", "--neuron", "Sneaker", "--band", "p50,p99",
                      "--band", "p25,p75", "--n", "12", "--quiet", "--out", str(tmp_path)], capsys)
    assert rc == 0, err
    res = InverseSetResult.load(tmp_path / "result")
    assert res.activations.shape == (12, 2) and ((res.activations >= res.z1) & (res.activations <= res.z2)).all()


def test_atlas_rows_by_band_and_by_unit(tmp_path, capsys):
    rc, _, err = run(["atlas", "--neuron", "Bag", "--band", "p5,p25", "--band", "p50,p75", "--n", "12",
                      "--out", str(tmp_path / "bands")], capsys)
    assert rc == 0, err
    atlas_run = json.loads((tmp_path / "bands" / "run.json").read_text())
    rows = atlas_run["rows"]
    assert [r.get("num_samples") for r in rows] == [12, 12] and atlas_run["method"] == "prior-ladder"
    first, last = (InverseSetResult.load(tmp_path / "bands" / f"row{i}") for i in (0, 1))
    assert first.activations.max() <= last.activations.min()  # the rows are the bands, in order
    rc, layer_out, err = run(["atlas", "--layer", "fc6", "--units", "0:3", "--band", "p90,p99", "--n", "12", "--report",
                             "--out", str(tmp_path / "layer")], capsys)
    assert rc == 0, err
    rows = json.loads((tmp_path / "layer" / "run.json").read_text())["rows"]
    # fc6 units 0 and 1 are 0 on at least 99% of the test images: their rows say so, unit 2's has samples.
    assert ["empty band" in r.get("error", "") for r in rows] == [True, True, False]
    assert rows[2]["num_samples"] == 12 and [r["neuron"] for r in rows] == ["fc6:0", "fc6:1", "fc6:2"]
    assert "p90 = p99 = 0 on the test images, so the unit is at most 0 on 99% of them" in rows[0]["error"]
    assert "atlas: 3 rows (2 with an empty band, not sampled)" in layer_out
    assert "problems: 1/1" in err  # progress: the problems done (the one with a band)
    assert Image.open(tmp_path / "layer" / "atlas.png").size[1] > 2 * 28
    # --report: one section per row, the empty rows saying why, the unit's row with its samples and real examples
    page = (tmp_path / "layer" / "report.html").read_text()
    assert page.count("<section") == 3 and page.count("No samples: ValueError: empty band") == 2
    a, b = rows[2]["band"]
    assert f"fc6:2, p90–p99 [{a:.4g}, {b:.4g}]" in page and "Real examples" in page and page.count("<svg") == 1


def test_models_from_a_python_file(tmp_path, capsys):
    path = tmp_path / "slab.py"
    path.write_text(SLAB_MODELS)
    rc, _, err = run(["sample", "--models", str(path), "--neuron", "0", "--band", "0.6,0.7", "--n", "20",
                      "--quiet", "--out", str(tmp_path / "out")], capsys)
    assert rc == 0, err
    res = InverseSetResult.load(tmp_path / "out" / "result")
    assert len(res) == 20 and ((res.activations >= 0.6) & (res.activations <= 0.7)).all()
    assert res.stats.method == "prior-ladder"  # init=2: a standard Gaussian, so the Gaussian-prior method
    rc, _, err = run(["sample", "--models", str(path), "--neuron", "0", "--band", "p50,p60"], capsys)
    assert rc == 2 and "give numbers" in err


def test_bench_prints_the_committed_benchmark(capsys):
    rc, out, _ = run(["bench", str(ROOT / "benchmarks" / "results" / "results.json")], capsys)
    assert rc == 0 and " | ours | " in out and " | rejection_prior | " in out


def test_bench_prints_the_headline_columns_of_the_report_split(tmp_path, capsys):
    rows = [{"cell": "X p50", "kind": "class", "band": "p50", "method": m, "split": s, "n_scored": 10, "recall": r,
             "vendi_quality": 1.0, "path_similarity": 0.5, "cost_per_in_band": 2.0, "wall_s": 1.0}
            for m, s, r in (("ours", "report", 0.4), ("ours", "dev", 0.9), ("rejection_prior", "report", 0.8))]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"machine": "m", "rows": rows}))
    rc, out, _ = run(["bench", str(path)], capsys)
    head, *lines = [line for line in out.splitlines() if " | " in line]
    assert rc == 0 and all(k in head for k in ("n_scored", "recall", "vendi_quality", "path_similarity"))
    ours = next(line for line in lines if " | ours | " in line).split(" | ")
    assert ours[head.split(" | ").index("recall")] == "0.4" and ours[3] == "1"  # the dev row left out


# A generator with 2 MB of weights: the image's first two pixels are sigmoid(code), the other 250,000 depend on
# the code through a fixed random matrix.
WEIGHTED_MODELS = '''
import jax, jax.numpy as jnp, numpy as np
from inverse_set import Models
m = jnp.asarray(np.concatenate([np.eye(2), np.random.default_rng(0).normal(size=(2, 250_000))], 1), jnp.float32)
w = jnp.array([3.0, -2.0])
models = Models(generator=lambda c: jax.nn.sigmoid(c @ m), encoder=lambda x: x[:16], init=2,
                target=lambda x: jnp.stack([jax.nn.sigmoid(w @ x[:2] - 0.5)]))
'''


def test_a_repeated_command_compiles_nothing_new_with_the_persistent_cache(tmp_path):
    # JAX's persistent compilation cache, on by default (INVERSE_SET_CACHE: a directory, or "off")
    (tmp_path / "slab.py").write_text(WEIGHTED_MODELS)

    def sample(setting, band, out):
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
        env.pop("INVERSE_SET_CACHE", None)
        env.update({} if setting is None else {"INVERSE_SET_CACHE": setting})
        argv = [sys.executable, "-m", "inverse_set", "sample", "--models", str(tmp_path / "slab.py"), "--neuron", "0",
                "--band", band, "--n", "20", "--quiet", "--out", str(tmp_path / out)]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr

    def entries(cache):
        return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())

    sample("off", "0.6,0.7", "a")
    assert not (tmp_path / "xdg").exists()  # off: nothing written anywhere
    sample(None, "0.6,0.7", "b")  # the default: the user's cache directory
    first = entries(tmp_path / "xdg" / "inverse-set" / "jax")
    assert len(first) > 0  # every compilation of the run went into the cache
    sample(None, "0.3,0.4", "c")  # another band, the same programs: all read from the cache, none added
    assert entries(tmp_path / "xdg" / "inverse-set" / "jax") == first
    # The networks' weights are the compiled programs' arguments, not constants compiled into every call site
    # of the networks: the whole cache is smaller than the generator's weights alone.
    size = sum(p.stat().st_size for p in (tmp_path / "xdg" / "inverse-set" / "jax").rglob("*") if p.is_file())
    assert size < 250_002 * 2 * 4, size


def test_any_percentile_is_a_band_edge_computed_from_the_data(tmp_path):
    import generators
    from inverse_set.cli.arguments import load_models, parse_band
    from inverse_set.core.chunks import chunked

    zoo = generators.load("fashion")
    images, labels = generators.load_fashion_mnist("test")
    bag = chunked(lambda x: zoo.target(x)["logits"][8])(images[labels == 8])  # the 1000 test bags
    z1, z2 = parse_band("p42,p95", Unit(None, 8), zoo)  # p42 is not stored: computed on the bags, as p95 was
    assert z1 == pytest.approx(np.percentile(bag, 42), rel=1e-4) and z2 == pytest.approx(np.percentile(bag, 95),
                                                                                          rel=1e-4)
    # Your own models: percentiles from the dataset you give them (Models(dataset=fn)), none stored.
    rng = np.random.default_rng(0)
    data = rng.uniform(size=(400, 2)).astype(np.float32)
    path = tmp_path / "slab_data.py"
    np.save(tmp_path / "data.npy", data)
    load = f"dataset=lambda: __import__('numpy').load({str(tmp_path / 'data.npy')!r}), target=lambda"
    path.write_text(SLAB_MODELS.replace("target=lambda", load))
    models = load_models(str(path))
    a = 1 / (1 + np.exp(-(data @ np.array([3.0, -2.0]) - 0.5)))
    z1, z2 = parse_band("p40,max", Unit(None, 0), models)
    assert z1 == pytest.approx(np.percentile(a, 40), rel=1e-5) and z2 == pytest.approx(a.max(), rel=1e-5)


@pytest.mark.parametrize("argv", [
    ["sample", "--neuron", "Bag", "--band", "p50,p95", "--n", "0"],
    ["sample", "--neuron", "Bag", "--band", "p50,p95,p99"],
    ["sample", "--neuron", "Bag", "--band", "p50,x+1"],
    ["atlas", "--neuron", "Bag", "--band", "9.5"],
    ["sample", "--neuron", "Bag", "--band", "p50,p95", "--method", "nope"],
])
def test_a_bad_argument_is_answered_before_jax_starts(argv):
    code = ("import sys; from inverse_set.cli.main import main; rc = main(sys.argv[1:]); "
            "print(rc, sorted(m for m in ('jax', 'flax', 'generators') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert done.stdout.split("\n")[-2] == "2 []", (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "error:" in done.stderr  # one line


def test_the_command_line_names_every_method_and_the_package_its_functions():
    import inverse_set
    import inverse_set.report.dataset_examples
    import inverse_set.report.facets
    from inverse_set import methods
    from inverse_set.cli.main import METHOD_NAMES

    assert set(METHOD_NAMES) == set(methods.PRESETS)
    assert all(callable(getattr(inverse_set, name)) or name == "METHODS" or name == "initialization"
               for name in inverse_set.__all__)
    from inverse_set import atlas, dataset_examples, facets

    assert [f.__name__ for f in (atlas, dataset_examples, facets)] == ["atlas", "dataset_examples", "facets"]
    # in a fresh process, the package's own modules are its attributes as when it imported them all at once
    code = ("import inverse_set as i; print(i.sampler.to_host.__name__, i.particles.__name__, i.Ladder.__name__, "
            "i.facets.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["to_host", "inverse_set.particles", "Ladder", "facets"], done.stderr


def test_a_neuron_on_the_command_line_reads_a_token_layers_channel_at_one_token():
    from inverse_set.cli.arguments import parse_neuron, unit_label
    from inverse_set.core.constraints import Unit

    models = Models(class_names=None)
    for text, unit in (("blocks.6.mlp.fc1:123@5", Unit("blocks.6.mlp.fc1", 123, 5)),
                       ("conv2:5@7,7", Unit("conv2", 5, (7, 7))), ("fc6:46", Unit("fc6", 46))):
        assert parse_neuron(text, models) == unit
        assert unit_label(unit, models) == text
