"""``nas report``: summarise a run and how well its scores agree with targets and truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.search.report import format_report, report


def add_parser(sub: Any) -> None:
    """Register ``nas report``."""
    p = sub.add_parser("report", help="summarise a run and how well its scores agree with targets/truth")
    p.add_argument("run", type=Path, help="a run directory (runs/NAME)")
    p.add_argument("--truth", type=Path, default=None, help="ground-truth CSV (an arch and a score column)")
    p.add_argument("--arch-column", default="arch", help="truth table arch column (default: arch)")
    p.add_argument(
        "--target-column", default=None, help="truth table score column (default: cifar10_test_acc_200ep)"
    )
    p.add_argument("--top", type=int, default=10, help="trials listed (default 10)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> None:
    rep = report(
        args.run,
        truth=args.truth,
        arch_column=args.arch_column,
        target_column=args.target_column,
        top=args.top,
    )
    print(json.dumps(rep, indent=1) if args.format == "json" else format_report(rep))
