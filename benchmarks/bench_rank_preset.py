"""Held-out check of the default `rank` preset's score: validation accuracy + w · log10(params).

A short training run under-rates big networks (they learn slower, then end higher), so the preset
adds ``params_weight`` (w) accuracy points per decade of parameters (``nas.train.presets.Preset.score``).
w was chosen on the *tuning* calibrations; this script reports, per sample and pooled, Spearman ρ with
a 95 % bootstrap interval, Kendall τ, top-10 % precision and CPU-s per candidate for the preset's
score, for w = 0 (bare accuracy) and a few other w, and for params and synflow alone — separately for
the tuning and the *held-out* calibrations, which were run after w was fixed.

Inputs are calibration JSONs written by ``nas calibrate --proxies synflow,params --preset rank ...``.
Their training column holds the preset's score as it was then: files written before the size term
existed hold the bare accuracy; the script reads the preset's ``params_weight`` from each file (absent:
0) and recovers the accuracy exactly, so old and new files mix.

    python benchmarks/bench_rank_preset.py \\
        --tuning benchmarks/results/calibration_training.json \\
                 benchmarks/results/calibration_rank_seed2.json \\
        --heldout benchmarks/results/calibration_rank_seed3.json \\
                  benchmarks/results/calibration_rank_seed4.json \\
        -o benchmarks/results/rank_preset_heldout.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from nas.calibration.results import load_calibration
from nas.stats import bootstrap_ci, kendall, spearman, top_precision
from nas.train.presets import get_preset

WEIGHTS = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0)


def load_sample(path: Path, proxy: str) -> dict[str, Any]:
    cal = load_calibration(path)
    by_name = {r.name: r for r in cal.results}
    for needed in (proxy, "params", "synflow"):
        if needed not in by_name:
            raise SystemExit(f"{path}: no {needed!r} column (have {', '.join(by_name)})")
    params = np.asarray(by_name["params"].scores, dtype=np.float64)
    preset = (by_name[proxy].info or {}).get("preset", {})
    w_then = float(preset.get("params_weight") or 0.0)
    score = np.asarray(by_name[proxy].scores, dtype=np.float64)
    return {
        "file": str(path),
        "seed": cal.seed,
        "archs": list(cal.archs),
        "truth": np.asarray(cal.truth, dtype=np.float64),
        "val": score - w_then * np.log10(params),
        "params": params,
        "synflow": np.asarray(by_name["synflow"].scores, dtype=np.float64),
        "cpu_s": float(np.mean(by_name[proxy].cpu_s)),
    }


def stats(score: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    lo, hi = bootstrap_ci(score, truth)
    return {
        "n": len(score),
        "spearman": round(spearman(score, truth), 4),
        "ci95": [round(lo, 3), round(hi, 3)],
        "kendall": round(kendall(score, truth), 4),
        "top10_precision": round(top_precision(score, truth), 3),
    }


def paired_gain(a: np.ndarray, b: np.ndarray, truth: np.ndarray, repeats: int = 2000) -> dict[str, Any]:
    """ρ(a) − ρ(b) on the same architectures, with a 95 % bootstrap interval (resampling archs)."""
    lo, hi = bootstrap_ci(a, truth, baseline=b, repeats=repeats)
    d = spearman(a, truth) - spearman(b, truth)
    return {"delta": round(d, 4), "ci95": [round(float(lo), 3), round(float(hi), 3)]}


def preset_scores(sample: dict[str, Any], weight: float) -> np.ndarray:
    """The sample's scores under the rank preset with ``params_weight=weight``."""
    preset = get_preset("rank", params_weight=weight)
    return np.asarray([preset.score(v, int(p)) for v, p in zip(sample["val"], sample["params"])])


