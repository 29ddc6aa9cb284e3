"""The sampler on problems whose inverse set is known.

G(c) = sigmoid(c) maps codes into the unit cube; the neuron a(x) = sigmoid(w·x + b)
is linear-logistic, so its inverse set for [z1, z2] is the slab
{x ∈ [0,1]^d : logit(z1) ≤ w·x + b ≤ logit(z2)}.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import (
    Bands,
    IncompleteSampleWarning,
    InfeasibleBandError,
    NonFiniteActivationError,
    SeedConfig,
    Unit,
    WalkerConfig,
    flax_target,
    initialization,
    sample_inverse_set,
    sample_inverse_sets,
)

D = 8
W1 = np.array([1.5, -2.0, 1.0, 0.5, -1.0, 2.0, 0.0, 1.0], np.float32)
W2 = np.array([0.0, 1.0, 2.0, -1.5, 1.0, 0.0, -1.0, 0.5], np.float32)
B1 = -float(W1.sum()) / 2  # the slab through the cube's centre
B2 = -float(W2.sum()) / 2


def linear_logistic(w, b):
    w = jnp.asarray(w)
    return lambda x: jax.nn.sigmoid(w @ x + b)


NEURON1 = linear_logistic(W1, B1)
NEURON2 = linear_logistic(W2, B2)
IDENTITY = lambda x: x  # noqa: E731
TIGHT_INIT = initialization.gaussian(D, scale=0.1)  # seeds start clustered near the centre
COMMON = dict(generator=jax.nn.sigmoid, encoder=IDENTITY, init=TIGHT_INIT)


def np_sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def in_slab(images, w, b, z1, z2):
    a = np_sigmoid(images.astype(np.float64) @ w.astype(np.float64) + b)
    return (a >= z1) & (a <= z2)


def spread_orthogonal(points, w):
    """Total standard deviation of the points projected onto the plane orthogonal to w."""
    u = w / np.linalg.norm(w)
    proj = points - np.outer(points @ u, u)
    return float(proj.std(axis=0).sum())


def test_every_sample_lies_in_the_slab_and_spreads_over_it():
    res = sample_inverse_set(NEURON1, 0.55, 0.7, n=200, rng_key=1, **COMMON)
    assert len(res) == 200 and res.is_complete
    assert res.images.shape == (200, D) and res.activations.shape == (200, 1)
    np.testing.assert_allclose(res.images, np_sigmoid(res.codes), rtol=1e-5, atol=1e-6)
    # Independent check of membership, in float64 numpy, from the returned images.
    assert in_slab(res.images, W1, B1, 0.55 - 1e-6, 0.7 + 1e-6).all()
    assert ((res.images >= 0) & (res.images <= 1)).all()
    # The walk covers the slab: spread orthogonal to w far above the seeds' spread.
    seed_images = np_sigmoid(res.seeds)
    assert spread_orthogonal(res.images, W1) > 4 * spread_orthogonal(seed_images, W1)
    # ... and samples are not repeats of each other.
    assert len(np.unique(np.round(res.codes, 5), axis=0)) == 200
    # The activations fill the band, not just one edge of it.
    a = res.activations[:, 0]
    assert a.min() < 0.55 + 0.25 * 0.15 and a.max() > 0.7 - 0.25 * 0.15


def test_statistics_are_reported():
    res = sample_inverse_set(NEURON1, 0.4, 0.6, n=100, rng_key=0, **COMMON)
    s = res.stats
    assert s.status == "complete"
    assert s.walker_steps >= (100 - 10) // 10  # the floor ⌈(n − K)/K⌉
    assert s.acceptance_rate.shape == (s.walker_steps + 1,)
    assert s.acceptance_rate[0] == 1.0  # the seeds themselves
    assert 0 < s.mean_acceptance_rate <= 1
    candidates = SeedConfig().candidates_per_seed
    assert s.network_evaluations == 10 * (candidates + s.seed_steps + 1 + s.walker_steps + 1)
    assert s.run_time_s > 0 and s.compile_time_s >= 0


def test_intersection_of_two_neurons():
    res = sample_inverse_set([NEURON1, NEURON2], [0.5, 0.3], [0.7, 0.5], n=100, rng_key=2, **COMMON)
    assert res.activations.shape == (100, 2)
    assert in_slab(res.images, W1, B1, 0.5 - 1e-6, 0.7 + 1e-6).all()
    assert in_slab(res.images, W2, B2, 0.3 - 1e-6, 0.5 + 1e-6).all()


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
    gen = lambda c: jax.nn.sigmoid(c).reshape(4, 4, 1)  # noqa: E731
    enc = lambda x: x.ravel()  # noqa: E731
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
    res = sample_inverse_set(
        neurons, z1, z2, n=40, generator=gen, encoder=enc, target=target, init=16, rng_key=3
    )
    assert res.constraints == ("mean conv[:,:,1]", "conv[1,2,0]", "logits[1]")
    # Recompute every activation with the module itself, batched, and check the bands.
    _, state = module.apply(params, res.images, capture_intermediates=True, mutable=["intermediates"])
    conv = np.asarray(state["intermediates"]["conv"]["__call__"][0])
    logits = np.asarray(module.apply(params, res.images))
    independent = np.stack([conv[:, :, :, 1].mean(axis=(1, 2)), conv[:, 1, 2, 0], logits[:, 1]], axis=1)
    np.testing.assert_allclose(res.activations, independent, rtol=1e-4, atol=1e-5)
    assert ((independent >= np.array(z1) - 1e-5) & (independent <= np.array(z2) + 1e-5)).all()


def test_same_key_same_samples_and_other_key_other_samples():
    a = sample_inverse_set(NEURON1, 0.4, 0.6, n=50, rng_key=7, **COMMON)
    b = sample_inverse_set(NEURON1, 0.4, 0.6, n=50, rng_key=7, **COMMON)
    c = sample_inverse_set(NEURON1, 0.4, 0.6, n=50, rng_key=8, **COMMON)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert not np.allclose(a.codes, c.codes)


def test_vmapped_problems_agree_with_separate_runs():
    key = jax.random.key(5)
    bands = [(0.4, 0.5), (0.6, 0.75)]
    batch = sample_inverse_sets([NEURON1, NEURON1], [[b[0]] for b in bands], [[b[1]] for b in bands],
                                n=40, rng_key=key, **COMMON)
    for i, (z1, z2) in enumerate(bands):
        single = sample_inverse_set(NEURON1, z1, z2, n=40, rng_key=jax.random.fold_in(key, i), **COMMON)
        np.testing.assert_allclose(batch[i].codes, single.codes, rtol=1e-4, atol=1e-5)
        assert batch[i].stats.walker_steps == single.stats.walker_steps


def test_compiled_loop_agrees_with_python_loop():
    """The jitted while_loops give what the same steps give run op by op in Python."""
    from inverse_set import make_sampler

    sampler = make_sampler(NEURON1, 30, **COMMON)
    key = jax.random.key(11)
    compiled = sampler.sample(0.4, 0.6, rng_key=key)
    with jax.disable_jit():
        seed_state, walk_state = sampler.run(key, 0.4, 0.6)
    assert int(walk_state.step) == compiled.stats.walker_steps
    assert int(seed_state.step) == compiled.stats.seed_steps
    np.testing.assert_allclose(walk_state.kept_codes, compiled.codes, rtol=1e-4, atol=1e-5)


def test_a_second_band_does_not_retrace():
    traces = []

    def counting_generator(code):
        traces.append(1)  # runs only while JAX traces
        return jax.nn.sigmoid(code)

    kw = dict(generator=counting_generator, encoder=IDENTITY, init=TIGHT_INIT)
    first = sample_inverse_set(NEURON1, 0.4, 0.6, n=30, **kw)
    after_first = len(traces)
    second = sample_inverse_set(NEURON1, 0.6, 0.7, n=30, **kw)
    assert after_first > 0
    assert len(traces) == after_first, "a new band retraced the sampler"
    assert second.stats.compile_time_s == 0.0 and first.stats.compile_time_s > 0
    assert ((second.activations >= 0.6) & (second.activations <= 0.7)).all()


def test_code_bounds_are_respected():
    res = sample_inverse_set(NEURON1, 0.55, 0.65, n=60, code_bounds=(0.0, None), rng_key=4, **COMMON)
    assert (res.codes >= 0).all() and (res.seeds >= 0).all()


@pytest.mark.parametrize(
    "walker_config",
    [WalkerConfig(repulsion="rbf"), WalkerConfig(repel_from="all"), WalkerConfig(normalize=False, step_size=5.0)],
)
def test_walker_variants_stay_in_band(walker_config):
    res = sample_inverse_set(NEURON1, 0.45, 0.6, n=60, walker_config=walker_config, **COMMON)
    assert len(res) == 60
    assert in_slab(res.images, W1, B1, 0.45 - 1e-6, 0.6 + 1e-6).all()


def test_walker_out_of_steps_returns_fewer_samples_flagged_never_padded():
    with pytest.warns(IncompleteSampleWarning, match="of the 500 samples"):
        res = sample_inverse_set(
            NEURON1, 0.45, 0.55, n=500, walker_config=WalkerConfig(max_steps=3), **COMMON
        )
    assert not res.is_complete
    assert len(res) <= 10 * 4 and res.stats.status == "out of walker steps"
    assert res.codes.shape[0] == res.images.shape[0] == res.activations.shape[0]
    assert np.isfinite(res.codes).all()
    assert in_slab(res.images, W1, B1, 0.45 - 1e-6, 0.55 + 1e-6).all()


# ---------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "z1, z2, match",
    [
        (0.6, 0.4, "z1=0.6 ≥ z2=0.4"),
        (0.5, 0.5, "empty or reversed"),
        (np.nan, 0.5, "z1 must be finite"),
        (0.1, np.inf, "z2 must be finite"),
    ],
)
def test_bad_bands(z1, z2, match):
    with pytest.raises(ValueError, match=match):
        sample_inverse_set(NEURON1, z1, z2, n=10, **COMMON)


@pytest.mark.parametrize("select", ["alive", "nearest", "spread"])
def test_seeds_start_from_candidates_where_a_relu_unit_is_alive(select):
    # relu(w·c − 1.5): dead (no gradient) for most Gaussian codes, alive for about 7% of them.
    w = jnp.asarray(W1 / np.linalg.norm(W1))
    relu_unit = lambda x: jax.nn.relu(w @ x - 1.5)  # noqa: E731
    setup = dict(generator=IDENTITY, encoder=IDENTITY, init=initialization.gaussian(D))
    with pytest.raises(InfeasibleBandError, match="seeds inside"):
        sample_inverse_set(relu_unit, 0.5, 1.0, n=20, rng_key=0, seed_config=SeedConfig(
            candidates_per_seed=1, max_steps=300), **setup)
    res = sample_inverse_set(relu_unit, 0.5, 1.0, n=20, rng_key=0, seed_config=SeedConfig(
        candidates_per_seed=64, select=select, max_steps=300), **setup)
    assert len(res) == 20 and ((res.activations >= 0.5) & (res.activations <= 1.0)).all()


def test_bad_counts():
    with pytest.raises(ValueError, match="n must be ≥ 1"):
        sample_inverse_set(NEURON1, 0.4, 0.6, n=0, **COMMON)
    with pytest.raises(ValueError, match="num_seeds must be ≥ 1"):
        sample_inverse_set(NEURON1, 0.4, 0.6, n=10, num_seeds=0, **COMMON)
    with pytest.raises(TypeError, match="n must be a positive int"):
        sample_inverse_set(NEURON1, 0.4, 0.6, n=2.5, **COMMON)
    with pytest.raises(ValueError, match="candidates_per_seed must be ≥ 1"):
        sample_inverse_set(NEURON1, 0.4, 0.6, n=10, seed_config=SeedConfig(candidates_per_seed=0), **COMMON)
    with pytest.raises(ValueError, match="select must be one of 'alive', 'nearest', 'spread'"):
        sample_inverse_set(NEURON1, 0.4, 0.6, n=10, seed_config=SeedConfig(select="best"), **COMMON)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        sample_inverse_set([NEURON1, NEURON2], [0.4, 0.5], [0.6], n=10, **COMMON)
    with pytest.raises(ValueError, match="equal lengths"):
        sample_inverse_set(NEURON1, [0.4, 0.5], [0.6, 0.7], n=10, **COMMON)


def test_neuron_index_out_of_range():
    target = lambda x: {"logits": x[:3] * 2.0}  # noqa: E731
    with pytest.raises(ValueError, match="index 3 is out of range for layer 'logits', which has 3 units"):
        sample_inverse_set(3, 0.0, 1.0, n=10, target=target, **COMMON)
    with pytest.raises(ValueError, match="no layer 'fc6'"):
        sample_inverse_set(Unit("fc6", 0), 0.0, 1.0, n=10, target=target, **COMMON)


def test_generator_output_that_does_not_fit_the_target():
    target = lambda x: x.reshape(4, 4) @ jnp.ones(4)  # noqa: E731 — wants 16 pixels, gets 8
    with pytest.raises(ValueError, match=r"generator's output shape \(8,\) does not fit the target"):
        sample_inverse_set(0, 0.0, 1.0, n=10, target=target, **COMMON)


def test_nan_in_activations_is_an_error():
    nan_neuron = lambda x: jnp.log(x[0] - 2.0)  # noqa: E731 — log of a negative number
    with pytest.raises(NonFiniteActivationError, match="NaN or Inf"):
        sample_inverse_set(nan_neuron, 0.0, 1.0, n=10, **COMMON)


def test_unreachable_band_reports_the_reached_range():
    with pytest.raises(InfeasibleBandError) as info:
        sample_inverse_set(NEURON1, 1.5, 2.0, n=10, seed_config=SeedConfig(max_steps=300), **COMMON)
    err = info.value
    assert err.reached_max[0] < 1.0 and err.reached_min[0] > 0.0
    assert err.reached_min[0] < err.reached_max[0]
    assert "activations reached" in str(err) and "band [1.5, 2]" in str(err)


def test_realism_term_needs_codes_in_encoder_space():
    with pytest.raises(ValueError, match="realism_weight and realism_bound need an encoder"):
        sample_inverse_set(NEURON1, 0.4, 0.6, n=10, generator=jax.nn.sigmoid, encoder=lambda x: x[:3],
                           init=TIGHT_INIT, walker_config=WalkerConfig(realism_weight=1.0))


def test_realism_term_pulls_codes_towards_fixed_points_of_e_g():
    # E(G(c)) = sigmoid(c): the realism term pulls each code towards sigmoid(c) = c (about 0.66).
    kw = dict(n=60, seed_config=SeedConfig(realism_weight=5.0), rng_key=0, **COMMON)
    plain = sample_inverse_set(NEURON1, 0.45, 0.6, walker_config=WalkerConfig(), **{**kw, "seed_config": SeedConfig()})
    real = sample_inverse_set(NEURON1, 0.45, 0.6, walker_config=WalkerConfig(realism_weight=5.0), **kw)
    gap = lambda r: np.abs(np_sigmoid(r.codes) - r.codes).mean()  # noqa: E731
    assert gap(real) < 0.75 * gap(plain)  # measured 0.32 vs 0.54
    assert in_slab(real.images, W1, B1, 0.45 - 1e-6, 0.6 + 1e-6).all()


def test_realism_constraint_holds_for_every_sample():
    # E(G(c)) = sigmoid(c), so r(c) = mean((sigmoid(c) − c)²); r ≤ τ is one more constraint.
    tau = 0.1
    residual = lambda codes: ((np_sigmoid(codes.astype(np.float64)) - codes) ** 2).mean(axis=1)  # noqa: E731
    kw = dict(n=60, rng_key=0, generator=jax.nn.sigmoid, encoder=IDENTITY, init=initialization.gaussian(D))
    free = sample_inverse_set(NEURON1, 0.45, 0.6, **kw)
    assert free.realism is None and (residual(free.codes) > tau).mean() > 0.2  # the bound has work to do
    res = sample_inverse_set(NEURON1, 0.45, 0.6, realism_bound=tau, **kw)
    assert len(res) == 60 and res.activations.shape == (60, 1) and len(res.constraints) == 1
    assert (residual(res.codes) <= tau + 1e-6).all()
    np.testing.assert_allclose(res.realism, residual(res.codes), rtol=1e-4, atol=1e-6)
    assert in_slab(res.images, W1, B1, 0.45 - 1e-6, 0.6 + 1e-6).all()


def test_realism_constraint_input_and_infeasibility():
    kw = dict(n=10, rng_key=0, generator=jax.nn.sigmoid, encoder=IDENTITY, init=initialization.gaussian(D))
    with pytest.raises(ValueError, match="realism_bound must be a positive number"):
        sample_inverse_set(NEURON1, 0.45, 0.6, realism_bound=-1.0, **kw)
    # r ≤ 1e-4 holds only near the fixed point c ≈ 0.66 of every coordinate, where the neuron is
    # about 0.62 > 0.6: the intersection with the band is empty.
    with pytest.raises(InfeasibleBandError, match="realism r"):
        sample_inverse_set(NEURON1, 0.45, 0.6, realism_bound=1e-4, seed_config=SeedConfig(max_steps=200), **kw)


def test_the_slice_walker_samples_the_prior_restricted_to_the_band():
    """Codes c ~ N(0, I_8), neuron u·c (|u| = 1) in [0.5, 1.5]: u·c is a standard normal truncated to the band
    and the 7 directions orthogonal to u stay standard normal. Tolerances are 4 standard errors of the mean
    over effectively independent samples (chains of 2000 samples from 10 seeds)."""
    from math import erf, exp, pi, sqrt

    from inverse_set import SliceWalkerConfig

    u = W1 / np.linalg.norm(W1)
    res = sample_inverse_set(lambda c: jnp.asarray(u) @ c, 0.5, 1.5, n=2000, generator=IDENTITY, encoder=IDENTITY,
                             init=D, walker_config=SliceWalkerConfig(), rng_key=0)
    assert len(res) == 2000 and len(np.unique(res.codes, axis=0)) == 2000
    assert res.stats.forward_evaluations > 0 and res.stats.forward_evaluations / len(res) < 10
    a = res.activations[:, 0]
    assert ((a >= 0.5) & (a <= 1.5)).all()
    pdf, cdf = (lambda x: exp(-x * x / 2) / sqrt(2 * pi)), (lambda x: 0.5 * (1 + erf(x / sqrt(2))))
    mean = (pdf(0.5) - pdf(1.5)) / (cdf(1.5) - cdf(0.5))
    assert abs(a.mean() - mean) < 4 * a.std() / sqrt(2000 / 10)
    orth = res.codes - np.outer(res.codes @ u, u)
    assert abs(orth.var(axis=0).sum() - (D - 1)) < 4 * sqrt(2 * (D - 1) / (2000 / 10))


def test_spread_selection_starts_near_the_band_and_far_apart():
    from inverse_set import seeds
    from inverse_set.problem import Problem

    problem = Problem(IDENTITY, IDENTITY, lambda x, indices: x[:1])  # f(c) = c₀, E = identity
    bands = Bands(jnp.array([0.0]), jnp.array([1.0]))
    # Four candidates in band at one point, two in band far from it and from each other, two out of band.
    candidates = jnp.array([[0.5, 0.0], [0.5, 0.001], [0.5, 0.002], [0.5, 0.003], [0.5, 5.0], [0.5, -5.0],
                            [3.0, 0.0], [-4.0, 0.0]])
    near, _ = seeds.select_initial(problem, candidates, bands, None, 3, "nearest")
    spread, reserve = seeds.select_initial(problem, candidates, bands, None, 3, "spread")
    np.testing.assert_array_equal(near, candidates[:3])  # the nearest, in draw order: one cluster
    assert {tuple(map(float, c)) for c in spread} == {(0.5, 0.0), (0.5, 5.0), (0.5, -5.0)}
    # Every candidate is used once: the chosen, then the reserve (the pool's others, then the rest).
    assert sorted(map(tuple, np.concatenate([spread, reserve]).tolist())) == sorted(map(tuple, candidates.tolist()))
