"""How good the zoo's models are, measured in the judge's feature space; and the statistics that ship.

* :func:`evaluate_generator`: reconstructions G(E(x)) and off-manifold codes
  (interpolations, noisy codes) — judge accuracy and precision.
* :func:`evaluate_prior`: the code prior's fit and its samples through the generator.
* :func:`code_statistics`, :func:`activation_stats`: what ``stats.json`` holds.
"""

from __future__ import annotations

import jax
import numpy as np

from inverse_set.core.chunks import chunked
from inverse_set.evaluation import metrics

from .data import CLASS_NAMES
from .models import Classifier, CodeFlow, Generator, Judge
from .training import flow_loss

PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9)


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
    gen = lambda c: nets.generate(c.astype(np.float32), gen_params)
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


def pre_codes(clf_params, images):
    """fc6 before its ReLU for a batch of images (what the code prior models)."""
    return chunked(lambda x: Classifier().apply(clf_params, x, method=Classifier.pre_code), 500,
                   per_example=False)(images)


def evaluate_prior(prior_params, gen_params, clf_params, judge_params, xte, n=2000, seed=0):
    """The code prior's fit (test NLL) and its samples through the generator, against real test images."""
    nets = _Networks(clf_params, judge_params)
    flow = CodeFlow()
    pre = pre_codes(clf_params, xte)
    nll = float(jax.jit(lambda p, h: flow_loss(p, h, model=flow))(prior_params, pre))
    z = jax.random.normal(jax.random.PRNGKey(seed), (n, pre.shape[1]))
    codes = np.maximum(np.asarray(flow.apply(prior_params, z, method=CodeFlow.inverse)), 0.0)
    ref, _ = nets.judge(xte)
    out = {"test_nll_per_dim": round(nll, 4), "n_samples": n, "n_reference": len(xte)}
    real_idx = np.random.default_rng(seed).permutation(len(xte))[:n]
    for name, c in (("sample", codes), ("real_code", np.maximum(pre[real_idx], 0.0))):
        feats, logits = nets.judge(nets.generate(c.astype(np.float32), gen_params))
        p, r = metrics.precision_recall(ref, feats, k=3)
        d, cov = metrics.density_coverage(ref, feats, k=5)
        out.update({f"{name}_precision": round(p, 4), f"{name}_recall": round(r, 4), f"{name}_density": round(d, 4),
                    f"{name}_coverage": round(cov, 4)})
        if name == "sample":
            out["sample_class_shares"] = np.round(np.bincount(logits.argmax(-1), minlength=10) / n, 3).tolist()
    return out


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
    """Percentiles of every logit, fc6 unit and conv channel (mean over positions) on the test set.

    Logits also per class (logit c on the test images of class c).
    """

    def activations(x):
        acts = Classifier().apply(clf_params, x, method=Classifier.activations)
        return {k: v.mean(axis=(1, 2)) if v.ndim == 4 else v for k, v in acts.items()}

    a = chunked(activations, 500, per_example=False)(xte)
    return {
        "class_names": list(CLASS_NAMES),
        "percentiles": [*[f"p{q:g}" for q in PERCENTILES], "min", "max"],
        "split": "test",
        "num_images": len(xte),
        "logits": _percentiles(a["logits"]),
        "fc6": _percentiles(a["fc6"]),
        "conv1": _percentiles(a["conv1"]),
        "conv2": _percentiles(a["conv2"]),
        "conv_note": "conv1, conv2: percentiles of each channel's mean over positions",
        "logits_by_class": {str(c): {**_percentiles(a["logits"][yte == c][:, c]), "class_name": CLASS_NAMES[c],
                                     "num_images": int((yte == c).sum())} for c in range(10)},
        "code": {k: np.asarray(v).tolist() for k, v in cstats.items()},
        "code_note": "code_* are per-dimension statistics of E(x) = post-ReLU fc6 on the 60k TRAINING images",
    }

