"""``nas compare``: several runs side by side — best-so-far curves, final bests, one HTML page."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from nas.cli.options import add_format, add_truth_columns, command, finish
from nas.report.compare import compare, format_table


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return v


def _cli(args: argparse.Namespace) -> None:
    c = compare(
        args.runs,
        out=args.out,
        truth=args.truth,
        optimum=args.optimum,
        arch_column=args.arch_column,
        target_column=args.target_column,
    )
    if args.format == "json":
        print(json.dumps(c.to_dict(), indent=1))
        return
    print(format_table(c.rows, c.optimum))
    print(f"wrote {c.files['html']} and {c.files['md']}")


def add_parser(sub: Any) -> None:
    """Register ``nas compare``."""
    p = command(
        sub,
        "compare",
        help="compare runs: overlaid best-so-far (or regret) curves and a table of final bests, as HTML",
        description="Compare two or more runs: best-so-far curves against trials and device-hours, overlaid "
        "(the regret optimum − best on a log axis with --truth or --optimum), and a table of each run's "
        "final best (from its best.json). Writes compare.html (self-contained, figures embedded), "
        "compare.md, compare.png and compare.json to --out and prints the table.",
        example=[
            "nas compare runs/nb201-evo runs/nb201-rand",
            "nas compare runs/a runs/b --truth nb201.csv --target-column val_acc --out runs/a-vs-b",
        ],
    )
    p.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN", help="run directories (runs/NAME), two or more"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write (default: compare-<names> next to the first run)",
    )
    known = p.add_mutually_exclusive_group()
    known.add_argument(
        "--truth",
        type=Path,
        default=None,
        metavar="CSV",
        help="ground-truth CSV whose best value is the optimum (regret)",
    )
    known.add_argument(
        "--optimum", type=_number, default=None, metavar="VALUE", help="the best score possible (regret)"
    )
    add_truth_columns(p)
    add_format(p)
    finish(p, _cli)
