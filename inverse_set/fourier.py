"""Images without a generator: the Fourier parameterisation, the target's own early layer, robust gradients.

For ``method="fourier"`` the search variable c is an image's spectrum (Olah et al. 2017, "Feature
Visualization", Distill; their "Lucid" code), and the "generator" is

.. math:: G(c) = σ\\big(\\mathcal{F}^{-1}[s ⊙ (c_{re} + i\\, c_{im})] \\,/\\, 4 \\; M^\\top\\big),
   \\qquad s(ν) = \\sqrt{HW} / \\max(|ν|, 1/\\max(H, W))^{α}

with ν the 2-d frequencies of a real FFT of an H × W image, α the decay power (1: a 1/f amplitude, the spectrum of
natural images, so that every frequency starts with the same share of the image's energy), M the square root of the
colour correlation of natural images (three channels only: the search moves decorrelated colours), and σ the
sigmoid into the valid range (0, 1). The code has 2 · C · H · (⌊W/2⌋ + 1) entries.

Diversity is measured in the target's own early layer (:class:`LayerEncoder`): no encoder of a generator is needed.

Robustness (:func:`robust`): the solvers climb the gradient of the activation averaged over a fixed set of small
transformations of the image (jitter, scale, rotation: :data:`TRANSFORMS`), as feature visualisation does so that
the image does not fit one pixel grid, while the value the solvers — and the recheck — see is the activation of the
image itself, exactly: membership of the band is never decided on a transformed copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.core.constraints import as_layer_dict
from inverse_set.core.field_checks import check_options

Array = jax.Array

# √ of the colour correlation of natural images (ImageNet), each column normalised as in Lucid
_COLOR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOR_SQRT = _COLOR_SQRT / np.max(np.linalg.norm(_COLOR_SQRT, axis=0))

# (rotation in degrees, scale, shift down, shift right in pixels); the identity first
TRANSFORMS = ((0.0, 1.0, 0.0, 0.0), (0.0, 1.0, 1.0, -1.0), (0.0, 1.0, -1.0, 1.0), (0.0, 1.0, 2.0, 2.0),
              (5.0, 1.05, 0.0, -1.0), (-5.0, 0.95, 1.0, 0.0), (3.0, 0.95, -2.0, 1.0), (-3.0, 1.05, 1.0, 2.0))


def frequencies(height: int, width: int) -> np.ndarray:
    """|ν| of each coefficient of a real 2-d FFT of an height × width image, (height, width // 2 + 1)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx ** 2 + fy ** 2)


@dataclass(frozen=True)
class FourierImage:
    """``G(c)``: an image of ``shape`` (H, W, C) from its scaled spectrum c (see the module docstring).

    Equal settings are equal generators (hashable), so the sampler cache finds the compiled sampler again.
    """

    shape: tuple[int, int, int]
    decay_power: float = 1.0

    def __post_init__(self):
        shape = self.shape
        if (not isinstance(shape, Sequence) or len(shape) != 3
                or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in shape)):
            raise ValueError(f"image_shape must be (height, width, channels), three positive ints, got {shape!r}.")
        if shape[2] not in (1, 3):
            raise ValueError(f"image_shape {tuple(shape)}: the Fourier parameterisation makes 1 (grey) or 3 (colour) "
                             f"channels, not {shape[2]}.")
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))

    @property
    def code_dim(self) -> int:
        h, w, c = self.shape
        return 2 * c * h * (w // 2 + 1)

    def scale(self) -> np.ndarray:
        """s(ν), (H, W // 2 + 1)."""
        h, w, _ = self.shape
        return np.sqrt(h * w) / np.maximum(frequencies(h, w), 1.0 / max(h, w)) ** self.decay_power

    def __call__(self, code: Array) -> Array:
        h, w, c = self.shape
        spectrum = jnp.reshape(code, (2, c, h, w // 2 + 1)) * self.scale().astype(np.float32)
        channels = jnp.fft.irfft2(spectrum[0] + 1j * spectrum[1], s=(h, w)) / 4.0  # (C, H, W)
        image = jnp.moveaxis(channels, 0, -1)
        if c == 3:
            image = image @ COLOR_SQRT.T
        return jax.nn.sigmoid(image)


@dataclass(frozen=True)
class Parameterisation:
    """Settings of the image search of ``method="fourier"``.

    Attributes:
      decay_power: α of the 1/|ν|^α amplitude scaling (0: a plain pixel-independent spectrum).
      init_scale: the spectrum's starting codes are N(0, init_scale² I) (Lucid: 0.01, a grey image with faint noise).
      transforms: (rotation °, scale, shift down, shift right) of the images whose mean activation the solvers
        climb (:func:`robust`); () for the plain gradient.
      encoder_grid: a conv layer used as the encoder is pooled to at most this many positions a side.
    """

    decay_power: float = 1.0
    init_scale: float = 0.01
    transforms: tuple = TRANSFORMS
    encoder_grid: int = 7

    def __post_init__(self):
        check_options(self, counts=("encoder_grid",), positive=("init_scale",), non_negative=("decay_power",))

        def valid(t):
            try:
                return len(t) == 4 and all(np.isfinite(float(v)) for v in t) and float(t[1]) > 0
            except (TypeError, ValueError):
                return False

        if not isinstance(self.transforms, Sequence) or not all(valid(t) for t in self.transforms):
            raise ValueError(f"Parameterisation(transforms={self.transforms!r}): a tuple of (rotation in degrees, "
                             "scale > 0, shift down, shift right) tuples, or () for none.")
        object.__setattr__(self, "transforms", tuple(tuple(float(v) for v in t) for t in self.transforms))


@dataclass(frozen=True)
class LayerEncoder:
    """``E(x)``: a layer of the target, a conv layer's (H, W, C) average-pooled to at most ``grid`` × ``grid``
    positions (so the encodings stay small at any image size)."""

    target: Callable
    layer: str
    grid: int = 7

    def __call__(self, image: Array) -> Array:
        a = as_layer_dict(self.target(image))[self.layer]
        if a.ndim == 3 and max(a.shape[:2]) > self.grid:
            a = jax.image.resize(a, (min(a.shape[0], self.grid), min(a.shape[1], self.grid), a.shape[2]), "linear")
        return jnp.ravel(a)


def early_layer(layers: Sequence[str]) -> str | None:
    """The default ``encoder_layer``: the first layer the target returns besides its output, if any."""
    return next((name for name in layers if name not in ("logits", "output")), None)


def transform(image: Array, angle: float, scale: float, dy: float, dx: float) -> Array:
    """The image rotated by ``angle`` degrees and scaled by ``scale`` about its centre, then shifted by (dy, dx)
    pixels; bilinear, edges repeated."""
    h, w, _ = image.shape
    theta = np.deg2rad(angle)
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    y, x = rows - (h - 1) / 2 - dy, cols - (w - 1) / 2 - dx
    # where each output pixel comes from: the inverse of rotate-then-scale
    src_y = (np.cos(theta) * y - np.sin(theta) * x) / scale + (h - 1) / 2
    src_x = (np.sin(theta) * y + np.cos(theta) * x) / scale + (w - 1) / 2
    return jax.vmap(lambda ch: jax.scipy.ndimage.map_coordinates(ch, [src_y, src_x], order=1, mode="nearest"),
                    in_axes=2, out_axes=2)(image)


def robust(activation: Callable, transforms: Sequence[tuple] = TRANSFORMS) -> Callable:
    """``f(image, indices)`` whose value is ``activation``'s on the image itself, exactly, and whose gradient is
    that of its mean over the transformed images.

    ``stop_gradient(f) + (g − stop_gradient(g))``: the bracket is exactly 0 for any finite g, so the value is f's,
    bit for bit, and the gradient g's alone.
    """
    if not transforms:
        return activation

    def f(image, indices):
        g = jnp.mean(jnp.stack([activation(transform(image, *t), indices) for t in transforms]), axis=0)
        return jax.lax.stop_gradient(activation(image, indices)) + (g - jax.lax.stop_gradient(g))

    return f


__all__ = [
    "COLOR_SQRT",
    "TRANSFORMS",
    "FourierImage",
    "LayerEncoder",
    "Parameterisation",
    "early_layer",
    "frequencies",
    "robust",
    "transform",
]
