"""Errors and warnings the sampler raises."""

from __future__ import annotations

import numpy as np


class InfeasibleBandError(ValueError):
    """The seeds could not reach the band within the step budget.

    Attributes:
      reached_min, reached_max: lowest and highest activation reached per
        constraint during the search, so a reachable band can be chosen.
      z1, z2: the bands asked for.
    """

    def __init__(self, constraints, z1, z2, reached_min, reached_max, steps: int, inside: int, k: int):
        self.constraints = tuple(constraints)
        self.z1, self.z2 = np.asarray(z1), np.asarray(z2)
        self.reached_min, self.reached_max = np.asarray(reached_min), np.asarray(reached_max)
        lines = [
            f"The seed search did not bring all {k} seeds inside the band(s) within {steps} "
            f"gradient steps ({inside} of {k} were inside at the end)."
        ]
        for name, a, b, lo, hi in zip(self.constraints, self.z1, self.z2, self.reached_min, self.reached_max):
            lines.append(f"  {name}: band [{a:.4g}, {b:.4g}], activations reached [{lo:.4g}, {hi:.4g}]")
        lines.append(
            "Choose a band inside the reached range, widen the band, or raise "
            "SeedConfig(max_steps=…)"
            + (", or a larger realism_bound." if any(c.startswith("realism") for c in self.constraints) else ".")
        )
        super().__init__("\n".join(lines))


class NonFiniteActivationError(FloatingPointError):
    """NaN or Inf appeared in the activations or encodings during the search."""


class IncompleteSampleWarning(RuntimeWarning):
    """The walker stopped (stalled or out of steps) with fewer than n samples."""
