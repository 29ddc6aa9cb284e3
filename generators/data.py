"""Fashion-MNIST loader (IDX files, no network access).

The files are looked up, in order, in the ``data_dir`` argument, the
``FASHION_MNIST_DIR`` environment variable, and the Debian package location
``/usr/share/datasets/fashion-mnist``.  Both plain and gzipped IDX files are
accepted.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
ENV_VAR = "FASHION_MNIST_DIR"

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

INSTALL_HINT = (
    "install with `apt-get install -y dataset-fashion-mnist` (Debian) "
    "or set FASHION_MNIST_DIR / pass data_dir"
)


def data_dir_path(data_dir: str | os.PathLike | None = None) -> Path:
    """Directory holding the IDX files: argument, then $FASHION_MNIST_DIR, then the Debian path."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(DEFAULT_DIR)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        p = directory / name
        if p.is_file():
            return p
    raise FileNotFoundError(
        f"Fashion-MNIST file {stem}(.gz) not found in {directory}: {INSTALL_HINT}"
    )


def _read_idx(path: Path, header_bytes: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=header_bytes)


def load_fashion_mnist(split: str = "train", data_dir=None):
    """Load one split of Fashion-MNIST.

    Args:
      split: ``"train"`` (60 000 images) or ``"test"`` (10 000 images).
      data_dir: directory with the IDX files; defaults to ``$FASHION_MNIST_DIR``
        or ``/usr/share/datasets/fashion-mnist``.

    Returns:
      ``(images, labels)``: float32 images in [0, 1] of shape (N, 28, 28, 1)
      and int32 labels of shape (N,).

    Raises:
      FileNotFoundError: the files are missing (the message says how to install them).
      ValueError: unknown split or malformed file.
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = data_dir_path(data_dir)
    img_stem, lbl_stem = _FILES[split]
    img_path = _find(directory, img_stem)
    lbl_path = _find(directory, lbl_stem)
    images = _read_idx(img_path, 16)
    labels = _read_idx(lbl_path, 8)
    n = labels.shape[0]
    if images.size != n * 28 * 28:
        raise ValueError(f"{img_path}: expected {n}*784 pixels, found {images.size}")
    images = images.reshape(n, 28, 28, 1).astype(np.float32) / 255.0
    return images, labels.astype(np.int32)
