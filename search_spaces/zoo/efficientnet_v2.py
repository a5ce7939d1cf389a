"""EfficientNetV2 S / M / L (Tan & Le 2021) exactly as torchvision builds them.

The stage tables are torchvision's ``_efficientnet_conf`` rows, as data: Fused-MBConv stages
(:func:`cells.mobile_blocks.fused_mbconv`) first, then MBConv stages with squeeze-excitation
(:func:`cells.mbconv`, squeeze width ``Cin/4``); SiLU, BN ε 1e-3, stochastic depth 0.2 linear over
blocks, 1×1 conv head to 1280. Only blocks are cells, so the network's linear drop-path schedule is
torchvision's per-block ``sd_prob``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from cells.mobile_blocks import mobile_block
from nas.core.genotype import Cell, Network, Stage
from nas.core.registry import register_arch
from search_spaces.zoo.mobile import conv_head, conv_stem

BN_EPS = 1e-3
STOCHASTIC_DEPTH = 0.2
HEAD_WIDTH = 1280


class V2Row(NamedTuple):
    """A stage as torchvision's ``FusedMBConvConfig`` / ``MBConvConfig``: the block kind, then
    (expand, kernel, stride, in, out, layers)."""

    block: str  # "fused" or "mbconv"
    expand: float
    kernel: int
    stride: int
    cin: int
    cout: int
    layers: int


F = partial(V2Row, "fused")
M = partial(V2Row, "mbconv")

# variant → (stage rows, dropout, resolution); rows as in torchvision's ``_efficientnet_conf``.
EFFICIENTNET_V2: dict[str, tuple[list[V2Row], float, int]] = {
    "s": (
        [
            F(1, 3, 1, 24, 24, 2),
            F(4, 3, 2, 24, 48, 4),
            F(4, 3, 2, 48, 64, 4),
            M(4, 3, 2, 64, 128, 6),
            M(6, 3, 1, 128, 160, 9),
            M(6, 3, 2, 160, 256, 15),
        ],
        0.2,
        384,
    ),
    "m": (
        [
            F(1, 3, 1, 24, 24, 3),
            F(4, 3, 2, 24, 48, 5),
            F(4, 3, 2, 48, 80, 5),
            M(4, 3, 2, 80, 160, 7),
            M(6, 3, 1, 160, 176, 14),
            M(6, 3, 2, 176, 304, 18),
            M(6, 3, 1, 304, 512, 5),
        ],
        0.3,
        480,
    ),
    "l": (
        [
            F(1, 3, 1, 32, 32, 4),
            F(4, 3, 2, 32, 64, 7),
            F(4, 3, 2, 64, 96, 7),
            M(4, 3, 2, 96, 192, 10),
            M(6, 3, 1, 192, 224, 19),
            M(6, 3, 2, 224, 384, 25),
            M(6, 3, 1, 384, 640, 7),
        ],
        0.4,
        480,
    ),
}


def v2_cell(block: str, expand: float, kernel: int) -> Cell:
    """Fused-MBConv without SE, or MBConv with SE (squeeze ``Cin/4``); SiLU, stochastic depth."""
    return mobile_block(
        block, expand, kernel, se=block == "mbconv", act="silu", drop_path=True, bn_eps=BN_EPS
    )


def efficientnet_v2(variant: str) -> Network:
    """EfficientNetV2-``variant``: 3×3/2 conv-BN-SiLU, Fused-MBConv then MBConv stages, head."""
    rows, dropout, size = EFFICIENTNET_V2[variant]
    stages = tuple(Stage(v2_cell(r.block, r.expand, r.kernel), r.layers, r.cout, r.stride) for r in rows)
    return Network(
        f"efficientnet_v2_{variant}",
        conv_stem(rows[0].cin, "silu", bn_eps=BN_EPS),
        stages,
        conv_head(HEAD_WIDTH, "silu", dropout, bn_eps=BN_EPS),
        (3, size, size),
        1000,
        drop_path=STOCHASTIC_DEPTH,
        drop_path_schedule="linear",
    )


for _v in EFFICIENTNET_V2:
    register_arch(
        f"efficientnet_v2_{_v}", family="efficientnet", reference=f"efficientnet_v2_{_v}", test_size=32
    )(partial(efficientnet_v2, _v))
