"""Errors and warnings the sampler raises."""

from __future__ import annotations

import numpy as np


class SamplingError(Exception):
    """A problem that returned no samples. In a batch, ``member`` is its index (else None)."""

    member: int | None = None


class InfeasibleBandError(SamplingError, ValueError):
    """The seeds could not reach the band within the step budget.

    Attributes:
      constraints: a label per constraint (neurons, then code constraints such as realism).
      reached_min, reached_max: lowest and highest activation reached per
        constraint during the search, so a reachable band can be chosen.
      z1, z2: the bands asked for.
      steps: seed steps taken; gave_up_after: the give-up patience if it stopped early for want of progress,
        else None; projected_steps: if it stopped early for a pace too slow, the steps the band would have
        needed at that pace (more than ``PACE_MARGIN`` times the budget left), else None.
      reached_alone: per constraint, whether some seed had it inside its band (whatever the others), or None.
      nearest: the activations, per constraint, of the point that came nearest all the bands at once, or None;
      unmet: the constraints that point leaves outside their bands (those that could not be met jointly).
    """

    def __init__(self, constraints, z1, z2, reached_min, reached_max, steps: int, inside: int, k: int,
                 advice: tuple[str, ...] = (), gave_up_after: int | None = None, reached_alone=None, nearest=None,
                 projected_steps: float | None = None, steps_left: int | None = None):
        self.constraints = tuple(constraints)
        self.z1, self.z2 = np.asarray(z1), np.asarray(z2)
        self.reached_min, self.reached_max = np.asarray(reached_min), np.asarray(reached_max)
        self.steps, self.gave_up_after, self.projected_steps = steps, gave_up_after, projected_steps
        self.reached_alone = None if reached_alone is None else np.asarray(reached_alone, bool)
        self.nearest = None if nearest is None or not np.all(np.isfinite(nearest)) else np.asarray(nearest)
        self.unmet = () if self.nearest is None else tuple(
            name for name, a, b, v in zip(self.constraints, self.z1, self.z2, self.nearest) if not a <= v <= b)
        lines = [
            f"The seed search did not bring all {k} seeds inside the band(s) within {steps} "
            f"gradient steps ({inside} of {k} were inside at the end)."
            + ("" if gave_up_after is None else f" It stopped early: no seed had come nearer the band for "
               f"{gave_up_after} steps while some band lay beyond every activation reached.")
            + ("" if projected_steps is None else f" It stopped early: at the pace of its last steps the nearest "
               f"seed would need about {projected_steps:.3g} more steps to reach the band, far more than the "
               f"{steps_left} left in the budget, while some band lay beyond every activation reached.")
        ]
        where = []
        for i, (name, a, b, lo, hi) in enumerate(zip(self.constraints, self.z1, self.z2, self.reached_min,
                                                     self.reached_max)):
            where.append("inside" if lo <= a and b <= hi else "above" if a > hi else "below" if b < lo else "across")
            line = (f"  {name}: band [{a:.4g}, {b:.4g}], activations reached [{lo:.4g}, {hi:.4g}] — the band "
                    + {"inside": "lies inside the range reached", "above": "lies above everything reached",
                       "below": "lies below everything reached", "across": "reaches past the range reached"}[
                        where[-1]] + ".")
            if self.reached_alone is not None:
                line += " Alone, it was " + ("met by some seed." if self.reached_alone[i] else "never met.")
            if self.nearest is not None:
                v = self.nearest[i]
                line += f" At the point nearest all bands at once: {v:.4g}{'' if a <= v <= b else ' (outside)'}."
            lines.append(line)
        if len(self.constraints) > 1 and self.unmet:
            lines.append("Not met jointly: " + ", ".join(self.unmet) + " (outside their bands at the point that "
                         "came nearest all of them at once).")
        if all(w == "inside" for w in where):
            remedies = ["raise the seeds' step budget (m = get_method(name); method=m.replace(seeds=dataclasses.replace(m.seeds, max_steps=…)))",
                        "draw more starting codes (the same, with candidates_per_seed=…)",
                        "ask for fewer seeds (num_seeds)", *advice]
            lines.append("The seeds reached every band's level, so the band is likely reachable: "
                         + ", ".join(remedies[:-1]) + ", or " + remedies[-1] + ".")
        else:
            remedies = ["choose a band inside the range reached", "widen the band",
                        "raise the seeds' step budget (m = get_method(name); method=m.replace(seeds=dataclasses.replace(m.seeds, max_steps=…)))",
                        *advice]
            text = ", ".join(remedies[:-1]) + ", or " + remedies[-1] + "."
            lines.append(text[0].upper() + text[1:])
        super().__init__("\n".join(lines))


class NonFiniteActivationError(SamplingError, FloatingPointError):
    """NaN or Inf appeared in the activations or encodings during the search."""


class IncompleteSampleWarning(RuntimeWarning):
    """The walker stopped (stalled or out of steps) with fewer than n samples."""
