"""Plain conv nets: AlexNet and VGG (torchvision layouts), configs as data."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from nas.core.genotype import Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.zoo.common import classifier, conv_cell, plain_stages, pool_cell

# (filters, kernel, stride, padding) or "M" (3×3 max-pool, stride 2); the first row is the stem.
ALEXNET = [(64, 11, 4, 2), "M", (192, 5, 1, 2), "M", (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1), "M"]


def alexnet() -> Network:
    """AlexNet as torchvision builds it (one-tower 'One weird trick' variant, 61.1M params)."""
    (c, k, s, p), *rows = ALEXNET
    stem = chain(
        "alexnet_stem",
        [("conv", {"channels": c, "kernel": k, "stride": s, "padding": p, "bias": True}), ("relu",)],
    )
    stages = []
    for row in rows:
        if row == "M":
            stages.append(Stage(pool_cell("maxpool", 3), 1, None, 2))
        else:
            c, k, s, p = row
            stages.append(Stage(conv_cell(k, padding=p), 1, c, s))
    head = chain("alexnet_head", [
        ("adaptive_avgpool", {"size": 6}), ("flatten",),
        ("dropout", {"p": 0.5}), ("linear", {"channels": 4096}), ("relu",),
        ("dropout", {"p": 0.5}), ("linear", {"channels": 4096}), ("relu",),
        ("linear", {"channels": "K"}),
    ])  # fmt: skip
    return Network("alexnet", stem, tuple(stages), head, (3, 224, 224), 1000)


register_arch("alexnet", family="alexnet", reference="alexnet", test_size=63)(alexnet)  # smallest that fits

VGG_CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}
VGG_DEPTHS = {"A": 11, "B": 13, "D": 16, "E": 19}


def vgg(cfg: str, batch_norm: bool) -> Network:
    """VGG configuration ``cfg`` (torchvision layout: 3×3 convs, 2×2 max-pools, 7×7 pool, 2 × 4096 FC)."""
    name = f"vgg{VGG_DEPTHS[cfg]}" + ("_bn" if batch_norm else "")
    return vgg_from_rows(name, VGG_CFGS[cfg], batch_norm)


def vgg_from_rows(name: str, rows: Sequence[int | str], batch_norm: bool) -> Network:
    """A VGG from a config list (widths and ``"M"`` pools, as ``VGG_CFGS``); the first conv is the stem."""
    first, *rows = rows
    layers = [("conv", {"channels": first, "kernel": 3, "bias": True})]  # torchvision keeps the bias with BN
    layers += [("bn",)] if batch_norm else []
    stem = chain("vgg_stem" + ("_bn" if batch_norm else ""), [*layers, ("relu",)])
    head = classifier(pool=7, hidden=(4096, 4096), dropout=0.5)
    return Network(name, stem, plain_stages(rows, bn=batch_norm), head, (3, 224, 224), 1000)


for _cfg, _depth in VGG_DEPTHS.items():
    for _bn in (False, True):
        _name = f"vgg{_depth}" + ("_bn" if _bn else "")
        register_arch(_name, family="vgg", reference=_name, test_size=32)(partial(vgg, _cfg, _bn))
