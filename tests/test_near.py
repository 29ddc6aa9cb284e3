"""Sampling the band near one image (``near=x0``): the promises of any call, and samples that stay near x0."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import InverseSetResult, sample_inverse_set

A = jax.random.normal(jax.random.key(3), (6, 4))
W = jnp.array([1.0, -1.0, 0.5, 0.0, 0.3, -0.2])


def generator(z):
    return jax.nn.sigmoid(A @ z)


def neuron(x):
    return W @ x


X0 = generator(jnp.array([1.0, -0.5, 0.3, 0.8]))
F0 = float(neuron(X0))
BAND = (F0 - 0.05, F0 + 0.05)
TOY = {"generator": generator, "encoder": lambda x: x, "init": 4}


def rms_to(images, reference):
    return np.sqrt(np.mean((np.asarray(images) - np.asarray(reference)) ** 2, axis=1))


@pytest.fixture(scope="module")
def near_and_far():
    near = sample_inverse_set(neuron, *BAND, 40, near=X0, rng_key=0, **TOY)
    far = sample_inverse_set(neuron, *BAND, 40, rng_key=0, **TOY)
    return near, far


def test_samples_near_an_image_are_in_band_distinct_and_nearer_than_the_bands_own(near_and_far):
    near, far = near_and_far
    acts = np.asarray(jax.vmap(neuron)(jnp.asarray(near.images)))
    assert len(near) == 40 and np.all((acts >= BAND[0]) & (acts <= BAND[1]))
    assert len(np.unique(near.images.round(7), axis=0)) == 40
    info = near.near
    np.testing.assert_array_equal(info.image, np.asarray(X0))
    assert info.reconstruction_error < 0.02 and info.scale > 0
    # the codes are the models' own latents: G(codes) are the images, and they lie about σ from z₀
    np.testing.assert_allclose(jax.vmap(generator)(jnp.asarray(near.codes)), near.images, atol=1e-6)
    assert near.generator_inputs is None
    np.testing.assert_allclose(info.pixel_distance, rms_to(near.images, info.reconstruction), rtol=1e-5)
    np.testing.assert_allclose(info.feature_distance, np.linalg.norm(near.images - info.reconstruction, axis=1),
                               rtol=1e-5)
    assert np.median(info.pixel_distance) < 0.5 * np.median(rms_to(far.images, info.reconstruction))


def test_the_same_key_gives_the_same_samples_near_an_image_and_they_save_and_load(near_and_far, tmp_path):
    again = sample_inverse_set(neuron, *BAND, 40, near=X0, rng_key=0, **TOY)
    np.testing.assert_array_equal(again.images, near_and_far[0].images)
    again.save(tmp_path / "near")
    loaded = InverseSetResult.load(tmp_path / "near")
    for name in ("image", "reconstruction", "latent", "pixel_distance", "feature_distance"):
        np.testing.assert_array_equal(getattr(loaded.near, name), getattr(again.near, name))
    assert loaded.near.scale == again.near.scale


def test_a_given_scale_is_used_and_a_prior_maps_the_latents_to_the_generators_inputs():
    prior = lambda z: 2.0 * z
    res = sample_inverse_set(neuron, *BAND, 20, near=X0, near_scale=0.3, rng_key=1, generator=generator,
                             encoder=lambda x: x, prior=prior, latent_dim=4)
    assert res.near.scale == 0.3
    np.testing.assert_allclose(res.generator_inputs, 2.0 * res.codes, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jax.vmap(generator)(jnp.asarray(res.generator_inputs)), res.images, atol=1e-6)


@pytest.mark.parametrize("image, kwargs, error, message", [
    (np.zeros(5), {}, ValueError, "near= is an image of shape \\(5,\\), but the generator's images have shape \\(6,\\)"),
    (np.full(6, np.nan), {}, ValueError, "NaN or infinite"),
    (np.full(6, 200.0), {}, ValueError, "scale x0 to the generator's range"),
    (X0, {"method": "paper"}, ValueError, "use a method of the prior's space"),
    (X0, {"near_scale": -1.0}, ValueError, "near_scale must be a positive number"),
    (None, {"near_scale": 0.5}, ValueError, "give the image too, near=x0"),
])
def test_a_bad_image_or_setting_near_an_image_is_refused_clearly(image, kwargs, error, message):
    with pytest.raises(error, match=message):
        sample_inverse_set(neuron, *BAND, 10, near=image, rng_key=0, **TOY, **kwargs)


# ---- where the neuron looks ---------------------------------------------------------------------------------------

KERNEL = jnp.asarray(np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32))


def blob_detector(image):  # (H, W, 1) -> the summed response of a 3 × 3 filter: the same at every position
    x = image[..., 0]
    response = jax.scipy.signal.convolve2d(x, KERNEL, mode="same")
    return jnp.sum(jax.nn.softplus(response))


def blob(at, size=20):
    image = np.zeros((size, size, 1), np.float32)
    image[at[0]:at[0] + 5, at[1]:at[1] + 5, 0] = np.linspace(0.2, 1.0, 25).reshape(5, 5)
    return image


def centroid(weights):
    w = np.abs(weights) / np.abs(weights).sum()
    rows, cols = np.indices(w.shape)
    return np.array([(rows * w).sum(), (cols * w).sum()])


def test_an_attribution_map_moves_with_the_object():
    from inverse_set.attribution import attribution_maps

    images = np.stack([blob((5, 5)), blob((8, 9))])
    exact = attribution_maps(blob_detector, images, noise=0.0)  # gradient × input: exactly equivariant
    assert exact.shape == (2, 20, 20) and np.abs(exact[0]).max() > 0
    np.testing.assert_allclose(exact[1], np.roll(exact[0], (3, 4), axis=(0, 1)), atol=1e-5)
    smooth = attribution_maps(blob_detector, images, rng_key=1)  # smoothed over jitters: the object moves, so does it
    strong = [np.where(np.abs(m) >= 0.3 * np.abs(m).max(), m, 0.0) for m in smooth]  # the map's own object
    np.testing.assert_allclose(centroid(strong[1]) - centroid(strong[0]), [3, 4], atol=0.25)
    assert np.corrcoef(np.roll(smooth[0], (3, 4), axis=(0, 1)).ravel(), smooth[1].ravel())[0, 1] > 0.95
    assert np.abs(smooth[0][12:, 12:]).max() < 0.2 * np.abs(smooth[0]).max()  # nothing far from the object


def test_a_change_map_is_what_changed_from_the_reconstruction(near_and_far):
    from inverse_set.attribution import change_map

    near = near_and_far[0]
    changed = change_map(near.images, near.near.reconstruction, channel_axis=None)
    np.testing.assert_allclose(changed, np.abs(near.images - near.near.reconstruction), rtol=1e-6)
    with pytest.raises(ValueError, match="give images of the reference's shape"):
        change_map(near.images, np.zeros(3))


def test_an_atlas_near_an_image_is_a_series_across_bands_from_one_inversion():
    from inverse_set import atlas

    bands = [(F0 - 0.3, F0 - 0.2), BAND, (F0 + 0.2, F0 + 0.3)]
    rows = atlas(neuron, bands, 10, near=X0, rng_key=0, **TOY)
    assert [len(r) for r in rows] == [10, 10, 10]
    np.testing.assert_array_equal(rows[0].near.latent, rows[2].near.latent)  # one inversion for every row
    for res, (z1, z2) in zip(rows, bands):
        acts = np.asarray(jax.vmap(neuron)(jnp.asarray(res.images)))
        assert np.all((acts >= z1) & (acts <= z2))
    alone = sample_inverse_set(neuron, *bands[1], 10, near=X0, rng_key=0, **TOY)
    np.testing.assert_array_equal(rows[1].images, alone.images)  # a row is the call of its own


# ---- on the command line, and in the report ------------------------------------------------------------------------

MODELS_FILE = '''
import jax, jax.numpy as jnp, numpy as np
from inverse_set import Models
A = jax.random.normal(jax.random.key(3), (36, 4))
W = jnp.asarray(np.random.default_rng(0).normal(size=36).astype(np.float32))
generator = lambda z: jax.nn.sigmoid(A @ z).reshape(6, 6, 1)
target = lambda x: {"logits": jnp.stack([W @ x.ravel(), -(W @ x.ravel())])}
images = np.asarray(jax.vmap(generator)(jax.random.normal(jax.random.key(9), (50, 4))))
models = Models(generator=generator, encoder=lambda x: x.ravel(), target=target, init=4, dataset=lambda: images)
'''


def test_the_command_line_samples_near_a_dataset_image_and_reports_it(tmp_path):
    import json

    from inverse_set.cli.main import main

    models = tmp_path / "toy.py"
    models.write_text(MODELS_FILE)
    out = tmp_path / "run"
    assert main(["sample", "--models", str(models), "--neuron", "0", "--band", "p40,p60", "--n", "12",
                 "--near-index", "3", "--out", str(out), "--report", "--quiet"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["near"]["image"] == "dataset image 3" and run["near"]["scales"][0] in (0.25, 0.5, 1.0)
    assert (out / "near.png").is_file()
    page = (out / "report.html").read_text()
    assert "Near an image" in page and "where it looks in x0" in page and "the image the run started near" in page
    atlas_out = tmp_path / "atlas"
    assert main(["atlas", "--models", str(models), "--neuron", "0", "--band", "p10,p40", "--band", "p60,p90",
                 "--n", "8", "--near-index", "3", "--out", str(atlas_out), "--quiet"]) == 0
    assert len(json.loads((atlas_out / "run.json").read_text())["near"]["scales"]) == 2
    assert (atlas_out / "atlas.png").is_file()


@pytest.mark.parametrize("extra, says", [
    (["--near-scale", "0.5"], "--near-scale is σ of a run near an image"),
    (["--near-index", "500"], "the dataset has 50 images"),
    (["--near-index", "1", "--near", "x.png"], "either --near IMAGE or --near-index K"),
])
def test_a_bad_near_argument_is_one_clear_line(tmp_path, capsys, extra, says):
    from inverse_set.cli.main import main

    models = tmp_path / "toy.py"
    models.write_text(MODELS_FILE)
    assert main(["sample", "--models", str(models), "--neuron", "0", "--band", "0,1", "--n", "5",
                 "--out", str(tmp_path / "o"), *extra]) == 2
    assert says in capsys.readouterr().err
