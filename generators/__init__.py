"""Pretrained Fashion-MNIST model zoo for inverse-set sampling (pure Flax/JAX).

:func:`load` returns a :class:`Zoo` of pure per-example functions closed over
the bundled parameters: the target classifier, its fc6 encoder E, a DGN-style
generator G that inverts E, an independent judge network, and a code prior (a
flow from N(0, I) to the codes of real images).  Loading is offline and verifies
every file's sha256 against ``weights/manifest.json``.

Example:
  >>> import jax, jax.numpy as jnp
  >>> import generators
  >>> b = generators.load("fashion")
  >>> image = b.generator(jnp.asarray(b.code_mean))      # G of the mean code: (28, 28, 1) in [0, 1]
  >>> acts = b.target(image)                             # {"conv1", "conv2", "fc6", "logits"}
  >>> acts["logits"].shape
  (10,)
  >>> grad = jax.grad(lambda z: b.target(b.generator(b.prior(z)))["logits"][7])(jnp.zeros(256))  # d logit / d z
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import Models, Unit
from inverse_set.cli.arguments import PercentileTable
from inverse_set.core.chunks import chunked

from . import manifest as mf
from .data import CLASS_NAMES, load_fashion_mnist
from .manifest import WEIGHTS_DIR, WeightsError
from .models import CODE_DIM, MODELS, Classifier, CodeFlow, Judge, init_params

__all__ = ["CLASS_NAMES", "WEIGHTS_DIR", "WeightsError", "Zoo", "load", "load_fashion_mnist"]


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Zoo(Models):
    """The bundled models as the sampler's :class:`~inverse_set.Models`, plus what measures and baselines need.

    As a ``Models`` (all functions take ONE example, no batch axis): G, the generator
    (``code (256,) -> image (28, 28, 1)``, a DGN-style generator that inverts E); the code
    prior (``z (256,) -> code``, z ~ N(0, I)) and ``init``, codes drawn through it; the encoder E (the classifier up to
    post-ReLU fc6, ``image -> code (256,)``); the target (``image -> {"conv1": (28, 28, 32),
    "conv2": (14, 14, 64), "fc6": (256,), "logits": (10,)}``, conv/fc6 post-ReLU); codes
    bounded below by 0 (post-ReLU); and the default method ``"prior-ladder"``, chosen by
    ``benchmarks/independence.py`` (``benchmarks/results/independence_dev.md``). No solver settings:
    those are the method's (:mod:`inverse_set.methods`).

    Attributes:
      judge_features: ``image -> (128,)`` penultimate features of the independent judge.
      judge_logits: ``image -> (10,)``.
      code_dim: 256.
      code_min, code_max, code_mean, code_std: (256,) numpy per-dimension statistics
        of E(x) over the 60k training images.
      percentiles: ``unit -> {"p1": …, "p99.9": …, "min": …, "max": …}`` on the test
        images (a class logit on its own class's images; conv channels' means over positions).
      dataset: ``() -> (10000, 28, 28, 1)``, the Fashion-MNIST test images (Debian's ``dataset-fashion-mnist``;
        a missing file says how to install it).
      stats: activation percentiles of ``logits``, ``fc6``, ``conv1`` and ``conv2`` on the test set
        (see ``stats["percentiles"]``; ``stats["logits_by_class"][str(c)]`` for class c's logit
        on images of class c only).
      manifest: the parsed ``manifest.json`` (hashes, training command, metrics).
      modules: ``{"classifier", "judge", "generator", "prior"}`` -> Flax module.
      params: same keys -> parameter pytrees (batched ``module.apply(params, x)``).

    The prior is relu(T⁻¹(z)) with T a flow fitted to the fc6 pre-activations of the
    training images, so that for z ~ N(0, I) the codes are distributed like E(x) of real images.
    """

    judge_features: Callable
    judge_logits: Callable
    code_dim: int
    code_min: np.ndarray
    code_max: np.ndarray
    code_mean: np.ndarray
    code_std: np.ndarray
    stats: Mapping[str, Any]
    manifest: Mapping[str, Any]
    modules: Mapping[str, Any]
    params: Mapping[str, Any]


def _restore(name: str, data: bytes, path: Path):
    template_shapes = jax.eval_shape(lambda key: init_params(name, key), jax.random.PRNGKey(0))
    try:
        raw = flax.serialization.msgpack_restore(data)
        template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), template_shapes)
        params = flax.serialization.from_state_dict(template, raw)
    except Exception as e:  # malformed msgpack / wrong structure
        raise WeightsError(f"{path}: cannot be deserialised ({type(e).__name__}: {e}); {mf.REGENERATE}") from e
    for got, want in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(template_shapes)):
        if np.shape(got) != tuple(want.shape):
            raise WeightsError(f"{path}: parameter shape {np.shape(got)} != expected {want.shape}; {mf.REGENERATE}")
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)


def load(name: str = "fashion", weights_dir=None) -> Zoo:
    """Load the pretrained zoo (offline, deterministic, sha256-verified).

    Args:
      name: zoo name; only ``"fashion"`` (Fashion-MNIST, 28x28x1) exists.
      weights_dir: directory with ``manifest.json``, the ``*.msgpack`` weights and
        ``stats.json``; defaults to the package's ``weights/``.

    Returns:
      A :class:`Zoo`: pass it as ``models=`` to :func:`inverse_set.sample_inverse_set`.

    Raises:
      WeightsError: a file is missing, truncated, corrupted or does not match the manifest.
    """
    if name != "fashion":
        raise ValueError(f"unknown zoo {name!r}; available: 'fashion'")
    directory = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    manifest = mf.read(directory)
    modules = {name: cls() for name, cls in MODELS.items()}
    params = {name: _restore(name, mf.read_verified(directory, fname, manifest), directory / fname)
              for name, fname in mf.WEIGHT_FILES.items()}
    try:
        stats = json.loads(mf.read_verified(directory, mf.STATS_FILE, manifest).decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{directory / mf.STATS_FILE}: not valid JSON ({e}); {mf.REGENERATE}") from e
    code = {k: np.asarray(v, dtype=np.float32) for k, v in stats["code"].items() if k != "code_sq_mean"}

    clf, judge, gen, flow = (modules[k] for k in ("classifier", "judge", "generator", "prior"))
    p_clf, p_judge, p_gen, p_flow = (params[k] for k in ("classifier", "judge", "generator", "prior"))

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

    def prior_code(z):
        return jnp.maximum(flow.apply(p_flow, z[None], method=CodeFlow.inverse)[0], 0.0)

    def draw_code(rng_key):  # G's input drawn from the prior: c = prior(z), z ~ N(0, I)
        return prior_code(jax.random.normal(rng_key, (CODE_DIM,), jnp.float32))

    def percentiles(unit: Unit) -> dict:
        layer = unit.layer or "logits"
        if layer != "logits" and (layer not in stats or unit.position is not None):
            raise ValueError(f"no stored percentiles for {unit}: stats.json has the logits, fc6 units and conv "
                             "channels' means over positions; give the band as numbers")
        size = len(stats["class_names"]) if layer == "logits" else len(stats[layer][stats["percentiles"][0]])
        if not 0 <= unit.index < size:
            raise ValueError(f"index {unit.index} is out of range for layer {layer!r}, which has {size} units "
                             f"(0 to {size - 1})")
        if layer == "logits":  # a class logit: on the test images of that class
            table = stats["logits_by_class"][str(unit.index)]
            stored = {k: v for k, v in table.items() if k in stats["percentiles"]}
        else:
            stored = {k: stats[layer][k][unit.index] for k in stats["percentiles"]}
        return PercentileTable(stored, lambda: test_activations(unit))  # any other pX from the test images

    def test_activations(unit: Unit) -> np.ndarray:
        """The unit on the test images, as the stored percentiles take it (a class logit on its class's images)."""
        images, labels = load_fashion_mnist("test")
        layer = unit.layer or "logits"
        if layer == "logits":
            images = images[labels == unit.index]
        acts = chunked(lambda x: target(x)[layer], 500)(images)
        return acts[:, unit.index] if acts.ndim == 2 else acts[..., unit.index].mean(axis=(1, 2))

    return Zoo(
        generator=generator,
        init=draw_code,
        prior=prior_code,
        latent_dim=CODE_DIM,
        encoder=encoder,
        target=target,
        code_bounds=(0.0, None),
        method="prior-ladder",
        image_shape=(28, 28, 1),
        judge_features=judge_features,
        judge_logits=judge_logits,
        code_dim=CODE_DIM,
        code_min=code["code_min"],
        code_max=code["code_max"],
        code_mean=code["code_mean"],
        code_std=code["code_std"],
        stats=stats,
        class_names=tuple(stats.get("class_names", CLASS_NAMES)),
        percentiles=percentiles,
        dataset=lambda: load_fashion_mnist("test")[0],
        manifest=manifest,
        modules=modules,
        params=params,
    )
