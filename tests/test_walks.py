"""inverse_set.walks: the walk protocol and its loop, the gradient walk, the elliptical-slice walk, a walk of one's own.

Both walks are run the same way, ``walks.run(walk, ctx, seeds, rng_key, seeds_ok, callback)``,
from the same seeds of the slab problem (see conftest.py).
"""

import functools
import types
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import (
    EllipticalSliceWalk,
    GradientWalk,
    Method,
    Objective,
    SeedConfig,
    sample_inverse_set,
    walks,
)
from inverse_set.core.bands import Bands
from inverse_set.core.loop import Evaluations, SeedStatus, WalkStatus
from inverse_set.core.problem import Problem, forward
from inverse_set.paper import seeds
from inverse_set.walks import buffer

K = 10
WALKS = {"gradient": GradientWalk(), "elliptical slice": EllipticalSliceWalk()}


def identity(x):
    return x


def constant(x, indices=None):
    return jnp.zeros_like(x[:1]) + 0.5


_PROBLEMS = {}


def slab_problem(slab, code_bounds=(-jnp.inf, jnp.inf)):
    """The slab as a Problem, one object per code bounds (so the jitted walks below are compiled once each)."""
    key = tuple(map(float, code_bounds))
    if key not in _PROBLEMS:
        _PROBLEMS[key] = Problem(jax.nn.sigmoid, slab.identity, lambda x, indices: slab.neuron1(x)[None], *code_bounds)
    return _PROBLEMS[key]


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _seeds_then_walk(walk, n, num_features, problem, codes, lo, hi, rng_key, seeds_ok):
    bands, objective = Bands(lo, hi), Objective()
    seed_state, _ = seeds.run(SeedConfig(), objective, problem, codes, bands, None)
    ctx = walks.WalkContext(problem, objective, bands, None, n, num_features)
    return (seed_state, *walks.run(walk, ctx, seed_state, rng_key, seeds_ok, None))


def run_walk(slab, walk, n=30, z1=0.4, z2=0.6, seeds_ok=True, problem=None, key=0):
    """Seeds from N(0, 0.1² I) (inside [0.4, 0.6] at once), then walks.run; numpy (seed state, walk state, evals)."""
    codes = jax.vmap(slab.init)(jax.random.split(jax.random.key(key), K))
    return jax.device_get(_seeds_then_walk(walk, n, slab.D, problem or slab_problem(slab), codes,
                                           jnp.array([z1], jnp.float32), jnp.array([z2], jnp.float32),
                                           jax.random.key(key + 1), jnp.asarray(seeds_ok)))


@pytest.mark.parametrize("name", list(WALKS))
def test_each_walk_keeps_n_new_samples_in_band_from_the_seeds_and_counts_its_passes(slab, name):
    seed_state, state, evals = run_walk(slab, WALKS[name])
    kept = state.buffer
    assert isinstance(kept, buffer.Buffer)
    assert WalkStatus(int(state.status)) == WalkStatus.COMPLETE and int(kept.count) == 30
    assert int(state.num_non_finite) == 0 and int(state.step) > 0
    # The first step keeps the seeds themselves.
    np.testing.assert_array_equal(kept.codes[:K], seed_state.codes)
    assert int(kept.accepted[0]) == K and kept.accepted[:int(state.step) + 1].sum() >= 30
    # Every kept code is in band (float64 recheck), its constraint values are its own, and none is kept twice.
    assert slab.in_slab(slab.sigmoid(kept.codes), slab.W1, slab.B1, 0.4, 0.6).all()
    np.testing.assert_allclose(kept.f[:, 0], slab.activation(slab.sigmoid(kept.codes), slab.W1, slab.B1), atol=1e-6)
    assert len(np.unique(kept.codes, axis=0)) == 30
    # K walkers, one pass each per step; the step that keeps the n-th sample is not counted as a move.
    passes = K * (int(state.step) + 1)
    if name == "gradient":
        assert (int(evals.gradient), int(evals.forward)) == (passes, 0)
    else:
        assert (int(evals.gradient), int(evals.forward)) == (0, passes)


@pytest.mark.parametrize("name", list(WALKS))
def test_a_walk_from_failed_seeds_does_not_run(slab, name):
    _, state, evals = run_walk(slab, WALKS[name], seeds_ok=False)
    assert WalkStatus(int(state.status)) == WalkStatus.NOT_RUN
    assert int(state.buffer.count) == 0 and int(state.step) == 0
    assert (int(evals.gradient), int(evals.forward)) == (0, 0)


