"""The compiled sampler of one problem structure: initial codes, seeds, then a walk in one jitted run; the recheck.

:class:`CompiledSampler` holds the networks, n, K and the method. Its ``run``
is pure — initial codes, the seeds (eq. 7–8), then the method's walk
(:func:`inverse_set.walks.run`, whatever the walk) — and is compiled ahead of
time once per set of devices, sharded over them one problem per device
(:meth:`CompiledSampler._run_sharded`). Bands and unit indices are traced
arguments, so a new band or another unit of the same layer reuses the compiled
function. :meth:`CompiledSampler.finish` turns the fixed-size buffers into an
:class:`~inverse_set.results.InverseSetResult`, rechecking every sample from its
returned image.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from inverse_set import walks
from inverse_set.core import bands as band_path
from inverse_set.core import tracing
from inverse_set.core.bands import Bands, in_band
from inverse_set.core.chunks import chunked
from inverse_set.core.loop import SeedStatus, WalkStatus, status_name
from inverse_set.core.problem import Problem, evaluate
from inverse_set.errors import (
    IncompleteSampleWarning,
    InfeasibleBandError,
    NonFiniteActivationError,
    SamplingError,
)
from inverse_set.methods import Method
from inverse_set.paper import seeds, starts
from inverse_set.paper.realism import RealismConstraint
from inverse_set.progress import Progress
from inverse_set.results import InverseSetResult, SamplerStats

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class CompiledSampler:
    """Initial codes, seeds, then the method's walk for one problem structure (networks, layers, n, K, method).

    ``run(rng_key, z1, z2, indices)`` is pure and jittable; :meth:`sample` and
    :meth:`sample_batch` call its compiled form. ``z1, z2`` hold every column of
    f: the neurons' bands, then the code constraints' (e.g. realism).
    """

    def __init__(self, problem: Problem, init_fn, n: int, num_seeds: int, num_features: int, method: Method,
                 progress: bool, to_input=None):
        self.problem, self.init_fn, self.method = problem, init_fn, method
        self.n, self.num_seeds, self.num_features = n, num_seeds, num_features
        self.progress = Progress(num_seeds, method.seeds.max_steps, n) if progress else None
        self._sharded = {}  # per device set: the compiled run, as a function of (active, *problem)
        self._executables = {}  # per device set: the compiled XLA executable behind it (its memory analysis)
        self._render = chunked(lambda code, indices: evaluate(problem, code, indices), per_example=True)
        self._to_input = None if to_input is None else chunked(to_input, per_example=True)

    def all_bands(self, z1, z2) -> tuple[np.ndarray, np.ndarray]:
        """Every column's band in float64: the neurons' ``(…, p)`` bands, then the code constraints'."""
        return band_path.with_code_constraints(z1, z2, self.problem.code_constraints)

    def solver_bands(self, z1, z2) -> tuple[np.ndarray, np.ndarray]:
        """The float32 bands the solvers work with, every edge rounded inward (:func:`inverse_set.core.bands.for_solver`)."""
        return band_path.for_solver(*self.all_bands(z1, z2))

    def run(self, rng_key, z1, z2, indices):
        """Initial codes, seeds, then the walk for one problem; returns ``(SeedState, walk state, Evaluations)``.

        A walk that can start without seeds (``prepare``, :func:`inverse_set.walks.prepare`) runs that start first,
        and the seeds run only where it says it needs them (else their status is SKIPPED).
        """
        bands = Bands(z1, z2)
        code_dim = jax.eval_shape(self.init_fn, jax.random.key(0)).shape[-1]
        ctx = walks.WalkContext(self.problem, self.method.objective, bands, indices, self.n, self.num_features,
                                code_dim)
        walk_key = jax.random.fold_in(rng_key, 1)
        level_cb = None if self.progress is None else self.progress.level_callback
        prepared, needs_seeds = walks.prepare(self.method.walk, ctx, walk_key, level_cb)
        seeding = lambda: self._seeds(rng_key, bands, indices)
        if needs_seeds is True:
            seed_state, seed_evals = seeding()
        else:  # both branches need the seeds' shapes: one trace serves both
            seeding = tracing.TracedOnce(seeding)
            seed_state, seed_evals = jax.lax.cond(needs_seeds, seeding, lambda: _skipped(jax.eval_shape(seeding)))
        walk_cb = None if self.progress is None else self.progress.walk_callback
        seeds_ok = (seed_state.status == SeedStatus.INSIDE) | (seed_state.status == SeedStatus.SKIPPED)
        if getattr(self.method.walk, "starts_from_some_seeds", False):  # out of steps, some seeds in band: enough
            seeds_ok |= (seed_state.status == SeedStatus.MAX_STEPS) & jnp.any(bands.contains(seed_state.f))
        walk_state, walk_evals = walks.run(self.method.walk, ctx, seed_state, walk_key, seeds_ok, walk_cb, prepared)
        return seed_state, walk_state, seed_evals + walk_evals

    def _seeds(self, rng_key, bands, indices):
        """The K seeds (eq. 7–8) from the method's initial candidates, and what they cost with them."""
        method, k = self.method, self.num_seeds
        keys = jax.random.split(rng_key, k * method.seeds.candidates_per_seed)
        candidates = jax.vmap(self.init_fn)(keys).astype(jnp.float32)
        codes0, reserve = starts.select_initial(self.problem, candidates, bands, indices, k, method.seeds.select)
        seed_cb = None if self.progress is None else self.progress.seed_callback(bands)
        seed_state, seed_evals = seeds.run(method.seeds, method.objective, self.problem, codes0, bands, indices,
                                           seed_cb, reserve)
        return seed_state, method.seeds.initial_evaluations(k) + seed_evals

    def sample(self, rng_key, z1, z2, indices, labels) -> InverseSetResult:
        """Run the sampler on one problem and check every sample.

        It runs on the first device, through the program a batch over every device
        runs (the other devices' slots idle), so its samples are those the problem
        gets in any batch with the same key.
        """
        add = lambda tree: jax.tree.map(lambda x: jnp.asarray(x)[None], tree)
        try:
            states, compile_time, run_time = self._run_sharded(add(rng_key), *map(add, self.solver_bands(z1, z2)),
                                                               add(indices), jax.devices())
        finally:
            if self.progress is not None:
                self.progress.close()
        state = jax.tree.map(lambda x: x[0], to_host(states[0]))  # slot 0
        return self.finish(state, z1, z2, indices, labels, compile_time, run_time)

    def sample_batch(self, rng_keys, z1, z2, indices, labels, devices=None, progress: Progress | None = None
                     ) -> list:
        """Run B problems (leading axis of every argument) spread over ``devices`` (default: all).

        Returns one entry per problem: its :class:`InverseSetResult`, or the
        :class:`~inverse_set.errors.SamplingError` it ended with (``member`` = its index).
        ``progress`` reports, from the host, the compilation and the problems done.
        """
        b = len(labels)
        devices = list(jax.devices() if devices is None else devices)
        try:
            states, compile_time, run_time = self._run_sharded(rng_keys, *self.solver_bands(z1, z2), indices,
                                                               devices, progress)
        finally:
            if progress is not None:
                progress.close()
        states, indices = to_host(states), jax.device_get(indices)  # numpy: slicing it compiles nothing
        out = []
        for problem in range(b):
            state = jax.tree.map(lambda x, p=problem: x[p % len(devices)], states[problem // len(devices)])
            try:
                out.append(self.finish(state, z1[problem], z2[problem],
                                       jax.tree.map(lambda x, p=problem: x[p], indices), labels[problem],
                                       compile_time, run_time))
            except SamplingError as err:
                err.member = problem
                err.add_note(f"(problem {problem} of the batch of {b})")
                out.append(err)
        return out

    def _run_sharded(self, rng_keys, lo, hi, indices, devices, progress=None):
        """Run B problems over the D devices, one per device per call; returns (rounds, compile s, run s).

        ``rounds[r]`` holds the (SeedState, walk state, Evaluations) of problems rD … rD + D − 1,
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
        pick = lambda tree, i: jax.tree.map(lambda x: jnp.asarray(x)[i], tree)
        if progress is not None:
            progress.on_problems(0, b, "compiling" if self.executable(devices) is None else "")
        run, compile_time = self._compile_sharded(devices, (rng_keys[0], lo[0], hi[0], pick(indices, 0)))
        t0 = time.perf_counter()
        rounds = []
        for start in range(0, b, d):
            slots = np.arange(start, start + d)
            rows = jnp.asarray(np.minimum(slots, b - 1))  # the last round's spare devices skip a copy
            rounds.append(run(jnp.asarray(slots < b), pick(rng_keys, rows), pick(lo, rows), pick(hi, rows),
                              pick(indices, rows)))
        for r, state in enumerate(rounds):  # all dispatched; wait for each round in turn
            jax.block_until_ready(state)
            if progress is not None:
                progress.on_problems(min((r + 1) * d, b), b, f"compiled in {compile_time:.1f} s" if compile_time
                                     else "")
        return rounds, compile_time, time.perf_counter() - t0

    def executable(self, devices=None):
        """The compiled XLA executable for these devices (default: all), or None before the first run."""
        return self._executables.get(tuple(jax.devices() if devices is None else devices))

    def _compile_sharded(self, devices, example):
        """The run sharded over a mesh of ``devices``, one problem each, compiled once per device set.

        Takes ``(active, keys, z1, z2, indices)`` with a leading axis of length D; an
        inactive slot skips the run and returns zeros.
        """
        key = tuple(devices)
        if key in self._sharded:
            return self._sharded[key], 0.0
        # The run is traced once, here, and the sharded program evaluates that trace. The arrays it closes over
        # (the networks' weights) are the program's arguments, not constants compiled into it: the compiled
        # program stays small (with them inside, 150 MB for the bundled models), so the persistent compilation
        # cache stores and reads it quickly.
        t0 = time.perf_counter()
        jaxpr, empty, weights = tracing.TracedOnce(self.run).trace(*example)
        mesh = Mesh(np.array(devices), ("problems",))
        consts = jax.device_put(weights, NamedSharding(mesh, PartitionSpec()))

        def one(active, consts, *problem):
            problem = jax.tree.map(lambda x: x[0], problem)
            state = jax.lax.cond(active[0], lambda: tracing.evaluate_trace(jaxpr, empty, consts, problem),
                                 lambda: jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), empty))
            return jax.tree.map(lambda x: x[None], state)

        sharded = jax.shard_map(one, mesh=mesh, in_specs=(PartitionSpec("problems"), PartitionSpec(),
                                                          *[PartitionSpec("problems")] * len(example)),
                                out_specs=PartitionSpec("problems"), check_vma=False)
        stacked = lambda x: jax.ShapeDtypeStruct((len(devices), *np.shape(x)), x.dtype)
        executable = jax.jit(sharded).lower(jax.ShapeDtypeStruct((len(devices),), jnp.bool_), consts,
                                            *jax.tree.map(stacked, example)).compile()
        self._executables[key] = executable
        self._sharded[key] = lambda active, *problem: executable(active, consts, *problem)
        return self._sharded[key], time.perf_counter() - t0

    def finish(self, state, z1, z2, indices, labels, compile_time, run_time) -> InverseSetResult:
        """Check the solvers' outcome and rebuild every kept sample from its code (raises on failure)."""
        seed_state, walk_state, evals = jax.device_get(state)
        k, p = self.num_seeds, len(labels)
        lo, hi = self.all_bands(z1, z2)
        constraints = self.problem.code_constraints
        all_labels = (*labels, *(c.label for c in constraints))
        seed_status = SeedStatus(int(seed_state.status))
        if seed_status == SeedStatus.NON_FINITE:
            raise NonFiniteActivationError(
                f"NaN or Inf appeared in {non_finite_source(*self._render(seed_state.codes, indices))} during the "
                f"seed search (step {int(seed_state.step)}). Check the networks for overflow (e.g. exp of a "
                "large value) or bound the codes with code_bounds=(low, high)."
            )
        ran = seed_status != SeedStatus.SKIPPED
        walked = WalkStatus(int(walk_state.status)) != WalkStatus.NOT_RUN  # from every seed, or from some
        if seed_status not in (SeedStatus.INSIDE, SeedStatus.SKIPPED) and not walked:
            lost = ~rows_finite(seed_state.f)
            if lost.any():  # seeds whose code reached a non-finite image, encoding or activation
                raise NonFiniteActivationError(
                    f"NaN or Inf appeared in {non_finite_source(*self._render(seed_state.codes[lost], indices))} for "
                    f"{int(lost.sum())} of the {k} seeds during the seed search, and the others did not all reach "
                    "the band. Check the networks for overflow (e.g. exp of a large value) or bound the codes with "
                    "code_bounds=(low, high).")
            inside = int(np.sum(in_band(seed_state.f, lo, hi)))
            stopped_early = seed_status == SeedStatus.UNREACHED
            patience_ran_out = stopped_early and int(seed_state.nearest_stale) >= seeds.GIVE_UP_PATIENCE
            steps = int(seed_state.step)
            raise InfeasibleBandError(
                all_labels, lo, hi, seed_state.f_min, seed_state.f_max, steps, inside, k,
                tuple(c.advice for c in constraints), seeds.GIVE_UP_PATIENCE if patience_ran_out else None,
                seed_state.alone, seed_state.joint_f,
                projected_steps=float(seed_state.needed) if stopped_early and not patience_ran_out else None,
                steps_left=self.method.seeds.max_steps - steps)
        kept = walk_state.buffer
        m = int(kept.count)
        codes = kept.codes[:m]
        images, phi, f = self._render(codes, indices)
        # Never non-finite: a sample whose image, encoding or activations hold NaN or Inf is dropped; where every
        # one does, the call fails and names the network they came from.
        finite = rows_finite(images) & rows_finite(phi) & rows_finite(f)
        if m and not finite.any():
            raise NonFiniteActivationError(
                f"NaN or Inf in {non_finite_source(images, phi, f)} for every one of the {m} samples the "
                f"{self.method.name!r} method kept: none is returned. Check the networks for overflow (e.g. exp of "
                "a large value) or bound the codes with code_bounds=(low, high).")
        # Never out of band: recompute every constraint from the returned codes' images and check it
        # against the bands as given (float64).
        is_inside = in_band(f.astype(np.float64), lo, hi) & finite
        rejected = int(np.sum(~is_inside & finite))
        # Never twice: the walks keep only new codes; drop any exact repeat that still got through.
        is_first = np.zeros(m, bool)
        is_first[np.unique(codes, axis=0, return_index=True)[1] if m else []] = True
        repeated = int(np.sum(is_inside & ~is_first))
        keep = is_inside & is_first
        codes, images, f = codes[keep], images[keep], f[keep]
        walk_status = status_name(WalkStatus(int(walk_state.status)))
        steps = int(walk_state.step)
        stats = SamplerStats(
            method=self.method.name,
            settings=self.method.settings(),
            seed_status=status_name(seed_status),
            walk_status=walk_status,
            seed_steps=int(seed_state.step),
            seed_outer_iterations=int(seed_state.num_outer),
            walker_steps=steps,
            kept_per_step=np.asarray(kept.accepted[:steps + 1]),
            gradient_evaluations=int(evals.gradient),
            forward_evaluations=int(evals.forward),
            compile_time_s=compile_time,
            run_time_s=run_time,
            mu=float(seed_state.mu),
            lam=np.asarray(seed_state.lam),
            rejected_on_recheck=rejected,
            repeats_dropped=repeated,
            non_finite_rejected=int(walk_state.num_non_finite) + int(np.sum(~finite)),
            **(self.method.walk.report(walk_state) if hasattr(self.method.walk, "report") else {}),
        )
        if codes.shape[0] < self.n:
            why = {"stalled": "the walk stalled", "max_steps": "the walk ran out of steps"}.get(
                walk_status, walk_status) + "".join([
                f"; {rejected} fell outside on recheck" if rejected else "",
                f"; {repeated} repeated codes dropped" if repeated else "",
                f"; {stats.non_finite_rejected} samples or walk positions with NaN/Inf rejected"
                if stats.non_finite_rejected else ""])
            warnings.warn(
                f"Returning {codes.shape[0]} of the {self.n} samples asked for ({why} after "
                f"{stats.walker_steps} steps of the {self.method.name!r} method's walk). Try a wider band, more "
                f"seeds, or {getattr(self.method.walk, 'longer', 'a larger step budget')} of its walk "
                f"({type(self.method.walk).__name__}).",
                IncompleteSampleWarning,
                stacklevel=caller_stacklevel(),
            )
        realism = [i for i, c in enumerate(constraints) if isinstance(c, RealismConstraint)]
        return InverseSetResult(
            codes=np.asarray(codes),
            images=np.asarray(images),
            activations=np.asarray(f[:, :p]),
            seeds=np.asarray(seed_state.codes)[:k if ran else 0],  # none when the walk needed none
            seed_activations=np.asarray(seed_state.f[:k if ran else 0, :p]),
            realism=np.asarray(f[:, p + realism[0]]) if realism else None,
            z1=np.asarray(z1, np.float64),
            z2=np.asarray(z2, np.float64),
            constraints=tuple(labels),
            n_requested=self.n,
            stats=stats,
            generator_inputs=None if self._to_input is None else np.asarray(self._to_input(codes)),
        )


def to_host(tree):
    """Every array of ``tree`` as NumPy on this process, typed PRNG keys as their key data (uint32): where the
    devices span several processes (``jax.distributed``), each array is gathered from all of them, so every process
    holds the whole."""
    tree = jax.tree.map(lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree)
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def rows_finite(a) -> np.ndarray:
    """Whether each row of ``a`` (m, …) is finite throughout, (m,)."""
    a = np.asarray(a)
    return np.all(np.isfinite(a.reshape(a.shape[0], -1)), axis=1)


def non_finite_source(images, phi, f) -> str:
    """Where NaN or Inf first appears in rendered samples: the generator's images, the encoder's encodings, or
    the target's activations (a non-finite image or encoding makes f NaN too)."""
    for name, a in (("the generator's images", images), ("the encoder's encodings", phi)):
        if not rows_finite(a).all():
            return name
    return "the target network's activations"


def _skipped(shapes):
    """Seeds that were not needed: zeros of the seeds' shapes, status SKIPPED, nothing spent."""
    seed_state, evals = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    return seed_state._replace(status=jnp.asarray(SeedStatus.SKIPPED, jnp.int32)), evals


def caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
