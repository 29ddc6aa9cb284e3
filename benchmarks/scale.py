"""The paper's scale: 227×227×3 images, a 4096-d code, a CaffeNet-sized target and a DGN-shaped generator.

Random weights (what is measured is time and memory, not pictures): the target
is CaffeNet's shape (conv1 96@11×11/4, pool, conv2 256@5×5, pool, conv3 384,
conv4 384, conv5 256, pool, fc6 4096, fc7 4096, fc8 1000; about 61M weights),
the encoder E its fc6 (the DGN's code space), the generator DGN-shaped (fc6 code
(4096) → three dense layers → 4×4×256 → six stride-2 transposed convolutions
→ 256×256×3 → centre crop 227×227×3; Dosovitskiy & Brox 2016's fc6 generator),
the code N(0, I_4096). K = 10, n = 500 (``--n``), unit 0 of fc8 in a band around
its median over 64 prior draws. For the default method (``prior-ladder``) and
``paper``, it prints:

* the compile time of the whole sampler and its peak memory (XLA's memory
  analysis of the executable: arguments + outputs + temporaries);
* seconds per seed step and per gradient-walk step (one forward and backward pass
  of K codes through G, E and the target, with the Lagrangian around it: timed as
  steps of the real solvers, ``--steps`` of each, in compiled loops), and per
  ladder move (one forward pass of N = n codes);
* what a whole run would take at the step counts measured on the bundled models
  (``--ladder-moves``, ``--seed-steps``, ``--walk-steps``), since on a CPU a full
  run at this scale takes hours.

    python benchmarks/scale.py                      # n = 500 (about 15 min on 2 CPU cores)
    python benchmarks/scale.py --n 50 --steps 2     # a smoke test
    python benchmarks/scale.py --target vit --n 50  # a timm ViT-S/16 at 224² (also: --target resnet50)
"""

from __future__ import annotations

import argparse
import time

import flax.linen as nn
import harness as bm
import jax
import jax.numpy as jnp
import numpy as np
from speed import memory, timed_loop

from inverse_set import Models, Unit, flax_target, get_method, make_sampler
from inverse_set.core.bands import Bands
from inverse_set.core.problem import forward
from inverse_set.paper.seeds import SeedConfig

CODE, SIDE = 4096, 227


class CaffeNet(nn.Module):
    """CaffeNet's layer shapes (ReLU after every layer but fc8; LRN left out)."""

    @nn.compact
    def __call__(self, x):
        pool = lambda h: nn.max_pool(h, (3, 3), (2, 2))
        h = pool(nn.relu(nn.Conv(96, (11, 11), (4, 4), padding="VALID", name="conv1")(x)))
        h = pool(nn.relu(nn.Conv(256, (5, 5), padding=2, name="conv2")(h)))
        h = nn.relu(nn.Conv(384, (3, 3), padding=1, name="conv3")(h))
        h = nn.relu(nn.Conv(384, (3, 3), padding=1, name="conv4")(h))
        h = pool(nn.relu(nn.Conv(256, (3, 3), padding=1, name="conv5")(h)))
        h = nn.relu(nn.Dense(4096, name="fc6")(h.reshape(h.shape[0], -1)))
        h = nn.relu(nn.Dense(4096, name="fc7")(h))
        return {"logits": nn.Dense(1000, name="fc8")(h)}


class DGN(nn.Module):
    """fc6 code → side × side × 3 (centre crop of 256 × 256), the DGN's fc layers and up-convolutions; channels first
    with ``channels_first`` (torch's layout)."""

    side: int = SIDE
    channels_first: bool = False

    @nn.compact
    def __call__(self, c):
        h = nn.leaky_relu(nn.Dense(4096)(c), 0.3)
        h = nn.leaky_relu(nn.Dense(4096)(h), 0.3)
        h = nn.leaky_relu(nn.Dense(4096)(h), 0.3).reshape(c.shape[0], 4, 4, 256)
        for features in (256, 256, 128, 64, 32):
            h = nn.leaky_relu(nn.ConvTranspose(features, (4, 4), (2, 2))(h), 0.3)
        h = nn.ConvTranspose(3, (4, 4), (2, 2))(h)  # 256 × 256
        off = (256 - self.side) // 2
        image = jax.nn.sigmoid(h[:, off:off + self.side, off:off + self.side])
        return jnp.moveaxis(image, -1, 1) if self.channels_first else image


