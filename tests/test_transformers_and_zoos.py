"""Transformers and the common PyTorch zoos: token layers as units, modules that return tuples or dicts, a timm ViT
and a torchvision ResNet through ``torch_target`` (at random weights and reduced size)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen, nnx

from inverse_set import Models, Unit, sample_inverse_set
from inverse_set.core.constraints import make_activation_fn, resolve
from inverse_set.frameworks import flax_target, nnx_target

torch = pytest.importorskip("torch", reason="the torch extra: pip install 'inverse-set[torch]'")
pytest.importorskip("torchax", reason="the torch extra: pip install 'inverse-set[torch]'")
from inverse_set.frameworks import torch_target


def in_band(values, z1, z2):
    tol = 1e-5 * np.maximum(1.0, np.abs(values))
    return bool(np.all((values >= z1 - tol) & (values <= z2 + tol)))


# ---- token layers as units ---------------------------------------------------------------------------------------

TOKENS = {"tokens": (5, 4), "dense": (3,), "conv": (2, 2, 3)}


def test_a_token_layers_channel_is_read_at_one_token_or_averaged_over_tokens():
    acts = {"tokens": jnp.arange(20.0).reshape(5, 4), "dense": jnp.zeros(3), "conv": jnp.zeros((2, 2, 3))}
    specs, indices, labels = resolve([Unit("tokens", 1, 3), Unit("tokens", 2), Unit("tokens", 0, 0)], TOKENS)
    f = make_activation_fn(specs, lambda image: acts)(jnp.zeros(1), indices)
    np.testing.assert_allclose(f, [acts["tokens"][3, 1], acts["tokens"][:, 2].mean(), acts["tokens"][0, 0]])
    assert labels == ("tokens[3,1]", "mean tokens[:,2]", "tokens[0,0]")


@pytest.mark.parametrize("unit, message", [
    (Unit("tokens", 1, (0, 1)), "token layer .* its position is one token, an int"),
    (Unit("tokens", 1, 5), "token 5 is outside layer 'tokens', which has 5 tokens"),
    (Unit("tokens", 4), "index 4 is out of range for layer 'tokens', which has 4 channels"),
    (Unit("conv", 1, 1), "conv layer .* its position is a pair \\(h, w\\), not the token 1"),
    (Unit("dense", 1, 0), "layer 'dense' is dense .* Drop position="),
])
def test_a_unit_that_does_not_fit_its_layer_says_what_would(unit, message):
    with pytest.raises(ValueError, match=message):
        resolve([unit], TOKENS)


def test_a_position_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="a pair of ints \\(h, w\\) for a conv layer, an int token"):
        resolve([Unit("tokens", 1, 1.5)], TOKENS)


# ---- what modules return: tuples, lists, dicts ---------------------------------------------------------------------


class Parts(torch.nn.Module):
    """A block whose submodules return a tuple (attention), a dict, a list, and no tensor at all."""

    def __init__(self):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(4, 2, batch_first=True)
        self.named = DictOut()
        self.listed = ListOut()
        self.nothing = NoTensor()

    def forward(self, x):  # (B, T, C)
        a, _ = self.attn(x, x, x)
        d = self.named(a)
        first, _ = self.listed(d["h"])
        self.nothing(first)
        return first.mean(1)


class DictOut(torch.nn.Module):
    def forward(self, x):
        return {"h": torch.tanh(x), "count": 3}


class ListOut(torch.nn.Module):
    def forward(self, x):
        return [x * 2.0, x.sum(-1)]


class NoTensor(torch.nn.Module):
    def forward(self, x):
        return None


def test_torch_target_reads_tuple_dict_and_list_outputs_by_part_and_leaves_out_what_is_no_tensor():
    torch.manual_seed(0)
    net = Parts()
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    layers = torch_target(net)(jnp.asarray(x))
    with torch.no_grad():
        attn, weights = net.attn(*(torch.from_numpy(x)[None],) * 3)
    np.testing.assert_allclose(layers["attn"], attn[0].numpy(), rtol=1e-5, atol=1e-6)  # the first part
    np.testing.assert_allclose(layers["attn.0"], attn[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers["attn.1"], weights[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers["named.h"], np.tanh(attn[0].numpy()), rtol=1e-5, atol=1e-6)
    assert layers["listed.1"].shape == (3,) and layers["listed"].shape == (3, 4)
    assert "named.count" not in layers and "named" not in layers and not any(k.startswith("nothing") for k in layers)
    assert layers["output"].shape == (4,)


def test_a_torch_module_that_fails_is_named_in_the_error():
    class Sparse(torch.nn.Module):
        def forward(self, x):
            return x.to_sparse()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Sequential(torch.nn.Identity(), Sparse())

        def forward(self, x):
            self.inner(x)
            return x.sum()

    with pytest.raises(RuntimeError, match="torch_target: the module failed in submodule 'inner.1' \\(Sparse\\)"):
        torch_target(Net())(jnp.ones((2, 3)))


def test_flax_and_nnx_targets_read_a_submodule_that_returns_a_tuple_or_dict_by_part():
    class Pair(linen.Module):
        @linen.compact
        def __call__(self, x):
            return linen.Dense(3, name="a")(x), {"b": jnp.tanh(x)}

    class Linen(linen.Module):
        @linen.compact
        def __call__(self, x):
            a, d = Pair(name="pair")(x)
            return a.sum(-1) + d["b"].sum(-1)

    x = jnp.linspace(-1.0, 1.0, 4)
    module = Linen()
    layers = flax_target(module, module.init(jax.random.key(0), x[None]))(x)
    assert layers["pair"].shape == (3,) and layers["pair.0"].shape == (3,)
    np.testing.assert_allclose(layers["pair.1.b"], np.tanh(x), rtol=1e-6)

    class NnxPair(nnx.Module):
        def __init__(self, rngs):
            self.dense = nnx.Linear(4, 3, rngs=rngs)

        def __call__(self, x):
            return self.dense(x), {"b": jnp.tanh(x)}

    class Nnx(nnx.Module):
        def __init__(self, rngs):
            self.pair = NnxPair(rngs)

        def __call__(self, x):
            a, d = self.pair(x)
            return a.sum(-1) + d["b"].sum(-1)

    layers = nnx_target(Nnx(nnx.Rngs(0)))(x)
    assert layers["pair"].shape == (3,) and layers["pair.0"].shape == (3,)
    np.testing.assert_allclose(layers["pair.1.b"], np.tanh(x), rtol=1e-6)


# ---- a small vision transformer, end to end -----------------------------------------------------------------------


class TinyViT(torch.nn.Module):
    """Patches of 7 × 7 → 16 tokens of width 16, one encoder layer, a linear head on the mean token."""

    def __init__(self):
        super().__init__()
        self.patch = torch.nn.Conv2d(1, 16, 7, stride=7)
        self.block = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        return self.head(self.block(tokens).mean(1))


def small_generator(code_dim, shape, key=1):
    w = jax.random.normal(jax.random.key(key), (code_dim, int(np.prod(shape)))) * 0.3
    return lambda c: jax.nn.sigmoid(c @ w).reshape(shape)


def band_of(acts, low=40, high=60):
    return tuple(float(v) for v in np.percentile(np.asarray(acts), [low, high]))


def test_the_default_samples_a_transformers_token_unit_at_one_token_and_averaged_in_band():
    torch.manual_seed(0)
    net = TinyViT()
    target = torch_target(net)  # every submodule, self_attn's tuple included
    generator = small_generator(8, (1, 28, 28))
    codes = jax.random.normal(jax.random.key(0), (200, 8))
    acts = jax.vmap(lambda c: target(generator(c))["block.linear1"])(codes)
    assert acts.shape == (200, 16, 32)
    models = Models(generator=generator, encoder=lambda x: x.ravel(), target=target, init=8)
    for position, values in ((5, acts[:, 5, 3]), (None, acts[:, :, 3].mean(1))):
        z1, z2 = band_of(values)
        res = sample_inverse_set(Unit("block.linear1", 3, position), z1, z2, n=12, models=models, rng_key=0)
        assert res.stats.method == "prior-ladder" and len(res.images) == 12
        with torch.no_grad():  # torch itself, on the returned images
            seen = {}
            hook = net.block.linear1.register_forward_hook(lambda m, a, out, seen=seen: seen.__setitem__("h", out))
            net(torch.from_numpy(np.asarray(res.images)))
            hook.remove()
        again = seen["h"][:, 5, 3].numpy() if position is not None else seen["h"][:, :, 3].mean(1).numpy()
        assert in_band(again, z1, z2), (position, again, z1, z2)


# ---- the zoos: timm and torchvision at random weights -------------------------------------------------------------


@pytest.mark.parametrize("zoo", ["timm", "torchvision"])
def test_a_zoo_model_samples_a_mid_network_unit_in_band(zoo):
    """A timm ViT (a class-token channel of an MLP) and a torchvision ResNet-18 (a conv channel), 32 × 32 images,
    with the input normalisation each model expects."""
    pytest.importorskip(zoo, reason="the zoo extra: pip install 'inverse-set[zoo]'")
    torch.manual_seed(0)
    if zoo == "timm":
        import timm

        net = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=2)
        config = timm.data.resolve_data_config({}, model=net)
        layer, unit, position, normalize = "blocks.1.mlp.fc1", 7, 0, (config["mean"], config["std"])
    else:
        import torchvision

        net = torchvision.models.resnet18(weights=None)
        layer, unit, position = "layer2.0.conv1", 5, None
        normalize = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # torchvision's ImageNet constants
    target = torch_target(net, layers=[layer], normalize=normalize)
    generator = small_generator(16, (3, 32, 32))
    codes = jax.random.normal(jax.random.key(0), (100, 16))
    acts = jax.jit(jax.vmap(lambda c: target(generator(c))[layer]))(codes)
    values = acts[:, position, unit] if position is not None else acts[..., unit].mean(axis=(1, 2))
    z1, z2 = band_of(values)
    models = Models(generator=generator, encoder=lambda x: x.ravel()[:64], target=target, init=16)
    res = sample_inverse_set(Unit(layer, unit, position), z1, z2, n=8, models=models, rng_key=0)
    assert len(res.images) == 8
    mean, std = (torch.tensor(v).reshape(3, 1, 1) for v in normalize)
    with torch.no_grad():
        seen = {}
        hook = dict(net.named_modules())[layer].register_forward_hook(lambda m, a, out, seen=seen: seen.__setitem__("h", out))
        net((torch.from_numpy(np.asarray(res.images)) - mean) / std)
        hook.remove()
    h = seen["h"].numpy()
    again = h[:, position, unit] if position is not None else h[:, unit].mean(axis=(1, 2))
    assert in_band(again, z1, z2), (again, z1, z2)


def test_normalize_that_does_not_fit_the_image_is_refused():
    with pytest.raises(ValueError, match="as many means as standard deviations, each std > 0"):
        torch_target(TinyViT(), normalize=((0.5, 0.5), (0.2,)))
    target = torch_target(TinyViT(), normalize=((0.5, 0.5, 0.5), (0.2, 0.2, 0.2)))
    with pytest.raises(ValueError, match="normalize=…\\) has 3 channels"):
        target(jnp.zeros((1, 28, 28)))


def test_percentile_bands_of_a_token_unit_come_from_the_models_dataset():
    from inverse_set.cli.arguments import dataset_percentiles

    images = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    target = lambda x: {"tokens": jnp.outer(x[:3], x[3:])}
    models = Models(target=target, dataset=lambda: images)
    for position, values in ((2, images[:, 2] * images[:, 4]),
                             (None, (images[:, :3] * images[:, 4:5]).mean(axis=1))):
        table = dataset_percentiles(Unit("tokens", 1, position), models)
        np.testing.assert_allclose([table["p5"], table["p95"], table["max"]],
                                   [*np.percentile(values, [5, 95]), values.max()], rtol=1e-5)
