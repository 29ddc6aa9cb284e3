"""The particle method on a problem whose answer is known exactly: a linear neuron over N(0, I) codes.

G is the identity on R^d and a(x) = w·x with ‖w‖ = 1, so a(c) ~ N(0, 1) under the prior: the band [a, b] has
probability Φ(b) − Φ(a), the prior restricted to it is N(0, I) with w·c truncated to [a, b], and the component of c
orthogonal to w stays N(0, I − w wᵀ).
"""

import functools
import itertools
import subprocess
import sys
import textwrap
from math import erf, sqrt

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import inverse_set
from inverse_set import (
    InfeasibleBandError,
    InverseSetResult,
    LadderWalk,
    Models,
    SeedConfig,
    get_method,
    sample_inverse_set,
)
from inverse_set.core.bands import Bands
from inverse_set.core.constraints import make_activation_fn, resolve
from inverse_set.core.problem import Problem
from inverse_set.particles import decorrelation, ladder, laws, levels, mass, moves
from inverse_set.particles import state as st
from inverse_set.particles.state import Ladder, LadderState, LadderStatus
from inverse_set.walks.ladder import next_round

D = 6
W = np.array([0.5, -0.5, 0.5, 0.5, 0.0, 0.0], np.float32)  # unit norm
W2 = np.array([0.0, 0.0, 0.0, 0.0, 0.6, 0.8], np.float32)  # unit norm, orthogonal to W
CURVATURE = 0.5


def identity(x):
    return x


def logits(x):
    return {"logits": jnp.stack([jnp.asarray(W) @ x, jnp.asarray(W2) @ x])}


def curved(x):
    """A bent slab, w·c ∈ [a + k y², b + k y²] (y = w2·c): its gradients span {w, w2}, and its far codes (large |y|)
    lie where a law narrower than the prior along w puts almost nothing."""
    return {"logits": jnp.stack([jnp.asarray(W) @ x - CURVATURE * (jnp.asarray(W2) @ x) ** 2, jnp.asarray(W2) @ x])}


SPECS, INDICES, _ = resolve([0], {"logits": (2,)})
SPECS2, INDICES2, _ = resolve([0, 1], {"logits": (2,)})
PROBLEM = Problem(identity, identity, make_activation_fn(SPECS, logits))
PROBLEM2 = Problem(identity, identity, make_activation_fn(SPECS2, logits))
PROBLEM_BOX = Problem(identity, identity, make_activation_fn(SPECS, logits), code_low=-1.0, code_high=1.5)
PROBLEM_CURVED = Problem(identity, identity, make_activation_fn(SPECS, curved))
INDICES_OF = {PROBLEM: INDICES, PROBLEM2: INDICES2, PROBLEM_BOX: INDICES, PROBLEM_CURVED: INDICES}


def phi(t):
    return 0.5 * (1 + erf(t / sqrt(2)))


def truncated_mean(z1, z2):
    grid = np.linspace(z1, z2, 2001)
    density = np.exp(-grid ** 2 / 2)
    return (grid * density).sum() / density.sum()


def agrees(band, exact, sds=3.0):
    """Whether the exact probability is within ``sds`` standard deviations of the estimate (log scale), the sd read
    off the 90% interval ``band = (estimate, low, high)``: about 99.7% of the time for a sound estimate and sd."""
    estimate, low, high = band
    return abs(np.log(estimate) - np.log(exact)) <= sds * np.log(high / low) / (2 * 1.6449)


def bands(z1, z2):
    return Bands(jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32))


@functools.cache
def compiled(problem, settings, n):
    """One compiled ladder per problem, settings and N: the bands and the key are traced (the tests share them)."""
    lad = Ladder(**dict(settings))
    return jax.jit(lambda z1, z2, k: ladder.run(problem, INDICES_OF[problem], Bands(z1, z2), lad, n, D, k))


def climb(problem, z1, z2, n=1000, key=0, **settings):
    """:func:`ladder.run` (the climb, then the band's moves) of N particles; settings are Ladder's fields."""
    changed = {k: v for k, v in settings.items() if getattr(Ladder(), k) != v}  # defaults share one compile
    run = compiled(problem, tuple(sorted(changed.items())), n)
    return run(jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32), jax.random.key(key))


def population(problem, z, z1, z2, centre=None, axes=None, root=None, angle=1.0, key=0):
    """Particles at the codes z (N, d), measured against the band, moved about N(centre, Σ) (default N(0, I))."""
    n, k = z.shape[0], laws.axes_count(D)
    z = jnp.asarray(z, jnp.float32)
    phi_, f, d = levels.measure(problem, INDICES_OF[problem], bands(z1, z2), z)
    scalar = lambda v, dtype=jnp.float32: jnp.asarray(v, dtype)
    own = jnp.arange(n)
    return LadderState(
        particles=st.Particles(z=z, f=f, phi=phi_, distance=d, moved=jnp.ones((n,), bool)),
        lineage=st.Lineage(ancestor=own, parent=own, grandparent=own, start_phi=phi_, start_f=f, memory=scalar(1.0),
                           parent_memory=scalar(0.0), chained=scalar(False, bool)),
        law=st.MovesLaw(
            centre=jnp.zeros_like(z) if centre is None else jnp.broadcast_to(jnp.asarray(centre, jnp.float32), z.shape),
            axes=jnp.zeros((n, D, k), jnp.float32) if axes is None else jnp.broadcast_to(axes, (n, D, k)),
            root=jnp.broadcast_to(jnp.eye(k) if root is None else root, (n, k, k)).astype(jnp.float32),
            angle=scalar(angle)),
        mass=st.MassEstimate(log_mass=scalar(0.0), log_mass_var=scalar(0.0), far_draws=scalar(0.0),
                             far_weight=scalar(0.0), far_weight_sq=scalar(0.0)),
        threshold=scalar(0.0), level=scalar(0, jnp.int32),
        stalled=scalar(0, jnp.int32), moves=scalar(0, jnp.int32), by_rejection=scalar(False, bool),
        forward_passes=jnp.asarray(n), status=scalar(LadderStatus.IN_BAND, jnp.int32), rng_key=jax.random.key(key))


def exact_draws(z1, z2, n, seed):
    """n draws of the prior restricted to w·c ∈ [z1, z2], by rejection in NumPy."""
    draws = np.random.default_rng(seed).normal(size=(int(8 * n / (phi(z2) - phi(z1))), D)).astype(np.float32)
    return draws[(draws @ W >= z1) & (draws @ W <= z2)][:n]


