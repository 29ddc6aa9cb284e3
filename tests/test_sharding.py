"""Batches spread over several devices: on a CPU split into 4 JAX devices, in a fresh process.

The child process (`CHILD`) runs the command-line layer atlas with ``--cpu-devices 4``
first (it must configure JAX before anything else runs), then checks batches
against separate calls with the same keys and prints one JSON line the test reads.
"""

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import json, sys, warnings
    import jax, jax.numpy as jnp, numpy as np
    from inverse_set import Models, Unit, initialization, sample_inverse_set, sample_inverse_sets
    from inverse_set.cli.main import main
    from inverse_set.errors import InfeasibleBandError

    out = {}
    out["atlas_rc"] = main(["atlas", "--layer", "fc6", "--units", "40:46", "--band", "p50,p95", "--n", "12",
                            "--cpu-devices", "4", "--out", sys.argv[1]])
    out["devices"] = len(jax.devices())
    key = jax.random.key(5)

    def same(batch, single):
        if isinstance(batch, Exception) or isinstance(single, Exception):
            return type(batch).__name__ == type(single).__name__
        return bool(np.array_equal(batch.codes, single.codes) and np.array_equal(batch.images, single.images))

    # Six problems on four devices (the second round has two spare slots); one band is out of reach.
    w = jnp.array([1.5, -2.0, 1.0, 0.5])
    neuron = lambda x: jax.nn.sigmoid(w @ x)
    slab = Models(generator=jax.nn.sigmoid, encoder=lambda x: x, init=initialization.gaussian(4, scale=0.1))
    z1, z2 = [0.3, 0.4, 1.5, 0.6, 0.35, 0.5], [0.4, 0.5, 2.0, 0.7, 0.45, 0.55]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = sample_inverse_sets([neuron] * 6, z1, z2, 30, models=slab, rng_key=key)
        singles = []
        for b in range(6):
            try:
                singles.append(sample_inverse_set(neuron, z1[b], z2[b], 30, models=slab,
                                                  rng_key=jax.random.fold_in(key, b)))
            except InfeasibleBandError as err:
                singles.append(err)
    out["slab_same"] = [same(a, s) for a, s in zip(batch, singles)]
    out["slab_kinds"] = [type(r).__name__ for r in batch]
    out["slab_member"] = getattr(batch[2], "member", None)
    out["slab_in_band"] = all(bool(((r.activations >= z1[b]) & (r.activations <= z2[b])).all())
                              for b, r in enumerate(batch) if not isinstance(r, Exception))

    # The bundled models: five fc6 units at their p50-p95 bands.
    import generators
    zoo = generators.load("fashion")
    units = [Unit("fc6", u) for u in (3, 5, 10, 11, 14)]
    bands = [(zoo.percentiles(u)["p50"], zoo.percentiles(u)["p95"]) for u in units]
    batch = sample_inverse_sets(units, [b[0] for b in bands], [b[1] for b in bands], 12, models=zoo, rng_key=key)
    singles = [sample_inverse_set(u, *bands[b], 12, models=zoo, rng_key=jax.random.fold_in(key, b))
               for b, u in enumerate(units)]
    out["bundled_same"] = [same(a, s) for a, s in zip(batch, singles)]
    out["bundled_recompiled"] = [r.stats.compile_time_s > 0 for r in singles]
    print("RESULT " + json.dumps(out))
""")


def test_batches_over_four_cpu_devices_match_separate_calls_and_the_layer_atlas_uses_them(tmp_path):
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "atlas")], capture_output=True, text=True,
                          timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["devices"] == 4
    assert out["atlas_rc"] == 0
    assert "over 4 CPU device(s)" in proc.stdout
    run = json.loads((tmp_path / "atlas" / "run.json").read_text())
    assert run["devices"] == 4 and len(run["rows"]) == 6
    assert (tmp_path / "atlas" / "atlas.png").is_file()
    # Each problem reports its own outcome, and it is the separate call's, sample for sample.
    assert out["slab_kinds"] == ["InverseSetResult"] * 2 + ["InfeasibleBandError"] + ["InverseSetResult"] * 3
    assert out["slab_member"] == 2
    assert out["slab_same"] == [True] * 6 and out["slab_in_band"]
    assert out["bundled_same"] == [True] * 5
    # The separate calls reuse the batch's compiled program: no call recompiles.
    assert out["bundled_recompiled"] == [False] * 5
