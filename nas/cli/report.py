"""``nas report``: summarise a run and how well its scores agree with targets and truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.cli.options import add_format, command, finish
from nas.search.report import format_report, report
from nas.truth import DEFAULT_ARCH_COLUMN, DEFAULT_TARGET_COLUMN


def add_parser(sub: Any) -> None:
    """Register ``nas report``."""
    p = command(
        sub,
        "report",
        help="summarise a run and how well its scores agree with targets/truth",
        example="nas report runs/nb201 --truth nb201.csv --top 5",
    )
    p.add_argument("run", type=Path, help="a run directory (runs/NAME)")
    p.add_argument("--truth", type=Path, default=None, help="ground-truth CSV (an arch and a score column)")
    p.add_argument(
        "--arch-column",
        default=DEFAULT_ARCH_COLUMN,
        help=f"truth table arch column (default: {DEFAULT_ARCH_COLUMN})",
    )
    p.add_argument(
        "--target-column", default=None, help=f"truth table score column (default: {DEFAULT_TARGET_COLUMN})"
    )
    p.add_argument("--top", type=int, default=10, help="trials listed (default: 10)")
    add_format(p)
    finish(p, _cli)


def _cli(args: argparse.Namespace) -> None:
    rep = report(
        args.run,
        truth=args.truth,
        arch_column=args.arch_column,
        target_column=args.target_column,
        top=args.top,
    )
    print(json.dumps(rep, indent=1) if args.format == "json" else format_report(rep))
