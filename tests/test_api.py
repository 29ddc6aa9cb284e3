"""The public layer: Models and keywords, methods by name, make_sampler and its cache, results saved and loaded,
evaluation counts, batches that equal separate calls and report each member.

The problem is the slab of conftest.py: ``slab.models`` (init N(0, 0.1² I), so "paper" by default) and, with
``init=8`` (a standard Gaussian), "prior-slice" by default.
"""

import json
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import (
    GradientWalk,
    IncompleteSampleWarning,
    InfeasibleBandError,
    InverseSetResult,
    Models,
    SamplingError,
    SeedConfig,
    get_method,
    make_sampler,
    sample_inverse_set,
    sample_inverse_sets,
)
from inverse_set.cache import CACHE_SIZE, SAMPLER_CACHE, cached_sampler
from inverse_set.core.loop import SeedStatus, WalkStatus
from inverse_set.results import FORMAT

K = 10
SLOW_STEPS = get_method("paper").replace(walk=GradientWalk(step_size=0.05))  # a Method value


def prior(z):
    """z ∈ R⁴ ↦ a code of G ∈ R⁸ (a stand-in for a flow fitted to real codes)."""
    return jnp.concatenate([z, -z]) * 0.5 + 0.1


def in_band(res, z1, z2):
    return len(res) > 0 and bool(((res.activations >= z1) & (res.activations <= z2)).all())


# --------------------------------------------------------------------------- models and keywords


def test_a_call_without_models_says_how_to_pass_them(slab):
    with pytest.raises(TypeError, match=r"no models given: pass models=Models\(.*generators.load\('fashion'\)"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10)
    with pytest.raises(TypeError, match="also give encoder, init"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, generator=jax.nn.sigmoid)
    with pytest.raises(TypeError, match="models must be a Models"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, models={"generator": jax.nn.sigmoid})


def test_models_value_and_keywords_give_the_same_samples(slab):
    # (n = 60 and these bands: the runs test_sampler.py compiles too.)
    a = sample_inverse_set(slab.neuron1, 0.55, 0.65, n=60, models=slab.models, rng_key=4)
    b = sample_inverse_set(slab.neuron1, 0.55, 0.65, n=60, rng_key=4, **slab.fields)
    np.testing.assert_array_equal(a.codes, b.codes)
    # A keyword overrides the field of the models it is given with.
    c = sample_inverse_set(slab.neuron1, 0.55, 0.65, n=60, models=slab.models, code_bounds=(0.0, None), rng_key=4)
    assert not np.array_equal(a.codes, c.codes) and (c.codes >= 0).all() and in_band(c, 0.55, 0.65)
    assert (a.codes < 0).any()


def test_an_unknown_keyword_names_the_known_ones(slab):
    with pytest.raises(TypeError, match=r"unknown argument step_size: besides models=, method=, num_seeds=, rng_key= "
                                        r"and progress=, the sampler takes the fields of Models \(class_names, "
                                        r"code_bounds, encoder, encoder_layer, generator, image_shape, init, latent_dim, method, prior, "
                                        r"realism_bound, target\)\.$"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, models=slab.models, step_size=0.1)


@pytest.mark.parametrize("name, value", [("seed_config", SeedConfig(max_steps=10)),
                                         ("walker_config", GradientWalk(step_size=0.5))])
