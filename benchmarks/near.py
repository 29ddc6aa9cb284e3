"""Samples near one image against the band's own samples: how near, how diverse, how recognisable, how fast.

For test images of a few classes (not the ones the defaults were looked at on) and two bands of each class's logit
(p50–p95 and p99–p99.9 of the class's own test images), n samples near each image (``near=x0``, the default method,
σ chosen by the package) beside n samples of the same band without it, both scored in the independent judge's
features:

* in band: every sample, recomputed from its image;
* distance: the median judge-feature distance of the samples to x0's reconstruction G(z₀), near over unconditioned
  (target: at most 0.5);
* judge agreement: the share of samples the judge calls the class, near beside unconditioned;
* no collapse: the Vendi score of the near samples over the unconditioned ones' (target: at least 0.5);
* time per call (compilation included: each image compiles its own sampler), and the reconstruction error and σ.

    python benchmarks/near.py                                     # 10 images × 3 classes × 2 bands, n = 100
    python benchmarks/near.py --classes 1 --images 2 --n 20 --out /tmp/near.md   # a smoke test

Writes a table per (class, band) and the medians to --out (default benchmarks/results/near.md) and the series of
the first image of each class (x0, G(z₀), the samples band by band, where the neuron looks) as near_<class>.png.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import harness as bm
import numpy as np

import generators
from inverse_set import Unit, atlas, sample_inverse_set
from inverse_set.attribution import attribution_maps
from inverse_set.core.chunks import chunked
from inverse_set.evaluation.metrics import vendi_score
from inverse_set.report.viz import near_grid

BANDS = {"p50–p95": ("p50", "p95"), "p99–p99.9": ("p99", "p99.9")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="1,5,9", help="class indices (default: Trouser, Sandal, Ankle boot)")
    parser.add_argument("--images", type=int, default=10, help="test images per class")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results/near.md")
    args = parser.parse_args(argv)
    zoo = generators.load("fashion")
    test_images, test_labels = generators.load_fashion_mnist("test")
    judge_features, judge_logits = chunked(zoo.judge_features), chunked(zoo.judge_logits)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, t_all = [], time.perf_counter()
    for c in (int(v) for v in args.classes.split(",")):
        name = zoo.class_names[c]
        own = np.flatnonzero(np.asarray(test_labels) == c)[: args.images]
        table = zoo.percentiles(Unit(None, c))  # the class's logit on its own test images
        bands = {label: tuple(float(table[p]) for p in pair) for label, pair in BANDS.items()}
        plain = {label: sample_inverse_set(c, *band, args.n, models=zoo, rng_key=0) for label, band in bands.items()}
        for i, index in enumerate(own):
            x0 = np.asarray(test_images[index])
            t0 = time.perf_counter()
            series = atlas(c, list(bands.values()), args.n, models=zoo, near=x0, rng_key=0)
            seconds = (time.perf_counter() - t0) / len(bands)
            if i == 0:
                maps = partial(attribution_maps, c, models=zoo)
                near_grid(series, list(bands), columns=8, attribution=maps,
                          title=f"{name}, test image {index}: samples near it").save(out.parent / f"near_{name.replace(' ', '_')}.png")
            for (label, (z1, z2)), res in zip(bands.items(), series):
                if isinstance(res, Exception):
                    rows.append({"class": name, "band": label, "image": int(index), "error": type(res).__name__})
                    continue
                base = plain[label]
                ref = judge_features(res.near.reconstruction[None])[0]
                near_f, base_f = judge_features(res.images), judge_features(base.images)
                acts = res.activations[:, 0]
                rows.append({
                    "class": name, "band": label, "image": int(index), "n": len(res),
                    "in_band": float(np.mean((acts >= z1) & (acts <= z2))),
                    "distance": float(np.median(np.linalg.norm(near_f - ref, axis=1))
                                      / np.median(np.linalg.norm(base_f - ref, axis=1))),
                    "agreement": float(np.mean(np.argmax(judge_logits(res.images), axis=1) == c)),
                    "agreement_plain": float(np.mean(np.argmax(judge_logits(base.images), axis=1) == c)),
                    "vendi": vendi_score(near_f) / vendi_score(base_f), "seconds": seconds,
                    "error_rms": res.near.reconstruction_error, "scale": res.near.scale})
            print(rows[-2:], flush=True)
    lines = [("| class | band | images | in band | distance ÷ unconditioned (≤ 0.5) | judge agreement, near "
             "(unconditioned) | Vendi ÷ unconditioned (≥ 0.5) | s a call | reconstruction rms | σ chosen |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    med = lambda rs, k: float(np.median([r[k] for r in rs]))
    groups = {}
    for r in rows:
        groups.setdefault((r["class"], r["band"]), []).append(r)
    for (name, label), rs in groups.items():
        ok = [r for r in rs if "error" not in r]
        scales = ", ".join(f"{s:g}×{sum(r['scale'] == s for r in ok)}" for s in sorted({r["scale"] for r in ok}))
        lines.append(f"| {name} | {label} | {len(ok)} of {len(rs)} | {min(r['in_band'] for r in ok):.2f} | "
                     f"{med(ok, 'distance'):.2f} | {med(ok, 'agreement'):.2f} ({med(ok, 'agreement_plain'):.2f}) | "
                     f"{med(ok, 'vendi'):.2f} | {med(ok, 'seconds'):.0f} | {med(ok, 'error_rms'):.3f} | {scales} |")
    ok = [r for r in rows if "error" not in r]
    lines += ["", (f"Over all {len(ok)} image-bands: median distance ratio {med(ok, 'distance'):.2f}, Vendi ratio "
              f"{med(ok, 'vendi'):.2f}, {sum(r['in_band'] == 1.0 for r in ok)} of {len(ok)} all in band; "
              f"{(time.perf_counter() - t_all) / 60:.0f} min in all.")]
    bm.write_page(str(out), "Samples near an image", "benchmarks/near.py", argv, __doc__.split("\n\n")[0], lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
