"""The ladder of relaxed bands on a problem whose answer is known exactly: a linear neuron over N(0, I) codes.

G is the identity on R^d and a(x) = w·x with ‖w‖ = 1, so a(c) ~ N(0, 1) under the prior: the band [a, b] has
probability Φ(b) − Φ(a), the prior restricted to it is N(0, I) with w·c truncated to [a, b], and the component of c
orthogonal to w stays N(0, I − w wᵀ).
"""

import functools
import subprocess
import sys
import textwrap
from math import erf, sqrt

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set.particles import decorrelation, ladder, laws, moves
from inverse_set.core.bands import Bands
from inverse_set.core.constraints import make_activation_fn, resolve
from inverse_set.core.problem import Problem

D = 6
W = np.array([0.5, -0.5, 0.5, 0.5, 0.0, 0.0], np.float32)  # unit norm
W2 = np.array([0.0, 0.0, 0.0, 0.0, 0.6, 0.8], np.float32)  # unit norm, orthogonal to W


def identity(x):
    return x


def logits(x):
    return {"logits": jnp.stack([jnp.asarray(W) @ x, jnp.asarray(W2) @ x])}


CURVATURE = 0.5


def curved(x):
    """A neuron whose band is a bent slab, w·c ∈ [a + k y², b + k y²] (y = w2·c): along w, the band's rare far
    codes (large |y|) lie where a law narrower than the prior along w puts almost nothing."""
    return {"logits": jnp.stack([jnp.asarray(W) @ x - CURVATURE * (jnp.asarray(W2) @ x) ** 2, jnp.asarray(W2) @ x])}


SPECS, INDICES, _ = resolve([0], {"logits": (2,)})
PROBLEM = Problem(identity, identity, make_activation_fn(SPECS, logits))
SPECS2, INDICES2, _ = resolve([0, 1], {"logits": (2,)})
PROBLEM2 = Problem(identity, identity, make_activation_fn(SPECS2, logits))
PROBLEM_BOX = Problem(identity, identity, make_activation_fn(SPECS, logits), code_low=-1.0, code_high=1.5)
PROBLEM_CURVED = Problem(identity, identity, make_activation_fn(SPECS, curved))
INDICES_OF = {PROBLEM: INDICES, PROBLEM2: INDICES2, PROBLEM_BOX: INDICES, PROBLEM_CURVED: INDICES}


def phi(t):
    return 0.5 * (1 + erf(t / sqrt(2)))


def agrees(mass, exact, sds=3.0):
    """Whether the exact probability is within ``sds`` standard deviations of the estimate (log scale), the sd read
    off the 90% interval ``mass = (estimate, low, high)``: about 99.7% of the time for a sound estimate and sd."""
    estimate, low, high = mass
    return abs(np.log(estimate) - np.log(exact)) <= sds * np.log(high / low) / (2 * 1.6449)


@functools.lru_cache(maxsize=None)
def compiled(problem, settings, n):
    """One compiled ladder per problem, settings and N: the bands and the key are traced (the tests share them)."""
    lad = ladder.Ladder(**dict(settings))
    return jax.jit(lambda z1, z2, k: ladder.run(problem, INDICES_OF[problem], Bands(z1, z2), lad, n, D, k))


def climb(problem, indices, z1, z2, n=1000, key=0, **settings):
    assert indices is INDICES_OF[problem]
    changed = {k: v for k, v in settings.items() if getattr(ladder.Ladder(), k) != v}  # defaults share one compile
    run = compiled(problem, tuple(sorted(changed.items())), n)
    return run(jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32), jax.random.key(key))


@pytest.mark.parametrize("z1, z2, limit", [(2.5, 3.0, 30), (-0.3, 0.3, None), (-0.3, 0.3, 30), (3.2, 3.5, 30)])
def test_band_mass_is_the_prior_probability_of_the_band_within_its_interval(z1, z2, limit):
    state = climb(PROBLEM, INDICES, [z1], [z2], rejection_limit=limit)
    assert int(state.status) == ladder.LadderStatus.IN_BAND
    estimate, low, high = ladder.band_mass(state)
    exact = phi(z2) - phi(z1)
    assert agrees((estimate, low, high), exact), (estimate, low, high, exact)
    assert 0.5 * exact < estimate < 2 * exact and high / low < 4  # an interval that says something
    # a band with a large share of the prior (0.24 here) is drawn by rejection, the others climb the levels:
    # about log(P) / log(p0) of them, the last one the band itself
    assert bool(state.by_rejection) == (limit is not None and exact * limit >= 1)
    assert int(state.level) <= int(np.ceil(np.log(exact) / np.log(ladder.Ladder().survival))) + 2
    if limit is not None and not bool(state.by_rejection):  # the draws that chose the ladder are counted
        assert int(state.forward_passes) >= 10 * limit


def test_the_moves_go_on_until_the_particles_forget_where_they_were_copied():
    state = climb(PROBLEM, INDICES, [2.5], [3.0], decorrelation=0.15, effective_share=0.99)
    keep = np.asarray(ladder.samples(state))
    # stopped by the criterion, not by the most moves allowed (an ESS of 0.99 N asks for ρ ≈ 0.05: ρ* decides)
    assert float(state.memory) <= 0.15 and 2 <= int(state.moves) < ladder.Ladder().max_final_moves and keep.all()
    # the lag correlation is what it says: near 1 for particles that barely moved, near 0 for independent ones
    z0 = np.asarray(state.z)
    f0 = z0 @ np.stack([W]).T
    assert float(decorrelation.memory(z0, f0, z0 + 0.01, f0 + 0.01)) > 0.99
    shuffled = np.random.default_rng(0).permutation(len(z0))  # the same law, independent of where each started
    assert abs(float(decorrelation.memory(z0, f0, z0[shuffled], f0[shuffled]))) < 0.1
    # copies of a few particles are worth fewer independent draws than as many rejection draws
    ess = decorrelation.effective_sample_size(state.parent, state.memory, keep)
    assert 0 < ess <= keep.sum()
    copies = state._replace(parent=jnp.zeros_like(state.parent), memory=jnp.asarray(0.5))
    assert decorrelation.effective_sample_size(copies.parent, copies.memory, keep) < 5
    drawn = climb(PROBLEM, INDICES, [-0.3], [0.3])
    assert bool(drawn.by_rejection) and decorrelation.effective_sample_size(drawn.parent, drawn.memory, ladder.samples(drawn)) == 1000


