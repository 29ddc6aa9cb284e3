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

import gc
import os
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inverse_set import Models, cache, initialization

# The command line turns on JAX's persistent compilation cache in the user's cache directory; the tests that call it
# in-process keep every compilation in the process instead (test_cli.py checks the cache in a subprocess of its own).
os.environ["INVERSE_SET_CACHE"] = "off"


def map_limit() -> int | None:
    """The kernel's limit on one process's memory maps (``vm.max_map_count``, 65,530 by default), where Linux has one."""
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return None


def maps_in_use() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def free_compiled_code_past(limit: int | None) -> bool:
    """Drop every compiled executable (JAX's caches and the package's samplers) once this process holds more than
    ``limit`` memory maps; whether it did.

    XLA's CPU code takes a few maps per executable (about six for a small one), and JAX keeps up to 4096 of each kind,
    so one worker that compiles a few thousand programs of the suite's reached the kernel's limit of 65,530 maps: LLVM
    could not map the next compilation and the worker aborted ("Fatal Python error: Aborted" in
    ``backend_compile_and_load``, at the same test on every full run). A test compiles again what it needs after.
    """
    if limit is None or maps_in_use() <= limit:
        return False
    jax.clear_caches()
    cache.clear()
    gc.collect()
    return True


MAP_LIMIT = map_limit()


@pytest.fixture(autouse=True)
def _compiled_code_under_the_map_limit():
    yield
    free_compiled_code_past(MAP_LIMIT and MAP_LIMIT // 2)


@pytest.fixture(autouse=True)
def _in_an_empty_directory_of_its_own(tmp_path_factory, monkeypatch):
    """Every test runs in a fresh, empty working directory, never in the one the suite started from: a command line
    that writes to its default ``--out`` (``out/sample``) writes there, and a run already in the repository's
    ``out/`` (README command 1, which CI runs before the suite) changes no test. A test that needs a file of the
    repository names it from ``Path(__file__)``."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


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
FIELDS = {"generator": jax.nn.sigmoid, "encoder": identity, "init": INIT}  # the same models, as keyword fields


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
