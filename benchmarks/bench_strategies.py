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
        [--option rl:lr=0.05 ...] [--variant local-pred=local:order=predictor ...]
        [--warm params:1000:10] [--add]

``--variant KEY=strategy:key=value,...`` adds a row ``KEY`` (a strategy with other options); ``--add``
merges the rows into the existing output (same table, seeds, offset and queries: rows of the same key are
replaced) instead of replacing the file.

Warm start (``--warm PROXY:N:K``, every row of the run, keyed ``KEY+PROXY:N:K``): as ``nas search
--prescreen PROXY:N --train-top K``, each run scores ``N`` distinct candidates drawn with the driver's
pre-screen RNG (on a sparse table: from the table's rows, a tabular objective's candidate pool), and the
``K`` best by proxy score are evaluated first and told to the strategy, then the strategy proposes. They
are trained, so they count as evaluations; scoring costs no evaluation but CPU time, reported per run as
``warm_cpu_s_per_run`` (the proxy's measured CPU-s of the ``N`` candidates). Proxy scores come from a
cache per isomorphism class, ``benchmarks/results/nb201_<proxy>.csv`` (``bench_proxy_cache.py``: the
project's proxy code, weights seeded 0, no images; ``params``: 0.08–0.17 CPU-s an architecture, the build;
part of that cache is its closed form, see there).

The rl and bananas defaults were tuned on ``cifar10`` seeds 1000–1019 (``--seed-offset 1000``); the
reported figures use seeds 0–29, and the ``cifar100`` / ``imagenet16`` columns are held-out tables.
Writes ``benchmarks/results/strategies.json`` after each strategy of each table (a stopped run keeps
what it finished), with the wall seconds of every strategy (all seeds) and per run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from bench_proxy_cache import cache_path, read_cache  # run as a script: benchmarks/ is on the path

from nas.core.registry import SPACES
from nas.search.prescreen import distinct_sample
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
    warm: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[float], dict[str, int]]:
    """Best-so-far after each evaluation, and counts of cached proposals and redraws (not in the table).
    ``classes`` (arch → isomorphism class): evaluations are new classes; None: every proposal counts.
    ``warm``: points evaluated first and told to the strategy (a pre-screen's best, as the driver's seed
    points), then the strategy proposes. ``CONVERGED`` proposals in a row that are not evaluations (cached,
    or outside a sparse table) end the run: it keeps its last best."""
    s = make_strategy(strategy, SPACES["nb201"](), seed=seed, **(options or {}))
    best, out = -math.inf, []
    counts = {"cached": 0, "redraws": 0, "stopped_early": 0}
    evaluated: dict[str, float] = {}
    streak = 0
    proposals = itertools.chain(warm, iter(s.propose, None))  # iter(f, None): until propose() says None
    while len(out) < queries and streak < CONVERGED:
        c = next(proposals, None)
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


@dataclass(frozen=True)
class Warm:
    """``--warm PROXY:N:K``: score ``n`` distinct candidates with ``proxy`` (looked up per isomorphism class
    in ``benchmarks/results/nb201_<proxy>.csv``, written by ``bench_proxy_cache.py``) and evaluate the
    ``k`` best first, as ``nas search --prescreen PROXY:N --train-top K`` does."""

    proxy: str
    n: int
    k: int
    scores: dict[str, tuple[float, float]]  # isomorphism class → (score, CPU-s to score it)

    @property
    def label(self) -> str:
        return f"{self.proxy}:{self.n}:{self.k}"

    @classmethod
    def parse(cls, spec: str, classes: dict[str, str]) -> Warm:
        m = re.fullmatch(r"([a-z_]+):(\d+):(\d+)", spec)
        if m is None or not 1 <= int(m.group(3)) <= int(m.group(2)):
            raise SystemExit(f"--warm {spec!r}: expected PROXY:N:K with 1 <= K <= N (e.g. params:1000:10)")
        path = cache_path(m.group(1))
        if not path.is_file():
            raise SystemExit(
                f"--warm {spec!r}: no {path} (python benchmarks/bench_proxy_cache.py --proxy ...)"
            )
        scores = {classes[a]: v for a, v in read_cache(path).items()}
        missing = set(classes.values()) - set(scores)
        if missing:
            raise SystemExit(f"--warm {spec!r}: {path} lacks {len(missing)} isomorphism classes (unfinished)")
        return cls(m.group(1), int(m.group(2)), int(m.group(3)), scores)

    def points(
        self, seed: int, classes: dict[str, str], pool: list[dict[str, Any]] | None
    ) -> tuple[list[dict[str, Any]], float]:
        """The ``k`` best of the run's ``n`` candidates, best first, and the CPU-s scoring all ``n`` cost.
        Candidates as the driver draws them: its RNG (``prescreen:<seed>``), distinct members of the space,
        or a sample of ``pool`` (a sparse table's rows: a tabular objective's candidate pool)."""
        rng, space = random.Random(f"prescreen:{seed}"), SPACES["nb201"]()
        if pool is None:
            cands = [space.encode(g) for g in distinct_sample(space, self.n, rng)]
        else:
            cands = list(pool) if self.n >= len(pool) else rng.sample(pool, self.n)
        scored = [self.scores[classes[arch_string(c)]] for c in cands]
        order = sorted(range(len(cands)), key=lambda i: -scored[i][0])  # stable: ties keep sampling order
        return [cands[i] for i in order[: self.k]], sum(c for _, c in scored)


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
    rows: list[tuple[str, str, dict[str, Any]]],
    classes: dict[str, str] | None,
    seed_offset: int = 0,
    warm: Warm | None = None,
    save: Callable[[dict], None] | None = None,
) -> dict:
    """One table's results, a row per (key, strategy, options); ``save`` gets the partial result after
    every row (a stop loses little)."""
    top = max(table.values())
    pool = None if len(table) == SPACES["nb201"]().size() else [parse_arch_string(a) for a in table]
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
    for key, name, opts in rows:
        seed_list = range(seed_offset, seed_offset + seeds)
        starts = [warm.points(seed, classes, pool) for seed in seed_list] if warm and classes else None
        t0 = time.perf_counter()
        runs = [
            curve(name, table, seed, queries, classes, opts, starts[i][0] if starts else ())
            for i, seed in enumerate(seed_list)
        ]
        wall = time.perf_counter() - t0
        regrets = {q: [top - c[q - 1] for c, _ in runs] for q in points}
        key = f"{key}+{warm.label}" if warm else key
        res["strategies"][key] = {
            **({"strategy": name} if key != name else {}),
            **({"options": opts} if opts else {}),
            **(
                {"warm": warm.label, "warm_cpu_s_per_run": round(statistics.mean(c for _, c in starts), 1)}
                if warm and starts
                else {}
            ),
            **summarise(regrets),
            "cached_per_evaluation": round(statistics.mean(k["cached"] for _, k in runs) / queries, 3),
            "redraws_per_evaluation": round(statistics.mean(k["redraws"] for _, k in runs) / queries, 2),
            "runs_stopped_early": sum(k["stopped_early"] for _, k in runs),
            "seconds": round(wall, 1),
            "seconds_per_run": round(wall / seeds, 2),
        }
        print(row_line(table_name, key, res["strategies"][key]), flush=True)
        if save is not None:
            save(res)
    return res