def test_a_looser_decorrelation_below_the_band_moves_less_there_and_not_in_the_band():
    z1, z2 = [3.2], [3.5]  # four levels or so below the band
    strict = climb(PROBLEM, INDICES, z1, z2, rejection_limit=None, level_decorrelation=None)  # the band's ρ*
    loose = climb(PROBLEM, INDICES, z1, z2, rejection_limit=None, level_decorrelation=0.7)
    assert int(loose.level) >= 3 and int(loose.forward_passes) < int(strict.forward_passes)
    for state in (strict, loose):  # the band's own moves still go on until decorrelated
        assert bool(ladder.decorrelated(ladder.Ladder(), state)) and np.asarray(ladder.samples(state)).all()
        assert agrees(ladder.band_mass(state), phi(3.5) - phi(3.2))
    with pytest.raises(ValueError, match="level_decorrelation"):
        ladder.Ladder(level_decorrelation=1.0)


def test_the_climb_starts_from_the_pilots_draws_nearest_the_band():
    # N = 200 and rejection_limit 100: the pilot draws 1000 codes in five batches before it chooses the ladder, whose
    # first level keeps p₀ N = 80 of all 1000 (a share 0.08 of independent draws): about log 5 / log (1 / p₀) ≈ 1.8
    # levels fewer than from the first 200 draws alone, the band's mass the same
    z1, z2 = 3.2, 3.5
    bands = Bands(jnp.asarray([z1]), jnp.asarray([z2]))
    masses = []
    record = lambda s: jax.debug.callback(lambda m: masses.append(float(m)), s.log_mass)  # noqa: E731
    runs = {limit: jax.jit(lambda k, lad=ladder.Ladder(rejection_limit=limit): ladder.climb(
        PROBLEM, INDICES, bands, lad, 200, D, k, record)) for limit in (100, None)}
    levels = {100: [], None: []}
    for key in range(4):
        for limit, run in runs.items():
            masses.clear()
            state = run(jax.random.key(key))
            assert int(state.status) == ladder.LadderStatus.IN_BAND and not bool(state.by_rejection)
            levels[limit].append(int(state.level))
            first = np.exp(max(masses))  # the first level's share: the largest mass after it
            assert first == pytest.approx(0.08 if limit else 0.4, rel=1e-4), (limit, first)
            low, high = np.exp(float(state.log_mass) + np.array([-1, 1]) * 1.6449 * np.sqrt(float(state.log_mass_var)))
            assert agrees((float(np.exp(state.log_mass)), low, high), phi(z2) - phi(z1))
            if limit:
                assert int(state.forward_passes) >= 1000 + 200 * int(state.level)  # the pilot's draws counted
    assert np.mean(levels[None]) - np.mean(levels[100]) >= 1, levels


def test_small_families_stop_at_the_effective_sample_size_not_at_rho_star():
    z1, z2 = [3.2], [3.5]
    # rotations about N(μ, I) (on this linear band the fitted spread along μ forgets at once: ρ and the ESS agree)
    by_rho = climb(PROBLEM, INDICES, z1, z2, rejection_limit=None, effective_share=0.99, subspace=0,
                   fitted_axis=False)
    by_ess = climb(PROBLEM, INDICES, z1, z2, rejection_limit=None, subspace=0, fitted_axis=False)  # 0.8
    n = by_ess.z.shape[0]
    worth = lambda s: n / float(decorrelation.design_effect(s.parent, s.memory, jnp.ones((n,), bool)))  # noqa: E731
    assert worth(by_ess) >= 0.8 * n and float(by_rho.memory) <= ladder.Ladder().decorrelation
    # the last level kept more than p₀ N, so its families are smaller than five: a larger ρ is worth as much
    assert float(by_ess.memory) > float(by_rho.memory) and int(by_ess.forward_passes) < int(by_rho.forward_passes)
    assert np.asarray(ladder.samples(by_ess)).all()
    assert agrees(ladder.band_mass(by_ess), phi(3.5) - phi(3.2))
    with pytest.raises(ValueError, match="effective_share"):
        ladder.Ladder(effective_share=1.5)


def test_the_repeats_left_are_moved_alone_a_batch_at_a_time():
    z1, z2 = 2.5, 3.0
    state = climb(PROBLEM, INDICES, [z1], [z2])
    n = state.z.shape[0]
    # five particles become unmoved copies of the next five (repeats)
    copy = jnp.arange(n).at[:5].set(jnp.arange(5, 10))
    state = state._replace(z=state.z[copy], f=state.f[copy], phi=state.phi[copy], distance=state.distance[copy],
                           moved=jnp.arange(n) >= 5)
    lad, bands = ladder.Ladder(), Bands(jnp.asarray([z1]), jnp.asarray([z2]))
    step = jax.jit(lambda s: moves.move_repeats(PROBLEM, INDICES, bands, lad, s, 8))
    before, passes = np.asarray(state.z), int(state.forward_passes)
    for i in range(200):
        state = step(state)
        if np.asarray(state.moved).all():
            break
    z = np.asarray(state.z)
    assert np.asarray(state.moved).all() and int(state.forward_passes) == passes + 8 * (i + 1)  # 8 codes a move
    np.testing.assert_array_equal(z[5:], before[5:])  # the others did not move
    assert (z[:5] != before[:5]).any(axis=1).all()  # each repeat left where it was copied
    a = z[:5] @ W
    assert ((a >= z1) & (a <= z2)).all() and len(np.unique(z, axis=0)) == n  # in band, no sample twice


