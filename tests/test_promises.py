"""The promises every method keeps, tested once, parametrised over every method by name (``inverse_set.METHODS``),
so that a new method, or a new default, cannot skip them:

* every sample lies in its band (the activations recomputed in float64 NumPy from the returned images);
* nothing non-finite is returned: no NaN or Inf in a code, an image, its encoding or its activations. A generator
  that overflows while the target saturates in band gives finite samples or a :class:`SamplingError`; a network
  that gives only NaN raises :class:`NonFiniteActivationError` naming it (the generator, the encoder or the target);
* no code is returned twice;
* problem b of a batch is the single call with the key ``fold_in(rng_key, b)``;
* the same key gives the same samples (another key, others);
* bad input is a clear error, a batch of problems with different structures included.

The problems are small and analytic, so that each method's case takes seconds: for the methods that search through a
generator, the slab (G = sigmoid on an 8-d code, E the identity, two linear-logistic units through the cube's centre)
with a standard-Gaussian init, which every one of them accepts; for ``"fourier"`` (the image space, no generator),
the same kind of units on an 8 × 8 grey image. A method's problem is chosen by where it searches (``Method.space``).
"""

from __future__ import annotations

import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import (
    METHODS,
    IncompleteSampleWarning,
    Models,
    NonFiniteActivationError,
    SamplingError,
    get_method,
    initialization,
    methods,
    sample_inverse_set,
    sample_inverse_sets,
)

NAMES = list(METHODS)  # every method by name: a new one is tested here without a change to this file

# --------------------------------------------------------------------------- the problems (module-level functions:
# the compiled-sampler cache keys on function identity, so the tests of one method share its compiled runs)

RNG = np.random.default_rng(0)
CODE_W = np.array([[1.5, -2.0, 1.0, 0.5, -1.0, 2.0, 0.0, 1.0],
                   [0.0, 1.0, 2.0, -1.5, 1.0, 0.0, -1.0, 0.5]], np.float32)  # the slab's two units
IMAGE_W = RNG.normal(size=(2, 64)).astype(np.float32)  # two units on an 8 × 8 image


def _linear_logistic(w):
    """Two units a_i(x) = sigmoid(w_i · x + b_i), b_i = −Σw_i / 2: the plane through the centre of [0, 1]^d."""
    w_j, b_j = jnp.asarray(w), jnp.asarray(-w.sum(axis=1) / 2)
    return lambda x: jax.nn.sigmoid(w_j @ jnp.ravel(x) + b_j)


def float64_activations(w, images):
    """The units' activations recomputed from the images in float64 NumPy, independently of the package: (m, 2)."""
    w = np.asarray(w, np.float64)
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    return 1.0 / (1.0 + np.exp(-(x @ w.T - w.sum(axis=1) / 2)))


CODE_UNITS, IMAGE_UNITS = _linear_logistic(CODE_W), _linear_logistic(IMAGE_W)


def _image_target(x):
    return {"early": jnp.tanh(x - 0.5), "logits": IMAGE_UNITS(x)}


SLAB = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=initialization.gaussian(8), target=CODE_UNITS)
IMAGE = Models(target=_image_target, image_shape=(8, 8, 1))


def problem(name):
    """``(models, w)``: the problem for method ``name`` and its units' weights (for the float64 recheck)."""
    return (IMAGE, IMAGE_W) if METHODS[name].space == "image" else (SLAB, CODE_W)


def encodings(name, models, images):
    """E of each returned image, by the encoder the method used on these models."""
    encoder = methods.search_space(get_method(name), models).encoder
    return np.stack([np.asarray(encoder(jnp.asarray(x))).ravel() for x in images]) if len(images) else np.zeros(0)


N = 30
KEY = jax.random.key(7)
BANDS = [(0.4, 0.6), (0.55, 0.7)]  # unit 0, problems 0 and 1 of the batch


