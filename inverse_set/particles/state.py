"""The particle method's types: its settings (:class:`Ladder`), its state (:class:`LadderState`), its status codes,
and the constants of the algorithm that no user needs to set.

Every other module of :mod:`inverse_set.particles` imports this one, and this one imports none of them.
"""

from __future__ import annotations

import enum
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import jax

from inverse_set.core.field_checks import check_options

Array = jax.Array

# The constants of the algorithm (the decision records in docs/decisions/ say how each was chosen).
SURVIVAL = 0.4  # p₀: the share of the particles each level keeps (each kept one has about 1/p₀ copies)
LEVEL_DECORRELATION = 0.65  # ρ* below the band: lines parting there correlate about ρ*² × the band's own ρ*²
EFFECTIVE_SHARE = 0.8  # in the band, the moves also stop once the effective sample size is this share of N
MOVES_PER_LEVEL = 2  # the fewest moves after a resampling below the band
FINAL_MOVES = 4  # the fewest moves in the band itself
REPEAT_BATCH = 32  # once decorrelated, the copies that never moved are moved at least this many at a time,
REPEAT_SHARE = 256  # and at least N / this many: the repeats left grow with N, the moves to place them do not
ACCEPTANCE = 0.4  # the share of local rotations accepted that the angle h is tuned towards
ADAPTATION = 0.5  # log h changes by this × the acceptance rate's miss after each move
FIRST_ANGLE = 1.0  # h at the first level (radians)
MIN_ANGLE = 1e-4  # h's floor: a band so narrow that even this is rarely accepted ends at the most moves
MAX_STALLED_LEVELS = 3  # levels in a row whose threshold did not fall before the ladder gives up
INDEPENDENT_SHARE = 0.5  # the share of moves that draw c' afresh (θ = π/2), from N(μ, I) or N(μ, Σ)
ISOTROPIC_SHARE = 0.5  # β: the share of those from N(μ, I); the band's mass is estimated from them
AXES = 8  # k: the most axes along which the moves' law N(μ, Σ) departs from the prior
GRADIENTS = 32  # g: the gradients of f each half's axes are fitted from, per resampling
MIN_WEIGHT_ESS = 10  # importance weights worth fewer independent draws than this: the levels' product instead

# Former settings, now constants or removed, and what replaced each (a clear error names them).
REMOVED = {
    **{name.lower(): f"the constant inverse_set.particles.state.{name}" for name in (
        "SURVIVAL", "LEVEL_DECORRELATION", "EFFECTIVE_SHARE", "MOVES_PER_LEVEL", "FINAL_MOVES", "REPEAT_BATCH",
        "ACCEPTANCE", "ADAPTATION", "MAX_STALLED_LEVELS", "INDEPENDENT_SHARE", "ISOTROPIC_SHARE", "GRADIENTS")},
    "angle": "the constant inverse_set.particles.state.FIRST_ANGLE",
    "subspace": "the constant inverse_set.particles.state.AXES (the law fitted in the gradients' span, always)",
    **{name: "nothing: it was a variant of the moves' law that lost (docs/decisions/)" for name in (
        "centred", "centre_apart", "fitted_axis", "watch_along", "along_share", "defensive_share")},
}


class LadderStatus(enum.IntEnum):
    """Where the climb stopped (an int32 in the traced state)."""

    RUNNING = 0
    IN_BAND = 1  # the band itself is the level: the particles are in it
    STALLED = 2  # the threshold stopped falling, or the band lies beyond the most levels at its rate of fall
    MAX_LEVELS = 3  # the most levels, and the band not reached


