"""method="fourier": images without a generator (the Fourier parameterisation), robust gradients, exact membership."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import Models, Parameterisation, get_method, methods, sample_inverse_set
from inverse_set.fourier import FourierImage, LayerEncoder, robust, transform

RNG = np.random.default_rng(0)
KERNEL = jnp.asarray(RNG.normal(0, 0.5, (3, 3, 1, 4)), jnp.float32)
KERNEL_RGB = jnp.asarray(RNG.normal(0, 0.5, (3, 3, 3, 4)), jnp.float32)
READOUT = jnp.asarray(RNG.normal(0, 1.0, (4, 3)), jnp.float32)


def _small_target(kernel):
    def target(image):  # (H, W, C) -> {"conv1": (H, W, 4), "logits": (3,)}
        h = jax.lax.conv_general_dilated(image[None], kernel, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))[0]
        h = jnp.tanh(h)
        return {"conv1": h, "logits": 4.0 * jnp.mean(h, axis=(0, 1)) @ READOUT}

    return target


TARGET, TARGET_RGB = _small_target(KERNEL), _small_target(KERNEL_RGB)
GREY = Models(target=TARGET, image_shape=(12, 12, 1))


def logit(p):
    return jnp.log(p) - jnp.log1p(-p)


def test_the_image_is_the_scaled_spectrum_through_a_sigmoid():
    g = FourierImage((10, 12, 1))
    assert g.code_dim == 2 * 1 * 10 * 7 and g == FourierImage((10, 12, 1)) and hash(g) == hash(FourierImage((10, 12, 1)))
    np.testing.assert_allclose(g(jnp.zeros(g.code_dim)), 0.5)  # the zero spectrum: grey
    code = jnp.asarray(RNG.normal(0, 0.01, g.code_dim), jnp.float32)
    image = g(code)
    assert image.shape == (10, 12, 1) and bool(jnp.all((image > 0) & (image < 1)))
    # the image's logit is the inverse FFT of s ⊙ c / 4: its FFT gives the code back (the columns that a real
    # FFT holds once, away from the Hermitian edges), so the amplitude falls as 1/|ν|
    p = np.asarray(image[..., 0], np.float64)
    spectrum = np.fft.rfft2(4 * np.log(p / (1 - p)))
    re, im = np.reshape(code, (2, 10, 7))
    scale = g.scale()
    np.testing.assert_allclose(np.real(spectrum)[:, 1:-1] / scale[:, 1:-1], re[:, 1:-1], atol=2e-4)
    np.testing.assert_allclose(np.imag(spectrum)[:, 1:-1] / scale[:, 1:-1], im[:, 1:-1], atol=2e-4)
    assert scale[0, 1] == pytest.approx(2 * scale[0, 2]) and scale[0, 0] == pytest.approx(12 * np.sqrt(120))


def test_a_colour_image_mixes_decorrelated_channels():
    g = FourierImage((8, 8, 3))
    code = jnp.zeros(g.code_dim).at[0].set(1.0)  # the first channel's DC coefficient only
    pixel = logit(g(code)[0, 0])
    # one decorrelated channel is a fixed colour: the first column of the colour matrix
    from inverse_set.fourier import COLOR_SQRT
    np.testing.assert_allclose(pixel / pixel[0], COLOR_SQRT[:, 0] / COLOR_SQRT[0, 0], rtol=1e-4)


@pytest.mark.parametrize("shape, match", [((12, 12), "three positive ints"), ((12, 12, 2), "1 \\(grey\\) or 3"),
                                          ((0, 12, 1), "three positive ints")])
def test_a_bad_image_shape_is_a_clear_error(shape, match):
    with pytest.raises(ValueError, match=match):
        FourierImage(shape)


def test_transforms_shift_rotate_and_leave_the_identity_alone():
    image = jnp.asarray(RNG.uniform(size=(9, 9, 2)), jnp.float32)
    np.testing.assert_array_equal(transform(image, 0.0, 1.0, 0.0, 0.0), image)
    shifted = transform(image, 0.0, 1.0, 1.0, 0.0)  # one row down, the first row repeated
    np.testing.assert_allclose(shifted[1:], image[:-1], atol=1e-6)
    np.testing.assert_allclose(shifted[0], image[0], atol=1e-6)
    np.testing.assert_allclose(transform(image, 90.0, 1.0, 0.0, 0.0), np.rot90(image, k=-1, axes=(0, 1)), atol=1e-5)


def test_robust_activation_has_the_images_own_value_and_the_transformed_mean_gradient():
    def activation(image, indices):
        return TARGET(image)["logits"][indices]

    transforms = ((0.0, 1.0, 0.0, 0.0), (10.0, 1.1, 1.0, -1.0), (0.0, 0.9, -2.0, 0.0))
    f = robust(activation, transforms)
    image = jnp.asarray(RNG.uniform(size=(12, 12, 1)), jnp.float32)
    idx = jnp.asarray([0, 2])
    np.testing.assert_array_equal(jax.jit(f)(image, idx), jax.jit(activation)(image, idx))  # bit for bit
    mean = lambda x, i: jnp.mean(jnp.stack([activation(transform(x, *t), i) for t in transforms]), 0)
    np.testing.assert_allclose(jax.jacobian(f)(image, idx), jax.jacobian(mean)(image, idx), rtol=1e-5, atol=1e-6)
    assert not np.allclose(jax.jacobian(f)(image, idx), jax.jacobian(activation)(image, idx), atol=1e-3)
    assert robust(activation, ()) is activation


def test_the_encoder_is_a_pooled_early_layer_of_the_target():
    e = LayerEncoder(TARGET, "conv1", grid=4)
    image = jnp.asarray(RNG.uniform(size=(12, 12, 1)), jnp.float32)
    assert e(image).shape == (4 * 4 * 4,)
    np.testing.assert_allclose(np.mean(e(image)), np.mean(TARGET(image)["conv1"]), rtol=0.1)  # an average pooling
    space = methods.search_space(get_method("fourier"), GREY)
    assert space.encoder == LayerEncoder(TARGET, "conv1", 7) and space.generator == FourierImage((12, 12, 1))
    assert space.transforms == Parameterisation().transforms and space.to_input is None


def _in_band(target, res, unit):
    a = np.asarray(jax.vmap(lambda x: target(x)["logits"][unit])(jnp.asarray(res.images)), np.float64)
    return bool(np.all((a >= res.z1[0]) & (a <= res.z2[0])))


def test_fourier_samples_lie_in_band_on_the_image_itself_without_a_generator():
    # grey (the start) gives logits[2] = 5.77: the seeds must search for the band
    res = sample_inverse_set(2, 4.2, 4.8, 24, models=GREY, rng_key=0)  # method=None: "fourier" without a generator
    assert res.stats.method == "fourier" and res.generator_inputs is None
    assert res.images.shape == (24, 12, 12, 1) and res.codes.shape == (24, FourierImage((12, 12, 1)).code_dim)
    assert _in_band(TARGET, res, 2) and res.stats.rejected_on_recheck == 0 and res.stats.seed_steps > 0
    assert len(np.unique(res.codes, axis=0)) == 24  # no sample twice
    np.testing.assert_allclose(res.images, jax.vmap(FourierImage((12, 12, 1)))(jnp.asarray(res.codes)), atol=1e-6)


def test_fourier_in_colour_with_another_layer_and_no_transforms():
    models = Models(target=TARGET_RGB, image_shape=(8, 8, 3), encoder_layer="conv1")
    method = get_method("fourier").replace(image=Parameterisation(transforms=(), decay_power=0.5))
    res = sample_inverse_set(2, -4.8, -4.2, 12, models=models, method=method, rng_key=1)  # grey: −5.46
    assert res.images.shape == (12, 8, 8, 3) and _in_band(TARGET_RGB, res, 2)
    assert res.stats.settings["image"]["decay_power"] == 0.5 and res.stats.settings["image"]["transforms"] == ()


@pytest.mark.parametrize("models, method, error, match", [
    (Models(target=TARGET), "fourier", ValueError, r"give image_shape=\(height, width, channels\)"),
    (Models(target=TARGET, image_shape=(12, 12, 1), generator=jax.nn.sigmoid), "fourier", ValueError,
     "takes no generator"),
    (Models(target=lambda x: jnp.sum(x) * jnp.ones(3), image_shape=(12, 12, 1)), "fourier", ValueError,
     r"the target returns only \['output'\].*encoder_layer"),
    (Models(target=TARGET, image_shape=(12, 12, 1), encoder_layer="conv9"), "fourier", ValueError,
     r"encoder_layer='conv9' is not a layer of the target; it returns \['conv1', 'logits'\]"),
    (GREY, "paper", TypeError, r"generator must be a callable.*use method='fourier'"),
])
def test_what_the_fourier_method_needs_is_a_clear_error(models, method, error, match):
    with pytest.raises(error, match=match):
        sample_inverse_set(0, 0.0, 0.1, 4, models=models, method=method)


@pytest.mark.parametrize("change, match", [({"init_scale": 0.0}, "init_scale"), ({"decay_power": -1}, "decay_power"),
                                           ({"transforms": ((0.0, 0.0, 0, 0),)}, "scale > 0"),
                                           ({"transforms": (("a", 1, 0, 0),)}, "scale > 0"),
                                           ({"encoder_grid": 0}, "encoder_grid")])
def test_bad_parameterisation_settings_are_clear_errors(change, match):
    with pytest.raises(ValueError, match=match):
        Parameterisation(**change)


@pytest.fixture(scope="module")
def zoo():
    generators = pytest.importorskip("generators")
    return generators.load("fashion")


def test_the_bundled_classifier_alone(zoo):
    """The issue's own call: the bundled classifier, no generator anywhere, samples in band of the Sandal logit."""
    s = zoo.stats["logits_by_class"]["5"]
    models = Models(target=zoo.target, image_shape=(28, 28, 1))
    res = sample_inverse_set(5, s["p50"], s["p95"], 16, models=models, method="fourier", rng_key=0)
    assert len(res.codes) == 16 and res.stats.method == "fourier"
    a = np.asarray(jax.vmap(lambda x: zoo.target(x)["logits"][5])(jnp.asarray(res.images)), np.float64)
    assert np.all((a >= s["p50"]) & (a <= s["p95"]))
    # the bundled models with their generator: refused with the way out, which is the same models
    with pytest.raises(ValueError, match=r"takes no generator: give models.without_generator\(\)"):
        sample_inverse_set(5, s["p50"], s["p95"], 16, models=zoo, method="fourier")
    alone = zoo.without_generator()
    assert alone.generator is None and alone.image_shape == (28, 28, 1) and alone.class_names == zoo.class_names
    assert methods.resolve(None, alone).name == "fourier"
