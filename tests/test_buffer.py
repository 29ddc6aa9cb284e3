"""inverse_set.walks.buffer: the kept samples every walk shares — appending, what counts as new, and when a walk stops."""

import jax.numpy as jnp
import numpy as np

from inverse_set.core.loop import WalkStatus
from inverse_set.walks import buffer
from inverse_set.walks.buffer import NOVELTY_MEMORY, NOVELTY_TOL

K, D, F, P = 3, 2, 2, 1


def empty(n=5, max_steps=10, keep_encodings=False):
    seeds = jnp.arange(K * D, dtype=jnp.float32).reshape(K, D)
    return buffer.init(seeds, n, F, P, max_steps, keep_encodings)


def keep(buf, accepted, codes, step=0):
    codes = jnp.asarray(codes, jnp.float32)
    return buffer.keep(buf, jnp.asarray(accepted), codes, 2 * codes, codes[:, :1], jnp.asarray(step))


def test_an_empty_buffer_has_its_shapes_and_starts_from_the_seeds():
    buf = empty()
    assert buf.codes.shape == (5, D) and buf.f.shape == (5, P) and buf.accepted.shape == (11,)
    assert buf.recent.shape == (K, NOVELTY_MEMORY, D) and int(buf.count) == 0 and not buf.last_mask.any()
    np.testing.assert_array_equal(buf.last_codes, np.arange(K * D).reshape(K, D))
    # Every kept encoding only when the walk repels from all of them.
    assert buf.phi.shape == (0, F) and empty(keep_encodings=True).phi.shape == (5, F)


def test_keep_appends_the_accepted_walkers_in_order_and_drops_any_overflow():
    buf = keep(empty(n=4, keep_encodings=True), [True, False, True], [[1, 1], [2, 2], [3, 3]], step=0)
    assert int(buf.count) == 2 and int(buf.accepted[0]) == 2 and int(buf.stall) == 0
    np.testing.assert_array_equal(buf.codes[:2], [[1, 1], [3, 3]])
    np.testing.assert_array_equal(buf.phi[:2], [[2, 2], [6, 6]])
    np.testing.assert_array_equal(buf.last_mask, [True, False, True])
    np.testing.assert_array_equal(buf.last_codes[1], [2, 3])  # walker 1 kept nothing: still its seed
    np.testing.assert_array_equal(buf.last_phi[2], [6, 6])
    # Three more accepted but room for two: the first two fill the buffer, the third is dropped.
    buf = keep(buf, [True, True, True], [[4, 4], [5, 5], [6, 6]], step=1)
    assert int(buf.count) == 4 and int(buf.accepted[1]) == 3
    np.testing.assert_array_equal(buf.codes, [[1, 1], [3, 3], [4, 4], [5, 5]])
    # A step with nothing kept adds to the stall count.
    buf = keep(buf, [False] * 3, [[7, 7]] * 3, step=2)
    assert int(buf.stall) == 1 and int(buf.count) == 4


def test_a_code_is_new_unless_it_is_within_the_tolerance_of_a_recent_kept_one():
    buf = keep(empty(), [True, True, False], [[1.0, 1.0], [100.0, 0.0], [0.0, 0.0]])
    everyone = jnp.ones((K,), bool)
    tol = NOVELTY_TOL
    same = [[1.0 + 0.5 * tol, 1.0], [100.0 * (1 + 0.5 * tol), 0.0], [9.0, 9.0]]
    np.testing.assert_array_equal(buffer.is_new(buf, jnp.asarray(same), everyone), [False, False, True])
    # The tolerance is relative to the kept code's scale max(1, ‖c‖∞): 2 tol apart is new.
    apart = [[1.0 + 2 * tol, 1.0], [100.0 * (1 + 2 * tol), 0.0], [9.0, 9.0]]
    np.testing.assert_array_equal(buffer.is_new(buf, jnp.asarray(apart), everyone), [True, True, True])
    # A code kept by one walker is not new for another walker either.
    np.testing.assert_array_equal(buffer.is_new(buf, jnp.asarray([[5.0, 5.0], [5.0, 6.0], [1.0, 1.0]]), everyone),
                                  [True, True, False])


def test_walkers_at_one_code_in_one_step_give_one_sample():
    codes = jnp.asarray([[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]])
    np.testing.assert_array_equal(buffer.is_new(empty(), codes, jnp.ones((K,), bool)), [True, False, False])
    # Only candidates (walkers in band) count as earlier codes of the step.
    np.testing.assert_array_equal(buffer.is_new(empty(), codes, jnp.array([False, True, True])), [True, True, False])


def test_a_walker_remembers_its_last_novelty_memory_kept_codes():
    buf = empty(n=20)
    walker0 = [True, False, False]
    for i in range(NOVELTY_MEMORY):
        buf = keep(buf, walker0, [[float(i), 0.0], [0.0, 50.0], [0.0, 60.0]], step=i)
    first = jnp.asarray([[0.0, 0.0], [0.0, 51.0], [0.0, 61.0]])
    assert not bool(buffer.is_new(buf, first, jnp.ones((K,), bool))[0])  # back to its first code: not new
    buf = keep(buf, walker0, [[float(NOVELTY_MEMORY), 0.0], [0.0, 50.0], [0.0, 60.0]], step=NOVELTY_MEMORY)
    assert bool(buffer.is_new(buf, first, jnp.ones((K,), bool))[0])  # fell out of the memory: new again


def test_the_stop_rule_complete_then_stalled_then_out_of_steps():
    buf = empty(n=2)
    def status(b, step, budget=10, stall=3):
        return WalkStatus(int(buffer.stop_status(b, jnp.asarray(step), budget, stall)))

    assert status(buf, 0) == WalkStatus.RUNNING
    assert status(buf, 10) == WalkStatus.MAX_STEPS
    stalled = buf._replace(stall=jnp.asarray(3, jnp.int32))
    assert status(stalled, 10) == WalkStatus.STALLED
    full = stalled._replace(count=jnp.asarray(2, jnp.int32))
    assert status(full, 10) == WalkStatus.COMPLETE
