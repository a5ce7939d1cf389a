"""Weight-sharing search on NAS-Bench-201 against the ground truth (issue #19): for each one-shot method
and seed, the found architecture's true 200-epoch CIFAR-10 accuracy and the supernet's rank fidelity.

Three steps, each resumable (rerun the same command after an interruption):

``run``
    ``nas oneshot --space nb201 --method M --seed S`` on the real CIFAR-10 JPEGs, one directory per
    (method, seed) under ``--out``; SPOS / ENAS then search the members (``--budget``) with inherited
    weights. Epochs per method (``--epochs spos=30,...``) set the supernet's CPU cost, measured and
    reported (the runs' ``result.json`` / ledgers).
``rho``
    The supernet's ranking of the calibration file's architectures (``--sample`` of the 1,500), Spearman ρ
    and Kendall τ against their 200-epoch accuracy: SPOS / ENAS by inherited-weight validation top-1
    (``nas calibrate --supernet``), DARTS / GDAS by the architecture's log-probability under the trained
    α (the score their discretisation maximises edge by edge).
``query``
    The query-based search at the same CPU budget, one directory ``query-sS`` per seed: ``nas search``
    with a zero-cost pre-screen, the default ``rank`` preset and evolution, training every candidate on
    the same JPEGs (``--query-budget``, ``--prescreen``; ``--select off``: at a budget this small no
    ``confirm`` retraining fits, so the reserve would only idle). One CPU, like each one-shot run.
``report``
    One table (JSON) with the published anchors beside it (NAS-Bench-201 paper, Dong & Yang 2020).

    python benchmarks/bench_oneshot.py run --methods spos,enas,gdas,darts --seeds 0,1,2
    python benchmarks/bench_oneshot.py rho --sample 300   # inherited scoring: ~3-8 CPU-s per arch
    python benchmarks/bench_oneshot.py query --seeds 0,1,2 --query-budget 0.25cpuh
    python benchmarks/bench_oneshot.py report

``benchmarks/results/oneshot_nb201.json`` (seeds 0-2, about 4 CPU-h in all, two runs side by side)::

    python benchmarks/bench_oneshot.py run --methods spos,enas --epochs spos=8,enas=8 --train-subset 15000 \
        --budget 50trials
    python benchmarks/bench_oneshot.py run --methods gdas,darts --epochs gdas=6,darts=1 --train-subset 15000
    python benchmarks/bench_oneshot.py rho --sample 50   # seed 0's SPOS / ENAS: --sample 100
    python benchmarks/bench_oneshot.py query
    python benchmarks/bench_oneshot.py report --note "..."
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from nas.core.registry import SPACES
from nas.oneshot.store import read_meta
from nas.oneshot.supernet import Supernet
from nas.stats import kendall, spearman
from nas.truth import load_truth, sample_rows

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FULL = SHARED / "nb201-cifar10-15625.csv"
CALIBRATION = SHARED / "nb201-calibration-1500.csv"
IMAGES = SHARED / "cifar10-jpeg.tar.gz"
RESULT = ROOT / "benchmarks" / "results" / "oneshot_nb201.json"
NAS = [sys.executable, "-m", "nas.cli"]
#: published NB201 CIFAR-10 test accuracies of one-shot searches' cells (200-epoch table), as issue #19
#: quotes them (NAS-Bench-201 paper and the methods' own papers)
ANCHORS = {
    "DARTS": 54.30, "ENAS": 54.30, "GDAS": 93.51, "PC-DARTS": 93.41, "DrNAS": 94.36, "optimum": 94.37,
}  # fmt: skip
SINGLE_PATH = ("spos", "enas")
#: every run's ρ is also taken on the first COMMON archs of the sample, a prefix of any larger sample of the
#: same seed (``random.sample`` draws in order), so supernets rho'd on different sample sizes compare
COMMON = 50


def nas(argv: list[str]) -> None:
    """Run a ``nas`` command on one core (any Ray it starts stays on loopback)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    subprocess.run(argv, check=True, env=env)


def run_dir(out: Path, method: str, seed: int) -> Path:
    return out / f"{method}-s{seed}"


def cmd_run(args: argparse.Namespace) -> None:
    epochs = dict(pair.split("=") for pair in args.epochs.split(","))
    for seed in (int(s) for s in args.seeds.split(",")):
        for method in args.methods.split(","):
            d = run_dir(args.out, method, seed)
            if (d / "result.json").is_file():
                continue
            argv = [
                *NAS, "oneshot", "--space", "nb201", "--method", method, "--seed", str(seed),
                "--data-dir", str(args.data_dir), "--set", f"epochs={epochs[method]}",
                "--budget", args.budget, "--device", "cpu", "--out", str(d), "--quiet",
                *(["--train-subset", str(args.train_subset)] if args.train_subset else []),
                *(a for kv in args.space_opt for a in ("--space-opt", kv)),
                *(["--resume"] if (d / "supernet" / "supernet.json").is_file() else []),
            ]  # fmt: skip
            print(" ".join(argv[2:]), flush=True)
            nas(argv)


