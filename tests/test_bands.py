"""inverse_set.core.bands: membership, the inner band, the distance to a band, and the band path (given → solver)."""

import jax.numpy as jnp
import numpy as np

from inverse_set.core.bands import Bands, for_solver, in_band, with_code_constraints
from inverse_set.paper.realism import RealismConstraint


def test_in_band_needs_every_constraint_inside_edges_included():
    f = np.array([[0.4, 0.5], [0.6, 0.3], [0.39, 0.4], [0.5, 0.71]])
    np.testing.assert_array_equal(in_band(f, np.array([0.4, 0.3]), np.array([0.6, 0.7])), [True, True, False, False])
    # The same test on JAX arrays, with leading batch axes.
    out = in_band(jnp.asarray(f).reshape(2, 2, 2), jnp.array([0.4, 0.3]), jnp.array([0.6, 0.7]))
    np.testing.assert_array_equal(out, [[True, True], [False, False]])


def test_the_inner_band_shrinks_each_edge_by_a_fraction_of_the_width():
    inner = Bands(jnp.array([0.0, 1.0]), jnp.array([1.0, 3.0])).inner(0.25)
    np.testing.assert_allclose(inner.z1, [0.25, 1.5])
    np.testing.assert_allclose(inner.z2, [0.75, 2.5])


def test_distance_is_zero_inside_and_counts_band_widths_outside_summed_over_constraints():
    bands = Bands(jnp.array([0.0, 10.0]), jnp.array([1.0, 12.0]))
    f = jnp.array([[0.5, 11.0], [2.0, 11.0], [-0.5, 16.0], [0.0, 12.0]])
    np.testing.assert_allclose(bands.excess(f), [0.0, 1.0, 0.5 + 2.0, 0.0])
    np.testing.assert_array_equal(bands.contains(f), [True, False, False, True])


def test_code_constraints_append_their_own_bands_in_float64():
    lo, hi = with_code_constraints([0.1, 0.2], [0.3, 0.4], (RealismConstraint(0.05),))
    assert lo.dtype == hi.dtype == np.float64
    np.testing.assert_array_equal(lo, [0.1, 0.2, -0.05])
    np.testing.assert_array_equal(hi, [0.3, 0.4, 0.05])
    # A batch of bands (B, p) gets the same columns on every row; no code constraint adds nothing.
    lo, hi = with_code_constraints(np.zeros((3, 1)), np.ones((3, 1)), (RealismConstraint(0.5),))
    assert lo.shape == (3, 2) and (lo[:, 1] == -0.5).all() and (hi[:, 1] == 0.5).all()
    lo, hi = with_code_constraints([0.1], [0.3], ())
    np.testing.assert_array_equal(lo, [0.1])
    np.testing.assert_array_equal(hi, [0.3])


def test_solver_bands_are_float32_and_rounded_inward():
    z = np.array([0.1, 0.3, 1 / 3, 0.7, 1e-8, 12345.678, -0.1, 0.5])
    lo, hi = for_solver(z, z + 0.05)
    assert lo.dtype == hi.dtype == np.float32
    assert (lo.astype(np.float64) >= z).all() and (hi.astype(np.float64) <= z + 0.05).all()
    # Inward by at most one float32 step: the nearest float32 on the band's side.
    assert (np.nextafter(lo, np.float32(-np.inf)).astype(np.float64) < z).all()
    assert (np.nextafter(hi, np.float32(np.inf)).astype(np.float64) > z + 0.05).all()
    # float32(0.1) lies above 0.1 (rounding to nearest would keep it); float32(0.7) lies below it.
    assert float(np.float32(0.1)) > 0.1 and lo[0] == np.float32(0.1)
    assert float(np.float32(0.7)) < 0.7 and lo[3] == np.nextafter(np.float32(0.7), np.float32(1))
    # An edge exact in float32 stays as it is.
    lo, hi = for_solver(np.array([0.5, -2.0]), np.array([0.75, 4.0]))
    np.testing.assert_array_equal(lo, [0.5, -2.0])
    np.testing.assert_array_equal(hi, [0.75, 4.0])
