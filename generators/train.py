"""Train the Fashion-MNIST model zoo and write weights, statistics and a manifest.

Usage::

    python -m generators.train [--models classifier,judge,vae,generator] \
        [--epochs classifier=7,judge=6,vae=20,generator=8] [--out generators/weights]

Order matters: the generator inverts the classifier's fc6 encoder, so the
classifier must be trained first (or already present in ``--out``).  Every model
uses a fixed seed; weights are written with ``flax.serialization`` (msgpack),
and ``manifest.json`` records sha256, sizes, the command, train times and metrics.
Models not named in ``--models`` keep their existing manifest entries.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .data import CLASS_NAMES, load_fashion_mnist
from .models import CODE_DIM, VAE_LATENT_DIM, Classifier, Generator, Judge, VAE

from . import MANIFEST_FILE, STATS_FILE, WEIGHT_FILES
from . import WEIGHTS_DIR as DEFAULT_OUT
SEEDS = {"classifier": 0, "judge": 1, "generator": 2, "vae": 3}
DEFAULT_EPOCHS = {"classifier": 7, "judge": 6, "vae": 20, "generator": 8}
BATCH = 128
PERCENTILES = (1, 5, 25, 50, 75, 95, 99, 99.9)

# Generator loss weights and code augmentation (see generator_loss).
NOISE_SCALE = 0.5  # noisy codes: c + NOISE_SCALE * std * eps, clipped >= 0
FEAT_WEIGHT = 0.05  # weight of the relative E-space feature loss


def _metrics_module():
    """inverse_set.metrics, loaded by path if the package itself cannot be imported."""
    try:
        from inverse_set import metrics

        return metrics
    except Exception:  # pragma: no cover - package under construction
        import importlib.util

        path = Path(__file__).resolve().parent.parent / "inverse_set" / "metrics.py"
        spec = importlib.util.spec_from_file_location("_inverse_set_metrics", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


class TrainState(NamedTuple):
    """Parameters, optimiser state and step count of one model."""

    params: Any
    opt_state: Any
    step: jnp.ndarray


def _adam(lr, total_steps):
    sched = optax.cosine_decay_schedule(lr, max(total_steps, 1), alpha=0.05)
    return optax.adam(sched)


def init_state(params, tx) -> TrainState:
    return TrainState(params, tx.init(params), jnp.zeros((), jnp.int32))


def _apply_grads(state: TrainState, grads, tx) -> TrainState:
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), opt_state, state.step + 1)


# --------------------------------------------------------------------------- steps


def classifier_train_step(state: TrainState, images, labels, rng_key, *, model, tx):
    """One cross-entropy step of a classifier (``Classifier`` or ``Judge``) with dropout."""

    def loss_fn(params):
        logits = model.apply(params, images, True, rngs={"dropout": rng_key})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, (logits.argmax(-1) == labels).mean()

    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return _apply_grads(state, grads, tx), {"loss": loss, "acc": acc}


def vae_loss(params, images, rng_key, *, model):
    r"""Negative ELBO per image: Bernoulli reconstruction + KL(q(z|x) || N(0, I))."""
    logits, mu, logvar = model.apply(params, images, rng_key)
    rec = optax.sigmoid_binary_cross_entropy(logits, images).sum((1, 2, 3))
    kl = 0.5 * (jnp.exp(logvar) + mu**2 - 1.0 - logvar).sum(-1)
    return (rec + kl).mean(), {"rec": rec.mean(), "kl": kl.mean()}


def vae_train_step(state: TrainState, images, rng_key, *, model, tx):
    """One ELBO step of the VAE."""
    (loss, aux), grads = jax.value_and_grad(partial(vae_loss, model=model), has_aux=True)(
        state.params, images, rng_key
    )
    return _apply_grads(state, grads, tx), {"loss": loss, **aux}


def augment_codes(codes, rng_key, code_std):
    r"""Split a batch of real codes into thirds: clean, noisy and interpolated.

    * clean: :math:`c`;
    * noisy: :math:`\max(0, c + 0.5\,\sigma \odot \epsilon)`, :math:`\epsilon\sim N(0, I)`,
      with :math:`\sigma` the per-dimension std of real codes;
    * interpolated: :math:`a c_i + (1-a) c_j` with :math:`a \sim U(0, 1)` and j a
      random other image of the batch.

    Returns:
      ``(aug_codes, partner_index, a, kind)`` where ``kind`` is 0/1/2 for
      clean/noisy/interpolated, ``partner_index`` is j and ``a`` the weight of
      the image's own code (1 for clean and noisy codes).
    """
    n = codes.shape[0]
    k_noise, k_perm, k_a = jax.random.split(rng_key, 3)
    kind = (jnp.arange(n) * 3) // n  # 0,..,0,1,..,1,2,..,2
    noisy = jnp.maximum(codes + NOISE_SCALE * code_std * jax.random.normal(k_noise, codes.shape), 0.0)
    partner = jax.random.permutation(k_perm, n)
    a = jax.random.uniform(k_a, (n,))
    interp = a[:, None] * codes + (1 - a[:, None]) * codes[partner]
    aug = jnp.where((kind == 0)[:, None], codes, jnp.where((kind == 1)[:, None], noisy, interp))
    a = jnp.where(kind == 2, a, 1.0)
    partner = jnp.where(kind == 2, partner, jnp.arange(n))
    return aug, partner, a, kind


def generator_loss(gen_params, enc_params, images, rng_key, code_std, code_sq_mean, *, generator, encoder):
    r"""DGN-style inversion loss with code augmentation.

    With E the (frozen) encoder and G the generator, for each augmented code
    :math:`\tilde c` (see :func:`augment_codes`):

    .. math::
        L = w_{pix}\,\mathrm{mean}\big(G(\tilde c) - x^\star\big)^2
            + \lambda_f \frac{\|E(G(\tilde c)) - c^\star\|^2}{\mathbb{E}\|c\|^2}

    * clean and noisy codes: :math:`x^\star = x` (denoise: noisy codes must still
      decode to the clean image) and :math:`c^\star = E(x)`, :math:`w_{pix} = 1`;
    * interpolated codes :math:`a c_i + (1-a) c_j`: :math:`c^\star = \tilde c` (the
      decoded image must carry the interpolated code) and :math:`x^\star` is the
      nearer endpoint image with weight :math:`w_{pix} = |2a - 1|` -- full weight
      at the endpoints, none at the midpoint -- which keeps interpolations on the
      image manifold and on the nearer endpoint's class.
    """
    codes = jax.lax.stop_gradient(encoder(enc_params, images))
    aug, partner, a, kind = augment_codes(codes, rng_key, code_std)
    out = generator(gen_params, aug)
    nearer = jnp.where((a >= 0.5)[:, None, None, None], images, images[partner])
    w_pix = jnp.where(kind == 2, jnp.abs(2 * a - 1), 1.0)
    pix = ((out - nearer) ** 2).mean((1, 2, 3))
    code_target = jnp.where((kind == 2)[:, None], aug, codes)
    feat = ((encoder(enc_params, out) - code_target) ** 2).sum(-1) / code_sq_mean
    loss = (w_pix * pix).mean() + FEAT_WEIGHT * feat.mean()
    clean_pix = jnp.where(kind == 0, pix, 0).sum() / jnp.maximum((kind == 0).sum(), 1)
    return loss, {"pix_clean": clean_pix, "feat": feat.mean()}


def generator_train_step(state: TrainState, enc_params, images, rng_key, code_std, code_sq_mean, *, tx):
    """One step of :func:`generator_loss` (the encoder is frozen)."""
    gen = Generator()
    clf = Classifier()
    loss_fn = partial(
        generator_loss,
        generator=lambda p, c: gen.apply(p, c),
        encoder=lambda p, x: clf.apply(p, x, method=Classifier.encode),
    )
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, enc_params, images, rng_key, code_std, code_sq_mean
    )
    return _apply_grads(state, grads, tx), {"loss": loss, **aux}


# --------------------------------------------------------------------------- helpers


def batched_apply(fn, x, batch=500):
    """Apply a jitted batch function over x in chunks, returning numpy."""
    outs = [fn(jnp.asarray(x[i : i + batch])) for i in range(0, len(x), batch)]
    if isinstance(outs[0], dict):
        return {k: np.concatenate([np.asarray(o[k]) for o in outs]) for k in outs[0]}
    return np.concatenate([np.asarray(o) for o in outs])


def _epochs_iter(n, rng, batch=BATCH):
    perm = rng.permutation(n)
    for i in range(0, n - batch + 1, batch):
        yield perm[i : i + batch]


def save_params(params, path: Path):
    path.write_bytes(flax.serialization.to_bytes(params))


def load_params(template, path: Path):
    return flax.serialization.from_bytes(template, path.read_bytes())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def template_params(name):
    """Deterministic parameter template (shapes/structure) for each model."""
    key = jax.random.PRNGKey(0)
    x = jnp.zeros((1, 28, 28, 1))
    if name == "classifier":
        return Classifier().init(key, x)
    if name == "judge":
        return Judge().init(key, x)
    if name == "generator":
        return Generator().init(key, jnp.zeros((1, CODE_DIM)))
    if name == "vae":
        return VAE().init(key, x, key)
    raise KeyError(name)


def _count(params):
    return int(sum(np.size(a) for a in jax.tree_util.tree_leaves(params)))


# --------------------------------------------------------------------------- training loops


def train_classifier(name, model, data, epochs, seed, lr=1e-3):
    (xtr, ytr), (xte, yte) = data
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    params = model.init(key, jnp.zeros((1, 28, 28, 1)))
    steps = epochs * (len(xtr) // BATCH)
    tx = _adam(lr, steps)
    state = init_state(params, tx)
    step = jax.jit(partial(classifier_train_step, model=model, tx=tx))
    predict = jax.jit(lambda p, x: model.apply(p, x).argmax(-1))
    history = []
    t0 = time.time()
    for ep in range(epochs):
        te = time.time()
        losses = []
        for idx in _epochs_iter(len(xtr), rng):
            key, sub = jax.random.split(key)
            state, m = step(state, jnp.asarray(xtr[idx]), jnp.asarray(ytr[idx]), sub)
            losses.append(float(m["loss"]))
        acc = float((batched_apply(partial(predict, state.params), xte) == yte).mean())
        history.append({"epoch": ep + 1, "train_loss": float(np.mean(losses)), "test_acc": acc, "time_s": time.time() - te})
        print(f"[{name}] epoch {ep + 1}/{epochs} loss {np.mean(losses):.4f} test_acc {acc:.4f} ({time.time() - te:.1f}s)", flush=True)
    train_time = time.time() - t0
    return state.params, {"test_acc": history[-1]["test_acc"], "history": history}, train_time


def train_vae(data, epochs, seed, lr=1e-3):
    (xtr, _), (xte, _) = data
    model = VAE()
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    params = model.init(key, jnp.zeros((1, 28, 28, 1)), key)
    steps = epochs * (len(xtr) // BATCH)
    tx = _adam(lr, steps)
    state = init_state(params, tx)
    step = jax.jit(partial(vae_train_step, model=model, tx=tx))
    eval_loss = jax.jit(lambda p, x, k: vae_loss(p, x, k, model=model)[0])
    history = []
    t0 = time.time()
    for ep in range(epochs):
        te = time.time()
        losses = []
        for idx in _epochs_iter(len(xtr), rng):
            key, sub = jax.random.split(key)
            state, m = step(state, jnp.asarray(xtr[idx]), sub)
            losses.append(float(m["loss"]))
        test_nelbo = float(eval_loss(state.params, jnp.asarray(xte[:2000]), jax.random.PRNGKey(123)))
        history.append({"epoch": ep + 1, "train_nelbo": float(np.mean(losses)), "test_nelbo": test_nelbo, "time_s": time.time() - te})
        print(f"[vae] epoch {ep + 1}/{epochs} nelbo {np.mean(losses):.2f} test_nelbo {test_nelbo:.2f} ({time.time() - te:.1f}s)", flush=True)
    return state.params, {"test_nelbo": history[-1]["test_nelbo"], "history": history}, time.time() - t0


def code_statistics(clf_params, xtr):
    enc = jax.jit(lambda x: Classifier().apply(clf_params, x, method=Classifier.encode))
    codes = batched_apply(enc, xtr)
    return {
        "code_min": codes.min(0),
        "code_max": codes.max(0),
        "code_mean": codes.mean(0),
        "code_std": codes.std(0),
        "code_sq_mean": float((codes**2).sum(1).mean()),
    }


def train_generator(clf_params, data, epochs, seed, cstats, lr=1e-3, eval_fn=None):
    (xtr, _), _ = data
    gen = Generator()
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    params = gen.init(key, jnp.zeros((1, CODE_DIM)))
    steps = epochs * (len(xtr) // BATCH)
    tx = _adam(lr, steps)
    state = init_state(params, tx)
    step = jax.jit(partial(generator_train_step, tx=tx))
    code_std = jnp.asarray(cstats["code_std"])
    sq = jnp.asarray(cstats["code_sq_mean"])
    history = []
    t0 = time.time()
    for ep in range(epochs):
        te = time.time()
        ms = []
        for idx in _epochs_iter(len(xtr), rng):
            key, sub = jax.random.split(key)
            state, m = step(state, clf_params, jnp.asarray(xtr[idx]), sub, code_std, sq)
            ms.append({k: float(v) for k, v in m.items()})
        row = {k: float(np.mean([m[k] for m in ms])) for k in ms[0]}
        row.update(epoch=ep + 1, time_s=time.time() - te)
        msg = f"[generator] epoch {ep + 1}/{epochs} loss {row['loss']:.4f} pix_clean {row['pix_clean']:.4f} feat {row['feat']:.4f} ({row['time_s']:.1f}s)"
        if eval_fn is not None and (ep + 1 == epochs or ep % 3 == 2):
            te2 = time.time()
            quick = eval_fn(state.params, quick=True)
            row["quick_eval"] = quick
            msg += f" | quick eval {json.dumps(quick)} ({time.time() - te2:.1f}s)"
        history.append(row)
        print(msg, flush=True)
    return state.params, {"history": history}, time.time() - t0


# --------------------------------------------------------------------------- evaluation


class _Fns(NamedTuple):
    encode: Any
    generate: Any
    judge_feats_logits: Any


def _fns(clf_params, judge_params):
    clf, judge, gen = Classifier(), Judge(), Generator()
    return _Fns(
        encode=jax.jit(lambda x: clf.apply(clf_params, x, method=Classifier.encode)),
        generate=jax.jit(lambda p, c: gen.apply(p, c)),
        judge_feats_logits=jax.jit(lambda x: judge.apply(judge_params, x, method=Judge.features_and_logits)),
    )


def _judge(fns, images):
    out = [fns.judge_feats_logits(jnp.asarray(images[i : i + 500])) for i in range(0, len(images), 500)]
    return np.concatenate([np.asarray(o[0]) for o in out]), np.concatenate([np.asarray(o[1]) for o in out])


def evaluate_generator(gen_params, clf_params, judge_params, xte, yte, cstats, *, quick=False, seed=0, n=None, n_ref=None):
    """Reconstruction and off-manifold robustness of the generator, in judge space.

    * reconstructions G(E(x)) of test images: pixel MSE, judge accuracy;
    * (a) ``interp``: G(a c_i + (1 - a) c_j) for random pairs of test images,
      a ~ U(0, 1); judge agreement with the class of the nearer endpoint;
    * (b) ``noise``: G(max(0, c + 0.5 std * eps)); agreement with the image's class;
    * (a'') ``interp_same_class``: as (a) with pairs of the same class;
    * precision (k = 3, Kynkäänniemi et al.) of each generated set against the
      judge features of real test images (the full test set, or 2000 if quick).
    """
    metrics = _metrics_module()
    fns = _fns(clf_params, judge_params)
    rng = np.random.default_rng(seed)
    n_ref = min(n_ref or (2000 if quick else len(xte)), len(xte))
    n = min(n or (500 if quick else 2000), len(xte))
    ref_idx = rng.permutation(len(xte))[:n_ref]
    ref_feats, _ = _judge(fns, xte[ref_idx])
    codes = batched_apply(fns.encode, xte)
    gen = lambda c: batched_apply(partial(fns.generate, gen_params), c.astype(np.float32))
    out = {}

    idx = rng.permutation(len(xte))[:n]
    rec = gen(codes[idx])
    f, lg = _judge(fns, rec)
    out["recon_mse"] = float(((rec - xte[idx]) ** 2).mean())
    out["recon_judge_acc"] = float((lg.argmax(-1) == yte[idx]).mean())
    out["recon_precision"] = metrics.precision_recall(ref_feats, f, k=3)[0]

    i = rng.integers(0, len(xte), n)
    j = rng.integers(0, len(xte), n)
    a = rng.uniform(0, 1, n)
    img = gen(a[:, None] * codes[i] + (1 - a[:, None]) * codes[j])
    f, lg = _judge(fns, img)
    target = np.where(a >= 0.5, yte[i], yte[j])
    out["interp_precision"] = metrics.precision_recall(ref_feats, f, k=3)[0]
    out["interp_judge_agree"] = float((lg.argmax(-1) == target).mean())

    eps = rng.standard_normal((n, codes.shape[1]))
    noisy = np.maximum(codes[idx] + 0.5 * cstats["code_std"][None] * eps, 0.0)
    img = gen(noisy)
    f, lg = _judge(fns, img)
    out["noise_precision"] = metrics.precision_recall(ref_feats, f, k=3)[0]
    out["noise_judge_agree"] = float((lg.argmax(-1) == yte[idx]).mean())

    if not quick:
        # same-class interpolations, for reference
        by_class = [np.flatnonzero(yte == c) for c in range(10)]
        cls = rng.integers(0, 10, n)
        i2 = np.array([rng.choice(by_class[c]) for c in cls])
        j2 = np.array([rng.choice(by_class[c]) for c in cls])
        img = gen(a[:, None] * codes[i2] + (1 - a[:, None]) * codes[j2])
        f, lg = _judge(fns, img)
        out["interp_same_class_precision"] = metrics.precision_recall(ref_feats, f, k=3)[0]
        out["interp_same_class_judge_agree"] = float((lg.argmax(-1) == cls).mean())
        # real held-out images vs the reference, as a ceiling for precision: the
        # test set split in two halves, one half scored against the other
        half = len(xte) // 2
        fa, _ = _judge(fns, xte[:half])
        fb, _ = _judge(fns, xte[half : half + n])
        out["real_vs_real_precision_ceiling"] = metrics.precision_recall(fa, fb, k=3)[0]
        out["n_generated"] = n
        out["n_reference"] = n_ref
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def evaluate_vae(vae_params, clf_params, judge_params, xte, n=2000, seed=0):
    metrics = _metrics_module()
    fns = _fns(clf_params, judge_params)
    z = jax.random.normal(jax.random.PRNGKey(seed), (n, VAE_LATENT_DIM))
    imgs = np.asarray(VAE().apply(vae_params, z, method=VAE.decode))
    f, _ = _judge(fns, imgs)
    ref, _ = _judge(fns, xte)
    p, r = metrics.precision_recall(ref, f, k=3)
    d, c = metrics.density_coverage(ref, f, k=5)
    return {"prior_precision": round(p, 4), "prior_recall": round(r, 4), "prior_density": round(d, 4), "prior_coverage": round(c, 4), "n_samples": n, "n_reference": len(xte)}


def _percentiles(v):
    qs = np.percentile(v, PERCENTILES, axis=0)
    out = {f"p{q:g}": qs[i].tolist() for i, q in enumerate(PERCENTILES)}
    out["min"] = v.min(0).tolist()
    out["max"] = v.max(0).tolist()
    return out


def activation_stats(clf_params, xte, yte, cstats):
    """Percentiles of every logit and fc6 unit on the test set (and per class for logits)."""
    act = jax.jit(lambda x: {k: v for k, v in Classifier().apply(clf_params, x, method=Classifier.activations).items() if k in ("fc6", "logits")})
    a = batched_apply(act, xte)
    stats = {
        "class_names": list(CLASS_NAMES),
        "percentiles": [*[f"p{q:g}" for q in PERCENTILES], "min", "max"],
        "split": "test",
        "num_images": int(len(xte)),
        "logits": _percentiles(a["logits"]),
        "fc6": _percentiles(a["fc6"]),
        "logits_by_class": {str(c): {**_percentiles(a["logits"][yte == c][:, c]), "class_name": CLASS_NAMES[c], "num_images": int((yte == c).sum())} for c in range(10)},
        "code": {k: np.asarray(v).tolist() for k, v in cstats.items()},
        "code_note": "code_* are per-dimension statistics of E(x) = post-ReLU fc6 on the 60k TRAINING images",
    }
    return stats


# --------------------------------------------------------------------------- main


def _parse_epochs(s):
    out = dict(DEFAULT_EPOCHS)
    if s:
        for part in s.split(","):
            k, v = part.split("=")
            out[k.strip()] = int(v)
    return out


def _load_manifest(out: Path):
    p = out / MANIFEST_FILE
    if p.exists():
        return json.loads(p.read_text())
    return {"format": "flax.serialization msgpack (params only)", "files": {}, "models": {}}


THRESHOLDS = {
    "classifier.test_acc": 0.91,
    "judge.test_acc": 0.90,
    "generator.recon_judge_acc": 0.85,
    "generator.interp_precision": 0.70,
    "generator.interp_judge_agree": 0.80,
    "generator.noise_precision": 0.70,
    "generator.noise_judge_agree": 0.80,
}

EVAL_PROTOCOL = {
    "judge_space": "precision (k=3, Kynkaenniemi et al. 2019) of generated images' judge features against the judge features of all 10k real test images",
    "recon": "G(E(x)) for 2000 random test images: pixel MSE, judge accuracy against the true label, precision",
    "interp": "G(a E(x_i) + (1-a) E(x_j)) for 2000 random pairs of test images (any classes), a ~ U(0,1); judge agreement = judge class equals the label of the nearer endpoint (x_i if a >= 0.5)",
    "interp_same_class": "as interp, with both endpoints drawn from the same class (for reference)",
    "noise": "G(max(0, E(x) + 0.5 * code_std * eps)), eps ~ N(0, I), code_std the per-dimension std of training codes; judge agreement with x's label",
    "real_vs_real_precision_ceiling": "precision of 2000 real test images (second half) against the first 5000 test images, as a reference level",
    "vae": "2000 prior samples z ~ N(0, I): precision/recall (k=3) and density/coverage (k=5) against all 10k real test images in judge space",
}


def _summary(manifest):
    rows = {}
    for key, thr in THRESHOLDS.items():
        model, metric = key.split(".")
        val = manifest["models"].get(model, {}).get("metrics", {}).get(metric)
        rows[key] = {"value": val, "threshold": thr, "passed": None if val is None else bool(val >= thr)}
    total = manifest.get("total_bytes")
    rows["total_weight_bytes"] = {"value": total, "threshold": 20 * 1024 * 1024, "passed": None if total is None else bool(total <= 20 * 1024 * 1024)}
    return rows


def _write_manifest(out: Path, manifest):
    manifest["files"] = {}
    for fname in [*WEIGHT_FILES.values(), STATS_FILE]:
        p = out / fname
        if p.exists():
            manifest["files"][fname] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    manifest["total_bytes"] = sum(v["bytes"] for v in manifest["files"].values())
    manifest["summary"] = _summary(manifest)
    manifest["eval_protocol"] = EVAL_PROTOCOL
    manifest["train_commands"] = list(dict.fromkeys(m["command"] for m in manifest["models"].values() if "command" in m))
    manifest["train_time_total_s"] = round(sum(m.get("train_time_s", 0) for m in manifest["models"].values()), 1)
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="classifier,judge,vae,generator")
    ap.add_argument("--epochs", default="", help="e.g. classifier=6,generator=8")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--eval-only", action="store_true", help="re-run evaluations on existing weights")
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    order = ["classifier", "judge", "vae", "generator"]
    for m in models:
        if m not in order:
            ap.error(f"unknown model {m!r}")
    models = [m for m in order if m in models]
    epochs = _parse_epochs(args.epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m generators.train " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"jax {jax.__version__} devices {jax.devices()} command: {command}", flush=True)

    train = load_fashion_mnist("train")
    test = load_fashion_mnist("test")
    xte, yte = test
    manifest = _load_manifest(out)
    manifest["class_names"] = list(CLASS_NAMES)
    manifest["code_dim"] = CODE_DIM
    manifest["gaussian_latent_dim"] = VAE_LATENT_DIM
    params = {}

    def get(name):
        if name not in params:
            p = out / WEIGHT_FILES[name]
            if not p.exists():
                raise SystemExit(f"{p} missing: train {name} first (python -m generators.train --models {name})")
            params[name] = load_params(template_params(name), p)
        return params[name]

    for name in models:
        entry = manifest["models"].get(name, {}) if args.eval_only else {}
        t_model = time.time()
        if name in ("classifier", "judge"):
            model = Classifier() if name == "classifier" else Judge()
            if not args.eval_only:
                p, m, tt = train_classifier(name, model, (train, test), epochs[name], SEEDS[name])
                params[name] = p
                save_params(p, out / WEIGHT_FILES[name])
                entry.update(metrics=m, train_time_s=round(tt, 1), epochs=epochs[name])
            predict = jax.jit(lambda x, model=model, p=get(name): model.apply(p, x).argmax(-1))
            acc = float((batched_apply(predict, xte) == yte).mean())
            entry.setdefault("metrics", {})["test_acc"] = acc
            print(f"[{name}] final test accuracy (10k) {acc:.4f}", flush=True)
            if name == "classifier":
                cstats = code_statistics(get("classifier"), train[0])
                stats = activation_stats(get("classifier"), xte, yte, cstats)
                (out / STATS_FILE).write_text(json.dumps(stats) + "\n")
        elif name == "vae":
            if not args.eval_only:
                p, m, tt = train_vae((train, test), epochs[name], SEEDS[name])
                params[name] = p
                save_params(p, out / WEIGHT_FILES[name])
                entry.update(metrics=m, train_time_s=round(tt, 1), epochs=epochs[name])
            if (out / WEIGHT_FILES["judge"]).exists() or "judge" in params:
                ev = evaluate_vae(get("vae"), get("classifier"), get("judge"), xte)
                entry.setdefault("metrics", {}).update(ev)
                print(f"[vae] judge-space eval {json.dumps(ev)}", flush=True)
        elif name == "generator":
            st = json.loads((out / STATS_FILE).read_text())["code"]
            cstats = {k: np.asarray(v, dtype=np.float32) for k, v in st.items()}
            cstats["code_sq_mean"] = float(st["code_sq_mean"])
            eval_fn = partial(evaluate_generator, clf_params=get("classifier"), judge_params=get("judge"), xte=xte, yte=yte, cstats=cstats)
            if not args.eval_only:
                p, m, tt = train_generator(get("classifier"), (train, test), epochs[name], SEEDS[name], cstats, eval_fn=lambda gp, quick: eval_fn(gp, quick=quick))
                params[name] = p
                save_params(p, out / WEIGHT_FILES[name])
                entry.update(metrics=m, train_time_s=round(tt, 1), epochs=epochs[name])
            ev = eval_fn(get("generator"), quick=False)
            entry.setdefault("metrics", {}).update(ev)
            print(f"[generator] robustness eval {json.dumps(ev)}", flush=True)
        entry["num_params"] = _count(get(name))
        entry["file"] = WEIGHT_FILES[name]
        entry["seed"] = SEEDS[name]
        if not args.eval_only:
            entry["command"] = command
        entry["total_time_incl_eval_s"] = round(time.time() - t_model, 1)
        manifest["models"][name] = entry
        _write_manifest(out, manifest)
    _write_manifest(out, manifest)
    print(f"wrote {out} ({manifest['total_bytes'] / 1e6:.2f} MB)", flush=True)


if __name__ == "__main__":
    main()
