"""``nas search`` and ``nas baselines``.

``nas search --space S --strategy X --budget B`` samples candidates from a registered space, evaluates them
(proxy training, a tabular benchmark or a synthetic score) through Ray Tune or inline, and writes
``runs/<name>/``; ``--resume runs/<name>`` continues a run. ``nas baselines`` evaluates zoo networks as trials
of a run (same trainer, same table, same ledger), so they compare like for like with search candidates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nas.search.objectives import DEFAULT_PRESET
from nas.search.run import DEFAULT_BASELINES, SearchConfig, load_config, run_search

_RESUMABLE = (
    "budget",
    "executor",
    "address",
    "num_cpus",
    "concurrency",
    "cpus_per_trial",
    "gpus_per_trial",
    "quiet",
)


def _kv(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        v: Any = json.loads(value)
    except json.JSONDecodeError:
        v = value
    return key.replace("-", "_"), v


def _default_gpus() -> float:
    try:
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0
    except ImportError:  # pragma: no cover
        return 0.0


def _add_common(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("objective")
    o.add_argument(
        "--objective",
        default=None,
        metavar="{train,table,zero-cost:PROXY,synthetic}",
        help="what a trial measures (default: train); zero-cost:synflow scores each candidate with a "
        "zero-cost proxy on one minibatch instead of training it",
    )
    o.add_argument("--table", type=Path, help="tabular benchmark CSV (NAS-Bench-201-style arch strings)")
    o.add_argument(
        "--arch-column", default="arch", help="table column holding the arch strings (default: arch)"
    )
    o.add_argument("--metric-column", help="table column holding the score (higher is better)")
    o.add_argument(
        "--table-cost-s",
        type=float,
        default=0.0,
        metavar="S",
        help="table objective: charge each trial S seconds as if it had been trained (what-if budgets)",
    )
    o.add_argument(
        "--dataset", default="cifar10", help="training objective: data set name (default: cifar10)"
    )
    o.add_argument(
        "--data-dir", "--data", dest="data", help="training objective: data set path (directory or archive)"
    )
    o.add_argument(
        "--preset",
        default=None,
        help=f"training objective: fidelity preset (default: {DEFAULT_PRESET}, tuned for rank fidelity)",
    )
    o.add_argument(
        "--train-opt",
        action="append",
        type=_kv,
        default=[],
        metavar="KEY=VALUE",
        help="training objective: override a preset field (repeatable)",
    )
    z = p.add_argument_group("zero-cost proxies")
    z.add_argument(
        "--zero-cost",
        default=None,
        metavar="PROXIES",
        help="also record these zero-cost proxies for every trial, as zc_<proxy> columns "
        "(e.g. synflow,naswot,params)",
    )
    z.add_argument(
        "--prescreen",
        default=None,
        metavar="PROXY:N",
        help="score N distinct candidates with a zero-cost proxy first and train the best --train-top "
        "of them before the strategy's proposals (e.g. synflow:1000)",
    )
    z.add_argument("--train-top", type=int, default=None, metavar="K", help="with --prescreen: train K")
    z.add_argument(
        "--proxy-batch", type=int, default=64, help="images in the zero-cost minibatch (default: 64)"
    )
    o.add_argument("--synthetic-sleep", type=float, default=0.0, help=argparse.SUPPRESS)
    o.add_argument("--synthetic-epochs", type=int, default=0, help=argparse.SUPPRESS)
    o.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure params and MACs of each candidate (default: for training, or when a cost is needed)",
    )

    e = p.add_argument_group("execution")
    e.add_argument("--executor", choices=("ray", "inline"), default=None, help="default: ray")
    e.add_argument("--address", default=None, help="join a running Ray cluster (HOST:PORT or 'auto')")
    e.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray started for the search")
    e.add_argument("--cpus-per-trial", type=float, default=None, help="default: 1")
    e.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="fractional GPUs per trial (default: 1 if a GPU is visible, else 0)",
    )
    e.add_argument(
        "--concurrency", type=int, default=None, help="trials at once (default: as resources allow)"
    )
    e.add_argument("--early-stop", choices=("asha",), default=None, help="ASHA on the per-epoch proxy score")
    e.add_argument(
        "--asha-opt",
        action="append",
        type=_kv,
        default=[],
        metavar="KEY=VALUE",
        help="ASHA: max_t, grace_period, reduction_factor",
    )

    r = p.add_argument_group("run")
    r.add_argument(
        "--budget",
        default=None,
        help="'100gpuh', '2cpuh' (device-hours), '30m', '2h' (wall time), '500trials'; "
        "comma-separate to combine",
    )
    r.add_argument("--name", default=None, help="run directory name (default: SPACE-STRATEGY-TIME)")
    r.add_argument("--runs-dir", default="runs", help="parent of run directories (default: runs)")
    r.add_argument("--seed", type=int, default=0, help="fixes everything random (default: 0)")
    r.add_argument("--resume", type=Path, default=None, metavar="DIR", help="continue the run in DIR")
    r.add_argument("--quiet", action="store_true", default=None, help="no live progress line")


def add_parser(sub: Any) -> None:
    s = sub.add_parser("search", help="search a space under a budget (Ray Tune or inline)")
    s.add_argument("--space", default=None, help="a registered search space (nb201, nasnet, darts, …)")
    s.add_argument(
        "--space-opt",
        action="append",
        type=_kv,
        default=[],
        metavar="KEY=VALUE",
        help="search-space option (repeatable)",
    )
    s.add_argument("--strategy", default=None, help="random, grid, evolution (default), rl, tpe, nsga2")
    s.add_argument(
        "--strategy-opt",
        action="append",
        type=_kv,
        default=[],
        metavar="KEY=VALUE",
        help="strategy option, e.g. population=50 sample=10 (evolution), lr=0.02 (rl), cost=params (nsga2)",
    )
    s.add_argument(
        "--seed-with",
        action="append",
        default=[],
        metavar="NAMES",
        help="evaluate these zoo names / genotype files first ('resnet20,densenet_bc')",
    )
    s.add_argument("--max-duplicates", type=int, default=200, help=argparse.SUPPRESS)
    _add_common(s)
    s.set_defaults(func=_search)

    b = sub.add_parser(
        "baselines", help="evaluate zoo networks as trials of a run (like for like with search)"
    )
    b.add_argument(
        "--archs",
        default=",".join(DEFAULT_BASELINES),
        help=f"zoo names or genotype files (default: {','.join(DEFAULT_BASELINES)})",
    )
    _add_common(b)
    b.set_defaults(func=_baselines)


def _objective(args: argparse.Namespace) -> dict[str, Any]:
    kind = args.objective or "train"
    data = str(Path(args.data).resolve()) if args.data else None
    if kind.startswith("zero-cost"):
        proxy = kind.partition(":")[2]
        if not proxy:
            raise ValueError("--objective zero-cost needs a proxy: zero-cost:synflow, zero-cost:naswot, …")
        return {"kind": "zero-cost", "proxy": proxy, "dataset": args.dataset, "data": data}
    if kind not in ("train", "table", "synthetic"):
        raise ValueError(
            f"unknown --objective {kind!r} (choose from train, table, zero-cost:PROXY, synthetic)"
        )
    if kind == "table":
        return {
            "kind": "table",
            "table": str(Path(args.table).resolve()) if args.table else None,
            "arch_column": args.arch_column,
            "metric_column": args.metric_column,
            "cost_s": args.table_cost_s,
        }
    if kind == "synthetic":
        return {"kind": "synthetic", "sleep": args.synthetic_sleep, "epochs": args.synthetic_epochs}
    return {
        "kind": "train",
        "dataset": args.dataset,
        "data": data,
        "preset": args.preset or DEFAULT_PRESET,
        "train_overrides": dict(args.train_opt),
    }


def _common_config(args: argparse.Namespace) -> dict[str, Any]:
    gpus = args.gpus_per_trial if args.gpus_per_trial is not None else _default_gpus()
    return dict(
        objective=_objective(args),
        budget=args.budget,
        executor=args.executor or "ray",
        address=args.address,
        num_cpus=args.num_cpus,
        name=args.name,
        runs_dir=args.runs_dir,
        seed=args.seed,
        cpus_per_trial=args.cpus_per_trial if args.cpus_per_trial is not None else 1.0,
        gpus_per_trial=gpus,
        concurrency=args.concurrency,
        early_stop=args.early_stop,
        asha=dict(args.asha_opt),
        profile=args.profile,
        quiet=bool(args.quiet),
        zero_cost=[n for n in (args.zero_cost or "").split(",") if n.strip()],
        proxy_batch=args.proxy_batch,
        prescreen=args.prescreen,
        train_top=args.train_top,
    )


def _resume_config(args: argparse.Namespace) -> SearchConfig:
    config = load_config(args.resume)
    for k in _RESUMABLE:
        v = getattr(args, k, None)
        if v is not None:
            setattr(config, k, v)
    for k in ("space", "strategy"):
        v = getattr(args, k, None)
        if v is not None and v != getattr(config, k):
            raise ValueError(f"run {str(args.resume)!r} was created with --{k} {getattr(config, k)}, not {v}")
    return config


def _execute(config: SearchConfig, resume: Path | None) -> None:
    try:
        search = run_search(config, resume=resume)
    except KeyboardInterrupt:
        print("nas: interrupted; continue with `nas search --resume <run directory>`", file=sys.stderr)
        raise SystemExit(130) from None
    s = search.summary()
    best = s["best"]
    where = s["run"]
    lines = [f"run {where}: {s['stop_reason'] or 'done'}"]
    lines.append(
        f"trials {s['trials']} (failed {s['failed']}, cached {s['cached']}); budget "
        f"{s['budget'] or '-'}; {s['gpu_hours']:.4g} gpuh, {s['cpu_hours']:.4g} cpuh, {s['elapsed_s']:.1f}s"
    )
    if best:
        label = best["arch"] or best["name"] or best["key"]
        from nas.search.report import format_score

        lines.append(f"best {format_score(best['score'])} (trial {best['trial_id']}): {label}")
    else:
        lines.append("best: none (no trial succeeded)")
    print("\n".join(lines))
    if search.stop_reason == "interrupted":
        raise SystemExit(130)


def _search(args: argparse.Namespace) -> None:
    if args.resume is not None:
        _execute(_resume_config(args), args.resume)
        return
    if not args.space:
        raise ValueError("nas search needs --space (or --resume DIR)")
    if not args.budget:
        raise ValueError("nas search needs --budget ('100gpuh', '2h', '500trials', …)")
    from nas.core.registry import SPACES

    SPACES.entry(args.space)  # unknown space: one line with suggestions
    strategy = args.strategy or "evolution"
    from nas.search.strategies import STRATEGIES

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    config = SearchConfig(
        space=args.space,
        space_options=dict(args.space_opt),
        strategy=strategy,
        strategy_options=dict(args.strategy_opt),
        seed_with=list(args.seed_with),
        max_duplicates=args.max_duplicates,
        **_common_config(args),
    )
    _execute(config, None)


def _baselines(args: argparse.Namespace) -> None:
    if args.resume is not None:
        _execute(_resume_config(args), args.resume)
        return
    archs = [a for a in args.archs.split(",") if a.strip()]
    if not archs:
        raise ValueError("--archs is empty")
    common = _common_config(args)
    if common["name"] is None:
        obj = common["objective"]
        common["name"] = f"baselines-{obj.get('dataset', obj['kind'])}-{obj.get('preset', '')}".rstrip("-")
    config = SearchConfig(space="", strategy=None, seed_with=archs, kind="baselines", **common)
    _execute(config, None)
