"""The weight manifest: which files ship, their sha256 sums, how they were trained and how well they do.

``weights/manifest.json`` lists every weight and statistics file with its size
and sha256 (checked on every load), and per model the training command, time,
seed, parameter count and evaluation metrics, with the thresholds they must pass.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHT_FILES = {
    "classifier": "classifier.msgpack",
    "judge": "judge.msgpack",
    "generator": "generator.msgpack",
    "prior": "prior.msgpack",
}
STATS_FILE = "stats.json"
MANIFEST_FILE = "manifest.json"
MAX_TOTAL_BYTES = 20 * 1024 * 1024
REGENERATE = "regenerate the weights with `python -m generators.train` (writes generators/weights/)"

THRESHOLDS = {
    "classifier.test_acc": 0.91,
    "judge.test_acc": 0.90,
    "generator.recon_judge_acc": 0.85,
    "generator.interp_precision": 0.70,
    "generator.interp_judge_agree": 0.80,
    "generator.noise_precision": 0.70,
    "generator.noise_judge_agree": 0.80,
    "prior.sample_precision": 0.70,
}

EVAL_PROTOCOL = {
    "judge_space": "precision (k=3, Kynkaenniemi et al. 2019) of generated images' judge features against the judge features of all 10k real test images",
    "recon": "G(E(x)) for 2000 random test images: pixel MSE, judge accuracy against the true label, precision",
    "interp": "G(a E(x_i) + (1-a) E(x_j)) for 2000 random pairs of test images (any classes), a ~ U(0,1); judge agreement = judge class equals the label of the nearer endpoint (x_i if a >= 0.5)",
    "interp_same_class": "as interp, with both endpoints drawn from the same class (for reference)",
    "noise": "G(max(0, E(x) + 0.5 * code_std * eps)), eps ~ N(0, I), code_std the per-dimension std of training codes; judge agreement with x's label",
    "real_vs_real_precision_ceiling": "precision of 2000 real test images (second half) against the first 5000 test images, as a reference level",
    "prior": "test NLL per dimension of fc6 pre-activations; 2000 codes relu(T^-1(z)), z ~ N(0, I), through the generator: precision/recall (k=3) and density/coverage (k=5) against all 10k real test images in judge space, beside the same for the codes of 2000 real test images",
}


class WeightsError(ValueError):
    """A weight, statistics or manifest file is missing, corrupted or does not match the manifest."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(directory: Path) -> dict:
    """The parsed manifest of a weights directory (raises :class:`WeightsError`)."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise WeightsError(f"{path}: manifest missing; {REGENERATE}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise WeightsError(f"{path}: not valid JSON ({err}); {REGENERATE}") from err


def read_verified(directory: Path, fname: str, manifest: dict) -> bytes:
    """A file's bytes, after checking its size and sha256 against the manifest."""
    path = directory / fname
    entry = manifest.get("files", {}).get(fname)
    if entry is None:
        raise WeightsError(f"{path}: not listed in {directory / MANIFEST_FILE}; {REGENERATE}")
    if not path.is_file():
        raise WeightsError(f"{path}: file missing; {REGENERATE}")
    data = path.read_bytes()
    if len(data) != entry["bytes"] or sha256_bytes(data) != entry["sha256"]:
        raise WeightsError(
            f"{path}: corrupted or mismatched (size {len(data)} vs {entry['bytes']} bytes expected, "
            f"sha256 does not match the manifest); {REGENERATE}"
        )
    return data


def start(directory: Path) -> dict:
    """The manifest to update: the existing one, or an empty one."""
    if (directory / MANIFEST_FILE).exists():
        return read(directory)
    return {"format": "flax.serialization msgpack (params only)", "files": {}, "models": {}}


def summary(manifest: dict) -> dict:
    """Each thresholded metric with its value and whether it passes; the total weight size likewise."""
    rows = {}
    for key, threshold in THRESHOLDS.items():
        model, metric = key.split(".")
        value = manifest["models"].get(model, {}).get("metrics", {}).get(metric)
        rows[key] = {"value": value, "threshold": threshold, "passed": None if value is None else bool(value >= threshold)}
    total = manifest.get("total_bytes")
    rows["total_weight_bytes"] = {"value": total, "threshold": MAX_TOTAL_BYTES,
                                  "passed": None if total is None else bool(total <= MAX_TOTAL_BYTES)}
    return rows


def write(directory: Path, manifest: dict) -> None:
    """Hash every shipped file and write ``manifest.json`` with the summary and the protocol."""
    manifest["files"] = {}
    for fname in [*WEIGHT_FILES.values(), STATS_FILE]:
        path = directory / fname
        if path.exists():
            manifest["files"][fname] = {"sha256": sha256_bytes(path.read_bytes()), "bytes": path.stat().st_size}
    manifest["total_bytes"] = sum(v["bytes"] for v in manifest["files"].values())
    manifest["summary"] = summary(manifest)
    manifest["eval_protocol"] = EVAL_PROTOCOL
    models = manifest["models"].values()
    manifest["train_commands"] = list(dict.fromkeys(m["command"] for m in models if "command" in m))
    manifest["train_time_total_s"] = round(sum(m.get("train_time_s", 0) for m in models), 1)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
