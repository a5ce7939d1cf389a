"""The selection stage of a search: the pick, made at escalating fidelity.

A proxy that ranks a random sample well is nearly blind among the best candidates, where the pick is made
(``benchmarks/results/CALIBRATION.md``, pick regret). So when the search phase ends, the ``top`` candidates
by proxy score (for a run with a cost metric: the best of its Pareto front) are re-evaluated,
successive-halving style: each :class:`Rung` evaluates the survivors ``seeds`` times at its fidelity (the
search's own preset, or a stronger one), ranks them by the mean score and keeps the best ``1/eta`` of them,
until one remains, the rungs are done or the budget's reserve is spent. Every re-evaluation is a row of
the trials table (source ``select``, its rung and fidelity in ``metrics["selection"]``); the pick is the
best candidate of the highest rung completed, and ``best.json`` records it with the evidence (each
candidate's scores per rung and seed).

:meth:`Selection.progress` derives everything from the table's rows, so a resumed run continues the
selection exactly where it was. Rows at the search's fidelity count: a candidate's search trial is its
first seed at rung 1 when that rung keeps the search's preset.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nas.search.budget import Budget, Ledger
from nas.search.objectives.base import Job
from nas.search.selection_plan import Rung, SelectionPlan, cost_ratio
from nas.search.trials import SELECT, pareto_front, search_rows
from nas.stats import mean_ci

# ----------------------------------------------------------------------------------------- progress


@dataclass
class RungResult:
    """One rung: each candidate's scores (one per seed), in rank order, and the survivors it kept."""

    index: int
    label: str
    fidelity: str
    scores: dict[str, list[float]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    complete: bool = False


@dataclass
class Progress:
    """Where the selection stands: the rungs so far (the last one possibly incomplete), the evaluations
    it still needs at the current rung (``(key, rung index)``, one per seed), and whether it is done."""

    entrants: list[str]
    rungs: list[RungResult]
    needs: list[tuple[str, int]]
    done: bool

    @property
    def completed(self) -> list[RungResult]:
        return [r for r in self.rungs if r.complete]

    started: bool = False  # the current rung has rows of its own (part of its cost is spent)


@dataclass
class Need:
    """The selection's next evaluation: ``row``'s candidate at ``rung`` (index ``index``, evaluating
    ``size`` survivors)."""

    row: Mapping[str, Any]
    rung: Rung
    index: int
    size: int  # survivors the rung evaluates

    def job(self, trial_id: int, seed: int, cpus: float, gpus: float) -> Job:
        r = self.row
        return Job(
            trial_id=trial_id, key=r["key"], genotype=r["genotype"], choices=r["choices"], arch=r["arch"],
            source=SELECT, seed=seed, cpus=cpus, gpus=gpus,
            fidelity={"preset": self.rung.preset} if self.rung.preset else None,
            select={"rung": self.index + 1, "fidelity": self.rung.fidelity, "size": self.size},
        )  # fmt: skip


class Selection:
    """The selection of one run (see the module docstring); ``base`` names the search's fidelity."""

    def __init__(self, plan: SelectionPlan, base: str, cost: str | None, max_retries: int) -> None:
        self.plan = plan
        self.base = base
        self.cost = cost
        self.max_attempts = max_retries + 1

    def search_trials(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """Each candidate's first successful trial of the search phase, by key."""
        out: dict[str, Mapping[str, Any]] = {}
        for r in search_rows(rows):
            if r["status"] == "ok" and not r["cached"] and r["score"] is not None and r["key"]:
                out.setdefault(r["key"], r)
        return out

    def entrants(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """The keys of the ``top`` candidates by search score (by the Pareto front first with a cost)."""
        found = self.search_trials(rows)
        ranked = sorted(found.values(), key=lambda r: (-r["score"], r["trial_id"]))
        if self.cost:
            front = {p["key"] for p in pareto_front(list(found.values()), self.cost)}
            ranked = [r for r in ranked if r["key"] in front] + [r for r in ranked if r["key"] not in front]
        return [r["key"] for r in ranked[: self.plan.top]]

    def progress(
        self, rows: Sequence[Mapping[str, Any]], inflight: Collection[tuple[str, int]],
        sizes: Mapping[int, int] | None = None,
    ) -> Progress:  # fmt: skip
        """The selection's state from the table's ``rows``, the ``(key, rung)`` evaluations in flight and
        the number of survivors each rung evaluates (``sizes``, by rung index; a rung's rows record theirs;
        unknown for a rung not started: :attr:`Progress.needs` then holds all its survivors')."""
        found = self.search_trials(rows)
        entrants = self.entrants(rows)
        outcomes = _outcomes(rows, found)
        sizes = {**_sizes(rows), **(sizes or {})}
        survivors, done, rungs, needs = entrants, len(entrants) < 2, [], []
        for i, rung in enumerate(self.plan.rungs):
            if done:
                break
            res = RungResult(i + 1, rung.label(self.base), rung.fidelity)
            rungs.append(res)
            busy = [k for k, r in inflight if r == i]
            survivors = survivors[: sizes.get(i, len(survivors))]
            for k in survivors:
                ok, errors, transient = outcomes.get((k, rung.fidelity), ([], 0, 0))
                if errors or (transient >= self.max_attempts and len(ok) < rung.seeds):
                    res.failed.append(k)
                    continue
                res.scores[k] = ok[: rung.seeds]
                needs += [(k, i)] * (rung.seeds - len(ok) - busy.count(k))
            if any(len(s) < rung.seeds for s in res.scores.values()):
                started = busy or any(_rung_of(r) == i + 1 for r in rows)
                return Progress(entrants, rungs, needs, False, bool(started))
            res.complete = True
            ranked = sorted(res.scores, key=lambda k: (-_mean(res.scores[k]), entrants.index(k)))
            res.scores = {k: res.scores[k] for k in ranked}
            res.kept = ranked[: max(1, math.ceil(len(ranked) / self.plan.eta))]
            survivors = res.kept
            done = len(survivors) <= 1
        return Progress(entrants, rungs, [], True)

    def next_need(self, rows: Sequence[Mapping[str, Any]], progress: Progress) -> Need:
        """The first of ``progress.needs`` (there must be one; its rung's size is known)."""
        key, index = progress.needs[0]
        res = progress.rungs[-1]
        return Need(
            self.search_trials(rows)[key], self.plan.rungs[index], index, len(res.scores) + len(res.failed)
        )

    def rung_size(
        self, rows: Sequence[Mapping[str, Any]], progress: Progress, budget: Budget | None, ledger: Ledger,
        config: Any,
    ) -> int | None:  # fmt: skip
        """How many of the current (not started) rung's survivors, best first, it evaluates: as many as
        fit the rest of the budget at their expected cost, None when fewer than two do."""
        found, rung = self.search_trials(rows), self.plan.rungs[progress.needs[0][1]]
        overrides = getattr(config.objective, "train_overrides", {})
        count = Counter(k for k, _ in progress.needs)  # each survivor's evaluations, best survivor first
        jobs = [[self.expected_wall(rows, found[k], rung.preset, overrides)] * n for k, n in count.items()]
        fit = [
            m for m in range(2, len(jobs) + 1)
            if budget is None
            or budget.fits(ledger, sum(jobs[:m], []), config.cpus_per_trial, config.gpus_per_trial)
        ]  # fmt: skip
        return fit[-1] if fit else None

    def first_rung_walls(
        self, rows: Sequence[Mapping[str, Any]], overrides: Mapping[str, Any]
    ) -> list[float]:
        """Expected walls of the first rung's evaluations at its smallest size (the two best candidates so
        far; none with fewer): what the search phase must leave of the budget."""
        found, keys, rung = self.search_trials(rows), self.entrants(rows)[:2], self.plan.rungs[0]
        if len(keys) < 2:
            return []
        extra = rung.seeds - (rung.preset is None)  # at the search's preset its trial is the first seed
        return [
            self.expected_wall(rows, found[k], rung.preset, overrides) for k in keys for _ in range(extra)
        ]

    def expected_wall(
        self, rows: Sequence[Mapping[str, Any]], row: Mapping[str, Any], preset: str | None,
        overrides: Mapping[str, Any],
    ) -> float:  # fmt: skip
        """Expected wall seconds of a re-evaluation of ``row`` at ``preset``: the mean of those measured at
        that fidelity so far, else the candidate's own search trial scaled by :func:`cost_ratio`."""
        done = [
            float(r["wall_s"] or 0.0) for r in rows
            if r.get("source") == SELECT and r["status"] == "ok" and _fidelity(r) == (preset or "")
        ]  # fmt: skip
        if done:
            return sum(done) / len(done)
        wall = float(row["wall_s"] or 0.0)
        return wall * cost_ratio(preset, self.base, overrides) if preset else wall

    def pick(self, progress: Progress) -> str | None:
        """The key picked: the best of the highest rung completed (the search's best without one)."""
        for res in reversed(progress.completed):
            if res.kept:
                return res.kept[0]
        return progress.entrants[0] if progress.entrants else None

    def evidence(self, rows: Sequence[Mapping[str, Any]], progress: Progress, status: str) -> dict[str, Any]:
        """``best.json``'s ``selection``: the plan, each rung's scores per candidate and seed, the pick."""
        found = self.search_trials(rows)
        pick = self.pick(progress)
        done = progress.completed
        return {
            "plan": self.plan.text,
            "status": status,
            "entrants": [_who(found[k]) for k in progress.entrants],
            "rungs": [
                {
                    "rung": r.index,
                    "fidelity": r.label,
                    "complete": r.complete,
                    "candidates": [
                        {**_who(found[k]), "scores": s, **_interval(s), "kept": k in r.kept}
                        for k, s in r.scores.items()
                    ],
                    "failed": [_who(found[k]) for k in r.failed],
                }
                for r in progress.rungs
            ],
            "pick": None if pick is None else _who(found[pick]),
            "pick_fidelity": done[-1].label if done else f"{self.base}×1 (the search's own score)",
            "pick_rung": done[-1].index if done else 0,
        }


def _outcomes(
    rows: Sequence[Mapping[str, Any]], found: Mapping[str, Mapping[str, Any]]
) -> dict[tuple[str, str], tuple[list[float], int, int]]:
    """(key, fidelity) → (scores of the successful evaluations, errors, transient failures); a
    candidate's search trial is its first evaluation at the search's fidelity."""
    out: dict[tuple[str, str], tuple[list[float], int, int]] = {}
    for k, r in found.items():
        out[(k, "")] = ([float(r["score"])], 0, 0)
    for r in rows:
        if r.get("source") != SELECT or r.get("cached"):
            continue
        fid = _fidelity(r)
        ok, errors, transient = out.get((r["key"], fid), ([], 0, 0))
        if r["status"] == "ok" and r["score"] is not None:
            ok = [*ok, float(r["score"])]
        elif r["status"] == "transient":
            transient += 1
        else:
            errors += 1
        out[(r["key"], fid)] = (ok, errors, transient)
    return out


def _fidelity(row: Mapping[str, Any]) -> str:
    return str(((row.get("metrics") or {}).get("selection") or {}).get("fidelity") or "")


def _sizes(rows: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Rung index → the survivors it evaluates, as its rows record it."""
    out = {}
    for r in rows:
        sel = (r.get("metrics") or {}).get("selection") if r.get("source") == SELECT else None
        if sel and sel.get("size") and sel.get("rung"):
            out.setdefault(int(sel["rung"]) - 1, int(sel["size"]))
    return out


def _rung_of(row: Mapping[str, Any]) -> int | None:
    """The rung of a selection row (None for the search's rows)."""
    if row.get("source") != SELECT:
        return None
    return ((row.get("metrics") or {}).get("selection") or {}).get("rung")


def _mean(v: Sequence[float]) -> float:
    return sum(v) / len(v)


def _interval(scores: Sequence[float]) -> dict[str, Any]:
    m = mean_ci(scores)
    return {"mean": m["mean"], "ci95": m["ci95"]}


def _who(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("trial_id", "key", "arch", "name", "score")}


__all__ = ["Need", "Progress", "RungResult", "Selection"]
