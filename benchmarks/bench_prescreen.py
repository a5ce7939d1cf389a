"""Does a zero-cost pre-screen find better architectures per CPU-hour than training every candidate?

Reads a calibration JSON written by ``nas calibrate`` (per-architecture proxy scores and CPU-seconds,
ideally over the whole ground-truth table) and simulates, on that table, two searches at equal CPU
budgets (see ``nas.calibration.prescreen_sim.simulate_prescreen``):

* ``train-all``: train random candidates, each costing ``--train-cost`` CPU-seconds;
* ``prescreen``: score ``N`` random candidates with the proxy (its measured CPU-seconds each), then
  train the ``--train-top`` best by proxy score.

"Training" returns the ground-truth 200-epoch accuracy (the most favourable case for ``train-all``:
a real short training run is a noisy proxy itself). Output: ``<out>.json`` and ``<out>.png``.

    python benchmarks/bench_prescreen.py benchmarks/results/calibration_synflow_1500.json \\
        --proxy synflow --screen 1000 --train-top 50 --train-cost 60
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from nas.calibration.prescreen_sim import simulate_prescreen
from nas.calibration.results import load_calibration


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("calibration", type=Path, help="calibration JSON with per-arch scores")
    ap.add_argument("--proxy", default="synflow")
    ap.add_argument("--screen", type=int, nargs="+", default=[1000])
    ap.add_argument("--train-top", type=int, default=50)
    ap.add_argument("--train-cost", type=float, default=60.0, help="CPU-seconds per trained candidate")
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.25, 0.5, 1, 1.5, 2, 3, 4])
    ap.add_argument("--repeats", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path, default=Path("benchmarks/results/prescreen_simulation"))
    args = ap.parse_args()

    cal = load_calibration(args.calibration)
    result = next((r for r in cal.results if r.name == args.proxy), None)
    if result is None:
        raise SystemExit(
            f"{args.calibration}: no proxy {args.proxy!r} (have {', '.join(r.name for r in cal.results)})"
        )
    truth = np.asarray(cal.truth, dtype=float)
    scores = np.asarray(result.scores, dtype=float)
    proxy_cost = float(np.mean(result.cpu_s))
    order = np.sort(truth)[::-1]
    out = {
        "calibration": str(args.calibration),
        "proxy": args.proxy,
        "pool": len(truth),
        "pool_best": float(order[0]),
        "pool_top1pct_threshold": float(order[max(0, len(order) // 100 - 1)]),
        "proxy_cpu_s_per_candidate": round(proxy_cost, 4),
        "train_cpu_s_per_candidate": args.train_cost,
        "train_top": args.train_top,
        "repeats": args.repeats,
        "budgets_cpu_h": args.budgets,
        "strategies": {},
    }
    for n in args.screen:
        curves = simulate_prescreen(
            truth,
            scores,
            proxy_cost_s=proxy_cost,
            train_cost_s=args.train_cost,
            n_screen=min(n, len(truth)),
            top=args.train_top,
            budgets_h=args.budgets,
            repeats=args.repeats,
            seed=args.seed,
        )
        out["strategies"].setdefault("train-all", curves["train-all"].mean_best)
        out["strategies"][f"prescreen {args.proxy}:{n} top {args.train_top}"] = curves["prescreen"].mean_best
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, ys in out["strategies"].items():
        ax.plot(args.budgets, ys, marker="o", label=name)
    ax.axhline(out["pool_best"], color="gray", ls="--", lw=0.8, label="best in pool")
    ax.set_xlabel("CPU-hours")
    ax.set_ylabel("mean best 200-epoch CIFAR-10 accuracy found (%)")
    ax.set_title(
        f"pre-screen vs train-all ({len(truth)} NB201 archs, train {args.train_cost:.0f} CPU-s, "
        f"{args.proxy} {proxy_cost:.2f} CPU-s)",
        fontsize=9,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output.with_suffix(".png"))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
