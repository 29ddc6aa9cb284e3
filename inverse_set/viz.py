"""Pictures: grids of samples with their activations printed under each image (PIL only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


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
    first = _to_uint8(next(img for row in rows for img in row))
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
        draw.text((4, 2), title, fill="black", font=font)
    for r, row in enumerate(rows):
        y = top + r * cell_h
        if row_titles:
            draw.text((4, y + h // 2 - 6), row_titles[r], fill="black", font=font)
        for c, img in enumerate(row):
            pix = _to_uint8(img)
            tile = Image.fromarray(pix).resize((w, h), Image.NEAREST).convert("RGB")
            x = left + c * cell_w
            canvas.paste(tile, (x, y))
            if captions:
                draw.multiline_text((x, y + h + 1), captions[r][c], fill="black", font=font, spacing=1)
    return canvas


def sample_grid(images: np.ndarray, activations: np.ndarray, names: Sequence[str], columns: int = 10,
                max_images: int = 50, title: str | None = None) -> Image.Image:
    """Samples in rows of ``columns``, each captioned with its activation(s)."""
    images = np.asarray(images)[:max_images]
    activations = np.asarray(activations)[:max_images]
    rows, caps = [], []
    for start in range(0, len(images), columns):
        rows.append(list(images[start : start + columns]))
        caps.append(["\n".join(f"{a:.2f}" for a in acts) for acts in activations[start : start + columns]])
    if title is None:
        title = "activations under each image: " + ", ".join(names)
    return image_grid(rows, caps, title=title)
