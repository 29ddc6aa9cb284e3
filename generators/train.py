"""Train the Fashion-MNIST model zoo and write weights, statistics and a manifest.

Usage::

    python -m generators.train [--models classifier,judge,generator,prior] \
        [--epochs classifier=7,judge=6,generator=8,prior=60] [--out generators/weights]

Order matters: the generator inverts the classifier's fc6 encoder and the code
prior models its pre-activations, so the classifier must be trained first (or
already present in ``--out``); the prior is evaluated through the generator.  Every model
uses a fixed seed; weights are written with ``flax.serialization`` (msgpack),
and ``manifest.json`` records sha256, sizes, the command, train times and metrics.
Models not named in ``--models`` keep their existing manifest entries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from inverse_set.core.chunks import chunked

from . import manifest as mf
from .data import CLASS_NAMES, load_fashion_mnist
from .evaluation import activation_stats, code_statistics, evaluate_generator, evaluate_prior, pre_codes
from .models import CODE_DIM, MODELS, Discriminator, init_params
from .training import (
    adversarial_generator_train_step,
    classifier_train_step,
    fit,
    flow_loss,
    flow_train_step,
    generator_train_step,
    load_params,
    save_params,
)

SEEDS = {"classifier": 0, "judge": 1, "generator": 2, "prior": 4}
DEFAULT_EPOCHS = {"classifier": 7, "judge": 6, "generator": 8, "prior": 60}
ORDER = ("classifier", "judge", "generator", "prior")
# The generator's losses: DeePSiM's adversarial and comparator terms on top of the inversion loss
# (both 0: the inversion loss alone, the generator shipped before).
GENERATOR_LOSS = {"adv_weight": 0.01, "comparator_weight": 0.1}


def _parse_epochs(spec: str) -> dict:
    out = dict(DEFAULT_EPOCHS)
    for part in filter(None, spec.split(",")):
        name, value = part.split("=")
        out[name.strip()] = int(value)
    return out


def train_model(name, epochs, train, test, params, generator_loss=GENERATOR_LOSS):
    """Train one model with :func:`~generators.training.fit`; returns ``(params, metrics, seconds)``."""
    (xtr, ytr), (xte, yte) = train, test
    model = MODELS[name]()
    init = partial(init_params, name)
    if name in ("classifier", "judge"):
        predict = chunked(lambda x, p: model.apply(p, x).argmax(-1), 500, per_example=False)
        evaluate = lambda p, _: {"test_acc": float((predict(xte, p) == yte).mean())}
        step = partial(classifier_train_step, model=model)
        p, history, seconds = fit(name, init, step, (xtr, ytr), epochs=epochs, seed=SEEDS[name], evaluate=evaluate)
        return p, {"test_acc": history[-1]["test_acc"], "history": history}, seconds
    if name == "prior":
        pre = pre_codes(params["classifier"], xtr)
        mean, log_std = pre.mean(0), np.log(pre.std(0) + 1e-3)

        def init(key):  # the flow starts standardising h with the training codes' statistics
            p = init_params("prior", key)
            return {"params": {**p["params"], "mean": jnp.asarray(mean), "log_std": jnp.asarray(log_std)}}

        test_pre = jnp.asarray(pre_codes(params["classifier"], xte[:5000]))
        test_nll = jax.jit(lambda p: flow_loss(p, test_pre, model=model))
        p, history, seconds = fit(name, init, partial(flow_train_step, model=model), (pre,), epochs=epochs,
                                  seed=SEEDS[name], evaluate=lambda p, _: {"test_nll_per_dim": float(test_nll(p))})
        return p, {"history": history}, seconds
    cstats = _code_stats(params.out)
    adversarial = any(generator_loss.values())
    generator_of = (lambda p: p["generator"]) if adversarial else (lambda p: p)
    quick = partial(evaluate_generator, clf_params=params["classifier"], judge_params=params["judge"], xte=xte,
                    yte=yte, cstats=cstats, quick=True)
    evaluate = lambda p, epoch: (
        {"quick_eval": quick(generator_of(p))} if (epoch + 1 == epochs or epoch % 3 == 2) else {})
    constants = (params["classifier"], jnp.asarray(cstats["code_std"]), jnp.asarray(cstats["code_sq_mean"]))
    step = generator_train_step
    if adversarial:
        conv_channels = MODELS["generator"]().conv_channels
        step = partial(adversarial_generator_train_step, conv_channels=conv_channels, **generator_loss)

        def init(key):
            k_gen, k_disc = jax.random.split(key)
            return {"generator": init_params("generator", k_gen),
                    "discriminator": Discriminator().init(k_disc, jnp.zeros((1, 28, 28, 1)))}

    p, history, seconds = fit(name, init, step, (xtr,), epochs=epochs, seed=SEEDS[name], constants=constants,
                              evaluate=evaluate)
    return generator_of(p), {"history": history, "loss": dict(generator_loss)}, seconds


def _code_stats(out: Path) -> dict:
    code = json.loads((out / mf.STATS_FILE).read_text())["code"]
    cstats = {k: np.asarray(v, dtype=np.float32) for k, v in code.items()}
    cstats["code_sq_mean"] = float(code["code_sq_mean"])
    return cstats


class _Params(dict):
    """Parameters by model name, loaded from ``out`` on first use."""

    def __init__(self, out: Path):
        super().__init__()
        self.out = out

    def __missing__(self, name):
        path = self.out / mf.WEIGHT_FILES[name]
        if not path.exists():
            raise SystemExit(f"{path} missing: train {name} first (python -m generators.train --models {name})")
        self[name] = load_params(init_params(name, jax.random.PRNGKey(0)), path)
        return self[name]


def evaluate_model(name, params, train, test) -> dict:
    """The figures the manifest records for a model (and, for the classifier, write stats.json)."""
    (xtr, _), (xte, yte) = train, test
    if name in ("classifier", "judge"):
        model = MODELS[name]()
        predict = chunked(lambda x, p: model.apply(p, x).argmax(-1), 500, per_example=False)
        acc = float((predict(xte, params[name]) == yte).mean())
        if name == "classifier":
            stats = activation_stats(params[name], xte, yte, code_statistics(params[name], xtr))
            (params.out / mf.STATS_FILE).write_text(json.dumps(stats) + "\n")
        return {"test_acc": acc}
    if name == "prior":
        return evaluate_prior(params["prior"], params["generator"], params["classifier"], params["judge"], xte)
    return evaluate_generator(params["generator"], params["classifier"], params["judge"], xte, yte,
                              _code_stats(params.out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(ORDER))
    ap.add_argument("--epochs", default="", help="e.g. classifier=6,generator=8")
    ap.add_argument("--out", default=str(mf.WEIGHTS_DIR))
    ap.add_argument("--eval-only", action="store_true", help="re-run evaluations on existing weights")
    ap.add_argument("--generator-loss", default=",".join(f"{k}={v}" for k, v in GENERATOR_LOSS.items()),
                    help="the generator's adversarial and comparator weights (0,0: the inversion loss alone)")
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in ORDER]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {list(ORDER)}")
    epochs = _parse_epochs(args.epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m generators.train " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"jax {jax.__version__} devices {jax.devices()} command: {command}", flush=True)

    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    manifest = mf.start(out)
    manifest.update(class_names=list(CLASS_NAMES), code_dim=CODE_DIM)
    manifest.pop("gaussian_latent_dim", None)
    params = _Params(out)
    for name in (m for m in ORDER if m in names):
        entry = manifest["models"].get(name, {}) if args.eval_only else {}
        t_model = time.time()
        if not args.eval_only:
            loss = {k.strip(): float(v) for k, v in (part.split("=") for part in args.generator_loss.split(","))}
            if set(loss) != set(GENERATOR_LOSS):
                ap.error(f"--generator-loss needs {sorted(GENERATOR_LOSS)}, got {sorted(loss)}")
            params[name], metrics, seconds = train_model(name, epochs[name], train, test, params, loss)
            save_params(params[name], out / mf.WEIGHT_FILES[name])
            entry.update(metrics=metrics, train_time_s=round(seconds, 1), epochs=epochs[name], command=command)
        figures = evaluate_model(name, params, train, test)
        entry.setdefault("metrics", {}).update(figures)
        print(f"[{name}] evaluation {json.dumps(figures)}", flush=True)
        entry.update(num_params=int(sum(np.size(a) for a in jax.tree_util.tree_leaves(params[name]))),
                     file=mf.WEIGHT_FILES[name], seed=SEEDS[name],
                     total_time_incl_eval_s=round(time.time() - t_model, 1))
        manifest["models"][name] = entry
        mf.write(out, manifest)
    mf.write(out, manifest)
    print(f"wrote {out} ({manifest['total_bytes'] / 1e6:.2f} MB)", flush=True)


if __name__ == "__main__":
    main()
