"""Promises under fuzzing: no duplicate samples, no false "infeasible", every bad setting a clear error.

Each test reproduces a defect a fuzzing run found (issue "Reliable under fuzzing").
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fuzz
from inverse_set import (
    IncompleteSampleWarning,
    InfeasibleBandError,
    Models,
    SeedConfig,
    Unit,
    WalkerConfig,
    initialization,
    make_sampler,
    sample_inverse_set,
    sample_inverse_sets,
)

IDENTITY = lambda x: x  # noqa: E731
W = np.array([1.5, -2.0, 1.0, 0.5, -1.0, 2.0, 0.0, 1.0], np.float32)
NEURON = lambda x: jax.nn.sigmoid(jnp.asarray(W) @ x)  # noqa: E731
SLAB = Models(generator=jax.nn.sigmoid, encoder=IDENTITY, init=initialization.gaussian(8, scale=0.1))


def sample(*args, **kwargs):
    """sample_inverse_set, returning (result, whether it warned IncompleteSampleWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sample_inverse_set(*args, **kwargs)
    return res, any(issubclass(w.category, IncompleteSampleWarning) for w in caught)


def assert_distinct_or_flagged(res, warned):
    assert len(np.unique(res.codes, axis=0)) == len(res), "a sample was returned twice"
    assert len(res) == res.n_requested or (warned and not res.is_complete)


# --------------------------------------------------------------------------- 1. duplicates

@pytest.mark.parametrize("case", ["one-dimensional code", "one seed", "no diversity term", "codes pinned by bounds"])
def test_no_sample_is_returned_twice(case):
    if case == "one-dimensional code":
        res, warned = sample(lambda x: jax.nn.sigmoid(3 * x[0]), 0.3, 0.7, 100, generator=jax.nn.sigmoid,
                             encoder=IDENTITY, init=initialization.gaussian(1, 0.1), rng_key=0)
    elif case == "one seed":
        res, warned = sample(NEURON, 0.4, 0.6, 50, models=SLAB, num_seeds=1, rng_key=0)
    elif case == "no diversity term":
        res, warned = sample(NEURON, 0.4, 0.6, 50, models=SLAB, walker_config=WalkerConfig(diversity_weight=0.0),
                             rng_key=0)
    else:  # every walker pushed against the box's faces
        res, warned = sample(lambda x: jax.nn.sigmoid(jnp.sum(x) - 4.0), 0.55, 0.95, 50, models=SLAB,
                             code_bounds=(-0.2, 0.2), rng_key=0)
    assert_distinct_or_flagged(res, warned)


# --------------------------------------------------------------------------- 2. false "infeasible"

@pytest.mark.parametrize("key", range(8))
def test_a_narrow_band_around_a_known_code_is_reached(key):
    """A random MLP neuron on a tanh(A c) generator, band of width 0.02 around its value at a known code."""
    rng = np.random.default_rng(key)
    a, w1, b1, w2 = (jnp.asarray(rng.normal(size=shape), jnp.float32) for shape in [(6, 4), (8, 6), (8,), (8,)])
    generator = lambda c: jnp.tanh(a @ c)  # noqa: E731
    mlp = lambda x: w2 @ jnp.tanh(w1 @ x + b1)  # noqa: E731
    a0 = float(mlp(generator(jnp.asarray(rng.normal(size=4), jnp.float32))))
    u = rng.uniform(0.1, 0.9)
    res, warned = sample(mlp, a0 - 0.02 * u, a0 + 0.02 * (1 - u), 40, generator=generator, encoder=IDENTITY, init=4,
                         rng_key=key)
    assert len(res) > 0 and ((res.activations >= res.z1) & (res.activations <= res.z2)).all()
    assert_distinct_or_flagged(res, warned)


def test_a_band_that_cannot_be_reached_says_where_it_lies():
    with pytest.raises(InfeasibleBandError, match="lies above everything reached"):
        sample_inverse_set(NEURON, 1.5, 2.0, 10, models=SLAB, seed_config=SeedConfig(max_steps=100))


# --------------------------------------------------------------------------- 3. code bounds

@pytest.mark.parametrize("bounds, match", [
    ((1.0, 0.0), "low must be strictly below high"),
    ((np.zeros(3), None), r"the code has 8 dimensions, so give a number or an array of shape \(8,\)"),
    (0.5, "code_bounds must be a pair"),
    ((0.0, 1.0, 2.0), "code_bounds must be a pair"),
    ((float("nan"), 1.0), "holds NaN"),
    (("a", None), "code_bounds low must be a number"),
])
def test_bad_code_bounds(bounds, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sample_inverse_set(NEURON, 0.4, 0.6, 10, models=SLAB, code_bounds=bounds)


# --------------------------------------------------------------------------- 4. keys

def test_int_typed_and_raw_keys_are_all_accepted_on_one_cached_sampler():
    a = sample_inverse_set(NEURON, 0.4, 0.6, 20, models=SLAB, rng_key=1)
    b = sample_inverse_set(NEURON, 0.4, 0.6, 20, models=SLAB, rng_key=jax.random.PRNGKey(1))
    c = sample_inverse_set(NEURON, 0.4, 0.6, 20, models=SLAB, rng_key=jax.random.key(1))
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.codes, c.codes)


@pytest.mark.parametrize("key", [1.5, "abc", 2**70, True, np.zeros(3)])
def test_bad_keys(key):
    with pytest.raises((TypeError, ValueError), match="rng_key"):
        sample_inverse_set(NEURON, 0.4, 0.6, 10, models=SLAB, rng_key=key)


# --------------------------------------------------------------------------- 5. settings

@pytest.mark.parametrize("make, match", [
    (lambda: SeedConfig(max_steps=0), "max_steps must be ≥ 1"),
    (lambda: WalkerConfig(max_steps=-5), "max_steps must be ≥ 1"),
    (lambda: SeedConfig(learning_rate=float("nan")), "learning_rate must be a finite number > 0"),
    (lambda: WalkerConfig(step_size=float("nan")), "step_size must be a finite number > 0"),
])
def test_bad_settings_are_reported_where_they_are_made(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --------------------------------------------------------------------------- 6. no silent coercion

TARGET = lambda x: {"fc6": jnp.tile(x, 2), "conv": x[:6].reshape(1, 2, 3)}  # noqa: E731


@pytest.mark.parametrize("unit, match", [
    (Unit("fc6", 2.7), "index .* must be an int"),
    (Unit("fc6", True), "index .* must be an int"),
    (Unit("fc6", "1"), "index .* must be an int"),
    (Unit("conv", 1, position=3), r"position .* must be a pair of ints \(h, w\)"),
])
def test_unit_fields_are_not_coerced(unit, match):
    with pytest.raises(TypeError, match=match):
        sample_inverse_set(unit, 0.4, 0.6, 10, models=SLAB, target=TARGET)


@pytest.mark.parametrize("z1, z2, error, match", [
    ("0.4", 0.6, TypeError, "z1 must be a number"),
    (0.4, [0.6, "x"], TypeError, "z2 must be a number"),
    (True, 0.6, TypeError, "z1 must be a number"),
    (0.4, 1e39, ValueError, "outside float32's range"),
])
def test_band_edges_must_be_numbers_in_float32_range(z1, z2, error, match):
    with pytest.raises(error, match=match):
        sample_inverse_set(NEURON, z1, z2, 10, models=SLAB)


# --------------------------------------------------------------------------- 7. batches

def test_a_batch_gives_the_samples_of_separate_calls_with_the_same_keys():
    key = jax.random.key(3)
    bands = [(0.4, 0.5), (0.6, 0.75), (0.2, 0.3)]
    batch = sample_inverse_sets([NEURON] * 3, [[a] for a, _ in bands], [[b] for _, b in bands], 40, models=SLAB,
                                rng_key=key)
    for i, (z1, z2) in enumerate(bands):
        alone = sample_inverse_set(NEURON, z1, z2, 40, models=SLAB, rng_key=jax.random.fold_in(key, i))
        np.testing.assert_array_equal(batch[i].codes, alone.codes)
        np.testing.assert_array_equal(batch[i].seeds, alone.seeds)


# --------------------------------------------------------------------------- 8. band edges as given

def test_the_solver_bands_lie_inside_the_bands_as_given():
    sampler = make_sampler(NEURON, 10, models=SLAB)
    z = np.array([[0.1], [0.3], [1 / 3], [0.7], [1e-8], [12345.678]])
    lo, hi = sampler.compiled.solver_bands(z, z + 0.05)
    assert lo.dtype == hi.dtype == np.float32
    assert (lo.astype(np.float64) >= z).all() and (hi.astype(np.float64) <= z + 0.05).all()
    res = sampler.sample(0.1, 0.2, rng_key=0)  # float32(0.1) > 0.1: rounding to nearest would widen the band
    assert (res.activations.astype(np.float64) >= 0.1).all() and (res.activations.astype(np.float64) <= 0.2).all()
    assert res.z1.dtype == np.float64 and res.z1[0] == 0.1


# --------------------------------------------------------------------------- 9. a stray NaN

def test_a_walker_that_meets_nan_is_rejected_not_fatal():
    # The neuron is NaN wherever x₆ > 0.6: x₆ does not change the neuron, but the walkers' repulsion
    # pushes them along it into the hole. (The seeds, near x = 0.5 where the neuron is about 0.88,
    # are in band at once.)
    holed = lambda x: jnp.where(x[6] > 0.6, jnp.nan, NEURON(x))  # noqa: E731
    res, warned = sample(holed, 0.8, 0.95, 60, models=SLAB, rng_key=0)
    assert res.stats.non_finite_rejected > 0  # the walk did meet the hole
    assert len(res) > 0 and np.isfinite(res.codes).all() and np.isfinite(res.activations).all()
    assert ((res.activations >= 0.8) & (res.activations <= 0.95)).all() and (res.images[:, 6] <= 0.6).all()
    assert_distinct_or_flagged(res, warned)


# --------------------------------------------------------------------------- randomised

@pytest.mark.parametrize("seed", range(3))
def test_random_reachable_problems_are_in_band_distinct_and_never_infeasible(seed):
    """Random generators, 1–4 neurons (logistic or MLP), bands around a known code, code bounds.

    Membership is rechecked in float64 NumPy; the sampler decides it on the
    network's float32 output, so an excess up to float32 rounding (1e-6) is allowed.
    """
    rng = np.random.default_rng(1000 + seed)
    for _ in range(6):
        neurons, z1, z2, kwargs, excess, desc = fuzz.draw_problem(rng)
        n = kwargs.pop("n")
        res, warned = sample(neurons, z1, z2, n, **kwargs)  # InfeasibleBandError here fails the test
        assert (excess(res.images) <= 1e-6).all() if len(res) else True, desc
        assert_distinct_or_flagged(res, warned)


def test_an_unreachable_band_is_reported_within_300_seed_steps():
    # sigmoid(w·x) < 1 everywhere: the band [1.5, 2] is out of reach.
    with pytest.raises(InfeasibleBandError, match="stopped early") as err:
        sample_inverse_set(NEURON, 1.5, 2.0, n=20, models=SLAB, rng_key=0)
    assert err.value.steps <= 300 and err.value.gave_up_after == 150
    assert err.value.reached_max[0] < 1.5


def test_a_reachable_but_slow_band_is_not_cut_off():
    # mean(x) climbs about 0.05 × (learning rate) per step: the band is reached after several hundred steps.
    res = sample_inverse_set(lambda x: jnp.mean(x), 20.0, 21.0, n=20, generator=IDENTITY, encoder=IDENTITY,
                             init=initialization.gaussian(8, scale=0.1), rng_key=0)
    assert len(res) == 20 and res.stats.seed_steps > 300
