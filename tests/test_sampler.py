"""The sampler end to end on problems whose inverse set is known, and its errors on bad input.

The slab (conftest.py): G(c) = sigmoid(c) maps codes into the unit cube; each neuron
a(x) = sigmoid(w·x + b) is linear-logistic, so its inverse set for [z1, z2] is the slab
{x ∈ [0,1]^d : logit(z1) ≤ w·x + b ≤ logit(z2)}, rechecked here in float64 NumPy.
"""

from math import erf, exp, pi, sqrt

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import (
    GradientWalk,
    InfeasibleBandError,
    NonFiniteActivationError,
    Objective,
    SeedConfig,
    Unit,
    flax_target,
    get_method,
    initialization,
    make_sampler,
    sample_inverse_set,
)


def spread_orthogonal(points, w):
    """Total standard deviation of the points projected onto the plane orthogonal to w."""
    u = w / np.linalg.norm(w)
    proj = points - np.outer(points @ u, u)
    return float(proj.std(axis=0).sum())


def test_every_sample_lies_in_the_slab_and_spreads_over_it(slab):
    res = sample_inverse_set(slab.neuron1, 0.55, 0.7, n=200, rng_key=1, models=slab.models)
    assert len(res) == 200 and res.is_complete
    assert res.images.shape == (200, slab.D) and res.activations.shape == (200, 1)
    np.testing.assert_allclose(res.images, slab.sigmoid(res.codes), rtol=1e-5, atol=1e-6)
    # Independent check of membership, in float64 numpy, from the returned images.
    assert slab.in_slab(res.images, slab.W1, slab.B1, 0.55, 0.7).all()
    # The walk covers the slab: spread orthogonal to w far above the seeds' spread.
    assert spread_orthogonal(res.images, slab.W1) > 4 * spread_orthogonal(slab.sigmoid(res.seeds), slab.W1)
    # ... and samples are not repeats of each other.
    assert len(np.unique(np.round(res.codes, 5), axis=0)) == 200
    # The activations fill the band, not just one edge of it.
    a = res.activations[:, 0]
    assert a.min() < 0.55 + 0.25 * 0.15 and a.max() > 0.7 - 0.25 * 0.15
    # What ran, and how it went.
    s = res.stats
    assert s.method == "paper" and s.seed_status == "inside" and s.walk_status == "complete"
    assert s.walker_steps >= (200 - 10) // 10  # the floor ⌈(n − K)/K⌉
    assert s.kept_per_step.shape == (s.walker_steps + 1,) and s.kept_per_step[0] == 10  # the K = 10 seeds themselves
    assert 0 < s.mean_kept_per_step <= 10 and s.kept_per_step.sum() >= 200 and s.run_time_s > 0
    assert s.rejected_on_recheck == s.repeats_dropped == s.non_finite_rejected == 0
    assert s.mu > 0 and s.lam.shape == (10, 1)


def test_intersection_of_two_neurons(slab):
    res = sample_inverse_set([slab.neuron1, slab.neuron2], [0.5, 0.3], [0.7, 0.5], n=100, rng_key=2,
                             models=slab.models)
    assert len(res) == 100 and res.activations.shape == (100, 2) and res.constraints == ("neuron", "neuron")
    assert slab.in_slab(res.images, slab.W1, slab.B1, 0.5, 0.7).all()
    assert slab.in_slab(res.images, slab.W2, slab.B2, 0.3, 0.5).all()


class SmallNet(nn.Module):
    @nn.compact
    def __call__(self, x):  # x: (B, 4, 4, 1)
        h = nn.relu(nn.Conv(3, (3, 3), name="conv")(x))
        h = nn.relu(nn.Dense(5, name="hidden")(h.reshape(h.shape[0], -1)))
        self.sow("intermediates", "hidden_relu", h)
        return nn.Dense(2, name="logits")(h)


