"""Baseline samplers, each configured as its reference implementation is (see each module).

All take per-example pure functions (``generator(code) -> image`` etc.), like the
sampler, and return a :class:`BaselineResult`. None of them controls the
activation level exactly: the benchmark counts a sample as a member of the inverse
set only if its activations, recomputed from the image, lie in the band.

* :func:`ppgn` — PPGN sampler (Nguyen et al. 2017)
* :func:`dgn_am` — DGN-AM with random restarts (Nguyen et al. 2016)
* :func:`gram_diversity` — joint optimisation with the feature-visualisation
  (Lucid) Gram-cosine diversity term, pulled into the band by a penalty
* :func:`rejection`, :func:`rejection_from_pool` — rejection sampling from a prior or a pool of codes
* :func:`joint` — the full joint problem of eq. 5 (all n codes together)
"""

from inverse_set.evaluation.baselines.common import BaselineResult
from inverse_set.evaluation.baselines.dgn_am import dgn_am
from inverse_set.evaluation.baselines.gram_diversity import gram_diversity
from inverse_set.evaluation.baselines.joint import joint
from inverse_set.evaluation.baselines.ppgn import ppgn
from inverse_set.evaluation.baselines.rejection import rejection, rejection_from_pool

__all__ = ["BaselineResult", "dgn_am", "gram_diversity", "joint", "ppgn", "rejection", "rejection_from_pool"]
