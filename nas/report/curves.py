"""Best-so-far curves of one run or several: the best score found after each trial, against the number of
trials or against the device-hours spent (prescreen CPU time first, as the ledger charges it).

:func:`best_so_far` computes the points from trial rows (``nas.search.trials`` columns);
:func:`plot_best_so_far` draws one step line per series on a matplotlib axis (``nas report``,
``nas compare``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas.search.budget import Ledger

X_KINDS = ("trials", "device_hours")
SCORED = ("ok", "stopped")  # statuses whose score counts (as nas.search.report ranks the best)


def prescreen_hours(ledger: Ledger | Mapping[str, Any] | None) -> float:
    """Device-hours a run spent before its trials: the driver's zero-cost pre-screen (CPU time)."""
    if ledger is None:
        return 0.0
    extra = ledger.extra if isinstance(ledger, Ledger) else (ledger.get("extra") or {})
    return max(0.0, float(extra.get("prescreen_cpu_s", 0.0) or 0.0)) / 3600.0


def best_so_far(
    rows: Sequence[Mapping[str, Any]],
    x: str = "trials",
    ledger: Ledger | Mapping[str, Any] | None = None,
) -> list[tuple[float, float]]:
    """``(x, best score so far)`` after each trial in trial-id order, from the first scored trial on.

    ``x="trials"``: the number of evaluations so far (trials that ran, failed ones included, as the
    ``NNNtrials`` budget counts; a duplicate answered from the cache does not move x).
    ``x="device_hours"``: the device-hours spent so far, the rows' ``device_hours`` summed, starting at the
    prescreen's CPU-hours from ``ledger`` (``ledger.json`` as a dict, or a
    :class:`~nas.search.budget.Ledger`). Failed trials move x, not the best.
    """
    if x not in X_KINDS:
        raise ValueError(f"x must be one of {', '.join(X_KINDS)}, got {x!r}")
    spent = prescreen_hours(ledger) if x == "device_hours" else 0.0
    best: float | None = None
    out: list[tuple[float, float]] = []
    n = 0
    for r in sorted(rows, key=lambda r: r["trial_id"]):
        if r.get("cached"):
            continue  # a duplicate: no evaluation, no cost, nothing new
        n += 1
        spent += float(r.get("device_hours") or 0.0)
        score = r.get("score")
        if r.get("status") in SCORED and score is not None and (best is None or score > best):
            best = float(score)
        if best is not None:
            out.append((float(n) if x == "trials" else spent, best))
    return out


def plot_best_so_far(
    ax: Any,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    regret_of: float | None = None,
    xlabel: str,
    shade: float | None = None,
    ylabel: str = "best score so far",
) -> None:
    """One step line per series (``name → best_so_far(...)`` points) on the matplotlib axis ``ax``.

    ``regret_of``: plot the regret ``regret_of - best`` on a log axis instead of the score (the optimum of
    a table, say). ``shade``: an x span ``[0, shade]`` shaded and labelled "prescreen" (device-hours spent
    before the first trial). An empty series is listed in the legend as "(no scored trial)".
    """
    if shade:
        ax.axvspan(0.0, shade, color="#cccccc", alpha=0.5, lw=0, label="prescreen (CPU)")
    for name, points in series.items():
        if not points:
            ax.plot([], [], label=f"{name} (no scored trial)")
            continue
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        if regret_of is not None:
            # a regret of 0 (the optimum found) cannot sit on a log axis: clip to a visible floor
            ys = [max(regret_of - y, 1e-6) for y in ys]
        ax.step(xs, ys, where="post", label=name, lw=1.6)
        ax.plot(xs[-1:], ys[-1:], "o", color=ax.lines[-1].get_color(), ms=4)
    if regret_of is not None:
        ax.set_yscale("log")
        ylabel = f"regret ({regret_of:.4g} − best)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if series or shade:
        ax.legend(fontsize=8, loc="lower right" if regret_of is None else "upper right")
