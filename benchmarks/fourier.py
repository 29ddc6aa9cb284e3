"""No generator: method="fourier" on a classifier alone, against plain pixel-space ascent and the generator's default.

On class-logit bands p50–p95 (the class's own test images' percentiles) of the
bundled classifier with no generator anywhere (``Models(target=…,
image_shape=(28, 28, 1))``), and optionally (``--torch``) of a small PyTorch
classifier trained here on Fashion-MNIST (one epoch) and run through torchax, it
runs

* ``fourier``: the default ``method="fourier"`` (1/f spectrum, gradients averaged over small transformations);
* ``fourier-plain``: the same without the transformations;
* ``pixel``: plain pixel-space ascent — the spectrum unscaled (decay power 0: the parameterisation is then an
  orthogonal change of the pixels' logits) and no transformations;
* ``generator``: the bundled generator's default method (``prior-ladder``), for scale (bundled classifier only);

and prints per cell and method: samples returned in band (recomputed from the
images by the classifier itself), judge agreement (the independent judge
network's class = the neuron's class: the class, or an adversarial pattern?),
the Vendi score in the judge's feature space, wall time (compilation apart) and
gradient evaluations per sample; grids of every method beside real images of the
class for a few cells.

    python benchmarks/fourier.py                         # 10 classes, n = 100
    python benchmarks/fourier.py --torch                 # and the PyTorch classifier (the torch extra)
    python benchmarks/fourier.py --classes 5 --n 20 --out /tmp/f    # a smoke test
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import harness as bm
import numpy as np

import generators
from inverse_set import Models, Parameterisation, get_method, sample_inverse_set
from inverse_set.core.chunks import chunked
from inverse_set.evaluation import metrics
from inverse_set.report.viz import image_grid

FOURIER = get_method("fourier")
VARIANTS = {
    "fourier": FOURIER,
    "fourier-plain": FOURIER.replace(name="fourier-plain", image=Parameterisation(transforms=())),
    "pixel": FOURIER.replace(name="pixel", image=Parameterisation(decay_power=0.0, transforms=())),
}


def train_torch_classifier(images, labels, seed: int = 0, epochs: int = 1):
    """A small PyTorch CNN trained on Fashion-MNIST: conv1 → conv2 → fc → logits (named modules)."""
    import torch

    torch.manual_seed(seed)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1, stride=2)
            self.fc = torch.nn.Linear(32 * 14 * 14, 64)
            self.logits = torch.nn.Linear(64, 10)

        def forward(self, x):
            h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
            return self.logits(torch.relu(self.fc(h.flatten(1))))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.from_numpy(np.moveaxis(np.asarray(images, np.float32), -1, 1))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    return net.eval()


def run(label, models, method, cls, z1, z2, n, key):
    """One sampler run: its images (recomputed membership is the caller's), wall time, evaluations."""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sample_inverse_set(cls, z1, z2, n, models=models, method=method, rng_key=key)
        except Exception as err:  # noqa: BLE001 — a failed run is a row, not the end of the benchmark
            return {"error": f"{type(err).__name__}: {str(err).splitlines()[0]}"}, None
    wall = time.perf_counter() - t0
    s = res.stats
    return {"returned": len(res.images), "wall_s": s.run_time_s, "compile_s": s.compile_time_s, "total_s": wall,
            "gradient_per_sample": s.gradient_evaluations / max(len(res.images), 1),
            "forward_per_sample": s.forward_evaluations / max(len(res.images), 1),
            "seed_steps": s.seed_steps, "warnings": [str(w.message).splitlines()[0] for w in caught]}, res.images


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--methods", default="fourier,fourier-plain,pixel,generator")
    parser.add_argument("--torch", action="store_true", help="also a PyTorch classifier through torchax")
    parser.add_argument("--grid-classes", default="1,5,9")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    classes = [int(c) for c in args.classes.split(",")]
    names = args.methods.split(",")
    zoo = generators.load("fashion")
    judge_logits, judge_features = chunked(zoo.judge_logits), chunked(zoo.judge_features)
    test_images, test_labels = generators.load_fashion_mnist("test")
    targets = {"bundled": zoo.target}
    if args.torch:
        from inverse_set import torch_target

        train_images, train_labels = generators.load_fashion_mnist("train")
        t0 = time.perf_counter()
        net = train_torch_classifier(train_images, train_labels)
        targets["pytorch"] = torch_target(net, channels_last=True)  # the Fourier images are (H, W, C)
        print(f"trained the PyTorch classifier in {time.perf_counter() - t0:.0f} s")
    rows = []
    for target_name, target in targets.items():
        logits = chunked(lambda x, t=target: t(x)["logits"])(np.asarray(test_images))
        accuracy = float(np.mean(np.argmax(logits, -1) == test_labels))
        print(f"{target_name} classifier: test accuracy {accuracy:.3f}")
        image_only = Models(target=target, image_shape=(28, 28, 1))
        for cls in classes:
            own = logits[test_labels == cls, cls]
            z1, z2 = float(np.percentile(own, 50)), float(np.percentile(own, 95))
            cell = f"{zoo.class_names[cls]} p50–p95"
            samples = {}
            for name in names:
                if name == "generator":
                    if target_name != "bundled":
                        continue
                    models, method = zoo, None
                else:
                    models, method = image_only, VARIANTS[name]
                row, images = run(name, models, method, cls, z1, z2, args.n, cls)
                row.update(target=target_name, cell=cell, method=name, z1=z1, z2=z2)
                if images is not None and len(images):
                    a = chunked(lambda x, t=target: t(x)["logits"])(images)[:, cls]
                    row["in_band"] = float(np.mean((a >= z1) & (a <= z2)))
                    row["judge_agreement"] = float(np.mean(np.argmax(judge_logits(images), -1) == cls))
                    row["vendi_judge"] = metrics.vendi_score(judge_features(images) + 1e-9)
                    samples[name] = images
                rows.append(row)
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                                  if k != "warnings"}), flush=True)
            if str(cls) in args.grid_classes.split(","):
                real = np.asarray(test_images)[test_labels == cls]
                real = real[(logits[test_labels == cls, cls] >= z1) & (logits[test_labels == cls, cls] <= z2)][:10]
                picked = [(m, samples[m][np.linspace(0, len(samples[m]) - 1, 10).astype(int)]) for m in samples]
                picked.append(("real", real))
                image_grid([list(x) for _, x in picked], [[""] * len(x) for _, x in picked],
                           [m for m, _ in picked], scale=2,
                           title=f"{target_name} classifier, {cell.replace('–', '-')}: band [{z1:.2f}, {z2:.2f}]"
                           ).save(  # the pictures' font has no en dash
                    out / f"fourier_{target_name}_{zoo.class_names[cls].split()[0]}.png")
    (out / "fourier.json").write_text(json.dumps(bm.as_json(rows), indent=1))
    lines = [("| classifier | cell | method | returned | in band | judge agreement | Vendi (judge) | run s | "
             "grad evals / sample |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['target']} | {r['cell']} | {r['method']} | {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['target']} | {r['cell']} | {r['method']} | {r['returned']} | {r.get('in_band', 0):.2f} | "
                     f"{r.get('judge_agreement', 0):.2f} | {r.get('vendi_judge', 0):.2f} | {r['wall_s']:.1f} | "
                     f"{r['gradient_per_sample']:.1f} |")
    lines.append("")
    lines.append("Medians over the cells:")
    for target_name in targets:
        for name in names:
            sel = [r for r in rows if r["target"] == target_name and r["method"] == name and "error" not in r]
            if sel:
                lines.append(f"- {target_name}, {name}: judge agreement "
                             f"{np.median([r['judge_agreement'] for r in sel]):.2f} (min "
                             f"{min(r['judge_agreement'] for r in sel):.2f}), Vendi "
                             f"{np.median([r['vendi_judge'] for r in sel]):.2f}, in band "
                             f"{min(r['in_band'] for r in sel):.2f} (min), {len(sel)} cells")
    bm.write_page(str(out / "fourier.md"), "No generator: method='fourier'", "benchmarks/fourier.py", argv,
                  __doc__.split("\n\n")[0], lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
