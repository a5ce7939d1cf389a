"""Does a zero-cost pre-screen pay? ``simulate_prescreen`` replays, on a ground-truth table scored by a
proxy, a search that trains random candidates against one that first screens many candidates by the
proxy and trains only the best few, at equal CPU budgets.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nas.stats import finite_or_worst


@dataclass
class StrategyCurve:
    """Mean best accuracy found and mean regret (pool optimum − found) at each budget (CPU-hours)."""

    name: str
    budgets_h: list[float]
    mean_best: list[float]
    regret: list[float]


def simulate_prescreen(
    truth: Sequence[float],
    scores: Sequence[float],
    *,
    proxy_cost_s: float,
    train_cost_s: float,
    n_screen: int,
    top: int,
    budgets_h: Sequence[float],
    repeats: int = 200,
    seed: int = 0,
) -> dict[str, StrategyCurve]:
    """Simulate two searches over a pool (the ground-truth table), each run ``repeats`` times.

    * ``train-all``: train random candidates one after another (``train_cost_s`` each); the result is
      the best ground-truth accuracy among those trained within the budget.
    * ``prescreen``: score ``n_screen`` random candidates with the proxy (``proxy_cost_s`` each), then
      train the best ``top`` by proxy score in order, as many as the budget allows.

    Training is assumed to reveal the ground truth (the most favourable case for ``train-all``).
    Returns mean best accuracy and mean regret (pool optimum − found) at each budget (CPU-hours).
    """
    t = np.asarray(truth, dtype=np.float64)
    s = finite_or_worst(scores)
    n_pool = len(t)
    if n_screen > n_pool:
        raise ValueError(f"n_screen={n_screen} exceeds the pool of {n_pool} scored architectures")
    best_pool = float(t.max())
    rng = np.random.default_rng(seed)
    budgets_s = np.asarray(budgets_h, dtype=np.float64) * 3600.0
    found = {
        "train-all": np.zeros((repeats, len(budgets_s))),
        "prescreen": np.zeros((repeats, len(budgets_s))),
    }
    for r in range(repeats):
        perm = rng.permutation(n_pool)
        for b, budget in enumerate(budgets_s):
            k = int(budget // train_cost_s)
            found["train-all"][r, b] = t[perm[: max(k, 0)]].max() if k >= 1 else np.nan
            screened = perm[:n_screen]
            left = budget - n_screen * proxy_cost_s
            k = int(left // train_cost_s) if left > 0 else 0
            if k >= 1:
                ranked = screened[np.argsort(-s[screened], kind="mergesort")][: min(top, k)]
                found["prescreen"][r, b] = t[ranked].max()
            else:
                found["prescreen"][r, b] = np.nan
    out = {}
    for name, arr in found.items():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # budgets too small to train anything: nan
            mean = np.nanmean(arr, axis=0)
        out[name] = StrategyCurve(
            name, list(map(float, budgets_h)), [float(v) for v in mean], [float(best_pool - v) for v in mean]
        )
    return out