def alpha_logprob(directory: Path, archs: list[str]) -> list[float]:
    """Each arch's log-probability under the trained α of the DARTS / GDAS supernet in ``directory``."""
    run = read_meta(directory)
    state = torch.load(directory / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    sn = Supernet(run.space, **run.space_options)
    logp = {g: state[f"arch.alpha.{g}"].log_softmax(-1) for g in sn.edges}
    out = []
    for a in archs:
        path = sn.layout.path(sn.space.parse_arch(a))
        total = 0.0
        for g, edges in sn.edges.items():
            for i, e in enumerate(edges):
                op = path[g].get(e.key)
                if op is not None:
                    total += float(logp[g][i, e.options.index(op)])
        out.append(total)
    return out


def cmd_rho(args: argparse.Namespace) -> None:
    rows = sample_rows(load_truth(CALIBRATION), args.sample, args.sample_seed)
    for d in sorted(p for p in args.out.iterdir() if (p / "result.json").is_file()):
        target = d / "rho.json"
        if target.is_file():
            continue
        method = json.loads((d / "result.json").read_text())["method"]
        if method in SINGLE_PATH:
            argv = [
                *NAS, "calibrate", "--space", "nb201", "--proxies", "params",
                "--supernet", str(d / "supernet"),
                "--truth", str(CALIBRATION), "--sample", str(args.sample), "--seed", str(args.sample_seed),
                "--out", str(d), "--name", "calibration", "--format", "json", "--quiet", "--resume",
            ]  # fmt: skip
            print(" ".join(argv[2:]), flush=True)
            nas(argv)
            cal = json.loads((d / "calibration.json").read_text())
            row = next(s for s in cal["summary"] if s["proxy"].startswith("supernet:"))
            rho = {"score": "inherited val top-1", "n": row["n"], "spearman": row["spearman"],
                   "kendall": row["kendall"], "cpu_s_per_arch": row["cpu_s_per_candidate"]}  # fmt: skip
        else:
            archs, truth = [a for a, _ in rows], [t for _, t in rows]
            score = alpha_logprob(d / "supernet", archs)
            rho = {"score": "log-probability under α", "n": len(archs),
                   "spearman": round(spearman(score, truth), 4),
                   "kendall": round(kendall(score, truth), 4)}  # fmt: skip
        target.write_text(json.dumps(rho, indent=1) + "\n")


def cmd_query(args: argparse.Namespace) -> None:
    for seed in (int(s) for s in args.seeds.split(",")):
        d = args.out / f"query-s{seed}"
        if query_done(d):
            continue
        argv = [
            *NAS, "search", "--space", "nb201", "--strategy", "evolution", "--objective", "train",
            "--data-dir", str(args.data_dir), "--prescreen", args.prescreen,
            "--train-top", str(args.train_top), "--select", "off",
            "--budget", args.query_budget, "--seed", str(seed), "--num-cpus", "1",
            "--out", str(d), "--quiet", *(["--resume"] if (d / "config.json").is_file() else []),
        ]  # fmt: skip
        print(" ".join(argv[2:]), flush=True)
        nas(argv)


def query_done(directory: Path) -> bool:
    """Has the search in ``directory`` ended (``best.json`` is rewritten as it goes; its last has a pick)?"""
    path = directory / "best.json"
    doc = json.loads(path.read_text()) if path.is_file() else {}
    return "best" in doc and bool(doc.get("stop_reason"))


def query_rows(out: Path, truth: dict[str, float]) -> list[dict[str, Any]]:
    """The query-based searches' picks (``best.json``) with their true accuracy and CPU-hours."""
    rows = []
    for d in sorted(out.glob("query-s*")):
        if not query_done(d):
            continue
        best, config = json.loads((d / "best.json").read_text()), json.loads((d / "config.json").read_text())
        ledger = json.loads((d / "ledger.json").read_text())
        rows.append({
            "run": d.name, "method": "query", "seed": config.get("seed"), "arch": best["best"]["arch"],
            "truth": truth[best["best"]["arch"]], "evaluations": best["evaluations"],
            "cpu_h": ledger.get("cpu_hours"),
            "wall_h_one_core": round(ledger["elapsed_s"] / 3600, 3),  # --num-cpus 1
            "stop_reason": best.get("stop_reason"),
        })  # fmt: skip
    return rows


def common_rho(directory: Path, method: str, rows: list[tuple[str, float]]) -> float | None:
    """Spearman ρ of the run's supernet score on ``rows`` (the common prefix of the sample)."""
    archs, truth = [a for a, _ in rows], [t for _, t in rows]
    if method not in SINGLE_PATH:
        return round(spearman(alpha_logprob(directory / "supernet", archs), truth), 4)
    path = directory / "calibration.json"
    if not path.is_file():
        return None
    cal = json.loads(path.read_text())
    key = next(k for k in cal["scores"] if k.startswith("supernet:"))
    score = dict(zip(cal["archs"], cal["scores"][key], strict=True))
    return round(spearman([score[a] for a in archs], truth), 4)


def cmd_report(args: argparse.Namespace) -> None:
    space = SPACES["nb201"]()
    truth = {space.format_arch(space.parse_arch(a)): acc for a, acc in load_truth(FULL)}
    every = load_truth(CALIBRATION)
    common = sample_rows(every, COMMON, args.sample_seed)
    runs: list[dict[str, Any]] = []
    for d in sorted(p for p in args.out.iterdir() if (p / "result.json").is_file()):
        r = json.loads((d / "result.json").read_text())
        ledger = d / "search" / "ledger.json"
        row = {
            "run": d.name, "method": r["method"], "seed": json.loads((d / "supernet" / "supernet.json")
            .read_text())["train"]["seed"], "arch": r["arch"], "truth": truth[r["arch"]],
            "none_edges": r["none_edges"], "skip_edges": r["skip_edges"],
            "supernet_epochs": r["supernet_epochs"], "supernet_cpu_s": round(r["supernet_train_seconds"], 1),
            "search_cpu_h": json.loads(ledger.read_text()).get("cpu_hours") if ledger.is_file() else None,
        }  # fmt: skip
        # all in: SPOS / ENAS charge the supernet to the member search's ledger; DARTS / GDAS have no search
        row["cpu_h"] = row["search_cpu_h"] or row["supernet_cpu_s"] / 3600
        # the whole command on its one core (data loading and per-epoch evaluation included): supernet.json
        # is written when it starts, result.json when it ends (a resumed run: from the last start)
        start, end = (d / "supernet" / "supernet.json").stat().st_mtime, (d / "result.json").stat().st_mtime
        row["wall_h_one_core"] = round((end - start) / 3600, 3)
        if (d / "rho.json").is_file():
            row["rho"] = json.loads((d / "rho.json").read_text())
            row[f"spearman_{COMMON}"] = common_rho(d, r["method"], common)
        if r["method"] not in SINGLE_PATH:  # scoring by α is free: all 1,500 as well
            row["spearman_all"] = common_rho(d, r["method"], every)
        runs.append(row)
    runs += query_rows(args.out, truth)
    by_method: dict[str, dict[str, Any]] = {}
    for m in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == m]
        accs = [r["truth"] for r in mine]
        rhos = [r[f"spearman_{COMMON}"] for r in mine if r.get(f"spearman_{COMMON}") is not None]
        alls = [r["spearman_all"] for r in mine if r.get("spearman_all") is not None]
        by_method[m] = {
            "seeds": len(accs), "truths": accs, "truth_mean": round(statistics.fmean(accs), 2),
            "truth_sd": round(statistics.stdev(accs), 2) if len(accs) > 1 else None,
            f"spearman_{COMMON}_mean": round(statistics.fmean(rhos), 3) if rhos else None,
            "spearman_all_mean": round(statistics.fmean(alls), 3) if alls else None,
            "cpu_h_mean": round(statistics.fmean(r["cpu_h"] for r in mine), 3),
            "wall_h_one_core_mean": round(statistics.fmean(r["wall_h_one_core"] for r in mine), 3),
        }  # fmt: skip
    doc = {
        "benchmark": "one-shot search on NAS-Bench-201 (issue #19)",
        "truth": "nb201-cifar10-15625.csv, cifar10_test_acc_200ep; ρ on the calibration file's sample",
        "anchors_nb201_paper": ANCHORS,
        "by_method": by_method,
        "runs": runs,
        **({"settings": args.note} if args.note else {}),
    }
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    for m, s in by_method.items():
        sd = s["truth_sd"] or 0.0
        rho, cpu = s[f"spearman_{COMMON}_mean"], s["cpu_h_mean"]
        print(f"{m:6s} {s['seeds']} seeds  truth {s['truth_mean']:.2f} ± {sd:.2f}  ρ {rho}  {cpu} CPU-h")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("step", choices=("run", "rho", "query", "report"))
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-oneshot")
    ap.add_argument("--methods", default="spos,enas,gdas,darts")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", default="spos=30,enas=30,gdas=15,darts=4", help="supernet epochs per method")
    ap.add_argument("--train-subset", type=int, default=None)
    ap.add_argument("--space-opt", action="append", help="supernet space option (default: C=16, N=1)")
    ap.add_argument("--budget", default="100trials", help="SPOS / ENAS member search")
    ap.add_argument("--query-budget", default="0.25cpuh", help="query-based search (step query)")
    ap.add_argument("--prescreen", default="synflow:500", help="query-based search's pre-screen")
    ap.add_argument("--train-top", type=int, default=20, help="query-based search: pre-screened to train")
    ap.add_argument("--data-dir", type=Path, default=IMAGES)
    ap.add_argument("--sample", type=int, default=300, help="calibration archs (inherited: ~3-8 CPU-s each)")
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--note", default="", help="report: the settings, in words, stored with the table")
    ap.add_argument("-o", "--output", type=Path, default=RESULT)
    args = ap.parse_args()
    args.space_opt = args.space_opt or ["C=16", "N=1"]
    args.out.mkdir(parents=True, exist_ok=True)
    {"run": cmd_run, "rho": cmd_rho, "query": cmd_query, "report": cmd_report}[args.step](args)


if __name__ == "__main__":
    main()
