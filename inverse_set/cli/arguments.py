"""The command line's arguments as the library takes them: models, neurons, bands, unit ranges.

Each parser raises :class:`UsageError` with what was wrong and what would be right.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import runpy
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inverse_set.models import Models

if TYPE_CHECKING:
    from inverse_set.core.constraints import Unit

MODELS_GROUP = "inverse_set.models"


class UsageError(Exception):
    """A bad argument: reported as one line, exit status 2."""


def load_models(spec: str) -> Models:
    """An installed model set by name, or the models a Python file defines."""
    if spec.endswith(".py"):
        if not Path(spec).is_file():
            raise UsageError(f"--models {spec}: no such file")
        namespace = runpy.run_path(spec)
        models = namespace.get("models")
        if models is None and callable(namespace.get("load")):
            models = namespace["load"]()
        if not isinstance(models, Models):
            raise UsageError(f"--models {spec}: the file must define `models = inverse_set.Models(...)` or a "
                             "function `load()` that returns one")
        return models
    return installed_models(spec)


@functools.lru_cache(maxsize=4)
def installed_models(name: str) -> Models:
    """The models an installed package registers as ``name`` in the entry-point group ``inverse_set.models``."""
    available = {ep.name: ep for ep in entry_points(group=MODELS_GROUP)}
    if name not in available:
        raise UsageError(f"--models {name!r}: neither a .py file nor an installed model set (installed: "
                         f"{', '.join(sorted(available)) or 'none'})")
    return available[name].load()()


def parse_neuron(spec: str, models: Models) -> Unit:
    """``Bag`` / ``8`` / ``fc6:46`` / ``conv2:5`` / ``conv2:5@7,7`` (a conv channel at one position) /
    ``blocks.6.mlp.fc1:123@5`` (a token layer's channel at one token) as a :class:`Unit`."""
    from inverse_set.core.constraints import Unit

    text = spec.strip()
    if ":" in text:
        layer, rest = text.split(":", 1)
        index, _, at = rest.partition("@")
        position = None
        try:
            if at:
                parts = [int(v) for v in at.split(",")]
                if len(parts) not in (1, 2) or min(parts) < 0:
                    raise ValueError
                position = parts[0] if len(parts) == 1 else tuple(parts)
            unit = Unit(layer.strip(), int(index), position)
        except ValueError:
            raise UsageError(f"--neuron {spec!r}: expected LAYER:UNIT, LAYER:UNIT@H,W (a conv channel at one "
                             "position) or LAYER:UNIT@T (a token layer's channel at one token) with whole numbers, "
                             "e.g. fc6:46, conv2:5@7,7 or blocks.6.mlp.fc1:123@5") from None
    elif text.lstrip("-").isdigit():
        unit = Unit(None, int(text))
    else:
        return Unit(None, class_index(spec, models))
    if unit.index < 0:
        raise UsageError(f"--neuron {spec!r}: unit indices count from 0; got {unit.index}")
    return unit


def class_index(spec: str, models: Models) -> int:
    """The index of the class ``spec`` names (any case), or a UsageError listing the names."""
    text = spec.strip()
    names = [str(c) for c in (models.class_names or ())]
    lowered = [c.lower() for c in names]
    if text.lower() not in lowered:
        raise UsageError(f"--neuron {spec!r}: not a class name ({', '.join(names) or 'these models name none'}), "
                         "an index, or LAYER:UNIT")
    return lowered.index(text.lower())


def parse_band(spec: str, unit: Unit, models: Models) -> tuple[float, float]:
    """``"p95,p99"`` or ``"9.5,14.4"`` (or a mix) as two numbers."""
    parts = band_edges(spec)
    edges, table = [], None
    for part in parts:
        try:
            edges.append(float(part))
            continue
        except ValueError:
            pass
        if table is None:
            if models.percentiles is None and models.dataset is None:
                raise UsageError(f"--band {spec!r}: {part!r} is not a number, and these models give no "
                                 "percentiles (Models(percentiles=fn)) and no dataset (Models(dataset=fn)) to "
                                 "compute them from; give numbers")
            try:
                table = models.percentiles(unit) if models.percentiles is not None else dataset_percentiles(unit,
                                                                                                         models)
            except ValueError as err:
                raise UsageError(f"--band {spec!r}: {err}") from None
        try:
            edges.append(float(table[part]))  # a table may compute other percentiles on demand (the zoo's do)
        except KeyError:
            raise UsageError(f"--band {spec!r}: {part!r} is neither a number, nor one of {', '.join(table)}, nor "
                             "a percentile pX with 0 < X < 100") from None
    if not all(math.isfinite(e) for e in edges):
        raise UsageError(f"--band {spec!r}: both edges must be finite numbers, got {edges[0]:g} and {edges[1]:g}")
    return edges[0], edges[1]


def band_edges(spec: str) -> list[str]:
    """The two edges ``--band spec`` gives, each a number or a name (``p95``, ``min``, a name your models'
    percentiles have), or a UsageError saying what a band looks like; checked before the models load."""
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 2:
        raise UsageError(f"--band {spec!r}: give two edges separated by a comma, e.g. p95,p99 or 9.5,14.4")
    for part in parts:
        if not (is_number(part) or re.fullmatch(r"[A-Za-z][\w.]*", part)):
            raise UsageError(f"--band {spec!r}: {part!r} is neither a number nor a percentile's name (p95, p99.9, "
                             "min, max)")
    return parts


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_order(spec: str, band: tuple[float, float]) -> tuple[float, float]:
    """The band of ``--band spec`` if its edges are in order (z1 < z2), else a UsageError saying how to give it."""
    z1, z2 = band
    if z1 > z2:
        low, high = spec.split(",")
        raise UsageError(f"--band {spec!r}: the lower edge z1 = {z1:.4g} must be below the upper edge z2 = {z2:.4g}; "
                         f"give them in order, e.g. --band {high.strip()},{low.strip()}")
    if z1 == z2:
        raise UsageError(f"--band {spec!r}: both edges are {z1:.4g} (z1 = z2); give a band of some width")
    return band


def parse_units(spec: str) -> range:
    """``"0:8"`` → range(0, 8); ``"5"`` → range(5, 6)."""
    try:
        start, _, stop = spec.partition(":")
        units = range(int(start), int(stop)) if stop else range(int(start), int(start) + 1)
    except ValueError:
        raise UsageError(f"--units {spec!r}: expected START:STOP, e.g. 0:8") from None
    if len(units) == 0:
        raise UsageError(f"--units {spec!r}: selects no unit; STOP must exceed START")
    return units


def unit_label(unit: Unit, models: Models) -> str:
    if unit.layer is None and models.class_names and 0 <= unit.index < len(models.class_names):
        return str(models.class_names[unit.index])
    position = unit.position
    at = "" if position is None else f"@{position}" if isinstance(position, int) else f"@{position[0]},{position[1]}"
    return f"{unit.layer or 'output'}:{unit.index}{at}"


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value}")
    return value


