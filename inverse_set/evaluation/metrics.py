"""Diversity, fidelity and membership measures (numpy).

All functions take feature matrices with one sample per row, normally the
penultimate features of an independently trained *judge* network (see
``generators.load().judge_features``); measuring in the sampler's own encoder
space favours the sampler, so report encoder-space figures only beside these.

* :func:`vendi_score` -- effective number of distinct samples (Friedman & Dieng 2023).
* :func:`mean_pairwise_distance` -- mean Euclidean distance between samples.
* :func:`precision_recall` -- k-NN precision / recall (Kynkäänniemi et al. 2019).
* :func:`density_coverage` -- k-NN density / coverage (Naeem et al. 2020).
* :func:`frechet_distance` -- Fréchet distance between Gaussian fits (FID formula).
* :func:`mean_shift` -- a 1-D set's mean against a reference's, in standard errors squared (t²), and
  :func:`design_effect` -- what a mean t² says of how many independent draws n samples are worth.
* :func:`in_band_rate` -- fraction of samples whose activations lie in every band.
* :func:`precision_membership`, :func:`recall_membership`, :func:`coverage_membership` -- the
  per-point terms of precision, recall and coverage (their means), for intervals.
* :func:`quality_vendi` -- Vendi × mean quality (Nguyen & Dieng 2024): diversity that does not reward junk.
* :func:`path_similarity` -- how alike a network processes two image sets, layer by layer.
* :func:`bootstrap_interval` -- a percentile bootstrap interval of any of these.

Example:
  >>> import numpy as np
  >>> x = np.eye(4)
  >>> round(vendi_score(x), 6)
  4.0
  >>> precision_recall(x, x, k=1)
  (1.0, 1.0)
"""
from __future__ import annotations

import numpy as np

from inverse_set.core.bands import in_band

__all__ = [
    "bootstrap_interval",
    "coverage_membership",
    "density_coverage",
    "design_effect",
    "frechet_distance",
    "in_band_rate",
    "knn_radii",
    "mean_pairwise_distance",
    "mean_shift",
    "pairwise_distances",
    "path_similarity",
    "precision_membership",
    "precision_recall",
    "quality_vendi",
    "recall_membership",
    "vendi_score",
]

_CHUNK = 2048


def _as_2d(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        x = x.reshape(x.shape[0], -1)
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return x


def pairwise_distances(a, b):
    """Euclidean distance matrix ``D[i, j] = ||a_i - b_j||`` of shape (len(a), len(b))."""
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def knn_radii(x, k):
    """Distance from each row of ``x`` to its k-th nearest neighbour in ``x``, skipping itself.

    Args:
      x: (N, d) points.
      k: neighbour rank, 1 <= k < N.

    Returns:
      (N,) array NND_k.
    """
    x = _as_2d(x, "x")
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"need 1 <= k < N, got k={k}, N={n}")
    out = np.empty(n)
    for s in range(0, n, _CHUNK):
        d = pairwise_distances(x[s : s + _CHUNK], x)
        idx = np.arange(s, min(s + _CHUNK, n))
        d[idx - s, idx] = np.inf  # skip the point itself (duplicates elsewhere still count)
        out[s : s + _CHUNK] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return out


def _ball_counts(queries, centres, radii):
    """For each query, how many balls B(centre_r, radius_r) (closed, <=) contain it."""
    queries = _as_2d(queries, "queries")
    counts = np.zeros(queries.shape[0], dtype=np.int64)
    covered = np.zeros(centres.shape[0], dtype=bool)
    for s in range(0, queries.shape[0], _CHUNK):
        d = pairwise_distances(queries[s : s + _CHUNK], centres)
        inside = d <= radii[None, :]
        counts[s : s + _CHUNK] = inside.sum(1)
        covered |= inside.any(0)
    return counts, covered


def vendi_score(features, eps: float = 1e-12) -> float:
    r"""Vendi score with the cosine kernel and order q = 1.

    .. math::
        K_{ij} = \frac{\langle x_i, x_j\rangle}{\|x_i\|\|x_j\|}, \qquad
        \mathrm{VS} = \exp\Big(-\sum_i \lambda_i \log \lambda_i\Big),

    with :math:`\lambda_i` the eigenvalues of :math:`K/n` (negatives clipped to 0,
    :math:`0 \log 0 = 0`).  Since :math:`K = X X^\top` for the L2-normalised rows
    :math:`X`, the non-zero eigenvalues of :math:`K/n` equal those of
    :math:`X^\top X / n`; the smaller of the two matrices is used (the dual when n > d).

    Args:
      features: (n, d) array; rows of zero norm are rejected.

    Returns:
      A float in [1, min(n, d)]: the effective number of distinct samples.
    """
    x = _as_2d(features, "features")
    n, d = x.shape
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms <= eps):
        raise ValueError("vendi_score: a feature row has zero norm (cosine kernel undefined)")
    x = x / norms
    gram = (x.T @ x) / n if n > d else (x @ x.T) / n
    lam = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    lam = lam[lam > 0]
    return float(np.exp(-(lam * np.log(lam)).sum()))