def test_ladder_has_five_settings_and_an_old_one_says_what_replaced_it():
    assert inverse_set.Ladder is Ladder and ladder.LadderStatus is LadderStatus and LadderStatus.IN_BAND == 1
    assert [f for f in Ladder.__dataclass_fields__] == ["decorrelation", "rejection_limit", "max_levels",
                                                        "max_moves_per_level", "max_final_moves"]
    assert hash(Ladder(max_levels=5)) == hash(Ladder(max_levels=5))  # the compiled runs key on it
    for error, settings, match in [
            (TypeError, {"survival": 0.2}, (r"survival=…\) is gone: it is now the constant inverse_set\.particles"
                                            r"\.state\.SURVIVAL")),
            (TypeError, {"centre_apart": False}, r"centre_apart=…\) is gone: it is now nothing: it was a variant"),
            (ValueError, {"decorrelation": 1.0}, "decorrelation"), (ValueError, {"max_levels": 0}, "max_levels"),
            (ValueError, {"max_final_moves": st.FINAL_MOVES - 1}, r"max_final_moves=3\): at least 4"),
            (ValueError, {"max_moves_per_level": st.MOVES_PER_LEVEL - 1}, r"max_moves_per_level=1\): at least 2"),
            (TypeError, {"rejection_limit": 0.5}, "rejection_limit")]:
        with pytest.raises(error, match=match):
            Ladder(**settings)


def test_a_codes_distance_is_in_band_widths_and_infinite_outside_the_box_or_where_not_finite():
    two = bands([1.0, -1.0], [2.0, 1.0])  # widths 1 and 2
    f = jnp.asarray([[1.5, 0.0], [0.5, 0.0], [1.5, 2.0], [3.0, -4.0]])
    np.testing.assert_allclose(levels.distance(two, f), [0.0, 0.5, 0.5, 1.5])  # the larger of the outputs'
    z = np.array([[1, -1, 1, 1, 0, 0],  # w·c = 2: in the band [1.5, 3] and the box [-1, 1.5]
                  [3, -1, 1, 1, 0, 0],  # w·c = 3: in the band, not in the box
                  [1, -2, 1, 1, 0, 0],  # w·c = 2.5: in the band, not in the box
                  [1, 0, 0, 0, 0, 0],  # w·c = 0.5: in the box, 1 below the band (2/3 of a width)
                  [1, -1, 1, 1, 0, 2]], np.float32)  # w·c = 2: in the band, not in the box
    _, f, d = levels.measure(PROBLEM_BOX, INDICES, bands([1.5], [3.0]), jnp.asarray(z))
    np.testing.assert_allclose(np.asarray(f)[:, 0], z @ W)
    assert np.asarray(d).tolist() == [0.0, np.inf, np.inf, pytest.approx(1 / 1.5), np.inf]
    # a non-finite encoding, or a non-finite activation: no level keeps the code
    nan_phi = Problem(identity, lambda x: x / (x[0] > 0), make_activation_fn(SPECS, logits))
    nan_f = Problem(identity, identity, make_activation_fn(SPECS, lambda x: {"logits": jnp.log(x[:2])}))
    codes = jnp.asarray(np.random.default_rng(0).normal(size=(200, D)), jnp.float32)
    for problem, bad in ((nan_phi, codes[:, 0] <= 0), (nan_f, codes[:, 0] < 0)):
        d, bad = np.asarray(levels.measure(problem, INDICES, bands([-50.0], [50.0]), codes)[2]), np.asarray(bad)
        assert 0 < bad.sum() < 200 and (d[bad] == np.inf).all() and (d[~bad] == 0).all()


@pytest.mark.parametrize("z1, z2, limit", [(2.5, 3.0, 100), (-0.3, 0.3, None), (-0.3, 0.3, 100), (3.2, 3.5, 100)])
def test_band_mass_is_the_prior_probability_of_the_band_within_its_interval(z1, z2, limit):
    state = climb(PROBLEM, [z1], [z2], rejection_limit=limit)
    assert int(state.status) == LadderStatus.IN_BAND
    estimate, low, high = mass.band_mass(state)
    exact = phi(z2) - phi(z1)
    assert agrees((estimate, low, high), exact), (estimate, low, high, exact)
    assert 0.5 * exact < estimate < 2 * exact and high / low < 4  # an interval that says something
    # a band with a large share of the prior (0.24 here) is drawn by rejection, the others climb the levels:
    # about log(P) / log(p₀) of them, the last one the band itself
    assert bool(state.by_rejection) == (limit is not None and exact * limit >= 1)
    assert int(state.level) <= int(np.ceil(np.log(exact) / np.log(st.SURVIVAL))) + 2
    if limit is not None and not bool(state.by_rejection):  # the draws that chose the ladder are counted
        assert int(state.forward_passes) >= 10 * limit


@pytest.mark.parametrize("z1, z2", [(2.5, 3.0), (3.2, 3.5)])
def test_the_bands_own_draws_from_the_centre_weighted_by_the_prior_give_its_mass(z1, z2):
    state = climb(PROBLEM, [z1], [z2], rejection_limit=None)
    m, total, squares = float(state.mass.far_draws), float(state.mass.far_weight), float(state.mass.far_weight_sq)
    assert m > 500 and total ** 2 / squares >= st.MIN_WEIGHT_ESS  # importance sampling, not the levels
    exact = phi(z2) - phi(z1)
    estimate, low, high = mass.band_mass(state)
    assert estimate == pytest.approx(total / m) and agrees((estimate, low, high), exact), (estimate, low, high, exact)
    assert abs(np.log(estimate / exact)) < 0.25  # within 25%: without the weights p / q it would be q's share
    by_levels = mass.band_mass(state._replace(mass=state.mass._replace(far_weight=jnp.asarray(0.0))))  # the levels' product of fractions
    assert by_levels[0] == pytest.approx(float(np.exp(state.mass.log_mass)), rel=1e-5)
    assert agrees(by_levels, exact) and high / low < by_levels[2] / by_levels[1]  # a narrower interval
    # weights so small that their squares underflow float32 (a band of mass ~1e-20): the levels' product too
    tiny = state._replace(mass=state.mass._replace(far_weight=jnp.asarray(1e-25, jnp.float32),
                                                   far_weight_sq=jnp.asarray(1e-25, jnp.float32) ** 2))
    assert float(tiny.mass.far_weight_sq) == 0 and mass.band_mass(tiny) == by_levels