@pytest.mark.parametrize("settings", [dict(subspace=0, fitted_axis=False), dict(subspace=0), {}])
def test_the_particles_are_the_prior_restricted_to_the_band_with_no_repeat(settings):
    z1, z2 = 2.5, 3.0
    state = climb(PROBLEM, INDICES, [z1], [z2], **settings)
    assert agrees(ladder.band_mass(state), phi(z2) - phi(z1))
    keep = np.asarray(ladder.samples(state))
    z = np.asarray(state.z)[keep]
    a = z @ W
    assert keep.mean() > 0.95 and ((a >= z1) & (a <= z2)).all()
    assert len(np.unique(z, axis=0)) == len(z)  # no sample twice
    # the truncated normal's mean, and the orthogonal part still N(0, I − w wᵀ)
    grid = np.linspace(z1, z2, 2001)
    density = np.exp(-grid ** 2 / 2)
    assert abs(a.mean() - (grid * density).sum() / density.sum()) < 0.03
    orthogonal = z - a[:, None] * W[None, :]
    assert abs(orthogonal[:, 4].std() - 1.0) < 0.1 and abs(orthogonal[:, 4].mean()) < 0.1
    # the particles come from many first draws, not a few
    assert len(np.unique(np.asarray(state.ancestor)[keep])) > 50


def curved_mass(z1, z2):
    """The curved band's probability under the prior: E_y[Φ(z2 + k y²) − Φ(z1 + k y²)], y ~ N(0, 1)."""
    y = np.linspace(-8, 8, 16001)
    cdf = np.vectorize(phi)
    inside = cdf(z2 + CURVATURE * y ** 2) - cdf(z1 + CURVATURE * y ** 2)
    return float(np.sum(inside * np.exp(-y ** 2 / 2)) * (y[1] - y[0]) / sqrt(2 * np.pi))


@pytest.mark.parametrize("subspace", [0, 8])
def test_the_band_mass_with_moves_fitted_along_the_centre_is_the_bent_bands_probability(subspace):
    """On a bent band the particles spread along their centre's direction far less than the prior (s near its floor,
    0.2), and its far codes (large |y|) lie where N(μ, Σ) puts almost nothing; with a share of the fresh draws from
    N(μ, I) the band's mass is still its probability, within its interval; so too with the law fitted in the
    gradients' span (``subspace``), which is as narrow along the band's normal."""
    z1, z2 = 2.5, 3.0
    exact = curved_mass(z1, z2)
    runs = [climb(PROBLEM_CURVED, INDICES, [z1], [z2], key=k, rejection_limit=None, subspace=subspace)
            for k in range(3)]
    assert all(int(r.status) == ladder.LadderStatus.IN_BAND for r in runs)
    narrowest = np.linalg.eigvalsh(np.einsum("nij,nkj->nik", runs[0].root, runs[0].root))[:, 0]
    assert float(np.median(narrowest)) < 0.3 ** 2  # the fitted spread is narrow
    ratios = np.array([ladder.band_mass(r)[0] / exact for r in runs])
    assert all(agrees(ladder.band_mass(r), exact) for r in runs) and abs(np.log(ratios).mean()) < 0.1, ratios
    a = np.concatenate([np.asarray(r.f)[:, 0] for r in runs])
    assert ((a >= z1) & (a <= z2)).all()


def test_watching_the_coordinate_along_the_centre_stops_only_once_it_too_has_forgotten():
    """On the bent band the encodings' pooled ρ forgets before the codes' coordinate along their centre's direction
    (the band's slow one): the plain stop leaves that coordinate above ρ*; with ``watch_along`` the moves go on until
    it too is at most ρ*, and the law and the mass are kept."""
    z1, z2, rho_star = 2.5, 3.0, ladder.Ladder().decorrelation
    # ρ* 0.5 below the band: a case where the plain stop leaves the coordinate along the centre above ρ*
    plain, watched = (climb(PROBLEM_CURVED, INDICES, [z1], [z2], rejection_limit=None, effective_share=0.99,
                            level_decorrelation=0.5, watch_along=watch) for watch in (False, True))
    along = lambda s: float(decorrelation.lag_correlation(  # noqa: E731
        s.start_along[:, None], laws.along(s.z, s.centre)[:, None], pooled=False)[0])
    assert float(plain.memory) <= rho_star < along(plain)
    assert along(watched) <= float(watched.memory) <= rho_star and int(watched.moves) < ladder.Ladder().max_final_moves
    assert int(watched.forward_passes) > int(plain.forward_passes)
    assert np.asarray(ladder.samples(watched)).all() and agrees(ladder.band_mass(watched), curved_mass(z1, z2))


def test_the_moves_angle_follows_the_acceptance_rate_and_keeps_the_law():
    z1, z2 = 2.5, 3.0
    # about N(μ, I) (with the spread along μ fitted, even half-turns stay in this linear band 60% of the time)
    state = climb(PROBLEM, INDICES, [z1], [z2], subspace=0, fitted_axis=False)
    settings = ladder.Ladder(subspace=0, fitted_axis=False)
    move = jax.jit(lambda s: moves.move(PROBLEM, INDICES, Bands(jnp.asarray([z1]), jnp.asarray([z2])), settings, s,
                                         jnp.asarray(0.0)))
    for start in (np.pi, 1e-3):  # far too wide, far too narrow
        s, rates = state._replace(angle=jnp.asarray(start, jnp.float32)), []
        for _ in range(40):
            before = s.z
            s = move(s)
            rates.append(float(jnp.mean(jnp.any(s.z != before, axis=1))))
        assert abs(np.mean(rates[-10:]) - settings.acceptance) < 0.15, (start, rates[-10:])
        a = np.asarray(s.z) @ W
        assert ((a >= z1) & (a <= z2)).all()
        grid = np.linspace(z1, z2, 2001)
        density = np.exp(-grid ** 2 / 2)
        assert abs(a.mean() - (grid * density).sum() / density.sum()) < 0.03


def test_the_clustered_variance_of_a_share_is_binomial_for_independent_particles_and_larger_for_lines():
    rng = np.random.default_rng(1)
    hit = rng.uniform(size=4000) < 0.3
    alone = float(decorrelation.clustered_variance(jnp.asarray(hit), jnp.arange(4000)))
    share = hit.mean()
    assert alone == pytest.approx(share * (1 - share) / 4000, rel=1e-4)
    # 40 lines of 100 particles that all hit or all miss together: the share is worth 40 draws, not 4000
    line_hits = rng.uniform(size=40) < 0.3
    lines = np.repeat(np.arange(40), 100)
    together = float(decorrelation.clustered_variance(jnp.asarray(line_hits[lines]), jnp.asarray(lines)))
    assert together == pytest.approx(line_hits.mean() * (1 - line_hits.mean()) / 40, rel=1e-4)


