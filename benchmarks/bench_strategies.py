"""Strategy efficiency on tabular NAS-Bench-201 ground truth: regret vs number of evaluations.

Regret = best accuracy in the table − best accuracy found so far (percentage points), mean and 95 % CI
over seeds, for every strategy driven ask/tell as ``nas search`` drives it. An **evaluation** is a proposal
of an isomorphism class not seen before (``search_spaces.nb201.isomorphism_classes``); a proposal of a
class already evaluated is answered from the cache — the strategy is told the earlier score — and does
not count (``--count proposals`` counts every proposal, the old way). A run that proposes 2,000 cached
points (or points outside a sparse table) in a row has converged and keeps its last best.

Tables:

* ``cifar10`` — ``/work/shared/data/nb201-cifar10-15625.csv``: the real CIFAR-10 200-epoch test accuracy of
  all 15,625 architectures (optimum 94.3733): the complete landscape.
* ``cifar100``, ``imagenet16`` — the calibration file's other columns: only 1,500 of the 15,625 known, so
  strategies still propose in the full space and a proposal that is not in the table is told to the
  strategy as a failed trial and redrawn, not counted (sparse: regret against the best of those 1,500;
  a strategy that keeps proposing outside the table stops after 2,000 such proposals in a row).
* ``calibration`` — the same for the calibration file's CIFAR-10 column; ``synthetic`` — the smooth
  synthetic accuracy of ``search_spaces/nb201_synthetic.py`` (the tests' table).

    python benchmarks/bench_strategies.py [--seeds 30] [--seed-offset 0] [--queries 100]
        [--tables cifar10,cifar100,imagenet16] [--strategies random,evolution,local,bananas,tpe,rl]
        [--option rl:lr=0.05 ...]

The rl and bananas defaults were tuned on ``cifar10`` seeds 1000–1019 (``--seed-offset 1000``); the
reported figures use seeds 0–29, and the ``cifar100`` / ``imagenet16`` columns are held-out tables.
Writes ``benchmarks/results/strategies.json`` after each strategy of each table (a stopped run keeps
what it finished), with the wall seconds of every strategy (all seeds) and per run.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
CONVERGED = 2000  # proposals in a row that are not evaluations (cached or not in the table): a run ends


def load_table(path: Path, column: str) -> dict[str, float]:
    """A ground-truth column keyed by the canonical NB201 arch string (as the strategies propose)."""
    return {arch_string(parse_arch_string(a)): acc for a, acc in load_truth(path, target_column=column)}


def curve(
    strategy: str,
    table: dict[str, float],
    seed: int,
    queries: int,
    classes: dict[str, str] | None,
    options: dict[str, Any] | None = None,
) -> tuple[list[float], dict[str, int]]:
    """Best-so-far after each evaluation, and counts of cached proposals and redraws (not in the table).
    ``classes`` (arch → isomorphism class): evaluations are new classes; None: every proposal counts.
    ``CONVERGED`` proposals in a row that are not evaluations (cached, or outside a sparse table) end the
    run: it keeps its last best."""
    s = make_strategy(strategy, SPACES["nb201"](), seed=seed, **(options or {}))
    best, out = -math.inf, []
    counts = {"cached": 0, "redraws": 0, "stopped_early": 0}
    evaluated: dict[str, float] = {}
    streak = 0
    while len(out) < queries and streak < CONVERGED:
        c = s.propose()
        if c is None:
            break
        a = arch_string(c)
        v = table.get(a)
        cls = classes[a] if classes is not None and v is not None else None
        if v is None:  # not in the (sparse) table: a failed trial, redrawn
            s.observe(c, None)
            counts["redraws"] += 1
            streak += 1
        elif cls is not None and cls in evaluated:  # a duplicate: answered from the cache, not counted
            s.observe(c, evaluated[cls])
            counts["cached"] += 1
            streak += 1
        else:
            streak = 0
            if cls is not None:
                evaluated[cls] = v
            s.observe(c, v)
            best = max(best, v)
            out.append(best)
    counts["stopped_early"] = int(len(out) < queries)
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
    seed_offset: int = 0,
    options: dict[str, dict[str, Any]] | None = None,
    save: Callable[[dict], None] | None = None,
) -> dict:
    """One table's results; ``save`` gets the partial result after every strategy (a stop loses little)."""
    top = max(table.values())
    points = [q for q in CHECKPOINTS if q <= queries]
    res = {
        "table": table_name,
        "archs": len(table),
        "best_in_table": top,
        "seeds": seeds,
        "seed_offset": seed_offset,
        "queries": queries,
        "count": "evaluations (new isomorphism classes)" if classes is not None else "proposals",
        "random_iid_expected_regret": {q: round(random_expectation(table, q), 4) for q in points},
        "strategies": {},
    }
    for name in strategies:
        opts = (options or {}).get(name, {})
        t0 = time.perf_counter()
        seed_list = range(seed_offset, seed_offset + seeds)
        runs = [curve(name, table, seed, queries, classes, opts) for seed in seed_list]
        wall = time.perf_counter() - t0
        regrets = {q: [top - c[q - 1] for c, _ in runs] for q in points}
        res["strategies"][name] = {
            **({"options": opts} if opts else {}),
            **summarise(regrets),
            "cached_per_evaluation": round(statistics.mean(k["cached"] for _, k in runs) / queries, 3),
            "redraws_per_evaluation": round(statistics.mean(k["redraws"] for _, k in runs) / queries, 2),
            "runs_stopped_early": sum(k["stopped_early"] for _, k in runs),
            "seconds": round(wall, 1),
            "seconds_per_run": round(wall / seeds, 2),
        }
        m, ci = res["strategies"][name]["mean_regret"], res["strategies"][name]["ci95"]
        print(
            f"{table_name:11s} {name:10s} "
            + "  ".join(f"@{q}:{m[q]:.3f}±{ci[q]:.3f}" for q in points)
            + f"  ({wall / seeds:.2f} s/run)",
            flush=True,
        )
        if save is not None:
            save(res)
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


