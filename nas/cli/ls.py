"""``nas ls``: the runs in a directory, one line each (status, space, strategy, trials, best, budget)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.cli.options import add_format, command, finish
from nas.report.listing import format_lines, list_runs


def _cli(args: argparse.Namespace) -> None:
    lines = list_runs(args.runs)
    if args.format == "json":
        print(json.dumps([x.to_dict() for x in lines], indent=1))
    else:
        print(format_lines(lines))


def add_parser(sub: Any) -> None:
    """Register ``nas ls``."""
    p = command(
        sub,
        "ls",
        help="list runs: status (running, finished, interrupted, failed), space, strategy, trials, best",
        description="List the runs in a directory, one line each: status (running: a live driver; "
        "finished: stopped normally; failed: stopped by the circuit breaker; interrupted: killed or "
        "stopped early, resume it; corrupt (FILE): FILE does not parse), space, strategy, trials, best "
        "score and budget used. A directory that is not a run is skipped.",
        example=["nas ls", "nas ls runs/ --format json"],
    )
    p.add_argument(
        "runs",
        nargs="?",
        type=Path,
        default=Path("runs"),
        help="a directory of runs, or one run (default: runs)",
    )
    add_format(p)
    finish(p, _cli)
