"""Training-step speed of zoo networks built from genotypes vs torchvision's own modules.

For each architecture, torchvision's builder and ``nas.build`` make the two networks; torchvision's weights
are transferred into ours (``nas.transfer``), so both compute the same function on the same batch. Each
timed block is ``--steps`` SGD steps (forward, cross-entropy, backward, step) on a fixed random batch;
the blocks alternate between the contenders, order flipped every round (ABBA), so that drifting machine
load hits both alike. The first block of each is a warm-up and is not counted.

The ratio is torchvision's time over ours per round (≥ 1: ours is as fast); the result is the median over
rounds, and the mean with its 95 % t-interval.

    python benchmarks/bench_zoo_speed.py --archs mobilenet_v3_large,regnet_y_400mf [--size 64] [--batch 16]
        [--rounds 8] [--steps 3] [--threads N] [--device cpu|cuda] [--channels-last]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import nas
from nas.stats import mean_ci

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = "mobilenet_v3_large,regnet_y_400mf,convnext_tiny,efficientnet_v2_s"


def steps(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, n: int) -> float:
    """Seconds for ``n`` training steps."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - t0


def contenders(arch: str, size: int, dev: torch.device, channels_last: bool) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    ref = getattr(torchvision.models, arch)(weights=None)
    ours = nas.build(arch, input_size=size)
    nas.transfer(ref, ours)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return {"torchvision": ref.to(dev, memory_format=fmt), "nas": ours.to(dev, memory_format=fmt)}


def bench(arch: str, args: argparse.Namespace, dev: torch.device) -> dict:
    models = contenders(arch, args.size, dev, args.channels_last)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=gen).to(dev)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (args.batch,), generator=gen).to(dev)
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for k, m in models.items()}
    for m in models.values():
        m.train()
    times: dict[str, list[float]] = {k: [] for k in models}
    order = list(models)
    for k in order:  # warm-up
        steps(models[k], opts[k], x, y, args.steps)
    for r in range(args.rounds):
        for k in order if r % 2 == 0 else order[::-1]:
            times[k].append(steps(models[k], opts[k], x, y, args.steps))
    ratios = [a / b for a, b in zip(times["torchvision"], times["nas"])]
    ci = mean_ci(ratios)
    lo, hi = ci["mean"] - ci["ci95"], ci["mean"] + ci["ci95"]
    out = {
        "arch": arch,
        "ratio_median": round(statistics.median(ratios), 4),
        "ratio_mean": round(ci["mean"], 4),
        "ratio_mean_ci95": [round(lo, 4), round(hi, 4)],
        "ratios": [round(r, 4) for r in ratios],
        "step_s_torchvision": round(statistics.median(times["torchvision"]) / args.steps, 5),
        "step_s_nas": round(statistics.median(times["nas"]) / args.steps, 5),
    }
    print(
        f"{arch:22s} ratio median {out['ratio_median']:.3f}, mean [{lo:.3f}, {hi:.3f}]  step torchvision "
        f"{out['step_s_torchvision'] * 1e3:.1f} ms, nas {out['step_s_nas'] * 1e3:.1f} ms",
        file=sys.stderr,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default=DEFAULT, help="comma-separated torchvision names")
    ap.add_argument("--size", type=int, default=64, help="input resolution")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=8, help="timed blocks per contender")
    ap.add_argument("--steps", type=int, default=3, help="training steps per block")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--channels-last", action="store_true", help="both models and the batch channels-last")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/zoo_speed.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    results = [bench(a.strip(), args, dev) for a in args.archs.split(",") if a.strip()]
    report = {
        "benchmark": "training-step time, torchvision module / nas genotype build (ratio ≥ 1: nas as fast)",
        "size": args.size,
        "batch": args.batch,
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "channels_last": args.channels_last,
        "device": str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