@pytest.fixture(scope="module", params=NAMES)
def run(request):
    """One method's runs on its problem: problem 0 alone (twice, and with another key), problem 1 alone, and both
    as one batch; whether any warned that it returned fewer than n."""
    name = request.param
    models, w = problem(name)
    call = lambda band, key: sample_inverse_set(0, *band, N, models=models, method=name, rng_key=key)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, again = call(BANDS[0], jax.random.fold_in(KEY, 0)), call(BANDS[0], jax.random.fold_in(KEY, 0))
        other = call(BANDS[0], jax.random.fold_in(KEY, 99))
        second = call(BANDS[1], jax.random.fold_in(KEY, 1))
        batch = sample_inverse_sets([0, 0], [b[0] for b in BANDS], [b[1] for b in BANDS], N, models=models,
                                    method=name, rng_key=KEY)
    return types.SimpleNamespace(name=name, models=models, w=w, singles=[first, second], again=again, other=other,
                                 batch=batch, incomplete=[c for c in caught if c.category is IncompleteSampleWarning])


def test_each_method_ran_by_its_name_and_returned_n_samples(run):
    assert run.incomplete == []
    for res in [*run.singles, *run.batch, run.again, run.other]:
        assert res.stats.method == run.name and len(res) == N and res.is_complete


def test_every_sample_lies_in_its_band_rechecked_in_float64(run):
    for res, (z1, z2) in [*zip(run.singles, BANDS), *zip(run.batch, BANDS)]:
        np.testing.assert_array_equal(res.z1, [z1])
        np.testing.assert_array_equal(res.z2, [z2])
        given = res.activations.astype(np.float64)[:, 0]
        assert ((given >= z1) & (given <= z2)).all()  # the package's own recheck, against the bands as given
        again = float64_activations(run.w, res.images)[:, 0]  # float32 images, float64 arithmetic
        assert np.abs(again - given).max() < 1e-5
        assert ((again >= z1 - 1e-6) & (again <= z2 + 1e-6)).all()


def test_every_sample_is_finite(run):
    for res in [*run.singles, *run.batch, run.again, run.other]:
        assert np.isfinite(res.codes).all() and np.isfinite(res.images).all() and np.isfinite(res.activations).all()
        assert np.isfinite(encodings(run.name, run.models, res.images)).all()


def test_no_code_is_returned_twice(run):
    for res in [*run.singles, *run.batch, run.again, run.other]:
        assert len(np.unique(res.codes, axis=0)) == len(res)


def test_problem_b_of_a_batch_is_the_single_call_with_the_key_fold_in_b(run):
    for alone, member in zip(run.singles, run.batch):
        np.testing.assert_array_equal(member.codes, alone.codes)
        np.testing.assert_array_equal(member.images, alone.images)
        np.testing.assert_array_equal(member.activations, alone.activations)


def test_the_same_key_gives_the_same_samples_and_another_key_others(run):
    first = run.singles[0]
    np.testing.assert_array_equal(run.again.codes, first.codes)
    np.testing.assert_array_equal(run.again.images, first.images)
    assert not np.isin(run.other.codes, first.codes).all(axis=1).any()  # not one sample in common


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_a_clear_error(name):
    models, _ = problem(name)
    call = lambda neuron, z1, z2, n, **kw: sample_inverse_set(neuron, z1, z2, n, models=models,
                                                              method=name, **kw)
    for z1, z2, match in [(0.6, 0.4, "z1=0.6 ≥ z2=0.4"), (0.5, 0.5, "empty or reversed"),
                          (np.nan, 0.5, "z1 must be finite"), (0.1, np.inf, "z2 must be finite")]:
        with pytest.raises(ValueError, match=match):
            call(0, z1, z2, 10)
    with pytest.raises(ValueError, match="n must be ≥ 1"):
        call(0, 0.4, 0.6, 0)
    with pytest.raises(ValueError, match="num_seeds must be ≥ 1"):
        call(0, 0.4, 0.6, 10, num_seeds=0)
    with pytest.raises(TypeError, match="n must be a positive int"):
        call(0, 0.4, 0.6, 2.5)
    with pytest.raises(ValueError, match="equal lengths"):
        call([0, 1], [0.4, 0.5], [0.6], 10)
    with pytest.raises(ValueError, match="index 2 is out of range"):
        call(2, 0.4, 0.6, 10)
    with pytest.raises((TypeError, ValueError), match="rng_key"):
        call(0, 0.4, 0.6, 10, rng_key="seven")
    with pytest.raises(ValueError, match="z1 must have one entry per problem"):
        sample_inverse_sets([0, 0], 0.4, [0.6, 0.7], 10, models=models, method=name)