def test_solver_settings_given_as_keywords_point_at_the_method(slab, name, value):
    with pytest.raises(TypeError, match=rf"unknown argument {name}: .*solver settings belong to the method: e\.g\. "
                                        r"method=get_method\('paper'\)\.replace\(seeds=SeedConfig\(…\), "
                                        r"walk=GradientWalk\(…\)\)"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, models=slab.models, **{name: value})
    with pytest.raises(TypeError, match=f"unknown argument {name}"):
        make_sampler(slab.neuron1, 10, models=slab.models, **{name: value})


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("method, init, expected", [
    (None, "slab", "paper"),  # N(0, 0.1² I) is not a standard Gaussian
    (None, 8, "prior-ladder"),  # N(0, I_8)
    ("paper", 8, "paper"),
    ("prior-slice", 8, "prior-slice"),
    (SLOW_STEPS, "slab", "paper"),
])
def test_the_method_by_name_by_value_and_by_default(slab, method, init, expected):
    init = slab.init if init == "slab" else init
    res = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=20, models=slab.models, init=init, method=method, rng_key=0)
    assert res.stats.method == expected and len(res) == 20 and in_band(res, 0.4, 0.6)
    ran = method if method is not None and not isinstance(method, str) else get_method(expected)
    assert res.stats.settings == ran.settings()
    walk = {"paper": "GradientWalk", "prior-slice": "EllipticalSliceWalk", "prior-ladder": "LadderWalk"}[expected]
    assert res.stats.settings["walk"]["kind"] == walk
    if method is SLOW_STEPS:  # the Method's own settings ran, not the preset's
        assert res.stats.settings["walk"]["step_size"] == 0.05
        default = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=20, models=slab.models, rng_key=0)
        assert not np.array_equal(res.codes, default.codes)


def test_an_unknown_method_name_is_a_clear_error(slab):
    known = "'paper', 'prior-slice', 'prior-ladder', 'fourier'"
    with pytest.raises(ValueError, match=rf"unknown method 'fastest': give one of {known} or a Method"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, models=slab.models, method="fastest")


def test_prior_slice_on_an_init_that_is_not_a_standard_gaussian_is_a_clear_error(slab):
    with pytest.raises(ValueError, match=r"'prior-slice' samples a N\(0, I\) prior, but these models' init.* is not "
                                         r"a standard Gaussian"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, models=slab.models, method="prior-slice")


def test_through_a_prior_the_samples_are_latents_and_generator_inputs_come_with_them(slab):
    models = Models(generator=jax.nn.sigmoid, encoder=slab.identity, prior=prior, latent_dim=4)  # no init
    res = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=20, models=models, rng_key=0)
    assert res.stats.method == "prior-ladder" and len(res) == 20 and in_band(res, 0.45, 0.6)
    assert res.codes.shape == (20, 4) and res.generator_inputs.shape == (20, 8)
    np.testing.assert_allclose(res.generator_inputs, np.asarray(jax.vmap(prior)(res.codes)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.images, slab.sigmoid(res.generator_inputs), rtol=1e-5, atol=1e-6)
    assert slab.in_slab(res.images, slab.W1, slab.B1, 0.45, 0.6).all()
    # In the code space ("paper") there is no separate G input; a realism bound needs the code space.
    paper = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=20, models=models, method="paper", rng_key=0)
    assert paper.generator_inputs is None and paper.codes.shape == (20, 8)
    with pytest.raises(ValueError, match="realism compares E\\(G\\(c\\)\\) with the code c.*use method='paper'"):
        sample_inverse_set(slab.neuron1, 0.45, 0.6, n=20, models=models, realism_bound=0.1)
    with pytest.raises(ValueError, match="prior given without latent_dim"):
        sample_inverse_set(slab.neuron1, 0.45, 0.6, n=20, models=slab.models, prior=prior)


# --------------------------------------------------------------------------- make_sampler, its cache, what a run did


def test_make_sampler_binds_the_neurons_and_compiles_once(slab):
    sampler = make_sampler(slab.neuron1, 17, models=slab.models)  # n = 17: no other test compiles this one
    assert sampler.labels == ("neuron",)
    first, second = sampler.sample(0.4, 0.6, rng_key=0), sampler.sample(0.5, 0.7, rng_key=0)
    assert first.stats.compile_time_s > 0 and second.stats.compile_time_s == 0.0
    assert first.stats.run_time_s > 0 and second.stats.run_time_s > 0
    assert in_band(second, 0.5, 0.7)
    assert make_sampler(slab.neuron1, 17, **slab.fields).compiled is sampler.compiled
    assert make_sampler(slab.neuron1, 18, models=slab.models).compiled is not sampler.compiled