def test_neurons_from_named_layers_of_a_flax_module():
    module = SmallNet()
    params = module.init(jax.random.key(0), jnp.zeros((1, 4, 4, 1)))
    target = flax_target(module, params)
    gen = lambda c: jax.nn.sigmoid(c).reshape(4, 4, 1)
    enc = lambda x: x.ravel()
    layers = target(jnp.full((4, 4, 1), 0.5))
    assert {"conv", "hidden", "hidden_relu", "logits", "output"} <= set(layers)
    # Pick bands around the activations at a mid-grey image, reachable by construction.
    ref = {
        "conv_mean": float(layers["conv"][:, :, 1].mean()),
        "conv_at": float(layers["conv"][1, 2, 0]),
        "logit": float(layers["logits"][1]),
    }
    neurons = [Unit("conv", 1), Unit("conv", 0, position=(1, 2)), 1]
    z1 = [ref["conv_mean"] - 0.05, ref["conv_at"] - 0.1, ref["logit"] - 0.1]
    z2 = [ref["conv_mean"] + 0.05, ref["conv_at"] + 0.1, ref["logit"] + 0.1]
    res = sample_inverse_set(neurons, z1, z2, n=40, generator=gen, encoder=enc, target=target, init=16, rng_key=3)
    assert len(res) == 40 and res.constraints == ("mean conv[:,:,1]", "conv[1,2,0]", "logits[1]")
    # Recompute every activation with the module itself, batched, and check the bands.
    _, state = module.apply(params, res.images, capture_intermediates=True, mutable=["intermediates"])
    conv = np.asarray(state["intermediates"]["conv"]["__call__"][0])
    logits = np.asarray(module.apply(params, res.images))
    independent = np.stack([conv[:, :, :, 1].mean(axis=(1, 2)), conv[:, 1, 2, 0], logits[:, 1]], axis=1)
    np.testing.assert_allclose(res.activations, independent, rtol=1e-4, atol=1e-5)
    assert ((independent >= np.array(z1) - 1e-5) & (independent <= np.array(z2) + 1e-5)).all()


def test_same_key_same_samples_and_other_key_other_samples(slab):
    a = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=20, rng_key=7, models=slab.models)
    b = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=20, rng_key=7, **slab.fields)
    c = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=20, rng_key=8, models=slab.models)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert not np.allclose(a.codes, c.codes)


def test_compiled_loop_agrees_with_python_loop(slab):
    """The jitted while_loops give what the same steps give run op by op in Python."""
    sampler = make_sampler(slab.neuron1, 20, models=slab.models)
    key = jax.random.key(11)
    compiled = sampler.sample(0.4, 0.6, rng_key=key)
    with jax.disable_jit():
        seed_state, walk_state, evals = sampler.run(key, 0.4, 0.6)
    assert int(walk_state.step) == compiled.stats.walker_steps
    assert int(seed_state.step) == compiled.stats.seed_steps
    assert int(evals.gradient) == compiled.stats.gradient_evaluations
    count = int(walk_state.buffer.count)
    assert count == len(compiled)
    np.testing.assert_allclose(walk_state.buffer.codes[:count], compiled.codes, rtol=1e-4, atol=1e-5)


def test_a_second_band_does_not_retrace(slab):
    traces = []

    def counting_generator(code):
        traces.append(1)  # runs only while JAX traces
        return jax.nn.sigmoid(code)

    kw = {"generator": counting_generator, "encoder": slab.identity, "init": slab.init}
    first = sample_inverse_set(slab.neuron1, 0.4, 0.6, n=30, **kw)
    after_first = len(traces)
    second = sample_inverse_set(slab.neuron1, 0.6, 0.7, n=30, **kw)
    assert after_first > 0
    assert len(traces) == after_first, "a new band retraced the sampler"
    assert first.stats.compile_time_s > 0 and second.stats.compile_time_s == 0.0
    assert len(second) == 30 and ((second.activations >= 0.6) & (second.activations <= 0.7)).all()


def test_code_bounds_are_respected(slab):
    res = sample_inverse_set(slab.neuron1, 0.55, 0.65, n=60, code_bounds=(0.0, None), rng_key=4, models=slab.models)
    assert len(res) == 60 and (res.codes >= 0).all() and (res.seeds >= 0).all()


@pytest.mark.parametrize("change", [
    {"objective": Objective(repulsion="rbf")},
    {"walk": GradientWalk(repel_from="all")},
    {"walk": GradientWalk(normalize=False, step_size=5.0)},
], ids=["rbf", "repel from all", "plain step"])
def test_gradient_walk_variants_stay_in_band(slab, change):
    method = get_method("paper").replace(**change)
    res = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=60, models=slab.models, method=method)
    assert len(res) == 60 and res.stats.walk_status == "complete"
    assert slab.in_slab(res.images, slab.W1, slab.B1, 0.45, 0.6).all()
    assert len(np.unique(res.codes, axis=0)) == 60