@pytest.mark.parametrize("share, defensive, scale, isotropic, along", [
    (0.0, 0.0, 1.0, 0.5, 0.0), (0.0, 0.0, 0.4, 0.5, 0.0), (0.5, 0.0, 0.4, 0.5, 0.0), (1.0, 0.0, 0.4, 0.0, 0.0),
    (1.0, 0.0, 0.4, 0.5, 0.0), (1.0, 0.0, 0.4, 1.0, 0.0), (1.0, 0.1, 1.0, 0.5, 0.0), (1.0, 0.6, 0.4, 0.3, 0.0),
    (0.0, 0.0, 0.4, 0.5, 1.0), (0.5, 0.0, 0.4, 0.5, 0.5), (0.0, 0.0, 1.0, 0.5, 0.5)])
def test_moves_about_any_centre_keep_the_prior_restricted_to_the_band(share, defensive, scale, isotropic, along):
    """Rotations about a centre μ ≠ 0 keep N(μ, I), not the prior: without the Metropolis–Hastings test (or with its
    sign turned) the particles would drift towards μ — along W inside the band, and along W2, which no band holds;
    the fresh draws from the mixture α N(0, I) + (1 − α) (β N(μ, I) + (1 − β) N(μ, Σ)), whatever α and β,
    rotations keeping N(μ, Σ) with a spread s ≠ 1 along μ, and redraws of the coordinate along μ alone (μ here is
    not along W: they move the codes along W and W2 at once) keep the prior too."""
    z1, z2 = 1.0, 1.5
    draws = np.random.default_rng(3).normal(size=(200_000, D)).astype(np.float32)
    start = draws[(draws @ W >= z1) & (draws @ W <= z2)][:2000]  # exact draws of the target
    state = climb(PROBLEM, INDICES, [z1], [z2], n=2000)
    centre = jnp.broadcast_to(jnp.asarray(1.2 * W + 0.6 * W2), (2000, D))
    axes, root = laws.axis_law(centre, jnp.full((2000,), scale, jnp.float32))
    state = state._replace(z=jnp.asarray(start), centre=centre, axes=axes, root=root, angle=jnp.asarray(0.5, jnp.float32))
    settings = ladder.Ladder(independent_share=share, defensive_share=defensive, isotropic_share=isotropic,
                             along_share=along, subspace=0)
    move = jax.jit(lambda s: moves.move(PROBLEM, INDICES, Bands(jnp.asarray([z1]), jnp.asarray([z2])), settings, s,
                                         jnp.asarray(0.0)))
    for _ in range(150):
        state = move(state)
    z = np.asarray(state.z)
    moved = np.mean(np.any(z != start, axis=1))
    grid = np.linspace(z1, z2, 2001)
    density = np.exp(-grid ** 2 / 2)
    exact_mean = (grid * density).sum() / density.sum()
    assert moved > 0.8 and ((z @ W >= z1) & (z @ W <= z2)).all()
    assert abs((z @ W).mean() - exact_mean) < 0.02, ((z @ W).mean(), exact_mean)
    assert abs((z @ W2).mean()) < 0.08 and abs((z @ W2).std() - 1) < 0.06, ((z @ W2).mean(), (z @ W2).std())


def test_a_redraw_along_the_centre_changes_the_code_along_it_alone_and_forgets_it():
    """``along_share``: the coordinate along μ's direction u drawn afresh from N(μ, Σ)'s law there, the rest of the code
    kept. On the linear band u is W and the band depends on W alone: most redraws land in it, and those accepted have
    forgotten where they were along W; rotations by the same tuned angle barely move along it."""
    z1, z2 = 2.5, 3.0
    draws = np.random.default_rng(4).normal(size=(600_000, D)).astype(np.float32)
    start = draws[(draws @ W >= z1) & (draws @ W <= z2)][:2000]
    a0 = start @ W
    mu = jnp.broadcast_to(jnp.asarray(a0.mean() * W), start.shape)
    scale = jnp.full((2000,), a0.std(), jnp.float32)
    bands = Bands(jnp.asarray([z1]), jnp.asarray([z2]))
    out = {}
    for along in (0.0, 1.0):
        accept, rotated, _, z_new, _, f_new, _, _ = moves.propose(
            PROBLEM, INDICES, bands, ladder.Ladder(independent_share=0.0, along_share=along, subspace=0), jnp.asarray(start), mu,
            *laws.axis_law(mu, scale), jnp.asarray(0.3), jnp.asarray(0.0), jax.random.key(5))
        accept, rotated, z_new = np.asarray(accept), np.asarray(rotated), np.asarray(z_new)
        assert rotated.all() == (along == 0.0) and not rotated.any() == (along == 1.0)
        out[along] = accept, z_new
    accept, z_new = out[1.0]
    across = lambda z: z - (z @ W)[:, None] * W  # noqa: E731
    np.testing.assert_allclose(across(z_new), across(start), atol=1e-5)  # only the coordinate along u changed
    assert accept.mean() > 0.5 and ((z_new[accept] @ W >= z1) & (z_new[accept] @ W <= z2)).all()
    assert abs(np.corrcoef(a0[accept], z_new[accept] @ W)[0, 1]) < 0.1  # forgotten
    rotated_accept, rotated_z = out[0.0]
    assert np.corrcoef(a0[rotated_accept], rotated_z[rotated_accept] @ W)[0, 1] > 0.8  # the small rotations remember


