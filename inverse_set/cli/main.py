"""The command line: ``inverse-set sample | atlas | report | show | bench`` (``python -m inverse_set`` is the same).

Models come from an installed model set (the entry-point group
``inverse_set.models``; ``fashion``, the bundled Fashion-MNIST zoo, is the
default) or from a Python file that defines ``models = Models(...)`` (or a
function ``load()`` returning one). Every error is one line on stderr and exit
status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

from inverse_set.cli.arguments import (
    UsageError,
    band_edges,
    check_order,
    check_out_dir,
    empty_band,
    load_models,
    load_near,
    parse_band,
    parse_neuron,
    parse_units,
    positive,
    unit_label,
    use_cpu_devices,
)
from inverse_set.errors import IncompleteSampleWarning, SamplingError

# What runs a command, imported when it runs: a bad argument is answered before JAX starts.
COMMANDS = {"sample": ("inverse_set.cli.main", "cmd_sample"), "atlas": ("inverse_set.cli.main", "cmd_atlas"),
            "report": ("inverse_set.cli.run_report", "cmd_report"), "show": ("inverse_set.cli.summaries", "cmd_show"),
            "bench": ("inverse_set.cli.summaries", "cmd_bench")}
METHOD_NAMES = ("prior-ladder", "paper", "prior-slice", "fourier")  # inverse_set.methods.PRESETS (a test checks)

MODELS_HELP = (
    "the networks: an installed model set (default 'fashion', the bundled Fashion-MNIST models) or a "
    "Python file defining `models = inverse_set.Models(generator=G, encoder=E, target=net, init=d, "
    "class_names=[...], percentiles=fn)` or a function `load()` that returns one"
)
NEURON_HELP = (
    "a class name (any case) or index of the output layer, LAYER:UNIT (a dense unit, or the mean of a conv or "
    "token layer's channel, e.g. fc6:46, conv2:5), LAYER:UNIT@H,W (a conv channel at one position) or LAYER:UNIT@T "
    "(a token layer's channel at token T, e.g. blocks.6.mlp.fc1:123@5); repeat for an intersection"
)
BAND_HELP = (
    "two edges, numbers (9.5,14.4) or percentiles of the unit's activations on the test images "
    "(p95,p99, or any pX; also min, max; a class logit's on its own class's images); one --band per --neuron"
)

DATASET_HELP = ("real images for the report's examples and histogram: an .npy/.npz array (N, H, W[, C]) in [0, 1] or "
                "a folder of images (default: the models' own, the Fashion-MNIST test set for the bundled models)")


class Parser(argparse.ArgumentParser):
    """argparse, with a bad argument raised as :class:`UsageError` (one line, exit status 2)."""

    def error(self, message):
        raise UsageError(message)


def program_name() -> str:
    """The program as the user typed it (``inverse-set`` or ``python -m inverse_set``)."""
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "inverse-set"
    return "python -m inverse_set" if base in ("__main__.py", "-c", "-m") else base


# ----------------------------------------------------------------------------- commands


def machine() -> str:
    import jax

    return f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} on {jax.default_backend()}"


def write_json(path: Path, payload: dict) -> None:
    from inverse_set.results import strict_json

    path.write_text(json.dumps(strict_json(payload), indent=1, allow_nan=False) + "\n")


def cmd_sample(args) -> int:
    from inverse_set.api import make_sampler
    from inverse_set.cli.run_report import bands_title, report_if_asked
    from inverse_set.cli.summaries import evaluations_text, mass_text
    from inverse_set.report.viz import band_text, is_picture, sample_grid

    models = load_models(args.models)
    units = [parse_neuron(s, models) for s in args.neuron]
    bands_given = args.band or []
    if len(bands_given) != len(units):
        raise UsageError(f"give one --band per --neuron: {len(units)} neurons, {len(bands_given)} bands")
    bands = [check_order(b, parse_band(b, u, models)) for b, u in zip(bands_given, units)]
    labels = [unit_label(u, models) for u in units]
    z1, z2 = [b[0] for b in bands], [b[1] for b in bands]
    method, models = resolve_method(args.method, models)
    check_out_dir(args.out, args.overwrite)
    x0, near_source = load_near(args, models)
    # the neurons are resolved against the networks' layers here, before anything is printed
    sampler = make_sampler(units, args.n, models=models, method=method, num_seeds=args.seeds,
                           progress=not args.quiet)
    print(f"sampling {band_text(z1, z2, labels)}, n={args.n}, K={args.seeds}, rng {args.rng}, method "
          f"{method.name!r} ({method.describe()})" + (f", near {near_source}" if x0 is not None else ""), flush=True)
    t0 = time.perf_counter()
    if x0 is None:
        res = sampler.sample(z1, z2, args.rng)
    else:
        from inverse_set.api import sample_inverse_set

        res = sample_inverse_set(units, z1, z2, args.n, models=models, method=method, num_seeds=args.seeds,
                                 rng_key=args.rng, progress=not args.quiet, near=x0, near_scale=args.near_scale)
    wall = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "result")
    title = (bands_title(labels, bands_given, z1, z2)
             + f": {min(len(res), args.show)} of {len(res)} samples, spread over all"
             + (f"; under each: {', '.join(labels)}" if len(labels) > 1 else ""))
    written = ["result.npz", "result.json", "run.json"]
    if is_picture(res.images.shape[1:]):
        sample_grid(res.images, res.activations, labels, columns=args.columns, max_images=args.show, title=title,
                    z1=res.z1, z2=res.z2).save(out / "samples.png")
        written.append("samples.png")
        if res.near is not None:
            near_picture(models, units, [res], [bands_title(labels, bands_given, z1, z2)], args.columns,
                         f"near {near_source}").save(out / "near.png")
            written.append("near.png")
    else:
        print(f"the generator's outputs, shaped {res.images.shape[1:]}, are not images: no samples.png")
    write_json(out / "run.json", {
        "command": args.command_line, "models": args.models, "neurons": args.neuron,
        "labels": labels, "bands_given": bands_given, "z1": z1, "z2": z2, "n": args.n, "num_seeds": args.seeds,
        "rng_key": args.rng, "method": res.stats.method, "settings": res.stats.settings,
        "num_samples": len(res), "complete": res.is_complete, "wall_s": round(wall, 2),
        "seed_status": res.stats.seed_status, "walk_status": res.stats.walk_status,
        "seed_steps": res.stats.seed_steps, "walker_steps": res.stats.walker_steps,
        "gradient_evaluations": res.stats.gradient_evaluations, "forward_evaluations": res.stats.forward_evaluations,
        "band_mass": res.stats.band_mass, "population_start": res.stats.population_start,
        "effective_sample_size": res.stats.effective_sample_size, "machine": machine(),
        **({"near": near_record(near_source, [res])} if res.near is not None else {})})
    print(f"{len(res)} samples in {wall:.1f} s by {res.stats.method!r} (seed steps {res.stats.seed_steps}, walk "
          f"steps {res.stats.walker_steps}; {evaluations_text(res.stats)}){mass_text(res.stats)}; wrote "
          f"{', '.join(written)} in {out}")
    return report_if_asked(args, out)


def near_record(source: str, results) -> dict:
    """What run.json says of a run near an image: where x0 came from, how well G reconstructs it, σ per row."""
    info = next(r.near for r in results if not isinstance(r, Exception))
    return {"image": source, "reconstruction_error": info.reconstruction_error,
            "scales": [None if isinstance(r, Exception) else r.near.scale for r in results]}


def near_picture(models, neuron, results, titles, columns, source):
    """near.png: x0, its reconstruction, the samples band by band, and where the neuron looks in each."""
    from functools import partial

    from inverse_set.attribution import attribution_maps
    from inverse_set.report.viz import near_grid

    maps = partial(attribution_maps, neuron[0] if isinstance(neuron, list) else neuron, models=models)
    return near_grid(results, titles, columns=columns, attribution=maps,
                     title=f"{source}: samples near it; under each row, gradient x input (red: up, blue: down)")


def resolve_method(name: str | None, models):
    """The method ``--method`` names (None: the models' default), and the models it runs on (the target alone for
    ``fourier``); or a UsageError."""
    from inverse_set import methods

    try:
        method = methods.resolve(name, models)
        return method, (models.without_generator() if method.space == "image" else models)
    except ValueError as err:
        raise UsageError(f"--method {name}: {err}") from None


def cmd_atlas(args) -> int:
    from inverse_set.api import atlas
    from inverse_set.cli.run_report import report_if_asked
    from inverse_set.core.constraints import Unit
    from inverse_set.report.viz import atlas_grid

    use_cpu_devices(args.cpu_devices)
    check_out_dir(args.out, args.overwrite)
    models = load_models(args.models)
    if args.layer:
        if args.neuron:
            raise UsageError("give either --neuron (one neuron at several bands) or --layer/--units, not both")
        if len(args.band or []) != 1:
            raise UsageError("a layer atlas takes one --band, applied to every unit (e.g. --band p90,p99)")
        units = [Unit(args.layer, i) for i in parse_units(args.units)]
        bands = [parse_band(args.band[0], u, models) for u in units]
        titles = [f"{unit_label(u, models)} {args.band[0]} [{a:.3g}, {b:.3g}]" for u, (a, b) in zip(units, bands)]
        neurons, heading = units, f"layer {args.layer}, units {args.units}, each at {args.band[0]}: a row per unit"
    else:
        if not args.neuron or len(args.neuron) != 1:
            raise UsageError("an atlas takes one --neuron and several --band (or --layer and --units)")
        if not args.band:
            raise UsageError("give the bands of the rows, e.g. --band p5,p25 --band p50,p75 --band p95,p99")
        unit = parse_neuron(args.neuron[0], models)
        bands = [parse_band(b, unit, models) for b in args.band]
        titles = [f"{spec} [{a:.3g}, {b:.3g}]" for spec, (a, b) in zip(args.band, bands)]
        neurons, heading = unit, f"{unit_label(unit, models)}: a row per band"
    # A unit whose band is empty (a fc6 unit that is 0 on nearly every test image has p90 = p99 = 0)
    # gets a row saying so; the others are sampled.
    empty = [a >= b for a, b in bands] if args.layer else [False] * len(bands)
    live = [i for i, e in enumerate(empty) if not e]
    if not live:
        raise UsageError(f"--band {args.band[0]}: the band is empty for every unit selected; choose other units "
                         "or percentiles further apart")
    import jax

    skipped = f" ({len(bands) - len(live)} with an empty band, not sampled)" if len(live) < len(bands) else ""
    print(f"atlas: {len(bands)} rows{skipped}, n={args.n} each, one batched call over {len(jax.devices())} "
          f"{jax.default_backend().upper()} device(s)", flush=True)
    t0 = time.perf_counter()
    method, models = resolve_method(args.method, models)
    print(f"method {method.name!r} ({method.describe()})", flush=True)
    x0, near_source = load_near(args, models)
    if x0 is not None and args.layer:
        raise UsageError("--near takes one --neuron at several bands (a series near the image), not a layer atlas")
    near = {} if x0 is None else {"near": x0, "near_scale": args.near_scale}
    sampled = atlas([neurons[i] for i in live] if args.layer else neurons, [bands[i] for i in live], args.n,
                    models=models, method=method, num_seeds=args.seeds, rng_key=args.rng, progress=not args.quiet,
                    **near)
    wall = time.perf_counter() - t0
    sampled = iter(sampled)
    results = [ValueError(empty_band(args.band[0], a)) if e else next(sampled) for e, (a, b) in zip(empty, bands)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (res, title) in enumerate(zip(results, titles)):
        row = {"neuron": f"{args.layer}:{neurons[i].index}" if args.layer else args.neuron[0],
               "label": unit_label(neurons[i] if args.layer else neurons, models), "band": list(bands[i]),
               "band_given": args.band[0] if args.layer else args.band[i]}
        if isinstance(res, Exception):
            rows.append({"row": title, **row, "error": f"{type(res).__name__}: {res}"})
            print(f"{title}: no samples ({type(res).__name__}: {str(res).splitlines()[0]})", file=sys.stderr)
        else:
            res.save(out / f"row{i}")
            rows.append({"row": title, **row, "num_samples": len(res), "complete": res.is_complete})
    if x0 is None:
        atlas_grid(results, titles, columns=args.columns, title=heading).save(out / "atlas.png")
    else:
        near_picture(models, neurons, results, titles, args.columns, f"near {near_source}").save(out / "atlas.png")
    write_json(out / "run.json", {"command": args.command_line, "models": args.models, "rows": rows,
                                  "method": method.name,
                                  "settings": method.settings(),
                                  "n": args.n, "num_seeds": args.seeds, "rng_key": args.rng,
                                  "wall_s": round(wall, 2), "devices": len(jax.devices()), "machine": machine(),
                                  **({"near": near_record(near_source, results)} if x0 is not None else {})})
    print(f"{len(results)} rows in {wall:.1f} s; wrote {out}/atlas.png, run.json and row*.npz/json")
    return report_if_asked(args, out)


def build_parser(prog: str) -> Parser:
    parser = Parser(prog=prog, description="Sample the inverse set of a neuron: inputs where it fires inside "
                    "a band [z1, z2]. " + MODELS_HELP + ".")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def common(p, out):
        p.add_argument("--models", default="fashion", help=MODELS_HELP + " (default: fashion)")
        p.add_argument("--n", type=positive, default=100, help="samples per problem, seeds included (default 100)")
        p.add_argument("--seeds", type=positive, default=10, help="K, seeds and walkers (default 10)")
        p.add_argument("--rng", type=int, default=0, help="random key; the same key gives the same samples")
        p.add_argument("--columns", type=positive, default=10, help="images per row of the picture (default 10)")
        p.add_argument("--out", default=out, help=f"output directory (default {out})")
        p.add_argument("--report", action="store_true", help="also write DIR/report.html (see `report`)")
        p.add_argument("--quiet", action="store_true", help="no progress")
        p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
        p.add_argument("--dataset", help=DATASET_HELP)
        p.add_argument("--near", metavar="IMAGE", help="sample near this image (a PNG/JPEG in the generator's size, "
                       "or an .npy array): the prior localised at the latent that reconstructs it; writes near.png")
        p.add_argument("--near-index", type=int, metavar="K", help="as --near, with image K of the models' dataset "
                       "(the Fashion-MNIST test set for the bundled models)")
        p.add_argument("--near-scale", type=float, metavar="SIGMA", help="σ of the localised prior (default: the "
                       "smallest of 0.25, 0.5, 1 from which the band is reachable)")
        p.add_argument("--method", choices=METHOD_NAMES, help="the sampling method: 'prior-ladder' (prior "
                       "draws brought into the band by rejection or a ladder of relaxed bands, like independent "
                       "draws from the prior restricted to the band), 'paper' (seeds, then the gradient walker, in "
                       "the generator's codes), 'prior-slice' (seeds, then elliptical slice chains) or 'fourier' (no "
                       "generator: the image's spectrum searched directly, as feature visualisation does); "
                       "default: the models' own (prior-ladder on the bundled models)")

    p = sub.add_parser("sample", help="sample one neuron or an intersection; writes result, samples.png, run.json",
                       description="Sample n points of the inverse set and write DIR/result.npz+json (the "
                       "library's save format), DIR/samples.png and DIR/run.json.")
    p.add_argument("--neuron", action="append", required=True, help=NEURON_HELP)
    p.add_argument("--band", action="append", help=BAND_HELP)
    p.add_argument("--show", type=positive, default=50, help="images in samples.png, spread over all n (default 50)")
    common(p, "out/sample")

    p = sub.add_parser("atlas", help="one neuron at several bands, or the units of a layer at one band",
                       description="One batched call, one row per band (or per unit); writes DIR/atlas.png, "
                       "DIR/run.json and each row's result.")
    p.add_argument("--neuron", action="append", help=NEURON_HELP + " (one)")
    p.add_argument("--band", action="append", help=BAND_HELP + "; one per row, or one for a layer atlas")
    p.add_argument("--layer", help="a layer atlas: the layer (e.g. fc6, conv2)")
    p.add_argument("--units", default="0:8", help="a layer atlas: units START:STOP (default 0:8)")
    p.add_argument("--cpu-devices", type=positive, help="on a CPU: split it into this many JAX devices, each "
                   "running its own rows (default: JAX's, 1 unless XLA_FLAGS says otherwise)")
    common(p, "out/atlas")
    p.set_defaults(n=20)

    p = sub.add_parser("report", help="one HTML page of a run: samples, facets, real examples, histogram",
                       description="Write RUN_DIR/report.html for a directory written by `sample` or `atlas`: "
                       "self-contained (images inline, nothing fetched), readable offline.")
    p.add_argument("run_dir", help="the run's directory, e.g. out/sample")
    p.add_argument("--dataset", help=DATASET_HELP)

    p = sub.add_parser("show", help="summarise a saved result", description="Summarise a result written by "
                       "`sample` (DIR/result) or InverseSetResult.save.")
    p.add_argument("result", help="path of the result, e.g. out/sample/result")

    p = sub.add_parser("bench", help="summarise a diversity benchmark's results file",
                       description="Medians per band and method of a benchmark results file.")
    p.add_argument("results_file", help="a results.json written by `python benchmarks/diversity.py` (the "
                   "repository commits one under benchmarks/)")
    return parser


def _warn_one_line(prog):
    def show(message, category, *_args, **_kwargs):
        text = " ".join(str(message).split())
        print(f"{prog}: warning: {text}", file=sys.stderr)

    return show


CACHE_VARIABLE = "INVERSE_SET_CACHE"  # a directory for JAX's persistent compilation cache, or "off"


def use_compilation_cache() -> str | None:
    """JAX's persistent compilation cache, on by default in the user's cache directory, so that a command run again
    (same models and structure, any band) does not compile again; ``INVERSE_SET_CACHE=off`` turns it off, and a
    directory there puts it elsewhere. Returns the directory, or None when off."""
    setting = os.environ.get(CACHE_VARIABLE, "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = setting or str(base / "inverse-set" / "jax")
    import jax

    if jax.config.jax_compilation_cache_dir is None:  # the user's own setting wins
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # the small compilations too
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return jax.config.jax_compilation_cache_dir


def main(argv=None) -> int:
    prog = program_name()
    parser = build_parser(prog)
    warnings.showwarning = _warn_one_line(prog)
    warnings.simplefilter("always", IncompleteSampleWarning)
    try:
        args = parser.parse_args(argv)
        args.command_line = shlex.join([prog, *(sys.argv[1:] if argv is None else argv)])
        for spec in getattr(args, "band", None) or []:
            band_edges(spec)  # each band's form, before JAX starts and the models load
        module, name = COMMANDS[args.command]
        if args.command != "bench":
            use_compilation_cache()
        return getattr(importlib.import_module(module), name)(args)
    except (UsageError, SamplingError, ValueError, TypeError, OSError) as err:
        print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
