"""What fsync costs a search: a synthetic inline search (random strategy, nb201, no sleep) with the run
files' fsyncs on (``nas.search.durable.FSYNC``: every appended trial row, every renamed state file and its
directory) and off, alternating A B A B … in one process so drift of the shared machine hits both alike.

    python benchmarks/bench_durable.py [--trials 500] [--repeats 3]

Prints and writes ``benchmarks/results/durable.json``: the median wall time per trial of each and the
overhead of fsync per trial.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from nas.search import SearchConfig, durable, run_search

ROOT = Path(__file__).resolve().parents[1]


def _once(trials: int, runs: Path, name: str, fsync: bool) -> float:
    durable.FSYNC = fsync
    cfg = SearchConfig(
        space="nb201", strategy="random", budget=f"{trials}trials", executor="inline",
        objective={"kind": "synthetic"}, runs_dir=str(runs), name=name, quiet=True, seed=1,
    )  # fmt: skip
    t0 = time.perf_counter()
    run_search(cfg)
    return (time.perf_counter() - t0) / trials


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    times: dict[str, list[float]] = {"fsync": [], "no_fsync": []}
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:  # on the project's disk, not a tmpfs
        _once(20, Path(tmp), "warmup", True)
        for i in range(args.repeats):
            for mode in ("no_fsync", "fsync"):
                times[mode].append(_once(args.trials, Path(tmp), f"{mode}-{i}", mode == "fsync"))
    durable.FSYNC = True
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {
        "trials": args.trials,
        "repeats": args.repeats,
        "s_per_trial": {k: round(v, 5) for k, v in med.items()},
        "all_s_per_trial": {k: [round(x, 5) for x in v] for k, v in times.items()},
        "fsync_overhead_ms_per_trial": round(1000 * (med["fsync"] - med["no_fsync"]), 3),
        "fsync_overhead_pct": round(100 * (med["fsync"] / med["no_fsync"] - 1), 1),
        "machine": platform.platform(),
    }
    print(json.dumps(out, indent=1))
    path = ROOT / "benchmarks" / "results" / "durable.json"
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