def parse_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``strategy:key=value,key=value`` items → {strategy: {key: value}} (values as JSON where they parse,
    else strings; the strategy checks them)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, sep, rest = item.partition(":")
        if not sep or not rest:
            raise SystemExit(f"--option {item!r}: expected strategy:key=value[,key=value]")
        for pair in rest.split(","):
            k, eq, v = pair.partition("=")
            if not eq:
                raise SystemExit(f"--option {item!r}: {pair!r} is not key=value")
            try:
                out.setdefault(name, {})[k] = json.loads(v)
            except json.JSONDecodeError:
                out.setdefault(name, {})[k] = v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--seed-offset", type=int, default=0, help="first seed (tuning: 1000)")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--tables", default="cifar10,cifar100,imagenet16")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--count", choices=("evaluations", "proposals"), default="evaluations")
    ap.add_argument("--option", action="append", default=[], help="strategy:key=value[,key=value]")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "strategies.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    classes = None
    if args.count == "evaluations":
        classes = {a: k for k, members in isomorphism_classes().items() for a in members}
    options = parse_options(args.option)
    strategies = args.strategies.split(",")
    results = []
    args.output.parent.mkdir(parents=True, exist_ok=True)

    def save(partial: dict) -> None:  # after every strategy of every table: a stop loses one strategy
        doc = {
            "benchmark": "strategies",
            "metric": "regret (accuracy points)",
            "results": [*results, partial],
        }
        args.output.write_text(json.dumps(doc, indent=1) + "\n")

    for name in args.tables.split(","):
        table = load(name)
        if table is None:
            continue
        opts = args.seed_offset, options, save
        results.append(run(name, table, args.seeds, args.queries, strategies, classes, *opts))
    print(args.output)


if __name__ == "__main__":
    main()
