"""Flax modules of the Fashion-MNIST model zoo.

All modules take a batch ``(N, 28, 28, 1)`` of images in [0, 1] (or a batch of
codes / latents); the per-example closures in :func:`generators.load` add and
remove the batch dimension.

* :class:`Classifier` -- the *target* network whose neurons are inverted.
  Named layers ``conv1``, ``conv2``, ``fc6`` (256 units) and ``logits`` (10).
* The *encoder* E is the classifier up to post-ReLU ``fc6``
  (:meth:`Classifier.encode`), so codes are non-negative 256-vectors.
* :class:`Generator` -- DGN-style decoder G: code (256,) -> image, trained so
  that G(E(x)) ~ x and E(G(c)) ~ c, also off the data manifold.
* :class:`Judge` -- an independently trained classifier with a different
  architecture; its penultimate ``features`` are the space in which diversity and
  fidelity are measured.
* :class:`CodeFlow` -- the code prior: a flow from z ~ N(0, I) to fc6 before its
  ReLU, so that relu(T⁻¹(z)) is distributed like the codes of real images.
* :class:`Discriminator` -- the critic of the generator's adversarial loss (not shipped).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

CODE_DIM = 256
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)


def _max_pool(x):
    """2x2 max pooling by reshape (much faster to differentiate on CPU than reduce_window)."""
    n, h, w, c = x.shape
    return x.reshape((n, h // 2, 2, w // 2, 2, c)).max(axis=(2, 4))


def _upsample(x):
    """2x nearest-neighbour upsampling by repeat."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class Classifier(nn.Module):
    """Target CNN: conv1(32,3x3)-pool-conv2(64,3x3)-pool-fc6(256)-logits(10).

    ``activations`` returns the post-ReLU outputs of ``conv1`` (28,28,32),
    ``conv2`` (14,14,64), ``fc6`` (256,) and the ``logits`` (10,).
    """

    dropout_rate: float = 0.3

    def setup(self):
        self.conv1 = nn.Conv(32, (3, 3), padding="SAME")
        self.conv2 = nn.Conv(64, (3, 3), padding="SAME")
        self.fc6 = nn.Dense(CODE_DIM)
        self.logits = nn.Dense(NUM_CLASSES)
        self.dropout = nn.Dropout(self.dropout_rate)

    def activations(self, x, train: bool = False):
        """Dict of named-layer activations for a batch of images."""
        a1 = nn.relu(self.conv1(x))
        a2 = nn.relu(self.conv2(_max_pool(a1)))
        h = _max_pool(a2).reshape((x.shape[0], -1))
        h = self.dropout(h, deterministic=not train)
        a6 = nn.relu(self.fc6(h))
        self.sow("intermediates", "fc6", a6)
        z = self.logits(self.dropout(a6, deterministic=not train))
        return {"conv1": a1, "conv2": a2, "fc6": a6, "logits": z}

    def encode(self, x):
        """Encoder E: post-ReLU fc6 code (N, 256), non-negative."""
        return self.activations(x)["fc6"]

    def pre_code(self, x):
        """fc6 before its ReLU (N, 256): E(x) = relu(pre_code(x)); what the code prior models."""
        h = _max_pool(nn.relu(self.conv2(_max_pool(nn.relu(self.conv1(x)))))).reshape((x.shape[0], -1))
        return self.fc6(h)

    def __call__(self, x, train: bool = False):
        return self.activations(x, train)["logits"]


class Judge(nn.Module):
    """Independent classifier: conv(16,5x5)-pool-conv(32,5x5)-pool-conv(64,3x3,valid)-features(128)-logits.

    Different kernel sizes, widths and depth from :class:`Classifier`,
    trained from a different seed.  ``features`` is the post-ReLU penultimate layer.
    """

    dropout_rate: float = 0.3

    def setup(self):
        self.conv_a = nn.Conv(16, (5, 5), padding="SAME")
        self.conv_b = nn.Conv(32, (5, 5), padding="SAME")
        self.conv_c = nn.Conv(64, (3, 3), padding="VALID")
        self.features_dense = nn.Dense(128)
        self.logits = nn.Dense(NUM_CLASSES)
        self.dropout = nn.Dropout(self.dropout_rate)

    def _features(self, x, train: bool):
        h = nn.relu(self.conv_a(x))
        h = _max_pool(h)  # 14x14
        h = nn.relu(self.conv_b(h))
        h = _max_pool(h)  # 7x7
        h = nn.relu(self.conv_c(h))  # 5x5
        h = h.reshape((x.shape[0], -1))
        h = self.dropout(h, deterministic=not train)
        return nn.relu(self.features_dense(h))

    def features(self, x):
        """Penultimate post-ReLU features (N, 128)."""
        return self._features(x, False)

    def __call__(self, x, train: bool = False):
        f = self._features(x, train)
        return self.logits(self.dropout(f, deterministic=not train))

    def features_and_logits(self, x):
        f = self._features(x, False)
        return f, self.logits(f)


