"""MobileNetV3 small / large (Howard et al. 2019) exactly as torchvision builds them.

The bottleneck table is torchvision's ``bneck_conf`` rows, as data. Every bottleneck is an MBConv cell
(:func:`cells.mobile_blocks.mobile_block`) with its own activation (ReLU "RE" or hardswish "HS"),
optional squeeze-excitation (ReLU inside, hardsigmoid gate, squeeze width
``make_divisible(expanded // 4, 8)``), BN ε 1e-3 / momentum 0.01 and a plain residual add (no
stochastic depth). Consecutive equal rows share one stage. Head: 1×1 conv to 6× the last width, pool,
linear, hardswish, dropout, linear.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from cells.mobile_blocks import mobile_block
from nas.core.genotype import Network, Stage
from nas.core.registry import register_arch
from search_spaces.zoo.mobile import conv_head, conv_stem

BN = {"bn_eps": 1e-3, "bn_momentum": 0.01}
ACTS = {"RE": "relu", "HS": "hardswish"}


class V3Row(NamedTuple):
    """One bottleneck: input, kernel, expanded and output channels, SE, activation, stride."""

    cin: int
    kernel: int
    expanded: int
    cout: int
    se: bool
    act: str
    stride: int


MOBILENET_V3 = {
    "large": (
        [
            V3Row(16, 3, 16, 16, False, "RE", 1),
            V3Row(16, 3, 64, 24, False, "RE", 2),
            V3Row(24, 3, 72, 24, False, "RE", 1),
            V3Row(24, 5, 72, 40, True, "RE", 2),
            V3Row(40, 5, 120, 40, True, "RE", 1),
            V3Row(40, 5, 120, 40, True, "RE", 1),
            V3Row(40, 3, 240, 80, False, "HS", 2),
            V3Row(80, 3, 200, 80, False, "HS", 1),
            V3Row(80, 3, 184, 80, False, "HS", 1),
            V3Row(80, 3, 184, 80, False, "HS", 1),
            V3Row(80, 3, 480, 112, True, "HS", 1),
            V3Row(112, 3, 672, 112, True, "HS", 1),
            V3Row(112, 5, 672, 160, True, "HS", 2),
            V3Row(160, 5, 960, 160, True, "HS", 1),
            V3Row(160, 5, 960, 160, True, "HS", 1),
        ],
        1280,
    ),
    "small": (
        [
            V3Row(16, 3, 16, 16, True, "RE", 2),
            V3Row(16, 3, 72, 24, False, "RE", 2),
            V3Row(24, 3, 88, 24, False, "RE", 1),
            V3Row(24, 5, 96, 40, True, "HS", 2),
            V3Row(40, 5, 240, 40, True, "HS", 1),
            V3Row(40, 5, 240, 40, True, "HS", 1),
            V3Row(40, 5, 120, 48, True, "HS", 1),
            V3Row(48, 5, 144, 48, True, "HS", 1),
            V3Row(48, 5, 288, 96, True, "HS", 2),
            V3Row(96, 5, 576, 96, True, "HS", 1),
            V3Row(96, 5, 576, 96, True, "HS", 1),
        ],
        1024,
    ),
}


def v3_stages(rows: list[V3Row]) -> tuple[Stage, ...]:
    """One stage per row, consecutive equal rows (stride 1, same width) merged into repeats."""
    stages: list[Stage] = []
    for r in rows:
        cell = mobile_block(
            "mbconv",
            r.expanded / r.cin,
            r.kernel,
            se=r.se,
            act=ACTS[r.act],
            drop_path=False,
            se_style="mobilenet_v3",
            cin=r.cin,
            **BN,
        )
        last = stages[-1] if stages else None
        if last and r.stride == 1 and last.cell == cell and last.width == r.cin == r.cout:
            stages[-1] = Stage(cell, last.repeats + 1, last.width, last.stride)
        else:
            stages.append(Stage(cell, 1, r.cout, r.stride))
    return tuple(stages)


def mobilenet_v3(variant: str, dropout: float = 0.2) -> Network:
    """MobileNetV3-``variant``: 3×3/2 conv (16) -BN-hardswish, the bottlenecks, the head."""
    rows, last_channel = MOBILENET_V3[variant]
    head = conv_head(6 * rows[-1].cout, "hardswish", dropout, hidden=last_channel, **BN)
    return Network(
        f"mobilenet_v3_{variant}",
        conv_stem(rows[0].cin, "hardswish", **BN),
        v3_stages(rows),
        head,
        (3, 224, 224),
        1000,
    )


for _v in MOBILENET_V3:
    register_arch(f"mobilenet_v3_{_v}", family="mobilenet", reference=f"mobilenet_v3_{_v}", test_size=32)(
        partial(mobilenet_v3, _v)
    )