def test_intersections_multiply_independent_masses_nested_bands_nest_and_unreachable_bands_stall():
    state = climb(PROBLEM2, [1.5, -2.2], [2.0, -1.8])
    exact = (phi(2.0) - phi(1.5)) * (phi(-1.8) - phi(-2.2))
    assert int(state.status) == LadderStatus.IN_BAND and agrees(mass.band_mass(state), exact)
    inner = mass.band_mass(climb(PROBLEM, [2.6], [2.8]))[0]
    outer = mass.band_mass(climb(PROBLEM, [2.5], [3.0]))[0]
    assert inner < outer
    # a band the code never reaches (the prior's tail is far past float precision): the threshold stops falling,
    # and the ladder says so rather than returning anything
    state = climb(PROBLEM, [40.0], [41.0])
    assert int(state.status) in (LadderStatus.STALLED, LadderStatus.MAX_LEVELS)
    assert not np.asarray(ladder.samples(state)).any()
    # [60, 61] lies 60 widths out and the first levels fall by a fraction of that: the band is beyond the 60
    # levels at their rate, STALLED after a few levels, not MAX_LEVELS
    state = climb(PROBLEM, [60.0], [61.0])
    assert int(state.status) == LadderStatus.STALLED and int(state.level) <= 5


@pytest.mark.parametrize("limit", [100, None])
def test_with_code_bounds_the_target_is_the_prior_restricted_to_the_band_and_the_box(limit):
    state = climb(PROBLEM_BOX, [1.0], [1.4], rejection_limit=limit)
    keep = np.asarray(ladder.samples(state))
    z = np.asarray(state.particles.z)[keep]
    assert keep.mean() > 0.95 and ((z >= -1.0) & (z <= 1.5)).all()
    draws = np.random.default_rng(0).normal(size=(400_000, D))
    inside = np.all((draws >= -1.0) & (draws <= 1.5), axis=1) & (draws @ W >= 1.0) & (draws @ W <= 1.4)
    assert agrees(mass.band_mass(state), inside.mean()), (mass.band_mass(state), inside.mean())
    assert abs((z @ W).mean() - (draws[inside] @ W).mean()) < 0.03


def curved_mass(z1, z2):
    """The curved band's probability under the prior: E_y[Φ(z2 + k y²) − Φ(z1 + k y²)], y ~ N(0, 1)."""
    y = np.linspace(-8, 8, 16001)
    inside = np.vectorize(phi)(z2 + CURVATURE * y ** 2) - np.vectorize(phi)(z1 + CURVATURE * y ** 2)
    return float(np.sum(inside * np.exp(-y ** 2 / 2)) * (y[1] - y[0]) / sqrt(2 * np.pi))


def test_the_band_mass_of_a_bent_band_is_its_probability_though_the_law_fitted_is_narrow():
    # the fitted law is much narrower than the prior along the band's normal, and the bent band's far codes lie where
    # it puts almost nothing: with a share of the fresh draws from N(μ, I) the mass is still the band's probability
    z1, z2 = 2.5, 3.0
    exact = curved_mass(z1, z2)
    runs = [climb(PROBLEM_CURVED, [z1], [z2], key=k, rejection_limit=None) for k in range(3)]
    assert all(int(r.status) == LadderStatus.IN_BAND for r in runs)
    narrowest = np.linalg.eigvalsh(np.einsum("nij,nkj->nik", runs[0].law.root, runs[0].law.root))[:, 0]
    assert float(np.median(narrowest)) < 0.3 ** 2  # the fitted spread is narrow
    ratios = np.array([mass.band_mass(r)[0] / exact for r in runs])
    assert all(agrees(mass.band_mass(r), exact) for r in runs) and abs(np.log(ratios).mean()) < 0.1, ratios
    a = np.concatenate([np.asarray(r.particles.f)[:, 0] for r in runs])
    assert ((a >= z1) & (a <= z2)).all()


HIGH = 128  # dimensions where a particle's own ‖c‖²/m is as large as ‖μ‖²


def test_in_high_dimensions_the_moves_keep_the_law_and_the_mass():
    # With the particle's own code in its law, the moves no longer kept the prior restricted to each level: on w·c
    # in [2.5, 2.7] over N(0, I_128) the levels' product came out ~38% high (log +0.32 over these keys), while the
    # samples' law along w still looked right. Each half of the lines' law is fitted on the other half's codes.
    w = np.random.default_rng(5).normal(size=HIGH).astype(np.float32)
    w /= np.linalg.norm(w)
    specs, indices, _ = resolve([0], {"logits": (1,)})
    problem = Problem(identity, identity, make_activation_fn(specs, lambda x: {"logits": (jnp.asarray(w) @ x)[None]}))
    run = jax.jit(lambda k: ladder.run(problem, indices, bands([2.5], [2.7]), Ladder(rejection_limit=None), 500,
                                       HIGH, k))
    exact = phi(2.7) - phi(2.5)
    logs, means = [], []
    for key in range(6):
        state = run(jax.random.key(key))
        assert int(state.status) == LadderStatus.IN_BAND and int(state.level) >= 3
        logs.append(float(state.mass.log_mass) - np.log(exact))
        means.append(float(np.mean(np.asarray(state.particles.z)[np.asarray(ladder.samples(state))] @ w)))
    # the product's log sd is about 0.19 a run: a mean of six within ±0.15 is 1.9 sd; the old bias was +0.3
    assert abs(np.mean(logs)) < 0.15, logs
    assert abs(np.mean(means) - truncated_mean(2.5, 2.7)) < 0.01, np.mean(means)


