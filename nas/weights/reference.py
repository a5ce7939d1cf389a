"""Reference implementations (torchvision) of zoo architectures: build, compare, load weights.

A zoo entry names its reference in the registry metadata (``reference``, ``reference_kwargs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.core.compile import build
from nas.core.registry import ARCHS
from nas.weights.transfer import transfer


def reference_name(name: str) -> str:
    ref = ARCHS.entry(name).meta.get("reference")
    if not ref:
        raise ValueError(f"architecture {name!r} has no reference implementation to compare with")
    return ref


def reference_module(name: str, num_classes: int | None = None, weights: str | None = None) -> nn.Module:
    """torchvision's model for zoo entry ``name`` (random init, or its pretrained weights if cached)."""
    import torchvision  # optional and heavy: only reference comparisons and pretrained builds need it

    ref = reference_name(name)
    kwargs: dict[str, Any] = dict(ARCHS.entry(name).meta.get("reference_kwargs", {}))
    if weights is not None:
        enum = torchvision.models.get_model_weights(ref).DEFAULT
        _require_local(enum.url)
        kwargs["weights"] = enum
    elif num_classes is not None:
        kwargs["num_classes"] = num_classes
    return torchvision.models.get_model(ref, **kwargs)


def _require_local(url: str) -> Path:
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if not path.is_file():
        raise ValueError(
            f"pretrained weights are not on this machine: expected {path} (torchvision downloads them "
            f"there, e.g. on a machine with internet access)"
        )
    return path


@torch.no_grad()
def compare(name: str, input_size: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Params, MACs and output difference (after ``transfer``) of our build vs the reference."""
    size = input_size or ARCHS.entry(name).meta.get("test_size")
    ours = build(name, input_size=size).eval()
    torch.manual_seed(seed)
    ref = reference_module(name).eval()
    transfer(ref, ours)
    x = torch.randn(2, *ours.genotype.input_size)
    counts = []
    for m in (ours, ref):
        with FlopCounterMode(display=False) as fc:
            m(x[:1])
        counts.append(fc.get_total_flops() // 2)  # per image
    a, b = ours(x), ref(x)
    return {
        "name": name,
        "reference": f"torchvision.models.{reference_name(name)}",
        "input_size": list(ours.genotype.input_size),
        "params": sum(p.numel() for p in ours.parameters()),
        "reference_params": sum(p.numel() for p in ref.parameters()),
        "macs": counts[0],
        "reference_macs": counts[1],
        "max_rel_diff": float((a - b).abs().max() / b.abs().max().clamp_min(1e-12)),
    }
