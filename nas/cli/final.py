"""``nas final``: train a run's top candidates with a target preset; record proxy → target agreement."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nas.cli.options import add_data_dir, add_format, add_quiet, add_sets, command, finish
from nas.core.registry import LAYOUTS
from nas.search.final import DEFAULT_TARGET_PRESET, Transfer, final_train, format_agreement
from nas.train.presets import preset_names


def add_parser(sub: Any) -> None:
    """Register ``nas final``."""
    p = command(
        sub,
        "final",
        help="train a run's top candidates with a target preset; record proxy → target agreement",
        example="nas final runs/nb201 --top 5 --preset full --seeds 2 --set epochs=200",
    )
    p.add_argument("run", type=Path, help="a run directory (runs/NAME)")
    p.add_argument("--top", type=int, required=True, help="how many distinct best candidates to train")
    p.add_argument(
        "--preset",
        default=DEFAULT_TARGET_PRESET,
        choices=preset_names(),
        help=f"target preset (default: {DEFAULT_TARGET_PRESET})",
    )
    p.add_argument("--dataset", default=None, help="data set (default: the run's training objective's)")
    add_data_dir(p, "data set path (default: the run's training objective's)")
    add_sets(p, "override a target preset field (repeatable), e.g. --set epochs=20", json_values=False)
    p.add_argument("--seeds", type=int, default=1, help="seeds per candidate (0 … N-1; default: 1)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1, …")
    p.add_argument(
        "--transfer",
        default=None,
        metavar="LAYOUT",
        help="train each candidate's cells in an ImageNet layout (darts, nasnet_mobile, N@F), as nas "
        "transfer builds them (NASNet/DARTS-style spaces)",
    )
    add_quiet(p, "no per-candidate progress lines")
    add_format(p, old_json=True)
    finish(p, _cli, overrides="--set", data="--data-dir", image_size="--set image_size")


def _imagenet_layout(layout: str) -> Transfer:
    """``nas transfer``'s ImageNet stacking of a candidate's cells (the registered "imagenet" layouts)."""
    imagenet = LAYOUTS["imagenet"]
    imagenet(layout)  # fail before training: an unknown name raises a ValueError listing them

    def to_target(net: Any, num_classes: int, image_size: int, preset: Any) -> Any:
        to_imagenet = imagenet(
            layout,
            cells=int(preset.cells) if preset.cells else None,
            width=int(preset.width) if preset.width else None,
            auxiliary=preset.aux_weight > 0,
        )
        return to_imagenet(net, num_classes=num_classes, image_size=image_size)

    return to_target


def _cli(args: argparse.Namespace) -> None:
    try:
        s = final_train(
            args.run,
            top=args.top,
            preset=args.preset,
            dataset=args.dataset,
            data=args.data_dir,
            overrides=dict(args.set),
            seeds=args.seeds,
            device=None if args.device in (None, "auto") else args.device,
            quiet=args.quiet,
            transfer=(args.transfer, _imagenet_layout(args.transfer)) if args.transfer else None,
        )
    except KeyboardInterrupt:
        print("nas: interrupted; finished trainings are in final.csv (rerun to continue)", file=sys.stderr)
        raise SystemExit(130) from None
    if args.format == "json":
        print(json.dumps(s, indent=1, default=str))
        return
    lines = [
        f"run {s['run']}: {len(s['trained'])} trained, {s['skipped']} already done, "
        f"{len(s['failed'])} failed → {s['final_csv']}"
    ]
    if s["agreement"]:
        lines.append(format_agreement(s["agreement"]))
    print("\n".join(lines))
    if s["failed"]:
        raise SystemExit(1)
