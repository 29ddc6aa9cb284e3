"""Dataset examples: the real images whose activations lie in the band, and the data's activation distribution.

What OpenAI Microscope calls "dataset examples" and the paper's Hubel–Wiesel
recording starts from: the same neurons as a sampling call, evaluated on a set of
real images (the bundled test set, or your own array), so that samples can be set
beside real inputs that fire in the band and the band beside the neuron's
distribution on the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from inverse_set import checks
from inverse_set.core.bands import in_band
from inverse_set.core.chunks import chunked
from inverse_set.core.constraints import as_layer_dict, make_activation_fn, resolve
from inverse_set.models import Models


@dataclass(frozen=True)
class DatasetExamples:
    """The neurons' activations on a set of real images, and which of them lie in every band.

    Attributes:
      activations: (N, p) every constraint's activation on each image.
      inside: (N,) whether the image lies in every band.
      z1, z2: (p,) the bands; constraints: a label per constraint.
    """

    activations: np.ndarray
    inside: np.ndarray
    z1: np.ndarray
    z2: np.ndarray
    constraints: tuple[str, ...]

    @property
    def indices(self) -> np.ndarray:
        """The images in every band, by their first constraint's activation, lowest first."""
        idx = np.flatnonzero(self.inside)
        return idx[np.argsort(self.activations[idx, 0], kind="stable")]

    def alone(self, c: int) -> DatasetExamples:
        """The examples of constraint c alone (its activations, and the images in its band whatever the others)."""
        acts = self.activations[:, [c]]
        return DatasetExamples(acts, in_band(acts, self.z1[[c]], self.z2[[c]]), self.z1[[c]], self.z2[[c]],
                               self.constraints[c:c + 1])

    @property
    def share(self) -> float:
        """The share of the images in every band."""
        return float(self.inside.mean()) if self.inside.size else 0.0


def dataset_examples(neuron, z1, z2, images, *, models: Models | None = None, target=None,
                     chunk: int = 500) -> DatasetExamples:
    """Evaluate the neurons on real images and find those in the band.

    Args:
      neuron, z1, z2: as in :func:`~inverse_set.sample_inverse_set` (a class name, an index, a
        :class:`~inverse_set.core.constraints.Unit` or a callable image -> scalar; a list for an intersection).
      images: (N, …) real images, in the generator's output format (e.g. ``generators.load_fashion_mnist("test")[0]``).
      models: the :class:`~inverse_set.models.Models` whose ``target`` and ``class_names`` resolve the neurons (or
        ``target=`` alone).
      chunk: images per forward pass.

    Returns:
      :class:`DatasetExamples`.
    """
    acts, labels = activations_on(neuron, images, models=models, target=target, chunk=chunk)
    lo, hi = checks.check_bands(z1, z2, len(labels), labels)
    return DatasetExamples(acts, in_band(acts, lo, hi), lo, hi, labels)


def activations_on(neuron, images, *, models: Models | None = None, target=None,
                   chunk: int = 500) -> tuple[np.ndarray, tuple[str, ...]]:
    """The neurons' activations on the images, (N, p), and a label per neuron (arguments as above)."""
    target = target if target is not None else getattr(models, "target", None)
    class_names = getattr(models, "class_names", None)
    neurons = [checks.by_name(x, class_names) for x in checks.as_neuron_list(neuron)]
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[0] == 0:
        raise ValueError(f"dataset_examples: images must be an array of N ≥ 1 images (N, …), got shape "
                         f"{images.shape}.")
    needs_target = any(not checks.is_neuron_callable(x) for x in neurons)
    layers = None
    if needs_target:
        if target is None:
            raise TypeError("dataset_examples: these neurons read the target network's layers; pass models= (with "
                            "a target) or target=.")
        try:
            out = jax.eval_shape(target, jax.ShapeDtypeStruct(images.shape[1:], images.dtype))
        except Exception as err:
            raise ValueError(f"dataset_examples: the target failed on one image of shape {images.shape[1:]} "
                             f"({type(err).__name__}: {err}); give images shaped as the generator's outputs.") from err
        layers = {k: v.shape for k, v in as_layer_dict(out).items()}
    specs, indices, labels = resolve(neurons, layers)
    activation = make_activation_fn(specs, target)
    return np.asarray(chunked(activation, chunk)(images, indices), np.float64), tuple(labels)
