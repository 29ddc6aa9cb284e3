"""Random reachable problems, and helpers to run the sampler on them and check its promises.

:func:`draw_problem` draws a generator G (sigmoid(c), or tanh(A c)), 1–4 neurons
(linear-logistic units, or small random MLPs), a known code c₀ and, for each
neuron, a band around its activation at G(c₀) — so c₀ lies in the intersection and
every band is reachable by construction — sometimes narrow (width 0.02), sometimes
with code bounds around c₀, and sometimes the "paper" method with other settings. Its ``excess(images)``
rechecks returned images in float64 NumPy, independently of the package.
(``benchmarks/fuzz.py`` runs hundreds of them; the tests run a few.)
"""

from __future__ import annotations

import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import (
    GradientWalk,
    IncompleteSampleWarning,
    Objective,
    get_method,
    initialization,
    sample_inverse_set,
)


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def _identity(x):
    return x


NARROW_WIDTHS = (0.005, 0.01, 0.02, 0.05, 0.1)


def draw_problem(rng: np.random.Generator, narrow_intersections: bool = False):
    """``(neurons, z1, z2, kwargs, excess, description)``; ``kwargs`` for :func:`sample_inverse_set`, n included.

    ``narrow_intersections``: the family of issue 20 instead — 2–4 neurons, every band narrow (a width from
    ``NARROW_WIDTHS``), over G = tanh(A c) with a 6-d code or G = sigmoid(c) with an 8-d one, the default method.
    """
    networks = draw_networks(rng, narrow_intersections)
    return (networks.neurons, *draw_bands(rng, networks, narrow_intersections))


def draw_networks(rng: np.random.Generator, narrow_intersections: bool = False) -> types.SimpleNamespace:
    """G and the neurons of a random problem (see :func:`draw_problem`), in JAX and in float64 NumPy."""
    d, p, kind = int(rng.choice([1, 2, 4, 8])), int(rng.choice([1, 1, 2, 3, 4])), str(rng.choice(["slab", "mlp"]))
    sigmoid = rng.random() < 0.5
    if narrow_intersections:
        d, p = (8 if sigmoid else 6), int(rng.choice([2, 3, 4]))
    if sigmoid:
        generator, gen_np, image_dim = jax.nn.sigmoid, _sigmoid, d
    else:
        image_dim, a = d + 2, rng.normal(size=(d + 2, d)).astype(np.float32)
        generator, gen_np = (lambda c, a=jnp.asarray(a): jnp.tanh(a @ c)), (lambda c, a=a: np.tanh(c @ a.T))
    neurons, neurons_np = [], []
    for _ in range(p):
        if kind == "slab":
            w, b = rng.normal(size=image_dim).astype(np.float32), float(rng.normal())
            neurons.append(lambda x, w=jnp.asarray(w), b=b: jax.nn.sigmoid(w @ x + b))
            neurons_np.append(lambda x, w=w.astype(np.float64), b=b: _sigmoid(x @ w + b))
        else:
            w1, b1 = rng.normal(size=(8, image_dim)).astype(np.float32), rng.normal(size=8).astype(np.float32)
            w2 = rng.normal(size=8).astype(np.float32)
            neurons.append(lambda x, w1=jnp.asarray(w1), b1=jnp.asarray(b1), w2=jnp.asarray(w2):
                           w2 @ jnp.tanh(w1 @ x + b1))
            neurons_np.append(lambda x, w1=w1.astype(np.float64), b1=b1, w2=w2: np.tanh(x @ w1.T + b1) @ w2)
    return types.SimpleNamespace(d=d, kind=kind, generator=generator, gen_np=gen_np, neurons=neurons,
                                 neurons_np=neurons_np, init=initialization.gaussian(d))


def draw_bands(rng: np.random.Generator, networks: types.SimpleNamespace, narrow_intersections: bool = False,
               settings: dict | None = None):
    """``(z1, z2, kwargs, excess, description)``: bands around the activations of a new known code c₀ for the
    neurons of ``networks`` (see :func:`draw_problem`). ``settings``: the kwargs' n, num_seeds and code_bounds
    instead of drawn ones (a problem with the networks and settings of another shares its compiled sampler)."""
    d, neurons_np = networks.d, networks.neurons_np
    c0 = rng.normal(size=d)
    x0 = networks.gen_np(c0[None].astype(np.float32).astype(np.float64))
    narrow = rng.random() < 0.3 or narrow_intersections
    z1, z2 = [], []
    for f in neurons_np:
        a0 = float(f(x0)[0])
        width = (float(rng.choice(NARROW_WIDTHS)) if narrow_intersections else 0.02 if narrow
                 else float(rng.choice([0.05, 0.2, 0.5])))
        u = rng.uniform(0.1, 0.9)
        z1.append(a0 - u * width)
        z2.append(a0 + (1 - u) * width)
    bounds = None
    if rng.random() < 0.3:
        bounds = (float(c0.min() - rng.uniform(0.1, 1.0)), float(c0.max() + rng.uniform(0.1, 1.0)))
    kwargs = {"generator": networks.generator, "encoder": _identity, "init": networks.init, "code_bounds": bounds,
                  "num_seeds": int(rng.choice([1, 5, 10])), "n": int(rng.choice([20, 50])),
                  "rng_key": int(rng.integers(1 << 30))}
    kwargs.update(settings or {})
    if rng.random() < 0.2 and not narrow_intersections:  # else the default for a standard-Gaussian init
        kwargs["method"] = get_method("paper").replace(
            objective=Objective(diversity_weight=float(rng.choice([0.0, 1.0]))),
            walk=GradientWalk(step_size=float(rng.choice([0.01, 0.1, 0.5]))))

    def excess(images):
        """How far each image's activations lie outside the bands (0 inside), recomputed in float64."""
        f = np.stack([fn(np.asarray(images, np.float64)) for fn in neurons_np], axis=1)
        return np.max(np.maximum(np.array(z1) - f, f - np.array(z2)), axis=1).clip(0)

    widths = ",".join(f"{b - a:.3g}" for a, b in zip(z1, z2)) if narrow_intersections else ""
    desc = (f"{networks.kind} d={d} p={len(neurons_np)} {'narrow' if narrow else 'wide'}"
            f"{' bounds' if kwargs['code_bounds'] else ''}"
            f"{' widths ' + widths if widths else ''}"
            f"{' paper' if 'method' in kwargs else ''}")
    return z1, z2, kwargs, excess, desc


def sample(*args, **kwargs):
    """:func:`sample_inverse_set`, returning ``(result, whether it warned IncompleteSampleWarning)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sample_inverse_set(*args, **kwargs)
    return res, any(issubclass(w.category, IncompleteSampleWarning) for w in caught)


def assert_distinct_or_flagged(res, warned):
    """No code returned twice, and n samples unless the run warned that it returned fewer."""
    assert len(np.unique(res.codes, axis=0)) == len(res), "a sample was returned twice"
    assert len(res) == res.n_requested or (warned and not res.is_complete)


def assert_in_band(res, tol=0.0):
    """Every returned activation lies in its band as given."""
    assert len(res) > 0, "no samples returned"
    a = res.activations.astype(np.float64)
    assert ((a >= res.z1 - tol) & (a <= res.z2 + tol)).all()
