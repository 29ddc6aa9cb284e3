"""The report of a directory the command line wrote (``sample`` or ``atlas``): ``DIR/report.html``.

It reads ``DIR/run.json`` and the saved results, loads the models the run named
(for the encoder of the facets and the neurons' activations on real images) and
the dataset — ``--dataset`` (an ``.npy`` array, an ``.npz`` with one array or an
``images`` array, or a folder of PNG/JPEG images), else the models' own
``dataset()`` — and writes one self-contained page (:mod:`inverse_set.report.page`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inverse_set.cli.arguments import UsageError, load_models, parse_neuron
from inverse_set.report.dataset_examples import dataset_examples
from inverse_set.report.page import build_section, write_report
from inverse_set.results import InverseSetResult

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def band_title(label: str, spec: str | None, z1: float, z2: float) -> str:
    """``"Bag, p50–p95 [9.51, 14.4]"``: the neuron, the band as asked (percentiles) and in numbers."""
    asked = "" if spec is None or not any(c.isalpha() for c in spec) else spec.replace(",", "–") + " "
    return f"{label}, {asked}[{z1:.4g}, {z2:.4g}]"


def bands_title(labels, specs, z1, z2) -> str:
    """:func:`band_title` of every constraint of an intersection, joined with ``" & "``."""
    return " & ".join(band_title(*band) for band in zip(labels, specs or [None] * len(labels), z1, z2))


def load_dataset(spec: str | None, models, shape: tuple) -> np.ndarray | None:
    """The real images for the report: the file or folder ``spec``, else ``models.dataset()``, else None."""
    if spec is None:
        return None if getattr(models, "dataset", None) is None else np.asarray(models.dataset())
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UsageError(f"--dataset {spec}: no {'/'.join(IMAGE_SUFFIXES)} images in that folder")
        from PIL import Image

        mode = "L" if len(shape) == 2 or shape[-1] == 1 else "RGB"
        images = np.stack([np.asarray(Image.open(p).convert(mode), np.float32) / 255.0 for p in files])
        images = images.reshape(len(files), *shape) if images[0].size == np.prod(shape) else images
    elif path.suffix == ".npy" and path.is_file():
        images = np.load(path, allow_pickle=False)
    elif path.suffix == ".npz" and path.is_file():
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data.files and len(data.files) != 1:
                raise UsageError(f"--dataset {spec}: the .npz holds {data.files}; name the images array 'images'")
            images = data["images" if "images" in data.files else data.files[0]]
    else:
        raise UsageError(f"--dataset {spec}: give an .npy or .npz file of images (N, {', '.join(map(str, shape))}) "
                         "or a folder of image files")
    if tuple(images.shape[1:]) != tuple(shape):
        raise UsageError(f"--dataset {spec}: images of shape {tuple(images.shape[1:])}, but the generator makes "
                         f"{tuple(shape)}; give images of the generator's shape, values in [0, 1]")
    return images


def report_run_dir(run_dir, dataset: str | None = None, k: int | None = None) -> Path:
    """Write ``run_dir/report.html`` for a run of ``sample`` or ``atlas``; returns its path."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise UsageError(f"{run_dir}: no run.json there; give a directory written by `sample` or `atlas` (--out)")
    run = json.loads(meta_path.read_text())
    models = load_models(run["models"])
    if "rows" in run:  # an atlas: one section per row
        rows = run["rows"]
        results = [InverseSetResult.load(run_dir / f"row{i}") if "error" not in row else row["error"]
                   for i, row in enumerate(rows)]
        neurons = [parse_neuron(row["neuron"], models) for row in rows]
        bands = [row["band"] for row in rows]
        titles = [band_title(row["label"], row.get("band_given"), *row["band"]) for row in rows]
    else:
        results = [InverseSetResult.load(run_dir / "result")]
        neurons = [[parse_neuron(s, models) for s in run["neurons"]]]
        bands = [(run["z1"], run["z2"])]
        titles = [bands_title(run["labels"], run.get("bands_given"), run["z1"], run["z2"])]
    shape = next((r.images.shape[1:] for r in results if not isinstance(r, str) and len(r)), None)
    images = None if shape is None else load_dataset(dataset, models, shape)
    examples = _examples(neurons, bands, images, models) if images is not None else [None] * len(results)
    spaces = {"the encoder E(x)": None}
    if callable(getattr(models, "judge_features", None)):  # the bundled models' independent judge
        spaces["the judge's features"] = models.judge_features
    sections = [build_section(t, r, models=models, neuron=n, examples=ex, dataset=images, facet_spaces=spaces, k=k)
                for t, r, n, ex in zip(titles, results, neurons, examples)]
    figures = {"command": run.get("command"), "models": run.get("models"), "random key": run.get("rng_key"),
               "wall time": None if run.get("wall_s") is None else f"{run['wall_s']} s", "machine": run.get("machine"),
               "dataset": None if images is None else f"{images.shape[0]} images ({dataset or 'the models’ own'})"}
    title = "inverse-set report: " + ("; ".join(titles) if len(titles) == 1 else f"atlas of {len(titles)} rows")
    return write_report(run_dir / "report.html", sections, title=title, figures=figures)


def _examples(neurons, bands, images, models) -> list:
    """Each row's dataset examples; the rows' neurons in one pass over the data where each row is one neuron."""
    if all(not isinstance(n, list) for n in neurons):
        live = [r for r, (a, b) in enumerate(bands) if a < b]  # an atlas row with an empty band has no examples
        if not live:
            return [None] * len(neurons)
        everything = dataset_examples([neurons[r] for r in live], [bands[r][0] for r in live],
                                      [bands[r][1] for r in live], images, models=models)
        return [everything.alone(live.index(r)) if r in live else None for r in range(len(neurons))]
    return [dataset_examples(n, z1, z2, images, models=models) for n, (z1, z2) in zip(neurons, bands)]


def cmd_report(args) -> int:
    """``inverse-set report RUN_DIR [--dataset D]``."""
    print(f"wrote {report_run_dir(args.run_dir, args.dataset)}")
    return 0


def report_if_asked(args, out) -> int:
    """``sample/atlas --report``: DIR/report.html from what the run wrote."""
    if args.report:
        print(f"wrote {report_run_dir(out, args.dataset)}", flush=True)
    return 0