def test_the_slice_walk_samples_the_prior_restricted_to_the_band(slab):
    """Codes c ~ N(0, I_8), neuron u·c (|u| = 1) in [0.5, 1.5]: u·c is a standard normal truncated to the band
    and the 7 directions orthogonal to u stay standard normal. Tolerances are 4 standard errors of the mean
    over effectively independent samples (chains of 2000 samples from 10 seeds)."""
    u = slab.W1 / np.linalg.norm(slab.W1)
    res = sample_inverse_set(lambda c: jnp.asarray(u) @ c, 0.5, 1.5, n=2000, generator=slab.identity,
                             encoder=slab.identity, init=slab.D, rng_key=0, method="prior-slice")
    assert res.stats.method == "prior-slice"
    assert len(res) == 2000 and len(np.unique(res.codes, axis=0)) == 2000
    assert res.stats.forward_evaluations > 0 and res.stats.forward_evaluations / len(res) < 10
    a = res.activations[:, 0]
    assert ((a >= 0.5) & (a <= 1.5)).all()
    pdf, cdf = (lambda x: exp(-x * x / 2) / sqrt(2 * pi)), (lambda x: 0.5 * (1 + erf(x / sqrt(2))))
    mean = (pdf(0.5) - pdf(1.5)) / (cdf(1.5) - cdf(0.5))
    assert abs(a.mean() - mean) < 4 * a.std() / sqrt(2000 / 10)
    orth = res.codes - np.outer(res.codes @ u, u)
    assert abs(orth.var(axis=0).sum() - (slab.D - 1)) < 4 * sqrt(2 * (slab.D - 1) / (2000 / 10))


@pytest.mark.parametrize("select", ["alive", "nearest", "spread"])
def test_seeds_start_from_candidates_where_a_relu_unit_is_alive(slab, select):
    # relu(w·c − 1.5): dead (no gradient) for most Gaussian codes, alive for about 7% of them.
    w = jnp.asarray(slab.W1 / np.linalg.norm(slab.W1))
    relu_unit = lambda x: jax.nn.relu(w @ x - 1.5)
    setup = {"generator": slab.identity, "encoder": slab.identity, "init": initialization.gaussian(slab.D)}
    seeds = lambda **kw: get_method("paper").replace(seeds=SeedConfig(max_steps=300, **kw))
    if select == "alive":  # one candidate per seed: most seeds start dead and never move
        with pytest.raises(InfeasibleBandError, match="seeds inside"):
            sample_inverse_set(relu_unit, 0.5, 1.0, n=20, rng_key=0, method=seeds(candidates_per_seed=1), **setup)
    res = sample_inverse_set(relu_unit, 0.5, 1.0, n=20, rng_key=0,
                             method=seeds(candidates_per_seed=64, select=select), **setup)
    assert len(res) == 20 and ((res.activations >= 0.5) & (res.activations <= 1.0)).all()


# --------------------------------------------------------------------------- realism


def realism_residual(codes):
    """r(c) = mean((E(G(c)) − c)²) = mean((sigmoid(c) − c)²) on the slab, in float64."""
    codes = np.asarray(codes, np.float64)
    return ((1.0 / (1.0 + np.exp(-codes)) - codes) ** 2).mean(axis=1)


def test_realism_term_needs_codes_in_encoder_space(slab):
    method = get_method("paper").replace(objective=Objective(realism_weight=1.0))
    for kw in ({"method": method}, {"realism_bound": 0.1}):
        with pytest.raises(ValueError, match="realism_weight and realism_bound need an encoder"):
            sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, models=slab.models, encoder=lambda x: x[:3], **kw)


def test_realism_term_pulls_codes_towards_fixed_points_of_e_g(slab):
    # E(G(c)) = sigmoid(c): the realism term pulls each code towards sigmoid(c) = c (about 0.66).
    realism = get_method("paper").replace(objective=Objective(realism_weight=5.0))
    plain = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=60, rng_key=0, models=slab.models)
    real = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=60, rng_key=0, models=slab.models, method=realism)
    assert real.stats.settings["objective"]["realism_weight"] == 5.0 and len(real) == 60
    gap = lambda r: np.abs(slab.sigmoid(r.codes) - r.codes).mean()
    assert gap(real) < 0.75 * gap(plain)  # measured 0.32 vs 0.54
    assert slab.in_slab(real.images, slab.W1, slab.B1, 0.45, 0.6).all()


def test_the_realism_bound_has_work_to_do_in_the_band(slab):
    # Of the N(0, I) codes in the band (rejection sampling in float64), most have r(c) > 0.1.
    codes = np.random.default_rng(0).normal(size=(20000, slab.D))
    a = slab.activation(slab.sigmoid(codes), slab.W1, slab.B1)
    in_band = codes[(a >= 0.45) & (a <= 0.6)]
    assert len(in_band) > 1000 and (realism_residual(in_band) > 0.1).mean() > 0.5


