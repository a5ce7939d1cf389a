"""The classic per-layer table of a network: shapes, filters, params, multiply-adds, memory, depth.

The network runs once on the meta device (no memory, no arithmetic): forward hooks record shapes and
``torch.utils.flop_counter.FlopCounterMode`` counts multiply-adds per layer (FLOPs / 2).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.core.compile import build
from nas.core.genotype import Network
from nas.core.meta import meta_call
from nas.core.resolve import resolve
from nas.tools.sizeguard import too_large


@dataclass
class Layer:
    name: str
    type: str
    in_channels: int
    in_hw: str
    filters: int | None
    kernel: str
    stride: str
    padding: str
    out_channels: int
    out_hw: str
    activation_kb: float
    params: int
    macs: int
    activation: str = ""


def _hw(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape[2:])) if len(shape) > 2 else "-"


def _attr(m: nn.Module, name: str) -> str:
    v = getattr(m, name, None)
    if v is None:
        return "-"
    if isinstance(v, tuple | list):
        return "x".join(map(str, v)) if len(set(v)) > 1 else str(v[0])
    return str(v)


_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Sigmoid, nn.Hardsigmoid, nn.Tanh, nn.GELU)


def describe(
    arch: Any, input_size: int | tuple[int, int] | None = None, num_classes: int | None = None
) -> dict[str, Any]:
    """Per-layer table and totals for a genotype, zoo name, genotype path or compiled network.

    Returns ``{"name", "input_size", "params", "macs", "depth", "activation_bytes", "layers": [...]}``;
    ``depth`` counts conv and fully-connected layers along the longest path (VGG-16 → 16, ResNet-50 → 50);
    ``activation_bytes`` sums every layer's fp32 output for one image.
    """
    model = _model(arch, input_size, num_classes)
    net = model.genotype
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    shapes, flops = _trace(model, leaves, (1, *net.input_size))
    root = type(model).__name__
    layers = [
        _layer(name, m, *shapes[name], sum(flops.get(f"{root}.{name}", {}).values()) // 2)
        for name, m in leaves
        if name in shapes  # else not on the eval path (auxiliary heads)
    ]
    total_params = sum(p.numel() for p in model.parameters())
    return {
        "name": net.name,
        "input_size": list(net.input_size),
        "params": total_params,
        "macs": sum(flops.get("Global", {}).values()) // 2,
        "depth": model.depth,
        "activation_bytes": int(sum(layer.activation_kb for layer in layers) * 1024),
        "layers": [asdict(layer) for layer in layers],
    }


def _model(arch: Any, input_size: int | tuple[int, int] | None, num_classes: int | None) -> nn.Module:
    """The network to describe: ``arch`` itself if already built, else built on the meta device."""
    if isinstance(arch, nn.Module):
        if getattr(arch, "genotype", None) is None:
            raise TypeError("describe() takes a genotype, a zoo name, a path or a network built by nas.build")
        return arch
    net = resolve(arch)
    if not isinstance(net, Network):
        raise TypeError("describe() takes a network genotype, not a single cell")
    size = (input_size, input_size) if isinstance(input_size, int) else input_size
    try:
        with torch.device("meta"):
            return build(net, num_classes=num_classes, input_size=size)
    except (RuntimeError, ValueError) as e:
        raise too_large(net.name, e) or e from None


def _trace(
    model: nn.Module, leaves: list[tuple[str, nn.Module]], in_shape: tuple[int, ...]
) -> tuple[dict[str, tuple[tuple[int, ...], tuple[int, ...]]], dict[str, dict[Any, int]]]:
    """One meta forward: each leaf's (input, output) shape, first call only, and the FLOP counts."""
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def record(name: str):
        def hook(_m: nn.Module, args: tuple, out: Any) -> None:
            if name not in shapes and args and isinstance(out, torch.Tensor):
                shapes[name] = (tuple(args[0].shape), tuple(out.shape))

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in leaves]
    try:
        with FlopCounterMode(display=False) as counter:
            meta_call(model, in_shape)
    finally:
        for h in handles:
            h.remove()
    return shapes, counter.get_flop_counts()


def _layer(name: str, m: nn.Module, i: tuple[int, ...], o: tuple[int, ...], macs: int) -> Layer:
    return Layer(
        name=name,
        type=type(m).__name__,
        in_channels=i[1] if len(i) > 1 else 0,
        in_hw=_hw(i),
        filters=getattr(m, "out_channels", getattr(m, "out_features", None)),
        kernel=_attr(m, "kernel_size"),
        stride=_attr(m, "stride"),
        padding=_attr(m, "padding"),
        out_channels=o[1] if len(o) > 1 else 0,
        out_hw=_hw(o),
        activation_kb=round(torch.Size(o[1:]).numel() * 4 / 1024, 2),
        params=sum(p.numel() for p in m.parameters(recurse=False)),
        macs=macs,
        activation=type(m).__name__.lower() if isinstance(m, _ACTIVATIONS) else "",
    )


COLUMNS = [
    ("name", "layer"),
    ("type", "type"),
    ("in_channels", "C_in"),
    ("in_hw", "H×W in"),
    ("filters", "filters"),
    ("kernel", "kernel"),
    ("stride", "stride"),
    ("padding", "pad"),
    ("out_channels", "C_out"),
    ("out_hw", "H×W out"),
    ("activation_kb", "act KB"),
    ("params", "params"),
    ("macs", "MACs"),
]


def format_table(d: dict[str, Any]) -> str:
    rows = [[_cell(layer[k]) for k, _ in COLUMNS] for layer in d["layers"]]
    heads = [h for _, h in COLUMNS]
    widths = [max(len(h), *(len(r[j]) for r in rows)) if rows else len(h) for j, h in enumerate(heads)]
    numeric = {j for j, (k, _) in enumerate(COLUMNS) if k not in ("name", "type")}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if j in numeric else c.ljust(w) for j, (c, w) in enumerate(zip(cells, widths))
        )

    out = [line(heads), line(["-" * w for w in widths])] + [line(r) for r in rows]
    c, h, w = d["input_size"]
    out += [
        "",
        f"{d['name']} @ {c}x{h}x{w}",
        f"params:            {d['params']:,}",
        f"MACs:              {d['macs']:,}  ({d['macs'] / 1e9:.3f} G)",
        f"depth:             {d['depth']} (conv + fully-connected layers on the longest path)",
        f"activation memory: {d['activation_bytes'] / 2**20:.2f} MB (fp32 layer outputs, one image, forward)",
    ]
    return "\n".join(out)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


def format_csv(d: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(d["layers"][0]) if d["layers"] else [k for k, _ in COLUMNS])
    writer.writeheader()
    writer.writerows(d["layers"])
    return buf.getvalue()


def render(d: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(d, indent=1)
    if fmt == "csv":
        return format_csv(d)
    if fmt == "table":
        return format_table(d)
    raise ValueError(f"format must be table, json or csv, got {fmt!r}")


def write(d: dict[str, Any], fmt: str, path: str | Path | None) -> str:
    text = render(d, fmt)
    if path is not None:
        Path(path).write_text(text + "\n")
    return text
