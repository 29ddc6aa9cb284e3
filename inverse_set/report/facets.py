"""Facets of an inverse set: its samples sorted into the kinds of input the neuron responds to.

The samples are clustered by k-means in a feature space — the encoder's E(G(c)),
the space where the sampler measures diversity, unless other features are given
(the bundled models' independent judge, say). When k is not given it is chosen
by the mean silhouette s(k) (Rousseeuw 1987) over k = 2 … ``max_k``: the k with
the highest s(k), or a single facet when no k reaches ``MIN_SILHOUETTE`` (below
0.25, Kaufman & Rousseeuw read a silhouette as "no substantial structure").
Each facet has its size, its medoid (the member nearest all the others: a real
sample, never an average) and its members, largest facet first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inverse_set.core.chunks import chunked

MIN_SILHOUETTE = 0.25  # below it no k ≥ 2 is structure enough: one facet
MAX_K = 8


@dataclass(frozen=True)
class Facet:
    """One kind of sample: ``members`` (indices into the result, nearest the medoid first) and its ``medoid``."""

    medoid: int
    members: np.ndarray

    @property
    def size(self) -> int:
        return int(self.members.shape[0])


@dataclass(frozen=True)
class Facets:
    """The facets of a result, largest first, with how k was chosen.

    Attributes:
      facets: the :class:`Facet` s, largest first.
      labels: (m,) each sample's facet (an index into ``facets``).
      silhouette: ``{k: mean silhouette}`` for every k tried (empty when k was given and is 1).
      chosen_by: ``"given"``, ``"silhouette"`` (the k with the highest mean silhouette) or ``"no structure"``
        (no k reached ``MIN_SILHOUETTE``: one facet).
      space: the feature space, in words.
    """

    facets: tuple[Facet, ...]
    labels: np.ndarray
    silhouette: dict
    chosen_by: str
    space: str

    def __len__(self) -> int:
        return len(self.facets)

    def __iter__(self):
        return iter(self.facets)

    def __getitem__(self, i) -> Facet:
        return self.facets[i]


def facets(result, k: int | None = None, *, models=None, features=None, max_k: int = MAX_K,
           seed: int = 0) -> Facets:
    """Cluster a result's samples into facets.

    Args:
      result: an :class:`~inverse_set.results.InverseSetResult` (its ``images``), or an array of features (m, F).
      k: the number of facets; None: chosen by the mean silhouette (see the module docstring).
      models: the :class:`~inverse_set.models.Models` whose ``encoder`` gives the features (E of each image).
      features: instead of the encoder: an array (m, F), or a function ``image -> features`` (for the bundled
        models, ``zoo.judge_features``: the independent judge's space).
      max_k: the most facets tried when k is None.
      seed: of k-means' initialisation (the same seed gives the same facets).

    Returns:
      :class:`Facets`.
    """
    x, space = _features(result, models, features)
    m = x.shape[0]
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= m):
        raise ValueError(f"facets(k={k!r}): give a whole number of facets from 1 to the {m} samples, or None to "
                         "choose it by the silhouette.")
    if isinstance(max_k, bool) or not isinstance(max_k, (int, np.integer)) or max_k < 2:
        raise ValueError(f"facets(max_k={max_k!r}): give a whole number ≥ 2.")
    if m < 2:
        raise ValueError(f"facets: {m} sample(s); at least 2 are needed to sort samples into facets.")
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    def cluster(j):
        return KMeans(n_clusters=j, n_init=10, random_state=seed).fit_predict(x) if j > 1 else np.zeros(m, int)

    scores, chosen_by = {}, "given"
    if k is None:
        tried = {j: cluster(j) for j in range(2, min(max_k, m - 1) + 1)}
        scores = {j: float(silhouette_score(x, labels)) for j, labels in tried.items()
                  if len(np.unique(labels)) > 1}
        best = max(scores, key=scores.get) if scores else None
        if best is None or scores[best] < MIN_SILHOUETTE:
            k, labels, chosen_by = 1, np.zeros(m, int), "no structure"
        else:
            k, labels, chosen_by = best, tried[best], "silhouette"
    else:
        labels = cluster(k)
    groups = sorted((np.flatnonzero(labels == j) for j in np.unique(labels)), key=lambda g: (-g.size, g[0]))
    found = tuple(_facet(x, g) for g in groups)
    relabelled = np.empty(m, int)
    for i, f in enumerate(found):
        relabelled[f.members] = i
    return Facets(found, relabelled, scores, chosen_by, space)


def _facet(x: np.ndarray, members: np.ndarray) -> Facet:
    """The medoid minimises the summed distance to the other members; members are ordered by distance to it."""
    d = np.sqrt(np.maximum(_squared_distances(x[members], x[members]), 0.0))
    centre = int(np.argmin(d.sum(axis=1)))
    order = np.argsort(d[centre], kind="stable")
    return Facet(int(members[centre]), members[order])


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T


def _features(result, models, features) -> tuple[np.ndarray, str]:
    if isinstance(result, np.ndarray) or (features is None and models is None and not hasattr(result, "images")):
        x = np.asarray(result, np.float64)
        space = "the features given"
    elif features is not None and not callable(features):
        x = np.asarray(features, np.float64)
        if x.shape[0] != len(result):
            raise ValueError(f"facets(features=…): {x.shape[0]} rows of features for {len(result)} samples; give "
                             "one row per sample.")
        space = "the features given"
    else:
        fn: Callable | None = features if callable(features) else getattr(models, "encoder", None)
        if fn is None:
            raise TypeError("facets(result): give models= (their encoder E gives the features) or features= (an "
                            "array with a row per sample, or a function image -> features).")
        x = np.asarray(chunked(fn, 256)(np.asarray(result.images)), np.float64)
        space = "the encoder's features E(x)" if features is None else \
            f"{getattr(features, '__name__', 'the function given')}(x)"
    x = x.reshape(x.shape[0], -1)
    if not np.isfinite(x).all():
        raise ValueError("facets: the features must be finite numbers, one row per sample.")
    return x, space
