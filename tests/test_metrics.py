"""Hand-computed cases for inverse_set.evaluation.metrics."""
import math

import numpy as np
import pytest

from inverse_set.evaluation import metrics
from inverse_set.evaluation.metrics import (
    density_coverage,
    frechet_distance,
    in_band_rate,
    knn_radii,
    mean_pairwise_distance,
    precision_recall,
    vendi_score,
)


def test_vendi_identical_rows_is_one():
    x = np.tile(np.array([[1.0, 2.0, 3.0]]), (10, 1))
    assert vendi_score(x) == pytest.approx(1.0, abs=1e-9)


def test_vendi_orthogonal_rows_is_n():
    assert vendi_score(np.eye(6)) == pytest.approx(6.0, abs=1e-9)
    # scaling rows does not matter for the cosine kernel
    assert vendi_score(np.diag([1.0, 5.0, 0.1])) == pytest.approx(3.0, abs=1e-9)


def test_vendi_dual_equals_primal():
    # n > d uses X^T X / n; compare with the n x n kernel computed directly
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    lam = np.clip(np.linalg.eigvalsh(xn @ xn.T / 40), 0, None)
    lam = lam[lam > 0]
    assert vendi_score(x) == pytest.approx(math.exp(-(lam * np.log(lam)).sum()), rel=1e-9)


def test_vendi_two_equal_clusters_is_two():
    x = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    assert vendi_score(x) == pytest.approx(2.0, abs=1e-9)


def test_vendi_rejects_zero_row():
    with pytest.raises(ValueError):
        vendi_score(np.array([[0.0, 0.0], [1.0, 0.0]]))


def test_mean_pairwise_distance():
    x = np.array([[0.0], [1.0], [3.0]])  # pairs: 1, 3, 2 -> mean 2
    assert mean_pairwise_distance(x) == pytest.approx(2.0)
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)