def use_cpu_devices(count: int | None) -> None:
    """Split the CPU into ``count`` JAX devices (before JAX starts), so a batch runs ``count`` problems at once."""
    if count is None:
        return
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError as err:
        if len(jax.devices("cpu")) != count:
            raise UsageError(f"--cpu-devices {count}: JAX has already started with {len(jax.devices('cpu'))} "
                             "CPU devices in this process; run the command in a fresh process") from err


def empty_band(spec: str, value: float) -> str:
    """Why a layer atlas row has no band: both percentiles are the same value (e.g. a ReLU unit off on ≥ 99%)."""
    high = spec.split(",")[-1]
    return (f"empty band [{value:.3g}, {value:.3g}]: {spec.replace(',', ' = ')} = {value:.3g} on the test images, "
            f"so the unit is at most {value:.3g} on {high.lstrip('p')}% of them"
            + (" (off, for a ReLU unit)" if value == 0 else "") if high.startswith("p") else
            f"empty band [{value:.3g}, {value:.3g}]: both edges of {spec} are {value:.3g}")


def check_out_dir(out: str, overwrite: bool) -> None:
    """A run never replaces another one silently: ``--out`` must not hold a run.json unless ``--overwrite``."""
    if not overwrite and (Path(out) / "run.json").exists():
        raise UsageError(f"--out {out} already holds a run (run.json); give another --out, or --overwrite to "
                         "replace it")


