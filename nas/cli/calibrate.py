"""``nas calibrate``: rank fidelity and cost of proxies against a ground-truth table."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from nas.calibration.calibrate import (
    DEFAULT_ARCH_COLUMN,
    DEFAULT_DATA,
    DEFAULT_TARGET_COLUMN,
    DEFAULT_TRUTH,
    DEFAULT_ZERO_COST,
    calibrate,
    format_halving,
    format_table,
    halving_report,
    load_truth,
    parse_ensemble,
    parse_proxy_list,
    parse_rungs,
    rung_schedule,
    split_proxies,
    write_outputs,
)


def add_parser(sub: Any) -> None:
    """Register ``nas calibrate`` on the CLI's subparsers."""
    c = sub.add_parser(
        "calibrate",
        help="rank fidelity (Spearman, Kendall, top-10%%) and cost of proxies against a ground-truth table",
    )
    c.add_argument("--space", default="nb201", help="search space (default: nb201)")
    c.add_argument(
        "--proxies",
        default=None,
        help="comma-separated zero-cost proxies and/or training preset names "
        f"(default: {','.join(DEFAULT_ZERO_COST)}, or none when --preset is given)",
    )
    c.add_argument(
        "--preset",
        action="append",
        default=[],
        metavar="NAME[:FIELD=VALUE,...]",
        help="a training preset to calibrate, with optional overrides (repeatable), "
        "e.g. tiny:epochs=4,image_size=16",
    )
    c.add_argument(
        "--truth", type=Path, default=DEFAULT_TRUTH, help=f"ground-truth CSV (default: {DEFAULT_TRUTH})"
    )
    c.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="A+B",
        help="also report the rank ensemble of listed proxies/presets (repeatable), e.g. synflow+tiny",
    )
    c.add_argument(
        "--rungs",
        default=None,
        metavar="E1,E2,...",
        help="multi-fidelity: train each preset once and score it after these epochs too (e.g. 1,2,3,4,6; "
        "the preset's last epoch is always one), report each rung as PRESET@EPOCH and simulate "
        "successive halving / ASHA (eta 2 and 3, every grace period) on them",
    )
    c.add_argument("--arch-column", default=DEFAULT_ARCH_COLUMN)
    c.add_argument("--target-column", default=DEFAULT_TARGET_COLUMN)
    c.add_argument("--sample", type=int, default=100, help="architectures to evaluate (seeded sample)")
    c.add_argument("--seed", type=int, default=0, help="seeds the sample, the minibatch and the weights")
    c.add_argument("--data", type=Path, default=DEFAULT_DATA, help="images (ImageFolder .tar.gz or folder)")
    c.add_argument("--batch-size", type=int, default=64, help="minibatch of the zero-cost proxies")
    c.add_argument("--threads", type=int, default=1, help="torch threads while measuring (default 1)")
    c.add_argument(
        "--workers",
        type=int,
        default=1,
        help="train candidates in this many worker processes, --threads each (default 1); "
        "CPU-seconds per candidate stay per process, scores do not change",
    )
    c.add_argument(
        "--device",
        default="auto",
        help="where training presets train: auto (default: CUDA when available), cpu, cuda, cuda:1; "
        "on a GPU the wall_s_per_candidate column is the GPU-seconds per candidate (zero-cost proxies "
        "stay on the CPU)",
    )
    c.add_argument("-o", "--output-dir", type=Path, default=None, help="write NAME.csv/.json/.png here")
    c.add_argument("--name", default="calibration", help="output file stem (default: calibration)")
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: training results already in -o's NAME.journal.jsonl "
        "are not trained again (the run's sample, seed, presets and device must be the same)",
    )
    c.add_argument(
        "--overwrite", action="store_true", help="discard an unfinished run's journal and start again"
    )
    c.add_argument("--format", choices=("table", "json"), default="table")
    c.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    c.set_defaults(func=_cli)


def _cli(args: Any) -> None:
    if args.proxies is None:
        names = [] if args.preset else list(DEFAULT_ZERO_COST)
    else:
        names = parse_proxy_list(args.proxies)
    names += [p.strip() for p in args.preset]
    if len(set(names)) != len(names):
        raise ValueError(f"proxy listed twice in {', '.join(names)}")
    split_proxies(names)  # unknown names fail before any work
    if args.sample < 2:
        raise ValueError(f"--sample must be at least 2, got {args.sample}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.batch_size < 2:
        raise ValueError(f"--batch-size must be at least 2, got {args.batch_size}")
    for e in args.ensemble:
        parse_ensemble(e, names)
    from nas.train.trainer import check_device

    check_device(args.device)
    rungs = None
    if args.rungs is not None:
        rungs = parse_rungs(args.rungs)
        train = split_proxies(names)[1]
        if not train:
            raise ValueError("--rungs needs a training preset to score per epoch (e.g. --preset rank)")
        for n in train:
            rung_schedule(n, rungs)
    load_truth(args.truth, args.arch_column, args.target_column)  # fail fast on file / columns
    from nas.calibration.journal import journal_path

    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    if args.resume and args.output_dir is None:
        raise ValueError("--resume needs -o/--output-dir, where the run's journal is")
    journal = journal_path(args.output_dir, args.name) if args.output_dir is not None else None
    if journal is not None and args.overwrite:
        journal.unlink(missing_ok=True)
    try:
        cal = calibrate(
            args.space,
            names,
            args.truth,
            arch_column=args.arch_column,
            target_column=args.target_column,
            sample=args.sample,
            seed=args.seed,
            data=args.data,
            batch_size=args.batch_size,
            threads=args.threads,
            device=args.device,
            ensembles=args.ensemble,
            progress=None if args.quiet else lambda m: print(m, file=sys.stderr, flush=True),
            rungs=rungs,
            journal=journal,
            resume=args.resume,
            workers=args.workers,
        )
    except KeyboardInterrupt:
        where = f"; finished trainings are journaled in {journal} (continue with --resume)"
        print(f"nas: interrupted{where if journal is not None and journal.exists() else ''}", file=sys.stderr)
        raise SystemExit(130) from None
    summary = cal.summary()
    halving = halving_report(cal) if rungs is not None else None
    if args.format == "json":
        out: Any = summary if halving is None else {"summary": summary, "successive_halving": halving}
        print(json.dumps(out, indent=1))
    else:
        print(format_table(summary))
        if halving is not None:
            print(f"\nsuccessive halving on the rungs ({len(cal.archs)} archs; async: mean of 500 orders)")
            print(format_halving(halving))
    if args.output_dir is not None:
        for p in write_outputs(cal, args.output_dir, args.name).values():
            print(p, file=sys.stderr)
        if journal is not None:
            journal.unlink(missing_ok=True)  # the JSON now holds every result
