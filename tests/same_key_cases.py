"""Fixed-key sampling cases whose codes are recorded in tests/golden/.

Each case returns a list of results. The calls may follow the API as it changes;
the problems, keys and settings must not.

The slab cases (tiny networks) give bitwise the same codes on every machine
seen so far and are recorded once, in ``same_key.npz``. The bundled cases run
thousands of float32 steps through convolutional networks whose XLA code
depends on the CPU's vector units, so their codes differ between, e.g., an
AVX-512 and an AVX2 machine: they are recorded per machine, in
``same_key_bundled/<fingerprint>.npz`` (:func:`fingerprint`).
"""

import functools
import platform
from pathlib import Path

import jax
import numpy as np

from inverse_set import (
    GradientWalk,
    Objective,
    Unit,
    get_method,
    initialization,
    sample_inverse_set,
    sample_inverse_sets,
)

D = 8
W1 = np.array([1.5, -2.0, 1.0, 0.5, -1.0, 2.0, 0.0, 1.0], np.float32)
W2 = np.array([0.0, 1.0, 2.0, -1.5, 1.0, 0.0, -1.0, 0.5], np.float32)


def _neuron(w):
    b = -float(w.sum()) / 2
    return lambda x: jax.nn.sigmoid(x @ w + b)


NEURON1, NEURON2 = _neuron(W1), _neuron(W2)
SLAB = {"generator": jax.nn.sigmoid, "encoder": lambda x: x, "init": initialization.gaussian(D, scale=0.1)}


@functools.cache
def zoo():
    import generators

    return generators.load("fashion")


# The bundled models' default when the record was made (a later default must not change the recorded runs).
RECORDED = "prior-slice"
# The code-space settings the record was made with: the paper's method with a realism term (ρ = 10) and β = 0.3.
PAPER_WITH_REALISM = get_method("paper").replace(objective=Objective(realism_weight=10.0),
                                                 walk=GradientWalk(step_size=0.3))


def slab():
    return [sample_inverse_set(NEURON1, 0.55, 0.7, n=200, rng_key=1, **SLAB)]


def slab_intersection():
    return [sample_inverse_set([NEURON1, NEURON2], [0.5, 0.3], [0.7, 0.5], n=100, rng_key=2, **SLAB)]


def slab_batch():
    return sample_inverse_sets([NEURON1, NEURON1], [[0.4], [0.6]], [[0.5], [0.75]], n=60, rng_key=5, **SLAB)


def slab_realism_bound():
    return [sample_inverse_set(NEURON1, 0.45, 0.6, n=60, rng_key=0, realism_bound=0.1, **SLAB)]


def bundled_class():
    return [sample_inverse_set("Bag", 9.5094, 14.4364, n=60, rng_key=0, models=zoo(), method=RECORDED)]


def bundled_intersection():
    return [sample_inverse_set([Unit("fc6", 46), "Sneaker"], [4.0, 7.6939], [7.8194, 10.3177], n=60, rng_key=1,
                               models=zoo(), method=RECORDED)]


def bundled_hidden():
    return [sample_inverse_set(Unit("fc6", 46), 4.0, 7.8194, n=60, rng_key=3, models=zoo(), method=RECORDED)]


def bundled_batch():
    return sample_inverse_sets(["Bag", "Dress"], [[9.5094], [4.8078]], [[14.4364], [7.7691]], n=60, rng_key=4,
                               models=zoo(), method=RECORDED)


def bundled_realism_bound():
    return [sample_inverse_set("Bag", 9.5094, 14.4364, n=60, rng_key=0, realism_bound=0.0674, models=zoo(),
                               method=PAPER_WITH_REALISM)]


def fingerprint() -> str:
    """What the bundled cases' float32 results depend on: architecture, backend, vector units, jax version."""
    flags = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    simd = next((name for name in ("avx512f", "avx2", "avx", "neon", "asimd") if name in flags), "base")
    return f"{platform.machine()}-{jax.default_backend()}-{simd}-jax{jax.__version__}"


SLAB_CASES = ("slab", "slab_intersection", "slab_batch", "slab_realism_bound")
CASES = {f.__name__: f for f in (slab, slab_intersection, slab_batch, slab_realism_bound, bundled_class,
                                  bundled_intersection, bundled_hidden, bundled_batch, bundled_realism_bound)}
