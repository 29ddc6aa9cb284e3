"""Baselines on a small problem whose activations we can compute by hand."""

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import initialization
from inverse_set.core.constraints import make_activation_fn, resolve
from inverse_set.core.problem import Problem
from inverse_set.evaluation.baselines import (
    dgn_am,
    gram_diversity,
    joint,
    ppgn,
    rejection,
    rejection_from_pool,
)

D = 6
W = jnp.array([[1.0, -1.0, 0.5, 0.0, 2.0, -0.5], [0.5, 1.0, -1.0, 1.0, 0.0, 0.5]])  # 2 "classes"


def generator(c):
    return jax.nn.sigmoid(c)


def encoder(x):
    return jax.nn.relu(x * 2.0 - 0.5)


def logits(x):
    return W @ x


def feature_map(x):  # a fake (H, W, C) conv layer for the Gram term
    return jnp.stack([x, x**2, 1 - x], axis=-1).reshape(2, 3, 3)


def test_ppgn_raises_the_class_probability_and_respects_the_clip():
    res = ppgn(generator, encoder, logits, 0, D, code_low=0.0, code_high=3.0,
               num_chains=4, num_steps=40, save_every=5, rng_key=jax.random.key(0))
    assert res.codes.shape == (4 * 8, D) and res.images.shape == (32, D)
    assert res.codes.min() >= 0.0 and res.codes.max() <= 3.0
    p = jax.nn.softmax(jax.vmap(logits)(jnp.asarray(res.images)))[:, 0]
    p0 = jax.nn.softmax(logits(generator(jnp.zeros(D))))[0]
    assert float(p.mean()) > float(p0)  # the condition term pushes towards class 0
    assert res.network_evaluations == 4 * 40


def test_dgn_am_maximises_the_raw_activation():
    act = lambda x: logits(x)[1]
    init = initialization.gaussian(D)
    res = dgn_am(generator, act, init, 8, code_upper=jnp.full(D, 4.0), num_steps=50)
    final = np.asarray(jax.vmap(act)(jnp.asarray(res.images)))
    start = np.asarray(jax.vmap(lambda k: act(generator(jnp.clip(init(k), 0, 4))))(
        jax.random.split(jax.random.key(0), 8)))
    assert (final > start).mean() >= 0.75
    assert res.codes.min() >= 0 and res.codes.max() <= 4.0


def test_gram_diversity_pulls_into_the_band():
    act = lambda x: logits(x)[0]
    res = gram_diversity(generator, act, feature_map, initialization.gaussian(D), 0.3, 0.6, 20,
                         batch_size=5, num_steps=200, code_low=-jnp.inf)
    a = np.asarray(jax.vmap(act)(jnp.asarray(res.images)))
    assert res.images.shape == (20, D)
    assert ((a >= 0.3 - 0.05) & (a <= 0.6 + 0.05)).mean() > 0.8


def test_rejection_keeps_only_in_band_draws():
    act = lambda x: logits(x)[:1]
    res = rejection(generator, act, initialization.gaussian(D), 0.4, 0.6, 50, chunk=200)
    a = np.asarray(jax.vmap(act)(jnp.asarray(res.images)))[:, 0]
    assert len(a) == 50 and ((a >= 0.4) & (a <= 0.6)).all()
    assert 0 < res.info["acceptance_rate"] < 1
    assert res.network_evaluations == res.info["draws"]
    # each image is its own code's (only the chunks with a hit come to the host), and the compilation of the
    # draws and of their evaluation is timed apart from the run
    np.testing.assert_allclose(np.asarray(jax.vmap(generator)(jnp.asarray(res.codes))), res.images, atol=1e-5)
    assert res.compile_time_s > 0


def test_rejection_from_a_pool_draws_each_code_at_most_once_and_says_what_it_got():
    pool = np.asarray(jax.random.normal(jax.random.key(3), (700, D)))
    act = lambda x: logits(x)[:1]
    a_pool = np.asarray(jax.vmap(act)(jax.vmap(generator)(jnp.asarray(pool))))[:, 0]
    members = int(((a_pool >= 0.4) & (a_pool <= 0.6)).sum())
    assert 0 < members < 700
    res = rejection_from_pool(generator, act, pool, 0.4, 0.6, 10 * members, chunk=256)  # asks for more than exist
    assert len(res.codes) == members == res.info["in_band"]
    assert len(np.unique(res.codes, axis=0)) == members  # no code twice
    assert res.info["draws"] == 700 and res.network_evaluations == 700
    a = np.asarray(jax.vmap(act)(jnp.asarray(res.images)))[:, 0]
    assert ((a >= 0.4) & (a <= 0.6)).all()
    # asked for 5, it draws up to the 5th in-band code and no further
    five = rejection_from_pool(generator, act, pool, 0.4, 0.6, 5, chunk=256)
    order = np.asarray(jax.random.permutation(jax.random.key(0), 700))
    hits = np.flatnonzero((a_pool[order] >= 0.4) & (a_pool[order] <= 0.6))
    assert len(five.codes) == 5 and five.info["draws"] == hits[4] + 1 == five.network_evaluations


def test_joint_optimisation_lands_in_band():
    specs, indices, _ = resolve([0], {"logits": (2,)})
    problem = Problem(generator, encoder, make_activation_fn(specs, lambda x: {"logits": logits(x)}))
    res = joint(problem, indices, initialization.gaussian(D), 0.3, 0.5, 12)
    a = np.asarray(jax.vmap(logits)(jnp.asarray(res.images)))[:, 0]
    assert ((a >= 0.3) & (a <= 0.5)).mean() > 0.9
    assert res.info["steps"] == 2000
