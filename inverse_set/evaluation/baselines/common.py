"""What every baseline returns."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import numpy as np

from inverse_set.core.chunks import chunked


@dataclass
class BaselineResult:
    """Samples of a baseline, in band or not (the caller checks membership).

    Attributes:
      codes: (m, d) codes of the returned samples.
      images: (m, …) their images.
      network_evaluations: forward(+backward) passes through G (+E) + target, per
        code per step, spent to produce them (same count as ``SamplerStats``).
      wall_time_s: time of the run, compilation excluded.
      info: method-specific figures (e.g. rejection's acceptance rate).
      compile_time_s: time spent compiling (ahead of the run).
    """

    codes: np.ndarray
    images: np.ndarray
    network_evaluations: int
    wall_time_s: float
    info: dict
    compile_time_s: float = 0.0


def compile_timed(fn, *args):
    """``(jit(fn) compiled for args, seconds it took)``: compilation timed apart from the run."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def render(generator, codes, chunk: int = 500):
    """G over a batch of codes, in chunks (host arrays)."""
    return chunked(generator, chunk)(np.asarray(codes))
