"""Strategy efficiency on tabular NAS-Bench-201 ground truth: regret vs number of queries.

Regret = best accuracy in the table − best accuracy found so far (percentage points), mean (and standard
error) over seeds, for random, evolution, rl and tpe driven ask/tell exactly as ``nas search`` drives them
(every proposal is one query; a repeated candidate is a query answered from the cache).

Two tables:

* ``synthetic`` — all 15,625 NB201 arch strings with the smooth synthetic accuracy of
  ``search_spaces/nb201_synthetic.py`` (the same table the tests use).
* ``calibration`` — ``/work/shared/data/nb201-calibration-1500.csv``: the real CIFAR-10 200-epoch test
  accuracies of a random 1,500 of the 15,625 architectures. Strategies still propose in the full space; a
  proposal that is not in the table is told to the strategy as a failed trial and redrawn, and does not
  count as a query (so every query is a real, known architecture).

    python benchmarks/bench_strategies.py [--seeds 20] [--queries 200] [--tables synthetic,calibration]

Writes ``benchmarks/results/strategies.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

from nas.core.registry import SPACES
from nas.search.strategies import make_strategy
from nas.truth import load_truth
from search_spaces.nb201 import arch_string, parse_arch_string
from search_spaces.nb201_synthetic import synthetic_nb201_table

ROOT = Path(__file__).resolve().parents[1]

CALIBRATION = Path("/work/shared/data/nb201-calibration-1500.csv")
STRATEGIES = ("random", "evolution", "rl", "tpe")
CHECKPOINTS = (10, 25, 50, 100, 150, 200, 300, 500)


def load_calibration(path: Path) -> dict[str, float]:
    """The ground-truth table keyed by the canonical NB201 arch string (as the strategies propose)."""
    return {arch_string(parse_arch_string(a)): acc for a, acc in load_truth(path)}


def curve(
    strategy: str, table: dict[str, float], seed: int, queries: int, max_redraws: int = 200_000
) -> tuple[list[float], int]:
    s = make_strategy(strategy, SPACES["nb201"](), seed=seed)
    best, out, redraws = -math.inf, [], 0
    while len(out) < queries:
        c = s.propose()
        v = table.get(arch_string(c))
        if v is None:  # not in the (partial) table: a failed trial, redrawn
            s.observe(c, None)
            redraws += 1
            if redraws > max_redraws:
                raise RuntimeError(f"{strategy}: more than {max_redraws} proposals outside the table")
            continue
        s.observe(c, v)
        best = max(best, v)
        out.append(best)
    return out, redraws


def run(table_name: str, table: dict[str, float], seeds: int, queries: int) -> dict:
    top = max(table.values())
    points = [q for q in CHECKPOINTS if q <= queries]
    res = {
        "table": table_name,
        "archs": len(table),
        "best_in_table": top,
        "seeds": seeds,
        "queries": queries,
        "strategies": {},
    }
    for name in STRATEGIES:
        t0 = time.perf_counter()
        runs = [curve(name, table, seed, queries) for seed in range(seeds)]
        curves = [c for c, _ in runs]
        regrets = {q: [top - c[q - 1] for c in curves] for q in points}
        res["strategies"][name] = {
            "mean_regret": {q: round(statistics.mean(r), 4) for q, r in regrets.items()},
            "stderr": {q: round(statistics.stdev(r) / math.sqrt(len(r)), 4) for q, r in regrets.items()},
            "found_best_fraction": {q: round(sum(x == 0 for x in r) / len(r), 3) for q, r in regrets.items()},
            "redraws_per_query": round(statistics.mean(r for _, r in runs) / queries, 2),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        m = res["strategies"][name]["mean_regret"]
        print(f"{table_name:12s} {name:10s} " + "  ".join(f"@{q}:{m[q]:.3f}" for q in points), flush=True)
    rnd = res["strategies"]["random"]["mean_regret"]
    res["vs_random"] = {
        name: {q: round(rnd[q] - v["mean_regret"][q], 4) for q in points}
        for name, v in res["strategies"].items()
        if name != "random"
    }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--tables", default="synthetic,calibration")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "strategies.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    results = []
    for name in args.tables.split(","):
        if name == "synthetic":
            table = synthetic_nb201_table(0)
        elif name == "calibration":
            if not CALIBRATION.is_file():
                print(f"skipping calibration: {CALIBRATION} not found")
                continue
            table = load_calibration(CALIBRATION)
        else:
            raise SystemExit(f"unknown table {name!r}")
        results.append(run(name, table, args.seeds, args.queries))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {"benchmark": "strategies", "metric": "regret (accuracy points)", "results": results}, indent=1
        )
        + "\n"
    )
    print(args.output)


if __name__ == "__main__":
    main()
