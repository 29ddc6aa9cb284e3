"""Seeds C₀: the augmented-Lagrangian solve of eq. 7–8, stopped once all K are in band.

.. math::

    \\min_{C}\\; \\mathcal{L}_{seed}(C; s, λ, μ) = γ\\, D(E(G(C)))
        - \\sum_{ik} λ_{ik}\\,(f_k(G(c_i)) - s_{ik})
        + \\frac{μ}{2} \\sum_{ik} (f_k(G(c_i)) - s_{ik})^2,
    \\qquad s_{ik} \\in [z_{1k}', z_{2k}']

with D the diversity energy of :mod:`inverse_set.paper.repulsion` and ``[z1', z2']`` the
inner band (margin × ε in from each edge, so seeds aim well inside). Coordinate
descent as in sec. 3.4: the slack in closed form, then an optax gradient step on
C; after every ``num_inner_steps`` steps (one inner solve) the multipliers take
``λ ← λ − μ (f − s)`` and the penalty grows ``μ ← a μ`` if ‖f − s‖ did not fall
by ``violation_decrease``. A seed that satisfies every *true* band is kept
where it is (frozen) while the others go on; the loop stops as soon as all K
are, or after ``max_steps`` gradient steps. (The paper stops when all K are
inside at once; for a narrow band, seeds that step in and out of it rarely are
all inside at the same step.) It is one ``lax.while_loop``
(:func:`inverse_set.core.loop.run`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from inverse_set.core import loop
from inverse_set.core.bands import Bands
from inverse_set.core.constraints import ConstraintIndices
from inverse_set.core.field_checks import check_options
from inverse_set.core.loop import Evaluations, SeedStatus
from inverse_set.core.problem import Problem, forward, pullback
from inverse_set.paper import lagrangian
from inverse_set.paper.lagrangian import Objective

Array = jax.Array

MIN_SCALE = 2.0**-10  # the smallest a seed's step scale gets by halving
SCALE_RECOVERY = 1.2  # a halved step scale grows back by this factor per good step, up to 1


# Settings no caller has needed to change, fixed here (the paper's where it gives them).
OPTIMIZER = optax.adam  # the inner solver, OPTIMIZER(learning_rate)
MU0 = 10.0  # the initial penalty μ₀ (paper: 10)
MU_MAX = 1e8  # a cap on μ
VIOLATION_DECREASE = 0.25  # μ grows when ‖f − s‖ > this × its value at the previous multiplier update
RESTART_PATIENCE = 200  # a seed outside the band not 1% nearer for this many steps restarts from a reserve code
GIVE_UP_PATIENCE = 150  # the search stops, the band unreached, after this many steps with no seed 1% nearer
PACE_WINDOW = 50  # ... or when the nearest seed's approach over this many steps, kept up,
PACE_MARGIN = 4.0  # would need more than this many times the steps left to reach the band


@dataclass(frozen=True)
class SeedConfig:
    """Settings of the seed solver (defaults: the paper's sec. 3.4 where it gives them).

    The terms of the Lagrangian (γ, D, ρ, ρ_p, the margin) are the method's
    :class:`~inverse_set.paper.lagrangian.Objective`, shared with the gradient walker.

    Attributes:
      num_inner_steps: gradient steps per inner solve (paper: 100).
      max_steps: budget of gradient steps in all.
      learning_rate: of the inner solver (Adam).
      mu_factor: the penalty's growth a (paper: 10).
      candidates_per_seed, select: draw this many initial codes per seed and start
        from K of them chosen by ``select`` (:func:`inverse_set.paper.starts.select_initial`): ``"alive"``
        (the first K whose violated constraints have a gradient: a ReLU unit at 0
        has none to climb), ``"nearest"`` (the K nearest the band) or ``"spread"``
        (K far apart in encoder space among the 3K nearest). 1 is the paper; each
        candidate costs one forward pass (``"alive"``: with its Jacobian).

    A seed outside the band whose distance to it has not shrunk by 1% for
    ``RESTART_PATIENCE`` steps (lost: pushed where the constraint has no gradient)
    restarts from the next unused candidate. The search stops early, the band
    unreached, when no seed is inside, some band lies wholly outside the
    activations reached so far, and either the nearest any seed has come has not
    shrunk by 1% for ``GIVE_UP_PATIENCE`` steps, or (after the first multiplier
    update) the nearest seed's approach over the last ``PACE_WINDOW`` steps, kept
    up, would need more than ``PACE_MARGIN`` times the steps left in the budget.
    """

    num_inner_steps: int = 100
    max_steps: int = 2000
    learning_rate: float = 0.05
    mu_factor: float = 10.0
    candidates_per_seed: int = 4
    select: str = "alive"

    def __post_init__(self):
        check_options(self, counts=("num_inner_steps", "max_steps", "candidates_per_seed"),
                      positive=("learning_rate",), at_least_one=("mu_factor",),
                      choices={"select": ("alive", "nearest", "spread")})

    def initial_evaluations(self, k: int) -> Evaluations:
        """What choosing the starting codes costs: a forward pass per candidate (``"alive"``: with its Jacobian)."""
        m = k * self.candidates_per_seed
        return Evaluations.of(gradient=m) if self.select == "alive" else Evaluations.of(forward=m)


class SeedState(NamedTuple):
    codes: Array  # C, (K, d)
    prev_codes: Array  # C before the last step, where a seed that steps into NaN/Inf returns, (K, d)
    scale: Array  # each seed's step scale (≤ 1), halved when it steps across a band or into NaN/Inf, (K,)
    opt_state: Any
    lam: Array  # λ, (K, p)
    mu: Array  # μ, ()
    norm_prev: Array  # ‖f − s‖ at the last multiplier update
    f: Array  # activations at `codes`, (K, p)
    phi: Array  # encodings at `codes`, (K, F)
    f_min: Array  # lowest activation reached per constraint, (p,)
    f_max: Array  # highest activation reached per constraint, (p,)
    alone: Array  # whether some seed has had each constraint inside its own band, whatever the others, (p,)
    joint_f: Array  # the activations of the point nearest all bands at once so far, (p,)
    joint_distance: Array  # its distance to them, in band widths summed over constraints, ()
    frozen: Array  # seeds that have reached every band and stay where they are, (K,)
    best: Array  # each seed's smallest distance to the band since it (re)started, in band widths, (K,)
    stale: Array  # steps since that distance last shrank by 1%, (K,)
    nearest: Array  # the distance to the band any seed last came within by a 1% step, in band widths, ()
    nearest_stale: Array  # steps since then, ()
    pace_from: Array  # the nearest seed's distance to the band when the current pace window began, ()
    needed: Array  # the steps the band needed at the pace of the last window (inf: no approach measured), ()
    num_restarts: Array  # seeds restarted from unused candidates
    step: Array  # gradient steps taken
    inner_step: Array  # steps into the current inner solve
    num_outer: Array  # multiplier updates done
    status: Array  # SeedStatus: RUNNING, INSIDE, MAX_STEPS, UNREACHED or NON_FINITE


def init(config: SeedConfig, codes: Array, num_constraints: int, num_features: int) -> SeedState:
    """λ = 0, μ = μ₀, optimiser state for the initial codes."""
    k = codes.shape[0]
    p = num_constraints
    return SeedState(
        codes=codes,
        prev_codes=codes,
        scale=jnp.ones((k,), jnp.float32),
        opt_state=OPTIMIZER(config.learning_rate).init(codes),
        lam=jnp.zeros((k, p), jnp.float32),
        mu=jnp.asarray(MU0, jnp.float32),
        norm_prev=jnp.asarray(jnp.inf, jnp.float32),
        f=jnp.full((k, p), jnp.nan, jnp.float32),
        phi=jnp.zeros((k, num_features), jnp.float32),
        f_min=jnp.full((p,), jnp.inf, jnp.float32),
        f_max=jnp.full((p,), -jnp.inf, jnp.float32),
        alone=jnp.zeros((p,), bool),
        joint_f=jnp.full((p,), jnp.nan, jnp.float32),
        joint_distance=jnp.asarray(jnp.inf, jnp.float32),
        frozen=jnp.zeros((k,), bool),
        best=jnp.full((k,), jnp.inf, jnp.float32),
        stale=jnp.zeros((k,), jnp.int32),
        nearest=jnp.asarray(jnp.inf, jnp.float32),
        nearest_stale=jnp.asarray(0, jnp.int32),
        pace_from=jnp.asarray(jnp.inf, jnp.float32),
        needed=jnp.asarray(jnp.inf, jnp.float32),
        num_restarts=jnp.asarray(0, jnp.int32),
        step=jnp.asarray(0, jnp.int32),
        inner_step=jnp.asarray(0, jnp.int32),
        num_outer=jnp.asarray(0, jnp.int32),
        status=jnp.asarray(SeedStatus.RUNNING, jnp.int32),
    )


def step(config: SeedConfig, objective: Objective, problem: Problem, bands: Bands, indices: ConstraintIndices,
         state: SeedState, reserve: Array | None = None, stop_when_inside: bool = True
         ) -> tuple[SeedState, Evaluations]:
    """One coordinate-descent step (s, then C); a multiplier update ends each inner solve.

    A seed whose step landed on NaN/Inf activations or encodings goes back to
    where it was, and a seed that stepped across a band (from below it to above
    it, or back) was too fast for it: either way its step scale is halved; it
    grows back by ``SCALE_RECOVERY`` per step otherwise, up to 1. A seed lost for
    ``RESTART_PATIENCE`` steps restarts from the next code of ``reserve`` (M, d).
    ``stop_when_inside=False`` (the joint problem of eq. 5) freezes no seed and runs
    all ``max_steps``. Each step is one forward and backward pass for the K codes.
    """
    box = bands.inner(objective.margin)
    (phi, f), vjp = pullback(problem, state.codes, indices)
    row_finite = jnp.all(jnp.isfinite(f), axis=-1) & jnp.all(jnp.isfinite(phi), axis=-1)
    cannot_proceed = (state.step == 0) & ~jnp.all(row_finite)  # a starting code is already NaN/Inf
    codes = jnp.where(row_finite[:, None], state.codes, state.prev_codes)
    phi = jnp.where(row_finite[:, None], phi, state.phi)
    f = jnp.where(row_finite[:, None], f, state.f)
    side = jnp.sign(jnp.maximum(f - bands.z2, 0.0) - jnp.maximum(bands.z1 - f, 0.0))
    prev_side = jnp.sign(jnp.maximum(state.f - bands.z2, 0.0) - jnp.maximum(bands.z1 - state.f, 0.0))
    crossed = jnp.any(side * prev_side < 0, axis=-1)
    scale = jnp.where(~row_finite | crossed, jnp.maximum(0.5 * state.scale, MIN_SCALE),
                      jnp.minimum(SCALE_RECOVERY * state.scale, 1.0))
    frozen = state.frozen | (bands.contains(f) & stop_when_inside)
    is_inside = jnp.all(frozen)

    # End of an inner solve: λ ← λ − μ (f − s);  μ ← a μ if ‖f − s‖ did not fall enough.
    end_inner = state.inner_step >= config.num_inner_steps
    s = lagrangian.slack(f, state.lam, state.mu, box)
    norm = jnp.linalg.norm(lagrangian.violation(f, s))
    lam = jnp.where(end_inner, lagrangian.update_multipliers(f, s, state.lam, state.mu), state.lam)
    mu = jnp.where(
        end_inner,
        lagrangian.update_penalty(state.mu, norm, state.norm_prev, config.mu_factor, VIOLATION_DECREASE, MU_MAX),
        state.mu,
    )
    norm_prev = jnp.where(end_inner, norm, state.norm_prev)
    inner_step = jnp.where(end_inner, 0, state.inner_step)

    # s-step (closed form), then a gradient step on C of  γ D(Φ) + ρ R(C) + L_c(f, s; λ, μ).
    s = lagrangian.slack(f, lam, mu, box)
    no_ref = jnp.zeros((1, phi.shape[1]), phi.dtype)
    grad_codes = lagrangian.code_gradient(objective, vjp, phi, f, codes, s, lam, mu, no_ref, jnp.zeros((1,), bool))
    grad_codes = jnp.where(row_finite[:, None], grad_codes, 0.0)
    updates, opt_state = OPTIMIZER(config.learning_rate).update(grad_codes, state.opt_state, codes)
    moved = problem.project(codes + scale[:, None] * updates)
    new_codes = jnp.where(frozen[:, None] | ~row_finite[:, None], codes, moved)

    # A seed whose distance to the band has not shrunk by 1% for RESTART_PATIENCE steps starts again.
    dist = bands.excess(f)
    improved = dist < 0.99 * state.best
    best = jnp.where(improved, dist, state.best)
    stale = jnp.where(improved, 0, state.stale + 1)
    restart = ~frozen & (stale >= RESTART_PATIENCE)
    num_restarts = state.num_restarts
    if reserve is not None and reserve.shape[0] > 0:
        slot = (state.num_restarts + jnp.cumsum(restart) - 1) % reserve.shape[0]
        new_codes = jnp.where(restart[:, None], reserve[slot], new_codes)
        best, stale = jnp.where(restart, jnp.inf, best), jnp.where(restart, 0, stale)
        scale = jnp.where(restart, 1.0, scale)
        opt_state = jax.tree.map(
            lambda x: jnp.where(restart[:, None], 0.0, x) if jnp.shape(x) == codes.shape else x, opt_state)
        num_restarts = num_restarts + jnp.sum(restart).astype(jnp.int32)

    # The band unreached: no seed inside, some band outside the range of activations reached so far,
    # and no seed nearer for GIVE_UP_PATIENCE steps (the joint problem never gives up).
    closer = jnp.min(dist) < 0.99 * state.nearest
    nearest = jnp.where(closer, jnp.min(dist), state.nearest)  # moves only by 1% steps, as `best` does
    nearest_stale = jnp.where(closer, 0, state.nearest_stale + 1)
    f_min = jnp.minimum(state.f_min, jnp.where(row_finite[:, None], f, jnp.inf).min(axis=0))
    f_max = jnp.maximum(state.f_max, jnp.where(row_finite[:, None], f, -jnp.inf).max(axis=0))
    beyond_reach = jnp.any((f_max < bands.z1) | (f_min > bands.z2))
    alone = state.alone | jnp.any(row_finite[:, None] & (f >= bands.z1) & (f <= bands.z2), axis=0)
    finite_dist = jnp.where(row_finite, dist, jnp.inf)
    nearer = jnp.min(finite_dist) < state.joint_distance
    joint_f = jnp.where(nearer, f[jnp.argmin(finite_dist)], state.joint_f)
    joint_distance = jnp.minimum(jnp.min(finite_dist), state.joint_distance)
    # ... or, at the pace of the last PACE_WINDOW steps, the band lies far beyond the steps left.
    window_end = (state.step + 1) % PACE_WINDOW == 0
    pace = (state.pace_from - jnp.min(finite_dist)) / PACE_WINDOW  # band widths per step
    needed = jnp.where(window_end, jnp.where(pace > 0, jnp.min(finite_dist) / pace, jnp.inf), state.needed)
    pace_from = jnp.where(window_end, jnp.min(finite_dist), state.pace_from)
    too_slow = (window_end & (state.num_outer >= 1) & (pace > 0)
                & (needed > PACE_MARGIN * (config.max_steps - state.step - 1)))
    unreached = ~jnp.any(frozen) & beyond_reach & ((nearest_stale >= GIVE_UP_PATIENCE) | too_slow) & stop_when_inside

    done = is_inside | cannot_proceed
    out_of_steps = state.step + 1 >= config.max_steps
    status = jnp.select([cannot_proceed, done, unreached, out_of_steps],
                        [SeedStatus.NON_FINITE, SeedStatus.INSIDE, SeedStatus.UNREACHED, SeedStatus.MAX_STEPS],
                        SeedStatus.RUNNING)
    keep = lambda old, new: jax.tree.map(lambda o, n: jnp.where(done, o, n), old, new)
    new_state = SeedState(
        codes=jnp.where(done, codes, new_codes),
        prev_codes=codes,
        scale=scale,
        opt_state=keep(state.opt_state, opt_state),
        lam=lam,
        mu=mu,
        norm_prev=norm_prev,
        f=f,
        phi=phi,
        f_min=f_min,
        f_max=f_max,
        alone=alone,
        joint_f=joint_f,
        joint_distance=joint_distance,
        frozen=frozen,
        best=best,
        stale=stale,
        nearest=nearest,
        nearest_stale=nearest_stale,
        pace_from=pace_from,
        needed=needed,
        num_restarts=num_restarts,
        step=state.step + jnp.where(done, 0, 1),
        inner_step=inner_step + jnp.where(done, 0, 1),
        num_outer=state.num_outer + end_inner.astype(jnp.int32),
        status=status.astype(jnp.int32),
    )
    return new_state, Evaluations.of(gradient=codes.shape[0])


def run(config: SeedConfig, objective: Objective, problem: Problem, codes: Array, bands: Bands,
        indices: ConstraintIndices, callback: Callable | None = None, reserve: Array | None = None,
        stop_when_inside: bool = True) -> tuple[SeedState, Evaluations]:
    """Solve for the seeds from initial codes (K, d); a bounded ``lax.while_loop``.

    Args:
      reserve: unused candidate codes (M, d) that lost seeds restart from, in order.
      callback: optional ``callback(state)`` called inside the loop after each step
        (e.g. a ``jax.debug.callback`` progress report).
      stop_when_inside: ``False`` runs all ``max_steps`` with no seed frozen (eq. 5).

    Returns:
      The final :class:`SeedState` (``status`` INSIDE when all K codes satisfy every
      band, MAX_STEPS when the budget ran out, UNREACHED when it gave up, NON_FINITE
      on NaN/Inf in a starting code) and the evaluations spent.
    """
    state = init(config, problem.project(codes), bands.z1.shape[0], jax.eval_shape(
        lambda c: forward(problem, c, indices)[0], codes).shape[1])
    reserve = None if reserve is None else problem.project(reserve)
    return loop.run(lambda state: step(config, objective, problem, bands, indices, state, reserve,
                                       stop_when_inside), state, callback)