class Generator(nn.Module):
    """DGN-style generator G: non-negative code (N, 256) -> images (N, 28, 28, 1) in [0, 1].

    Dense(512) -> Dense(14x14x16) -> conv(c_1) -> nearest-upsample to 28x28 ->
    conv(c_2) … conv(c_k) -> conv(1) -> sigmoid, with ``conv_channels = (c_1, …, c_k)``
    (default (32, 16)).  No transposed convolutions (they are slow on CPU).
    """

    conv_channels: tuple[int, ...] = (32, 16)

    @nn.compact
    def __call__(self, code):
        n = code.shape[0]
        h = nn.relu(nn.Dense(512, name="fc1")(code))
        h = nn.relu(nn.Dense(14 * 14 * 16, name="fc2")(h)).reshape((n, 14, 14, 16))
        for i, channels in enumerate(self.conv_channels):
            if i == 1:
                h = _upsample(h)
            h = nn.relu(nn.Conv(channels, (3, 3), padding="SAME", name=f"conv{i + 1}")(h))
        h = nn.Conv(1, (3, 3), padding="SAME", name="conv_out")(h)
        return nn.sigmoid(h)


class Discriminator(nn.Module):
    """Image critic for the generator's adversarial loss: conv(64, s2) -> conv(128, s2) -> dense(1) logit."""

    @nn.compact
    def __call__(self, x):
        h = nn.leaky_relu(nn.Conv(64, (4, 4), strides=2, padding="SAME", name="conv1")(x), 0.2)
        h = nn.leaky_relu(nn.Conv(128, (4, 4), strides=2, padding="SAME", name="conv2")(h), 0.2)
        return nn.Dense(1, name="logit")(h.reshape((x.shape[0], -1)))[:, 0]


class CodeFlow(nn.Module):
    """A prior over codes: an affine-coupling flow (RealNVP) from z ~ N(0, I) to fc6 before its ReLU.

    ``forward(h) -> (z, log|det ∂z/∂h|)`` for a batch of pre-activations h (what the
    training loss needs); ``inverse(z) -> h``, so that ``relu(inverse(z))``, z ~ N(0, I),
    is a code of the generator distributed like E(x) of real images. Each of the
    ``num_layers`` couplings transforms one half of the (fixed-permuted) coordinates
    by a scale and shift computed from the other half by an MLP; h is first
    standardised with the training codes' mean and std (stored, not trained).
    """

    dim: int = CODE_DIM
    num_layers: int = 12
    hidden: int = 256

    def setup(self):
        self.mean = self.param("mean", nn.initializers.zeros, (self.dim,))
        self.log_std = self.param("log_std", nn.initializers.zeros, (self.dim,))
        self.nets = [nn.Sequential([nn.Dense(self.hidden), nn.relu, nn.Dense(self.hidden), nn.relu,
                                    nn.Dense(self.dim, kernel_init=nn.initializers.zeros)])
                     for _ in range(self.num_layers)]
        rng = np.random.default_rng(0)
        self.perms = [rng.permutation(self.dim) for _ in range(self.num_layers)]

    def _scale_shift(self, layer, x1):
        out = self.nets[layer](x1)
        s, t = jnp.split(out, 2, axis=-1)
        return jnp.tanh(s), t

    def forward(self, h):
        mean, log_std = jax.lax.stop_gradient(self.mean), jax.lax.stop_gradient(self.log_std)
        x = (h - mean) * jnp.exp(-log_std)
        log_det = -jnp.sum(log_std) * jnp.ones(h.shape[0])
        half = self.dim // 2
        for layer in range(self.num_layers):
            x = x[:, self.perms[layer]]
            s, t = self._scale_shift(layer, x[:, :half])
            x = jnp.concatenate([x[:, :half], x[:, half:] * jnp.exp(s) + t], axis=-1)
            log_det = log_det + jnp.sum(s, axis=-1)
        return x, log_det

    def inverse(self, z):
        half = self.dim // 2
        x = z
        for layer in reversed(range(self.num_layers)):
            s, t = self._scale_shift(layer, x[:, :half])
            x = jnp.concatenate([x[:, :half], (x[:, half:] - t) * jnp.exp(-s)], axis=-1)
            x = x[:, np.argsort(self.perms[layer])]
        return x * jnp.exp(self.log_std) + self.mean

    def __call__(self, h):
        return self.forward(h)


MODELS = {"classifier": Classifier, "judge": Judge, "generator": Generator, "prior": CodeFlow}


def init_params(name: str, key, **config):
    """Initial parameters of a zoo model (the template of its weights when ``key`` is fixed).

    ``config``: the module's attributes, e.g. ``conv_channels`` of the generator.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    model = MODELS[name](**config)
    if name in ("generator", "prior"):
        return model.init(key, jnp.zeros((1, CODE_DIM)))
    return model.init(key, jnp.zeros((1,) + IMAGE_SHAPE))