def mean_pairwise_distance(features) -> float:
    r"""Mean Euclidean distance over distinct pairs, :math:`\frac{2}{n(n-1)}\sum_{i<j}\|x_i-x_j\|`.

    Two tight, far-apart clumps score high: report beside :func:`vendi_score`, never alone.
    """
    x = _as_2d(features, "features")
    n = x.shape[0]
    if n < 2:
        raise ValueError("mean_pairwise_distance needs at least 2 samples")
    total = 0.0
    for s in range(0, n, _CHUNK):
        d = pairwise_distances(x[s : s + _CHUNK], x)
        total += d.sum()
    return float(total / (n * (n - 1)))  # diagonal is 0; each pair counted twice


def precision_recall(real, fake, k: int = 3):
    r"""Improved precision and recall (Kynkäänniemi et al. 2019).

    .. math::
        \mathrm{precision} = \frac{1}{m}\sum_{y\in F} 1\big[\exists r\in R:\ \|y-r\| \le \mathrm{NND}_k^R(r)\big],\quad
        \mathrm{recall} = \frac{1}{N}\sum_{r\in R} 1\big[\exists y\in F:\ \|r-y\| \le \mathrm{NND}_k^F(y)\big].

    Args:
      real: (N, d) reference features R.
      fake: (m, d) generated-sample features F.
      k: neighbour rank defining the ball radii (3 in the paper).

    Returns:
      ``(precision, recall)`` floats in [0, 1].
    """
    return float(precision_membership(real, fake, k).mean()), float(recall_membership(real, fake, k).mean())


def precision_membership(real, fake, k: int = 3) -> np.ndarray:
    """(m,) bool: whether each fake sample lies in some ball B(r, NND_k(r)) of the reference (precision's term)."""
    real = _as_2d(real, "real")
    counts, _ = _ball_counts(_as_2d(fake, "fake"), real, knn_radii(real, k))
    return counts > 0


def recall_membership(real, fake, k: int = 3) -> np.ndarray:
    """(N,) bool: whether each reference point lies in some ball B(y, NND_k(y)) of the samples (recall's term)."""
    fake = _as_2d(fake, "fake")
    counts, _ = _ball_counts(_as_2d(real, "real"), fake, knn_radii(fake, k))
    return counts > 0


def coverage_membership(real, fake, k: int = 5) -> np.ndarray:
    """(N,) bool: whether some sample lies in each reference point's ball B(r, NND_k(r)) (coverage's term)."""
    real = _as_2d(real, "real")
    _, covered = _ball_counts(_as_2d(fake, "fake"), real, knn_radii(real, k))
    return covered


def quality_vendi(features, quality) -> float:
    r"""Quality-weighted Vendi score (Nguyen & Dieng 2024): :math:`\mathrm{qVS} = \mathrm{VS} \cdot \bar q`.

    Args:
      features: (n, d) sample features.
      quality: (n,) per-sample quality in [0, 1] (e.g. :func:`precision_membership`).

    Unrealistic diversity scores near 0: n samples all outside the real data's
    support score 0 however varied they are.
    """
    q = np.asarray(quality, dtype=np.float64).ravel()
    if q.shape[0] != _as_2d(features, "features").shape[0] or np.any((q < 0) | (q > 1)):
        raise ValueError(f"quality must hold one value in [0, 1] per sample; got shape {q.shape}")
    return vendi_score(features) * float(q.mean())


def path_similarity(samples: dict, real: dict, reference: dict) -> tuple[float, dict]:
    r"""How alike a network processes a sample set and real images, layer by layer.

    For each layer L (features: (n, d_L) per set; pool conv maps over space first),

    .. math::
        s_L = \min\Big(1,\ \frac{d^2_L(\text{real}, \text{reference})}{d^2_L(\text{samples}, \text{reference})}\Big),

    with :math:`d^2_L` the :func:`frechet_distance` of the layer's activations and
    ``real`` a held-out set of real images of the same size as ``samples`` (so the
    two distances carry the same small-sample bias). 1: the samples are as close to
    the reference as real images are; 0.5: twice as far. Returns the mean over
    layers and ``{layer: s_L}``.
    """
    if set(samples) != set(real) or set(samples) != set(reference) or not samples:
        raise ValueError(f"path_similarity: the three sets need the same layers; got {sorted(samples)}, "
                         f"{sorted(real)}, {sorted(reference)}")
    per_layer = {}
    for name, sampled in samples.items():
        d_samples = frechet_distance(sampled, reference[name])
        d_real = frechet_distance(real[name], reference[name])
        per_layer[name] = 1.0 if d_samples <= d_real else d_real / d_samples
    return float(np.mean(list(per_layer.values()))), per_layer


