"""More than one machine: two processes joined by ``jax.distributed`` on 127.0.0.1 give every process the results
one process gives.

Each child configures JAX (gloo CPU collectives, 2 CPU devices), joins the run (coordinator on a free local port;
two processes, or one alone for the reference) and writes what it got:

* the slab through the paper's code-space method: a batch of six problems (one of them out of reach) and one single
  problem;
* the bundled models through their default method (``"prior-ladder"``, whose state carries typed PRNG keys): three
  fc6 units at their p75–p95 bands and one band far above anything fc6:46 reaches, n = 20, ``rng_key=0``;
* the command line's layer atlas of the same three units (``inverse-set atlas --layer fc6 --units 45:48 --band
  p75,p95``), each process into its own directory.

The test compares the files code for code. Every child runs in the test's temporary directory, with JAX's persistent
compilation cache off, and under a time limit.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

from inverse_set import InverseSetResult

CHILD = textwrap.dedent("""
    import os, sys, warnings
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_num_cpu_devices", 2)
    port, pid, nproc, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if nproc > 1:
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=nproc, process_id=pid,
                                   initialization_timeout=60)
    import jax.numpy as jnp, numpy as np
    from inverse_set import Models, SamplingError, Unit, initialization, sample_inverse_set, sample_inverse_sets
    from inverse_set.cli.arguments import load_models
    from inverse_set.cli.main import main

    w = jnp.array([1.5, -2.0, 1.0, 0.5])
    neuron = lambda x: jax.nn.sigmoid(w @ x)
    slab = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=initialization.gaussian(4, scale=0.1))
    z1, z2 = [0.3, 0.4, 1.5, 0.6, 0.35, 0.5], [0.4, 0.5, 2.0, 0.7, 0.45, 0.55]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = sample_inverse_sets([neuron] * 6, z1, z2, 30, models=slab, rng_key=5)
        single = sample_inverse_set(neuron, 0.6, 0.7, 30, models=slab, rng_key=jax.random.fold_in(jax.random.key(5), 3))

    # The bundled models as the command line loads them (one object: the atlas below reuses this batch's compiled run).
    zoo = load_models("fashion")
    units = [Unit("fc6", u) for u in (45, 46, 47)] + [Unit("fc6", 46)]
    lo = [zoo.percentiles(u)["p75"] for u in units[:3]] + [60.0]  # fc6:46 reaches about 11 on the test images
    hi = [zoo.percentiles(u)["p95"] for u in units[:3]] + [70.0]
    bundled = sample_inverse_sets(units, lo, hi, 20, models=zoo, rng_key=0)
    atlas_rc = main(["atlas", "--layer", "fc6", "--units", "45:48", "--band", "p75,p95", "--n", "20", "--rng", "0",
                     "--quiet", "--out", out + ".atlas"])

    codes = lambda rs, d: [np.zeros((0, d)) if isinstance(r, Exception) else r.codes for r in rs]
    np.savez(out, *codes(batch, 4), single=single.codes, devices=len(jax.devices()), local=len(jax.local_devices()),
             kinds=np.array([type(r).__name__ for r in batch]),
             **{f"bundled_{b}": c for b, c in enumerate(codes(bundled, 256))},
             bundled_kinds=np.array([type(r).__name__ for r in bundled]),
             bundled_failed=np.array([isinstance(r, SamplingError) for r in bundled]),
             bundled_methods=np.array([r.stats.method for r in bundled if not isinstance(r, Exception)]),
             bundled_in_band=np.array([bool(((r.activations >= a) & (r.activations <= b)).all())
                                       for r, a, b in zip(bundled, lo, hi) if not isinstance(r, Exception)]),
             atlas_rc=atlas_rc)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_get_what_one_process_gets_for_the_slab_and_the_bundled_models_default(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    port = str(free_port())
    env = {**os.environ, "INVERSE_SET_CACHE": "off"}  # nothing written outside tmp_path
    run = lambda pid, nproc, out: subprocess.Popen(
        [sys.executable, str(script), port, str(pid), str(nproc), str(tmp_path / out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    pair = [run(0, 2, "p0.npz"), run(1, 2, "p1.npz")]
    try:
        logs = [p.communicate(timeout=600)[0] for p in pair]
    finally:
        for p in pair:
            p.kill()
    assert all(p.returncode == 0 for p in pair), "\n".join(log[-3000:] for log in logs)
    alone = subprocess.run([sys.executable, str(script), port, "0", "1", str(tmp_path / "one.npz")],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert alone.returncode == 0, alone.stderr[-3000:]
    one, *both = [np.load(tmp_path / f) for f in ("one.npz", "p0.npz", "p1.npz")]
    assert int(one["devices"]) == 2 and all(int(r["devices"]) == 4 and int(r["local"]) == 2 for r in both)
    # The slab, through the paper's method.
    assert list(one["kinds"]) == ["InverseSetResult"] * 2 + ["InfeasibleBandError"] + ["InverseSetResult"] * 3
    for r in both:
        assert list(r["kinds"]) == list(one["kinds"])
        for k in [f"arr_{b}" for b in range(6)] + ["single"]:
            np.testing.assert_array_equal(r[k], one[k])
    assert one["arr_0"].shape == (30, 4) and np.array_equal(one["single"], one["arr_3"])
    # The bundled models through their default method: three units sampled, the unreachable band a SamplingError.
    assert list(one["bundled_kinds"]) == ["InverseSetResult"] * 3 + ["InfeasibleBandError"]
    assert list(one["bundled_failed"]) == [False] * 3 + [True]
    assert list(one["bundled_methods"]) == ["prior-ladder"] * 3 and one["bundled_in_band"].all()
    assert all(one[f"bundled_{b}"].shape == (20, 256) for b in range(3))
    for r in both:
        for k in ("bundled_kinds", "bundled_failed", "bundled_methods", "bundled_in_band"):
            assert list(r[k]) == list(one[k]), k
        for b in range(4):
            np.testing.assert_array_equal(r[f"bundled_{b}"], one[f"bundled_{b}"])
    # The command line's atlas: in every process, the rows of the batch above (same units, bands and keys).
    for name, r in (("one", one), ("p0", both[0]), ("p1", both[1])):
        assert int(r["atlas_rc"]) == 0
        rows = json.loads((tmp_path / f"{name}.npz.atlas" / "run.json").read_text())["rows"]
        assert [row["neuron"] for row in rows] == ["fc6:45", "fc6:46", "fc6:47"]
        for b in range(3):
            np.testing.assert_array_equal(InverseSetResult.load(tmp_path / f"{name}.npz.atlas" / f"row{b}").codes,
                                          one[f"bundled_{b}"])
