"""``nas calibrate``: rank fidelity and cost of proxies against a ground-truth table.

The ground-truth table and the images have no default inside the project: give ``--truth`` and
``--data-dir``, or set ``NAS_TRUTH`` and ``NAS_DATA`` once for a shell.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nas.calibration.calibrate import CalibrationConfig, run_calibration
from nas.calibration.evaluators import DEFAULT_ZERO_COST, parse_proxy_list
from nas.calibration.halving import format_halving, halving_report
from nas.calibration.journal import journal_path
from nas.calibration.outputs import format_table, write_outputs
from nas.calibration.results import Calibration
from nas.calibration.supernet import supernet_name, supernet_scorer
from nas.cli.options import (
    add_data_dir,
    add_format,
    add_out,
    add_quiet,
    add_truth_columns,
    command,
    deprecated,
    finish,
    from_env,
    positive_int,
)
from nas.core.registry import SPACES
from nas.oneshot.store import read_meta
from nas.train.trainer import check_device
from nas.truth import DEFAULT_TARGET_COLUMN, load_truth

TRUTH_ENV, DATA_ENV = "NAS_TRUTH", "NAS_DATA"


def add_parser(sub: Any) -> None:
    """Register ``nas calibrate`` on the CLI's subparsers."""
    c = command(
        sub,
        "calibrate",
        help="rank fidelity (Spearman, Kendall, top-10%%) and cost of proxies against a ground-truth table",
        example=[
            "nas calibrate --truth nb201.csv --data-dir cifar10.tar.gz --proxies synflow,naswot --sample 200",
            "NAS_TRUTH=nb201.csv nas calibrate --preset tiny:epochs=4 --out calib --name tiny4",
        ],
    )
    c.add_argument(
        "--space", default="nb201", choices=SPACES.list(), help="search space of the table (default: nb201)"
    )
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
        help="a training preset to calibrate, with optional overrides that become part of its name in the "
        "results (repeatable), e.g. tiny:epochs=4,image_size=16",
    )
    c.add_argument(
        "--truth",
        type=Path,
        default=from_env(TRUTH_ENV),
        help=f"ground-truth CSV (an arch and a score column); required unless ${TRUTH_ENV} names one",
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
    _add_supernet(c)
    c.add_argument(
        "--repeats",
        type=int,
        default=1,
        metavar="N",
        help="train every preset N times per architecture (seeds SEED, SEED+1, ...): report each "
        "(PRESET, PRESET#2, ...) and the seed-averaged PRESET*N, which --ensemble may name (default: 1)",
    )
    add_truth_columns(c, target_default=DEFAULT_TARGET_COLUMN)
    c.add_argument("--sample", type=int, default=100, help="architectures to evaluate (seeded sample)")
    c.add_argument("--seed", type=int, default=0, help="seeds the sample, the minibatch and the weights")
    add_data_dir(
        c,
        f"images (ImageFolder .tar.gz or folder) for data-dependent proxies and training presets (default: "
        f"${DATA_ENV}; without either, presets train on downloaded CIFAR-10)",
        default=from_env(DATA_ENV),
    )
    batch = c.add_argument(
        "--proxy-batch", type=int, default=64, help="images in the zero-cost proxies' minibatch (default: 64)"
    )
    deprecated(c, batch, "--batch-size")
    _add_execution(c)
    finish(c, _cli, batch_size="--proxy-batch", data="--data-dir", ensembles="--ensemble", journal="--out")


def _add_supernet(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--supernet",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a trained SPOS / ENAS supernet (a nas oneshot run's DIR/supernet, repeatable): rank by "
        "inherited-weight validation top-1, BatchNorm recalibrated per architecture; reported as "
        "supernet:NAME",
    )
    c.add_argument(
        "--calib-batches",
        type=positive_int,
        default=4,
        help="--supernet: training batches re-estimating BatchNorm statistics per architecture (default: 4)",
    )


def _add_execution(c: argparse.ArgumentParser) -> None:
    c.add_argument("--threads", type=int, default=1, help="torch threads while measuring (default: 1)")
    c.add_argument(
        "--workers",
        type=int,
        default=1,
        help="train candidates in this many worker processes, --threads each (default: 1); "
        "CPU-seconds per candidate stay per process, scores do not change",
    )
    c.add_argument(
        "--device",
        default="auto",
        help="where training presets train: auto (default: CUDA when available), cpu, cuda, cuda:1; "
        "on a GPU the wall_s_per_candidate column is the GPU-seconds per candidate (zero-cost proxies "
        "stay on the CPU)",
    )
    add_out(c, "write NAME.csv/.json/.png here", old=("-o", "--output-dir"))
    c.add_argument("--name", default="calibration", help="output file stem (default: calibration)")
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: training results already in --out's NAME.journal.jsonl "
        "are not trained again (the run's sample, seed, presets and device must be the same)",
    )
    c.add_argument(
        "--overwrite", action="store_true", help="discard an unfinished run's journal and start again"
    )
    add_format(c)
    add_quiet(c, "no progress lines on stderr")


