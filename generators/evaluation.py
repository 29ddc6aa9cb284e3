"""How good the zoo's models are, measured in the judge's feature space; and the statistics that ship.

* :func:`evaluate_generator`: reconstructions G(E(x)) and off-manifold codes
  (interpolations, noisy codes) — judge accuracy and precision.
* :func:`evaluate_vae`: the VAE's prior samples — precision, recall, density, coverage.
* :func:`code_statistics`, :func:`activation_stats`: what ``stats.json`` holds.
"""

from __future__ import annotations

import jax
import numpy as np

from inverse_set import metrics
from inverse_set.batching import chunked

from .data import CLASS_NAMES
from .models import VAE_LATENT_DIM, Classifier, Generator, Judge, VAE

PERCENTILES = (1, 5, 25, 50, 75, 95, 99, 99.9)


class _Networks:
    """The classifier's encoder, the generator and the judge as chunked batch functions."""

    def __init__(self, clf_params, judge_params):
        clf, judge, gen = Classifier(), Judge(), Generator()
        self.encode = chunked(lambda x: clf.apply(clf_params, x, method=Classifier.encode), 500, per_example=False)
        self.generate = chunked(lambda c, p: gen.apply(p, c), 500, per_example=False)
        self.judge = chunked(lambda x: judge.apply(judge_params, x, method=Judge.features_and_logits), 500,
                             per_example=False)


def evaluate_generator(gen_params, clf_params, judge_params, xte, yte, cstats, *, quick=False, seed=0, n=None,
                       n_ref=None):
    """Reconstruction and off-manifold robustness of the generator, in judge space.

    * reconstructions G(E(x)) of test images: pixel MSE, judge accuracy;
    * (a) ``interp``: G(a c_i + (1 - a) c_j) for random pairs of test images,
      a ~ U(0, 1); judge agreement with the class of the nearer endpoint;
    * (b) ``noise``: G(max(0, c + 0.5 std * eps)); agreement with the image's class;
    * (a'') ``interp_same_class``: as (a) with pairs of the same class;
    * precision (k = 3, Kynkäänniemi et al.) of each generated set against the
      judge features of real test images (the full test set, or 2000 if quick).
    """
    nets = _Networks(clf_params, judge_params)
    rng = np.random.default_rng(seed)
    n_ref = min(n_ref or (2000 if quick else len(xte)), len(xte))
    n = min(n or (500 if quick else 2000), len(xte))
    ref_idx = rng.permutation(len(xte))[:n_ref]
    ref_feats, _ = nets.judge(xte[ref_idx])
    codes = nets.encode(xte)
    gen = lambda c: nets.generate(c.astype(np.float32), gen_params)  # noqa: E731
    out = {}

    def judged(images, labels, name):
        feats, logits = nets.judge(images)
        out[f"{name}_precision"] = metrics.precision_recall(ref_feats, feats, k=3)[0]
        return float((logits.argmax(-1) == labels).mean())

    idx = rng.permutation(len(xte))[:n]
    rec = gen(codes[idx])
    out["recon_mse"] = float(((rec - xte[idx]) ** 2).mean())
    out["recon_judge_acc"] = judged(rec, yte[idx], "recon")

    i, j, a = rng.integers(0, len(xte), n), rng.integers(0, len(xte), n), rng.uniform(0, 1, n)
    img = gen(a[:, None] * codes[i] + (1 - a[:, None]) * codes[j])
    out["interp_judge_agree"] = judged(img, np.where(a >= 0.5, yte[i], yte[j]), "interp")

    eps = rng.standard_normal((n, codes.shape[1]))
    img = gen(np.maximum(codes[idx] + 0.5 * cstats["code_std"][None] * eps, 0.0))
    out["noise_judge_agree"] = judged(img, yte[idx], "noise")

    if not quick:
        # same-class interpolations, for reference
        by_class = [np.flatnonzero(yte == c) for c in range(10)]
        cls = rng.integers(0, 10, n)
        i2 = np.array([rng.choice(by_class[c]) for c in cls])
        j2 = np.array([rng.choice(by_class[c]) for c in cls])
        img = gen(a[:, None] * codes[i2] + (1 - a[:, None]) * codes[j2])
        out["interp_same_class_judge_agree"] = judged(img, cls, "interp_same_class")
        # real held-out images vs the reference, as a ceiling for precision: the
        # test set split in two halves, one half scored against the other
        half = len(xte) // 2
        fa, _ = nets.judge(xte[:half])
        fb, _ = nets.judge(xte[half : half + n])
        out["real_vs_real_precision_ceiling"] = metrics.precision_recall(fa, fb, k=3)[0]
        out["n_generated"] = n
        out["n_reference"] = n_ref
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def evaluate_vae(vae_params, clf_params, judge_params, xte, n=2000, seed=0):
    """Precision/recall (k = 3) and density/coverage (k = 5) of 2000 prior samples against the test set."""
    nets = _Networks(clf_params, judge_params)
    z = jax.random.normal(jax.random.PRNGKey(seed), (n, VAE_LATENT_DIM))
    feats, _ = nets.judge(np.asarray(VAE().apply(vae_params, z, method=VAE.decode)))
    ref, _ = nets.judge(xte)
    p, r = metrics.precision_recall(ref, feats, k=3)
    d, c = metrics.density_coverage(ref, feats, k=5)
    return {"prior_precision": round(p, 4), "prior_recall": round(r, 4), "prior_density": round(d, 4),
            "prior_coverage": round(c, 4), "n_samples": n, "n_reference": len(xte)}


def code_statistics(clf_params, xtr):
    """Per-dimension min, max, mean and std of the codes E(x) of the training images, and E‖c‖²."""
    codes = chunked(lambda x: Classifier().apply(clf_params, x, method=Classifier.encode), 500,
                    per_example=False)(xtr)
    return {
        "code_min": codes.min(0),
        "code_max": codes.max(0),
        "code_mean": codes.mean(0),
        "code_std": codes.std(0),
        "code_sq_mean": float((codes**2).sum(1).mean()),
    }


def _percentiles(v):
    qs = np.percentile(v, PERCENTILES, axis=0)
    out = {f"p{q:g}": qs[i].tolist() for i, q in enumerate(PERCENTILES)}
    out["min"] = v.min(0).tolist()
    out["max"] = v.max(0).tolist()
    return out


def activation_stats(clf_params, xte, yte, cstats):
    """Percentiles of every logit and fc6 unit on the test set (and per class for logits)."""
    layers = ("fc6", "logits")
    a = chunked(lambda x: {k: v for k, v in Classifier().apply(clf_params, x, method=Classifier.activations).items()
                           if k in layers}, 500, per_example=False)(xte)
    return {
        "class_names": list(CLASS_NAMES),
        "percentiles": [*[f"p{q:g}" for q in PERCENTILES], "min", "max"],
        "split": "test",
        "num_images": int(len(xte)),
        "logits": _percentiles(a["logits"]),
        "fc6": _percentiles(a["fc6"]),
        "logits_by_class": {str(c): {**_percentiles(a["logits"][yte == c][:, c]), "class_name": CLASS_NAMES[c],
                                     "num_images": int((yte == c).sum())} for c in range(10)},
        "code": {k: np.asarray(v).tolist() for k, v in cstats.items()},
        "code_note": "code_* are per-dimension statistics of E(x) = post-ReLU fc6 on the 60k TRAINING images",
    }

