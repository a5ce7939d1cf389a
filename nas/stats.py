"""Statistics of rank agreement and of repeated runs: ranks, Spearman ρ, Kendall τ, top-k precision,
bootstrap and t intervals, and the finite-value helpers the reports share.

Plain NumPy (no SciPy): ``rankdata``, ``spearman`` and ``kendall`` match ``scipy.stats`` (average ranks,
τ-b). A statistic that is undefined (one side constant, too few points) is ``nan`` here;
:func:`rank_agreement` turns it into ``None`` for JSON reports.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MIN_CORRELATION_N = 3  # fewer points: reports give no ρ or τ


# ------------------------------------------------------------------------------------- finite values


def finite_or_none(v: Any) -> float | None:
    """``v`` as a float when it is a finite real number (not a bool), else ``None`` — JSON has no
    infinities, and a missing or non-numeric metric is not a score."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        return None
    return float(v)


def is_finite(v: Any) -> bool:
    """Whether ``v`` is a finite real number (a usable score: not None, nan, ±inf or a bool)."""
    return finite_or_none(v) is not None


def finite_round(v: Any, digits: int = 4) -> float | None:
    """``v`` rounded to ``digits`` when finite, else ``None``."""
    f = finite_or_none(v)
    return None if f is None else round(f, digits)


def finite_or_worst(values: Sequence[float]) -> np.ndarray:
    """Scores as a float array with ``nan``/``±inf`` mapped below every finite score (ranked worst)."""
    a = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(a) | np.isnan(a)
    if bad.any():
        lo = np.min(a[~bad]) if (~bad).any() else 0.0
        a = a.copy()
        a[bad] = lo - 1.0 - abs(lo)
    return a


# -------------------------------------------------------------------------------------------- ranks


