"""What every baseline returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inverse_set.chunks import chunked


@dataclass
class BaselineResult:
    """Samples of a baseline, in band or not (the caller checks membership).

    Attributes:
      codes: (m, d) codes of the returned samples.
      images: (m, …) their images.
      network_evaluations: forward(+backward) passes through G (+E) + target, per
        code per step, spent to produce them (same count as ``SamplerStats``).
      wall_time_s: time of the run, compilation included.
      info: method-specific figures (e.g. rejection's acceptance rate).
    """

    codes: np.ndarray
    images: np.ndarray
    network_evaluations: int
    wall_time_s: float
    info: dict


def render(generator, codes, chunk: int = 500):
    """G over a batch of codes, in chunks (host arrays)."""
    return chunked(generator, chunk)(np.asarray(codes))