def test_the_climb_starts_from_the_pilots_draws_nearest_the_band_and_each_level_moves_until_decorrelated():
    # N = 200 and rejection_limit 100: the pilot draws 1000 codes in five batches before it chooses the ladder, whose
    # first level keeps p₀ N = 80 of all 1000 (a share 0.08 of independent draws): about log 5 / log (1 / p₀) ≈ 1.8
    # levels fewer than from the first 200 draws alone, the band's mass the same
    z1, z2 = 3.2, 3.5
    rows = []
    record = lambda s: jax.debug.callback(
        lambda *v: rows.append(tuple(float(x) for x in v)), s.level, s.threshold, s.moves, s.lineage.memory, s.mass.log_mass)
    runs = {limit: jax.jit(lambda k, lad=Ladder(rejection_limit=limit): ladder.climb(
        PROBLEM, INDICES, bands([z1], [z2]), lad, 200, D, k, record)) for limit in (100, None)}
    counts = {100: [], None: []}
    for key in range(4):
        for limit, run in runs.items():
            rows.clear()
            state = run(jax.random.key(key))
            assert int(state.status) == LadderStatus.IN_BAND and not bool(state.by_rejection)
            counts[limit].append(int(state.level))
            rows.sort()
            assert len(rows) == int(state.level) and [r[0] for r in rows] == list(range(1, len(rows) + 1))
            first = np.exp(rows[0][4])  # the first level's share
            assert first == pytest.approx(0.08 if limit else st.SURVIVAL, rel=1e-4), (limit, first)
            thresholds = [r[1] for r in rows]
            assert thresholds[-1] == 0 and all(a > b for a, b in itertools.pairwise(thresholds))
            # below the band each level moved until ρ ≤ LEVEL_DECORRELATION (at least MOVES_PER_LEVEL, at most
            # max_moves_per_level); the band's own moves are left to the caller
            for _, t, m, rho, _ in rows[:-1]:
                assert m >= st.MOVES_PER_LEVEL and (rho <= st.LEVEL_DECORRELATION or m == Ladder().max_moves_per_level)
            assert rows[-1][2] == 0
            low, high = np.exp(float(state.mass.log_mass) + np.array([-1, 1]) * 1.6449 * np.sqrt(float(state.mass.log_mass_var)))
            assert agrees((float(np.exp(state.mass.log_mass)), low, high), phi(z2) - phi(z1))
            if limit:
                assert int(state.forward_passes) >= 1000 + 200 * int(state.level)  # the pilot's draws counted
    assert np.mean(counts[None]) - np.mean(counts[100]) >= 1, counts


def test_the_particles_are_the_prior_restricted_to_the_band_decorrelated_with_no_repeat():
    z1, z2 = 2.5, 3.0
    state = climb(PROBLEM, [z1], [z2])
    n = state.particles.z.shape[0]
    assert agrees(mass.band_mass(state), phi(z2) - phi(z1))
    # the band's moves stopped by the criterion (ρ ≤ ρ*, or an effective sample size of EFFECTIVE_SHARE N), not at
    # the most moves allowed
    worth = n / float(moves.families_effect(state, jnp.ones((n,), bool)))
    assert float(state.lineage.memory) <= Ladder().decorrelation or worth >= st.EFFECTIVE_SHARE * n
    assert bool(moves.decorrelated(Ladder(), state)) and bool(moves.settled(Ladder(), state))
    assert st.FINAL_MOVES <= int(state.moves) < Ladder().max_final_moves
    keep = np.asarray(ladder.samples(state))
    z = np.asarray(state.particles.z)[keep]
    a = z @ W
    assert keep.all() and ((a >= z1) & (a <= z2)).all()
    assert len(np.unique(z, axis=0)) == len(z)  # no sample twice
    # the truncated normal's mean, and the orthogonal part still N(0, I − w wᵀ)
    assert abs(a.mean() - truncated_mean(z1, z2)) < 0.03
    assert abs(z[:, 4].std() - 1.0) < 0.1 and abs(z[:, 4].mean()) < 0.1
    assert len(np.unique(np.asarray(state.lineage.ancestor)[keep])) > 50  # from many first draws, not a few
    # the lag correlation is what it says: near 1 for particles that barely moved, near 0 for independent ones
    z0, f0 = np.asarray(state.particles.z), np.asarray(state.particles.z) @ W[:, None]
    assert float(decorrelation.memory(z0, f0, z0 + 0.01, f0 + 0.01)) > 0.99
    shuffled = np.random.default_rng(0).permutation(n)  # the same law, independent of where each started
    assert abs(float(decorrelation.memory(z0, f0, z0[shuffled], f0[shuffled]))) < 0.1
    # copies of a few particles are worth fewer independent draws than as many rejection draws
    assert 0 < decorrelation.effective_sample_size(state.lineage.parent, state.lineage.memory, keep) <= keep.sum()
    assert decorrelation.effective_sample_size(jnp.zeros_like(state.lineage.parent), jnp.asarray(0.5), keep) < 5
    drawn = climb(PROBLEM, [-0.3], [0.3])
    assert bool(drawn.by_rejection) and bool(moves.settled(Ladder(), drawn)) and int(drawn.moves) == 0
    assert decorrelation.effective_sample_size(drawn.lineage.parent, drawn.lineage.memory, ladder.samples(drawn)) == n


def test_the_bands_moves_stop_at_rho_star_or_at_the_effective_sample_size_of_small_families():
    n = 100
    base = population(PROBLEM, exact_draws(2.5, 3.0, n, 0), [2.5], [3.0])._replace(moves=jnp.asarray(st.FINAL_MOVES))
    pairs, fives = jnp.arange(n) // 2 * 2, jnp.arange(n) // 5 * 5
    def case(parent, rho, moved=None, chained=False, **kw):
        lineage = base.lineage._replace(parent=parent, grandparent=parent, memory=jnp.asarray(rho, jnp.float32),
                                        chained=jnp.asarray(chained))
        particles = base.particles if moved is None else base.particles._replace(moved=moved)
        return base._replace(lineage=lineage, particles=particles, **kw)

    lad = Ladder()
    assert bool(moves.decorrelated(lad, case(pairs, 0.4)))  # ρ > ρ*, but pairs: an ESS of N / (1 + ρ²) = 0.86 N
    assert not bool(moves.decorrelated(lad, case(fives, 0.4)))  # families of five: 0.61 N
    assert bool(moves.decorrelated(lad, case(fives, 0.2)))  # ρ ≤ ρ*
    assert not bool(moves.decorrelated(lad, case(fives, 0.2, moves=jnp.asarray(st.FINAL_MOVES - 1))))  # too few
    # a later round counts ρ alone (each particle against its own last sample)
    assert not bool(moves.decorrelated(lad, case(pairs, 0.4, chained=True)))
    # settled: decorrelated with no repeat left, or at the most moves
    repeat = jnp.arange(n) > 0
    assert bool(moves.settled(lad, case(fives, 0.2))) and not bool(moves.settled(lad, case(fives, 0.2, moved=repeat)))
    assert bool(moves.settled(lad, case(fives, 0.9, moved=repeat, moves=jnp.asarray(lad.max_final_moves))))
    # rejection draws are settled from the start, but a round after them is not (next_round: chained)
    drawn = base._replace(by_rejection=jnp.asarray(True), moves=jnp.asarray(0))
    assert bool(moves.settled(lad, drawn))
    after = next_round(drawn)
    assert not bool(moves.settled(lad, after)) and bool(after.lineage.chained) and not np.asarray(after.particles.moved).any()
    assert float(after.lineage.memory) == 1 and int(after.moves) == 0 and (np.asarray(after.lineage.parent) == np.arange(n)).all()


