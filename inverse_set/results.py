"""What a sampling run returns: :class:`InverseSetResult` and its :class:`SamplerStats`, saved without pickle.

``result.save("out/run")`` writes ``out/run.npz`` (the arrays) and
``out/run.json`` (bands, labels, stats; strict JSON: no NaN), and
``InverseSetResult.load("out/run")`` reads them back.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "inverse-set result, version 2"  # 2: the method, its settings and both statuses in stats


@dataclass
class SamplerStats:
    """Diagnostics of one run.

    Attributes:
      method: the name of the method that ran (:mod:`inverse_set.methods`).
      settings: every setting of that method, resolved (:meth:`~inverse_set.methods.Method.settings`).
      seed_status: where the seed search stopped: ``"inside"`` (all K seeds in band),
        ``"max_steps"``, ``"unreached"`` or ``"non_finite"``.
      walk_status: where the walk stopped: ``"complete"`` (n kept), ``"stalled"``,
        ``"max_steps"`` or ``"not_run"``.
      seed_steps: gradient steps of the seed solver.
      seed_outer_iterations: multiplier updates of the seed solver.
      walker_steps: steps of the walk.
      kept_per_step: the samples kept at each walk step (entry 0: those kept before the first step, the
        seeds themselves for the paper's walker), ints; a gradient walk's K walkers give at most K a step.
      gradient_evaluations: forward+backward passes through G, E and the target,
        counted per code: the seed steps, a gradient walk's steps, and the initial
        candidates when ``select="alive"`` (a forward pass and its Jacobian each).
      forward_evaluations: forward-only passes, counted per code: the initial
        candidates when ``select`` is ``"nearest"`` or ``"spread"``, and a
        forward-only walk's proposals (K per step).
      compile_time_s, run_time_s: compilation (0 if cached) and run time.
      mu, lam: the penalty μ* and multipliers λ* the seeds ended with.
      rejected_on_recheck: samples whose activations, recomputed from the
        returned images, fell outside the band (removed, never returned).
      repeats_dropped: kept codes equal to an earlier one (removed, never returned;
        the walks already keep only new codes, so this is normally 0).
      non_finite_rejected: walk positions rejected because their activations or
        encoding were NaN or Inf.
      band_mass: ``(estimate, low, high)``, the band's probability under the prior
        with a 90% interval, for a method that estimates it (the ladder walk); else None.
      ladder_levels, population_start, distinct_ancestors: the ladder walk's levels,
        where its population started (``"prior"``; ``"rejection"`` when it was drawn
        by rejection; ``"seeds"`` when the ladder could not reach the band) and how
        many first draws its samples descend from.
      effective_sample_size, decorrelation: the ladder walk's estimate of how many
        independent draws its samples are worth, and the lag correlation ρ its
        particles kept with their positions at the start of the last round (its last
        resampling, or the round's own start)
        (:func:`inverse_set.walks.ladder.round_worth`).
      rounds: the ladder walk's rounds: each gives one sample per particle (N < n: several).
    """

    method: str
    settings: dict
    seed_status: str
    walk_status: str
    seed_steps: int
    seed_outer_iterations: int
    walker_steps: int
    kept_per_step: np.ndarray
    gradient_evaluations: int
    forward_evaluations: int
    compile_time_s: float
    run_time_s: float
    mu: float
    lam: np.ndarray
    rejected_on_recheck: int = 0
    repeats_dropped: int = 0
    non_finite_rejected: int = 0
    band_mass: tuple | None = None
    ladder_levels: int | None = None
    population_start: str | None = None
    distinct_ancestors: int | None = None
    effective_sample_size: float | None = None
    decorrelation: float | None = None
    rounds: int | None = None

    @property
    def mean_kept_per_step(self) -> float | None:
        """Mean samples kept per walk step (entry 0 excluded); None before any step."""
        kept = self.kept_per_step[1:]
        return float(kept.mean()) if kept.size else None


@dataclass
class Near:
    """Where a run near an image started, and how near each of its samples stayed (:mod:`inverse_set.near`).

    Attributes:
      image: x0, as given.
      reconstruction: G(z₀), the generator's nearest image to x0.
      latent: z₀, (d,), in the models' own latent space (z of the prior, or G's input).
      scale: σ, the localised prior's spread about z₀.
      reconstruction_error: the root-mean-square pixel difference between x0 and G(z₀).
      pixel_distance: (m,) each sample's root-mean-square pixel distance to G(z₀).
      feature_distance: (m,) each sample's distance to G(z₀) in the encoder's features, ‖E(x) − E(G(z₀))‖.
    """

    image: np.ndarray
    reconstruction: np.ndarray
    latent: np.ndarray
    scale: float
    reconstruction_error: float
    pixel_distance: np.ndarray
    feature_distance: np.ndarray


NEAR_ARRAYS = ("image", "reconstruction", "latent", "pixel_distance", "feature_distance")


@dataclass
class InverseSetResult:
    """Samples of the inverse set: every one lies inside every band.

    Attributes:
      codes: (m, d) the method's search variable, m ≤ n (m < n only when the walk
        stopped early): z for the prior methods' route through a prior, G's codes
        for ``"paper"``.
      images: (m, …) the generated images.
      generator_inputs: (m, …) G's own inputs, ``images = G(generator_inputs)``, when
        they differ from ``codes`` (the prior route: prior(z)); else None.
      activations: (m, p) activations of every constraint, recomputed from ``images``.
      seeds: (K, d) the seed codes C₀; ``seed_activations`` (K, p); (0, d) and (0, p) when
        the walk needed no seeds (``stats.seed_status == "skipped"``).
      z1, z2: (p,) the bands as given; ``constraints``: a label per constraint.
      n_requested: n.
      stats: :class:`SamplerStats`.
      realism: (m,) the realism residual r(c) = mean((E(G(c)) − c)²) of each sample,
        recomputed like the activations, when a realism bound τ was set (each ≤ τ).
      near: for a run near an image (``near=x0``), x0, its reconstruction, σ and each sample's distance to it
        (:class:`Near`); else None.
    """

    codes: np.ndarray
    images: np.ndarray
    activations: np.ndarray
    seeds: np.ndarray
    seed_activations: np.ndarray
    z1: np.ndarray
    z2: np.ndarray
    constraints: tuple[str, ...]
    n_requested: int
    stats: SamplerStats = field(repr=False)
    realism: np.ndarray | None = None
    generator_inputs: np.ndarray | None = None
    near: Near | None = None

    def __len__(self) -> int:
        return self.codes.shape[0]

    @property
    def is_complete(self) -> bool:
        return len(self) == self.n_requested

    def save(self, path) -> tuple[Path, Path]:
        """Write ``path.npz`` (arrays) and ``path.json`` (everything else); returns both paths."""
        base = Path(path)
        base.parent.mkdir(parents=True, exist_ok=True)
        npz, meta = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
        arrays = {name: getattr(self, name) for name in ("codes", "images", "activations", "seeds",
                                                          "seed_activations", "z1", "z2")}
        arrays["kept_per_step"], arrays["lam"] = self.stats.kept_per_step, self.stats.lam
        for name in ("realism", "generator_inputs"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        if self.near is not None:
            arrays.update({f"near_{name}": getattr(self.near, name) for name in NEAR_ARRAYS})
        np.savez_compressed(npz, **arrays)
        stats = {f.name: getattr(self.stats, f.name) for f in dataclasses.fields(self.stats)
                 if f.name not in ("kept_per_step", "lam")}
        payload = {"format": FORMAT, "constraints": list(self.constraints), "n_requested": self.n_requested,
                   "num_samples": len(self), "z1": self.z1.tolist(), "z2": self.z2.tolist(),
                   "stats": {**stats, "mean_kept_per_step": self.stats.mean_kept_per_step}}
        if self.near is not None:
            payload["near"] = {"scale": self.near.scale, "reconstruction_error": self.near.reconstruction_error}
        meta.write_text(json.dumps(strict_json(payload), indent=1, allow_nan=False) + "\n")
        return npz, meta

    @classmethod
    def load(cls, path) -> InverseSetResult:
        """Read a result written by :meth:`save` (``path`` with or without the ``.npz``/``.json`` suffix)."""
        base = Path(path)
        if base.suffix in (".npz", ".json"):
            base = base.with_suffix("")
        meta = json.loads(base.with_name(base.name + ".json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{base}.json is not an inverse-set result ({FORMAT!r}); got format {meta.get('format')!r}.")
        with np.load(base.with_name(base.name + ".npz"), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        stats = dict(meta["stats"])
        stats.pop("mean_kept_per_step", None)
        if "kept_per_step" not in arrays:  # written before 0.1.0's last change: fractions of the K seeds
            stats.pop("mean_acceptance_rate", None)
            arrays["kept_per_step"] = np.rint(arrays.pop("acceptance_rate") * len(arrays["seeds"])).astype(np.int64)
        return cls(codes=arrays["codes"], images=arrays["images"], activations=arrays["activations"],
                   seeds=arrays["seeds"], seed_activations=arrays["seed_activations"], z1=arrays["z1"],
                   z2=arrays["z2"], constraints=tuple(meta["constraints"]), n_requested=meta["n_requested"],
                   stats=SamplerStats(kept_per_step=arrays["kept_per_step"], lam=arrays["lam"], **stats),
                   realism=arrays.get("realism"), generator_inputs=arrays.get("generator_inputs"),
                   near=Near(**{name: arrays[f"near_{name}"] for name in NEAR_ARRAYS}, **meta["near"])
                   if "near" in meta else None)


def strict_json(value):
    """``value`` with numpy scalars and arrays as plain numbers and lists, and NaN/±Inf as None."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
