"""inverse_set.methods: the presets, methods by name, what method=None runs, and where each method searches."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import (
    METHODS,
    EllipticalSliceWalk,
    GradientWalk,
    LadderWalk,
    Method,
    Models,
    Objective,
    SeedConfig,
    get_method,
    initialization,
    methods,
)


def prior(z):  # z ∈ R⁴ -> a code of G ∈ R⁸
    return jnp.concatenate([z, 0.5 * z]) + 0.1


def models(**fields):
    return Models(generator=jax.nn.sigmoid, encoder=lambda x: x, **fields)


def test_the_presets():
    assert set(METHODS) == {"paper", "prior-slice", "prior-ladder", "fourier"}
    paper, prior_slice = METHODS["paper"], METHODS["prior-slice"]
    assert paper == Method("paper", "code", SeedConfig(), GradientWalk(), Objective())
    assert prior_slice == Method("prior-slice", "prior", SeedConfig(select="spread", candidates_per_seed=16),
                                 EllipticalSliceWalk(), Objective(prior_weight=1.0))
    assert get_method("paper") is paper and get_method(prior_slice) is prior_slice
    assert METHODS["prior-ladder"] == prior_slice.replace(name="prior-ladder", walk=LadderWalk())


@pytest.mark.parametrize("name", ["fast", "Paper", 3, None])
def test_an_unknown_method_is_a_clear_error(name):
    with pytest.raises(ValueError, match=r"unknown method .*: give one of 'paper', 'prior-slice', 'prior-ladder', "
                                         "'fourier' or a Method"):
        get_method(name)


@pytest.mark.parametrize("change, error, match", [
    ({"space": "latent"}, ValueError, r"space must be one of 'code', 'prior', 'image'"),
    ({"space": "image"}, ValueError, r"the 'image' space, and only it, takes image=Parameterisation"),
    ({"seeds": {"max_steps": 10}}, TypeError, r"seeds must be a SeedConfig"),
    ({"objective": {"margin": 0.1}}, TypeError, r"objective must be an Objective"),
    ({"walk": "fast"}, TypeError, r"walk must be a walk \(GradientWalk\(…\), EllipticalSliceWalk\(…\)"),
])
def test_a_method_checks_its_parts(change, error, match):
    with pytest.raises(error, match=match):
        get_method("paper").replace(**change)


def test_replace_changes_settings_and_keeps_the_name_and_settings_say_what_runs():
    method = get_method("paper").replace(walk=GradientWalk(step_size=5.0), objective=Objective(repulsion="rbf"),
                                         seeds=SeedConfig(max_steps=300))
    assert method.name == "paper" and method != get_method("paper")
    settings = method.settings()
    assert json.loads(json.dumps(settings)) == settings  # plain JSON values
    assert settings["method"] == "paper" and settings["space"] == "code"
    assert settings["walk"]["kind"] == "GradientWalk" and settings["walk"]["step_size"] == 5.0
    assert settings["seeds"] == {"kind": "SeedConfig", "num_inner_steps": 100, "max_steps": 300,
                                 "learning_rate": 0.05, "mu_factor": 10.0, "candidates_per_seed": 4,
                                 "select": "alive"}
    assert settings["objective"]["repulsion"] == "rbf" and settings["objective"]["margin"] == 0.25
    assert get_method("prior-slice").settings()["walk"] == {"kind": "EllipticalSliceWalk", "max_steps": None,
                                                            "max_stall_steps": 200, "prior_scale": 1.0}


CUSTOM = get_method("paper").replace(name="mine", walk=GradientWalk(step_size=0.3))


@pytest.mark.parametrize("given, fields, expected", [
    (None, {"init": 8}, "prior-ladder"),  # an int d: N(0, I_d)
    (None, {"init": initialization.gaussian(8)}, "prior-ladder"),
    (None, {"init": initialization.gaussian(8, scale=0.1)}, "paper"),
    (None, {"init": initialization.encoded_noise(lambda x: x, (8,))}, "paper"),
    (None, {"prior": prior, "latent_dim": 4}, "prior-ladder"),
    (None, {"init": 8, "method": "paper"}, "paper"),  # the models' own default first
    (None, {"init": initialization.gaussian(8, scale=0.1), "method": CUSTOM}, "mine"),
    ("paper", {"init": 8, "method": "prior-slice"}, "paper"),  # then the call's
    (CUSTOM, {"init": 8}, "mine"),
])
def test_what_method_none_runs(given, fields, expected):
    method = methods.resolve(given, models(**fields))
    assert method.name == expected
    assert method is (CUSTOM if expected == "mine" else METHODS[expected])


def test_the_prior_slice_method_needs_a_standard_gaussian_or_a_prior():
    with pytest.raises(ValueError, match=r"'prior-slice' samples a N\(0, I\) prior, but these models' init.* is not "
                                         r"a standard Gaussian: give init=d .* or use method='paper'"):
        methods.search_space(METHODS["prior-slice"], models(init=initialization.gaussian(8, scale=0.1)))
    with pytest.raises(ValueError, match="prior given without latent_dim"):
        methods.search_space(METHODS["prior-slice"], models(prior=prior))
    with pytest.raises(ValueError, match="'paper' searches the generator's code space: give init"):
        methods.search_space(METHODS["paper"], models())


def test_where_each_method_searches():
    bounds = (-1.0, 1.0)
    # A standard-Gaussian init: both methods search G's own input, within the code bounds.
    for name in ("paper", "prior-slice", "prior-ladder"):
        space = methods.search_space(METHODS[name], models(init=8, code_bounds=bounds))
        assert space.generator is jax.nn.sigmoid and space.init == 8 and space.code_bounds == bounds
        assert space.to_input is None
    # Through a prior: "prior-slice" searches z, G's input is prior(z); one composite per (G, prior).
    with_prior = models(prior=prior, latent_dim=4, code_bounds=bounds)
    space = methods.search_space(METHODS["prior-slice"], with_prior)
    assert space.init == 4 and space.code_bounds is None and space.to_input is prior
    assert methods.search_space(METHODS["prior-slice"], with_prior).generator is space.generator
    z = jnp.arange(4.0)
    np.testing.assert_array_equal(space.generator(z), jax.nn.sigmoid(prior(z)))
    # "paper" on the same models searches G's codes, drawn as prior(z), z ~ N(0, I).
    space = methods.search_space(METHODS["paper"], with_prior)
    assert space.generator is jax.nn.sigmoid and space.code_bounds == bounds and space.to_input is None
    key = jax.random.key(3)
    np.testing.assert_array_equal(space.init(key), prior(jax.random.normal(key, (4,))))