def test_the_repeats_left_are_moved_alone_a_batch_at_a_time():
    z1, z2 = 2.5, 3.0
    state = climb(PROBLEM, [z1], [z2])
    n = state.particles.z.shape[0]
    copy = jnp.arange(n).at[:5].set(jnp.arange(5, 10))  # five particles become unmoved copies of the next five
    state = state._replace(particles=st.Particles(*(a[copy] for a in state.particles[:4]), moved=jnp.arange(n) >= 5))
    step = jax.jit(lambda s: moves.move_repeats(PROBLEM, INDICES, bands([z1], [z2]), s, 8))
    before, passes = np.asarray(state.particles.z), int(state.forward_passes)
    for i in range(200):
        state = step(state)
        if np.asarray(state.particles.moved).all():
            break
    z = np.asarray(state.particles.z)
    assert np.asarray(state.particles.moved).all() and int(state.forward_passes) == passes + 8 * (i + 1)  # 8 codes a move
    np.testing.assert_array_equal(z[5:], before[5:])  # the others did not move
    assert (z[:5] != before[:5]).any(axis=1).all()  # each repeat left where it was copied
    a = z[:5] @ W
    assert ((a >= z1) & (a <= z2)).all() and len(np.unique(z, axis=0)) == n  # in band, no sample twice


