"""The compiled sampler of one problem structure: seeds then walker in one jitted run, and the recheck.

:class:`CompiledSampler` holds the networks, n, K and the solver settings. Its
``run`` is pure — seeds (eq. 7–8), then the walker (eq. 9–10) with the seeds'
λ*, μ* — and is compiled ahead of time once per set of devices, sharded over
them one problem per device (:meth:`CompiledSampler._run_sharded`). Bands and unit
indices are traced arguments, so a new band or another unit of the same layer
reuses the compiled function. :meth:`CompiledSampler.finish` turns the
fixed-size buffers into an :class:`~inverse_set.results.InverseSetResult`,
rechecking every sample from its returned image.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from inverse_set import seeds, slice_walker, walker
from inverse_set.batching import chunked
from inverse_set.realism import RealismConstraint
from inverse_set.constraints import Bands, in_band
from inverse_set.errors import IncompleteSampleWarning, InfeasibleBandError, NonFiniteActivationError, SamplingError
from inverse_set.loop import Status
from inverse_set.problem import Problem, evaluate
from inverse_set.progress import Progress
from inverse_set.results import InverseSetResult, SamplerStats

WALKER_STATUS = {
    Status.DONE: "complete",
    Status.STALLED: "stalled",
    Status.MAX_STEPS: "out of walker steps",
}
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class CompiledSampler:
    """Seeds then walker for one problem structure (networks, layers, n, K, settings), compiled once.

    ``run(rng_key, z1, z2, indices)`` is pure and jittable; :meth:`sample` and
    :meth:`sample_batch` call its compiled form. ``z1, z2`` hold every column of
    f: the neurons' bands, then the code constraints' (e.g. realism).
    """

    def __init__(self, problem: Problem, init_fn, n: int, num_seeds: int, num_features: int,
                 seed_config: seeds.SeedConfig, walker_config, progress: bool):
        self.problem, self.init_fn = problem, init_fn
        self.n, self.num_seeds, self.num_features = n, num_seeds, num_features
        self.seed_config, self.walker_config = seed_config, walker_config
        self.progress = Progress(num_seeds, seed_config.max_steps, n) if progress else None
        self._sharded = {}
        self._render = chunked(lambda code, indices: evaluate(problem, code, indices)[::2], per_example=True)

    def all_bands(self, z1, z2) -> tuple[np.ndarray, np.ndarray]:
        """Every column's band in float64: the neurons' ``(…, p)`` bands, then the code constraints'."""
        edges = np.array([c.band() for c in self.problem.code_constraints], np.float64).reshape(-1, 2)
        pad = lambda z, extra: np.concatenate([z, np.broadcast_to(extra, z.shape[:-1] + extra.shape)], -1)  # noqa: E731
        return pad(np.asarray(z1, np.float64), edges[:, 0]), pad(np.asarray(z2, np.float64), edges[:, 1])

    def solver_bands(self, z1, z2) -> tuple[np.ndarray, np.ndarray]:
        """The float32 bands the solvers work with: every column's band rounded *inward* to float32.

        So an activation the solvers accept lies in the band as given, in float64 too.
        """
        lo, hi = self.all_bands(z1, z2)
        lo32, hi32 = lo.astype(np.float32), hi.astype(np.float32)
        lo32 = np.where(lo32 < lo, np.nextafter(lo32, np.float32(np.inf)), lo32)
        hi32 = np.where(hi32 > hi, np.nextafter(hi32, np.float32(-np.inf)), hi32)
        return lo32, hi32

    def run(self, rng_key, z1, z2, indices):
        """Seeds then walker for one problem; returns ``(SeedState, WalkerState)``."""
        bands = Bands(z1, z2)
        config, k = self.seed_config, self.num_seeds
        keys = jax.random.split(rng_key, k * config.candidates_per_seed)
        candidates = jax.vmap(self.init_fn)(keys).astype(jnp.float32)
        codes0, reserve = seeds.select_initial(self.problem, candidates, bands, indices, k, config.select)
        seed_cb = None if self.progress is None else self.progress.seed_callback(bands)
        seed_state = seeds.run(config, self.problem, codes0, bands, indices, seed_cb, reserve)
        walk_cb = None if self.progress is None else self.progress.walk_callback

        def walk(seed_state):
            if isinstance(self.walker_config, slice_walker.SliceWalkerConfig):
                return slice_walker.run(self.walker_config, self.problem, seed_state.codes, bands, indices,
                                        jax.random.fold_in(rng_key, 1), self.n, self.num_features, walk_cb)
            return walker.run(self.walker_config, self.problem, seed_state.codes, bands, indices,
                              lam=seed_state.lam, mu=seed_state.mu,  # λ*, μ*
                              n=self.n, num_features=self.num_features, callback=walk_cb)

        def no_walk(seed_state):  # the seeds failed: nothing to walk from
            return walker.init(seed_state.codes, self.n, self.num_features, bands.z1.shape[0],
                               self.walker_config.step_budget(self.n, k), self.walker_config.keeps_encodings)

        walk_state = jax.lax.cond(seed_state.status == Status.DONE, walk, no_walk, seed_state)
        return seed_state, walk_state

    def sample(self, rng_key, z1, z2, indices, labels) -> InverseSetResult:
        """Run the sampler on one problem and check every sample.

        It runs on the first device, through the program a batch over every device
        runs (the other devices' slots idle), so its samples are those the problem
        gets in any batch with the same key.
        """
        add = lambda tree: jax.tree.map(lambda x: jnp.asarray(x)[None], tree)  # noqa: E731
        try:
            states, compile_time, run_time = self._run_sharded(add(rng_key), *map(add, self.solver_bands(z1, z2)),
                                                               add(indices), jax.devices())
        finally:
            if self.progress is not None:
                self.progress.close()
        seed_state, walk_state = jax.tree.map(lambda x: x[0], states[0])  # slot 0; the idle slots stay on device
        return self.finish(seed_state, walk_state, z1, z2, indices, labels, compile_time, run_time)

    def sample_batch(self, rng_keys, z1, z2, indices, labels, devices=None) -> list:
        """Run B problems (leading axis of every argument) spread over ``devices`` (default: all).

        Returns one entry per problem: its :class:`InverseSetResult`, or the
        :class:`~inverse_set.errors.SamplingError` it ended with (``member`` = its index).
        """
        b = len(labels)
        devices = list(jax.devices() if devices is None else devices)
        states, compile_time, run_time = self._run_sharded(rng_keys, *self.solver_bands(z1, z2), indices, devices)
        states, indices = jax.device_get((states, indices))  # numpy: slicing it compiles nothing
        out = []
        for problem in range(b):
            seed_state, walk_state = jax.tree.map(lambda x: x[problem % len(devices)], states[problem // len(devices)])
            try:
                out.append(self.finish(seed_state, walk_state, z1[problem], z2[problem],
                                       jax.tree.map(lambda x: x[problem], indices), labels[problem],
                                       compile_time, run_time))
            except SamplingError as err:
                err.member = problem
                err.add_note(f"(problem {problem} of the batch of {b})")
                out.append(err)
        return out

    def _run_sharded(self, rng_keys, lo, hi, indices, devices):
        """Run B problems over the D devices, one per device per call; returns (rounds, compile s, run s).

        ``rounds[r]`` holds the (SeedState, WalkerState) of problems rD … rD + D − 1,
        stacked, on the devices (fetch only the slots you need).

        The run is sharded over a 1-d mesh of the devices (``jax.sharding``,
        :func:`jax.shard_map`), one problem per device per call: the calls for
        problems 0…D−1, D…2D−1, … are all dispatched before any is waited for, and
        as the devices share nothing, each device goes on to its next problem as
        soon as its own is done. Every problem runs the same per-device program
        (a single call is a batch of one on the same devices), so a problem's
        samples do not depend on the batch it is in.
        """
        b, d = lo.shape[0], len(devices)
        pick = lambda tree, i: jax.tree.map(lambda x: jnp.asarray(x)[i], tree)  # noqa: E731
        run, compile_time = self._compile_sharded(devices, (rng_keys[0], lo[0], hi[0], pick(indices, 0)))
        t0 = time.perf_counter()
        rounds = []
        for start in range(0, b, d):
            slots = np.arange(start, start + d)
            rows = jnp.asarray(np.minimum(slots, b - 1))  # the last round's spare devices skip a copy
            rounds.append(run(jnp.asarray(slots < b), pick(rng_keys, rows), pick(lo, rows), pick(hi, rows),
                              pick(indices, rows)))
        return jax.block_until_ready(rounds), compile_time, time.perf_counter() - t0

    def executable(self, devices=None):
        """The compiled program for these devices (default: all), or None before the first run."""
        return self._sharded.get(tuple(jax.devices() if devices is None else devices))

    def _compile_sharded(self, devices, example):
        """The run sharded over a mesh of ``devices``, one problem each, compiled once per device set.

        Takes ``(active, keys, z1, z2, indices)`` with a leading axis of length D; an
        inactive slot skips the run and returns zeros.
        """
        key = tuple(devices)
        if key in self._sharded:
            return self._sharded[key], 0.0
        empty = jax.eval_shape(self.run, *example)

        def one(active, *problem):
            problem = jax.tree.map(lambda x: x[0], problem)
            state = jax.lax.cond(active[0], lambda: self.run(*problem),
                                 lambda: jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), empty))
            return jax.tree.map(lambda x: x[None], state)

        sharded = jax.shard_map(one, mesh=Mesh(np.array(devices), ("problems",)),
                                in_specs=PartitionSpec("problems"), out_specs=PartitionSpec("problems"),
                                check_vma=False)
        stacked = lambda x: jax.ShapeDtypeStruct((len(devices), *np.shape(x)), x.dtype)  # noqa: E731
        t0 = time.perf_counter()
        executable = jax.jit(sharded).lower(jax.ShapeDtypeStruct((len(devices),), jnp.bool_),
                                            *jax.tree.map(stacked, example)).compile()
        self._sharded[key] = executable
        return executable, time.perf_counter() - t0

    def finish(self, seed_state, walk_state, z1, z2, indices, labels, compile_time, run_time) -> InverseSetResult:
        """Check the solvers' outcome and rebuild every kept sample from its code (raises on failure)."""
        seed_state, walk_state = jax.device_get((seed_state, walk_state))
        k, p = self.num_seeds, len(labels)
        lo, hi = self.all_bands(z1, z2)
        constraints = self.problem.code_constraints
        all_labels = (*labels, *(c.label for c in constraints))
        if seed_state.status == Status.NON_FINITE:
            raise NonFiniteActivationError(
                f"NaN or Inf appeared in the activations or encodings during the seed search "
                f"(step {int(seed_state.step)}). Check the networks for overflow (e.g. exp of a "
                "large value) or bound the codes with code_bounds=(low, high)."
            )
        if seed_state.status != Status.DONE:
            inside = int(np.sum(in_band(seed_state.f, lo, hi)))
            gave_up = self.seed_config.give_up_patience if seed_state.status == Status.UNREACHED else None
            raise InfeasibleBandError(all_labels, lo, hi, seed_state.f_min, seed_state.f_max, int(seed_state.step),
                                      inside, k, tuple(c.advice for c in constraints), gave_up)
        m = int(walk_state.num_kept)
        codes = walk_state.kept_codes[:m]
        images, f = self._render(codes, indices)
        # Never out of band: recompute every constraint from the returned codes' images and check it
        # against the bands as given (float64).
        is_inside = in_band(f.astype(np.float64), lo, hi)
        rejected = int(np.sum(~is_inside))
        # Never twice: the walker keeps only new codes; drop any exact repeat that still got through.
        is_first = np.zeros(m, bool)
        is_first[np.unique(codes, axis=0, return_index=True)[1] if m else []] = True
        repeated = int(np.sum(is_inside & ~is_first))
        keep = is_inside & is_first
        codes, images, f = codes[keep], images[keep], f[keep]
        status = WALKER_STATUS[Status(int(walk_state.status))]
        iterations = int(walk_state.step) + 1
        walk_evals = k * iterations
        is_slice = isinstance(self.walker_config, slice_walker.SliceWalkerConfig)
        candidates = k * self.seed_config.candidates_per_seed
        with_jacobian = self.seed_config.select == "alive"  # "nearest", "spread": a forward pass per candidate
        stats = SamplerStats(
            seed_steps=int(seed_state.step),
            seed_outer_iterations=int(seed_state.num_outer),
            walker_steps=int(walk_state.step),
            acceptance_rate=walk_state.num_accepted[:iterations] / k,
            network_evaluations=k * (int(seed_state.step) + 1) + (candidates if with_jacobian else 0) + (
                0 if is_slice else walk_evals),
            forward_evaluations=(0 if with_jacobian else candidates) + (walk_evals if is_slice else 0),
            compile_time_s=compile_time,
            run_time_s=run_time,
            status=status,
            mu=float(seed_state.mu),
            lam=np.asarray(seed_state.lam),
            rejected_on_recheck=rejected,
            repeats_dropped=repeated,
            non_finite_rejected=int(walk_state.num_non_finite),
        )
        if codes.shape[0] < self.n:
            why = status + "".join([f"; {rejected} fell outside on recheck" if rejected else "",
                                    f"; {repeated} repeated codes dropped" if repeated else "",
                                    f"; {int(walk_state.num_non_finite)} walker positions with NaN/Inf rejected"
                                    if walk_state.num_non_finite else ""])
            warnings.warn(
                f"Returning {codes.shape[0]} of the {self.n} samples asked for ({why} after "
                f"{stats.walker_steps} walker steps). Try a wider band, more seeds, "
                "WalkerConfig(max_steps=…, max_stall_steps=…) or a smaller step_size.",
                IncompleteSampleWarning,
                stacklevel=caller_stacklevel(),
            )
        realism = [i for i, c in enumerate(constraints) if isinstance(c, RealismConstraint)]
        return InverseSetResult(
            codes=np.asarray(codes),
            images=np.asarray(images),
            activations=np.asarray(f[:, :p]),
            seeds=np.asarray(seed_state.codes),
            seed_activations=np.asarray(seed_state.f[:, :p]),
            realism=np.asarray(f[:, p + realism[0]]) if realism else None,
            z1=np.asarray(z1, np.float64),
            z2=np.asarray(z2, np.float64),
            constraints=tuple(labels),
            n_requested=self.n,
            stats=stats,
        )


def caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
