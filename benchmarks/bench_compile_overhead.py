"""Compiler overhead: a training step of a compiled genotype vs the equivalent hand-written module.

Both models hold the same weights (``nas.transfer``) and see the same batches. Steps alternate between
the two (A B A B …) so drift of the shared machine hits both alike; we report the median step time of
each and the speed ratio reference / ours (≥ 1.00 means the compiler adds no overhead).

    python benchmarks/bench_compile_overhead.py [--models resnet18,resnet50] [--steps 30] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import nas
from nas.weights.reference import reference_module

DEFAULTS = {"resnet18": (64, 32), "resnet50": (64, 16), "mobilenet_v2": (64, 32), "densenet121": (64, 16)}


def step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> float:
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = nn.functional.cross_entropy(out if isinstance(out, torch.Tensor) else out[0], y)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return step


def bench(
    name: str, size: int, batch: int, steps: int, warmup: int, device: str, channels_last: bool
) -> dict:
    ours = nas.build(name, input_size=size)
    ref = reference_module(name)
    nas.transfer(ref, ours)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    ours, ref = (m.to(device, memory_format=fmt).train() for m in (ours, ref))
    x = torch.randn(batch, 3, size, size, device=device).to(memory_format=fmt)
    y = torch.randint(0, 1000, (batch,), device=device)
    steps_ours, steps_ref = step_fn(ours, x, y, device), step_fn(ref, x, y, device)
    for _ in range(warmup):
        steps_ours(), steps_ref()
    t_ours, t_ref = [], []
    for i in range(steps):
        if i % 2:  # alternate which goes first
            t_ours.append(steps_ours())
            t_ref.append(steps_ref())
        else:
            t_ref.append(steps_ref())
            t_ours.append(steps_ours())
    mo, mr = statistics.median(t_ours), statistics.median(t_ref)
    return {
        "model": name,
        "input": size,
        "batch": batch,
        "ours_ms": round(mo * 1e3, 2),
        "reference_ms": round(mr * 1e3, 2),
        "ratio": round(mr / mo, 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="resnet18,resnet50")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "compile_overhead.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for name in args.models.split(","):
        size, batch = DEFAULTS.get(name, (64, 16))
        r = bench(name, size, batch, args.steps, args.warmup, args.device, args.channels_last)
        rows.append(r)
        print(
            f"{r['model']:14s} {r['input']}px b{r['batch']:<3d} ours {r['ours_ms']:8.2f} ms  "
            f"torchvision {r['reference_ms']:8.2f} ms  ratio {r['ratio']:.3f}x",
            flush=True,
        )
    meta = {
        "device": args.device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "channels_last": args.channels_last,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
