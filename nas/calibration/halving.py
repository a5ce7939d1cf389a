"""Successive halving simulated on a calibration's per-rung scores: what would ASHA (Ray Tune's rule) or
synchronous successive halving have cost and found, had the candidates been trained with early stopping?

Every architecture was trained once and scored after each rung epoch (``calibrate(..., rungs=...)``), so
any halving schedule over those rungs can be replayed exactly, without training again.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from nas.core.errors import ConfigError
from nas.stats import finite_or_worst, spearman


class RungResult(Protocol):
    """A per-rung proxy result (:class:`nas.calibration.results.ProxyResult`)."""

    scores: list[float]
    cpu_s: list[float]
    info: dict[str, Any]


class RungCalibration(Protocol):
    """What :func:`halving_report` reads of a :class:`nas.calibration.results.Calibration`."""

    truth: list[float]

    def rung_curves(self) -> Mapping[str, Sequence[RungResult]]: ...


HALVING_MODES = ("sync", "async")


def asha_milestones(grace: int, eta: float, max_t: int) -> list[int]:
    """The epochs at which Ray Tune's ``ASHAScheduler(grace_period=grace, reduction_factor=eta,
    max_t=max_t)`` (one bracket) decides to stop a trial: ``grace · eta^k`` for ``k`` below
    ``log_eta(max_t / grace) + 1`` (Ray's formula), rounded up to whole epochs (a trial reporting every
    epoch is judged at the first report past the milestone); milestones at or past ``max_t`` are dropped
    (a trial there has finished)."""
    if grace < 1 or eta <= 1 or max_t < 1:
        raise ValueError(f"ASHA needs grace >= 1, eta > 1 and max_t >= 1, got {grace}, {eta}, {max_t}")
    count = int(np.log(max_t / grace) / np.log(eta) + 1)
    out = sorted({math.ceil(grace * eta**k - 1e-9) for k in range(max(0, count))})
    return [m for m in out if m < max_t]


def _sorted_percentile(values: list[float], q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of an already sorted list."""
    pos = q / 100.0 * (len(values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def asha_stops(scores: Sequence[Sequence[float]], order: Sequence[int], eta: float) -> list[int]:
    """Asynchronous successive halving as Ray Tune's ASHA decides it, trials arriving one at a time in
    ``order``: ``scores[j][i]`` is trial ``i``'s score at milestone ``j``; a trial stops at milestone
    ``j`` when its score is below the ``(1 − 1/eta)`` percentile of the scores recorded there before it
    (every score is recorded; the first trial always continues). Returns, per trial, the index of the
    milestone where it stopped, ``len(scores)`` for one that ran to the end."""
    recorded: list[list[float]] = [[] for _ in scores]
    q = (1.0 - 1.0 / eta) * 100.0
    level = [len(scores)] * (len(scores[0]) if len(scores) else 0)
    for i in order:
        for j, row in enumerate(scores):
            v = float(row[i])
            cutoff = _sorted_percentile(recorded[j], q) if recorded[j] else None
            bisect.insort(recorded[j], v)
            if cutoff is not None and v < cutoff:
                level[i] = j
                break
    return level


def halving_stops(scores: Sequence[Sequence[float]], eta: float) -> list[int]:
    """Synchronous successive halving: all trials reach milestone 0; at each milestone ``j`` the best
    ``max(1, floor(n_j / eta))`` by ``scores[j]`` go on (ties: lower index first). Returns the milestone
    index where each trial stopped, ``len(scores)`` for one that ran to the end."""
    n = len(scores[0]) if len(scores) else 0
    level = [len(scores)] * n
    alive = list(range(n))
    for j, row in enumerate(scores):
        ranked = sorted(alive, key=lambda i: -float(row[i]))  # stable: ties keep the lower index
        keep = max(1, math.floor(len(alive) / eta))
        for i in ranked[keep:]:
            level[i] = j
        alive = ranked[:keep]
    return level


def simulate_halving(
    truth: Sequence[float],
    rung_scores: Mapping[int, Sequence[float]],
    rung_costs: Mapping[int, Sequence[float]],
    *,
    eta: float,
    grace: int,
    max_t: int | None = None,
    mode: str = "sync",
    repeats: int = 500,
    seed: int = 0,
    top_fraction: float = 0.1,
) -> dict[str, Any]:
    """Successive halving over ``n`` architectures with known per-rung validation scores and cumulative
    costs (``rung_scores[epoch][i]``, ``rung_costs[epoch][i]``, e.g. from ``calibrate(..., rungs=...)``).

    Milestones are those of Ray's ASHA (:func:`asha_milestones`; each must be a measured rung) and
    ``max_t`` the last measured rung. ``mode="sync"``: synchronous successive halving
    (:func:`halving_stops`, deterministic); ``"async"``: Ray's asynchronous rule (:func:`asha_stops`)
    with the trials arriving one at a time, averaged over ``repeats`` random arrival orders.

    Reported: CPU-seconds spent (a trial stopped at a milestone costs its cumulative cost there) against
    training all to ``max_t``; the true accuracy of the arch ranked first (best final score among
    those that ran to the end) and of the one training all would pick; the pool's best; Spearman ρ
    against the truth among the survivors and of the whole final order (survivors by final score, then
    the others by the milestone they reached and their score there); and, per milestone, the share of
    the true top ``top_fraction`` still running after it.
    """
    if mode not in HALVING_MODES:
        raise ConfigError("mode", f"halving mode must be one of {', '.join(HALVING_MODES)}, got {mode!r}")
    t = np.asarray(truth, dtype=np.float64)
    milestones, max_t, sc, cost = _stages(rung_scores, rung_costs, eta, grace, max_t, len(t))
    n, final = len(t), len(milestones)
    k = max(1, round(top_fraction * n))
    top = np.argsort(-t, kind="mergesort")[:k]
    if mode == "sync":
        levels = [np.asarray(halving_stops(sc[:final], eta))]
    else:
        rng = np.random.default_rng(seed)
        levels = [np.asarray(asha_stops(sc[:final], rng.permutation(n), eta)) for _ in range(repeats)]
    runs = [_measure(level, sc, cost, t, top) for level in levels]
    train_all = float(cost[final].sum())
    cpu_s = _mean(runs, "cpu_s")
    return {
        "mode": mode,
        "eta": eta,
        "grace": grace,
        "max_t": max_t,
        "milestones": milestones,
        "n": n,
        "repeats": len(runs),
        "cpu_s": cpu_s,
        "cpu_s_train_all": train_all,
        "cost_fraction": cpu_s / train_all if train_all > 0 else float("nan"),
        "survivors": _mean(runs, "survivors"),
        "winner_truth": _mean(runs, "winner_truth"),
        "winner_is_best": _mean(runs, "winner_is_best"),
        "train_all_winner_truth": float(t[int(np.argmax(sc[final]))]),  # first maximum, as stable sorts
        "best_truth": float(t.max()),
        "spearman_survivors": _mean(runs, "spearman_survivors"),
        "spearman_all": _mean(runs, "spearman_all"),
        "spearman_train_all": spearman(sc[final], t),
        "top_k": k,
        "top_survival": {
            str(m): float(np.mean([r["top_survival"][j] for r in runs])) for j, m in enumerate(milestones)
        },
    }


def _stages(
    rung_scores: Mapping[int, Sequence[float]],
    rung_costs: Mapping[int, Sequence[float]],
    eta: float,
    grace: int,
    max_t: int | None,
    n: int,
) -> tuple[list[int], int, np.ndarray, np.ndarray]:
    """The ASHA milestones, ``max_t`` and the scores and costs at each stage (the milestones, then
    ``max_t``) as ``(stages, n)`` arrays; ``ValueError`` when a needed rung was not measured."""
    epochs = sorted(rung_scores)
    if not epochs or sorted(rung_costs) != epochs:
        raise ValueError("rung_scores and rung_costs must cover the same (non-empty) set of epochs")
    max_t = max_t if max_t is not None else epochs[-1]
    if max_t not in rung_scores:
        raise ValueError(f"max_t={max_t} is not a measured rung ({', '.join(map(str, epochs))})")
    milestones = asha_milestones(grace, eta, max_t)
    missing = [m for m in milestones if m not in rung_scores]
    if missing:
        raise ValueError(
            f"ASHA milestone {missing[0]} (grace {grace}, eta {eta:g}, max_t {max_t}) is not a measured "
            f"rung ({', '.join(map(str, epochs))})"
        )
    stage_epochs = [*milestones, max_t]
    sc = np.array([finite_or_worst(rung_scores[e]) for e in stage_epochs])
    cost = np.array([np.asarray(rung_costs[e], dtype=np.float64) for e in stage_epochs])
    if sc.shape[1] != n or cost.shape[1] != n:
        raise ValueError(f"every rung needs one score and one cost per architecture ({n})")
    return milestones, max_t, sc, cost


def _measure(
    level: np.ndarray, sc: np.ndarray, cost: np.ndarray, t: np.ndarray, top: np.ndarray
) -> dict[str, Any]:
    """One halving run's outcome, given the stage index where each trial stopped (``level``)."""
    n, final = len(t), len(sc) - 1
    survivors = np.flatnonzero(level == final)
    winner = int(survivors[np.argmax(sc[final][survivors])])
    at_level = sc[level, np.arange(n)]
    order = np.lexsort((at_level, level))  # ascending: worst first
    position = np.empty(n)
    position[order] = np.arange(n)
    return {
        "cpu_s": float(cost[level, np.arange(n)].sum()),
        "survivors": len(survivors),
        "winner_truth": float(t[winner]),
        "winner_is_best": float(t[winner] == t.max()),
        "spearman_survivors": spearman(sc[final][survivors], t[survivors]),
        "spearman_all": spearman(position, t),
        "top_survival": [float(np.mean(level[top] > j)) for j in range(final)],
    }


def _mean(runs: Sequence[Mapping[str, Any]], key: str) -> float:
    v = np.asarray([r[key] for r in runs], dtype=np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def halving_report(
    cal: RungCalibration,
    etas: Sequence[float] = (2, 3),
    modes: Sequence[str] = HALVING_MODES,
    *,
    repeats: int = 500,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """:func:`simulate_halving` for every rung-scored preset of ``cal``, every ``eta`` and every grace
    period (a measured rung before the last) whose ASHA milestones were all measured."""
    rows = []
    for spec, curve in cal.rung_curves().items():
        by_epoch = {int(r.info["rung"]): r for r in curve}
        scores = {e: r.scores for e, r in by_epoch.items()}
        costs = {e: r.cpu_s for e, r in by_epoch.items()}
        epochs = sorted(by_epoch)
        for eta in etas:
            for grace in epochs[:-1]:
                if any(m not in by_epoch for m in asha_milestones(grace, eta, epochs[-1])):
                    continue
                for mode in modes:
                    sim = simulate_halving(
                        cal.truth, scores, costs, eta=eta, grace=grace, mode=mode, repeats=repeats, seed=seed
                    )
                    rows.append({"preset": spec, **sim})
    return rows


def format_halving(rows: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f"{'preset':10s} {'mode':5s} {'eta':>3s} {'grace':>5s} {'rungs':10s} {'cpu_s':>8s} {'share':>6s} "
        f"{'alive':>5s} {'winner':>7s} {'all@end':>7s} {'best':>6s} {'rho_surv':>8s} {'rho_all':>7s}  "
        "top-10% alive after each rung"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        surv = " ".join(f"@{m}:{v:.2f}" for m, v in r["top_survival"].items())
        lines.append(
            f"{str(r['preset'])[:10]:10s} {r['mode']:5s} {r['eta']:3g} {r['grace']:5d} "
            f"{','.join(map(str, r['milestones'])):10s} {r['cpu_s']:8.0f} {r['cost_fraction']:6.2f} "
            f"{r['survivors']:5.1f} {r['winner_truth']:7.2f} {r['train_all_winner_truth']:7.2f} "
            f"{r['best_truth']:6.2f} {r['spearman_survivors']:8.3f} {r['spearman_all']:7.3f}  {surv}"
        )
    return "\n".join(lines)
