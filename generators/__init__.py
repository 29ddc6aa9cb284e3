"""Pretrained Fashion-MNIST model zoo for inverse-set sampling (pure Flax/JAX).

:func:`load` returns a :class:`Bundle` of pure per-example functions closed over
the bundled parameters: the target classifier, its fc6 encoder E, a DGN-style
generator G that inverts E, an independent judge network, and a Gaussian-latent
VAE decoder.  Loading is offline and verifies every file's sha256 against
``weights/manifest.json``.

Example:
  >>> import jax, jax.numpy as jnp
  >>> import generators
  >>> b = generators.load()
  >>> image = b.generator(jnp.asarray(b.code_mean))      # (28, 28, 1) in [0, 1]
  >>> acts = b.target(image)                             # {"conv1", "conv2", "fc6", "logits"}
  >>> acts["logits"].shape
  (10,)
  >>> grad = jax.grad(lambda c: b.target(b.generator(c))["logits"][7])(jnp.asarray(b.code_mean))
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from .data import CLASS_NAMES, load_fashion_mnist
from .models import CODE_DIM, VAE_LATENT_DIM, Classifier, Generator, Judge, VAE

__all__ = ["Bundle", "WeightsError", "load", "load_fashion_mnist", "CLASS_NAMES", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHT_FILES = {
    "classifier": "classifier.msgpack",
    "judge": "judge.msgpack",
    "generator": "generator.msgpack",
    "vae": "vae.msgpack",
}
STATS_FILE = "stats.json"
MANIFEST_FILE = "manifest.json"
_REGENERATE = "regenerate the weights with `python -m generators.train` (writes generators/weights/)"


class WeightsError(ValueError):
    """A weight, statistics or manifest file is missing, corrupted or does not match the manifest."""


class Bundle(NamedTuple):
    """Models and statistics of one zoo.  All functions take ONE example (no batch axis).

    Attributes:
      generator: ``code (256,) -> image (28, 28, 1)`` in [0, 1] (G).
      encoder: ``image (28, 28, 1) -> code (256,)``, non-negative (E = target up to post-ReLU fc6).
      target: ``image -> {"conv1": (28, 28, 32), "conv2": (14, 14, 64), "fc6": (256,), "logits": (10,)}``
        (conv/fc6 post-ReLU).
      judge_features: ``image -> (128,)`` penultimate features of the independent judge.
      judge_logits: ``image -> (10,)``.
      gaussian_generator: ``z (gaussian_latent_dim,) -> image``; VAE decoder, z ~ N(0, I).
      gaussian_latent_dim: VAE latent size (16).
      code_dim: 256.
      code_min, code_max, code_mean, code_std: (256,) numpy per-dimension statistics
        of E(x) over the 60k training images.
      stats: activation percentiles of ``logits`` and ``fc6`` on the test set
        (see ``stats["percentiles"]``; ``stats["logits_by_class"][str(c)]`` for class c's logit
        on images of class c only).
      class_names: the 10 Fashion-MNIST class names.
      manifest: the parsed ``manifest.json`` (hashes, training command, metrics).
      modules: ``{"classifier", "judge", "generator", "vae"}`` -> Flax module.
      params: same keys -> parameter pytrees (batched ``module.apply(params, x)``).
    """

    generator: Callable
    encoder: Callable
    target: Callable
    judge_features: Callable
    judge_logits: Callable
    gaussian_generator: Callable
    gaussian_latent_dim: int
    code_dim: int
    code_min: np.ndarray
    code_max: np.ndarray
    code_mean: np.ndarray
    code_std: np.ndarray
    stats: Mapping[str, Any]
    class_names: tuple
    manifest: Mapping[str, Any]
    modules: Mapping[str, Any]
    params: Mapping[str, Any]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_verified(directory: Path, fname: str, manifest) -> bytes:
    path = directory / fname
    entry = manifest.get("files", {}).get(fname)
    if entry is None:
        raise WeightsError(f"{path}: not listed in {directory / MANIFEST_FILE}; {_REGENERATE}")
    if not path.is_file():
        raise WeightsError(f"{path}: file missing; {_REGENERATE}")
    data = path.read_bytes()
    if len(data) != entry["bytes"] or _sha256(data) != entry["sha256"]:
        raise WeightsError(
            f"{path}: corrupted or mismatched (size {len(data)} vs {entry['bytes']} bytes expected, "
            f"sha256 does not match the manifest); {_REGENERATE}"
        )
    return data


def _templates():
    key = jax.random.PRNGKey(0)
    x = jnp.zeros((1, 28, 28, 1))
    modules = {"classifier": Classifier(), "judge": Judge(), "generator": Generator(), "vae": VAE()}
    shapes = {
        "classifier": jax.eval_shape(lambda: modules["classifier"].init(key, x)),
        "judge": jax.eval_shape(lambda: modules["judge"].init(key, x)),
        "generator": jax.eval_shape(lambda: modules["generator"].init(key, jnp.zeros((1, CODE_DIM)))),
        "vae": jax.eval_shape(lambda: modules["vae"].init(key, x, key)),
    }
    return modules, shapes


def _restore(template_shapes, data: bytes, path: Path):
    try:
        raw = flax.serialization.msgpack_restore(data)
        template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), template_shapes)
        params = flax.serialization.from_state_dict(template, raw)
    except Exception as e:  # malformed msgpack / wrong structure
        raise WeightsError(f"{path}: cannot be deserialised ({type(e).__name__}: {e}); {_REGENERATE}") from e
    for got, want in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(template_shapes)):
        if np.shape(got) != tuple(want.shape):
            raise WeightsError(f"{path}: parameter shape {np.shape(got)} != expected {want.shape}; {_REGENERATE}")
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)


def load(name: str = "fashion", weights_dir=None) -> Bundle:
    """Load the pretrained zoo (offline, deterministic, sha256-verified).

    Args:
      name: zoo name; only ``"fashion"`` (Fashion-MNIST, 28x28x1) exists.
      weights_dir: directory with ``manifest.json``, the ``*.msgpack`` weights and
        ``stats.json``; defaults to the package's ``weights/``.

    Returns:
      A :class:`Bundle`.

    Raises:
      WeightsError: a file is missing, truncated, corrupted or does not match the manifest.
    """
    if name != "fashion":
        raise ValueError(f"unknown zoo {name!r}; available: 'fashion'")
    directory = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    mpath = directory / MANIFEST_FILE
    if not mpath.is_file():
        raise WeightsError(f"{mpath}: manifest missing; {_REGENERATE}")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{mpath}: not valid JSON ({e}); {_REGENERATE}") from e

    modules, shapes = _templates()
    params = {}
    for key, fname in WEIGHT_FILES.items():
        data = _read_verified(directory, fname, manifest)
        params[key] = _restore(shapes[key], data, directory / fname)
    try:
        stats = json.loads(_read_verified(directory, STATS_FILE, manifest).decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{directory / STATS_FILE}: not valid JSON ({e}); {_REGENERATE}") from e
    code = {k: np.asarray(v, dtype=np.float32) for k, v in stats["code"].items() if k != "code_sq_mean"}

    clf, judge, gen, vae = (modules[k] for k in ("classifier", "judge", "generator", "vae"))
    p_clf, p_judge, p_gen, p_vae = (params[k] for k in ("classifier", "judge", "generator", "vae"))

    def generator(code):
        return gen.apply(p_gen, code[None])[0]

    def encoder(image):
        return clf.apply(p_clf, image[None], method=Classifier.encode)[0]

    def target(image):
        acts = clf.apply(p_clf, image[None], method=Classifier.activations)
        return {k: v[0] for k, v in acts.items()}

    def judge_features(image):
        return judge.apply(p_judge, image[None], method=Judge.features)[0]

    def judge_logits(image):
        return judge.apply(p_judge, image[None])[0]

    def gaussian_generator(z):
        return vae.apply(p_vae, z[None], method=VAE.decode)[0]

    return Bundle(
        generator=generator,
        encoder=encoder,
        target=target,
        judge_features=judge_features,
        judge_logits=judge_logits,
        gaussian_generator=gaussian_generator,
        gaussian_latent_dim=VAE_LATENT_DIM,
        code_dim=CODE_DIM,
        code_min=code["code_min"],
        code_max=code["code_max"],
        code_mean=code["code_mean"],
        code_std=code["code_std"],
        stats=stats,
        class_names=tuple(stats.get("class_names", CLASS_NAMES)),
        manifest=manifest,
        modules=modules,
        params=params,
    )
