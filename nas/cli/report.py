"""``nas report``: summarise a run, how well its scores agree with targets and truth, and write report.html
(one self-contained page) and report.md (+ its figures in report/) into the run directory."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from nas.cli.options import add_format, add_quiet, add_truth_columns, command, finish, non_negative_int
from nas.report.build import FOLDER, Written, write_report
from nas.report.load import load_run
from nas.report.watch import watch
from nas.search.report import format_report, report


def _seconds(text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return s


def add_parser(sub: Any) -> None:
    """Register ``nas report``."""
    p = command(
        sub,
        "report",
        help="summarise a run (text), write report.html and report.md with figures into the run directory",
        example=[
            "nas report runs/nb201 --truth nb201.csv --top 5",
            "nas report runs/nb201 --watch 30    # rewrite the page every 30 s while the search runs",
        ],
    )
    p.add_argument("run", type=Path, help="a run directory (runs/NAME)")
    p.add_argument("--truth", type=Path, default=None, help="ground-truth CSV (an arch and a score column)")
    add_truth_columns(p)
    p.add_argument(
        "--top", type=int, default=10, help="trials listed, and found architectures tabled (default: 10)"
    )
    p.add_argument(
        "--cells",
        type=non_negative_int,
        default=3,
        metavar="K",
        help="draw the cells of the K best candidates (default: 3)",
    )
    p.add_argument(
        "--no-files", action="store_true", help="print the summary only: write no report.html / report.md"
    )
    p.add_argument(
        "--watch",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="rewrite the report every SECONDS while the run goes on (the page reloads itself); stops when "
        "the run has finished, or on Ctrl-C",
    )
    add_quiet(p, "no line on stderr about the files written")
    add_format(p)
    finish(p, _cli)


def _cli(args: argparse.Namespace) -> None:
    if args.no_files and args.watch is not None:
        raise ValueError("--watch rewrites the report files: it cannot be combined with --no-files")
    options = {"truth": args.truth, "arch_column": args.arch_column, "target_column": args.target_column}
    if args.no_files:
        rep = report(args.run, top=args.top, **options)
        print(json.dumps(rep, indent=1) if args.format == "json" else format_report(rep))
        return
    load_run(args.run)  # a missing or broken file: one line naming it, before any work

    def write(refresh_s: float | None) -> Written:
        return write_report(args.run, top=args.top, cells=args.cells, refresh_s=refresh_s, **options)

    def said(w: Written) -> None:
        if not args.quiet:
            state = "finished" if w.finished else "running"
            print(
                f"nas: wrote {w.html} and {w.markdown.name} (+{len(w.figures)} figures in {FOLDER}/; "
                f"{w.trials} trials, {state})",
                file=sys.stderr,
                flush=True,
            )

    last = write(None) if args.watch is None else watch(args.run, write, args.watch, on_write=said)
    if args.watch is None:
        said(last)
    if last is not None:  # None: Ctrl-C before the first report
        print(json.dumps(last.data, indent=1) if args.format == "json" else last.summary)