def test_the_repeats_batch_is_32_codes_or_a_share_of_N_where_that_is_more():
    z1, z2 = 2.5, 3.0
    state = climb(PROBLEM, [z1], [z2])
    n = state.particles.z.shape[0]
    unmoved = lambda s: s._replace(particles=s.particles._replace(moved=jnp.zeros_like(s.particles.moved)))
    for copies in (1, -(-40 * st.REPEAT_SHARE // n)):  # N = n, then N ≥ 40 × REPEAT_SHARE
        big = jax.tree.map(lambda a, copies=copies: jnp.concatenate([a] * copies) if a.ndim and a.shape[0] == n else a, state)
        size = n * copies
        moved = moves.move_repeats(PROBLEM, INDICES, bands([z1], [z2]), unmoved(big))
        batch = max(st.REPEAT_BATCH, size // st.REPEAT_SHARE)
        assert int(moved.forward_passes) - int(big.forward_passes) == batch, (size, batch)
        assert 0 < int(np.asarray(moved.particles.moved).sum()) <= batch


def test_the_moves_angle_follows_the_acceptance_rate_and_keeps_the_law():
    z1, z2 = 2.5, 3.0
    band = bands([z1], [z2])
    # rotations about N(μ, I), μ the band's mean (the law fitted along w stays in this linear band at any angle)
    start = population(PROBLEM, exact_draws(z1, z2, 1000, 1), [z1], [z2], centre=truncated_mean(z1, z2) * W)
    move = jax.jit(lambda s: moves.move(PROBLEM, INDICES, band, s, jnp.asarray(0.0)))
    angles = []
    for h in (np.pi, 1e-3):  # far too wide, far too narrow
        s = start._replace(law=start.law._replace(angle=jnp.asarray(h, jnp.float32)))
        for _ in range(40):
            s = move(s)
        accept, rotated = (np.asarray(v) for v in moves.propose(
            PROBLEM, INDICES, band, s.particles.z, s.law.centre, s.law.axes, s.law.root, s.law.angle, jnp.asarray(0.0), jax.random.key(9))[:2])
        assert abs(accept[rotated].mean() - st.ACCEPTANCE) < 0.1, (h, accept[rotated].mean(), float(s.law.angle))
        angles.append(float(s.law.angle))
        a = np.asarray(s.particles.z) @ W
        assert ((a >= z1) & (a <= z2)).all() and abs(a.mean() - truncated_mean(z1, z2)) < 0.03
    assert 0.5 < angles[0] / angles[1] < 2, angles  # from either end, the same angle


SPAN = np.stack([W + W2, W - W2, np.zeros(D), np.zeros(D), np.zeros(D), np.zeros(D)], axis=1) / sqrt(2)
ROOT = np.eye(D, dtype=np.float32)
ROOT[:2, :2] = np.linalg.cholesky(np.array([[0.16, 0.1], [0.1, 1.5]]))


@pytest.mark.parametrize("fitted", [False, True], ids=["identity", "fitted"])
def test_moves_about_any_centre_keep_the_prior_restricted_to_the_band(fitted):
    # rotations about μ ≠ 0 keep N(μ, Σ), not the prior: without the Metropolis–Hastings test the particles would
    # drift towards μ, along W inside the band and along W2, which no band holds (Σ's axes here mix W and W2)
    z1, z2 = 1.0, 1.5
    start = exact_draws(z1, z2, 2000, 3)
    law = {"axes": jnp.asarray(SPAN, jnp.float32), "root": jnp.asarray(ROOT)} if fitted else {}
    state = population(PROBLEM, start, [z1], [z2], centre=1.2 * W + 0.6 * W2, angle=0.5, **law)
    move = jax.jit(lambda s: moves.move(PROBLEM, INDICES, bands([z1], [z2]), s, jnp.asarray(0.0)))
    for _ in range(150):
        state = move(state)
    z = np.asarray(state.particles.z)
    assert np.mean(np.any(z != start, axis=1)) > 0.8 and ((z @ W >= z1) & (z @ W <= z2)).all()
    assert abs((z @ W).mean() - truncated_mean(z1, z2)) < 0.02, (z @ W).mean()
    assert abs((z @ W2).mean()) < 0.08 and abs((z @ W2).std() - 1) < 0.06, ((z @ W2).mean(), (z @ W2).std())


def test_the_fresh_draws_weight_is_the_priors_ratio_to_their_mixture_and_those_from_n_mu_i_give_the_mass():
    rng = np.random.default_rng(1)
    m, k = 200, 4
    c, mu = rng.normal(size=(m, D)) * 3, rng.normal(size=(m, D)) * 2
    axes = np.linalg.qr(rng.normal(size=(m, D, k)))[0]
    axes[:, :, -1] = 0  # an axis the gradients do not span: none, and L = I there
    root = np.tril(rng.normal(size=(m, k, k)) * 0.3, -1) + np.eye(k) * rng.uniform(0.3, 1.5, size=(m, 1, 1))
    root[:, -1, :] = root[:, :, -1] = 0
    root[:, -1, -1] = 1
    sigma = np.eye(D) + np.einsum("mdk,mkl,mel->mde", axes, root @ root.transpose(0, 2, 1) - np.eye(k), axes)
    log_p = -0.5 * np.sum(c ** 2, axis=1)  # the densities' common constant cancels in every ratio
    x = c - mu
    log_q_fit = -0.5 * np.einsum("md,mde,me->m", x, np.linalg.inv(sigma), x) - 0.5 * np.linalg.slogdet(sigma)[1]
    log_q_iso = -0.5 * np.sum(x ** 2, axis=1)  # N(c; μ, I)
    law = [jnp.asarray(a, jnp.float32) for a in (mu, axes, root, c)]
    np.testing.assert_allclose(laws.gaussian_log_weight(*law), log_p - log_q_fit, rtol=1e-4, atol=2e-3)
    for beta in (0.0, st.ISOTROPIC_SHARE, 1.0):
        got = np.asarray(moves.log_weight(*law, isotropic=beta))
        mixture = np.logaddexp(np.log(beta) + log_q_iso if beta else -np.inf,
                               np.log(1 - beta) + log_q_fit if beta < 1 else -np.inf)
        np.testing.assert_allclose(got, log_p - mixture, rtol=1e-4, atol=2e-3)
        # with a share β from N(μ, I), the weights are at most those of N(μ, I) alone over β
        assert not beta or (got <= log_p - log_q_iso - np.log(beta) + 1e-3).all()
    np.testing.assert_allclose(moves.log_weight(*law), moves.log_weight(*law, isotropic=st.ISOTROPIC_SHARE))
    # Σ^½ ν has law N(0, Σ)
    nu = jnp.asarray(rng.normal(size=(20000, D)), jnp.float32)
    tile = lambda a: jnp.broadcast_to(jnp.asarray(a[:1], jnp.float32), (20000,) + a.shape[1:])
    step = np.asarray(laws.root_covariance(tile(axes), tile(root), nu))
    np.testing.assert_allclose(np.cov(step.T), sigma[0], atol=0.05)
    # a move's fresh draws from N(μ, I) alone are counted for the band's mass, weighted p / N(μ, I) where in band
    n, mu = 20000, 2.7 * W
    accept, rotated, counted, z_new, _, _, d_new, weight = (np.asarray(v) for v in moves.propose(
        PROBLEM, INDICES, bands([2.5], [3.0]), nu, jnp.broadcast_to(jnp.asarray(mu), (n, D)),
        jnp.broadcast_to(jnp.asarray(SPAN, jnp.float32), (n, D, D)), jnp.broadcast_to(jnp.asarray(ROOT), (n, D, D)),
        jnp.asarray(0.5), jnp.asarray(0.0), jax.random.key(1)))
    far = ~rotated
    assert abs(far.mean() - st.INDEPENDENT_SHARE) < 0.02
    assert not (counted & rotated).any() and abs(counted.sum() / far.sum() - st.ISOTROPIC_SHARE) < 0.03
    hit = counted & (d_new <= 0)
    assert (weight[~hit] == 0).all() and hit.sum() > 100
    np.testing.assert_allclose(weight[hit], np.exp(0.5 * mu @ mu - z_new[hit] @ mu), rtol=1e-4)
    assert not (accept & (d_new > 0)).any()  # nothing outside the level is accepted


def test_the_law_in_the_gradients_span_is_fitted_on_the_other_half_of_the_lines_alone():
    """On the bent band f = w·c − k (w2·c)², the gradients w − 2k (w2·c) w2 span {w, w2}: the fitted law's axes lie
    there (the others zero, Σ = I and μ = 0 along them), μ and L Lᵀ are the other half's kept codes' mean and
    covariance along them, and no particle's law moves when its own half's codes do."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(400, D)).astype(np.float32) + 1.5 * W
    kept = rng.uniform(size=400) < 0.7
    lines = np.arange(400) // 3  # lines of three copies
    fit = jax.jit(lambda z, key: laws.subspace_law(PROBLEM_CURVED, INDICES, z, jnp.asarray(kept),
                                                    jnp.asarray(lines), key))
    mu, axes, root, cost = fit(jnp.asarray(z), jax.random.key(0))
    mu, axes, root = np.asarray(mu), np.asarray(axes), np.asarray(root)
    k = laws.axes_count(D)
    assert k == D and laws.axes_count(100) == st.AXES
    assert cost == laws.fit_cost(400, 1) == 2 * st.GRADIENTS * 3
    assert axes.shape == (400, D, k) and root.shape == (400, k, k)
    span = np.stack([W, W2], axis=1)
    for i in (0, 3, 200, 399):  # an even line and an odd one, from each end
        supported = np.linalg.norm(axes[i], axis=0) > 0.5
        assert supported.sum() == 2 and not axes[i][:, ~supported].any()  # two axes, the others none
        np.testing.assert_allclose(span.T @ axes[i][:, supported] @ axes[i][:, supported].T @ span, np.eye(2),
                                   atol=1e-4)  # they span {w, w2}
        other = kept & (lines % 2 != lines[i] % 2)
        y = z[other] @ axes[i][:, supported]
        np.testing.assert_allclose(mu[i], axes[i][:, supported] @ y.mean(0), atol=1e-4)
        sigma = root[i] @ root[i].T
        np.testing.assert_allclose(sigma[np.ix_(supported, supported)], np.cov(y.T), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(sigma[np.ix_(~supported, ~supported)], np.eye(k - 2), atol=1e-6)
    # the even lines' own codes moved: their law stays, the odd lines' (fitted on them) changes
    even = (lines % 2 == 0)[:, None]
    moved = np.asarray(fit(jnp.asarray(np.where(even, z + 0.3 * W2, z)), jax.random.key(0))[0])
    np.testing.assert_allclose(moved[even[:, 0]], mu[even[:, 0]], atol=1e-5)
    assert np.abs(moved[~even[:, 0]] - mu[~even[:, 0]]).max() > 0.1


def test_forward_substitution_solves_a_lower_triangular_system():
    root = jnp.tril(jax.random.normal(jax.random.key(0), (6, 5, 5))) + 3 * jnp.eye(5)
    y = jax.random.normal(jax.random.key(1), (6, 5))
    x = laws.forward_substitution(root, y)
    np.testing.assert_allclose(np.einsum("mij,mj->mi", root, x), y, atol=1e-5)
    np.testing.assert_allclose(x, np.linalg.solve(np.asarray(root), np.asarray(y)[..., None])[..., 0], atol=1e-5)


HANG_CHECK = textwrap.dedent("""
    import jax, jax.numpy as jnp
    import generators
    from inverse_set import make_sampler
    from inverse_set.core.bands import Bands
    from inverse_set.particles import ladder
    n = 4608
    zoo = generators.load("fashion")
    s = zoo.stats["logits_by_class"]["7"]
    z1, z2 = s["p95"] - (s["p75"] - s["p25"]) / 4, s["p95"] + (s["p75"] - s["p25"]) / 4
    sampler = make_sampler(7, n, models=zoo)
    lo, hi = sampler.compiled.solver_bands([z1], [z2])
    problem, bands = sampler.compiled.problem, Bands(jnp.asarray(lo), jnp.asarray(hi))
    dim = jax.eval_shape(sampler.compiled.init_fn, jax.random.key(0)).shape[-1]
    lad = ladder.Ladder(rejection_limit=None, max_levels=1, max_moves_per_level=4)
    state = jax.jit(lambda k: ladder.climb(problem, sampler.indices, bands, lad, n, dim, k))(jax.random.key(0))
    print("moves", int(state.moves), "passes", int(state.forward_passes))
""")


def test_the_moves_run_past_4500_particles_on_the_bundled_models_without_hanging():
    # With the law's weights through jax.scipy.linalg.solve_triangular, XLA's CPU runtime (jax 0.10.2, 2 cores)
    # waited forever, every thread idle, at the second move of a level of N ≥ 4500 particles (4000 ran): any call
    # with n ≥ 4500 hung. They are solved row by row since (laws.forward_substitution).
    try:
        proc = subprocess.run([sys.executable, "-c", HANG_CHECK], capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("a level of 4608 particles did not finish its moves in 240 s (it takes about 15): hung")
    assert proc.returncode == 0, proc.stderr[-3000:]
    moves_done, passes = (int(v) for v in proc.stdout.split()[1::2])
    assert moves_done >= 2 and passes >= 3 * 4608  # the first draws and at least two moves of every particle


def test_the_design_effect_is_the_mean_correlation_of_the_samples_by_their_lineage():
    # eight particles: four families of two copies, nested in two families of the resampling before
    parent = jnp.array([0, 0, 2, 2, 4, 4, 6, 6])
    grandparent = jnp.array([0, 0, 0, 0, 5, 5, 5, 5])
    counted = jnp.ones((8,), bool)
    rho, before = 0.5, 0.6
    alone = float(decorrelation.design_effect(parent, rho, counted))
    assert alone == pytest.approx(1 + (2 - 1) * rho ** 2)  # one sibling each, correlated ρ²
    both = float(decorrelation.design_effect(parent, rho, counted, grandparent, before))
    assert both == pytest.approx(alone + (4 - 2) * before ** 2 * rho ** 2)  # two cousins each, ρ_b² ρ²
    # the grandparents add nothing where they are the parents (the first level), or where ρ_b is 0
    assert float(decorrelation.design_effect(parent, rho, counted, parent, before)) == pytest.approx(alone)
    assert float(decorrelation.design_effect(parent, rho, counted, grandparent, 0.0)) == pytest.approx(alone)
    assert decorrelation.effective_sample_size(parent, rho, counted, grandparent, before) == pytest.approx(8 / both)
    # twelve particles, three resamplings back: two whose families first coincide k resamplings back correlate
    # Π_{j≤k} ρ_j², and the design effect is the mean over the counted particles of their summed correlations
    families = [jnp.array([0, 0, 2, 2, 2, 5, 6, 6, 8, 9, 9, 9]),  # the parents
                jnp.array([0, 0, 0, 0, 0, 5, 5, 5, 8, 8, 8, 8]),  # the grandparents
                jnp.array([1, 1, 1, 1, 1, 1, 1, 1, 8, 8, 8, 8])]
    rhos = [0.5, 0.7, 0.8]
    counted = jnp.array([True] * 11 + [False])
    fam, c = np.stack([np.asarray(f) for f in families]), np.asarray(counted)
    corr = np.eye(12)
    for i in range(12):
        for j in range(12):
            shared = [k for k in range(3) if fam[k, i] == fam[k, j]]
            if i != j and shared:
                corr[i, j] = np.prod(np.square(rhos[: shared[0] + 1]))
    brute = corr[np.ix_(c, c)].sum() / c.sum()
    assert float(decorrelation.lineage_design_effect(families, rhos, counted)) == pytest.approx(brute, rel=1e-5)
    # the two levels the band's stop counts are the first two terms; older families only add
    two = float(decorrelation.design_effect(families[0], rhos[0], counted, families[1], rhos[1]))
    assert two == pytest.approx(float(decorrelation.lineage_design_effect(families[:2], rhos[:2], counted)))
    assert two < brute


def test_the_clustered_variance_of_a_share_is_binomial_for_independent_particles_and_larger_for_lines():
    rng = np.random.default_rng(1)
    hit = rng.uniform(size=4000) < 0.3
    share = hit.mean()
    alone = float(decorrelation.clustered_variance(jnp.asarray(hit), jnp.arange(4000)))
    assert alone == pytest.approx(share * (1 - share) / 4000, rel=1e-4)
    # 40 lines of 100 particles that all hit or all miss together: the share is worth 40 draws, not 4000
    line_hits = rng.uniform(size=40) < 0.3
    lines = np.repeat(np.arange(40), 100)
    together = float(decorrelation.clustered_variance(jnp.asarray(line_hits[lines]), jnp.asarray(lines)))
    assert together == pytest.approx(line_hits.mean() * (1 - line_hits.mean()) / 40, rel=1e-4)


# The method: prior-ladder through the public API, on a Gaussian-input generator.
GAUSSIAN = {"generator": identity, "encoder": identity, "init": D, "target": logits}


def test_prior_ladder_returns_n_distinct_in_band_samples_and_the_band_mass(capsys):
    res = sample_inverse_set(0, 2.5, 3.0, 300, models=Models(**GAUSSIAN),
                             method="prior-ladder", rng_key=1, progress=True)
    err = capsys.readouterr().err
    assert "ladder: 1 (the band relaxed by" in err and "samples: 300/300" in err and "seeds:" not in err
    a = np.asarray(res.images, np.float64) @ W.astype(np.float64)  # recomputed outside the package
    assert len(res) == 300 and ((a >= 2.5) & (a <= 3.0)).all()
    assert len(np.unique(res.codes, axis=0)) == 300
    s = res.stats
    assert s.method == "prior-ladder" and s.walk_status == "complete" and s.population_start == "prior"
    assert agrees(s.band_mass, phi(3.0) - phi(2.5)) and s.ladder_levels >= 2 and s.distinct_ancestors > 20
    # decorrelated: ρ ≤ ρ*, or (small families) an effective sample size of EFFECTIVE_SHARE N
    assert s.decorrelation <= Ladder().decorrelation or s.effective_sample_size >= st.EFFECTIVE_SHARE * 300 - 1e-3
    assert 0 < s.effective_sample_size <= 300
    # the ladder reached the band from the prior: no seed was needed, none ran, no gradient was taken
    assert s.seed_status == "skipped" and s.seed_steps == 0 and s.gradient_evaluations == 0
    assert res.seeds.shape == (0, D)
    assert s.forward_evaluations > 0 and s.settings["walk"]["kind"] == "LadderWalk"


def test_a_ladder_result_saves_and_loads_with_its_band_mass(tmp_path):
    res = sample_inverse_set(0, 0.0, 0.5, 40, models=Models(**GAUSSIAN), method="prior-ladder",
                             rng_key=2)
    res.save(tmp_path / "r")
    back = InverseSetResult.load(tmp_path / "r")
    assert tuple(back.stats.band_mass) == pytest.approx(res.stats.band_mass)
    # a band with a fifth of the prior: drawn by rejection, every sample an independent draw
    assert back.stats.population_start == "rejection" and back.stats.ladder_levels == res.stats.ladder_levels == 0
    assert back.stats.effective_sample_size == res.stats.effective_sample_size == 40
    # its cost is its draws: whole batches of N = 40 prior codes, counted once, forward passes only
    assert res.stats.forward_evaluations % 40 == 0 and res.stats.forward_evaluations >= 40 / 0.25
    assert res.stats.gradient_evaluations == 0
    assert agrees(res.stats.band_mass, phi(0.5) - phi(0.0))


@pytest.mark.parametrize("z1, z2, start", [(2.5, 3.0, "prior"), (0.0, 0.5, "rejection")])
def test_fewer_particles_than_samples_give_them_in_rounds_each_decorrelated_with_the_law_kept(z1, z2, start):
    method = get_method("prior-ladder").replace(walk=LadderWalk(num_particles=100))
    res = sample_inverse_set(0, z1, z2, 450, models=Models(**GAUSSIAN), method=method,
                             rng_key=3)
    s = res.stats
    a = np.asarray(res.images, np.float64) @ W.astype(np.float64)
    assert len(res) == 450 and ((a >= z1) & (a <= z2)).all() and len(np.unique(res.codes, axis=0)) == 450
    assert s.walk_status == "complete" and s.rounds >= 5 and s.population_start == start
    # the last round, too, moved until ρ ≤ ρ* (no families to count after the first round)
    assert s.decorrelation <= Ladder().decorrelation
    # samples of one particle in consecutive rounds correlate: worth fewer than 450 draws, but more than the particles
    assert 100 < s.effective_sample_size < 450
    # the prior restricted to the band: the truncated normal's mean along w, N(0, 1) across it
    assert abs(a.mean() - truncated_mean(z1, z2)) < 0.03
    across = np.asarray(res.codes)[:, 4]
    assert abs(across.std() - 1.0) < 0.1 and abs(across.mean()) < 0.12
    assert agrees(s.band_mass, phi(z2) - phi(z1))


@pytest.mark.filterwarnings("ignore::inverse_set.IncompleteSampleWarning")  # a copy or two may never move
def test_prior_ladder_starts_from_the_seeds_where_the_ladder_cannot_reach_the_band_and_says_so():
    method = get_method("prior-ladder").replace(walk=LadderWalk(Ladder(max_levels=5)))
    res = sample_inverse_set(0, 40.0, 41.0, 30, models=Models(**GAUSSIAN), method=method,
                             rng_key=0)
    a = np.asarray(res.images, np.float64) @ W.astype(np.float64)
    assert res.stats.population_start == "seeds" and res.stats.band_mass is None
    assert res.stats.seed_status == "inside" and res.stats.gradient_evaluations > 0 and res.seeds.shape == (10, D)
    assert len(res) >= 10 and ((a >= 40.0) & (a <= 41.0)).all() and len(np.unique(res.codes, axis=0)) == len(res)


def test_where_only_some_seeds_reach_the_band_the_population_starts_from_those():
    models = Models(**GAUSSIAN)
    partial = 0
    for steps in (316, 312, 319):  # here the ten seeds reach [40, 41] one after another over steps 312–322
        seeds = SeedConfig(select="spread", candidates_per_seed=16, max_steps=steps)
        method = get_method("prior-ladder").replace(walk=LadderWalk(Ladder(max_levels=5)), seeds=seeds)
        res = sample_inverse_set(0, 40.0, 41.0, 30, models=models, method=method, rng_key=0)
        a0 = res.seed_activations[:, 0]
        inside = int(np.sum((a0 >= 40.0) & (a0 <= 41.0)))
        if res.stats.seed_status != "max_steps":
            continue
        partial += 1
        a = np.asarray(res.images, np.float64) @ W.astype(np.float64)
        assert 0 < inside < 10 and res.stats.population_start == "seeds"
        assert len(res) == 30 and ((a >= 40.0) & (a <= 41.0)).all() and len(np.unique(res.codes, axis=0)) == 30
        assert res.stats.distinct_ancestors <= inside  # copies of the seeds in band only
        # the paper's walk needs every seed: the same seeds are an error there
        with pytest.raises(InfeasibleBandError, match=f"{inside} of 10 were inside"):
            sample_inverse_set(0, 40.0, 41.0, 30, models=models, rng_key=0,
                               method=get_method("prior-slice").replace(seeds=seeds))
        break  # one such run shows the case; the other budgets are there for a platform whose seeds run apart
    assert partial, "no run ended with only some seeds in band: the step budgets above no longer show the case"
