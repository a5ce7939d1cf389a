"""Strategy efficiency on tabular NAS-Bench-201 ground truth: regret vs number of evaluations.

Regret = best accuracy in the table − best accuracy found so far (percentage points), mean and 95 % CI
over seeds, for every strategy driven ask/tell as ``nas search`` drives it. An **evaluation** is a proposal
of an isomorphism class not seen before (``search_spaces.nb201.isomorphism_classes``); a proposal of a
class already evaluated is answered from the cache — the strategy is told the earlier score — and does
not count (``--count proposals`` counts every proposal, the old way). A run that proposes 2,000 cached
points in a row has converged and keeps its last best.

Tables:

* ``cifar10`` — ``/work/shared/data/nb201-cifar10-15625.csv``: the real CIFAR-10 200-epoch test accuracy of
  all 15,625 architectures (optimum 94.3733): the complete landscape.
* ``cifar100``, ``imagenet16`` — the calibration file's other columns: only 1,500 of the 15,625 known, so
  strategies still propose in the full space and a proposal that is not in the table is told to the
  strategy as a failed trial and redrawn, not counted (sparse: regret against the best of those 1,500).
* ``calibration`` — the same for the calibration file's CIFAR-10 column; ``synthetic`` — the smooth
  synthetic accuracy of ``search_spaces/nb201_synthetic.py`` (the tests' table).

    python benchmarks/bench_strategies.py [--seeds 30] [--queries 100] [--tables cifar10,cifar100]
        [--strategies random,evolution,local,bananas,tpe,rl]

Writes ``benchmarks/results/strategies.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from nas.core.registry import SPACES
from nas.search.strategies import make_strategy
from nas.stats import mean_ci
from nas.truth import load_truth
from search_spaces.nb201 import arch_string, isomorphism_classes, parse_arch_string
from search_spaces.nb201_synthetic import synthetic_nb201_table

ROOT = Path(__file__).resolve().parents[1]

DATA = Path("/work/shared/data")
FULL = DATA / "nb201-cifar10-15625.csv"
CALIBRATION = DATA / "nb201-calibration-1500.csv"
COLUMNS = {
    "cifar10": (FULL, "cifar10_test_acc_200ep"),
    "calibration": (CALIBRATION, "cifar10_test_acc_200ep"),
    "cifar100": (CALIBRATION, "cifar100_test_acc_200ep"),
    "imagenet16": (CALIBRATION, "imagenet16_120_test_acc_200ep"),
}
STRATEGIES = ("random", "evolution", "local", "bananas", "tpe", "rl")
CHECKPOINTS = (10, 25, 50, 100, 150, 200, 300, 500)
CONVERGED = 2000  # cached proposals in a row that end a run


def load_table(path: Path, column: str) -> dict[str, float]:
    """A ground-truth column keyed by the canonical NB201 arch string (as the strategies propose)."""
    return {arch_string(parse_arch_string(a)): acc for a, acc in load_truth(path, target_column=column)}


def curve(
    strategy: str,
    table: dict[str, float],
    seed: int,
    queries: int,
    classes: dict[str, str] | None,
    max_redraws: int = 200_000,
) -> tuple[list[float], dict[str, int]]:
    """Best-so-far after each evaluation, and counts of cached proposals and redraws (not in the table).
    ``classes`` (arch → isomorphism class): evaluations are new classes; None: every proposal counts."""
    s = make_strategy(strategy, SPACES["nb201"](), seed=seed)
    best, out = -math.inf, []
    counts = {"cached": 0, "redraws": 0}
    evaluated: dict[str, float] = {}
    streak = 0
    while len(out) < queries:
        c = s.propose()
        if c is None:
            break
        a = arch_string(c)
        v = table.get(a)
        if v is None:  # not in the (partial) table: a failed trial, redrawn
            s.observe(c, None)
            counts["redraws"] += 1
            if counts["redraws"] > max_redraws:
                raise RuntimeError(f"{strategy}: more than {max_redraws} proposals outside the table")
            continue
        cls = classes[a] if classes is not None else None
        if cls is not None and cls in evaluated:  # a duplicate: answered from the cache, not counted
            s.observe(c, evaluated[cls])
            counts["cached"] += 1
            streak += 1
            if streak >= CONVERGED:
                break
            continue
        streak = 0
        if cls is not None:
            evaluated[cls] = v
        s.observe(c, v)
        best = max(best, v)
        out.append(best)
    out += [best] * (queries - len(out))  # converged (or the space is exhausted): the best stays
    return out, counts


def random_expectation(table: dict[str, float], n: int) -> float:
    """Exact expected regret of ``n`` independent uniform draws from ``table`` (with replacement)."""
    v = sorted(table.values())
    m, top = len(v), v[-1]
    # P(max <= v[i]) = ((i + 1) / m) ** n; E[max] = sum of v[i] * P(max == v[i])
    e = sum(x * (((i + 1) / m) ** n - (i / m) ** n) for i, x in enumerate(v))
    return top - e


def summarise(regrets: dict[int, list[float]]) -> dict[str, dict]:
    out: dict[str, dict] = {"mean_regret": {}, "ci95": {}, "found_best_fraction": {}}
    for q, r in regrets.items():
        ci = mean_ci(r)
        out["mean_regret"][q] = round(ci["mean"], 4)
        out["ci95"][q] = round(ci["ci95"] or 0.0, 4)
        out["found_best_fraction"][q] = round(sum(x == 0 for x in r) / len(r), 3)
    return out


def run(
    table_name: str,
    table: dict[str, float],
    seeds: int,
    queries: int,
    strategies: list[str],
    classes: dict[str, str] | None,
) -> dict:
    top = max(table.values())
    points = [q for q in CHECKPOINTS if q <= queries]
    res = {
        "table": table_name,
        "archs": len(table),
        "best_in_table": top,
        "seeds": seeds,
        "queries": queries,
        "count": "evaluations (new isomorphism classes)" if classes is not None else "proposals",
        "random_iid_expected_regret": {q: round(random_expectation(table, q), 4) for q in points},
        "strategies": {},
    }
    for name in strategies:
        t0 = time.perf_counter()
        runs = [curve(name, table, seed, queries, classes) for seed in range(seeds)]
        regrets = {q: [top - c[q - 1] for c, _ in runs] for q in points}
        res["strategies"][name] = {
            **summarise(regrets),
            "cached_per_evaluation": round(statistics.mean(k["cached"] for _, k in runs) / queries, 3),
            "redraws_per_evaluation": round(statistics.mean(k["redraws"] for _, k in runs) / queries, 2),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        m, ci = res["strategies"][name]["mean_regret"], res["strategies"][name]["ci95"]
        print(
            f"{table_name:11s} {name:10s} " + "  ".join(f"@{q}:{m[q]:.3f}±{ci[q]:.3f}" for q in points),
            flush=True,
        )
    return res


def load(name: str) -> dict[str, float] | None:
    if name == "synthetic":
        return synthetic_nb201_table(0)
    if name not in COLUMNS:
        raise SystemExit(f"unknown table {name!r} (choose from synthetic, {', '.join(COLUMNS)})")
    path, column = COLUMNS[name]
    if not path.is_file():
        print(f"skipping {name}: {path} not found")
        return None
    return load_table(path, column)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--tables", default="cifar10,cifar100,imagenet16")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--count", choices=("evaluations", "proposals"), default="evaluations")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "strategies.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    classes = None
    if args.count == "evaluations":
        classes = {a: k for k, members in isomorphism_classes().items() for a in members}
    results = []
    for name in args.tables.split(","):
        table = load(name)
        if table is not None:
            results.append(run(name, table, args.seeds, args.queries, args.strategies.split(","), classes))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "strategies", "metric": "regret (accuracy points)", "results": results}
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    print(args.output)


if __name__ == "__main__":
    main()