def test_the_fresh_draws_weight_is_the_priors_ratio_to_their_mixture_and_at_most_one_over_alpha():
    rng = np.random.default_rng(1)
    c, mu = rng.normal(size=(200, D)) * 3, rng.normal(size=(200, D)) * 2
    scale = rng.uniform(0.3, 1.5, size=200)
    u = mu / np.linalg.norm(mu, axis=1, keepdims=True)
    log_p = -0.5 * np.sum(c ** 2, axis=1)  # the densities' common constant cancels in every ratio
    # N(c; μ, Σ), Σ = I − (1 − s²) u uᵀ: unit variance across u, s² along it
    along = np.sum((c - mu) * u, axis=1)
    log_q_mu = -0.5 * (np.sum((c - mu) ** 2, axis=1) - along ** 2) - 0.5 * along ** 2 / scale ** 2 - np.log(scale)
    log_q_iso = -0.5 * np.sum((c - mu) ** 2, axis=1)  # N(c; μ, I)
    as32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    log = lambda share, part: np.log(share) + part if share else np.full_like(part, -np.inf)  # noqa: E731
    for alpha, beta in ((0.0, 0.0), (0.1, 0.0), (0.5, 0.0), (0.0, 0.5), (0.1, 0.3), (0.0, 1.0)):
        settings = ladder.Ladder(defensive_share=alpha, isotropic_share=beta)
        got = np.asarray(moves.log_weight(settings, as32(mu), *laws.axis_law(as32(mu), as32(scale)), as32(c)))
        mixture = np.logaddexp(log(alpha, log_p), np.logaddexp(log((1 - alpha) * beta, log_q_iso),
                                                                log((1 - alpha) * (1 - beta), log_q_mu)))
        np.testing.assert_allclose(got, log_p - mixture, rtol=1e-4, atol=2e-3)
        # with a share β from N(μ, I), the weights are at most those of N(μ, I) alone over β
        assert not beta or (got <= log_p - log_q_iso - np.log((1 - alpha) * beta) + 1e-3).all()
        if alpha:
            assert got.max() <= np.log(1 / alpha) + 1e-5 and got.max() > np.log(1 / alpha) - 0.1  # the bound, reached
        else:
            assert got.max() > 20  # N(μ, Σ) alone: p / q unbounded
    # Σ^½ ν has law N(0, Σ): its part along u has sd s, the rest unit
    nu = rng.normal(size=(20000, D))
    one_mu, s = np.tile(mu[:1], (20000, 1)), np.full(20000, 0.4)
    step = np.asarray(laws.root_covariance(*laws.axis_law(as32(one_mu), as32(s)), as32(nu)))
    across = step - np.outer(step @ u[0], u[0])  # D − 1 unit directions
    assert abs(np.std(step @ u[0]) - 0.4) < 0.01 and abs(np.sum(np.var(across, axis=0)) - (D - 1)) < 0.1


def test_each_particles_spread_along_its_centre_is_the_other_kept_particles_there():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(40, D)) * [0.3, 1, 1, 1, 1, 2] + [3, 0, 0, 0, 0, 0]
    kept = rng.random(40) < 0.7
    mu = np.asarray(laws.centre(jnp.asarray(z, jnp.float32), jnp.asarray(kept)))
    got = np.asarray(laws.axis_scale(jnp.asarray(z, jnp.float32), jnp.asarray(kept), jnp.asarray(mu)))
    for i in range(40):
        others = kept & (np.arange(40) != i)
        u = mu[i] / np.linalg.norm(mu[i])
        assert got[i] == pytest.approx(np.clip(np.std(z[others] @ u), 0.2, 2.0), rel=1e-3)
    assert np.all(got < 0.5)  # along the centre (≈ the first axis) the codes spread 0.3, not 1
    assert np.all(np.asarray(laws.axis_scale(jnp.asarray(z, jnp.float32), jnp.asarray(kept),
                                              jnp.zeros_like(jnp.asarray(mu)))) == 1.0)  # no centre: s = 1
    # with lines of descent (μ one per line, from the other lines), s is the other lines' kept codes' spread
    lines = rng.integers(0, 6, size=40)
    mu = np.asarray(laws.centre(jnp.asarray(z, jnp.float32), jnp.asarray(kept), jnp.asarray(lines)))
    got = np.asarray(laws.axis_scale(jnp.asarray(z, jnp.float32), jnp.asarray(kept), jnp.asarray(mu),
                                      jnp.asarray(lines)))
    for i in range(40):
        others = kept & (lines != lines[i])
        u = mu[i] / np.linalg.norm(mu[i])
        assert got[i] == pytest.approx(np.clip(np.std(z[others] @ u), 0.2, 2.0), rel=1e-3)


def test_each_particles_centre_is_the_other_kept_particles_mean_shrunk_by_its_noise():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 50)) + 2.0 * np.eye(50)[0]
    kept = np.arange(400) < 100
    got = np.asarray(laws.centre(jnp.asarray(z, jnp.float32), jnp.asarray(kept)))
    assert got.shape == (400, 50)
    for i in (0, 57, 99, 100, 399):  # kept: the 99 others' mean; not kept: the 100 kept ones'
        others = kept & (np.arange(400) != i)
        mean = z[others].mean(0)
        expected = mean * (1 - (50 / others.sum()) / np.sum(mean ** 2))
        np.testing.assert_allclose(got[i], expected, rtol=1e-4, atol=1e-5)
    # with lines of descent: the kept codes of the other lines (each particle its own line: the same as above)
    lines = np.arange(400) // 4  # lines of four
    apart = np.asarray(laws.centre(jnp.asarray(z, jnp.float32), jnp.asarray(kept), jnp.asarray(lines)))
    for i in (0, 57, 99, 100, 399):
        others = kept & (lines != lines[i])
        mean = z[others].mean(0)
        np.testing.assert_allclose(apart[i], mean * (1 - (50 / others.sum()) / np.sum(mean ** 2)), rtol=1e-4,
                                   atol=1e-5)
    alone = laws.centre(jnp.asarray(z, jnp.float32), jnp.asarray(kept), jnp.arange(400))
    np.testing.assert_allclose(np.asarray(alone), got, rtol=1e-5, atol=1e-6)
    noise_only = rng.normal(size=(10, 50))  # a mean of 9 draws in 50 dimensions: all noise, shrunk to 0
    assert not np.any(np.asarray(laws.centre(jnp.asarray(noise_only, jnp.float32), jnp.ones(10, bool))))
    assert not np.any(np.asarray(laws.centre(jnp.asarray(z[:3], jnp.float32), jnp.asarray([True, False, False]))))


