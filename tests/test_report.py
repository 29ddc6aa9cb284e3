"""Facets, dataset examples and the HTML report: known clusters, a known in-band set, and the page in a real browser."""

import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from inverse_set.cli.main import main
from inverse_set.report.dataset_examples import DatasetExamples, dataset_examples
from inverse_set.report.facets import MIN_SILHOUETTE, facets
from inverse_set.report.page import MAX_MEMBERS, MAX_SAMPLES, Section, build_section, report_html
from inverse_set.results import InverseSetResult, SamplerStats

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def blobs(sizes, dim=5, spread=0.3, seed=0):
    """Gaussian clusters 10 apart, one per size: (features, true labels)."""
    rng = np.random.default_rng(seed)
    centres = 10.0 * np.eye(len(sizes), dim)
    x = np.concatenate([c + spread * rng.normal(size=(s, dim)) for c, s in zip(centres, sizes)])
    return x, np.repeat(np.arange(len(sizes)), sizes)


def fake_result(images, activations, z1, z2):
    stats = SamplerStats(method="prior-ladder", settings={}, seed_status="skipped", walk_status="complete",
                         seed_steps=0, seed_outer_iterations=0, walker_steps=1, kept_per_step=np.zeros(1, int),
                         gradient_evaluations=0, forward_evaluations=123, compile_time_s=1.0, run_time_s=2.0,
                         mu=0.0, lam=np.zeros((0, 1)), band_mass=(0.02, 0.015, 0.025))
    m = len(images)
    return InverseSetResult(codes=np.arange(m, dtype=np.float32)[:, None], images=images, activations=activations,
                            seeds=np.zeros((0, 1)), seed_activations=np.zeros((0, 1)), z1=np.array([z1]),
                            z2=np.array([z2]), constraints=("unit[0]",), n_requested=m, stats=stats)


# --------------------------------------------------------------------------- facets


def test_facets_recover_known_clusters_with_k_chosen_by_the_silhouette():
    x, truth = blobs([40, 25, 15])
    found = facets(x)
    assert found.chosen_by == "silhouette" and len(found) == 3 and max(found.silhouette, key=found.silhouette.get) == 3
    assert [f.size for f in found] == [40, 25, 15]  # largest first
    for f in found:  # each facet is one true cluster, its medoid a member, its members nearest the medoid first
        assert len(set(truth[f.members])) == 1 and f.medoid == f.members[0]
        d = np.linalg.norm(x[f.members] - x[f.medoid], axis=1)
        assert (np.diff(d) >= 0).all()
    assert (found.labels[found[1].members] == 1).all()


def test_facets_say_when_there_is_no_structure_and_honour_a_given_k():
    x = np.random.default_rng(1).uniform(size=(60, 8))  # no clusters
    found = facets(x)
    assert found.chosen_by == "no structure" and len(found) == 1 and found[0].size == 60
    assert max(found.silhouette.values()) < MIN_SILHOUETTE
    two = facets(blobs([20, 20, 20])[0], k=2)
    assert two.chosen_by == "given" and len(two) == 2 and sum(f.size for f in two) == 60


@pytest.mark.parametrize("kwargs, match", [({"k": 0}, "from 1 to the 10 samples"), ({"k": 11}, "from 1 to"),
                                           ({"k": 2.5}, "whole number"), ({"max_k": 1}, "max_k")])
def test_facets_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        facets(np.random.default_rng(0).normal(size=(10, 2)), **kwargs)


def test_facets_of_a_result_need_features_or_models():
    res = fake_result(np.zeros((5, 4, 4)), np.zeros((5, 1)), -1.0, 1.0)
    with pytest.raises(TypeError, match="give models="):
        facets(res)
    with pytest.raises(ValueError, match="one row per sample"):
        facets(res, features=np.zeros((4, 2)))
    by_fn = facets(res, k=1, features=lambda image: jnp.ravel(image))
    assert by_fn.space == "<lambda>(x)" and by_fn[0].size == 5


# --------------------------------------------------------------------------- dataset examples


def test_dataset_examples_are_the_images_in_every_band():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(500, 3))
    w = rng.normal(size=(2, 3))
    ex = dataset_examples([0, 1], [-0.5, 0.0], [0.5, 1.0], images, target=lambda x: {"logits": jnp.asarray(w) @ x})
    acts = images @ w.T
    np.testing.assert_allclose(ex.activations, acts, rtol=1e-5, atol=1e-5)
    expected = (acts[:, 0] >= -0.5) & (acts[:, 0] <= 0.5) & (acts[:, 1] >= 0) & (acts[:, 1] <= 1)
    np.testing.assert_array_equal(ex.inside, expected)
    assert 0 < expected.sum() < 500 and ex.share == expected.mean()
    assert sorted(ex.indices) == list(np.flatnonzero(expected)) and (np.diff(ex.activations[ex.indices, 0]) >= 0).all()
    alone = ex.alone(1)
    np.testing.assert_array_equal(alone.inside, (acts[:, 1] >= 0) & (acts[:, 1] <= 1))
    with pytest.raises(TypeError, match="pass models="):
        dataset_examples(0, 0.0, 1.0, images)
    with pytest.raises(ValueError, match="empty or reversed"):
        dataset_examples(0, 1.0, 0.0, images, target=lambda x: x)


# --------------------------------------------------------------------------- the page


