"""inverse_set.paper.seeds: the starting codes (inverse_set.paper.starts.select_initial), the seed solve and how it stops, its settings and costs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import Objective, SeedConfig
from inverse_set.core.bands import Bands
from inverse_set.core.loop import SeedStatus
from inverse_set.core.problem import Problem
from inverse_set.paper import seeds, starts

K = 10


def identity(x):
    return x


def first_coordinate(x, indices):
    return x[:1]


def relu_first_coordinate(x, indices):
    return jax.nn.relu(x[:1])


FIRST = Problem(identity, identity, first_coordinate)  # f(c) = c₀, E = identity


def slab_problem(slab):
    return Problem(jax.nn.sigmoid, slab.identity, lambda x, indices: slab.neuron1(x)[None])


def run(problem, codes, z1, z2, config=SeedConfig(), objective=Objective(), reserve=None, stop_when_inside=True):
    """seeds.run, jitted, on a band of one constraint; returns (SeedState, Evaluations) as numpy."""
    fn = jax.jit(lambda codes, lo, hi, reserve: seeds.run(config, objective, problem, codes, Bands(lo, hi), None,
                                                          None, reserve, stop_when_inside))
    return jax.device_get(fn(jnp.asarray(codes, jnp.float32), jnp.array([z1], jnp.float32),
                             jnp.array([z2], jnp.float32), None if reserve is None else jnp.asarray(reserve)))


def start(slab, k=K, key=0):
    return jax.vmap(slab.init)(jax.random.split(jax.random.key(key), k))


# --------------------------------------------------------------------------- the starting codes


def test_spread_selection_starts_near_the_band_and_far_apart():
    bands = Bands(jnp.array([0.0]), jnp.array([1.0]))
    # Four candidates in band at one point, two in band far from it and from each other, two out of band.
    candidates = jnp.array([[0.5, 0.0], [0.5, 0.001], [0.5, 0.002], [0.5, 0.003], [0.5, 5.0], [0.5, -5.0],
                            [3.0, 0.0], [-4.0, 0.0]])
    near, _ = starts.select_initial(FIRST, candidates, bands, None, 3, "nearest")
    spread, reserve = starts.select_initial(FIRST, candidates, bands, None, 3, "spread")
    np.testing.assert_array_equal(near, candidates[:3])  # the nearest, in draw order: one cluster
    assert {tuple(map(float, c)) for c in spread} == {(0.5, 0.0), (0.5, 5.0), (0.5, -5.0)}
    # Every candidate is used once: the chosen, then the reserve (the pool's others, then the rest).
    assert sorted(map(tuple, np.concatenate([spread, reserve]).tolist())) == sorted(map(tuple, candidates.tolist()))


def test_nearest_selection_orders_by_distance_to_the_band_and_puts_nan_last():
    nan_problem = Problem(identity, identity, lambda x, indices: jnp.where(x[1:2] > 0, jnp.nan, x[:1]))
    bands = Bands(jnp.array([0.0]), jnp.array([1.0]))
    candidates = jnp.array([[3.0, 0.0], [0.5, 1.0], [-1.5, 0.0], [0.5, 0.0], [1.2, 0.0]])
    chosen, reserve = starts.select_initial(nan_problem, candidates, bands, None, 2, "nearest")
    np.testing.assert_array_equal(chosen, candidates[jnp.array([3, 4])])  # the in-band one with NaN comes last
    np.testing.assert_array_equal(reserve, candidates[jnp.array([2, 0, 1])])


def test_alive_selection_prefers_codes_where_every_violated_constraint_has_a_gradient():
    relu = Problem(identity, identity, relu_first_coordinate)
    bands = Bands(jnp.array([0.5]), jnp.array([1.0]))
    # relu(c₀) has no gradient for c₀ < 0; out of band but alive for 0 < c₀ < 0.5; in band at 0.7.
    candidates = jnp.array([[-1.0, 0.0], [-2.0, 0.0], [0.2, 0.0], [-3.0, 0.0], [0.7, 0.0], [0.1, 0.0]])
    chosen, reserve = starts.select_initial(relu, candidates, bands, None, 3, "alive")
    np.testing.assert_array_equal(chosen, candidates[jnp.array([2, 4, 5])])  # in draw order
    np.testing.assert_array_equal(reserve, candidates[jnp.array([0, 1, 3])])


def test_choosing_the_starting_codes_costs_a_pass_per_candidate():
    alive, nearest = SeedConfig().initial_evaluations(10), SeedConfig(select="spread").initial_evaluations(10)
    assert (int(alive.gradient), int(alive.forward)) == (40, 0)  # with its Jacobian
    assert (int(nearest.gradient), int(nearest.forward)) == (0, 40)
    assert int(SeedConfig(candidates_per_seed=16, select="nearest").initial_evaluations(3).forward) == 48


# --------------------------------------------------------------------------- the solve and how it stops


def test_the_seeds_reach_the_band_and_stop_there(slab):
    state, evals = run(slab_problem(slab), start(slab), 0.6, 0.7)
    assert SeedStatus(int(state.status)) == SeedStatus.INSIDE
    assert 0 < int(state.step) < SeedConfig().max_steps and state.frozen.all()
    a = slab.activation(slab.sigmoid(state.codes), slab.W1, slab.B1)
    assert ((a >= 0.6 - 1e-6) & (a <= 0.7 + 1e-6)).all()
    np.testing.assert_allclose(state.f[:, 0], a, atol=1e-6)
    assert state.f_max[0] >= 0.6 and state.f_min[0] < 0.6  # started below the band, at about 0.5
    # One forward and backward pass per seed per step; the last call only finds them all inside.
    assert int(evals.gradient) == K * (int(state.step) + 1) and int(evals.forward) == 0
    # A multiplier update ends every inner solve of num_inner_steps steps.
    state2, _ = run(slab_problem(slab), start(slab), 0.6, 0.7, SeedConfig(num_inner_steps=2))
    assert int(state2.step) > 2 and int(state2.num_outer) == int(state2.step) // 2


def test_out_of_steps_the_seeds_stop_at_the_budget(slab):
    state, evals = run(slab_problem(slab), start(slab), 0.9, 0.95, SeedConfig(max_steps=7))
    assert SeedStatus(int(state.status)) == SeedStatus.MAX_STEPS and int(state.step) == 7
    assert int(evals.gradient) == K * 7


def test_an_unreachable_band_approached_too_slowly_is_given_up_at_the_end_of_a_pace_window(slab):
    state, evals = run(slab_problem(slab), start(slab), 1.5, 2.0)  # sigmoid < 1 everywhere: f creeps towards 1
    assert SeedStatus(int(state.status)) == SeedStatus.UNREACHED and state.f_max[0] < 1.0
    steps = int(state.step)
    # Before the patience ran out: the pace of the last window, kept up, would need far more than the budget left.
    assert int(state.nearest_stale) < seeds.GIVE_UP_PATIENCE and int(state.num_outer) >= 1
    assert steps % seeds.PACE_WINDOW == 0 and steps < 2 * seeds.GIVE_UP_PATIENCE + 150
    assert state.needed > seeds.PACE_MARGIN * (SeedConfig().max_steps - steps) and np.isfinite(state.needed)
    assert int(evals.gradient) == K * steps


def test_an_unreachable_band_never_approached_is_given_up_after_the_patience():
    flat = Problem(identity, identity, lambda x, indices: 0.0 * x[:1])  # f = 0 everywhere, band [1, 2]
    state, _ = run(flat, np.random.default_rng(0).normal(size=(K, 2)), 1.0, 2.0)
    assert SeedStatus(int(state.status)) == SeedStatus.UNREACHED
    # the first step sets the nearest distance; none nearer in the GIVE_UP_PATIENCE steps after it
    assert int(state.nearest_stale) == seeds.GIVE_UP_PATIENCE and int(state.step) == seeds.GIVE_UP_PATIENCE + 1
    assert not np.isfinite(state.needed)  # no approach, so no pace to judge by


def test_a_band_reached_at_a_steady_pace_within_the_budget_is_not_given_up():
    # f = c₀ climbs about two learning rates per step from 0: [190, 191] takes some 1700 of the 2000 steps.
    state, _ = run(FIRST, np.zeros((K, 2)) + np.linspace(0, 0.01, K)[:, None], 190.0, 191.0)
    assert SeedStatus(int(state.status)) == SeedStatus.INSIDE and int(state.step) > 1500, int(state.step)


def test_a_starting_code_at_nan_stops_the_search_at_once():
    nan_problem = Problem(identity, identity, lambda x, indices: jnp.log(x[:1]))  # NaN for c₀ < 0
    state, evals = run(nan_problem, [[1.0, 0.0], [-1.0, 0.0]], 0.0, 1.0)
    assert SeedStatus(int(state.status)) == SeedStatus.NON_FINITE and int(state.step) == 0
    assert int(evals.gradient) == 2


def test_without_stopping_inside_every_step_of_the_budget_runs(slab):
    config = SeedConfig(max_steps=30)
    state, evals = run(slab_problem(slab), start(slab), 0.4, 0.6, config, stop_when_inside=False)
    assert SeedStatus(int(state.status)) == SeedStatus.MAX_STEPS and int(state.step) == 30
    assert not state.frozen.any() and int(evals.gradient) == K * 30
    # Stopping inside (the sampler's seeds), the same start is inside at once.
    state, evals = run(slab_problem(slab), start(slab), 0.4, 0.6, config)
    assert SeedStatus(int(state.status)) == SeedStatus.INSIDE and int(state.step) == 0 and int(evals.gradient) == K


def test_a_seed_with_no_gradient_restarts_from_the_reserve():
    # relu(c₀) in [5, 6]: seed 0 climbs (Adam, about learning_rate per step); seed 1 sits where relu is flat.
    relu = Problem(identity, identity, relu_first_coordinate)
    codes, reserve = [[0.1, 0.0], [-1.0, 0.0]], [[0.2, 0.0], [-3.0, 0.0]]
    kw = {"config": SeedConfig(max_steps=600), "objective": Objective(diversity_weight=0.0)}
    state, _ = run(relu, codes, 5.0, 6.0, reserve=reserve, **kw)
    assert SeedStatus(int(state.status)) == SeedStatus.INSIDE and int(state.num_restarts) == 1
    assert int(state.step) > seeds.RESTART_PATIENCE and (state.codes[:, 0] >= 5.0).all()
    # Without a reserve the lost seed stays lost.
    state, _ = run(relu, codes, 5.0, 6.0, **kw)
    assert SeedStatus(int(state.status)) == SeedStatus.MAX_STEPS and int(state.num_restarts) == 0
    np.testing.assert_array_equal(state.codes[1], [-1.0, 0.0])


def test_the_seeds_stay_within_the_code_bounds():
    bounded = Problem(identity, identity, first_coordinate, -0.5, 0.3)
    state, _ = run(bounded, [[0.0, 0.0], [0.1, 0.2], [-0.2, 0.0]], 0.2, 0.25)
    assert SeedStatus(int(state.status)) == SeedStatus.INSIDE
    assert (state.codes >= -0.5).all() and (state.codes <= 0.3).all()


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("bad, error, match", [
    ({"num_inner_steps": 0}, ValueError, r"SeedConfig\(num_inner_steps=0\): num_inner_steps must be ≥ 1"),
    ({"max_steps": 0}, ValueError, "max_steps must be ≥ 1"),
    ({"max_steps": 2.5}, TypeError, "max_steps must be an int"),
    ({"learning_rate": float("nan")}, ValueError, "learning_rate must be a finite number > 0"),
    ({"mu_factor": 0.5}, ValueError, "mu_factor must be a finite number ≥ 1"),
    ({"candidates_per_seed": 0}, ValueError, "candidates_per_seed must be ≥ 1"),
    ({"select": "best"}, ValueError, "select must be one of 'alive', 'nearest', 'spread'"),
])
def test_seed_config_checks_its_own_options(bad, error, match):
    with pytest.raises(error, match=match):
        SeedConfig(**bad)


@pytest.mark.parametrize("removed", ["optimizer", "mu0", "give_up_patience", "stop_when_inside", "margin",
                                     "realism_weight"])
def test_settings_that_moved_are_not_seed_config_fields(removed):
    with pytest.raises(TypeError, match=removed):
        SeedConfig(**{removed: 1})
