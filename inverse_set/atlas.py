"""The activation atlas: one neuron at several bands, or several units at one band each, in one batched call.

Like the paper's Fig. 1: each row of the picture is one problem's samples, the
band in the row title and each image's activation under it.

Example:
  >>> res = atlas("Bag", [(2.0, 5.0), (9.5, 14.4)], n=20, models=generators.load("fashion"))  # doctest: +SKIP
  >>> atlas_grid(res).save("atlas.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inverse_set.api import sample_inverse_sets
from inverse_set.constraints import Unit
from inverse_set.viz import atlas_grid

__all__ = ["atlas", "atlas_grid"]


def atlas(neurons: Any, bands: Sequence[tuple[float, float]], n: int, **kwargs) -> list:
    """Sample each (neuron, band) row of an atlas with one :func:`~inverse_set.sample_inverse_sets` call.

    Args:
      neurons: one neuron (sampled at every band) or a list with one neuron per band
        (e.g. the first m units of a layer; an entry may itself be a list, an intersection).
      bands: ``[(z1, z2), …]``, one band per row.
      n: samples per row.
      **kwargs: as :func:`~inverse_set.sample_inverse_set` (``models=``, ``rng_key=``, …).

    Returns:
      One entry per row: its :class:`~inverse_set.InverseSetResult`, or the
      :class:`~inverse_set.SamplingError` it ended with. Draw them with :func:`atlas_grid`.
    """
    bands = [tuple(b) for b in bands]
    if not bands or any(len(b) != 2 for b in bands):
        raise ValueError(f"bands must be a non-empty list of (z1, z2) pairs; got {bands!r}.")
    if isinstance(neurons, (list, tuple)) and not isinstance(neurons, Unit):
        if len(neurons) != len(bands):
            raise ValueError(f"give one band per neuron: {len(neurons)} neurons but {len(bands)} bands "
                             "(or one neuron to sample at every band).")
        rows = list(neurons)
    else:
        rows = [neurons] * len(bands)
    return sample_inverse_sets(rows, [b[0] for b in bands], [b[1] for b in bands], n, **kwargs)