def test_knn_radii_skip_self():
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(knn_radii(x, 1), [1.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(knn_radii(x, 2), [3.0, 2.0, 3.0, 6.0])


def test_precision_recall_self_is_one():
    x = np.random.default_rng(0).standard_normal((200, 4))
    assert precision_recall(x, x, k=3) == (1.0, 1.0)


def test_precision_recall_far_away_is_zero():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((100, 3))
    fake = rng.standard_normal((50, 3)) + 100.0
    assert precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_precision_recall_hand_case():
    # real on a line 0..4: 1-NN radii are all 1.  fake at 0.5 (inside), 10 (outside).
    real = np.arange(5.0)[:, None]
    fake = np.array([[0.5], [10.0]])
    p, r = precision_recall(real, fake, k=1)
    assert p == 0.5
    # fake 1-NN radii: both 9.5 -> ball around 0.5 covers 0..4 (all reals)
    assert r == 1.0


def test_density_coverage_hand_case():
    # real points 0, 1, 2, 3 on a line, k = 1: radii 1, 1, 1, 1.
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    # fake at 0.5 lies in the balls of 0 and 1 (distance 0.5 <= 1), not of 2 (1.5);
    # fake at 10 lies in none.
    fake = np.array([[0.5], [10.0]])
    density, coverage = density_coverage(real, fake, k=1)
    assert density == pytest.approx(2 / (1 * 2))  # two ball memberships / (k * m)
    assert coverage == pytest.approx(2 / 4)  # balls of 0 and 1 are hit


def test_density_coverage_closed_balls():
    real = np.array([[0.0], [1.0], [2.0]])  # k = 1 radii 1, 1, 1
    fake = np.array([[1.0]])  # at distance exactly 1 from 0 and 2, distance 0 from 1
    density, coverage = density_coverage(real, fake, k=1)
    assert density == pytest.approx(3.0)
    assert coverage == pytest.approx(1.0)


def test_density_coverage_self():
    x = np.random.default_rng(2).standard_normal((300, 5))
    density, coverage = density_coverage(x, x, k=5)
    assert coverage == 1.0
    assert 0.8 < density < 1.5


def test_frechet_distance():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # pure shift by (3, 4, 0): d^2 = 25 exactly (covariances identical)
    assert frechet_distance(a, a + np.array([3.0, 4.0, 0.0])) == pytest.approx(25.0, abs=1e-6)
    # N(0, I) vs N(0, 4 I) in 1-D: d^2 = (1 - 2)^2 = 1 (with sample covariances)
    x = np.array([[-1.0], [1.0]])
    assert frechet_distance(x, 2 * x) == pytest.approx((np.sqrt(2) - np.sqrt(8)) ** 2)


def test_in_band_rate():
    acts = np.array([[0.0, 1.0], [0.5, 0.5], [2.0, 0.0], [0.5, -1.0]])
    assert in_band_rate(acts, [0.0, 0.0], [1.0, 1.0]) == pytest.approx(0.5)
    assert in_band_rate(acts[:, 0], 0.0, 1.0) == pytest.approx(0.75)
    assert in_band_rate(acts, -np.inf, np.inf) == 1.0


def test_precision_membership_marks_the_samples_inside_the_reference_balls():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # NND_1 = 1 for every reference point
    fake = np.array([[0.5], [3.9], [4.5], [-2.0]])
    assert metrics.precision_membership(real, fake, k=1).tolist() == [True, True, False, False]
    assert metrics.precision_recall(real, fake, k=1)[0] == 0.5


def test_quality_vendi_is_vendi_times_mean_quality_and_zero_for_junk():
    x = np.eye(4)
    assert metrics.quality_vendi(x, [1, 1, 0, 0]) == pytest.approx(2.0)
    assert metrics.quality_vendi(x, np.zeros(4)) == 0.0
    with pytest.raises(ValueError, match="one value in"):
        metrics.quality_vendi(x, [1, 1])
    with pytest.raises(ValueError, match="one value in"):
        metrics.quality_vendi(x, [2, 1, 1, 1])


def test_path_similarity_is_one_for_real_like_sets_and_falls_with_the_distance():
    g = np.random.default_rng(0)
    ref = {"a": g.normal(size=(400, 3)), "b": g.normal(size=(400, 2))}
    real = {"a": g.normal(size=(200, 3)), "b": g.normal(size=(200, 2))}
    like = {"a": g.normal(size=(200, 3)), "b": g.normal(size=(200, 2))}
    shifted = {"a": like["a"] + 3.0, "b": like["b"]}  # processed differently in layer a only
    assert metrics.path_similarity(like, real, ref)[0] > 0.5
    mean, per_layer = metrics.path_similarity(shifted, real, ref)
    assert per_layer["a"] < 0.1 and per_layer["b"] > 0.5 and mean == pytest.approx(np.mean(list(per_layer.values())))
    with pytest.raises(ValueError, match="same layers"):
        metrics.path_similarity({"a": ref["a"]}, real, ref)


def test_bootstrap_interval_brackets_the_statistic_and_narrows_with_n():
    g = np.random.default_rng(1)
    small, large = g.normal(size=(30, 1)), g.normal(size=(3000, 1))
    lo_s, hi_s = metrics.bootstrap_interval(lambda s: float(s.mean()), small, num=200)
    lo_l, hi_l = metrics.bootstrap_interval(lambda s: float(s.mean()), large, num=200)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 4


def test_the_membership_terms_average_to_precision_recall_and_coverage():
    g = np.random.default_rng(4)
    real, fake = g.normal(size=(60, 3)), g.normal(size=(50, 3)) + 0.3
    precision, recall = metrics.precision_recall(real, fake, k=3)
    assert metrics.precision_membership(real, fake, 3).mean() == precision
    assert metrics.recall_membership(real, fake, 3).mean() == recall
    assert metrics.coverage_membership(real, fake, 5).mean() == metrics.density_coverage(real, fake, k=5)[1]


def test_a_centred_interval_holds_the_estimate_where_resampling_rows_biases_the_figure():
    g = np.random.default_rng(5)
    a, b = g.normal(size=(60, 20)), g.normal(size=(200, 20))
    fd = lambda s: metrics.frechet_distance(s, b)
    lo, hi = metrics.bootstrap_interval(fd, a, num=100)
    assert lo > fd(a)  # repeated rows push the plain percentile interval above the estimate
    lo, hi = metrics.bootstrap_interval(fd, a, num=100, centred=True)
    assert lo <= fd(a) <= hi



def test_the_mean_shift_is_about_one_for_independent_draws_and_counts_copies_in_its_design_effect():
    rng = np.random.default_rng(0)
    n, r, trials = 500, 1000, 400
    independent = [metrics.mean_shift(rng.normal(size=n), rng.normal(size=r)) for _ in range(trials)]
    copies = [metrics.mean_shift(np.repeat(rng.normal(size=n // 5), 5), rng.normal(size=r)) for _ in range(trials)]
    assert 0.8 < np.mean(independent) < 1.2  # χ² with one degree of freedom
    assert 0.8 < metrics.design_effect(np.mean(independent), n, r) < 1.25
    assert 4.0 < metrics.design_effect(np.mean(copies), n, r) < 6.0  # families of five alike: worth n / 5
    shifted = metrics.mean_shift(rng.normal(size=n) + 0.5, rng.normal(size=r))
    assert shifted > 30  # a law off by half an sd: (0.5 / 0.055)² ≈ 83
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.mean_shift([1.0], rng.normal(size=r))