def _names(args: argparse.Namespace) -> list[str]:
    """The proxies and presets to calibrate: ``--proxies`` (default: the zero-cost set, or none when a
    ``--preset`` is given) and then every ``--preset``."""
    if args.proxies is None:
        names = [] if args.preset or args.supernet else list(DEFAULT_ZERO_COST)
    else:
        names = parse_proxy_list(args.proxies)
    return names + [p.strip() for p in args.preset]


def _config(args: argparse.Namespace) -> CalibrationConfig:
    """The run's settings, checked before any work: the command line's own rules here, every other
    setting by :class:`CalibrationConfig` (its ``ConfigError`` names the flag)."""
    if args.truth is None:
        raise ValueError(f"--truth is required (a ground-truth CSV), or set {TRUTH_ENV}")
    if args.proxy_batch < 2:
        raise ValueError(f"--proxy-batch must be at least 2, got {args.proxy_batch}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out, where the run's journal is")
    config = CalibrationConfig(
        truth=args.truth,
        space=args.space,
        proxies=tuple(_names(args)),
        arch_column=args.arch_column,
        target_column=args.target_column,
        sample=args.sample,
        seed=args.seed,
        data=args.data_dir,
        batch_size=args.proxy_batch,
        threads=args.threads,
        device=args.device,
        ensembles=tuple(args.ensemble),
        rungs=args.rungs,
        journal=journal_path(args.out, args.name) if args.out is not None else None,
        resume=args.resume,
        workers=args.workers,
        repeats=args.repeats,
        external=tuple(supernet_name(d) for d in args.supernet),
    )
    for d in args.supernet:
        if (space := read_meta(d).space) != args.space:
            raise ValueError(f"--supernet {d}: a supernet of space {space!r}, not --space {args.space!r}")
    check_device(args.device)
    load_truth(args.truth, args.arch_column, args.target_column)  # a bad table fails before --overwrite
    return config


def _calibrate(args: argparse.Namespace, config: CalibrationConfig) -> Calibration:
    journal = config.journal
    if journal is not None and args.overwrite:
        journal.unlink(missing_ok=True)
    device = None if args.device == "auto" else args.device
    external = {
        supernet_name(d): supernet_scorer(d, calib_batches=args.calib_batches, device=device)
        for d in args.supernet
    }
    try:
        return run_calibration(
            config,
            external=external,
            progress=None if args.quiet else lambda m: print(m, file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt:
        where = f"; finished trainings are journaled in {journal} (continue with --resume)"
        print(f"nas: interrupted{where if journal is not None and journal.exists() else ''}", file=sys.stderr)
        raise SystemExit(130) from None


def _cli(args: argparse.Namespace) -> None:
    config = _config(args)
    cal = _calibrate(args, config)
    summary = cal.summary()
    halving = halving_report(cal) if config.rungs is not None else None
    if args.format == "json":
        out: Any = summary if halving is None else {"summary": summary, "successive_halving": halving}
        print(json.dumps(out, indent=1))
    else:
        print(format_table(summary))
        if halving is not None:
            print(f"\nsuccessive halving on the rungs ({len(cal.archs)} archs; async: mean of 500 orders)")
            print(format_halving(halving))
    if args.out is not None:
        for p in write_outputs(cal, args.out, args.name).values():
            print(p, file=sys.stderr)
        if config.journal is not None:
            config.journal.unlink(missing_ok=True)  # the JSON now holds every result
