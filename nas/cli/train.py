"""``nas train``: train an architecture over seeds and report mean ± 95% CI (``nas transfer`` shares it).

Output directory (``--out runs/NAME``)::

    config.json            preset, data set summary, command options
    genotype.json          the genotype trained (after the preset's cells/width and the data set's
                           classes and size)
    seed<S>/               one run: checkpoint.pt (every epoch), metrics.csv, metrics.parquet,
                           tb/ (TensorBoard scalars), result.json
    results.csv/.parquet   one row per seed
    summary.json           mean, standard deviation and 95% confidence half-width per metric
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from nas.cli.inspect import ARCH_HELP
from nas.cli.options import add_data_dir, add_format, add_out, add_quiet, add_sets, command, finish
from nas.core.genotype import Network
from nas.core.resolve import resolve
from nas.data.datasets import load_dataset
from nas.stats import mean_ci
from nas.train.presets import Preset, apply_preset, get_preset, preset_names
from nas.train.trainer import Trainer, check_device, check_trainable, fit_genotype

SUMMARY_METRICS = (
    "test_top1", "test_top5", "test_loss", "val_top1", "val_top5", "val_loss", "train_top1",
    "train_loss", "train_seconds", "images_per_second", "data_wait_fraction", "peak_memory_mb",
)  # fmt: skip

# Flags that override one preset field each (the rest through --set FIELD=VALUE).
_PRESET_FLAGS = ("epochs", "batch_size", "lr", "image_size", "test_image_size", "train_subset", "val_size")
_PRESET_FLAGS += ("cells", "width")


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in SUMMARY_METRICS:
        vals = [r.get(k) for r in results]
        if any(v is not None for v in vals):
            out[k] = mean_ci(vals)
    first = results[0] if results else {}
    out.update({k: first.get(k) for k in ("name", "dataset", "params", "aux_params", "macs", "epochs")})
    out["seeds"] = [r["seed"] for r in results]
    return out


def _fmt(s: dict[str, Any], key: str, unit: str = "%") -> str | None:
    m = s.get(key)
    if not m or m["mean"] is None:
        return None
    text = f"{m['mean']:.2f}{unit}"
    if m["ci95"] is not None:
        text = f"{m['mean']:.2f} ± {m['ci95']:.2f}{unit} (95% CI, n={m['n']})"
    return text


# ----------------------------------------------------------------------------------------------------
# the options nas train and nas transfer share


def add_train_options(p: argparse.ArgumentParser, default_preset: str) -> None:
    p.add_argument(
        "--preset",
        default=default_preset,
        choices=preset_names(),
        help=f"fidelity preset (default: {default_preset})",
    )
    add_data_dir(p, "local data (directory or .tar/.tar.gz)", old=())
    p.add_argument("--cache-dir", type=Path, default=None, help="downloads and decoded arrays (~/.cache/nas)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the preset's)")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size (default: the preset's)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the preset's)")
    p.add_argument("--train-subset", type=str, default=None, help="class-balanced subset size ('none': all)")
    p.add_argument("--val-size", type=str, default=None, help="validation images from train (count/fraction)")
    p.add_argument("--image-size", type=int, default=None, help="training resolution")
    p.add_argument("--test-image-size", type=int, default=None, help="evaluation resolution (FixRes)")
    p.add_argument(
        "--cells", type=str, default=None, help="total stage cells ('none': as written / the layout's)"
    )
    p.add_argument(
        "--width", type=str, default=None, help="first stage width C ('none': as written / the layout's)"
    )
    p.add_argument("--num-classes", type=int, default=None, help="classes the network must have")
    add_sets(
        p,
        "override any preset field (repeatable), e.g. --set cutout=16 --set schedule=onecycle",
        json_values=False,
    )
    p.add_argument("--seeds", type=int, default=1, help="number of seeds (reports mean ± 95%% CI)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--compile", action="store_true", help="torch.compile the network")
    add_out(p, "output directory, e.g. runs/NAME")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoints")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    p.add_argument("--dry-run", action="store_true", help="print what would be trained and stop")
    add_quiet(p, "no progress bars", old=("--no-progress",))
    add_format(p, old_json=True)


def preset_from(args: argparse.Namespace) -> Preset:
    over: dict[str, Any] = dict(args.set)
    over.update({k: getattr(args, k) for k in _PRESET_FLAGS if getattr(args, k) is not None})
    if args.compile:
        over["compile"] = True
    if args.seeds < 1:
        raise ValueError("--seeds must be >= 1")
    return get_preset(args.preset, **over)


_RUN_FILES = ("config.json", "genotype.json", "summary.json", "results.csv", "results.parquet")


def check_out(out: Path, resume: bool, overwrite: bool) -> bool:
    """Whether ``out`` holds a previous run, after refusing what cannot work (before any data is read)."""
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    previous = out.is_dir() and (
        any((out / f).exists() for f in _RUN_FILES) or any(out.glob("seed*/checkpoint.pt"))
    )
    if previous and not (resume or overwrite):
        raise ValueError(
            f"{out} already holds a run; pass --resume to continue it or --overwrite to replace it"
        )
    return previous


def prepare_out(out: Path, resume: bool, overwrite: bool) -> None:
    previous = check_out(out, resume, overwrite)
    if previous and overwrite:
        for f in _RUN_FILES:
            (out / f).unlink(missing_ok=True)
        for d in out.glob("seed*"):
            if d.is_dir():
                shutil.rmtree(d)
    out.mkdir(parents=True, exist_ok=True)


def check_classes(expected: int | None, ds_classes: int, what: str, dataset: str) -> None:
    if expected is None or expected == ds_classes:
        return
    if what.startswith("--num-classes"):
        raise ValueError(
            f"--num-classes {expected} does not match data set {dataset}, which has {ds_classes} classes"
        )
    raise ValueError(
        f"{what} has {expected} classes but data set {dataset} has {ds_classes}; "
        f"pass --num-classes {ds_classes} to retrain its classifier for them"
    )


def setup(args: argparse.Namespace) -> None:
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    check_device(args.device)


# ----------------------------------------------------------------------------------------------------
# training over seeds


def run_training(
    genotype: Any,
    ds: Any,
    preset: Any,
    args: argparse.Namespace,
    extra: dict[str, Any] | None = None,
    prepare: bool = True,
) -> list[dict[str, Any]]:
    """Train ``genotype`` on ``ds`` for every seed, write the outputs, print the summary."""
    out: Path = args.out
    if prepare:
        prepare_out(out, args.resume, args.overwrite)
    (out / "genotype.json").write_text(genotype.to_json(indent=1) + "\n")
    config = {
        "arch": args.arch,
        "preset": preset.to_dict(),
        "data": ds.summary(),
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "device": args.device,
        **(extra or {}),
    }
    (out / "config.json").write_text(json.dumps(config, indent=1, default=str) + "\n")
    base = preset.train_config()
    results = []
    try:
        for s in range(args.seed, args.seed + args.seeds):
            if not args.quiet:
                print(f"== {genotype.name} on {ds.name}, seed {s} → {out / f'seed{s}'}", file=sys.stderr)
            trainer = Trainer(
                genotype,
                ds,
                replace(base, seed=s),
                device=args.device,
                out_dir=out / f"seed{s}",
                resume=args.resume,
                progress=not args.quiet,
            )
            results.append(trainer.fit())
    except KeyboardInterrupt:
        print(
            f"nas: interrupted; finished epochs are checkpointed in {out} (continue with --resume)",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    _write_results(out, results, ds.name, args.format)
    return results


def _write_results(out: Path, results: list[dict[str, Any]], dataset: str, fmt: str) -> None:
    flat = [{k: v for k, v in r.items() if not isinstance(v, dict | list)} for r in results]
    pd.DataFrame(flat).to_csv(out / "results.csv", index=False)
    pd.DataFrame(flat).to_parquet(out / "results.parquet", index=False)
    summary = summarize(results)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if fmt == "json":
        print(json.dumps(summary, indent=1))
        return
    lines = [f"{summary['name']} on {dataset}: {len(results)} seed(s), {summary['epochs']} epochs"]
    for key, label in (("test_top1", "test top-1"), ("test_top5", "test top-5"), ("val_top1", "val top-1")):
        text = _fmt(summary, key)
        if text:
            lines.append(f"  {label:11s} {text}")
    ips = summary.get("images_per_second", {}).get("mean")
    macs = summary.get("macs")
    lines.append(
        f"  params {summary['params'] / 1e6:.3f}M"
        + (f", MACs {macs / 1e6:.1f}M" if macs else "")
        + (f", {ips:.0f} img/s" if ips else "")
    )
    lines.append(f"  outputs in {out}")
    print("\n".join(lines))


def print_plan(genotype: Any, ds: Any, preset: Any, args: argparse.Namespace, **extra: Any) -> None:
    d = check_trainable(genotype, preset.batch_size, args.device)  # a dry run refuses what training would
    plan = {
        "would_train": genotype.name,
        "cells": genotype.num_cells,
        "params": d["params"],
        "macs": d["macs"],
        "aux_heads": len(genotype.aux),
        "input_size": list(genotype.input_size),
        "num_classes": genotype.num_classes,
        "data": ds.summary(),
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "preset": preset.to_dict(),
        **extra,
    }
    print(json.dumps(plan, indent=1, default=str))


# ----------------------------------------------------------------------------------------------------
# nas train


def _expected_classes(arch: str, num_classes: int | None) -> tuple[int | None, str]:
    """The class count the user committed to: --num-classes, else a genotype file's own (a zoo name's
    class count is only a default and follows the data set)."""
    if num_classes is not None:
        return num_classes, f"--num-classes {num_classes}"
    if arch.endswith(".json") or "/" in arch:
        g = resolve(arch)
        return getattr(g, "num_classes", None), f"genotype {arch}"
    return None, arch


def _train(args: argparse.Namespace) -> None:
    setup(args)
    preset = preset_from(args)
    if args.out is None and not args.dry_run:
        raise ValueError("--out is required (e.g. --out runs/NAME)")
    if args.out is not None and not args.dry_run:
        check_out(args.out, args.resume, args.overwrite)
    net = resolve(args.arch)
    if not isinstance(net, Network):
        raise ValueError(f"{args.arch} is a single cell; nas train takes a network")
    expected, what = _expected_classes(args.arch, args.num_classes)
    where = args.dataset + (f" ({args.data_dir})" if args.data_dir is not None else "")
    ds = load_dataset(
        args.dataset,
        args.data_dir,
        cache_dir=args.cache_dir,
        num_classes=expected if args.dataset == "synthetic" else None,
        check_classes=lambda k: check_classes(expected, k, what, where),
        **preset.data_options(),
    )
    notes: list[str] = []
    net = apply_preset(net, preset, notes)
    if notes and args.format != "json":
        print("; ".join(notes) + " (--cells none --width none: train it as written)", file=sys.stderr)
    genotype = fit_genotype(net, ds.num_classes, ds.image_size, aux=preset.aux_weight > 0)
    if args.dry_run:
        print_plan(genotype, ds, preset, args)
        return
    run_training(genotype, ds, preset, args)


def add_parser(sub: Any) -> None:
    """Register ``nas train``."""
    t = command(
        sub,
        "train",
        help="train an architecture on a data set (mean ± 95%% CI over seeds)",
        description="Train a zoo name or genotype JSON over seeds; metrics and checkpoints go to --out.",
        example="nas train resnet20 --dataset cifar10 --preset small --seeds 3 --out runs/resnet20",
    )
    t.add_argument("arch", help=ARCH_HELP)
    t.add_argument(
        "--dataset",
        default="cifar10",
        help="cifar10 (default), cifar100, imagefolder (with --data-dir), synthetic, or a path",
    )
    add_train_options(t, "small")
    finish(t, _train)