# The targets: CaffeNet (Flax, 227²), and two of today's PyTorch models at 224² through torch_target at random
# weights, a timm ViT-S/16 and a torchvision ResNet-50: (the unit's layer, the encoder's layer).
TARGETS = {"caffenet": ("logits", "fc6"), "vit": ("output", "blocks.3"), "resnet50": ("output", "layer2")}
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # torchvision's normalisation; timm's ViT-S uses 0.5s


def torch_net(name: str):
    import torch

    torch.manual_seed(0)
    if name == "vit":
        import timm

        net = timm.create_model("vit_small_patch16_224", pretrained=False)
        config = timm.data.resolve_data_config({}, model=net)
        return net, (config["mean"], config["std"])
    import torchvision

    return torchvision.models.resnet50(weights=None), IMAGENET


def build_models(target_name: str = "caffenet"):
    k_t, k_g = jax.random.split(jax.random.key(0))
    unit_layer, encoder_layer = TARGETS[target_name]
    if target_name == "caffenet":
        target_net, generator_net = CaffeNet(), DGN()
        target_params = target_net.init(k_t, jnp.zeros((1, SIDE, SIDE, 3)))
        target = flax_target(target_net, target_params)
        target_size = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(target_params))
        encoder = lambda x: target(x)[encoder_layer]
    else:
        from inverse_set import torch_target

        net, normalize = torch_net(target_name)
        target = torch_target(net, layers=[encoder_layer], normalize=normalize)
        target_size = sum(p.numel() for p in net.parameters())
        generator_net = DGN(side=224, channels_first=True)

        def encoder(x):  # the layer's channels, averaged over tokens or positions
            h = target(x)[encoder_layer]
            return jnp.mean(h.reshape(-1, h.shape[-1]), axis=0)

    generator_params = generator_net.init(k_g, jnp.zeros((1, CODE)))
    generator = lambda c: generator_net.apply(generator_params, c[None])[0]
    sizes = {"target": target_size, "generator": sum(int(np.prod(p.shape)) for p in jax.tree.leaves(generator_params))}
    return Models(generator=generator, encoder=encoder, target=target, init=CODE), sizes, unit_layer


