"""TracedOnce: a network traced once per argument type, its weights passed to the compiled program."""

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.core.tracing import TracedOnce


def test_a_network_is_traced_once_per_argument_type_and_computes_what_it_did():
    rng = np.random.default_rng(0)
    weights = jnp.asarray(rng.normal(size=(3, 4)), jnp.float32)
    traces = []

    def net(x, scale):
        traces.append(jax.typeof(x))  # a Python side effect: runs once per trace
        return {"out": jnp.tanh(x @ weights) * scale, "sum": jnp.sum(x)}

    once = TracedOnce(net)
    x = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)
    want = jax.vmap(lambda v: {"out": jnp.tanh(v @ weights) * 2.0, "sum": jnp.sum(v)})(x)

    @jax.jit
    def program(x):  # one program calling the network at three places, under vmap and in a loop
        a = jax.vmap(lambda v: once(v, 2.0))(x)
        b = jax.lax.fori_loop(0, 3, lambda i, acc: acc + jax.vmap(lambda v: once(v, 2.0)["sum"])(x), jnp.zeros(5))
        return a, b, jax.vmap(lambda v: once(v, 2.0))(x)

    a, b, c = program(x)
    np.testing.assert_allclose(a["out"], want["out"], rtol=1e-6)
    np.testing.assert_allclose(b, 3 * want["sum"], rtol=1e-6)
    np.testing.assert_allclose(c["sum"], want["sum"], rtol=1e-6)
    assert len(traces) == 1  # three calls, one trace
    once(jnp.ones((4, 3)), 1.0)  # another shape: a second trace
    assert len(traces) == 2
    np.testing.assert_allclose(once(x[0], 2.0)["out"], want["out"][0], rtol=1e-6)  # eagerly, too
    assert len(traces) == 2


def test_the_weights_a_network_closes_over_become_arguments_of_a_program_that_calls_it():
    weights = jnp.arange(12.0).reshape(3, 4)
    once = TracedOnce(lambda x: x @ weights)
    closed = jax.make_jaxpr(lambda x: once(x) + once(2 * x))(jnp.ones(3))
    assert any(c is weights for c in closed.consts)  # closed over by the outer program, once
    inner = [e for e in closed.jaxpr.eqns if e.primitive.name in ("jit", "pjit")]
    assert len(inner) == 2 and all(not e.params["jaxpr"].consts for e in inner)  # no weights inside the calls