def percentile_level(name: str) -> float | None:
    """``"p42"`` or ``"p99.5"`` as 42.0 or 99.5 (strictly between 0 and 100); None for any other name."""
    match = re.fullmatch(r"p(\d+(?:\.\d+)?)", name)
    return float(match.group(1)) if match and 0 < float(match.group(1)) < 100 else None


class PercentileTable(dict):
    """A unit's named activation levels (``"p50"``, ``"max"``, …) and any other ``"pX"`` (0 < X < 100, e.g.
    ``"p42"``), computed when first asked from ``values()``, the unit's activations on some images (read once)."""

    def __init__(self, stored, values):
        super().__init__(stored)
        self._values, self._read = values, None

    def __missing__(self, key):
        q = percentile_level(key)
        if q is None:
            raise KeyError(key)
        if self._read is None:
            self._read = np.asarray(self._values())
        self[key] = value = float(np.percentile(self._read, q))
        return value


def dataset_percentiles(unit: Unit, models: Models) -> PercentileTable:
    """Percentile bands for models without a percentile table: the unit's activations on ``models.dataset()``."""
    from inverse_set.report.dataset_examples import activations_on

    values = activations_on(unit, models.dataset(), models=models)[0][:, 0]
    return PercentileTable({"min": float(values.min()), "max": float(values.max())}, lambda: values)


def load_near(args, models: Models):
    """The image of ``--near FILE`` (a PNG/JPEG, values scaled to [0, 1], or an .npy array) or ``--near-index K``
    (image K of the models' dataset), in the generator's output shape; None when neither is given."""
    if args.near is None and args.near_index is None:
        if args.near_scale is not None:
            raise UsageError("--near-scale is σ of a run near an image: give --near IMAGE or --near-index K too")
        return None, None
    if args.near is not None and args.near_index is not None:
        raise UsageError("give either --near IMAGE or --near-index K, not both")
    import jax

    from inverse_set.near import latent_map

    try:
        to_input, dim = latent_map(models)
    except ValueError as err:
        raise UsageError(f"--near: {err}") from None
    shape = tuple(jax.eval_shape(lambda z: models.generator(to_input(z)), jax.ShapeDtypeStruct((dim,), "float32"))
                  .shape)
    if args.near_index is not None:
        if models.dataset is None:
            raise UsageError("--near-index: these models have no dataset (Models(dataset=fn)); give --near IMAGE")
        images = np.asarray(models.dataset())
        if not 0 <= args.near_index < len(images):
            raise UsageError(f"--near-index {args.near_index}: the dataset has {len(images)} images; use 0 to "
                             f"{len(images) - 1}")
        return images[args.near_index].astype(np.float32), f"dataset image {args.near_index}"
    path = Path(args.near)
    if not path.is_file():
        raise UsageError(f"--near {args.near}: no such file")
    if path.suffix == ".npy":
        image = np.load(path, allow_pickle=False).astype(np.float32)
    else:
        from PIL import Image, UnidentifiedImageError

        mode = "L" if len(shape) == 2 or shape[-1] == 1 else "RGB"
        try:
            image = np.asarray(Image.open(path).convert(mode), np.float32) / 255.0
        except (UnidentifiedImageError, OSError):
            raise UsageError(f"--near {args.near}: not an image PIL can read; give a PNG or JPEG, or an .npy "
                             "array") from None
    if image.size != int(np.prod(shape)):
        raise UsageError(f"--near {args.near}: an image of shape {image.shape}, but the generator makes {shape}; give "
                         "an image of that size")
    return image.reshape(shape), str(path)
