"""MobileNets: v1 (Howard et al. 2017, depthwise-separable convs) and v2 (torchvision layout,
inverted residuals = ``mbconv`` cells without squeeze-excitation, ReLU6)."""

from __future__ import annotations

from functools import partial

from cells import CellWriter, mbconv
from nas.core.genotype import Cell, Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.scaling import MBRow, compound_scale, make_divisible
from search_spaces.zoo.common import classifier


def conv_head(
    channels: int,
    act: str,
    dropout: float,
    *,
    bn_eps: float = 1e-5,
    bn_momentum: float = 0.1,
    name: str = "conv_head",
    hidden: int | None = None,
) -> Cell:
    """1×1 conv-BN-act to ``channels`` → global average pool → flatten → [linear to ``hidden``, act
    (MobileNet-v3)] → dropout → linear (K). The head of MobileNet-v2/v3, MNASNet and EfficientNet."""
    w = CellWriter()
    x = w.conv_bn_act("last_", "x", channels, 1, act=act, bn_eps=bn_eps, bn_momentum=bn_momentum)
    x = w.add("pool", "adaptive_avgpool", x, size=1)
    x = w.add("flatten", "flatten", x)
    if hidden:
        x = w.add("hidden_fc", "linear", x, channels=hidden)
        x = w.add("hidden_act", act, x)
    if dropout:
        x = w.add("drop", "dropout", x, p=dropout)
    x = w.add("fc", "linear", x, channels="K")
    return w.cell(name, x)


def conv_stem(channels: int, act: str, *, bn_eps: float = 1e-5, bn_momentum: float = 0.1) -> Cell:
    """3×3 stride-2 conv-BN-act (MobileNets, EfficientNet)."""
    bn = ({"eps": bn_eps} if bn_eps != 1e-5 else {}) | (
        {"momentum": bn_momentum} if bn_momentum != 0.1 else {}
    )
    return chain(
        f"stem_{act}", [("conv", {"channels": channels, "kernel": 3, "stride": 2}), ("bn", bn), (act,)]
    )


# ---------------------------------------------------------------------------------------------------
# MobileNet-v1: (output channels, stride) of the 13 depthwise-separable layers (Howard et al., Table 1).
MOBILENET_V1 = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
]


def separable_cell(name: str = "dw_separable", act: str = "relu") -> Cell:
    """MobileNet-v1 layer: depthwise 3×3 (stride = cell's) -BN-act, pointwise 1×1 to C -BN-act."""
    w = CellWriter()
    x = w.conv_bn_act("dw_", "x", None, 3, act=act, stride="cell", groups="in")
    x = w.conv_bn_act("pw_", x, "C", 1, act=act)
    return w.cell(name, x)


def mobilenet_v1(width_mult: float = 1.0, name: str = "mobilenet_v1") -> Network:
    """MobileNet-v1: 3×3/2 conv (32), 13 depthwise-separable layers, global pool, FC. Width multiplier
    α scales every layer to ``max(8, int(α·c))`` (TF-slim's rule). 4,231,976 parameters at α = 1."""

    def width(c: int) -> int:
        return max(8, int(c * width_mult))

    cell = separable_cell()
    stages: list[Stage] = []
    for c, s in MOBILENET_V1:
        if stages and s == 1 and stages[-1].width == width(c):
            stages[-1] = Stage(cell, stages[-1].repeats + 1, width(c), stages[-1].stride)
        else:
            stages.append(Stage(cell, 1, width(c), s))
    return Network(name, conv_stem(width(32), "relu"), tuple(stages), classifier(), (3, 224, 224), 1000)


register_arch("mobilenet_v1", family="mobilenet", test_size=32)(mobilenet_v1)


# ---------------------------------------------------------------------------------------------------
# MobileNet-v2 (torchvision's table, rows as (expand, kernel, stride, in, out, layers)).
MOBILENET_V2 = [
    MBRow(1, 3, 1, 32, 16, 1),
    MBRow(6, 3, 2, 16, 24, 2),
    MBRow(6, 3, 2, 24, 32, 3),
    MBRow(6, 3, 2, 32, 64, 4),
    MBRow(6, 3, 1, 64, 96, 3),
    MBRow(6, 3, 2, 96, 160, 3),
    MBRow(6, 3, 1, 160, 320, 1),
]


def mobilenet_v2(width_mult: float = 1.0, dropout: float = 0.2, name: str = "mobilenet_v2") -> Network:
    """MobileNet-v2 as torchvision builds it: 3×3/2 conv-BN-ReLU6, 17 inverted residuals (mbconv, no
    SE, ReLU6, no stochastic depth), 1×1 conv to 1280·max(1, α), pool, dropout, FC."""
    rows = compound_scale(MOBILENET_V2, width_mult)
    stages = tuple(
        Stage(
            mbconv(
                f"inverted_residual_e{r.expand:g}", r.expand, r.kernel, se=None, act="relu6", drop_path=False
            ),
            r.layers,
            r.cout,
            r.stride,
        )
        for r in rows
    )
    head = conv_head(make_divisible(1280 * max(1.0, width_mult)), "relu6", dropout)
    return Network(name, conv_stem(rows[0].cin, "relu6"), stages, head, (3, 224, 224), 1000)


register_arch("mobilenet_v2", family="mobilenet", reference="mobilenet_v2", test_size=32)(
    partial(mobilenet_v2, 1.0)
)
