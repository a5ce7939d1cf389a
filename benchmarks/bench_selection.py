"""What the selection stage buys: pick regret of selection policies, from calibrations already trained.

The 50 NB201 architectures of ``calibration_small_seed1.json`` were trained with ``small`` and, in
``calibration_training.json``, with ``rank`` (one seed each), and their 200-epoch CIFAR-10 accuracy is
known. A search's pool is simulated as ``n`` of them drawn at random, each with its ``rank`` score; a policy
picks one; pick regret = truth(best of the pool) − truth(pick), CIFAR-10 accuracy points, mean over
``--draws`` random pools with a 95 % interval of that mean (normal, over pools). The CPU cost of a policy is
what its extra trainings took (the measured CPU-s of those architectures).

Policies:

* ``rank`` — the search's own best score (no selection);
* ``PRESET top-k`` — the ``k`` best by ``rank`` trained again at PRESET, the best of them by that score
  picked (``confirm`` = ``small``'s training + 5 · log10(parameters); ``confirm top-3`` is the default
  ``--select``).

* ``rank×3 top-k`` — the ``k`` best by ``rank`` trained twice more with ``rank`` (seeds 2 and 3), the best
  mean of the three picked; ``rank×3 top-k → confirm top-2`` then retrains the 2 best means with
  ``confirm`` (``--select top=k,eta=3,rungs=3+confirm``). These need the architectures trained again (a
  measured score cannot be averaged by simulation): ``bench_seed_mean.py``'s calibration
  ``calibration_rank_x3_seed1.json``, used when it exists. The cost of the two more trainings is their
  measured CPU-s there (two worker processes side by side, as ``small``'s were measured; about 2× the
  CPU-s of ``rank``'s seed 1, which trained alone in another session).

    python benchmarks/bench_selection.py [--pools 20,30] [--draws 4000]

Writes ``benchmarks/results/selection.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

Policy = Callable[[list[int], random.Random], tuple[int, float]]


def load() -> dict[str, list[float]]:
    small = json.loads((RESULTS / "calibration_small_seed1.json").read_text())
    train = json.loads((RESULTS / "calibration_training.json").read_text())
    at = {a: i for i, a in enumerate(train["archs"])}
    idx = [at[a] for a in small["archs"]]
    params = small["scores"]["params"]
    extra = {}
    if (x3 := RESULTS / "calibration_rank_x3_seed1.json").exists():
        seeds = json.loads(x3.read_text())
        at3 = {a: i for i, a in enumerate(seeds["archs"])}
        extra["rank*3"] = [seeds["scores"]["rank*3"][at3[a]] for a in small["archs"]]
        more = [seeds["cpu_s"]["rank#2"][at3[a]] + seeds["cpu_s"]["rank#3"][at3[a]] for a in small["archs"]]
        extra["rank_more_cpu"] = more
    return {
        **extra,
        "truth": list(small["target"]),
        # the file's rank column predates the preset's size term: the search scores with it
        "rank": [train["scores"]["rank"][i] + 5 * math.log10(p) for i, p in zip(idx, params, strict=True)],
        "rank_cpu": [train["cpu_s"]["rank"][i] for i in idx],
        "small": list(small["scores"]["small"]),
        "confirm": [a + 5 * math.log10(p) for a, p in zip(small["scores"]["small"], params, strict=True)],
        "small_cpu": list(small["cpu_s"]["small"]),
    }


def policies(d: dict[str, list[float]]) -> dict[str, Policy]:
    rank, cpu_s = d["rank"], d["small_cpu"]

    def by_rank(pool: list[int], rng: random.Random) -> tuple[int, float]:
        return max(pool, key=lambda i: rank[i]), 0.0

    def stronger(score: str, k: int) -> Policy:
        def pick(pool: list[int], rng: random.Random) -> tuple[int, float]:
            finalists = sorted(pool, key=lambda i: -rank[i])[:k]
            return max(finalists, key=lambda i: d[score][i]), sum(cpu_s[i] for i in finalists)

        return pick

    def seeds_then(k: int, confirm: int) -> Policy:
        def pick(pool: list[int], rng: random.Random) -> tuple[int, float]:
            finalists = sorted(pool, key=lambda i: -rank[i])[:k]
            cost = sum(d["rank_more_cpu"][i] for i in finalists)  # two more rank trainings each
            by_mean = sorted(finalists, key=lambda i: -d["rank*3"][i])
            if not confirm:
                return by_mean[0], cost
            last = by_mean[:confirm]
            return max(last, key=lambda i: d["confirm"][i]), cost + sum(cpu_s[i] for i in last)

        return pick

    out: dict[str, Policy] = {"rank (no selection)": by_rank}
    for k in (2, 3, 5):
        out[f"small top-{k}"] = stronger("small", k)
        out[f"confirm top-{k}"] = stronger("confirm", k)
    if "rank*3" in d:
        for k in (3, 6, 10):
            out[f"rank×3 top-{k}"] = seeds_then(k, 0)
            out[f"rank×3 top-{k} → confirm top-2"] = seeds_then(k, 2)
    return out


def simulate(d: dict[str, list[float]], policy: Policy, n: int, draws: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    truth = d["truth"]
    regrets, costs = [], []
    for _ in range(draws):
        pool = rng.sample(range(len(truth)), n)
        pick, cost = policy(pool, rng)
        regrets.append(max(truth[i] for i in pool) - truth[pick])
        costs.append(cost)
    mean, sd = statistics.mean(regrets), statistics.stdev(regrets)
    return {
        "pick_regret": round(mean, 3),
        "ci95": [
            round(mean - 1.96 * sd / math.sqrt(draws), 3),
            round(mean + 1.96 * sd / math.sqrt(draws), 3),
        ],
        "extra_cpu_s": round(statistics.mean(costs), 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pools", default="20,30")
    p.add_argument("--draws", type=int, default=4000)
    a = p.parse_args(argv)
    d = load()
    rows = []
    for n in (int(x) for x in a.pools.split(",")):
        for name, policy in policies(d).items():
            r = {"pool": n, "policy": name, **simulate(d, policy, n, a.draws, seed=n)}
            rows.append(r)
            print(
                f"pool {n:3d}  {name:48s} regret {r['pick_regret']:.3f} {r['ci95']}  "
                f"+{r['extra_cpu_s']:.0f} CPU-s"
            )
    out = {
        "benchmark": "selection",
        "sample": "calibration_small_seed1 (50 NB201 archs; rank from calibration_training)",
        "unit": "CIFAR-10 200-epoch accuracy points",
        "draws": a.draws,
        "rows": rows,
    }
    (RESULTS / "selection.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
