"""nas.stats: the rank-agreement summary, finite-value helpers, bootstrap and t intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nas import stats as S


def test_finite_helpers_agree_on_what_a_score_is() -> None:
    for v in (1, 2.5, np.float32(0.5), np.int64(3)):
        assert S.is_finite(v) and S.finite_or_none(v) == float(v)
    for v in (None, float("nan"), float("inf"), -math.inf, True, "1.0", [1.0]):
        assert not S.is_finite(v) and S.finite_or_none(v) is None
    assert S.finite_round(0.123456) == 0.1235 and S.finite_round(float("nan")) is None


def test_rank_agreement_is_none_where_undefined() -> None:
    a = S.rank_agreement([1, 2, 3, 4], [10, 20, 30, 40], top_fraction=0.25)
    assert a == {"n": 4, "spearman": 1.0, "kendall": 1.0, "top25_precision": 1.0}
    assert S.rank_agreement([1, 2], [2, 1]) == {"n": 2, "spearman": None, "kendall": None}  # below 3
    assert S.rank_agreement([1, 2], [2, 1], min_n=2)["spearman"] == -1.0
    constant = S.rank_agreement([1, 1, 1, 1], [1, 2, 3, 4], top_fraction=0.1)
    assert constant["spearman"] is None and constant["top10_precision"] is None


def test_bootstrap_with_a_baseline_is_the_paired_difference() -> None:
    rng = np.random.default_rng(1)
    t = rng.normal(size=60)
    a, b = t + rng.normal(size=60), t + 2 * rng.normal(size=60)
    lo, hi = S.bootstrap_ci(a, t, baseline=b, repeats=500)
    draws = np.random.default_rng(0)
    diffs = []
    for _ in range(500):
        i = draws.integers(0, 60, 60)
        diffs.append(S.spearman(a[i], t[i]) - S.spearman(b[i], t[i]))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))
    assert lo <= S.spearman(a, t) - S.spearman(b, t) <= hi
    assert all(math.isnan(v) for v in S.bootstrap_ci([1, 1, 1], [1, 2, 3]))  # ρ undefined everywhere


def test_mean_ci() -> None:
    assert S.mean_ci([]) == {"n": 0, "mean": None, "std": None, "ci95": None}
    assert S.mean_ci([2.0, None]) == {"n": 1, "mean": 2.0, "std": None, "ci95": None}
    m = S.mean_ci([1.0, 2.0, 3.0])
    assert m["mean"] == 2.0 and m["std"] == 1.0 and m["ci95"] == pytest.approx(4.303 / math.sqrt(3))
    assert S.t_quantile_975(1000) == pytest.approx(1.962, abs=1e-3) and math.isnan(S.t_quantile_975(0))


def test_expected_pick_regret_is_the_mean_over_every_pool() -> None:
    import itertools
    import random

    from nas.stats import expected_pick_regret

    rng = random.Random(3)
    scores = [round(rng.random(), 1) for _ in range(9)]  # ties: the later candidate wins, as documented
    truth = [rng.random() for _ in range(9)]
    for k in (1, 2, 5, 9):
        regrets = []
        for pool in itertools.combinations(range(9), k):
            pick = max(pool, key=lambda i: (scores[i], i))
            regrets.append(max(truth[i] for i in pool) - truth[pick])
        assert expected_pick_regret(scores, truth, k) == pytest.approx(sum(regrets) / len(regrets), abs=1e-12)
    assert expected_pick_regret(truth, truth, 5) == pytest.approx(0.0, abs=1e-12)  # a perfect proxy
    assert expected_pick_regret([-x for x in truth], truth, 9) == pytest.approx(max(truth) - min(truth))
    with pytest.raises(ValueError, match="pool"):
        expected_pick_regret(scores, truth, 10)


def test_top_region_spearman_looks_only_at_the_best_by_truth() -> None:
    from nas.stats import top_region_spearman

    truth = list(range(100))
    good_overall_blind_at_top = [t if t < 90 else 189 - t for t in truth]  # the top 10 ranked backwards
    assert top_region_spearman(good_overall_blind_at_top, truth) == pytest.approx(-1.0)
    assert top_region_spearman(truth, truth) == pytest.approx(1.0)
    assert top_region_spearman(truth[:20], truth[:20]) is None  # 2 points: below the minimum
