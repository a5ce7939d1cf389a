"""``nas oneshot``: weight-sharing search — train a supernet of a space (SPOS, ENAS, DARTS, GDAS) and return a
member, in one run directory (see :mod:`nas.oneshot.run`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.cli.options import (
    add_data_dir,
    add_format,
    add_out,
    add_pairs,
    add_quiet,
    add_sets,
    command,
    finish,
    positive_int,
)
from nas.oneshot.layouts import LAYOUTS
from nas.oneshot.run import run_oneshot
from nas.oneshot.store import ALL_METHODS, DEFAULT_VAL_SIZE, METHOD_DEFAULTS, SupernetRun
from nas.search.strategies import STRATEGIES


def add_parser(sub: Any) -> None:
    """Register ``nas oneshot``."""
    p = command(
        sub,
        "oneshot",
        help="weight-sharing search: train a supernet (spos, enas, darts, gdas), then pick a member",
        example=[
            "nas oneshot --space nb201 --method spos --data-dir cifar10 --set epochs=50 --budget 200trials "
            "--out runs/spos",
            "nas oneshot --space darts --space-opt layers=8 --space-opt C=16 --method darts --out runs/darts",
            "nas oneshot --space nb201 --method enas --method-opt controller_steps=100 --out runs/enas",
        ],
    )
    p.add_argument("--space", required=True, choices=sorted(LAYOUTS), help="a space with a supernet layout")
    add_pairs(p, "--space-opt", "search-space option (repeatable), e.g. --space-opt C=16")
    p.add_argument("--method", choices=ALL_METHODS, default="spos", help="one-shot method (default: spos)")
    add_pairs(
        p,
        "--method-opt",
        "ENAS option (repeatable): controller_steps=N (controller samples per epoch, default 50), "
        "controller='{\"lr\": 0.01}' (strategy rl's options for the controller)",
    )
    p.add_argument("--dataset", default="cifar10", help="data set (default: cifar10)")
    add_data_dir(p, "data set path (directory or archive)")
    p.add_argument(
        "--val-size",
        type=float,
        default=None,
        help="validation images (count, or a fraction) taken from the training split: SPOS scores "
        "members on it, DARTS / GDAS train α on it (default: 0.1 for spos, 0.5 otherwise)",
    )
    p.add_argument("--train-subset", type=positive_int, default=None, help="train on a class-balanced subset")
    add_sets(p, "override a supernet training field (repeatable), e.g. --set epochs=10", json_values=True)
    p.add_argument(
        "--strategy",
        default=None,
        choices=tuple(STRATEGIES),
        help="SPOS / ENAS: strategy over the members (default: evolution; ENAS: rl from its controller)",
    )
    add_pairs(
        p, "--strategy-opt", "SPOS / ENAS: strategy option (repeatable), e.g. --strategy-opt population=20"
    )
    p.add_argument("--budget", default="100trials", help="SPOS / ENAS: search budget (default: 100trials)")
    p.add_argument(
        "--calib-batches",
        type=positive_int,
        default=4,
        help="SPOS / ENAS: training batches re-estimating BatchNorm statistics per member (default: 4)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the supernet, α and the strategy (default: 0)"
    )
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1, …")
    add_out(p, "run directory (default: runs/oneshot-SPACE-METHOD)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_quiet(p, "no progress on stderr")
    add_format(p)
    finish(
        p, _cli, train="--set", space_options="--space-opt", strategy_options="--strategy-opt",
        method_options="--method-opt",
    )  # fmt: skip


def _run(args: argparse.Namespace) -> SupernetRun:
    data: dict[str, Any] = {
        "dataset": args.dataset,
        "val_size": args.val_size if args.val_size is not None else DEFAULT_VAL_SIZE[args.method],
    }
    if args.data_dir is not None:
        data["data"] = str(Path(args.data_dir).expanduser().resolve())
    if args.train_subset is not None:
        data["train_subset"] = args.train_subset
    train = {**METHOD_DEFAULTS[args.method], "seed": args.seed, **dict(args.set)}
    return SupernetRun(args.method, args.space, dict(args.space_opt), train, data, dict(args.method_opt))


def _cli(args: argparse.Namespace) -> None:
    out = args.out or Path("runs") / f"oneshot-{args.space}-{args.method}"
    r = run_oneshot(
        out,
        _run(args),
        strategy=args.strategy,
        strategy_options=dict(args.strategy_opt),
        budget=args.budget,
        calib_batches=args.calib_batches,
        resume=args.resume,
        device=None if args.device in (None, "auto") else args.device,
        quiet=args.quiet,
    )
    if args.format == "json":
        print(json.dumps({k: v for k, v in r.items() if k != "supernet_history"}, indent=1, default=str))
        return
    found = r.get("arch") or json.dumps(r["choices"])
    print(
        f"{r['method']} on {r['space']}: supernet {r['supernet_epochs']} epochs in "
        f"{r['supernet_train_seconds']:.0f} s; found {found} ({r['none_edges']} none, {r['skip_edges']} skip "
        f"edges) → {r['genotype']}"
    )