def bootstrap_interval(statistic, samples, *, num: int = 100, level: float = 0.9, rng=0,
                       centred: bool = False) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(resampled)`` over rows of ``samples`` drawn with replacement.

    For a mean of per-point terms (precision over the samples, recall and coverage
    over the reference: pass their :func:`precision_membership`,
    :func:`recall_membership` or :func:`coverage_membership` with ``np.mean``) this
    is the usual interval. Resampling the feature rows themselves would repeat rows
    and so bias every k-NN figure and the Fréchet distance (fewer distinct points).
    For such a statistic pass ``centred=True``: the interval is the bootstrap's
    spread placed around the estimate (shifted by the estimate minus the bootstrap
    mean), i.e. how much the figure moves between draws of the same n.
    """
    x = np.asarray(samples)
    if x.shape[0] < 2:
        raise ValueError("bootstrap_interval needs at least 2 samples")
    gen = np.random.default_rng(rng)
    values = np.array([statistic(x[gen.integers(0, x.shape[0], x.shape[0])]) for _ in range(num)], np.float64)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    shift = float(statistic(x)) - values.mean() if centred else 0.0
    return float(lo + shift), float(hi + shift)


def density_coverage(real, fake, k: int = 5):
    r"""Density and coverage (Naeem et al. 2020).

    .. math::
        \mathrm{density} = \frac{1}{k m}\sum_{y}\sum_{r} 1\big[y\in B(r, \mathrm{NND}_k(r))\big],\qquad
        \mathrm{coverage} = \frac{1}{N}\sum_{r} 1\big[\exists y: y\in B(r, \mathrm{NND}_k(r))\big],

    with NND_k(r) the distance from r to its k-th nearest neighbour in R (r itself
    skipped) and closed balls (``<=``).

    Returns:
      ``(density, coverage)``; density can exceed 1, coverage is in [0, 1].
    """
    real = _as_2d(real, "real")
    fake = _as_2d(fake, "fake")
    counts, covered = _ball_counts(fake, real, knn_radii(real, k))
    return float(counts.sum() / (k * fake.shape[0])), float(covered.mean())


def _sqrtm_psd(a):
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a, b) -> float:
    r"""Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    .. math::
        d^2 = \|\mu_a-\mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b -
              2(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\big)

    Returns the squared distance :math:`d^2` (as FID does), clipped at 0.
    """
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False)) if a.shape[0] > 1 else np.zeros((a.shape[1],) * 2)
    cov_b = np.atleast_2d(np.cov(b, rowvar=False)) if b.shape[0] > 1 else np.zeros((b.shape[1],) * 2)
    s = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(s @ cov_b @ s)
    d2 = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(cross)
    return float(max(d2, 0.0))


def mean_shift(samples, reference) -> float:
    r"""t², the squared difference of two 1-D sets' means in their standard errors as independent draws:

    .. math::
        t^2 = \frac{(\bar s - \bar a)^2}{\widehat{\mathrm{Var}}(a)\,(1/n + 1/R)}

    About 1 (χ² with one degree of freedom) when the n samples and the R reference points are independent draws
    of one law; about ``(D/n + 1/R) / (1/n + 1/R)`` when the samples are worth n / D independent ones
    (:func:`design_effect`); more when their law is off.
    """
    s, a = np.asarray(samples, np.float64).reshape(-1), np.asarray(reference, np.float64).reshape(-1)
    if len(s) < 2 or len(a) < 2:
        raise ValueError(f"mean_shift needs at least 2 samples and 2 reference points, got {len(s)} and {len(a)}")
    return float((s.mean() - a.mean()) ** 2 / (a.var(ddof=1) * (1 / len(s) + 1 / len(a))))


def design_effect(mean_t2: float, n: int, r: int) -> float:
    """D, from the mean :func:`mean_shift` of sets of n samples against references of r points: the n samples are
    worth about n / D independent draws along that coordinate (1 for independent draws; copies of n / m draws, m
    each, give m)."""
    return n * (mean_t2 * (1 / n + 1 / r) - 1 / r)


def in_band_rate(acts, z1, z2) -> float:
    r"""Fraction of samples with :math:`z_1 \le f(x) \le z_2` for every constraint.

    Args:
      acts: (n,) or (n, c) activations recomputed from the returned samples
        (one column per constraint).
      z1, z2: scalars or (c,) lower / upper band edges (use ``-inf`` / ``inf`` for one-sided).

    Returns:
      A float in [0, 1].
    """
    acts = np.asarray(acts, dtype=np.float64)
    if acts.ndim == 1:
        acts = acts[:, None]
    acts = acts.reshape(acts.shape[0], -1)
    z1 = np.broadcast_to(np.asarray(z1, dtype=np.float64), acts.shape[1:])
    z2 = np.broadcast_to(np.asarray(z2, dtype=np.float64), acts.shape[1:])
    return float(in_band(acts, z1, z2).mean())
