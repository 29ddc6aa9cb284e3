"""The public layer: Models, make_sampler, results saved and loaded, batches that report each member."""

import json

import jax
import numpy as np
import pytest

from inverse_set import (
    InfeasibleBandError,
    InverseSetResult,
    Models,
    SamplingError,
    SeedConfig,
    WalkerConfig,
    initialization,
    make_sampler,
    sample_inverse_set,
    sample_inverse_sets,
)
from inverse_set.cache import SAMPLER_CACHE

W = jax.numpy.array([1.5, -2.0, 1.0, 0.5])
NEURON = lambda x: jax.nn.sigmoid(W @ x)  # noqa: E731
SLAB = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=initialization.gaussian(4, scale=0.1))


def test_a_call_without_models_says_how_to_pass_them():
    with pytest.raises(TypeError, match=r"no models given: pass models=Models\(.*generators.load\('fashion'\)"):
        sample_inverse_set(NEURON, 0.4, 0.6, n=10)
    with pytest.raises(TypeError, match="also give encoder, init"):
        sample_inverse_set(NEURON, 0.4, 0.6, n=10, generator=jax.nn.sigmoid)
    with pytest.raises(TypeError, match="models must be a Models"):
        sample_inverse_set(NEURON, 0.4, 0.6, n=10, models={"generator": jax.nn.sigmoid})


def test_models_value_and_keywords_give_the_same_samples():
    a = sample_inverse_set(NEURON, 0.4, 0.6, n=30, models=SLAB, rng_key=3)
    b = sample_inverse_set(NEURON, 0.4, 0.6, n=30, generator=SLAB.generator, encoder=SLAB.encoder, init=SLAB.init,
                           rng_key=3)
    np.testing.assert_array_equal(a.codes, b.codes)
    # A keyword overrides the field of the models it is given with.
    c = sample_inverse_set(NEURON, 0.4, 0.6, n=30, models=SLAB, walker_config=WalkerConfig(step_size=0.05), rng_key=3)
    assert not np.array_equal(a.codes, c.codes)


def test_make_sampler_binds_the_neurons_and_reuses_the_compiled_run():
    sampler = make_sampler(NEURON, 20, models=SLAB)
    assert sampler.labels == ("<lambda>",)
    first, second = sampler.sample(0.4, 0.6, rng_key=0), sampler.sample(0.5, 0.7, rng_key=0)
    assert second.stats.compile_time_s == 0.0 and first.stats.compile_time_s >= 0.0
    assert ((second.activations >= 0.5) & (second.activations <= 0.7)).all()
    assert make_sampler(NEURON, 20, models=SLAB).compiled is sampler.compiled
    assert len(SAMPLER_CACHE) <= 16


def test_result_saves_and_loads_without_pickle_as_strict_json(tmp_path):
    res = sample_inverse_set(NEURON, 0.4, 0.6, n=10, num_seeds=10, models=SLAB, rng_key=1)
    assert res.stats.mean_acceptance_rate is None  # n = K: no walker step; saved as null, not NaN
    npz, meta = res.save(tmp_path / "run")
    payload = json.loads(meta.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert payload["constraints"] == ["<lambda>"] and payload["num_samples"] == 10
    back = InverseSetResult.load(tmp_path / "run")
    for name in ("codes", "images", "activations", "seeds", "seed_activations", "z1", "z2"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.constraints == res.constraints and back.n_requested == res.n_requested
    assert back.stats.seed_steps == res.stats.seed_steps and back.stats.status == res.stats.status
    np.testing.assert_array_equal(back.stats.acceptance_rate, res.stats.acceptance_rate)
    with np.load(npz, allow_pickle=False) as data:
        assert "codes" in data.files


def test_realism_values_survive_save_and_load(tmp_path):
    res = sample_inverse_set(NEURON, 0.45, 0.6, n=20, models=SLAB, realism_bound=0.2, rng_key=0)
    res.save(tmp_path / "r")
    np.testing.assert_array_equal(InverseSetResult.load(tmp_path / "r.npz").realism, res.realism)


def test_a_batch_reports_each_member_and_one_failure_does_not_abort_the_others():
    models = SLAB.replace(seed_config=SeedConfig(max_steps=200))
    out = sample_inverse_sets([NEURON, NEURON, NEURON], [[0.4], [1.5], [0.5]], [[0.6], [2.0], [0.7]], n=20,
                              models=models, rng_key=0)
    assert isinstance(out[0], InverseSetResult) and isinstance(out[2], InverseSetResult)
    assert isinstance(out[1], InfeasibleBandError) and isinstance(out[1], SamplingError)
    assert out[1].member == 1 and "problem 1 of the batch of 3" in "".join(out[1].__notes__)
    assert ((out[2].activations >= 0.5) & (out[2].activations <= 0.7)).all()


@pytest.mark.parametrize("bad, match", [
    (dict(num_inner_steps=0), r"SeedConfig\(num_inner_steps=0\): num_inner_steps must be ≥ 1"),
    (dict(learning_rate=float("nan")), "learning_rate must be a finite number > 0"),
    (dict(repulsion="gauss"), "repulsion must be 'squared' or 'rbf'"),
    (dict(margin=0.5), r"margin must be a number in \[0, 0.5\)"),
    (dict(mu_factor=0.5), "mu_factor must be a finite number ≥ 1"),
])
def test_seed_config_checks_its_own_options(bad, match):
    with pytest.raises(ValueError, match=match):
        SeedConfig(**bad)


@pytest.mark.parametrize("bad, error, match", [
    (dict(max_steps=-5), ValueError, "max_steps must be ≥ 1"),
    (dict(step_size=float("nan")), ValueError, "step_size must be a finite number > 0"),
    (dict(step_size=0.0), ValueError, "step_size must be a finite number > 0"),
    (dict(repel_from="some"), ValueError, "repel_from must be 'last' or 'all'"),
    (dict(max_stall_steps=2.5), TypeError, "max_stall_steps must be an int"),
    (dict(normalize="yes"), TypeError, "normalize must be True or False"),
])
def test_walker_config_checks_its_own_options(bad, error, match):
    with pytest.raises(error, match=match):
        WalkerConfig(**bad)


@pytest.mark.parametrize("name, value", [("seed_config", dict(max_steps=10)), ("walker_config", "fast")])
def test_a_config_that_is_not_a_config_is_a_clear_error(name, value):
    with pytest.raises(TypeError, match=f"{name} must be a"):
        sample_inverse_set(NEURON, 0.4, 0.6, n=10, models=SLAB, **{name: value})


def test_an_incomplete_sample_warning_points_at_the_callers_line():
    from inverse_set import IncompleteSampleWarning, WalkerConfig

    with pytest.warns(IncompleteSampleWarning) as caught:
        res = sample_inverse_set(NEURON, 0.45, 0.6, n=100, models=SLAB, walker_config=WalkerConfig(max_steps=1),
                                 rng_key=0)
    assert len(res) < 100 and caught[0].filename == __file__


def test_batch_devices_must_be_a_non_empty_list_of_jax_devices():
    for bad in ([], ["cpu"], [0]):
        with pytest.raises(ValueError, match="devices must be a non-empty list of JAX devices"):
            sample_inverse_sets([NEURON, NEURON], [0.4, 0.5], [0.6, 0.7], 10, models=SLAB, devices=bad)
    out = sample_inverse_sets([NEURON, NEURON], [0.4, 0.5], [0.6, 0.7], 10, models=SLAB, devices=jax.devices()[:1])
    assert [len(r) for r in out] == [10, 10]
