"""Researchers' own networks: Flax NNX modules and PyTorch modules (through torchax) as target, generator, encoder."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from inverse_set import Models, Unit, sample_inverse_set
from inverse_set.frameworks import nnx_function, nnx_target


def band_around(values, lo=40, hi=60):
    """A band holding the middle of the activations of random codes: reachable by construction."""
    return float(np.percentile(values, lo)), float(np.percentile(values, hi))


class NnxTarget(nnx.Module):
    def __init__(self, rngs):
        self.conv = nnx.Conv(1, 3, (3, 3), rngs=rngs)
        self.hidden = nnx.Linear(6 * 6 * 3, 5, rngs=rngs)
        self.logits = nnx.Linear(5, 2, rngs=rngs)

    def __call__(self, x):  # (B, 6, 6, 1)
        h = nnx.relu(self.conv(x))
        h = nnx.relu(self.hidden(h.reshape(h.shape[0], -1)))
        self.sow(nnx.Intermediate, "hidden_relu", h)
        return self.logits(h)


class NnxGenerator(nnx.Module):
    def __init__(self, rngs):
        self.dense = nnx.Linear(8, 36, rngs=rngs)

    def __call__(self, c):  # (B, 8) -> (B, 6, 6, 1)
        return nnx.sigmoid(self.dense(c)).reshape(-1, 6, 6, 1)


class NnxEncoder(nnx.Module):
    def __init__(self, rngs):
        self.dense = nnx.Linear(36, 4, rngs=rngs)

    def __call__(self, x):  # (B, 6, 6, 1) -> (B, 4)
        return nnx.tanh(self.dense(x.reshape(x.shape[0], -1)))


@pytest.mark.filterwarnings("ignore:Using 'Module.sow\\(\\)' outside:DeprecationWarning")  # the test's own direct calls
def test_nnx_units_by_name_agree_with_the_module_and_samples_lie_in_band():
    module, gen_module = NnxTarget(nnx.Rngs(0)), NnxGenerator(nnx.Rngs(1))
    target, generator = nnx_target(module), nnx_function(gen_module)
    image = generator(jnp.linspace(-1.0, 1.0, 8))
    layers = target(image)
    assert {"conv", "hidden", "hidden_relu", "logits", "output"} <= set(layers)
    # The layers read by name are the module's own intermediate outputs.
    np.testing.assert_allclose(layers["conv"], module.conv(image[None])[0], rtol=1e-6)
    hidden = module.hidden(nnx.relu(module.conv(image[None])).reshape(1, -1))[0]
    np.testing.assert_allclose(layers["hidden"], hidden, rtol=1e-6)
    np.testing.assert_allclose(layers["hidden_relu"], nnx.relu(hidden), rtol=1e-6)
    np.testing.assert_allclose(layers["output"], module(image[None])[0], rtol=1e-6)

    codes = jax.random.normal(jax.random.key(0), (200, 8))
    acts = jax.vmap(lambda c: target(generator(c)))(codes)
    neurons = [Unit("hidden", 2), Unit("conv", 1)]
    b1, b2 = band_around(acts["hidden"][:, 2]), band_around(acts["conv"][..., 1].mean(axis=(1, 2)), 20, 80)
    models = Models(generator=generator, encoder=nnx_function(NnxEncoder(nnx.Rngs(2))), target=target, init=8)
    res = sample_inverse_set(neurons, [b1[0], b2[0]], [b1[1], b2[1]], n=30, models=models, rng_key=0)
    assert len(res.codes) == 30
    # Re-run the module itself on the returned images (batched) and check both bands.
    conv = nnx.relu(module.conv(jnp.asarray(res.images)))
    again = np.stack([np.asarray(module.hidden(conv.reshape(30, -1)))[:, 2],
                      np.asarray(module.conv(jnp.asarray(res.images)))[..., 1].mean(axis=(1, 2))], axis=1)
    np.testing.assert_allclose(res.activations, again, rtol=1e-4, atol=1e-5)
    assert ((again >= np.array([b1[0], b2[0]]) - 1e-5) & (again <= np.array([b1[1], b2[1]]) + 1e-5)).all()


def test_torch_target_and_generator_samples_lie_in_band_recomputed_by_torch():
    torch = pytest.importorskip("torch", reason="the torch extra: pip install 'inverse-set[torch]'")
    pytest.importorskip("torchax", reason="the torch extra: pip install 'inverse-set[torch]'")
    from inverse_set.frameworks import torch_function, torch_target

    torch.manual_seed(0)

    class TorchTarget(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
            self.fc1 = torch.nn.Linear(3 * 6 * 6, 5)
            self.fc2 = torch.nn.Linear(5, 2)

        def forward(self, x):  # (B, 1, 6, 6)
            h = torch.relu(self.conv(x))
            return self.fc2(torch.relu(self.fc1(h.flatten(1))))

    net = TorchTarget()
    gen = torch.nn.Sequential(torch.nn.Linear(8, 36), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 6, 6)))
    target, generator = torch_target(net), torch_function(gen)
    image = generator(jnp.linspace(-1.0, 1.0, 8))
    assert image.shape == (1, 6, 6)
    layers = target(image)
    assert {"conv", "fc1", "fc2", "output"} <= set(layers)
    with torch.no_grad():
        conv_torch = net.conv(torch.from_numpy(np.array(image))[None]).numpy()[0]
    np.testing.assert_allclose(layers["conv"], np.moveaxis(conv_torch, 0, -1), rtol=1e-5, atol=1e-6)  # channels last
    # an (H, W, C) image, as method="fourier" makes, moved to torch's (C, H, W) by channels_last
    last = torch_target(net, channels_last=True)(jnp.moveaxis(image, 0, -1))
    np.testing.assert_array_equal(last["output"], layers["output"])

    codes = jax.random.normal(jax.random.key(0), (200, 8))
    acts = jax.vmap(lambda c: target(generator(c)))(codes)
    neurons = [Unit("fc1", 3), 1]
    b1, b2 = band_around(acts["fc1"][:, 3], 30, 70), band_around(acts["output"][:, 1], 20, 80)
    models = Models(generator=generator, encoder=lambda x: x.ravel(), target=target, init=8)
    res = sample_inverse_set(neurons, [b1[0], b2[0]], [b1[1], b2[1]], n=30, models=models, rng_key=0)
    assert len(res.codes) == 30
    # torch itself, on the returned images and on the generator's images of the returned codes.
    with torch.no_grad():
        images = gen(torch.from_numpy(np.asarray(res.codes)))
        np.testing.assert_allclose(images.numpy(), res.images, rtol=1e-5, atol=1e-6)
        h = torch.relu(net.conv(images))
        again = np.stack([net.fc1(h.flatten(1))[:, 3].numpy(), net(images)[:, 1].numpy()], axis=1)
    tol = 1e-5 * np.maximum(1.0, np.abs(again))
    assert ((again >= np.array([b1[0], b2[0]]) - tol) & (again <= np.array([b1[1], b2[1]]) + tol)).all()
    np.testing.assert_allclose(res.activations, again, rtol=1e-4, atol=1e-5)
