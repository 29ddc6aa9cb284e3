"""A population brought from the N(0, I) prior into the band through a ladder of relaxed bands (subset simulation).

The target is the prior restricted to the band, ``p(c) ∝ N(c; 0, I) · 1[f(G(c)) ∈ B]``.
Write ``d(c) = max_k out_k(f(c)) / ε_k`` for how far the activations lie outside
the band, in band widths (ε = z2 − z1), so that ``{d ≤ t}`` is the band relaxed by
t widths on each side and ``{d ≤ 0}`` the band itself. From N prior draws:

* where the band holds a large share of the prior (at least one draw in
  ``rejection_limit`` of the first 10 × ``rejection_limit`` is in it: about ten
  hits at the limit, so that chance rarely decides), the particles are drawn by
  rejection: N independent in-band draws, nothing copied, nothing to move, and
  the band's mass is the share of draws that hit it;
* else (subset simulation, Au & Beck 2001; adaptive multilevel splitting, Cérou
  & Guyader 2007) the particles start as the N nearest the band of those first
  draws (:mod:`inverse_set.prior_draws`), and each level

  1. sets its threshold t_l to the p₀-quantile of d over the particles (0 once
     at least p₀ N are in the band: the last level);
  2. keeps the particles with d ≤ t_l, their fraction π_l an estimate of
     P(d ≤ t_l | d ≤ t_{l−1}) (at the first, p₀ N of all D first draws:
     π_1 = p₀ N / D), and replaces the others by copies of the kept ones,
     dealt out evenly (each kept one ends with ⌊1/π_l⌋ or ⌈1/π_l⌉ copies,
     itself included);
  3. moves every particle restricted to ``{d ≤ t_l}`` until the particles have
     forgotten where they were copied (below).

A move (:mod:`inverse_set.moves`) is one forward pass that leaves the prior restricted to the level invariant. Moves
go on until the lag correlation ρ with the positions at the last resampling (:mod:`inverse_set.decorrelation`) is at
most ``decorrelation`` (``level_decorrelation`` below the band; None: the same), between ``moves_per_level`` and
``max_moves_per_level`` moves; in the band itself (the walk's steps) between ``final_moves`` and
``max_final_moves``. Two copies that each kept a correlation ρ with their parent correlate about ρ² (the effective
sample size), and two that parted a level earlier, when they correlated ρ_b², about ρ_b² ρ². In the band the moves
also stop once that size, over the last two levels' families, is ``effective_share`` × N: the fewer copies each has,
the larger the ρ that leaves them worth as much. A copy that never moved is a repeat, not a sample: once
decorrelated, the repeats left are moved alone, ``repeat_batch`` at a time.

The product of the π_l estimates the band's probability under the prior, ``P(f(G(c)) ∈ B)``, with the
subset-simulation interval δ² = Σ_l Var(π_l) / π_l², Var(π_l) the larger of the binomial variance times the design
effect of the families entering level l (:func:`inverse_set.decorrelation.design_effect`) and the variance clustered
by lines of descent from the first draws (:func:`inverse_set.decorrelation.clustered_variance`; the covariance
between levels is left out); by rejection, hits / draws with its binomial interval. In the band, its moves' fresh
draws from q (:func:`inverse_set.moves.mass_shares`) give a better one (:func:`band_mass`): given μ they are
independent, so the mean of ``1_B(c') p(c') / q(c')`` over them is unbiased, its interval from the weights' own
variance. A ladder whose threshold stops falling (no particle nearer the band: e.g. beyond the data), or falls too
slowly to reach the band within ``max_levels``, ends STALLED, and the caller starts from seeds instead. Each move,
and each batch of rejection draws, is one forward pass of N codes; each resampling also fits the moves' law on
2 × ``gradients`` gradients of f (``subspace``, :func:`inverse_set.laws.subspace_law`), counted as three forward
passes each.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import prior_draws
from inverse_set.bands import Bands
from inverse_set.constraints import ConstraintIndices
from inverse_set.decorrelation import clustered_variance
from inverse_set.field_checks import check_options
from inverse_set.mass import MIN_WEIGHT_ESS, band_mass  # noqa: F401 (ladder.band_mass)
from inverse_set.laws import axes_count, rotation_law
from inverse_set.moves import MIN_ANGLE, evaluate, families_effect, move
from inverse_set.moves import advance, decorrelated, settled  # noqa: F401 (the band's own rules, as ladder.*)
from inverse_set.problem import Problem

Array = jax.Array


class LadderStatus:
    RUNNING, IN_BAND, STALLED, MAX_LEVELS = 0, 1, 2, 3


@dataclass(frozen=True)
class Ladder:
    """Settings of the ladder.

    Attributes:
      survival: p₀, the fraction of particles each level keeps.
      decorrelation: ρ*, the lag correlation with the positions at the last resampling below which the particles
        count as decorrelated (see the module docstring).
      effective_share: in the band, the particles also count as decorrelated once their effective sample size
        (:func:`inverse_set.moves.families_effect`: families of copies at the last two resamplings) is at
        least this share of N: where the last level kept many particles their families are small, and a larger ρ
        leaves the samples worth as much.
      level_decorrelation: ρ* below the band (None: ``decorrelation``); lines of copies that part there end
        correlated about ρ*² × the band's own ρ*², so a looser one costs the samples little independence.
      moves_per_level, max_moves_per_level: the fewest and most moves (a forward pass each) after a resampling.
      final_moves, max_final_moves: the same inside the band itself, after the last level (the walk's steps).
      repeat_batch: once decorrelated, the copies that have still not moved (repeats) are moved this many at a time
        (:func:`inverse_set.moves.move_repeats`), not the whole population.
      acceptance: the share of proposals accepted that the angle h is tuned towards.
      adaptation: how fast h follows the acceptance rate (log h changes by this × the rate's miss per move).
      angle: h at the first level.
      centred: rotate about the other kept particles' mean μ (else about 0: plain pCN, no Metropolis–Hastings).
      centre_apart: μ and s leave out the kept codes of the particle's whole line of descent, not only its own code.
      fitted_axis: the law the moves rotate about, N(μ, Σ), has along μ's direction the other kept particles'
        spread s there (:func:`inverse_set.laws.axis_scale`), Σ = I − (1 − s²) u uᵀ; else Σ = I.
      watch_along: ρ is also that of each code's coordinate along its centre's direction (the slowest to forget, which
        the encodings' pooled ρ hides: ``benchmarks/code_law.py``), below the band and in it.
      along_share: the share of the other moves that redraw only the coordinate along u from N(μ, Σ)'s law there
        (θ = π/2 along u, 0 across it): the coordinate the small rotations keep longest.
      independent_share: the share of moves that propose c' afresh, from N(μ, Σ), N(μ, I) or the prior (θ = π/2).
      isotropic_share: β, the share of those (not from the prior) from N(μ, I) rather than N(μ, Σ): with the
        fitted axis, the band's mass is estimated from them (:func:`inverse_set.moves.mass_shares`).
      defensive_share: α, the share of those drawn from the prior itself (:func:`inverse_set.moves.log_weight`):
        their ratio p / q to the prior is then at most 1/α, and the band's mass from them has a finite variance.
      subspace: k, the most axes along which the law the moves keep, N(μ, Σ), departs from the prior: μ and Σ
        fitted in the span of the neuron's gradients (:func:`inverse_set.laws.subspace_law`), each half of the lines
        of descent's from the other half's kept codes; 0: μ over every direction from the other lines' kept codes and
        Σ along μ's direction alone (``centre_apart``, ``fitted_axis``).
      gradients: g, the gradients of f (three forward passes each) each half's axes are fitted from, per resampling.
      rejection_limit: draw the particles by rejection when at least one of this many of the first prior draws
        (10 × rejection_limit of them) is in the band (rejection then costs at most about this many forward
        passes per sample); None: never.
      max_levels: levels before the ladder gives up (MAX_LEVELS; STALLED at once where the threshold's last fall
        says the band lies beyond them).
      max_stalled_levels: levels in a row whose threshold did not fall before it gives up (STALLED).
    """

    survival: float = 0.4  # families ~2.5: 0.81–0.86× p₀ 0.2's passes, same quality (results/*p0_0_4*.md)
    decorrelation: float = 0.25  # two copies then correlate ≈ ρ² ≈ 0.06: an ESS ≥ 0.8 N with p₀ 0.2's families of 5
    effective_share: float = 0.8  # ρ* 0.25's ESS with families of five, whatever the families
    level_decorrelation: float | None = 0.65  # 0.83–0.88× 0.5's passes, same Fréchet (results/*_level_0_65*.md)
    moves_per_level: int = 2
    max_moves_per_level: int = 80
    final_moves: int = 4
    max_final_moves: int = 240
    repeat_batch: int = 32
    acceptance: float = 0.4  # on the Dress p95 band the fastest decorrelation came at 0.35–0.46
    adaptation: float = 0.5
    angle: float = 1.0
    rejection_limit: int | None = 100  # ladder ÷ rejection passes: 1.43 at Sandal p50 (1/77), 0.5 at 1/104
    max_levels: int = 60
    max_stalled_levels: int = 3
    centred: bool = True
    centre_apart: bool = True  # False: D along u 1.2 → 13 (dev), 6 → 18 (report), 0.7× the passes (results/*apart*)
    fitted_axis: bool = True  # passes 0.72–0.97× Σ = I's on the dev cells, 0.68–1.01× on the report cells
    watch_along: bool = False  # True: D along u ~13 → ~4 on 6 dev cell-keys, 1.9–3.4× the passes (results/code_law*)
    along_share: float = 0.0  # 0.5: D along u 13 → 6 (dev), 18 → 7 (report), 1.33/1.45× the passes (results/*along*)
    independent_share: float = 0.5  # forward passes a sample: Sneaker p95 61/68/84 at 0.25/0.5/0.75, Dress 120/113
    isotropic_share: float = 0.5  # 0: no draw for the mass; from N(μ, Σ) it ran 0.5–0.86× (results/*_mass_draws.md)
    defensive_share: float = 0.0  # 0.1: masses in rejection's interval on 2 more of 10 dev cells, 13–30% more passes
    subspace: int = 8  # forward passes 0.32–0.73× the one axis's on the dev cells (results/*_subspace.md)
    gradients: int = 32

    def __post_init__(self):
        check_options(self, counts=("moves_per_level", "max_moves_per_level", "final_moves", "max_final_moves",
                                    "max_levels", "max_stalled_levels", "repeat_batch", "gradients"),
                      fractions=("survival", "decorrelation", "effective_share", "acceptance"),
                      shares=("independent_share", "isotropic_share", "along_share"),
                      positive=("adaptation",), flags=("watch_along", "centre_apart"),
                      optional_counts=("rejection_limit",))
        if isinstance(self.defensive_share, bool) or not 0 <= self.defensive_share < 1:
            raise ValueError(f"Ladder(defensive_share={self.defensive_share!r}): a share of the fresh draws, in "
                             "[0, 1) (0: none from the prior).")
        if isinstance(self.subspace, bool) or not isinstance(self.subspace, numbers.Integral) or self.subspace < 0:
            raise ValueError(f"Ladder(subspace={self.subspace!r}): the most axes of the moves' fitted law, an int ≥ 0 "
                             "(0: μ over every direction, Σ along μ alone).")
        unused = [f"{name}={getattr(self, name)!r}" for name, off in (("along_share", 0.0), ("centre_apart", True),
                  ("fitted_axis", True), ("centred", True)) if getattr(self, name) != off]
        if self.subspace and unused:
            raise ValueError(f"Ladder(subspace={self.subspace}, {', '.join(unused)}): the law fitted in the gradients' "
                             "span has its own centre and axes; give subspace=0 to use these settings.")
        for name, v in (("survival", self.survival), ("level_decorrelation", self.level_decorrelation)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < v < 1):
                raise ValueError(f"Ladder({name}={v!r}): a fraction strictly between 0 and 1"
                                 + (", or None (the same as decorrelation)." if name != "survival" else " (p₀)."))
        if not MIN_ANGLE <= self.angle <= np.pi:
            raise ValueError(f"Ladder(angle={self.angle!r}): the first levels' angle h must lie in "
                             f"[{MIN_ANGLE}, π] (radians).")
        for low, high in (("moves_per_level", "max_moves_per_level"), ("final_moves", "max_final_moves")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"Ladder({low}={getattr(self, low)}, {high}={getattr(self, high)}): the fewest "
                                 f"moves cannot exceed the most; give {high} ≥ {low}.")


class LadderState(NamedTuple):
    z: Array  # the particles, (N, d)
    f: Array  # their activations, (N, p)
    phi: Array  # their encodings E(G(c)), (N, F)
    distance: Array  # d(z), (N,)
    threshold: Array  # the current level's t, ()
    log_mass: Array  # Σ_l log π_l (from log N / D where the climb starts from the pilot's D draws), ()
    log_mass_var: Array  # Σ_l Var(π_l) / π_l² (the larger of the families' and the lines' estimates), ()
    far_draws: Array  # the band's own moves' fresh draws the mass is estimated from (moves.mass_shares), counted, ()
    far_weight: Array  # Σ over them of 1[in band] · N(c'; 0, I) / q_mass(c'), ()
    far_weight_sq: Array  # Σ of its squares, ()
    level: Array  # levels done (0 by rejection), ()
    stalled: Array  # levels in a row whose threshold did not fall, ()
    moved: Array  # whether each particle moved since it was last copied (a copy that did not is a repeat), (N,)
    ancestor: Array  # each particle's ancestor among the first draws, (N,)
    parent: Array  # the particle it was a copy of at the last resampling (itself if kept), (N,)
    grandparent: Array  # its parent's own family at the resampling before (its parent there), (N,)
    start_phi: Array  # the encodings at the last resampling, (N, F)
    start_f: Array  # f at the last resampling, (N, p)
    start_along: Array  # z · u there, u the direction of the particle's centre (:func:`inverse_set.laws.along`), (N,)
    memory: Array  # ρ: the lag correlation with start_phi, start_f, ()
    parent_memory: Array  # ρ when the last resampling came (the level before's own), ()
    angle: Array  # h, the moves' largest rotation, ()
    centre: Array  # μ, the centre of each particle's rotations, (N, d)
    axes: Array  # W, the axes along which their law N(μ, Σ) departs from I (:mod:`inverse_set.laws`), (N, d, k)
    root: Array  # L, Σ's root along them, Σ = I + W (L Lᵀ − I) Wᵀ, (N, k, k)
    moves: Array  # moves since the last resampling, ()
    by_rejection: Array  # whether the particles are independent rejection draws, ()
    chained: Array  # whether the positions at the last resampling are the particles' own earlier samples (a round), ()
    forward_passes: Array  # codes evaluated, ()
    status: Array  # LadderStatus
    rng_key: Array


def settle(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, state: LadderState,
           threshold: Array, fewest, most) -> LadderState:
    """Moves restricted to ``{d ≤ threshold}`` until the particles are decorrelated (ρ ≤ ρ*), at least ``fewest``
    and at most ``most`` since the last resampling."""
    rho = ladder.decorrelation if ladder.level_decorrelation is None else ladder.level_decorrelation  # below the band

    def more(s):
        return (s.moves < fewest) | ((s.memory > rho) & (s.moves < most))

    return jax.lax.while_loop(more, lambda s: move(problem, indices, bands, ladder, s, threshold), state)


def level(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder,
          state: LadderState) -> LadderState:
    """One level: threshold at the p₀-quantile (0 once enough are in band), resample, then (below the band) move
    until decorrelated; the band's own moves are the caller's (:func:`settle`, or the walk's steps)."""
    n = state.z.shape[0]
    rank = max(int(round(ladder.survival * n)), 1) - 1
    finite = jnp.isfinite(state.distance)
    # fewer than p₀ N finite (outside the box, or non-finite activations): the level keeps all the finite ones
    quantile = jnp.sort(state.distance)[rank]
    threshold = jnp.maximum(jnp.where(jnp.isfinite(quantile), quantile,
                                      jnp.max(jnp.where(finite, state.distance, -jnp.inf))), 0.0)
    keep = finite & (state.distance <= threshold)
    frac = jnp.mean(keep)
    # the particles entering this level are families of copies, still correlated: their fraction varies more than
    # N independent draws' would. By the last resampling's families (the design effect), or by the lines of descent
    # from the first draws, correlated in any way within a line (the clustered variance), whichever is larger: the
    # families alone leave out what older copies still share
    binomial = (1 - frac) / (frac * n)
    relative_var = jnp.maximum(binomial * families_effect(state, jnp.ones((n,), bool)),
                               clustered_variance(keep, state.ancestor) / frac ** 2)
    key, k_pick = jax.random.split(state.rng_key)
    # The particles not kept become copies of the kept ones, dealt round-robin over the kept in a random order:
    # every kept particle has ⌊N/K⌋ or ⌈N/K⌉ copies (itself included), as few large families as can be.
    kept_first = jnp.argsort(jnp.where(keep, 0.0, 2.0) + jax.random.uniform(k_pick, (n,)))
    place = jnp.cumsum(~keep) - 1  # each dropped particle's place among the dropped
    source = jnp.where(keep, jnp.arange(n), kept_first[place % jnp.maximum(jnp.sum(keep), 1)])
    stalled = jnp.where(threshold < state.threshold, 0, state.stalled + 1)
    # the band beyond the most levels at the rate this level fell: say so now (no fall: the stall rule's)
    fall = state.threshold - threshold
    hopeless = (fall > 0) & (state.level + 1 + threshold / jnp.where(fall > 0, fall, 1.0) > ladder.max_levels)
    state = state._replace(z=state.z[source], f=state.f[source], phi=state.phi[source],
                           distance=state.distance[source], moved=keep & state.moved, ancestor=state.ancestor[source],
                           parent=source, grandparent=state.parent[source], start_phi=state.phi[source],
                           start_f=state.f[source], memory=jnp.asarray(1.0, jnp.float32),
                           parent_memory=state.memory, moves=jnp.asarray(0),
                           threshold=threshold, log_mass=state.log_mass + jnp.log(frac),
                           log_mass_var=state.log_mass_var + relative_var,
                           level=state.level + 1, stalled=stalled, rng_key=key,
                           **rotation_law(problem, indices, ladder, state.z, keep, source, state, state.ancestor))
    below = threshold > 0
    state = settle(problem, indices, bands, ladder, state, threshold, jnp.where(below, ladder.moves_per_level, 0),
                   jnp.where(below, ladder.max_moves_per_level, 0))
    status = jnp.select([~jnp.any(keep) | hopeless, threshold <= 0, stalled >= ladder.max_stalled_levels,
                         state.level >= ladder.max_levels],
                        [LadderStatus.STALLED, LadderStatus.IN_BAND, LadderStatus.STALLED, LadderStatus.MAX_LEVELS],
                        LadderStatus.RUNNING)
    return state._replace(status=status.astype(jnp.int32))


def by_rejection(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, state: LadderState,
                 callback=None) -> LadderState:
    """N in-band prior draws where the band's share makes that cheap (:mod:`inverse_set.prior_draws`); else the
    ladder (:func:`_levels`) from the N of the pilot's draws nearest the band, all its draws counted."""
    limit = ladder.rejection_limit

    def drawn(pilot):
        in_band = prior_draws.by_rejection(problem, indices, bands, state, pilot, limit)
        return in_band._replace(status=jnp.asarray(LadderStatus.IN_BAND, jnp.int32))

    def climbed(pilot):
        return _levels(problem, indices, bands, ladder, prior_draws.nearest_start(state, pilot), callback)

    pilot = prior_draws.pilot(problem, indices, bands, state, limit)
    return jax.lax.cond(prior_draws.cheap(pilot, limit), drawn, climbed, pilot)


def climb(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, num_particles: int,
          latent_dim: int, rng_key: Array, callback=None) -> LadderState:
    """N prior draws into the band: by rejection where the band's share allows, else up the ladder level by level
    until the band itself is the level (IN_BAND; its moves still to come) or it gives up. ``callback(state)``, if
    given, is called after each level (progress)."""
    k_draw, key = jax.random.split(rng_key)
    z = jax.random.normal(k_draw, (num_particles, latent_dim), jnp.float32)
    phi, f, d = evaluate(problem, indices, bands, z)
    scalar = lambda v, dtype=jnp.float32: jnp.asarray(v, dtype)  # noqa: E731
    first = jnp.arange(num_particles)
    k = axes_count(ladder, latent_dim)
    state = LadderState(
        z=z, f=f, phi=phi, distance=d, threshold=scalar(jnp.inf), log_mass=scalar(0.0), log_mass_var=scalar(0.0),
        far_draws=scalar(0.0), far_weight=scalar(0.0), far_weight_sq=scalar(0.0), level=scalar(0, jnp.int32),
        stalled=scalar(0, jnp.int32), moved=jnp.ones((num_particles,), bool), ancestor=first, parent=first,
        grandparent=first, start_phi=phi, start_f=f, start_along=jnp.zeros((num_particles,)), memory=scalar(1.0),
        parent_memory=scalar(0.0), angle=scalar(ladder.angle), centre=jnp.zeros_like(z),
        axes=jnp.zeros((num_particles, latent_dim, k), jnp.float32),
        root=jnp.broadcast_to(jnp.eye(k, dtype=jnp.float32), (num_particles, k, k)),  # Σ = I before any fit
        moves=scalar(0, jnp.int32), by_rejection=scalar(False, bool), chained=scalar(False, bool),
        forward_passes=jnp.asarray(num_particles), status=scalar(LadderStatus.RUNNING, jnp.int32), rng_key=key)
    if ladder.rejection_limit is None:
        return _levels(problem, indices, bands, ladder, state, callback)
    return by_rejection(problem, indices, bands, ladder, state, callback)


def _levels(problem, indices, bands, ladder, state, callback):
    def body(s):
        s = level(problem, indices, bands, ladder, s)
        if callback is not None:
            callback(s)
        return s

    return jax.lax.while_loop(lambda s: s.status == LadderStatus.RUNNING, body, state)


def run(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder, num_particles: int,
        latent_dim: int, rng_key: Array) -> LadderState:
    """:func:`climb`, then :func:`in_band`."""
    return in_band(problem, indices, bands, ladder,
                   climb(problem, indices, bands, ladder, num_particles, latent_dim, rng_key))


def in_band(problem: Problem, indices: ConstraintIndices, bands: Bands, ladder: Ladder,
            state: LadderState) -> LadderState:
    """A climbed population moved inside the band until the particles are :func:`settled` (as it is where the climb
    did not reach the band)."""
    final = jax.lax.while_loop(lambda s: ~settled(ladder, s),
                               lambda s: advance(problem, indices, bands, ladder, s), state)
    return jax.tree.map(lambda a, b: jnp.where(state.status == LadderStatus.IN_BAND, a, b), final, state)


def samples(state: LadderState) -> Array:
    """Which particles are samples, (N,): in the band and not an unmoved copy of another."""
    return (state.distance <= 0) & state.moved