@pytest.mark.parametrize("name", NAMES)
def test_a_batch_of_problems_with_different_structures_is_a_clear_error(name):
    # A unit alone and an intersection of two, one call: not NumPy's "inhomogeneous shape", the package's message.
    models, _ = problem(name)
    for neurons, z1, z2 in [([0, [0, 1]], [0.4, [0.4, 0.4]], [0.6, [0.6, 0.6]]),
                            ([[0, 1], 0], [[0.4, 0.4], 0.4], [[0.6, 0.6], 0.6])]:
        with pytest.raises(ValueError, match="do not share one structure .* run them in separate calls"):
            sample_inverse_sets(neurons, z1, z2, N, models=models, method=name, rng_key=0)


# --------------------------------------------------------------------------- networks that give NaN or Inf

OVER_W = jnp.array([1.0, -1.0, 0.5])


def _overflowing_generator(c):
    return jnp.exp(100.0 * c)  # Inf in float32 wherever a code entry passes about 0.89


def _saturating_neuron(x):
    return jax.nn.sigmoid(OVER_W @ jnp.tanh(x))  # finite (and possibly in band) even where x is Inf


def _image_target_with_an_overflowing_layer(x):
    # The fourier method's encoder is the target's early layer: it overflows where a pixel passes about 0.89, while
    # the output stays finite.
    return {"early": jnp.exp(100.0 * x), "logits": jnp.stack([jax.nn.sigmoid(8.0 * (jnp.mean(x) - 0.5))])}


OVERFLOWING = Models(generator=_overflowing_generator, encoder=jnp.tanh, init=initialization.gaussian(3, 1.0))
OVERFLOWING_IMAGE = Models(target=_image_target_with_an_overflowing_layer, image_shape=(8, 8, 1))


@pytest.mark.parametrize("name", NAMES)
def test_a_sample_whose_image_or_encoding_overflows_is_never_returned(name):
    image_space = METHODS[name].space == "image"
    models, neuron = (OVERFLOWING_IMAGE, 0) if image_space else (OVERFLOWING, _saturating_neuron)
    source = "the encoder's encodings" if image_space else "the generator's images"
    for key in (0, 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", IncompleteSampleWarning)  # fewer than n: allowed, never padded
                res = sample_inverse_set(neuron, 0.4, 0.6, 60, models=models, method=name, rng_key=key)
        except NonFiniteActivationError as err:
            assert source in str(err)
            continue
        except SamplingError:  # e.g. "paper": seeds stuck where the target saturates, an InfeasibleBandError
            continue
        assert len(res) > 0
        assert np.isfinite(res.codes).all() and np.isfinite(res.images).all() and np.isfinite(res.activations).all()
        assert np.isfinite(encodings(name, models, res.images)).all()
        assert ((res.activations >= 0.4) & (res.activations <= 0.6)).all()


def _nan_generator(c):
    return jax.nn.sigmoid(c) * jnp.nan


def _nan_encoder(x):
    return jnp.ravel(x) * jnp.nan


def _nan_neuron(x):
    return jnp.log(CODE_UNITS(x)[0] - 2.0)  # log of a negative number


def _image_target_with_a_nan_output(x):
    return {"early": jnp.tanh(x - 0.5), "logits": jnp.log(IMAGE_UNITS(x) - 2.0)}


NAN_CASES = {  # the network that gives NaN: (models through a generator, neuron), (models in the image space, neuron)
    "generator": ((SLAB.replace(generator=_nan_generator), 0), None),
    "encoder": ((SLAB.replace(encoder=_nan_encoder), 0), (IMAGE.replace(encoder=_nan_encoder), 0)),
    "target": ((SLAB, _nan_neuron), (IMAGE.replace(target=_image_target_with_a_nan_output), 0)),
}
NAMED = {"generator": "the generator's images", "encoder": "the encoder's encodings",
         "target": "the target network's activations"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("source", list(NAN_CASES))
def test_a_network_that_gives_nan_is_named(name, source):
    case = NAN_CASES[source][METHODS[name].space == "image"]
    if case is None:
        pytest.skip(f"{name!r} makes its own images: it has no generator to give NaN")
    models, neuron = case
    with pytest.raises(NonFiniteActivationError, match=NAMED[source]):
        sample_inverse_set(neuron, 0.4, 0.6, 20, models=models, method=name, rng_key=0)