@pytest.mark.parametrize("name", list(WALKS))
def test_a_walk_stops_at_its_step_budget(slab, name):
    walk = type(WALKS[name])(max_steps=3)
    _, state, evals = run_walk(slab, walk, n=200)
    assert WalkStatus(int(state.status)) == WalkStatus.MAX_STEPS and int(state.step) == 3
    assert K <= int(state.buffer.count) <= 4 * K
    assert int(evals.gradient + evals.forward) == K * 4


def test_walkers_that_cannot_move_stall():
    # f and E constant: no gradient, so no walker moves and after the seeds nothing new is kept.
    problem = Problem(lambda c: c, constant, constant)
    walk = GradientWalk(max_stall_steps=5)

    @jax.jit
    def go(codes):
        bands = Bands(jnp.array([0.0]), jnp.array([1.0]))
        seed_state, _ = seeds.run(SeedConfig(), Objective(), problem, codes, bands, None)
        ctx = walks.WalkContext(problem, Objective(), bands, None, 50, 1)
        return walks.run(walk, ctx, seed_state, jax.random.key(0), seed_state.status == SeedStatus.INSIDE)

    state, _ = jax.device_get(go(jax.random.normal(jax.random.key(0), (K, 3))))
    assert WalkStatus(int(state.status)) == WalkStatus.STALLED
    assert int(state.buffer.count) == K and int(state.buffer.stall) == 5 and int(state.step) == 5


def test_one_gradient_step_adapts_each_walkers_step_and_sends_a_walker_at_nan_back():
    # f(c) = c₀ (NaN where c₁ > 5), E = identity, band [0, 1]. Walker 0 was inside and stepped out: its step
    # scale halves. Walker 1 is inside with a new code: it is kept and its scale grows by 1.2 (up to 1).
    # Walker 2 is at NaN: not kept, counted, and back at its last kept code (its seed) for the next step.
    problem = Problem(identity, identity, lambda x, indices: jnp.where(x[1:2] > 5.0, jnp.nan, x[:1]))
    ctx = walks.WalkContext(problem, Objective(), Bands(jnp.array([0.0]), jnp.array([1.0])), None, 10, 2)
    seed_codes = jnp.array([[0.5, 0.0], [0.6, 1.0], [0.7, 2.0]])
    start = types.SimpleNamespace(codes=seed_codes, lam=jnp.zeros((3, 1)), mu=jnp.asarray(10.0))
    walk = GradientWalk()
    codes = jnp.array([[2.0, 0.0], [0.4, 1.0], [0.7, 6.0]])
    state = walk.init(ctx, start)._replace(codes=codes,
                                           inside=jnp.array([True, True, True]), scale=jnp.array([1.0, 0.5, 1.0]))
    state, evals = jax.jit(lambda state: walk.step(ctx, state))(state)
    np.testing.assert_allclose(state.scale[:2], [0.5, 0.6])
    np.testing.assert_array_equal(state.buffer.codes[:1], codes[1:2])
    assert int(state.buffer.count) == 1 and int(state.num_non_finite) == 1
    np.testing.assert_array_equal(state.codes[2], seed_codes[2])
    assert bool(jnp.all(jnp.isfinite(state.codes))) and int(evals.gradient) == 3


def test_the_slice_walk_keeps_only_proposals_inside_the_code_bounds(slab):
    problem = slab_problem(slab, (-0.5, 0.5))
    _, state, _ = run_walk(slab, EllipticalSliceWalk(), n=40, problem=problem)
    assert WalkStatus(int(state.status)) == WalkStatus.COMPLETE
    assert (np.abs(state.buffer.codes) <= 0.5).all()


def test_budgets_and_encodings_kept():
    assert GradientWalk().budget(100, 10) == 20 * 9 + 100 and GradientWalk(max_steps=7).budget(100, 10) == 7
    assert EllipticalSliceWalk().budget(100, 10) == 60 * 9 + 200 and EllipticalSliceWalk(max_steps=7).budget(5, 1) == 7
    assert GradientWalk().budget(10, 10) == 100  # n = K: the seeds are the samples
    # Only repulsion from every kept sample needs their encodings, an (n, F) buffer.
    assert GradientWalk(repel_from="all").keeps_encodings
    assert not GradientWalk().keeps_encodings and not EllipticalSliceWalk().keeps_encodings