def test_the_cache_keeps_the_most_recently_used_samplers():
    saved = list(SAMPLER_CACHE.items())
    try:
        SAMPLER_CACHE.clear()
        for i in range(CACHE_SIZE + 1):
            assert cached_sampler(("test", i), lambda i=i: f"sampler {i}") == f"sampler {i}"
        assert len(SAMPLER_CACHE) == CACHE_SIZE and ("test", 0) not in SAMPLER_CACHE
        assert cached_sampler(("test", 1), lambda: pytest.fail("rebuilt a cached sampler")) == "sampler 1"
        cached_sampler(("test", "new"), lambda: "new")  # evicts the least recently used: 2, not 1
        assert ("test", 1) in SAMPLER_CACHE and ("test", 2) not in SAMPLER_CACHE
    finally:
        SAMPLER_CACHE.clear()
        SAMPLER_CACHE.update(saved)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="counts the process's memory maps, as Linux lists them")
def test_the_suite_frees_compiled_code_past_its_share_of_the_kernels_map_limit(slab):
    from conftest import free_compiled_code_past, maps_in_use

    sample_inverse_set(slab.neuron1, 0.6, 0.7, n=21, models=slab.models, rng_key=0)
    programs = [jax.jit(lambda x, i=i: jnp.sin(x * i) + i) for i in range(100)]
    for f in programs:
        f(jnp.ones(3)).block_until_ready()
    held = maps_in_use()
    assert not free_compiled_code_past(held + 10_000) and not free_compiled_code_past(None) and SAMPLER_CACHE
    assert free_compiled_code_past(held - 1)
    assert not SAMPLER_CACHE and maps_in_use() < held - 300  # about six maps a program, a hundred programs
    assert float(programs[7](jnp.ones(3))[0]) == pytest.approx(np.sin(7.0) + 7)  # compiled again when called


def test_failed_seeds_raise_and_leave_the_walk_not_run(slab):
    with pytest.raises(InfeasibleBandError, match="lies above everything reached"):
        sample_inverse_set(slab.neuron1, 1.5, 2.0, n=20, models=slab.models, rng_key=0)
    seed_state, walk_state, evals = make_sampler(slab.neuron1, 20, models=slab.models).run(0, 1.5, 2.0)
    assert SeedStatus(int(seed_state.status)) == SeedStatus.UNREACHED
    assert WalkStatus(int(walk_state.status)) == WalkStatus.NOT_RUN
    assert int(walk_state.buffer.count) == 0 and int(walk_state.step) == 0
    # What was spent: the starting codes (select="alive": a gradient each) and the seed steps, nothing on the walk.
    assert int(evals.gradient) == K * SeedConfig().candidates_per_seed + K * int(seed_state.step)
    assert int(evals.forward) == 0


@pytest.mark.parametrize("init", ["slab", 8])
def test_evaluation_counts_are_what_the_seeds_and_the_walk_did(slab, init):
    res = sample_inverse_set(slab.neuron1, 0.7, 0.8, n=20, models=slab.models, rng_key=0,
                             **({"init": slab.init} if init == "slab" else {"init": init, "method": "prior-slice"}))
    s = res.stats
    assert s.seed_status == "inside" and s.walk_status == "complete" and s.seed_steps > 0
    seed_passes = K * (s.seed_steps + 1)  # the last call finds every seed inside
    walk_passes = K * (s.walker_steps + 1)  # ... and the walk's last call keeps the n-th sample
    if s.method == "paper":  # select="alive" (a Jacobian per candidate), then gradient steps
        assert s.gradient_evaluations == K * 4 + seed_passes + walk_passes and s.forward_evaluations == 0
    else:  # select="spread" (a forward pass per candidate), then the slice walk's forward passes
        assert s.method == "prior-slice"
        assert s.gradient_evaluations == seed_passes and s.forward_evaluations == K * 16 + walk_passes
    assert s.kept_per_step.shape == (s.walker_steps + 1,) and s.kept_per_step[0] == K  # the K seeds themselves


# --------------------------------------------------------------------------- results saved and loaded


