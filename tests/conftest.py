"""The slab: the known-answer problem the sampler's tests share, as the ``slab`` fixture.

G(c) = sigmoid(c) maps an 8-d code into the unit cube, E is the identity, and
each neuron a(x) = sigmoid(w·x + b) is linear-logistic with b = −Σw/2 (the plane
through the cube's centre), so the inverse set of a band [z1, z2] is the slab
{x ∈ [0, 1]^8 : logit(z1) ≤ w·x + b ≤ logit(z2)}, checked here in float64 NumPy.
Codes start from N(0, 0.1² I): clustered near the centre, where a(x) = 0.5, and
not a standard Gaussian, so ``method=None`` runs ``"paper"`` on these models.

The networks are module-level function objects, created once: the compiled-sampler
cache keys on function identity, so every test that uses them shares its compiled runs.
"""

from __future__ import annotations

import os
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import Models, initialization

# The command line turns on JAX's persistent compilation cache in the user's cache directory; the tests that call it
# in-process keep every compilation in the process instead (test_cli.py checks the cache in a subprocess of its own).
os.environ["INVERSE_SET_CACHE"] = "off"

D = 8
W1 = np.array([1.5, -2.0, 1.0, 0.5, -1.0, 2.0, 0.0, 1.0], np.float32)
W2 = np.array([0.0, 1.0, 2.0, -1.5, 1.0, 0.0, -1.0, 0.5], np.float32)
B1 = -float(W1.sum()) / 2
B2 = -float(W2.sum()) / 2


def _linear_logistic(w, b):
    w = jnp.asarray(w)

    def neuron(x):
        return jax.nn.sigmoid(w @ x + b)

    return neuron


def identity(x):
    return x


NEURON1 = _linear_logistic(W1, B1)
NEURON2 = _linear_logistic(W2, B2)
INIT = initialization.gaussian(D, scale=0.1)  # the seeds start clustered near the centre
MODELS = Models(generator=jax.nn.sigmoid, encoder=identity, init=INIT)
FIELDS = dict(generator=jax.nn.sigmoid, encoder=identity, init=INIT)  # the same models, as keyword fields


def np_sigmoid(t):
    return 1.0 / (1.0 + np.exp(-np.asarray(t, np.float64)))


def activation(images, w, b):
    """a(x) = sigmoid(w·x + b) for each image, in float64 NumPy (independent of the package)."""
    return np_sigmoid(np.asarray(images, np.float64) @ np.asarray(w, np.float64) + b)


def in_slab(images, w, b, z1, z2, tol=1e-6):
    """Whether each image lies in the slab of [z1, z2] (± tol for float32 rounding)."""
    a = activation(images, w, b)
    return (a >= z1 - tol) & (a <= z2 + tol)


SLAB = types.SimpleNamespace(D=D, W1=W1, W2=W2, B1=B1, B2=B2, neuron1=NEURON1, neuron2=NEURON2, identity=identity,
                             init=INIT, models=MODELS, fields=FIELDS, sigmoid=np_sigmoid, activation=activation,
                             in_slab=in_slab)


@pytest.fixture(scope="session")
def slab():
    """The slab problem: ``slab.models`` (or ``**slab.fields``), ``slab.neuron1``/``neuron2`` with weights
    ``W1``/``W2`` and biases ``B1``/``B2``, and float64 checks ``slab.in_slab(images, w, b, z1, z2)``."""
    return SLAB