def rankdata(values: Sequence[float]) -> np.ndarray:
    """Average ranks (1-based), ties share the mean rank (as ``scipy.stats.rankdata``)."""
    a = np.asarray(values, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    ranks = np.empty(len(a), dtype=np.float64)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ: Pearson correlation of the average ranks (``nan`` when one side is constant)."""
    rx, ry = rankdata(x), rankdata(y)
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ-b (tie-corrected, as ``scipy.stats.kendalltau``); O(n²), fine for n ≤ a few thousand."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(a)
    if n < 2:
        return float("nan")
    iu = np.triu_indices(n, k=1)
    da = np.sign(a[:, None] - a[None, :])[iu]
    db = np.sign(b[:, None] - b[None, :])[iu]
    concordant_minus_discordant = float(np.sum(da * db))
    n_a, n_b = float(np.sum(da != 0)), float(np.sum(db != 0))
    if n_a == 0 or n_b == 0:
        return float("nan")
    return concordant_minus_discordant / math.sqrt(n_a * n_b)


def top_precision(scores: Sequence[float], truth: Sequence[float], fraction: float = 0.1) -> float:
    """Of the top ``fraction`` by score, the share that is also in the top ``fraction`` by truth."""
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    k = max(1, round(fraction * len(s)))
    top_s = set(np.argsort(-s, kind="mergesort")[:k].tolist())
    top_t = set(np.argsort(-t, kind="mergesort")[:k].tolist())
    return len(top_s & top_t) / k


def expected_pick_regret(scores: Sequence[float], truth: Sequence[float], pool: int) -> float:
    """The expected regret of picking by ``scores`` in a pool of ``pool`` candidates drawn uniformly
    without replacement from these: E[max truth in the pool − truth of the pool's best-scored], exactly
    (no sampling). The pool's best by score or truth is the ``j``-th smallest of the ``N`` with probability
    C(j−1, pool−1) / C(N, pool); ties in score go to the later candidate, non-finite scores rank worst."""
    s, t = finite_or_worst(scores), np.asarray(truth, dtype=np.float64)
    n = len(s)
    if not 1 <= pool <= n:
        raise ValueError(f"pool must be between 1 and the {n} candidates, got {pool}")

    def log_comb(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    # P(the pool's maximum is the j-th smallest) = C(j-1, pool-1) / C(n, pool), in logs: n in the thousands
    total = log_comb(n, pool)
    p = np.array([math.exp(log_comb(j - 1, pool - 1) - total) if j >= pool else 0.0 for j in range(1, n + 1)])
    best = float(np.sum(np.sort(t) * p))
    picked = float(np.sum(t[np.argsort(s, kind="mergesort")] * p))
    return best - picked


def top_region_spearman(
    scores: Sequence[float], truth: Sequence[float], fraction: float = 0.1, min_n: int = MIN_CORRELATION_N
) -> float | None:
    """Spearman ρ of ``scores`` with ``truth`` among the candidates in the top ``fraction`` by truth: how
    well a proxy ranks the good architectures, where a search's pick is made (None below ``min_n``)."""
    t = np.asarray(truth, dtype=np.float64)
    k = max(1, round(fraction * len(t)))
    top = np.argsort(-t, kind="mergesort")[:k]
    if k < min_n:
        return None
    v = spearman(finite_or_worst(scores)[top], t[top])
    return v if math.isfinite(v) else None


def rank_agreement(
    x: Sequence[float],
    y: Sequence[float],
    *,
    top_fraction: float | None = None,
    min_n: int = MIN_CORRELATION_N,
    digits: int = 4,
) -> dict[str, Any]:
    """How well ``x`` ranks like ``y``, for reports: ``n``, Spearman ρ and Kendall τ (and, with
    ``top_fraction``, ``top10_precision``-style ``top{pct}_precision``), rounded to ``digits``.

    A statistic is ``None`` below ``min_n`` points or when undefined (one side constant); the top
    precision is ``None`` whenever ρ is (a constant side ranks by ties alone)."""
    n = len(x)
    out: dict[str, Any] = {"n": n, "spearman": None, "kendall": None}
    if n >= min_n:
        out.update(spearman=finite_round(spearman(x, y), digits), kendall=finite_round(kendall(x, y), digits))
    if top_fraction is not None:
        key = f"top{round(top_fraction * 100)}_precision"
        ok = out["spearman"] is not None
        out[key] = finite_round(top_precision(x, y, top_fraction), digits) if ok else None
    return out


def rho_so_far(scores: Sequence[float], truths: Sequence[float]) -> str:
    """`` ρ=0.812 over 12`` — Spearman ρ of the first ``len(scores)`` candidates against their truth,
    for progress lines of a long calibration; empty below 3 candidates or when undefined."""
    k = len(scores)
    if k < 3 or len(truths) < k:
        return ""
    r = spearman(finite_or_worst(list(scores)), truths[:k])
    return f" ρ={r:.3f} over {k}" if math.isfinite(r) else ""


# ---------------------------------------------------------------------------------------- intervals


def bootstrap_ci(
    scores: Sequence[float],
    truth: Sequence[float],
    stat: Callable[[Sequence[float], Sequence[float]], float] = spearman,
    *,
    baseline: Sequence[float] | None = None,
    repeats: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(scores, truth)`` over architectures resampled with
    replacement (how much a ρ measured on a few dozen architectures can move). With ``baseline``: of
    ``stat(scores, truth) − stat(baseline, truth)`` on the same resamples (does ``scores`` rank better
    than ``baseline``?). Resamples where the statistic is undefined are skipped."""
    s, t = finite_or_worst(scores), np.asarray(truth, dtype=np.float64)
    base = None if baseline is None else finite_or_worst(baseline)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(repeats):
        i = rng.integers(0, len(s), len(s))
        v = stat(s[i], t[i]) - (0.0 if base is None else stat(base[i], t[i]))
        if math.isfinite(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))


# Student-t 0.975 quantiles for 1..30 degrees of freedom (two-sided 95% intervals).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
    2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
    2.045, 2.042,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    """The Student-t 0.975 quantile for ``df`` degrees of freedom (``nan`` below 1)."""
    if df < 1:
        return float("nan")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964  # Cornish-Fisher expansion around the normal quantile
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation and the half-width of the 95% t-interval of the mean (``None``
    entries are skipped; std and interval are ``None`` below two values)."""
    v = [float(x) for x in values if x is not None]
    n = len(v)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = sum(v) / n
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    return {"n": n, "mean": mean, "std": std, "ci95": t_quantile_975(n - 1) * std / math.sqrt(n)}
