"""The sampler on the bundled Fashion-MNIST models, and the reduced benchmark."""

import jax
import numpy as np
import pytest

import generators
from inverse_set import Unit, sample_inverse_set, sample_inverse_sets


@pytest.fixture(scope="module")
def bundle():
    return generators.load("fashion")


def class_band(bundle, c, lo="p25", hi="p75"):
    s = bundle.stats["logits_by_class"][str(c)]
    return s[lo], s[hi]


def test_default_models_sample_the_bag_neuron_by_name(bundle):
    z1, z2 = class_band(bundle, 8)
    res = sample_inverse_set("Bag", z1, z2, n=20, rng_key=0, models=bundle)
    assert len(res) == 20 and res.images.shape == (20, 28, 28, 1)
    assert res.constraints == ("logits[8]",)
    # Independent recheck through the bundled target, batched.
    logits = np.asarray(jax.vmap(lambda x: bundle.target(x)["logits"])(res.images))[:, 8]
    assert ((logits >= z1 - 1e-4) & (logits <= z2 + 1e-4)).all()
    # The default space is the code prior's input z; G's inputs prior_code(z) are post-ReLU fc6 codes.
    assert bundle.space == "prior" and (np.asarray(jax.vmap(bundle.prior_code)(res.codes)) >= 0).all()
    assert ((res.images >= 0) & (res.images <= 1)).all()


def test_unknown_class_name_is_a_clear_error(bundle):
    with pytest.raises(ValueError, match="unknown neuron name 'Handbag'.*known class names"):
        sample_inverse_set("Handbag", 0.0, 1.0, n=5, models=bundle)


def test_intersection_of_a_hidden_unit_and_a_class_neuron(bundle):
    # Bands from real Sneaker images so the intersection is reachable.
    z1, z2 = class_band(bundle, 7)
    fc6 = bundle.stats["fc6"]
    u = int(np.argmax(fc6["p75"]))
    res = sample_inverse_set([Unit("fc6", u), "Sneaker"], [fc6["p50"][u], z1], [fc6["p99"][u], z2], n=20,
                             rng_key=1, models=bundle)
    assert len(res) == 20
    assert ((res.activations >= res.z1) & (res.activations <= res.z2)).all()


def test_reduced_benchmark_our_rate_is_one_and_measures_are_in_range():
    import harness as bm

    ctx = bm.Context(max_train=2000)
    budget = bm.Budget(n=30, ppgn_chains=3, dgn_steps=30, gram_steps=30, rejection_max_draws=2000,
                       joint_n=10, joint_steps=50)
    cells = bm.class_cells(ctx.zoo.stats, [8, 1], ["p50"])
    rows = []
    for cell in cells:
        r, samples = bm.run_cell(ctx, cell, budget, bm.METHODS, log=lambda *_: None)
        rows += r
    ours = [r for r in rows if r["method"] in ("ours", "ours_realism")]
    assert len(ours) == 4 and all(r["in_band_rate"] == 1.0 and r["n_in_band"] == 30 for r in ours)
    assert 0 < ctx.realism_tau < 1
    assert {r["method"] for r in rows} == set(bm.METHODS)
    for r in rows:
        assert 0.0 <= r["in_band_rate"] <= 1.0
        if r["n_in_band"] >= 2:
            assert 1.0 <= r["vendi_judge"] <= r["n_in_band"] + 1e-6
            assert 1.0 <= r["vendi_encoder"] <= r["n_in_band"] + 1e-6
            assert np.isfinite(r["mean_pairwise_distance_judge"]) and r["frechet_judge"] >= 0
            keys = ("coverage", "judge_agreement") + (("precision",) if r["n_in_band"] > 3 else ())
            for key in keys:  # precision needs more samples than its k = 3; NaN below that
                assert 0.0 <= r[key] <= 1.0, (r["method"], key, r[key])
            assert r["density"] >= 0
    table = bm.summary_table(rows)
    assert "| class | p50 | ours | 2 |" in table


@pytest.mark.parametrize("key", [1, 2])
def test_a_wide_hidden_unit_band_is_not_reported_infeasible(bundle, key):
    # fc6[19] at its own p50–p95 band (45% of the test images): keys 1 and 2 used to end in
    # InfeasibleBandError ("8 of 10", "9 of 10 seeds inside" after 2000 steps).
    fc6 = bundle.stats["fc6"]
    z1, z2 = fc6["p50"][19], fc6["p95"][19]
    res = sample_inverse_set(Unit("fc6", 19), z1, z2, n=40, models=bundle, rng_key=key)
    assert len(res) == 40 and ((res.activations >= z1) & (res.activations <= z2)).all()
    assert len(np.unique(res.codes, axis=0)) == 40


def test_a_batch_on_the_bundled_models_gives_the_samples_of_separate_calls(bundle):
    key = jax.random.key(4)
    (a1, a2), (b1, b2) = class_band(bundle, 8), class_band(bundle, 3)
    batch = sample_inverse_sets(["Bag", "Dress"], [[a1], [b1]], [[a2], [b2]], n=30, models=bundle, rng_key=key)
    for i, (name, z1, z2) in enumerate([("Bag", a1, a2), ("Dress", b1, b2)]):
        alone = sample_inverse_set(name, z1, z2, n=30, models=bundle, rng_key=jax.random.fold_in(key, i))
        np.testing.assert_array_equal(batch[i].seeds, alone.seeds)
        np.testing.assert_array_equal(batch[i].codes, alone.codes)