def evaluate(samples: list[dict[str, Any]], weight: float) -> dict[str, Any]:
    def cat(key: str) -> np.ndarray:
        return np.concatenate([s[key] for s in samples])

    truth, val, params = cat("truth"), cat("val"), cat("params")
    per_sample = [preset_scores(s, weight) for s in samples]
    score = np.concatenate(per_sample)
    synflow = np.log10(np.maximum(cat("synflow"), 1e-300))
    return {
        "rank_score": stats(score, truth),
        "per_sample": [stats(x, s["truth"]) for x, s in zip(per_sample, samples)],
        "gain_over_accuracy": paired_gain(score, val, truth),
        "params": stats(params, truth),
        "synflow": stats(synflow, truth),
        "cpu_s_per_candidate": round(float(np.mean([s["cpu_s"] for s in samples])), 1),
    }


def training_column(path: Path) -> str:
    cols = [r.name for r in load_calibration(path).results if r.kind == "training"]
    if len(cols) != 1:
        raise SystemExit(f"{path}: expected one training column, found {cols}")
    return cols[0]


def compare_variants(
    paths: list[Path], heldout: list[dict[str, Any]], tuning: list[dict[str, Any]], w: float
) -> list[dict[str, Any]]:
    """Each variant against the preset on the same architectures, both scored acc + w·log10(params).
    A variant run on a tuning sample is compared too, marked: the preset's w was fitted there."""
    print("\n## Other training budgets (paired with the preset on the same architectures)\n")
    print(
        "| variant | seed | CPU-s / candidate | ρ [95 % CI] | preset ρ, same archs | Δρ [95 % CI] "
        "| acc. alone ρ |"
    )
    print("|---|---|---|---|---|---|---|")
    groups: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    tuning_seeds = {s["seed"] for s in tuning}
    for path in paths:
        name = training_column(path)
        v = load_sample(path, name)
        base = next((s for s in heldout + tuning if s["seed"] == v["seed"]), None)
        if base is None or base["archs"] != v["archs"]:
            raise SystemExit(f"{path}: no preset sample with seed {v['seed']} and the same architectures")
        groups.setdefault(name, []).append((v, base))
    rows = []
    for name, pairs in groups.items():  # each sample, then the samples of a variant pooled
        for chunk in [[p] for p in pairs] + ([pairs] if len(pairs) > 1 else []):
            vs, bases = [v for v, _ in chunk], [b for _, b in chunk]
            a = np.concatenate([preset_scores(v, w) for v in vs])
            b = np.concatenate([preset_scores(x, w) for x in bases])
            t = np.concatenate([v["truth"] for v in vs])
            r = {
                "variant": name,
                "seed": "+".join(str(v["seed"]) for v in vs),
                "tuning_sample": any(v["seed"] in tuning_seeds for v in vs),
                "cpu_s_per_candidate": round(float(np.mean([v["cpu_s"] for v in vs])), 1),
                "score": stats(a, t),
                "preset": stats(b, t),
                "gain": paired_gain(a, b, t),
                "accuracy_alone": stats(np.concatenate([v["val"] for v in vs]), t),
            }
            rows.append(r)
            s, g = r["score"], r["gain"]
            seed = f"{r['seed']} (tuning)" if r["tuning_sample"] else r["seed"]
            print(
                f"| `{name}` | {seed} | {r['cpu_s_per_candidate']} | {s['spearman']:.3f} "
                f"[{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] | {r['preset']['spearman']:.3f} | "
                f"{g['delta']:+.3f} [{g['ci95'][0]:+.2f}, {g['ci95'][1]:+.2f}] | "
                f"{r['accuracy_alone']['spearman']:.3f} |"
            )
    return rows


