"""Pictures: grids of samples with their activations printed under each image (PIL only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inverse_set.errors import SamplingError


def is_picture(shape) -> bool:
    """Whether one output of the generator, of this shape, can be drawn: (H, W), (H, W, 1) or (H, W, 3)."""
    return len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image with values in [0, 1] as 8-bit pixels ((H, W) for one channel)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


# Characters the default font draws as an empty box, and what it can draw instead.
PLAIN = str.maketrans({"–": "-", "—": "-", "≤": "<=", "≥": ">=", "×": "x", "−": "-"})


def plain(text: str) -> str:
    """``text`` in characters the pictures' default font has (``p50–p95`` is drawn as ``p50-p95``)."""
    return text.translate(PLAIN)


def image_grid(
    rows: Sequence[Sequence[np.ndarray]],
    captions: Sequence[Sequence[str]] | None = None,
    row_titles: Sequence[str] | None = None,
    scale: int = 3,
    title: str | None = None,
) -> Image.Image:
    """A grid of images (values in [0, 1], (H, W) / (H, W, 1) / (H, W, 3)), one row per list.

    Args:
      rows: rows of images; rows may have different lengths.
      captions: optional text under each image (same nesting as ``rows``).
      row_titles: optional text left of each row.
      scale: nearest-neighbour upscaling of each image.
      title: optional text above the grid.
    """
    font = ImageFont.load_default()
    first = to_uint8(next(img for row in rows for img in row))
    h, w = first.shape[0] * scale, first.shape[1] * scale
    cap_h = 12 * max((len(c.split("\n")) for row in (captions or []) for c in row), default=0)
    left = 8 + 7 * max((len(t) for t in (row_titles or [])), default=0)
    top = 18 if title else 4
    cols = max(len(row) for row in rows)
    cell_w = max(w, 6 * max((len(line) for row in (captions or []) for c in row for line in c.split("\n")),
                             default=0)) + 6
    cell_h = h + cap_h + 6
    canvas = Image.new("RGB", (left + cols * cell_w, top + len(rows) * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 2), plain(title), fill="black", font=font)
    for r, row in enumerate(rows):
        y = top + r * cell_h
        if row_titles:
            draw.text((4, y + h // 2 - 6), plain(row_titles[r]), fill="black", font=font)
        for c, img in enumerate(row):
            pix = to_uint8(img)
            tile = Image.fromarray(pix).resize((w, h), Image.NEAREST).convert("RGB")
            x = left + c * cell_w
            canvas.paste(tile, (x, y))
            if captions:
                draw.multiline_text((x, y + h + 1), plain(captions[r][c]), fill="black", font=font, spacing=1)
    return canvas


def spread(count: int, m: int) -> np.ndarray:
    """m indices spread evenly over ``range(count)`` (all of them if m ≥ count), first and last included."""
    if m >= count:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, m).round().astype(int))


def decimals(z1, z2) -> int:
    """Digits after the point that tell the band's edges apart: at least 2, one more than its width needs."""
    width = float(np.min(np.asarray(z2, np.float64) - np.asarray(z1, np.float64)))
    if not np.isfinite(width) or width <= 0:
        return 2
    return int(np.clip(1 - np.floor(np.log10(width)), 2, 8))


def band_text(z1, z2, names: Sequence[str]) -> str:
    """``"Bag in [9.50, 14.40]"`` per constraint, joined with ``" & "``, to the precision the band needs."""
    d = decimals(z1, z2)
    return " & ".join(f"{name} in [{a:.{d}f}, {b:.{d}f}]" for name, a, b in zip(names, np.atleast_1d(z1),
                                                                                   np.atleast_1d(z2)))


def _captions(activations: np.ndarray, d: int) -> list[str]:
    return ["\n".join(f"{a:.{d}f}" for a in acts) for acts in activations]


def sample_grid(images: np.ndarray, activations: np.ndarray, names: Sequence[str], columns: int = 10,
                max_images: int = 50, title: str | None = None, z1=None, z2=None) -> Image.Image:
    """Up to ``max_images`` samples spread over all of them, ``columns`` per row, each with its activation(s).

    With the band (``z1``, ``z2``) the activations are printed to the precision it needs.
    """
    pick = spread(len(images), max_images)
    images, activations = np.asarray(images)[pick], np.asarray(activations)[pick]
    d = decimals(z1, z2) if z1 is not None else 2
    caps = _captions(activations, d)
    rows = [list(images[s : s + columns]) for s in range(0, len(images), columns)]
    cap_rows = [caps[s : s + columns] for s in range(0, len(images), columns)]
    if title is None:
        title = "activations under each image: " + ", ".join(names)
    return image_grid(rows, cap_rows, title=title)