def test_the_law_in_the_gradients_span_is_fitted_on_the_other_half_of_the_lines_alone():
    """On the bent band f = w·c − k (w2·c)², the gradients w − 2k (w2·c) w2 span {w, w2}: the fitted law's axes lie
    there (the others zero, Σ = I and μ = 0 along them), μ and L Lᵀ are the other half's kept codes' mean and
    covariance along them, and no particle's law moves when its own half's codes do."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(400, D)).astype(np.float32) + 1.5 * W
    kept = rng.uniform(size=400) < 0.7
    lines = np.arange(400) // 3  # lines of three copies
    settings = ladder.Ladder(subspace=4, gradients=16)
    fit = jax.jit(lambda z, key: laws.subspace_law(PROBLEM_CURVED, INDICES, settings, z, jnp.asarray(kept),
                                                    jnp.asarray(lines), key))
    mu, axes, root, cost = fit(jnp.asarray(z), jax.random.key(0))
    mu, axes, root = np.asarray(mu), np.asarray(axes), np.asarray(root)
    assert cost == 2 * 16 * 3 and axes.shape == (400, D, 4) and root.shape == (400, 4, 4)
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
        np.testing.assert_allclose(sigma[np.ix_(~supported, ~supported)], np.eye(2), atol=1e-6)
    # the even lines' own codes moved: their law stays, the odd lines' (fitted on them) changes
    even = (lines % 2 == 0)[:, None]
    moved = fit(jnp.asarray(np.where(even, z + 0.3 * W2, z)), jax.random.key(0))[0]
    np.testing.assert_allclose(np.asarray(moved)[even[:, 0]], mu[even[:, 0]], atol=1e-5)
    assert np.abs(np.asarray(moved)[~even[:, 0]] - mu[~even[:, 0]]).max() > 0.1


HIGH = 128  # dimensions where a particle's own ‖c‖²/m is as large as ‖μ‖²


@functools.lru_cache(maxsize=None)
def high_dimensional_ladder(centre_apart=False, subspace=0):
    w = np.random.default_rng(5).normal(size=HIGH).astype(np.float32)
    w /= np.linalg.norm(w)
    specs, indices, _ = resolve([0], {"logits": (1,)})
    problem = Problem(identity, identity, make_activation_fn(specs, lambda x: {"logits": (jnp.asarray(w) @ x)[None]}))
    run = jax.jit(lambda k: ladder.run(problem, indices, Bands(jnp.asarray([2.5]), jnp.asarray([2.7])),
                                       ladder.Ladder(rejection_limit=None, centre_apart=centre_apart,
                                                     subspace=subspace), 500, HIGH, k))
    return w, run


@pytest.mark.parametrize("centre_apart, subspace", [(False, 0), (True, 0), (True, 8)])
def test_in_high_dimensions_the_centred_moves_keep_the_law_and_the_mass(centre_apart, subspace):
    """With the particle's own code in μ, the moves no longer kept the prior restricted to each level: on w·c in
    [2.5, 2.7] over N(0, I_128) the levels' product came out about 38% high (log +0.32 over these six keys, each one
    high), while the samples' law along w still looked right (that check alone would not catch it). Each particle's
    μ leaves out its own code (or, ``centre_apart``, its whole line of descent): unbiased again; so is the law fitted
    in the gradients' span (``subspace``) on the other half of the lines."""
    w, run = high_dimensional_ladder(centre_apart, subspace)
    exact = phi(2.7) - phi(2.5)
    logs, means = [], []
    for key in range(6):
        state = run(jax.random.key(key))
        assert int(state.status) == ladder.LadderStatus.IN_BAND and int(state.level) >= 3
        logs.append(float(state.log_mass) - np.log(exact))
        means.append(float(np.mean(np.asarray(state.z)[np.asarray(ladder.samples(state))] @ w)))
    grid = np.linspace(2.5, 2.7, 2001)
    density = np.exp(-grid ** 2 / 2)
    exact_mean = (grid * density).sum() / density.sum()
    # the product's log sd is about 0.19 a run: a mean of six within ±0.15 is 1.9 sd; the old bias was +0.3
    assert abs(np.mean(logs)) < 0.15, logs
    assert abs(np.mean(means) - exact_mean) < 0.01, (np.mean(means), exact_mean)


@pytest.mark.parametrize("limit", [30, None])
def test_with_code_bounds_the_target_is_the_prior_restricted_to_the_band_and_the_box(limit):
    state = climb(PROBLEM_BOX, INDICES, [1.0], [1.4], rejection_limit=limit)
    keep = np.asarray(ladder.samples(state))
    z = np.asarray(state.z)[keep]
    assert keep.mean() > 0.95 and ((z >= -1.0) & (z <= 1.5)).all()
    draws = np.random.default_rng(0).normal(size=(400_000, D))
    inside = np.all((draws >= -1.0) & (draws <= 1.5), axis=1) & (draws @ W >= 1.0) & (draws @ W <= 1.4)
    assert agrees(ladder.band_mass(state), inside.mean()), (ladder.band_mass(state), inside.mean())
    assert abs((z @ W).mean() - (draws[inside] @ W).mean()) < 0.03


@pytest.mark.parametrize("z1, z2", [(2.5, 3.0), (3.2, 3.5)])
def test_the_bands_own_draws_from_the_centre_weighted_by_the_prior_give_its_mass(z1, z2):
    state = climb(PROBLEM, INDICES, [z1], [z2], rejection_limit=None)
    m, total, squares = float(state.far_draws), float(state.far_weight), float(state.far_weight_sq)
    assert m > 500 and total ** 2 / squares >= ladder.MIN_WEIGHT_ESS  # importance sampling, not the levels
    exact = phi(z2) - phi(z1)
    estimate, low, high = ladder.band_mass(state)
    assert estimate == pytest.approx(total / m) and agrees((estimate, low, high), exact), (estimate, low, high, exact)
    assert abs(np.log(estimate / exact)) < 0.25  # within 25%: without the weights p / q it would be q's share
    levels = ladder.band_mass(state._replace(far_weight=jnp.asarray(0.0)))  # the ladder's product of fractions
    assert agrees(levels, exact) and high / low < levels[2] / levels[1]  # a narrower interval
    # weights so small that their squares underflow float32 (a band of mass ~1e-20): the levels' product too
    tiny = state._replace(far_weight=jnp.asarray(1e-25, jnp.float32),
                          far_weight_sq=jnp.asarray(1e-25, jnp.float32) ** 2)
    assert float(tiny.far_weight_sq) == 0 and ladder.band_mass(tiny) == levels


