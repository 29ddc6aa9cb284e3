"""More than one machine: two processes joined by ``jax.distributed`` on 127.0.0.1 give every process the results
one process gives.

Each child configures JAX (gloo CPU collectives, 2 CPU devices), joins the
run (coordinator on a free local port; two processes, or one alone for the
reference), runs a batch of six problems (one of them out of reach) and one
single problem, and writes its codes; the test compares the files.
"""

import socket
import subprocess
import sys
import textwrap

import numpy as np

CHILD = textwrap.dedent("""
    import sys, warnings
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_num_cpu_devices", 2)
    port, pid, nproc, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if nproc > 1:
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=nproc, process_id=pid,
                                   initialization_timeout=60)
    import jax.numpy as jnp, numpy as np
    from inverse_set import Models, initialization, sample_inverse_set, sample_inverse_sets

    w = jnp.array([1.5, -2.0, 1.0, 0.5])
    neuron = lambda x: jax.nn.sigmoid(w @ x)
    slab = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=initialization.gaussian(4, scale=0.1))
    z1, z2 = [0.3, 0.4, 1.5, 0.6, 0.35, 0.5], [0.4, 0.5, 2.0, 0.7, 0.45, 0.55]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = sample_inverse_sets([neuron] * 6, z1, z2, 30, models=slab, rng_key=5)
        single = sample_inverse_set(neuron, 0.6, 0.7, 30, models=slab, rng_key=jax.random.fold_in(jax.random.key(5), 3))
    codes = [np.zeros((0, 4)) if isinstance(r, Exception) else r.codes for r in batch]
    np.savez(out, *codes, single=single.codes, devices=len(jax.devices()), local=len(jax.local_devices()),
             kinds=np.array([type(r).__name__ for r in batch]))
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_get_what_one_process_gets(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    port = str(free_port())
    run = lambda pid, nproc, out: subprocess.Popen(  # noqa: E731
        [sys.executable, str(script), port, str(pid), str(nproc), str(tmp_path / out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pair = [run(0, 2, "p0.npz"), run(1, 2, "p1.npz")]
    try:
        logs = [p.communicate(timeout=300)[0] for p in pair]
    finally:
        for p in pair:
            p.kill()
    assert all(p.returncode == 0 for p in pair), "\n".join(log[-3000:] for log in logs)
    alone = subprocess.run([sys.executable, str(script), port, "0", "1", str(tmp_path / "one.npz")],
                           capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr[-3000:]
    one, *both = [np.load(tmp_path / f) for f in ("one.npz", "p0.npz", "p1.npz")]
    assert int(one["devices"]) == 2 and all(int(r["devices"]) == 4 and int(r["local"]) == 2 for r in both)
    assert list(one["kinds"]) == ["InverseSetResult"] * 2 + ["InfeasibleBandError"] + ["InverseSetResult"] * 3
    for r in both:
        assert list(r["kinds"]) == list(one["kinds"])
        for k in [f"arr_{b}" for b in range(6)] + ["single"]:
            np.testing.assert_array_equal(r[k], one[k])
    assert one["arr_0"].shape == (30, 4) and np.array_equal(one["single"], one["arr_3"])