def atlas_grid(results: Sequence, row_titles: Sequence[str] | None = None, columns: int = 10,
               title: str | None = None) -> Image.Image:
    """One row per atlas entry: ``columns`` samples spread over its samples, the band as the row title.

    An entry that is an error (a :class:`~inverse_set.SamplingError`) gets a row saying so.
    """
    rows, caps, titles = [], [], []
    for i, res in enumerate(results):
        name = row_titles[i] if row_titles else None
        if isinstance(res, Exception) or len(res) == 0:  # a row of text: what it ended with
            if not isinstance(res, Exception):
                reason = "0 samples"
            elif isinstance(res, SamplingError):
                reason = type(res).__name__  # its message is long; the caller has it
            else:
                reason = str(res)[:40]  # e.g. "empty band [0, 0]"
            rows.append([])
            caps.append([])
            titles.append(f"{name or f'row {i}'}: none ({reason})")
            continue
        pick = spread(len(res), columns)
        rows.append(list(np.asarray(res.images)[pick]))
        caps.append(_captions(np.asarray(res.activations)[pick], decimals(res.z1, res.z2)))
        titles.append(name or band_text(res.z1, res.z2, res.constraints))
    if not any(rows):
        raise ValueError("no row of the atlas has samples: nothing to draw; see each entry's error.")
    return image_grid(rows, caps, row_titles=titles, title=title)


def heat(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """A signed map (H, W) as an RGB picture in [0, 1]: positive red, negative blue, 0 white, ``±limit`` (default:
    the map's largest magnitude) the deepest colour."""
    values = np.asarray(values, np.float32)
    limit = float(np.abs(values).max()) if limit is None else float(limit)
    t = np.clip(values / limit, -1.0, 1.0) if limit > 0 else np.zeros_like(values)
    pos, neg = np.maximum(t, 0.0), np.maximum(-t, 0.0)
    return np.stack([1.0 - neg, 1.0 - pos - neg, 1.0 - pos], axis=-1)


FAINT = 0.15  # an overlay leaves a map's values below this share of its largest uncoloured


def overlay(image: np.ndarray, values: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """A map laid over its image: the image in grey, the map's colour (:func:`heat`) where it is strong."""
    grey = to_uint8(image).astype(np.float32) / 255.0
    grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
    coloured = heat(values)
    share = np.abs(values) / max(float(np.abs(values).max()), 1e-12)
    strength = np.clip((share - FAINT) / (1 - FAINT), 0.0, 1.0)[..., None] * alpha  # the faintest share left grey
    return (1 - strength) * grey[..., None] + strength * coloured


def near_grid(results: Sequence, row_titles: Sequence[str], columns: int = 8, title: str | None = None,
              attribution=None) -> Image.Image:
    """A series near one image: x0 and its reconstruction G(z₀), then per band ``columns`` samples (each with its
    activation and its pixel distance to G(z₀)); with ``attribution`` (images (m, …) -> maps (m, H, W), e.g.
    :func:`inverse_set.attribution.attribution_maps` bound to the neuron), each row of images has a row of
    overlays under it: where the neuron looks."""
    first = next(r for r in results if not isinstance(r, Exception) and r.near is not None)
    info = first.near
    rows = [[info.image, info.reconstruction]]
    caps = [["x0", f"G(z0) rms {info.reconstruction_error:.3f}"]]
    titles = ["the image"]
    if attribution is not None:
        from inverse_set.attribution import change_map

        rows.append([overlay(info.image, attribution(info.image[None])[0]),
                     heat(change_map(info.image[None], info.reconstruction, channel_axis=-1 if info.image.ndim == 3
                                     else None)[0])])
        caps.append(["where it looks", "x0 - G(z0)"])
        titles.append("")
    for res, name in zip(results, row_titles):
        if isinstance(res, Exception) or len(res) == 0:
            rows.append([])
            caps.append([])
            titles.append(f"{name}: none ({type(res).__name__ if isinstance(res, Exception) else '0 samples'})")
            continue
        pick = spread(len(res), columns)
        d = decimals(res.z1, res.z2)
        rows.append(list(np.asarray(res.images)[pick]))
        caps.append([f"{a:.{d}f}\nrms {p:.3f}" for a, p in zip(np.asarray(res.activations)[pick, 0],
                                                                res.near.pixel_distance[pick])])
        titles.append(f"{name} (sigma {res.near.scale:g})")
        if attribution is not None:
            shown = np.asarray(res.images)[pick]
            rows.append([overlay(img, m) for img, m in zip(shown, attribution(shown))])
            caps.append([""] * len(pick))
            titles.append("")
    return image_grid(rows, caps, row_titles=titles, title=title)