@pytest.mark.parametrize("method", ["paper", "prior-slice", "prior-ladder"])
def test_realism_constraint_holds_for_every_sample(slab, method):
    # E(G(c)) = sigmoid(c), so r(c) = mean((sigmoid(c) − c)²); r ≤ τ is one more constraint.
    tau = 0.1
    res = sample_inverse_set(slab.neuron1, 0.45, 0.6, n=60, rng_key=0, models=slab.models,
                             init=initialization.gaussian(slab.D), method=method, realism_bound=tau)
    assert len(res) == 60 and res.activations.shape == (60, 1) and len(res.constraints) == 1
    assert (realism_residual(res.codes) <= tau + 1e-6).all()
    np.testing.assert_allclose(res.realism, realism_residual(res.codes), rtol=1e-4, atol=1e-6)
    assert slab.in_slab(res.images, slab.W1, slab.B1, 0.45, 0.6).all()


def test_realism_constraint_input_and_infeasibility(slab):
    kw = {"n": 10, "rng_key": 0, "models": slab.models, "init": initialization.gaussian(slab.D)}
    with pytest.raises(ValueError, match="realism_bound must be a positive number"):
        sample_inverse_set(slab.neuron1, 0.45, 0.6, realism_bound=-1.0, **kw)
    # r ≤ 1e-4 holds only near the fixed point c ≈ 0.66 of every coordinate, where the neuron is
    # about 0.62 > 0.6: the intersection with the band is empty.
    method = get_method("paper").replace(seeds=SeedConfig(max_steps=200))
    with pytest.raises(InfeasibleBandError, match="realism r"):
        sample_inverse_set(slab.neuron1, 0.45, 0.6, realism_bound=1e-4, method=method, **kw)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "z1, z2, match",
    [
        (0.6, 0.4, "z1=0.6 ≥ z2=0.4"),
        (0.5, 0.5, "empty or reversed"),
        (np.nan, 0.5, "z1 must be finite"),
        (0.1, np.inf, "z2 must be finite"),
    ],
)
def test_bad_bands(slab, z1, z2, match):
    with pytest.raises(ValueError, match=match):
        sample_inverse_set(slab.neuron1, z1, z2, n=10, models=slab.models)


def test_bad_counts(slab):
    with pytest.raises(ValueError, match="n must be ≥ 1"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=0, models=slab.models)
    with pytest.raises(ValueError, match="num_seeds must be ≥ 1"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=10, num_seeds=0, models=slab.models)
    with pytest.raises(TypeError, match="n must be a positive int"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, n=2.5, models=slab.models)


def test_mismatched_lengths(slab):
    with pytest.raises(ValueError, match="equal lengths"):
        sample_inverse_set([slab.neuron1, slab.neuron2], [0.4, 0.5], [0.6], n=10, models=slab.models)
    with pytest.raises(ValueError, match="equal lengths"):
        sample_inverse_set(slab.neuron1, [0.4, 0.5], [0.6, 0.7], n=10, models=slab.models)


def test_neuron_index_out_of_range(slab):
    target = lambda x: {"logits": x[:3] * 2.0}
    with pytest.raises(ValueError, match="index 3 is out of range for layer 'logits', which has 3 units"):
        sample_inverse_set(3, 0.0, 1.0, n=10, target=target, models=slab.models)
    with pytest.raises(ValueError, match="no layer 'fc6'"):
        sample_inverse_set(Unit("fc6", 0), 0.0, 1.0, n=10, target=target, models=slab.models)


def test_generator_output_that_does_not_fit_the_target(slab):
    target = lambda x: x.reshape(4, 4) @ jnp.ones(4)
    with pytest.raises(ValueError, match=r"target network failed on the generator's output, one image of shape \(8,\)"):
        sample_inverse_set(0, 0.0, 1.0, n=10, target=target, models=slab.models)


def test_nan_in_activations_is_an_error(slab):
    nan_neuron = lambda x: jnp.log(x[0] - 2.0)
    with pytest.raises(NonFiniteActivationError, match="NaN or Inf"):
        sample_inverse_set(nan_neuron, 0.0, 1.0, n=10, models=slab.models)


def test_unreachable_band_reports_the_reached_range(slab):
    with pytest.raises(InfeasibleBandError) as info:
        sample_inverse_set(slab.neuron1, 1.5, 2.0, n=20, models=slab.models)
    err = info.value
    assert 0.0 < err.reached_min[0] < err.reached_max[0] < 1.0
    assert "activations reached" in str(err) and "band [1.5, 2]" in str(err)