def seconds(fn, *args):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--steps", type=int, default=5, help="solver steps timed per kind (compiled loops)")
    parser.add_argument("--ladder-moves", type=float, default=100.0, help="moves per sample-set of the ladder "
                        "(about 50–170 on the bundled models' p95–p99.9 bands)")
    parser.add_argument("--seed-steps", type=float, default=200.0)
    parser.add_argument("--walk-steps", type=float, default=None, help="default: (n − K) / K, one sample a walker "
                        "a step")
    parser.add_argument("--target", choices=tuple(TARGETS), default="caffenet",
                        help="caffenet (Flax, 227²), vit (timm ViT-S/16, 224²) or resnet50 (torchvision, 224²); the "
                        "last two need the zoo extra")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/scale.md for caffenet, else "
                        "scale_<target>.md")
    args = parser.parse_args(argv)
    out = args.out or f"benchmarks/results/scale{'' if args.target == 'caffenet' else '_' + args.target}.md"
    models, sizes, unit_layer = build_models(args.target)
    print(f"weights: target {sizes['target'] / 1e6:.1f}M, generator {sizes['generator'] / 1e6:.1f}M", flush=True)
    # a band around the unit's median over prior draws: reachable, as a real band would be
    codes = jax.random.normal(jax.random.key(1), (64, CODE))
    f0 = np.asarray(jax.lax.map(lambda c: models.target(models.generator(c))[unit_layer][0], codes))
    z1, z2 = float(np.percentile(f0, 40)), float(np.percentile(f0, 60))
    lines = [(f"Target: {args.target}, {sizes['target'] / 1e6:.1f}M weights; generator {sizes['generator'] / 1e6:.1f}M "
             f"weights, images {jax.eval_shape(models.generator, codes[0]).shape}."), "",
             f"Band of {unit_layer}[0]: [{z1:.4g}, {z2:.4g}] (its 40th–60th percentiles over 64 prior draws).", "",
             ("| method | compile s | peak memory MB (outputs) | s / seed step (K) | s / walk step (K) | "
             "s / ladder move (N) | a whole run, estimated |"), "|---|---|---|---|---|---|---|"]
    walk_steps = args.walk_steps if args.walk_steps is not None else (args.n - args.k) / args.k
    for name in ("prior-ladder", "paper"):
        method = get_method(name)
        neuron = 0 if unit_layer in ("logits", "output") else Unit(unit_layer, 0)
        sampler = make_sampler(neuron, args.n, models=models, method=method, num_seeds=args.k)
        c = sampler.compiled
        lo, hi = (jnp.asarray(b) for b in c.solver_bands([z1], [z2]))
        example = (jax.random.key(0), lo, hi, sampler.indices)
        t0 = time.perf_counter()
        c._compile_sharded(jax.devices()[:1], example)
        compile_s = time.perf_counter() - t0
        total_mb, out_mb = memory(c.executable(jax.devices()[:1]))
        print(f"{name}: compiled in {compile_s:.0f} s, {total_mb:.0f} MB ({out_mb:.0f} MB outputs)", flush=True)
        bands, problem = Bands(lo, hi), c.problem
        k_codes = jax.random.normal(jax.random.key(2), (args.k, CODE))
        seed_method = method.replace(seeds=SeedConfig(max_steps=args.steps, num_inner_steps=args.steps,
                                                      select=method.seeds.select,
                                                      candidates_per_seed=method.seeds.candidates_per_seed))
        seed_s = step_seconds(problem, seed_method, k_codes, bands, sampler.indices, args.steps)
        row = {"seed": seed_s}
        if name == "paper":
            row["walk"] = walk_step_seconds(sampler, k_codes, bands, args.steps)
            estimate = args.seed_steps * seed_s + walk_steps * row["walk"]
        else:
            n_codes = jax.random.normal(jax.random.key(3), (sampler.compiled.method.walk.particles(args.n), CODE))
            run = jax.jit(lambda z, problem=problem, indices=sampler.indices: forward(problem, z, indices))
            run(n_codes)  # compile
            row["move"] = min(seconds(run, n_codes) for _ in range(2))
            estimate = args.ladder_moves * row["move"]
        fmt = lambda v: f"{v:.2f}" if v is not None else "–"
        lines.append(f"| {name} | {compile_s:.0f} | {total_mb:.0f} ({out_mb:.0f}) | {fmt(row.get('seed'))} | "
                     f"{fmt(row.get('walk'))} | {fmt(row.get('move'))} | {estimate / 60:.0f} min |")
        print(lines[-1], flush=True)
    lines += ["", (f"Estimates: the ladder at {args.ladder_moves:g} moves; paper at {args.seed_steps:g} seed steps and "
              f"{walk_steps:g} walk steps (one sample per walker per step).")]
    title = "The paper's scale (227×227×3, a 4096-d code, CaffeNet-sized)" if args.target == "caffenet" else \
        f"224×224×3 images from a DGN-shaped generator, a 4096-d code, {args.target} through torch_target"
    bm.write_page(out, title, "benchmarks/scale.py",
                  argv, __doc__.split("\n\n")[0], lines)
    print("\n".join(lines))


def step_seconds(problem, method, codes, bands, indices, steps) -> float:
    """Seconds per seed step: the seed solver's own step (:func:`inverse_set.paper.seeds.run` with ``steps`` steps)."""
    from inverse_set.paper import seeds

    run = jax.jit(lambda c: seeds.run(method.seeds, method.objective, problem, c, bands, indices,
                                      stop_when_inside=False)[0])
    jax.block_until_ready(run(codes))  # compile
    t0 = time.perf_counter()
    state = jax.block_until_ready(run(codes))
    return (time.perf_counter() - t0) / max(int(state.step), 1)


def walk_step_seconds(sampler, codes, bands, steps) -> float:
    """Seconds per step of the gradient walk from ``codes`` (the speed benchmark's compiled loop)."""
    from speed import Seeds

    from inverse_set.walks import WalkContext

    c = sampler.compiled
    ctx = WalkContext(c.problem, c.method.objective, bands, sampler.indices, c.n, c.num_features, codes.shape[1])
    state = c.method.walk.init(ctx, Seeds(codes, jnp.zeros((codes.shape[0], 1)), jnp.asarray(10.0)),
                               jax.random.key(0))
    return timed_loop(lambda s: c.method.walk.step(ctx, s)[0], state, steps=steps, repeats=1)


if __name__ == "__main__":
    main()
