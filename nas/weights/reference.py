"""Reference implementations (torchvision) of zoo architectures: build, compare, load weights.

A zoo entry names its reference in the registry metadata (``reference``, ``reference_kwargs``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.core.compile import build
from nas.core.registry import ARCHS
from nas.weights.hubfile import verified_state_dict
from nas.weights.transfer import transfer


def reference_name(name: str) -> str:
    ref = ARCHS.entry(name).meta.get("reference")
    if not ref:
        raise ValueError(f"architecture {name!r} has no reference implementation to compare with")
    return ref


def reference_module(
    name: str, num_classes: int | None = None, weights: str | None = None, download: bool = False
) -> nn.Module:
    """torchvision's model for zoo entry ``name``: random init, or its pretrained weights from the hub
    cache (downloaded first when absent and ``download``), hash-checked and read as tensors only."""
    import torchvision  # optional and heavy: only reference comparisons and pretrained builds need it

    ref = reference_name(name)
    kwargs: dict[str, Any] = dict(ARCHS.entry(name).meta.get("reference_kwargs", {}))
    if weights is None:
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        return torchvision.models.get_model(ref, **kwargs)
    enum = torchvision.models.get_model_weights(ref).DEFAULT
    state = verified_state_dict(enum.url, download)
    # The builder applies what its weights imply (classes, transform_input, old key names) and reads the
    # state dict through this member's get_state_dict: pointed at the verified dict for this one call, as
    # torchvision's own would unpickle the cached file unchecked (weights_only=False).
    enum.get_state_dict = lambda *a, **k: state
    try:
        return torchvision.models.get_model(ref, **kwargs, weights=enum)
    finally:
        del enum.get_state_dict


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
