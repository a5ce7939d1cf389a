"""``nas search --prescreen`` end to end on the NAS-Bench-201 ground-truth table: best architecture found
per CPU-hour, pre-screened vs training every candidate.

Both arms are real ``nas search`` runs (inline executor, random strategy, one CPU per trial) on the
1,500-architecture table (``--objective table``): a looked-up candidate is charged ``--train-cost``
CPU-seconds as if trained with the ``rank`` preset (``--table-cost-s``, 48 s measured), and returns its
200-epoch accuracy — favourable to training everything, since a real proxy training is itself noisy. The
pre-screen arm first scores ``N`` table members with synflow on real CIFAR-10 images (its measured CPU
time is charged to the budget), trains the best ``K``, then lets the random strategy continue.

For each budget the benchmark reports the mean (over seeds) of the best ground-truth accuracy among the
trials finished within that many CPU-hours (pre-screen time included).

    python benchmarks/bench_prescreen_search.py --seeds 5 -o benchmarks/results/prescreen_search.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

import torch

from nas.search import SearchConfig, run_search
from nas.truth import load_truth

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TRUTH = SHARED / "nb201-calibration-1500.csv"
IMAGES = SHARED / "cifar10-jpeg.tar.gz"
TARGET = "cifar10_test_acc_200ep"


def best_by_budget(run: Path, budgets_h: list[float]) -> list[float | None]:
    """Best score among ok trials finished within each budget (CPU-hours, pre-screen charge first)."""
    import pandas as pd

    ledger = json.loads((run / "ledger.json").read_text())
    spent = ledger["extra"].get("prescreen_cpu_s", 0.0) / 3600.0
    df = pd.read_parquet(run / "trials.parquet").sort_values("trial_id")
    used = spent + df["cpu_hours"].fillna(0.0).cumsum()
    ok = df["status"] == "ok"
    out = []
    for b in budgets_h:
        within = df[ok & (used <= b + 1e-9)]
        out.append(float(within["score"].max()) if len(within) else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--screen", type=int, default=1000)
    ap.add_argument("--train-top", type=int, default=50)
    ap.add_argument("--train-cost", type=float, default=48.0, help="CPU-seconds per trained candidate")
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("-o", "--output", type=Path, default=Path("benchmarks/results/prescreen_search.json"))
    args = ap.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    torch.set_num_threads(1)  # CPU-seconds comparable with nas calibrate's (one thread)
    table = {
        "kind": "table",
        "table": str(TRUTH),
        "arch_column": "arch",
        "metric_column": TARGET,
        "cost_s": args.train_cost,
        "dataset": "cifar10",
        "data": str(IMAGES),
    }
    arms = {
        "train-all": {},
        f"prescreen synflow:{args.screen} top {args.train_top}": {
            "prescreen": f"synflow:{args.screen}",
            "train_top": args.train_top,
        },
    }
    found: dict[str, list[list[float | None]]] = {a: [] for a in arms}
    screen_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for arm, extra in arms.items():
                name = f"{'pre' if extra else 'all'}-{seed}"
                config = SearchConfig(
                    space="nb201", strategy="random", objective=table, budget=f"{max(args.budgets)}cpuh",
                    executor="inline", runs_dir=tmp, name=name, seed=seed, quiet=True,
                    max_duplicates=10_000, **extra,
                )  # fmt: skip
                search = run_search(config)
                found[arm].append(best_by_budget(search.dir, args.budgets))
                if extra:
                    screen_cpu.append(search.ledger.extra.get("prescreen_cpu_s", 0.0))
                print(arm, seed, found[arm][-1], flush=True)
    best = max(acc for _, acc in load_truth(TRUTH, target_column=TARGET))
    result = {
        "pool": "nb201-calibration-1500.csv",
        "pool_best": best,
        "seeds": args.seeds,
        "train_cpu_s_per_candidate": args.train_cost,
        "prescreen_cpu_s_mean": round(statistics.mean(screen_cpu), 1) if screen_cpu else None,
        "budgets_cpu_h": args.budgets,
        "mean_best": {
            arm: [
                round(statistics.mean(v[i] for v in runs if v[i] is not None), 3)
                if any(v[i] is not None for v in runs)
                else None
                for i in range(len(args.budgets))
            ]
            for arm, runs in found.items()
        },
        "per_seed": found,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("budgets_cpu_h", "mean_best", "prescreen_cpu_s_mean")}))


if __name__ == "__main__":
    main()