@dataclass(frozen=True)
class Ladder:
    """Settings of the particle method.

    Attributes:
      decorrelation: ρ*, the lag correlation with the positions at the last resampling below which the particles in
        the band count as decorrelated: two copies of one particle then correlate about ρ*².
      rejection_limit: draw the particles by rejection when at least one of this many of the first prior draws is
        in the band (rejection then costs at most about this many forward passes per sample); None: never.
      max_levels: levels of relaxed bands before the ladder gives up (and the seeds take over).
      max_moves_per_level: the most moves (a forward pass of the N particles each) after a resampling below the band.
      max_final_moves: the most moves inside the band itself, per round.
    """

    decorrelation: float = 0.25
    rejection_limit: int | None = 100
    max_levels: int = 60
    max_moves_per_level: int = 80
    max_final_moves: int = 240

    def __new__(cls, *args, **kwargs):
        gone = [name for name in kwargs if name in REMOVED]
        if gone:
            raise TypeError("; ".join(f"Ladder({name}=…) is gone: it is now {REMOVED[name]}" for name in gone)
                            + ". Ladder's settings: decorrelation, rejection_limit, max_levels, max_moves_per_level, "
                            "max_final_moves.")
        return super().__new__(cls)

    def __post_init__(self):
        check_options(self, counts=("max_levels", "max_moves_per_level", "max_final_moves"),
                      optional_counts=("rejection_limit",))
        v = self.decorrelation
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < v < 1:
            raise ValueError(f"Ladder(decorrelation={v!r}): ρ* must be a fraction strictly between 0 and 1.")
        for name, fewest in (("max_moves_per_level", MOVES_PER_LEVEL), ("max_final_moves", FINAL_MOVES)):
            if getattr(self, name) < fewest:
                raise ValueError(f"Ladder({name}={getattr(self, name)}): at least {fewest}, the fewest moves made "
                                 "there.")


class Particles(NamedTuple):
    """The population: N codes and what the networks give for them."""

    z: Array  # the codes, (N, d)
    f: Array  # their activations, (N, p)
    phi: Array  # their encodings E(G(c)), (N, F)
    distance: Array  # d(z): how far outside the band, in band widths (:func:`inverse_set.particles.levels.distance`)
    moved: Array  # whether each particle moved since it was last copied (a copy that did not is a repeat), (N,)


class Lineage(NamedTuple):
    """Where each particle was copied from, and how much it still remembers of it (the lag correlation ρ)."""

    ancestor: Array  # each particle's ancestor among the first draws, (N,)
    parent: Array  # the particle it was a copy of at the last resampling (itself if kept), (N,)
    grandparent: Array  # its parent's own family at the resampling before (its parent there), (N,)
    start_phi: Array  # the encodings at the last resampling, (N, F)
    start_f: Array  # f at the last resampling, (N, p)
    memory: Array  # ρ: the lag correlation with start_phi, start_f, ()
    parent_memory: Array  # ρ when the last resampling came (the level before's own), ()
    chained: Array  # whether the positions at the last resampling are the particles' own earlier samples, ()


class MovesLaw(NamedTuple):
    """The law N(μ, Σ), Σ = I + W (L Lᵀ − I) Wᵀ, the moves rotate about (:mod:`inverse_set.particles.laws`), and the
    local rotations' largest angle h."""

    centre: Array  # μ, (N, d)
    axes: Array  # W, the axes along which Σ departs from I, (N, d, k)
    root: Array  # L, Σ's root along them, (N, k, k)
    angle: Array  # h, ()


class MassEstimate(NamedTuple):
    """The band's probability under the prior, as the levels' product and from the band's own fresh draws
    (:func:`inverse_set.particles.mass.band_mass`)."""

    log_mass: Array  # Σ_l log π_l (from log N / D where the climb starts from the pilot's D draws), ()
    log_mass_var: Array  # Σ_l Var(π_l) / π_l² (the larger of the families' and the lines' estimates), ()
    far_draws: Array  # the band's own fresh draws from N(μ, I) the mass is estimated from, counted, ()
    far_weight: Array  # Σ over them of 1[in band] · N(c'; 0, I) / N(c'; μ, I), ()
    far_weight_sq: Array  # Σ of its squares, ()


class LadderState(NamedTuple):
    """The particle method's state: its parts, and the climb's progress."""

    particles: Particles
    lineage: Lineage
    law: MovesLaw
    mass: MassEstimate
    threshold: Array  # the current level's t, ()
    level: Array  # levels done (0 by rejection), ()
    stalled: Array  # levels in a row whose threshold did not fall, ()
    moves: Array  # moves since the last resampling, ()
    by_rejection: Array  # whether the particles are independent rejection draws, ()
    forward_passes: Array  # codes evaluated, ()
    status: Array  # LadderStatus
    rng_key: Array
