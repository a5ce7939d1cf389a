"""Framework overhead per trial of ``nas search`` with a trivial objective (a synthetic score, no sleep).

Everything a real search does per trial is included: strategy proposal (random), decoding the candidate,
its canonical key (dedup), the trial itself, the trials table (CSV append; Parquet, ledger, strategy state
every 2 s), budget bookkeeping. Measured on the nb201 space:

* ``inline`` executor: wall time of the whole search / trials (target ≤ 0.05 s/trial);
* ``ray`` executor on a local Ray with 2 CPUs (1 CPU per trial, 2 at once), through Ray Tune with our
  ``Searcher`` adapter: steady state = (last trial end − first trial start) / trials, and end to end
  (including ``ray.init``, Tune setup and shutdown) / trials (target ≤ 0.3 s/trial);
* for reference, raw Ray Tune + ``OptunaSearch`` (define-by-run over the same space) with default
  settings (no actor reuse), same trivial function, same 2 CPUs.

    python benchmarks/bench_search_overhead.py [--inline 500] [--ray 300] [--raw 30]

Writes ``benchmarks/results/search_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def _search(executor: str, trials: int, runs: Path, name: str, strategy: str = "random") -> dict:
    from nas.search import SearchConfig, run_search

    cfg = SearchConfig(
        space="nb201",
        strategy=strategy,
        budget=f"{trials}trials",
        executor=executor,
        objective={"kind": "synthetic"},
        runs_dir=str(runs),
        name=name,
        num_cpus=2,
        cpus_per_trial=1.0,
        quiet=True,
    )
    t0 = time.perf_counter()
    s = run_search(cfg)
    total = time.perf_counter() - t0
    df = pd.read_csv(runs / name / "trials.csv")
    assert len(df) == trials, len(df)
    steady = (df.finished_at.max() - df.started_at.min()) / trials
    return {
        "executor": executor,
        "strategy": strategy,
        "trials": trials,
        "cached": int(df.cached.sum()),
        "end_to_end_s": round(total, 3),
        "per_trial_end_to_end_s": round(total / trials, 4),
        "per_trial_steady_s": round(float(steady), 4),
        "mean_trial_wall_s": round(float(df.wall_s.mean()), 5),
        "search_elapsed_s": round(s.ledger.elapsed_s, 3),
    }


def _define_by_run(trial):  # module level: OptunaSearch pickles its space when Tune checkpoints
    from nas.core.registry import SPACES

    SPACES["nb201"]().define_by_run(trial)


def _raw_trainable(config):
    from ray import tune

    tune.report({"score": float(len(str(config)))})


def _raw_tune(trials: int, storage: Path) -> dict:
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    tuner = tune.Tuner(
        _raw_trainable,
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(space=_define_by_run, metric="score", mode="max"),
            num_samples=trials,
            max_concurrent_trials=2,
        ),
        run_config=tune.RunConfig(storage_path=str(storage), name="raw", verbose=0),
    )
    t1 = time.perf_counter()
    tuner.fit()
    t2 = time.perf_counter()
    ray.shutdown()
    total = time.perf_counter() - t0
    return {
        "executor": "raw Ray Tune + OptunaSearch (defaults: no actor reuse, default loggers)",
        "trials": trials,
        "end_to_end_s": round(total, 3),
        "per_trial_end_to_end_s": round(total / trials, 4),
        "per_trial_fit_s": round((t2 - t1) / trials, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inline", type=int, default=500)
    ap.add_argument("--ray", type=int, default=300)
    ap.add_argument("--raw", type=int, default=30, help="0 to skip the raw Tune reference")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "search_overhead.json")
    ap.add_argument("--raw-only", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.raw_only:
        print(json.dumps(_raw_tune(args.raw_only, args.output)))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        _search("inline", 20, runs, "warmup")  # imports, plugin loading
        for strategy in ("random", "evolution"):
            r = _search("inline", args.inline, runs, f"inline-{strategy}", strategy)
            results.append(r)
            print(json.dumps(r), flush=True)
        if args.ray:
            r = _search("ray", args.ray, runs, "ray-random")
            results.append(r)
            print(json.dumps(r), flush=True)
        if args.raw:  # in a fresh process: our executor sets Tune environment variables in this one
            proc = subprocess.run(
                [sys.executable, __file__, "--raw-only", str(args.raw), "--output", str(runs / "raw")],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            print(json.dumps(r), flush=True)
    out = {
        "benchmark": "search framework overhead per trial (trivial objective)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}",
        "targets": {"inline_s_per_trial": 0.05, "ray_s_per_trial": 0.3},
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1) + "\n")
    print(args.output)


if __name__ == "__main__":
    main()
