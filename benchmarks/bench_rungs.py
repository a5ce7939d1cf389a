"""How well does each rung of a multi-fidelity (ASHA) search rank architectures, and what does
successive halving on those rungs buy?

Reads a calibration JSON written by ``nas calibrate --preset rank --rungs 1,2,3,4,6 ...`` and prints,
as Markdown: per rung, Spearman ρ with a 95 % bootstrap interval, Kendall τ, top-10 % precision and
cumulative CPU-seconds; the successive-halving simulations
(``nas.calibration.halving.simulate_halving``, sync
and Ray's asynchronous rule); and, given a reference calibration of the same architectures with the
plain preset (``--reference``, e.g. ``calibration_training.json``), whether the last rung reproduces
its scores exactly (intermediate evaluations must not change training) and what they cost.

    python benchmarks/bench_rungs.py benchmarks/results/calibration_rungs.json \\
        --reference benchmarks/results/calibration_training.json --reference-proxy rank
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nas.calibration.halving import halving_report
from nas.calibration.results import load_calibration
from nas.stats import bootstrap_ci


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("calibration", type=Path, help="calibration JSON with per-rung results")
    ap.add_argument("--reference", type=Path, default=None, help="calibration JSON of the plain preset")
    ap.add_argument("--reference-proxy", default="rank", help="its result to compare the last rung with")
    ap.add_argument("--repeats", type=int, default=2000, help="async arrival orders to average")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cal = load_calibration(args.calibration)
    curves = cal.rung_curves()
    if not curves:
        raise SystemExit(f"{args.calibration} has no per-rung results (run nas calibrate with --rungs)")
    summary = {r["proxy"]: r for r in cal.summary()}
    n = len(cal.archs)
    print(f"## Per rung ({n} archs)\n")
    print("| proxy | epochs | ρ [95 % CI] | Kendall τ | top-10 % | cumulative CPU-s / candidate |")
    print("|---|---|---|---|---|---|")
    for r in cal.results:
        s = summary[r.name]
        lo, hi = bootstrap_ci(r.scores, cal.truth, seed=args.seed)
        rung = r.info.get("rung", "—")
        print(
            f"| {r.name} | {rung} | {s['spearman']:.3f} [{lo:.2f}, {hi:.2f}] | {s['kendall']:.3f} | "
            f"{s['top10_precision']:.2f} | {s['cpu_s_per_candidate']:.1f} |"
        )

    if args.reference is not None:
        ref = load_calibration(args.reference)
        res = {r.name: r for r in ref.results}
        if ref.archs != cal.archs or args.reference_proxy not in res:
            print(
                f"\n(reference {args.reference} does not cover the same archs "
                f"or has no {args.reference_proxy})"
            )
        else:
            for curve in curves.values():
                last, plain = curve[-1], res[args.reference_proxy]
                diff = np.abs(np.asarray(last.scores) - np.asarray(plain.scores))
                extra = np.asarray(last.cpu_s) - np.asarray(plain.cpu_s)
                print(
                    f"\n{last.name} vs {args.reference.name}:{args.reference_proxy}: "
                    f"{int(np.sum(diff == 0))}/{n} scores identical, max |Δ| {diff.max():.3f} points; "
                    f"CPU-s {np.mean(last.cpu_s):.1f} vs {np.mean(plain.cpu_s):.1f} per candidate "
                    f"(Δ {np.mean(extra):+.1f}, median {np.median(extra):+.1f}: "
                    f"{len(curve) - 1} extra evaluations + machine load)"
                )

    rows = halving_report(cal, repeats=args.repeats, seed=args.seed)
    print(f"\n## Successive halving ({n} archs; async = Ray's rule, mean of {args.repeats} arrival orders)\n")
    print(
        "| mode | η | grace | milestones | CPU-s (share of all) | survivors | winner acc | P(winner = best) "
        "| ρ survivors | ρ final order | top-10 % alive after each milestone |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        surv = ", ".join(f"@{m}: {v:.2f}" for m, v in r["top_survival"].items())
        print(
            f"| {r['mode']} | {r['eta']:g} | {r['grace']} | {','.join(map(str, r['milestones']))} | "
            f"{r['cpu_s']:.0f} ({r['cost_fraction']:.2f}) | {r['survivors']:.1f} | {r['winner_truth']:.2f} | "
            f"{r['winner_is_best']:.2f} | {r['spearman_survivors']:.2f} | {r['spearman_all']:.3f} | {surv} |"
        )
    if rows:
        r = rows[0]
        print(
            f"\ntrain all to {r['max_t']} epochs: {r['cpu_s_train_all']:.0f} CPU-s, picks "
            f"{r['train_all_winner_truth']:.2f} (ρ {r['spearman_train_all']:.3f}); best in the pool "
            f"{r['best_truth']:.2f}; top-10 % = {r['top_k']} archs"
        )


if __name__ == "__main__":
    main()