def test_with_the_fitted_axis_the_mass_comes_from_the_draws_of_the_prior_and_of_n_mu_i_only():
    settings = ladder.Ladder(defensive_share=0.1, isotropic_share=0.5)  # fitted by default
    assert moves.mass_shares(settings) == pytest.approx((0.1 / 0.55, 0.45 / 0.55, 0.0))
    assert moves.mass_shares(ladder.Ladder(subspace=0, fitted_axis=False, defensive_share=0.1)) == pytest.approx(
        (0.1, 0.9, 0.0))
    assert moves.mass_shares(ladder.Ladder(isotropic_share=0.0)) is None
    z1, z2 = 2.5, 3.0
    bands = Bands(jnp.asarray([z1]), jnp.asarray([z2]))
    z = jnp.asarray(np.random.default_rng(0).normal(size=(20000, D)), jnp.float32)
    mu, scale = jnp.broadcast_to(jnp.asarray(2.7 * W), z.shape), jnp.full((20000,), 0.3, jnp.float32)
    for fitted_axis, counted_share in ((True, 0.5), (False, 1.0)):  # β = 0.5 of the fresh draws; Σ = I: all
        out = moves.propose(PROBLEM, INDICES, bands, ladder.Ladder(subspace=0, fitted_axis=fitted_axis), z, mu,
                            *laws.axis_law(mu, scale), jnp.asarray(0.5), jnp.asarray(0.0), jax.random.key(1))
        rotated, counted, d_new, weight = (np.asarray(out[i]) for i in (1, 2, 6, 7))
        far = ~rotated  # with no redraws along u, the moves not rotated are the fresh draws
        assert not (counted & ~far).any() and abs(counted.sum() / far.sum() - counted_share) < 0.03
        assert (weight[~(counted & (d_new <= 0))] == 0).all() and (weight[counted & (d_new <= 0)] > 0).all()
    fitted = climb(PROBLEM, INDICES, [z1], [z2], rejection_limit=None)
    assert agrees(ladder.band_mass(fitted), phi(z2) - phi(z1))
    # with none of them from N(μ, I) or the prior, none is counted, and the mass is the levels' product
    none = climb(PROBLEM, INDICES, [z1], [z2], rejection_limit=None, isotropic_share=0.0)
    assert float(none.far_draws) == 0 and float(none.far_weight) == 0
    assert ladder.band_mass(none)[0] == pytest.approx(float(np.exp(none.log_mass)))


def test_an_intersection_has_the_product_of_the_masses_of_independent_bands():
    state = climb(PROBLEM2, INDICES2, [1.5, -2.2], [2.0, -1.8])
    exact = (phi(2.0) - phi(1.5)) * (phi(-1.8) - phi(-2.2))
    assert int(state.status) == ladder.LadderStatus.IN_BAND and agrees(ladder.band_mass(state), exact)


def test_nested_bands_have_nested_masses_and_an_unreachable_band_stalls():
    inner = ladder.band_mass(climb(PROBLEM, INDICES, [2.6], [2.8]))[0]
    outer = ladder.band_mass(climb(PROBLEM, INDICES, [2.5], [3.0]))[0]
    assert inner < outer
    # a band the code never reaches (|a| ≤ ‖c‖ and the prior's tail is far past float precision): the threshold
    # stops falling, and the ladder says so rather than returning anything
    state = climb(PROBLEM, INDICES, [40.0], [41.0], n=200, max_levels=60)
    assert int(state.status) in (ladder.LadderStatus.STALLED, ladder.LadderStatus.MAX_LEVELS)
    assert not np.asarray(ladder.samples(state)).any()


def test_bad_settings_are_refused_with_what_would_be_right():
    with pytest.raises(ValueError, match="survival"):
        ladder.Ladder(survival=1.0)
    with pytest.raises(ValueError, match="acceptance"):
        ladder.Ladder(acceptance=0.0)
    with pytest.raises(ValueError, match=r"angle h must lie in \[0.0001, π\]"):
        ladder.Ladder(angle=4.0)
    with pytest.raises(ValueError, match="adaptation"):
        ladder.Ladder(adaptation=-1.0)
    with pytest.raises(ValueError, match="max_final_moves ≥ final_moves"):
        ladder.Ladder(final_moves=10, max_final_moves=5)
    with pytest.raises(ValueError, match="decorrelation"):
        ladder.Ladder(decorrelation=0.0)
    with pytest.raises(ValueError, match=r"defensive_share=1.0\): a share of the fresh draws, in \[0, 1\)"):
        ladder.Ladder(defensive_share=1.0)
    with pytest.raises(ValueError, match=r"independent_share=1.5\): independent_share must be a share, a number in "
                                         r"\[0, 1\]"):
        ladder.Ladder(independent_share=1.5)
    with pytest.raises(ValueError, match=r"along_share=-0.1\): along_share must be a share"):
        ladder.Ladder(along_share=-0.1)
    with pytest.raises(TypeError, match=r"centre_apart='yes'\): centre_apart must be True or False"):
        ladder.Ladder(centre_apart="yes")


# The method: prior-ladder through the public API, on a Gaussian-input generator.
GAUSSIAN = dict(generator=identity, encoder=identity, init=D)


def linear_target(x):
    return {"logits": jnp.stack([jnp.asarray(W) @ x, jnp.asarray(W2) @ x])}


def test_prior_ladder_returns_n_distinct_in_band_samples_and_the_band_mass(capsys):
    from inverse_set import Models, sample_inverse_set

    res = sample_inverse_set(0, 2.5, 3.0, 300, models=Models(target=linear_target, **GAUSSIAN),
                             method="prior-ladder", rng_key=1, progress=True)
    err = capsys.readouterr().err
    assert "ladder: 1 (the band relaxed by" in err and "samples: 300/300" in err and "seeds:" not in err
    a = np.asarray(res.images, np.float64) @ W.astype(np.float64)  # recomputed outside the package
    assert len(res) == 300 and ((a >= 2.5) & (a <= 3.0)).all()
    assert len(np.unique(res.codes, axis=0)) == 300
    s = res.stats
    assert s.method == "prior-ladder" and s.walk_status == "complete" and s.population_start == "prior"
    assert agrees(s.band_mass, phi(3.0) - phi(2.5)) and s.ladder_levels >= 2 and s.distinct_ancestors > 20
    # decorrelated: ρ ≤ ρ*, or (small families) an effective sample size of 0.8 N
    assert s.decorrelation <= ladder.Ladder().decorrelation or s.effective_sample_size >= 0.8 * 300 - 1e-3
    assert 0 < s.effective_sample_size <= 300
    # the ladder reached the band from the prior: no seed was needed, none ran, no gradient was taken
    assert s.seed_status == "skipped" and s.seed_steps == 0 and s.gradient_evaluations == 0
    assert res.seeds.shape == (0, D)
    assert s.forward_evaluations > 0 and s.settings["walk"]["kind"] == "LadderWalk"