def clustered_report(tmp_path):
    """A report of 90 samples of three kinds (bars at three heights) and 200 'real' images, 12 of them in band."""
    rng = np.random.default_rng(0)
    images = np.zeros((90, 8, 8))
    for i in range(90):
        images[i, 2 * (i % 3) + 1] = 1.0
    images += 0.05 * rng.uniform(size=images.shape)
    acts = rng.uniform(0.4, 0.6, size=(90, 1))
    res = fake_result(images, acts, 0.4, 0.6)
    data_acts = np.concatenate([rng.uniform(0.4, 0.6, 12), rng.uniform(0.7, 2.0, 188)])[:, None]
    examples = DatasetExamples(data_acts, ((data_acts >= 0.4) & (data_acts <= 0.6))[:, 0], np.array([0.4]),
                               np.array([0.6]), ("unit[0]",))
    section = build_section("unit 0, p40–p60 [0.4, 0.6]", res, examples=examples,
                            dataset=rng.uniform(size=(200, 8, 8)), facet_spaces={"pixels": lambda x: jnp.ravel(x)})
    failed = Section("unit 1, p99–max [5, 6]", ValueError("the band lies above everything reached"))
    page = report_html([section, failed], title="a test report", figures={"command": "inverse-set sample …"})
    path = tmp_path / "report.html"
    path.write_text(page)
    found = section.facets[0][1]
    expected_images = MAX_SAMPLES + len(found) + sum(min(f.size, MAX_MEMBERS) for f in found) + 12
    return path, page, found, expected_images


def test_the_page_holds_every_part_inline_and_nothing_to_fetch(tmp_path):
    path, page, found, expected_images = clustered_report(tmp_path)
    assert len(found) == 3 and [f.size for f in found] == [30, 30, 30]  # the three kinds of bar
    assert page.count("<img ") == expected_images and page.count("<svg") == 1
    sources = re.findall(r"(?:src|href)=['\"]([^'\"]*)", page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http" not in page and "<script" not in page and "url(" not in page
    assert "12 of the 200 dataset images (6.00%) lie in the band" in page and "3 facet(s)" in page
    assert "the band lies above everything reached" in page and "0.02 (90% interval 0.015–0.025)" in page
    assert path.stat().st_size < 200_000


class Requests(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list] = []

    def do_GET(self):
        Requests.seen.append(f"{self.headers.get('Host')}{self.path}")
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def render(path, tmp_path):
    """Chromium headless on the page, every host name mapped to a counting server on 127.0.0.1: (screenshot, DOM,
    console lines, requests)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), Requests)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    Requests.seen = []
    shot = tmp_path / "shot.png"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update",
             "--disable-features=NetworkTimeServiceQuerying", "--enable-logging=stderr", "--v=0",
             f"--user-data-dir={tmp_path / 'chromium'}",
             f"--host-resolver-rules=MAP * 127.0.0.1:{server.server_port}", "--window-size=1200,1600"]
    # its profile, crash reports and caches in the test's directory, not in the user's ~/.config or ~/.cache
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    try:
        dom = subprocess.run([*flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120,
                             env=env)
        out = subprocess.run([*flags, f"--screenshot={shot}", path.as_uri()], capture_output=True, text=True,
                             timeout=120, env=env)
    finally:
        server.shutdown()
        server.server_close()
    console = [line for line in (dom.stderr + out.stderr).splitlines() if ":CONSOLE" in line]
    return shot, dom.stdout, console, list(Requests.seen)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium), as CI installs")
def test_the_page_renders_in_a_real_browser_with_no_error_and_no_request(tmp_path):
    path, _, _, expected_images = clustered_report(tmp_path)
    shot, dom, console, requests = render(path, tmp_path)
    assert dom.count("<img ") == expected_images and dom.count("<details>") == 3
    assert console == [] and requests == []
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (1600, 1200) and (pixels < 128).mean() > 0.01  # something dark was drawn on white
    # The same checks catch a page that fetches or fails: one image from the network, one script error.
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><img src='http://example.org/x.png'><script>undefined_fn()</script>")
    _, _, console, requests = render(bad, tmp_path)
    assert set(requests) == {"example.org/x.png"} and any("undefined_fn" in line for line in console)


# --------------------------------------------------------------------------- the command line, bundled models


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium), as CI installs")
def test_sample_report_on_the_bundled_models(tmp_path, capsys):
    out = tmp_path / "bag"
    assert main(["sample", "--neuron", "Bag", "--band", "p50,p95", "--n", "20", "--quiet", "--report",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    page = (out / "report.html").read_text()
    res = InverseSetResult.load(out / "result")
    assert "Bag, p50–p95 [" in page and "Facets in the encoder E(x)" in page and "Facets in the judge&#x27;s features" in page
    share = re.search(r"(\d+) of the 10000 dataset images", page)
    assert share and 0 < int(share.group(1)) < 10000  # the Fashion-MNIST test images in the band
    assert page.count("<svg") == 1 and f"{len(res)} of 20 asked" in page
    _, dom, console, requests = render(out / "report.html", tmp_path)
    assert console == [] and requests == [] and dom.count("<img ") == page.count("<img ")
    # `report DIR` rebuilds the same page from what the run wrote
    before = page
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").read_text() == before
    run = json.loads((out / "run.json").read_text())
    assert run["bands_given"] == ["p50,p95"]