def test_a_result_saved_with_acceptance_rates_loads_as_samples_kept_per_step(tmp_path, slab):
    res = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=30, num_seeds=10, models=slab.models, rng_key=1)
    npz, _ = res.save(tmp_path / "run")
    with np.load(npz, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["acceptance_rate"] = arrays.pop("kept_per_step") / K  # the old file: fractions of the K seeds
    np.savez_compressed(npz, **arrays)
    back = InverseSetResult.load(tmp_path / "run")
    np.testing.assert_array_equal(back.stats.kept_per_step, res.stats.kept_per_step)
    assert res.stats.kept_per_step.sum() >= 30


def test_result_saves_and_loads_without_pickle_as_strict_json(tmp_path, slab):
    res = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, num_seeds=10, models=slab.models, rng_key=1)
    assert res.stats.mean_kept_per_step is None  # n = K: no walker step; saved as null, not NaN
    npz, meta = res.save(tmp_path / "run")
    payload = json.loads(meta.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert payload["format"] == FORMAT == "inverse-set result, version 2"
    assert payload["constraints"] == ["neuron"] and payload["num_samples"] == 10
    stats = payload["stats"]
    assert stats["method"] == "paper" and stats["settings"] == get_method("paper").settings()
    assert stats["seed_status"] == "inside" and stats["walk_status"] == "complete"
    assert stats["mean_kept_per_step"] is None and "status" not in stats and "network_evaluations" not in stats
    back = InverseSetResult.load(tmp_path / "run")
    for name in ("codes", "images", "activations", "seeds", "seed_activations", "z1", "z2"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.constraints == res.constraints and back.n_requested == res.n_requested
    assert back.realism is None and back.generator_inputs is None
    for name in ("method", "settings", "seed_status", "walk_status", "seed_steps", "walker_steps",
                 "gradient_evaluations", "forward_evaluations"):
        assert getattr(back.stats, name) == getattr(res.stats, name), name
    np.testing.assert_array_equal(back.stats.kept_per_step, res.stats.kept_per_step)
    with np.load(npz, allow_pickle=False) as data:
        assert "codes" in data.files
    # Something else, or a result in the old format, is a clear error.
    meta.write_text(json.dumps({**payload, "format": "inverse-set result, version 1"}))
    with pytest.raises(ValueError, match="is not an inverse-set result .*version 2.*got format 'inverse-set result, "
                                         "version 1'"):
        InverseSetResult.load(tmp_path / "run.json")


def test_realism_values_and_generator_inputs_survive_save_and_load(tmp_path, slab):
    res = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=20, models=slab.models, realism_bound=0.2, rng_key=0)
    res.save(tmp_path / "r")
    assert res.realism.shape == (20,) and (res.realism <= 0.2).all()
    np.testing.assert_array_equal(InverseSetResult.load(tmp_path / "r.npz").realism, res.realism)
    fake = InverseSetResult(**{**res.__dict__, "generator_inputs": res.codes + 1.0, "realism": None})
    fake.save(tmp_path / "g")
    back = InverseSetResult.load(tmp_path / "g")
    np.testing.assert_array_equal(back.generator_inputs, res.codes + 1.0)
    assert back.realism is None


# --------------------------------------------------------------------------- batches


def test_a_batch_gives_the_samples_of_separate_calls_with_the_same_keys(slab):
    key = jax.random.key(3)
    bands = [(0.4, 0.5), (0.6, 0.75), (0.2, 0.3)]
    batch = sample_inverse_sets([slab.neuron1] * 3, [[a] for a, _ in bands], [[b] for _, b in bands], 20,
                                models=slab.models, rng_key=key)
    for i, (z1, z2) in enumerate(bands):
        alone = sample_inverse_set(slab.neuron1, z1, z2, 20, models=slab.models, rng_key=jax.random.fold_in(key, i))
        np.testing.assert_array_equal(batch[i].codes, alone.codes)
        np.testing.assert_array_equal(batch[i].seeds, alone.seeds)
        assert batch[i].stats.walker_steps == alone.stats.walker_steps
        assert batch[i].stats.seed_steps == alone.stats.seed_steps
        assert in_band(batch[i], z1, z2)


def test_a_batch_reports_each_member_and_one_failure_does_not_abort_the_others(slab):
    out = sample_inverse_sets([slab.neuron1] * 3, [[0.4], [1.5], [0.5]], [[0.6], [2.0], [0.7]], n=20,
                              models=slab.models, rng_key=0)
    assert isinstance(out[0], InverseSetResult) and isinstance(out[2], InverseSetResult)
    assert isinstance(out[1], InfeasibleBandError) and isinstance(out[1], SamplingError)
    assert out[1].member == 1 and "problem 1 of the batch of 3" in "".join(out[1].__notes__)
    assert in_band(out[0], 0.4, 0.6) and in_band(out[2], 0.5, 0.7)


def test_a_batch_reports_its_problems_done_from_the_host(slab, capsys):
    neurons = [slab.neuron1] * 3
    quiet = sample_inverse_sets(neurons, [0.4, 0.5, 0.45], [0.6, 0.7, 0.55], 20, models=slab.models, rng_key=0)
    loud = sample_inverse_sets(neurons, [0.4, 0.5, 0.45], [0.6, 0.7, 0.55], 20, models=slab.models, rng_key=0,
                               progress=True)
    lines = capsys.readouterr().err.splitlines()  # not a terminal: plain lines, the last one the final count
    assert lines[0].startswith("problems: 0/3") and lines[-1].startswith("problems: 3/3")
    for a, b in zip(quiet, loud):  # the same compiled program: progress is host-side only
        np.testing.assert_array_equal(a.codes, b.codes)


def test_batch_arguments_are_checked(slab):
    neurons = [slab.neuron1, slab.neuron1]
    for bad in ([], ["cpu"], [0]):
        with pytest.raises(ValueError, match="devices must be a non-empty list of JAX devices"):
            sample_inverse_sets(neurons, [0.4, 0.5], [0.6, 0.7], 20, models=slab.models, devices=bad)
    with pytest.raises(ValueError, match="neurons is empty"):
        sample_inverse_sets([], [], [], 20, models=slab.models)
    with pytest.raises(ValueError, match=r"z1 must have one entry per problem, a list of 2 band edges .*got 0.4\. "
                                         r"For the same band in every problem, repeat it: z1=\[0.4\] \* 2"):
        sample_inverse_sets(neurons, 0.4, 0.6, 20, models=slab.models)
    with pytest.raises(ValueError, match="z2 must have one entry per problem"):
        sample_inverse_sets(neurons, [0.4, 0.5], "0.6", 20, models=slab.models)
    with pytest.raises(ValueError, match="one entry per problem; got 2, 1, 2"):
        sample_inverse_sets(neurons, [0.4], [0.6, 0.7], 20, models=slab.models)
    with pytest.raises(ValueError, match="do not share one structure"):
        sample_inverse_sets([slab.neuron1, slab.neuron2], [0.4, 0.5], [0.6, 0.7], 20, models=slab.models)
    out = sample_inverse_sets(neurons, [0.4, 0.5], [0.6, 0.7], 20, models=slab.models, devices=jax.devices()[:1])
    assert [len(r) for r in out] == [20, 20]


# --------------------------------------------------------------------------- an incomplete sample


def test_an_incomplete_sample_warns_at_the_callers_line_and_is_never_padded(slab):
    method = get_method("paper").replace(walk=GradientWalk(max_steps=1))
    with pytest.warns(IncompleteSampleWarning, match=r"of the 100 samples asked for \(the walk ran out of steps "
                                                     r"after 1 steps of the 'paper' method's walk\)") as caught:
        res = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=100, models=slab.models, method=method, rng_key=0)
    assert caught[0].filename == __file__
    assert not res.is_complete and K <= len(res) <= 2 * K and res.stats.walk_status == "max_steps"
    assert res.codes.shape[0] == res.images.shape[0] == res.activations.shape[0] == len(res)
    assert np.isfinite(res.codes).all() and slab.in_slab(res.images, slab.W1, slab.B1, 0.45, 0.6).all()
    # A complete run does not warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompleteSampleWarning)
        sample_inverse_set(slab.neuron1, 0.45, 0.6, n=20, models=slab.models, rng_key=0)

