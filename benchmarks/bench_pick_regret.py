"""Pick regret of proxies on NAS-Bench-201 (CIFAR-10, 200-epoch truth), from calibrations already trained.

A search picks its best among the candidates it trained, so what matters is not only ρ over a random sample
but the **pick regret**: truth(best in a pool of n) − truth(the pool's best by the proxy), averaged over
every pool of n drawn from the sample (exact: ``nas.stats.expected_pick_regret``), with a percentile
bootstrap 95 % interval over the architectures. Also ρ among the top decile by truth.

Samples (``benchmarks/results/``, see ``CALIBRATION.md``):

* ``rank``: seeds 5–6 pooled, 100 architectures (the `rank` preset with its size term; the files of seeds
  1–4 hold the bare accuracy, on another scale, so they are not pooled);
  ensembles are recomputed over the pooled sample (rank-normalised means);
* ``small``: seed 1, 50 architectures (pools of 20 and 50 only);
* zero-cost: 200 architectures (seed 0) and synflow / params on all 1,500 of the calibration file.

    python benchmarks/bench_pick_regret.py

Writes ``benchmarks/results/pick_regret.json``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from nas.calibration.results import Calibration, ProxyResult, ensemble, load_calibration
from nas.stats import bootstrap_ci, expected_pick_regret, spearman, top_region_spearman

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
POOLS = (20, 50, 100)


def pooled(names: list[str]) -> tuple[list[float], dict[str, ProxyResult]]:
    """The calibrations ``names`` as one sample: truth and the proxies every one of them has."""
    cals: list[Calibration] = [load_calibration(RESULTS / f"{n}.json") for n in names]
    common = set.intersection(*({r.name for r in c.results if r.kind != "ensemble"} for c in cals))
    truth = [t for c in cals for t in c.truth]
    out = {}
    for name in sorted(common):
        parts = [next(r for r in c.results if r.name == name) for c in cals]
        out[name] = ProxyResult(
            name, parts[0].kind, [s for p in parts for s in p.scores], [x for p in parts for x in p.cpu_s],
            [x for p in parts for x in p.wall_s],
        )  # fmt: skip
    return truth, out


def row(sample: str, proxy: ProxyResult, truth: list[float]) -> dict:
    out = {
        "sample": sample,
        "proxy": proxy.name,
        "kind": proxy.kind,
        "n": len(truth),
        "spearman": round(spearman(proxy.scores, truth), 3),
        "top_decile_spearman": top_region_spearman(proxy.scores, truth),
        "cpu_s_per_candidate": round(sum(proxy.cpu_s) / len(proxy.cpu_s), 2),
    }
    for n in POOLS:
        if n > len(truth):
            continue
        regret = expected_pick_regret(proxy.scores, truth, n)
        lo, hi = bootstrap_ci(
            proxy.scores, truth, lambda s, t, n=n: expected_pick_regret(s, t, n), repeats=500
        )
        out[f"pick_regret_{n}"] = {"mean": round(regret, 3), "ci95": [round(lo, 3), round(hi, 3)]}
    return out


def random_pick(truth: list[float], n: int, draws: int = 200) -> float:
    """The pick regret of a proxy-free pick (random scores, mean over ``draws`` score vectors)."""
    rng = random.Random(0)
    return sum(expected_pick_regret([rng.random() for _ in truth], truth, n) for _ in range(draws)) / draws


def main() -> None:
    rows = []
    for sample, names, ensembles in (
        ("rank seeds 5-6", [f"calibration_rank_seed{s}" for s in (5, 6)], [("synflow", "rank"),
                                                                                  ("params", "rank")]),
        ("small seed 1", ["calibration_small_seed1"], [("synflow", "small")]),
        ("zero-cost 200", ["calibration_zero_cost"], [("synflow", "naswot")]),
        ("zero-cost 1500", ["calibration_synflow_params_1500"], [("synflow", "params")]),
    ):  # fmt: skip
        truth, proxies = pooled(names)
        ref = {n: round(random_pick(truth, n), 3) for n in POOLS if n <= len(truth)}
        rows.append({"sample": sample, "proxy": "random pick", "n": len(truth), "pick_regret": ref})
        print(f"{sample:15s} {'random pick':15s} n {len(truth):4d}  regret " + "  ".join(
            f"@{n}: {v:.2f}" for n, v in ref.items()), flush=True)  # fmt: skip
        for members in ensembles:
            e = ensemble("+".join(members), [proxies[m] for m in members])
            proxies[e.name] = e
        for p in proxies.values():
            r = row(sample, p, truth)
            rows.append(r)
            regrets = "  ".join(
                f"@{n}: {r[f'pick_regret_{n}']['mean']:.2f} [{r[f'pick_regret_{n}']['ci95'][0]:.2f}, "
                f"{r[f'pick_regret_{n}']['ci95'][1]:.2f}]"
                for n in POOLS
                if f"pick_regret_{n}" in r
            )
            top = r["top_decile_spearman"]
            print(
                f"{sample:15s} {p.name:15s} n {r['n']:4d}  ρ {r['spearman']:.3f}  ρ top10% "
                f"{'-' if top is None else f'{top:.3f}'}  regret {regrets}",
                flush=True,
            )
    out = RESULTS / "pick_regret.json"
    out.write_text(
        json.dumps({"benchmark": "pick_regret", "unit": "accuracy points", "rows": rows}, indent=1)
    )
    print(out)


if __name__ == "__main__":
    main()