def retest(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Seed noise: architectures that occur in two samples were trained twice with different seeds
    (``--seed`` seeds the weights and the batch order; the data split is the preset's). The spread of
    the two validation accuracies against the spread between architectures says how much of the
    proxy's disagreement with the ground truth is noise rather than bias."""
    runs: dict[str, list[float]] = {}
    for s in samples:
        for a, v, t in zip(s["archs"], s["val"], s["truth"]):
            if t > 80:  # degenerate cells (all-`none`, 10 %) would inflate the spread
                runs.setdefault(a, []).append(float(v))
    pairs = np.asarray([r[:2] for r in runs.values() if len(r) > 1])
    vals = np.asarray([r[0] for r in runs.values()])
    if len(pairs) < 3:
        return {"pairs": len(pairs)}
    noise = float(np.sqrt(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2) / 2))
    spread = float(np.std(vals))
    return {
        "pairs": len(pairs),
        "noise_sd": round(noise, 3),
        "spread_sd": round(spread, 3),
        "reliability": round(1 - noise**2 / spread**2, 3),
        "retest_spearman": round(spearman(pairs[:, 0], pairs[:, 1]), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tuning", type=Path, nargs="+", required=True)
    ap.add_argument("--heldout", type=Path, nargs="+", required=True)
    ap.add_argument("--proxy", default="rank", help="the training column of the calibrations")
    ap.add_argument(
        "--variants",
        type=Path,
        nargs="*",
        default=[],
        help="calibrations of other training budgets over a held-out or tuning sample (same --seed): "
        "compared pair-wise with the preset on the same architectures",
    )
    ap.add_argument("-o", "--output", type=Path, default=None, help="write the figures as JSON")
    args = ap.parse_args()

    chosen = get_preset("rank").params_weight
    groups = {
        "tuning": [load_sample(p, args.proxy) for p in args.tuning],
        "heldout": [load_sample(p, args.proxy) for p in args.heldout],
    }
    seen = {a for s in groups["tuning"] for a in s["archs"]}
    overlap = sum(a in seen for s in groups["heldout"] for a in s["archs"])
    out: dict[str, Any] = {"params_weight": chosen, "heldout_archs_also_in_tuning": overlap}
    for name, samples in groups.items():
        seeds = ", ".join(str(s["seed"]) for s in samples)
        n = sum(len(s["truth"]) for s in samples)
        print(f"## {name} (seeds {seeds}; {n} archs)\n")
        print("| score | ρ [95 % CI] | per sample | Δρ vs accuracy [95 % CI] | Kendall τ | top-10 % |")
        print("|---|---|---|---|---|---|")
        rows = {}
        for w in sorted({*WEIGHTS, chosen}):
            r = evaluate(samples, w)
            rows[f"w={w:g}"] = r
            s = r["rank_score"]
            mark = " (preset)" if w == chosen else ""
            per = " / ".join(f"{p['spearman']:.3f}" for p in r["per_sample"])
            g = r["gain_over_accuracy"]
            gain = f"{g['delta']:+.3f} [{g['ci95'][0]:+.2f}, {g['ci95'][1]:+.2f}]" if w else "—"
            print(
                f"| acc + {w:g}·log10(params){mark} | {s['spearman']:.3f} [{s['ci95'][0]:.2f}, "
                f"{s['ci95'][1]:.2f}] | {per} | {gain} | {s['kendall']:.3f} | {s['top10_precision']:.2f} |"
            )
        for proxy in ("params", "synflow"):
            s = rows[f"w={chosen:g}"][proxy]
            print(
                f"| {proxy} alone | {s['spearman']:.3f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] | | | "
                f"{s['kendall']:.3f} | {s['top10_precision']:.2f} |"
            )
        cpu = rows[f"w={chosen:g}"]["cpu_s_per_candidate"]
        print(f"\nCPU-s per candidate (training; the size term is free): {cpu}\n")
        out[name] = {"files": [s["file"] for s in samples], "n": n, "by_weight": rows}
    print(f"held-out architectures also in the tuning samples: {overlap}")
    out["retest"] = r = retest(groups["tuning"] + groups["heldout"])
    if r["pairs"] >= 3:
        print(
            f"seed noise ({r['pairs']} architectures trained twice, truth > 80 %): validation accuracy "
            f"σ {r['noise_sd']:.2f} points per run against σ {r['spread_sd']:.2f} between architectures "
            f"(reliability {r['reliability']:.2f}; ρ of the two runs {r['retest_spearman']:.2f})"
        )
    if args.variants:
        out["variants"] = compare_variants(args.variants, groups["heldout"], groups["tuning"], chosen)
    if args.output:
        args.output.write_text(json.dumps(out, indent=1, default=lambda o: None if math.isnan(o) else o))
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
