"""``nas final``: train a run's top candidates with a target preset; record proxy → target agreement."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas.search.final import DEFAULT_TARGET_PRESET, Transfer, final_train, format_agreement


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "final", help="train a run's top candidates with a target preset; record proxy → target agreement"
    )
    p.add_argument("run", type=Path, help="a run directory (runs/NAME)")
    p.add_argument("--top", type=int, required=True, help="how many distinct best candidates to train")
    p.add_argument(
        "--preset", default=DEFAULT_TARGET_PRESET, help=f"target preset (default {DEFAULT_TARGET_PRESET})"
    )
    p.add_argument("--dataset", default=None, help="data set (default: the run's training objective's)")
    p.add_argument("--data", "--data-dir", dest="data", default=None, help="data set path")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a preset field (repeatable), e.g. --set epochs=20",
    )
    p.add_argument("--seeds", type=int, default=1, help="seeds per candidate (0 … N-1; default 1)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1, …")
    p.add_argument(
        "--transfer",
        default=None,
        metavar="LAYOUT",
        help="train each candidate's cells in an ImageNet layout (darts, nasnet_mobile, N@F), as nas "
        "transfer builds them (NASNet/DARTS-style spaces)",
    )
    p.add_argument("--quiet", action="store_true", help="no per-candidate progress lines")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cli)


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ValueError(f"--set takes FIELD=VALUE, got {item!r}")
        out[k.strip().replace("-", "_")] = v.strip()
    return out


def _imagenet_layout(layout: str) -> Transfer:
    """``nas transfer``'s ImageNet stacking of a candidate's cells. The CLI is the top layer: it may
    import the search spaces' layout logic, which nas core must not (hence the lazy import)."""
    from search_spaces.transfer import parse_layout, to_imagenet

    parse_layout(layout, 1)  # fail before training: an unknown name raises a ValueError listing them

    def to_target(net: Any, num_classes: int, image_size: int, preset: Any) -> Any:
        return to_imagenet(
            net,
            layout=layout,
            cells=int(preset.cells) if preset.cells else None,
            width=int(preset.width) if preset.width else None,
            num_classes=num_classes,
            image_size=image_size,
            auxiliary=preset.aux_weight > 0,
        )

    return to_target


def _cli(args: argparse.Namespace) -> None:
    try:
        s = final_train(
            args.run,
            top=args.top,
            preset=args.preset,
            dataset=args.dataset,
            data=args.data,
            overrides=parse_sets(args.set),
            seeds=args.seeds,
            device=None if args.device in (None, "auto") else args.device,
            quiet=args.quiet,
            transfer=(args.transfer, _imagenet_layout(args.transfer)) if args.transfer else None,
        )
    except KeyboardInterrupt:
        print("nas: interrupted; finished trainings are in final.csv (rerun to continue)", file=sys.stderr)
        raise SystemExit(130) from None
    if args.json:
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
