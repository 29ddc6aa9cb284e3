"""inverse_set.paper.lagrangian: the Objective's checks, the slack and multiplier updates, and the code gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import Objective
from inverse_set.core.bands import Bands
from inverse_set.core.problem import Problem, pullback
from inverse_set.paper import lagrangian, realism, repulsion


@pytest.mark.parametrize("bad, error, match", [
    ({"repulsion": "gauss"}, ValueError, r"Objective\(repulsion='gauss'\): repulsion must be 'squared' or 'rbf'"),
    ({"margin": 0.5}, ValueError, r"margin must be a number in \[0, 0.5\)"),
    ({"margin": -0.1}, ValueError, r"margin must be a number in \[0, 0.5\)"),
    ({"diversity_weight": -1.0}, ValueError, "diversity_weight must be a finite number ≥ 0"),
    ({"realism_weight": float("nan")}, ValueError, "realism_weight must be a finite number ≥ 0"),
    ({"prior_weight": "1"}, TypeError, "prior_weight must be a finite number ≥ 0"),
])
def test_the_objective_checks_its_own_terms(bad, error, match):
    with pytest.raises(error, match=match):
        Objective(**bad)


def test_the_slack_is_the_clipped_shifted_activation():
    box = Bands(jnp.array([0.0, 0.0]), jnp.array([1.0, 1.0]))
    f, lam, mu = jnp.array([[0.5, 2.0], [-1.0, 0.6]]), jnp.array([[1.0, 0.0], [0.0, -2.0]]), jnp.asarray(10.0)
    s = lagrangian.slack(f, lam, mu, box)
    np.testing.assert_allclose(s, [[0.4, 1.0], [0.0, 0.8]])
    np.testing.assert_allclose(lagrangian.update_multipliers(f, s, lam, mu), lam - 10.0 * (f - s))
    np.testing.assert_allclose(lagrangian.grad_f(f, s, lam, mu), -lam + 10.0 * (f - s))


def test_the_penalty_grows_only_when_the_violation_did_not_fall_enough_and_stops_at_its_cap():
    grow = lambda norm, prev, mu=10.0: float(lagrangian.update_penalty(jnp.asarray(mu), jnp.asarray(norm),
                                                                       jnp.asarray(prev), 10.0, 0.25, 1e3))
    assert grow(0.5, 1.0) == 100.0 and grow(0.2, 1.0) == 10.0 and grow(0.5, 1.0, mu=500.0) == 1e3


OBJECTIVES = [Objective(), Objective(repulsion="rbf", diversity_weight=0.5),
              Objective(realism_weight=2.0, prior_weight=0.3)]


def both_gradients(objective):
    """code_gradient, from one pullback, and autodiff of

    γ D + ρ/2 Σ‖E(G(c)) − c‖² + ρ_p/2 Σ‖c‖² + L_c  (the slack s held fixed).
    """
    problem = Problem(jnp.sin, lambda x: 2.0 * x, lambda x, indices: jnp.stack([jnp.sum(x), x[0] * x[1]]))
    codes = jax.random.normal(jax.random.key(0), (4, 3))
    ref, ref_mask = jax.random.normal(jax.random.key(1), (2, 3)), jnp.array([True, False])
    lam, mu = jax.random.normal(jax.random.key(2), (4, 2)), jnp.asarray(7.0)
    (phi, f), vjp = pullback(problem, codes, None)
    s = lagrangian.slack(f, lam, mu, Bands(jnp.array([-0.2, -0.1]), jnp.array([0.3, 0.2])))

    def total(c):
        phi_c = jax.vmap(lambda x: 2.0 * jnp.sin(x))(c)
        f_c = jax.vmap(lambda x: jnp.stack([jnp.sum(jnp.sin(x)), jnp.sin(x[0]) * jnp.sin(x[1])]))(c)
        energy = repulsion.ENERGIES[objective.repulsion](phi_c, ref, ref_mask)
        return (objective.diversity_weight * energy + 0.5 * objective.realism_weight * jnp.sum((phi_c - c) ** 2)
                + 0.5 * objective.prior_weight * jnp.sum(c ** 2) + lagrangian.value(f_c, s, lam, mu))

    return lagrangian.code_gradient(objective, vjp, phi, f, codes, s, lam, mu, ref, ref_mask), jax.grad(total)(codes)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_the_code_gradient_is_the_gradient_of_the_lagrangian(objective):
    got, expected = jax.jit(both_gradients, static_argnums=0)(objective)  # jitted: one compilation, not one per op
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_the_realism_residual_and_its_gradients():
    phi, codes = jnp.array([[1.0, 2.0]]), jnp.array([[0.5, 0.0]])
    assert float(realism.residual(phi[0], codes[0])) == pytest.approx((0.25 + 4.0) / 2)
    g_phi, g_codes = realism.gradients(phi, codes, 3.0)
    np.testing.assert_allclose(g_phi, [[1.5, 6.0]])
    np.testing.assert_allclose(g_codes, -g_phi)
