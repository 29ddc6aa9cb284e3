"""Promises under fuzzing: no duplicate samples, no false "infeasible", every bad setting a clear error.

Each test reproduces a defect a fuzzing run found (issue "Reliable under fuzzing"); the random
problems are those of tests/problems.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from problems import (
    assert_distinct_or_flagged,
    assert_in_band,
    draw_bands,
    draw_networks,
    draw_problem,
    sample,
)

from inverse_set import (
    InfeasibleBandError,
    Objective,
    SeedConfig,
    Unit,
    get_method,
    initialization,
    make_sampler,
    sample_inverse_set,
)
from inverse_set.paper.seeds import GIVE_UP_PATIENCE, PACE_MARGIN


def identity(x):
    return x


# --------------------------------------------------------------------------- 1. duplicates


@pytest.mark.parametrize("case", ["one-dimensional code", "one seed", "no diversity term", "codes pinned by bounds"])
def test_no_sample_is_returned_twice(slab, case):
    if case == "one-dimensional code":
        res, warned = sample(lambda x: jax.nn.sigmoid(3 * x[0]), 0.3, 0.7, 100, generator=jax.nn.sigmoid,
                             encoder=identity, init=initialization.gaussian(1, 0.1), rng_key=0)
    elif case == "one seed":
        res, warned = sample(slab.neuron1, 0.4, 0.6, 50, models=slab.models, num_seeds=1, rng_key=0)
    elif case == "no diversity term":
        method = get_method("paper").replace(objective=Objective(diversity_weight=0.0))
        res, warned = sample(slab.neuron1, 0.4, 0.6, 50, models=slab.models, method=method, rng_key=0)
    else:  # every walker pushed against the box's faces
        res, warned = sample(lambda x: jax.nn.sigmoid(jnp.sum(x) - 4.0), 0.55, 0.95, 50, models=slab.models,
                             code_bounds=(-0.2, 0.2), rng_key=0)
    assert_in_band(res)
    assert_distinct_or_flagged(res, warned)


# --------------------------------------------------------------------------- 2. false "infeasible"


METHOD_OF_KEY = ("paper", "prior-slice", "paper", None)


@pytest.mark.parametrize("key", range(8))
def test_a_narrow_band_around_a_known_code_is_reached(key):
    """A random MLP neuron on a tanh(A c) generator, band of width 0.02 around its value at a known code;
    even keys run "paper", odd ones the default for init=4 (a standard Gaussian): "prior-ladder", and
    "prior-slice" on keys 1 and 5."""
    rng = np.random.default_rng(key)
    a, w1, b1, w2 = (jnp.asarray(rng.normal(size=shape), jnp.float32) for shape in [(6, 4), (8, 6), (8,), (8,)])
    generator = lambda c: jnp.tanh(a @ c)
    mlp = lambda x: w2 @ jnp.tanh(w1 @ x + b1)
    a0 = float(mlp(generator(jnp.asarray(rng.normal(size=4), jnp.float32))))
    u = rng.uniform(0.1, 0.9)
    res, warned = sample(mlp, a0 - 0.02 * u, a0 + 0.02 * (1 - u), 40, generator=generator, encoder=identity, init=4,
                         method=METHOD_OF_KEY[key % 4], rng_key=key)
    assert res.stats.method == (METHOD_OF_KEY[key % 4] or "prior-ladder")
    assert_in_band(res)
    assert_distinct_or_flagged(res, warned)


def test_a_band_that_cannot_be_reached_is_reported_early_and_says_where_it_lies(slab):
    # sigmoid(w·x + b) < 1 everywhere: the band [1.5, 2] is out of reach.
    with pytest.raises(InfeasibleBandError, match="stopped early") as err:
        sample_inverse_set(slab.neuron1, 1.5, 2.0, n=20, models=slab.models, rng_key=0)
    assert "lies above everything reached" in str(err.value)
    # Well before the 2000-step budget: f creeps up towards 1, at a pace that would need far more than the budget.
    e = err.value
    assert e.steps < 3 * GIVE_UP_PATIENCE and e.gave_up_after is None
    assert e.projected_steps > PACE_MARGIN * (SeedConfig().max_steps - e.steps)
    assert f"would need about {e.projected_steps:.3g} more steps" in str(e)
    assert err.value.reached_max[0] < 1.5


def test_bands_that_cannot_be_met_jointly_are_named_with_the_nearest_joint_point(slab):
    # The same unit twice, under two names: [0.45, 0.55] (where the seeds start) and [0.7, 0.8] are each
    # reachable, never both at once.
    def near_half(x):
        return slab.neuron1(x)

    def high(x):
        return slab.neuron1(x)

    paper = get_method("paper").replace(seeds=SeedConfig(max_steps=200))
    with pytest.raises(InfeasibleBandError) as err:
        sample_inverse_set([near_half, high], [0.45, 0.7], [0.55, 0.8], n=20, models=slab.models, method=paper,
                           rng_key=0)
    e = err.value
    assert e.reached_alone.tolist() == [True, False], str(e)  # the first band alone was met (at the start)
    assert e.nearest.shape == (2,) and e.nearest[0] == e.nearest[1]  # one point: the same unit twice
    assert e.unmet and set(e.unmet) <= set(e.constraints)
    assert all(not lo <= v <= hi for name, v, lo, hi in zip(e.constraints, e.nearest, e.z1, e.z2) if name in e.unmet)
    text = str(e)
    assert "Not met jointly: " in text and "Alone, it was met by some seed." in text and "never met" in text
    assert "At the point nearest all bands at once:" in text and "(outside)" in text


def test_a_reachable_but_slow_band_is_not_cut_off(slab):
    # mean(x) climbs about 0.05 × (learning rate) per step: the band is reached after several hundred steps.
    res = sample_inverse_set(lambda x: jnp.mean(x), 20.0, 21.0, n=20, generator=identity, encoder=identity,
                             init=slab.init, rng_key=0)
    assert len(res) == 20 and res.stats.seed_steps > 300 and res.stats.seed_status == "inside"
    assert_in_band(res)


# --------------------------------------------------------------------------- 3. code bounds


@pytest.mark.parametrize("bounds, match", [
    ((1.0, 0.0), "low must be strictly below high"),
    ((np.zeros(3), None), r"the code has 8 dimensions, so give a number or an array of shape \(8,\)"),
    (0.5, "code_bounds must be a pair"),
    ((0.0, 1.0, 2.0), "code_bounds must be a pair"),
    ((float("nan"), 1.0), "holds NaN"),
    (("a", None), "code_bounds low must be a number"),
])
def test_bad_code_bounds(slab, bounds, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, 10, models=slab.models, code_bounds=bounds)


# --------------------------------------------------------------------------- 4. keys


def test_int_typed_and_raw_keys_are_all_accepted_on_one_cached_sampler(slab):
    a = sample_inverse_set(slab.neuron1, 0.4, 0.6, 20, models=slab.models, rng_key=1)
    b = sample_inverse_set(slab.neuron1, 0.4, 0.6, 20, models=slab.models, rng_key=jax.random.PRNGKey(1))
    c = sample_inverse_set(slab.neuron1, 0.4, 0.6, 20, models=slab.models, rng_key=jax.random.key(1))
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.codes, c.codes)
    assert b.stats.compile_time_s == c.stats.compile_time_s == 0.0


@pytest.mark.parametrize("key", [1.5, "abc", 2**70, True, np.zeros(3)])
def test_bad_keys(slab, key):
    with pytest.raises((TypeError, ValueError), match="rng_key"):
        sample_inverse_set(slab.neuron1, 0.4, 0.6, 10, models=slab.models, rng_key=key)


# --------------------------------------------------------------------------- 5. no silent coercion

TARGET = lambda x: {"fc6": jnp.tile(x, 2), "conv": x[:6].reshape(1, 2, 3)}


@pytest.mark.parametrize("unit, match", [
    (Unit("fc6", 2.7), "index .* must be an int"),
    (Unit("fc6", True), "index .* must be an int"),
    (Unit("fc6", "1"), "index .* must be an int"),
    (Unit("conv", 1, position=(1.5, 0)), r"position .* must be a pair of ints \(h, w\)"),
])
def test_unit_fields_are_not_coerced(slab, unit, match):
    with pytest.raises(TypeError, match=match):
        sample_inverse_set(unit, 0.4, 0.6, 10, models=slab.models, target=TARGET)


@pytest.mark.parametrize("z1, z2, error, match", [
    ("0.4", 0.6, TypeError, "z1 must be a number"),
    (0.4, [0.6, "x"], TypeError, "z2 must be a number"),
    (True, 0.6, TypeError, "z1 must be a number"),
    (0.4, 1e39, ValueError, "outside float32's range"),
])
def test_band_edges_must_be_numbers_in_float32_range(slab, z1, z2, error, match):
    with pytest.raises(error, match=match):
        sample_inverse_set(slab.neuron1, z1, z2, 10, models=slab.models)


# --------------------------------------------------------------------------- 6. band edges as given


def test_the_samples_lie_inside_the_bands_as_given_not_their_float32_rounding(slab):
    sampler = make_sampler(slab.neuron1, 20, models=slab.models)
    lo, hi = sampler.compiled.solver_bands(np.array([[0.1]]), np.array([[0.2]]))
    assert lo.dtype == np.float32 and float(lo[0, 0]) >= 0.1 and float(hi[0, 0]) <= 0.2
    res = sampler.sample(0.1, 0.2, rng_key=0)  # float32(0.1) > 0.1: rounding to nearest would widen the band
    assert_in_band(res)  # in float64, against the bands as given
    assert res.z1.dtype == np.float64 and res.z1[0] == 0.1


# --------------------------------------------------------------------------- 7. a stray NaN


def holed(x):
    # NaN wherever x₆ > 0.6: x₆ does not change the slab's neuron (w₆ = 0), but the walks reach it.
    return jnp.where(x[6] > 0.6, jnp.nan, jax.nn.sigmoid(x @ jnp.asarray(HOLE_W) + HOLE_B))


HOLE_W = np.array([1.5, -2.0, 1.0, 0.5, -1.0, 2.0, 0.0, 1.0], np.float32)
HOLE_B = -float(HOLE_W.sum()) / 2


@pytest.mark.parametrize("method", ["paper", "prior-slice"])
def test_a_walker_that_meets_nan_is_rejected_not_fatal(slab, method):
    # "paper": the walkers' repulsion pushes them along x₆ into the hole; "prior-slice": about a third of
    # the N(0, I) proposals land in it. (The seeds, near x = 0.5 where the neuron is 0.5, are in band.)
    init = slab.init if method == "paper" else slab.D
    res, warned = sample(holed, 0.4, 0.6, 60, models=slab.models, init=init, method=method, rng_key=0)
    assert res.stats.non_finite_rejected > 0  # the walk did meet the hole
    assert np.isfinite(res.codes).all() and np.isfinite(res.activations).all()
    assert_in_band(res)
    assert (res.images[:, 6] <= 0.6).all()
    assert_distinct_or_flagged(res, warned)


# --------------------------------------------------------------------------- randomised


@pytest.mark.parametrize("seed", range(2))  # benchmarks/fuzz.py runs hundreds of these
def test_random_reachable_problems_are_in_band_distinct_and_never_infeasible(seed):
    """Random generators, 1–4 neurons (logistic or MLP), bands around a known code, code bounds.

    Membership is rechecked in float64 NumPy; the sampler decides it on the
    network's float32 output, so an excess up to float32 rounding (1e-6) is allowed.
    """
    rng = np.random.default_rng(1000 + seed)
    for _ in range(4):  # 8 problems, each compiled afresh (its own networks): about 12 s each here
        neurons, z1, z2, kwargs, excess, desc = draw_problem(rng)
        n = kwargs.pop("n")
        res, warned = sample(neurons, z1, z2, n, **kwargs)  # InfeasibleBandError here fails the test
        assert len(res) > 0, desc
        assert (excess(res.images) <= 1e-6).all(), desc
        assert_distinct_or_flagged(res, warned)


@pytest.mark.parametrize("seed", range(2))
def test_narrow_intersections_around_a_known_code_are_never_called_infeasible(seed):
    """Issue 20's family: 2–4 narrow bands (widths 0.005–0.1) at once, around the activations of a known code, so
    every intersection is reachable. Per seed, two draws of G and the neurons, each with six known codes (the same
    networks and settings share one compiled sampler): 24 problems in all (``benchmarks/fuzz.py
    --narrow-intersections`` runs hundreds, each with its own networks)."""
    rng = np.random.default_rng(2000 + seed)
    for _ in range(2):
        networks = draw_networks(rng, narrow_intersections=True)
        settings = {"n": 20, "num_seeds": int(rng.choice([1, 5, 10])), "code_bounds": None}
        for _ in range(6):
            z1, z2, kwargs, excess, desc = draw_bands(rng, networks, True, settings)
            n = kwargs.pop("n")
            res, warned = sample(networks.neurons, z1, z2, n, **kwargs)  # InfeasibleBandError fails the test
            assert len(res) > 0, desc
            assert (excess(res.images) <= 1e-6).all(), desc
            assert_distinct_or_flagged(res, warned)
