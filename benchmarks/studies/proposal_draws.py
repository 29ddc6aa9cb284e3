"""What a proposal fitted to the band's population would cost a sample: the law the ladder fits in the gradients'
span (:func:`inverse_set.particles.laws.subspace_law`), fitted on N in-band codes of the default, drawn from M times
(with a defensive share α of prior draws), each draw one forward pass.

For each α it prints the share of draws in the band, the importance weights' worth (Kish's ESS of w = p / q over
the in-band draws, as a share of M), the forward passes an effective sample costs by importance resampling (M / ESS),
and by exact rejection from q under the largest weight seen (M / (Σ w / max w)), beside rejection from the prior
(1 / the band's mass, estimated from the same draws).

    python benchmarks/studies/proposal_draws.py --classes 7,3 --bands p95,p99 --n 500 --draws 20000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import generators

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for the shared harness
import harness as bm

from inverse_set import get_method, sample_inverse_set
from inverse_set.api import make_sampler
from inverse_set.particles import laws
from inverse_set.particles.levels import measure


def mixture(z, axes, root_one, components: int, key: int):
    """K Gaussians in the span of ``axes`` (d, k), I across it: k-means on the codes' span coordinates, each cluster's
    mean and covariance (eigenvalues clipped as the ladder's law); ``(weights, means (K, d), roots (K, k, k))``."""
    from sklearn.cluster import KMeans

    y = np.asarray(z @ axes)
    if components == 1:
        labels = np.zeros(len(y), int)
    else:
        labels = KMeans(components, n_init=4, random_state=key).fit_predict(y)
    weights, means, roots = [], [], []
    for j in range(components):
        yj = y[labels == j]
        if len(yj) <= y.shape[1] + 1:
            continue
        cov = np.cov(yj.T)
        values, vectors = np.linalg.eigh(cov)
        cov = (vectors * np.clip(values, laws.MIN_VARIANCE, laws.MAX_VARIANCE)) @ vectors.T
        weights.append(len(yj) / len(y))
        means.append(np.asarray(axes) @ yj.mean(0))
        roots.append(np.linalg.cholesky(cov))
    return np.asarray(weights), jnp.asarray(np.stack(means)), jnp.asarray(np.stack(roots))


def study(zoo, cell, n: int, draws: int, shares: list[float], components: list[int], key: int) -> list[dict]:
    res = sample_inverse_set(list(cell.neurons), cell.z1, cell.z2, n, models=zoo, rng_key=key)
    sampler = make_sampler(list(cell.neurons), n, models=zoo, method=get_method("prior-ladder"))
    problem, indices, bands = bm.solver_problem(sampler, cell.z1, cell.z2)
    z = jnp.asarray(res.codes)
    m = z.shape[0]
    _, axes, root, _ = laws.subspace_law(problem, indices, z, jnp.ones(m, bool), jnp.arange(m),
                                         jax.random.key(key + 1))
    axes, root = axes[0], root[0]  # the span of one half's gradients
    dim = z.shape[1]
    check = jax.jit(lambda c: measure(problem, indices, bands, c)[2] <= 0)
    rows = []
    for count in components:
        mix, means, roots = mixture(z, axes, root, count, key)
        for share in shares:
            keys = jax.random.split(jax.random.fold_in(jax.random.key(key + 2), int(share * 1000) + 7 * count), 4)
            pick = jax.random.choice(keys[0], len(mix), (draws,), p=jnp.asarray(mix))
            nu = jax.random.normal(keys[1], (draws, dim))
            wide = lambda a: jnp.broadcast_to(a, (draws,) + a.shape)
            from_q = means[pick] + laws.root_covariance(wide(axes), roots[pick], nu)
            prior = jax.random.normal(keys[2], (draws, dim))
            c = jnp.where((jax.random.uniform(keys[3], (draws,)) < share)[:, None], prior, from_q)
            # log g_j / p for each component, then q = α p + (1 − α) Σ π_j g_j: log p / q = −log(α + (1 − α) Σ π_j g_j / p)
            log_g = jnp.stack([-laws.gaussian_log_weight(wide(means[j]), wide(axes), wide(roots[j]), c)
                               for j in range(len(mix))])
            log_mix = jax.nn.logsumexp(log_g + jnp.log(jnp.asarray(mix))[:, None], axis=0)
            parts = jnp.stack([jnp.full((draws,), jnp.log(share) if share > 0 else -jnp.inf),
                               jnp.log1p(-share) + log_mix])
            log_w = -jax.nn.logsumexp(parts, axis=0)
            inside = np.concatenate([np.asarray(check(chunk)) for chunk in jnp.array_split(c, max(draws // 2000, 1))])
            w = np.where(inside, np.exp(np.asarray(log_w)), 0.0)
            mass = w.sum() / draws  # E_q[w 1_B] = the band's mass under the prior
            cap = np.quantile(w[inside], 0.99)  # rejection under the in-band weights' 99th percentile: a share off
            ess = w.sum() ** 2 / max((w ** 2).sum(), 1e-300)
            r = {"cell": cell.name, "key": key, "components": len(mix), "alpha": share, "in_band": inside.mean(),
                 "ess_share": ess / draws, "per_ess": draws / max(ess, 1e-12),
                 "per_exact": draws / max(w.sum() / max(w.max(), 1e-300), 1e-12),
                 "per_capped": draws / max(np.minimum(w, cap).sum() / cap, 1e-12),
                 "capped_off": 1 - np.minimum(w, cap).sum() / w.sum(),
                 "rejection": 1 / mass if mass > 0 else float("inf"),
                 "default": res.stats.forward_evaluations / m}
            rows.append(r)
            print(f"| {r['cell']} | {key} | {r['components']} | {share:g} | {r['in_band']:.3f} | {r['ess_share']:.3f} | "
                  f"{r['per_ess']:.1f} | {r['per_exact']:.1f} | {r['per_capped']:.1f} ({r['capped_off']:.3f}) | "
                  f"{r['rejection']:.0f} | {r['default']:.1f} |", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bm.add_cell_arguments(parser, classes="7,3", bands="p95,p99", keys="0")
    parser.add_argument("--n", type=int, default=500, help="the default's samples the law is fitted on")
    parser.add_argument("--draws", type=int, default=20000, help="M, the draws from the fitted law")
    parser.add_argument("--alphas", default="0,0.1", help="defensive shares of prior draws")
    parser.add_argument("--components", default="1,4,16", help="Gaussians in the mixture (k-means clusters)")
    args = parser.parse_args(argv)
    zoo = generators.load("fashion")
    cells = bm.class_cells(zoo.stats, [int(c) for c in args.classes.split(",")], args.bands.split(","))
    print("| cell | key | components | α | in band | ESS / M | passes / effective sample | passes / exact sample | "
          "rejection's | the default's |\n|---|---|---|---|---|---|---|---|---|")
    for cell in cells:
        for key in (int(k) for k in args.keys.split(",")):
            study(zoo, cell, args.n, args.draws, [float(a) for a in args.alphas.split(",")],
                  [int(c) for c in args.components.split(",")], key)


if __name__ == "__main__":
    main()