@pytest.mark.filterwarnings("ignore::inverse_set.IncompleteSampleWarning")  # a copy or two may never move
def test_prior_ladder_starts_from_the_seeds_where_the_ladder_cannot_reach_the_band_and_says_so():
    from inverse_set import Ladder, LadderWalk, Models, get_method, sample_inverse_set

    method = get_method("prior-ladder").replace(walk=LadderWalk(Ladder(max_levels=5)))
    res = sample_inverse_set(0, 40.0, 41.0, 30, models=Models(target=linear_target, **GAUSSIAN), method=method,
                             rng_key=0)
    a = np.asarray(res.images, np.float64) @ W.astype(np.float64)
    assert res.stats.population_start == "seeds" and res.stats.band_mass is None
    assert res.stats.seed_status == "inside" and res.stats.gradient_evaluations > 0 and res.seeds.shape == (10, D)
    assert len(res) >= 10 and ((a >= 40.0) & (a <= 41.0)).all() and len(np.unique(res.codes, axis=0)) == len(res)


def test_where_only_some_seeds_reach_the_band_the_population_starts_from_those():
    from inverse_set import InfeasibleBandError, Ladder, LadderWalk, Models, SeedConfig, get_method, sample_inverse_set

    models = Models(target=linear_target, **GAUSSIAN)
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


def test_a_ladder_result_saves_and_loads_with_its_band_mass(tmp_path):
    from inverse_set import InverseSetResult, Models, sample_inverse_set

    res = sample_inverse_set(0, 0.0, 0.5, 40, models=Models(target=linear_target, **GAUSSIAN), method="prior-ladder",
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


def test_a_band_the_levels_cannot_reach_in_time_stalls_at_once():
    # a(c) ~ N(0, 1): [60, 61] lies about 60 widths out, and the first levels' thresholds fall by a fraction of
    # that, so the band is beyond the 60 levels at their rate: STALLED after a few levels, not MAX_LEVELS
    state = climb(PROBLEM, INDICES, [60.0], [61.0], n=200)
    assert int(state.status) == ladder.LadderStatus.STALLED and int(state.level) <= 5


def test_the_design_effect_counts_the_families_of_the_level_before():
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


def test_the_design_effect_over_every_level_is_the_mean_correlation_of_the_samples_by_their_lineage():
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


@pytest.mark.parametrize("z1, z2, start", [(2.5, 3.0, "prior"), (0.0, 0.5, "rejection")])
def test_fewer_particles_than_samples_give_them_in_rounds_each_decorrelated_with_the_law_kept(z1, z2, start):
    from inverse_set import LadderWalk, Models, sample_inverse_set

    method = get_method_ladder(LadderWalk(num_particles=100))
    res = sample_inverse_set(0, z1, z2, 450, models=Models(target=linear_target, **GAUSSIAN), method=method,
                             rng_key=3)
    s = res.stats
    a = np.asarray(res.images, np.float64) @ W.astype(np.float64)
    assert len(res) == 450 and ((a >= z1) & (a <= z2)).all() and len(np.unique(res.codes, axis=0)) == 450
    assert s.walk_status == "complete" and s.rounds >= 5 and s.population_start == start
    # the last round, too, moved until ρ ≤ ρ* (no families to count after the first round)
    assert s.decorrelation <= ladder.Ladder().decorrelation
    # samples of one particle in consecutive rounds correlate: worth fewer than 450 draws, but more than the particles
    assert 100 < s.effective_sample_size < 450
    # the prior restricted to the band: the truncated normal's mean along w, N(0, 1) across it
    grid = np.linspace(z1, z2, 2001)
    density = np.exp(-grid ** 2 / 2)
    assert abs(a.mean() - (grid * density).sum() / density.sum()) < 0.03
    across = np.asarray(res.codes)[:, 4]
    assert abs(across.std() - 1.0) < 0.1 and abs(across.mean()) < 0.12
    assert agrees(s.band_mass, phi(z2) - phi(z1))


def get_method_ladder(walk):
    from inverse_set import get_method

    return get_method("prior-ladder").replace(walk=walk)


HANG_CHECK = textwrap.dedent("""
    import jax, jax.numpy as jnp
    import generators
    from inverse_set import ladder, make_sampler
    from inverse_set.core.bands import Bands
    n = 4608
    zoo = generators.load("fashion")
    s = zoo.stats["logits_by_class"]["7"]
    z1, z2 = s["p95"] - (s["p75"] - s["p25"]) / 4, s["p95"] + (s["p75"] - s["p25"]) / 4
    sampler = make_sampler(7, n, models=zoo)
    lo, hi = sampler.compiled.solver_bands([z1], [z2])
    problem, bands = sampler.compiled.problem, Bands(jnp.asarray(lo), jnp.asarray(hi))
    dim = jax.eval_shape(sampler.compiled.init_fn, jax.random.key(0)).shape[-1]
    lad = ladder.Ladder(rejection_limit=None, max_levels=1, moves_per_level=2, max_moves_per_level=4)
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


def test_forward_substitution_solves_a_lower_triangular_system():
    root = jnp.tril(jax.random.normal(jax.random.key(0), (6, 5, 5))) + 3 * jnp.eye(5)
    y = jax.random.normal(jax.random.key(1), (6, 5))
    x = laws.forward_substitution(root, y)
    np.testing.assert_allclose(np.einsum("mij,mj->mi", root, x), y, atol=1e-5)
    np.testing.assert_allclose(x, np.linalg.solve(np.asarray(root), np.asarray(y)[..., None])[..., 0], atol=1e-5)