@pytest.mark.parametrize("make, error, match", [
    (lambda: GradientWalk(max_steps=-5), ValueError, r"GradientWalk\(max_steps=-5\): max_steps must be ≥ 1"),
    (lambda: GradientWalk(step_size=float("nan")), ValueError, "step_size must be a finite number > 0"),
    (lambda: GradientWalk(step_size=0.0), ValueError, "step_size must be a finite number > 0"),
    (lambda: GradientWalk(repel_from="some"), ValueError, "repel_from must be 'last' or 'all'"),
    (lambda: GradientWalk(max_stall_steps=2.5), TypeError, "max_stall_steps must be an int"),
    (lambda: GradientWalk(normalize="yes"), TypeError, "normalize must be True or False"),
    (lambda: EllipticalSliceWalk(prior_scale=0.0), ValueError, "prior_scale must be a finite number > 0"),
    (lambda: EllipticalSliceWalk(max_stall_steps=0), ValueError, "max_stall_steps must be ≥ 1"),
    (lambda: EllipticalSliceWalk(max_steps=1.5), TypeError, "max_steps must be an int ≥ 1 or None"),
])
def test_walk_settings_are_checked_where_they_are_made(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("removed", ["diversity_weight", "repulsion", "margin", "realism_weight", "prior_weight",
                                     "novelty_tol", "adapt_step"])
def test_settings_that_moved_are_not_gradient_walk_fields(removed):
    with pytest.raises(TypeError, match=removed):
        GradientWalk(**{removed: 1})


# --------------------------------------------------------------------------- a walk of one's own


class JumpState(NamedTuple):
    codes: jax.Array
    buffer: buffer.Buffer
    rng_key: jax.Array
    num_non_finite: jax.Array
    step: jax.Array
    status: jax.Array


@dataclass(frozen=True)
class RandomJumps:
    """Each walker jumps by N(0, σ² I); a jump that lands in band and is new is kept and moved to."""

    sigma: float = 0.3
    max_steps: int = 500
    max_stall_steps: int = 50
    keeps_encodings = False

    def budget(self, n, k):
        return self.max_steps

    def init(self, ctx, seeds, rng_key):
        kept = buffer.init(seeds.codes, ctx.n, ctx.num_features, ctx.bands.z1.shape[0], self.max_steps)
        zero = jnp.asarray(0, jnp.int32)
        return JumpState(seeds.codes, kept, rng_key, zero, zero, zero)

    def step(self, ctx, state):
        key, sub = jax.random.split(state.rng_key)
        first = state.step == 0  # the first step checks the seeds themselves
        proposal = jnp.where(first, state.codes,
                             state.codes + self.sigma * jax.random.normal(sub, state.codes.shape))
        phi, f = forward(ctx.problem, proposal, ctx.indices)
        candidate = ctx.bands.contains(f) & walks.finite_rows(phi, f)
        accepted = candidate & buffer.is_new(state.buffer, proposal, candidate)
        kept = buffer.keep(state.buffer, accepted, proposal, phi, f, state.step)
        status = buffer.stop_status(kept, state.step, self.max_steps, self.max_stall_steps)
        moves = (status == WalkStatus.RUNNING).astype(jnp.int32)
        return state._replace(codes=jnp.where(accepted[:, None], proposal, state.codes), buffer=kept, rng_key=key,
                              step=state.step + moves, status=status.astype(jnp.int32)), \
            Evaluations.of(forward=state.codes.shape[0])


def test_a_walk_of_ones_own_runs_in_the_sampler_through_the_protocol(slab):
    method = Method("random-jumps", "code", SeedConfig(), RandomJumps(), Objective())
    res = sample_inverse_set(slab.neuron1, 0.4, 0.6, 40, models=slab.models, method=method, rng_key=0)
    assert len(res) == 40 and slab.in_slab(res.images, slab.W1, slab.B1, 0.4, 0.6).all()
    assert res.stats.method == "random-jumps" and res.stats.walk_status == "complete"
    assert res.stats.settings["walk"] == {"kind": "RandomJumps", "sigma": 0.3, "max_steps": 500,
                                          "max_stall_steps": 50}
    assert res.stats.forward_evaluations == K * (res.stats.walker_steps + 1)
    assert res.stats.gradient_evaluations == K * SeedConfig().candidates_per_seed + K * (res.stats.seed_steps + 1)