def row_line(table: str, key: str, row: dict) -> str:
    """One row as the log prints it: mean regret ± CI at each checkpoint, seconds a run."""
    if "mean_regret" not in row:
        return f"{table:11s} {key:10s} not run"
    m, ci = row["mean_regret"], row["ci95"]
    cells = "  ".join(f"@{q}:{m[q]:.3f}±{ci[q]:.3f}" for q in m)
    warm = f", warm start {row['warm_cpu_s_per_run']} CPU-s/run" if "warm" in row else ""
    return f"{table:11s} {key:10s} {cells}  ({row['seconds_per_run']:.2f} s/run{warm})"


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


def parse_variants(items: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """``KEY=strategy:key=value,...`` items → rows (KEY, strategy, options)."""
    out = []
    for item in items:
        key, eq, spec = item.partition("=")
        if not eq or not key:
            raise SystemExit(f"--variant {item!r}: expected KEY=strategy:key=value[,key=value]")
        name, _, rest = spec.partition(":")
        out.append((key, name, parse_options([spec]).get(name, {}) if rest else {}))
    return out


def merge(old: dict, new: list[dict]) -> list[dict]:
    """``old``'s results with ``new``'s rows added (a row of the same key replaced); a table's rows merge
    when table, seeds, seed offset and queries agree, else the result is appended."""
    out = [dict(r, strategies=dict(r["strategies"])) for r in old.get("results", [])]
    for r in new:
        same = ("table", "seeds", "seed_offset", "queries")
        match = next((o for o in out if all(o.get(k) == r.get(k) for k in same)), None)
        if match is None:
            out.append(r)
        else:
            match["strategies"].update(r["strategies"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--seed-offset", type=int, default=0, help="first seed (tuning: 1000)")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--tables", default="cifar10,cifar100,imagenet16")
    ap.add_argument("--strategies", default=",".join(STRATEGIES), help="'' for --variant rows only")
    ap.add_argument("--count", choices=("evaluations", "proposals"), default="evaluations")
    ap.add_argument("--option", action="append", default=[], help="strategy:key=value[,key=value]")
    ap.add_argument("--variant", action="append", default=[], help="a row KEY=strategy:key=value,...")
    ap.add_argument("--warm", help="PROXY:N:K: every row starts with the pre-screen's K best of N")
    ap.add_argument("--add", action="store_true", help="add the rows to --output's instead of replacing it")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "strategies.json")
    ap.add_argument("--log", action="store_true", help="print --output's rows as the log does, and exit")
    args = ap.parse_args()
    if args.log:
        for r in json.loads(args.output.read_text())["results"]:
            for key, row in r["strategies"].items():
                print(row_line(r["table"], key, row))
        return
    torch.set_num_threads(1)
    classes = None
    if args.count == "evaluations" or args.warm:
        classes = {a: k for k, members in isomorphism_classes().items() for a in members}
    warm = Warm.parse(args.warm, classes) if args.warm else None  # type: ignore[arg-type]
    if args.count == "proposals":
        classes = None
    options = parse_options(args.option)
    rows = [(n, n, options.get(n, {})) for n in args.strategies.split(",") if n]
    rows += parse_variants(args.variant)
    results: list[dict] = []
    base = json.loads(args.output.read_text()) if args.add and args.output.is_file() else {}
    args.output.parent.mkdir(parents=True, exist_ok=True)

    def save(partial: dict) -> None:  # after every row of every table: a stop loses one row
        doc = {
            "benchmark": "strategies",
            "metric": "regret (accuracy points)",
            "results": merge(base, [*results, partial]),
        }
        args.output.write_text(json.dumps(doc, indent=1) + "\n")

    for name in args.tables.split(","):
        table = load(name)
        if table is None:
            continue
        opts = args.seed_offset, warm, save
        results.append(run(name, table, args.seeds, args.queries, rows, classes, *opts))
    print(args.output)


if __name__ == "__main__":
    main()
