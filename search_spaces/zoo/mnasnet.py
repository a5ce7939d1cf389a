"""MNASNet-B1 (Tan et al. 2019, found by multi-objective architecture search) at depth multipliers
0.5 / 0.75 / 1.0 / 1.3, exactly as torchvision builds it.

The stage table is torchvision's ``_stack`` calls, as data: a 3×3/2 conv stem, a depthwise-separable
layer (an MBConv with expansion 1), six stacks of inverted residuals (ReLU, no SE, no
stochastic depth), 1×1 conv to 1280 (not scaled), pool, dropout, FC. Every width is
``make_divisible(c·α, 8)`` (torchvision's ``_round_to_multiple_of``); BN momentum 1 − 0.9997.
"""

from __future__ import annotations

from functools import partial

from cells.mobile_blocks import mobile_block
from nas.core.genotype import Network, Stage
from nas.core.registry import register_arch
from search_spaces.scaling import MBRow, compound_scale
from search_spaces.zoo.mobile import conv_head, conv_stem

BN_MOMENTUM = 1 - 0.9997
HEAD_WIDTH = 1280
DROPOUT = 0.2
ALPHAS = {"0_5": 0.5, "0_75": 0.75, "1_0": 1.0, "1_3": 1.3}

# (expand, kernel, stride, in, out, layers); the first row is the separable layer after the stem.
MNASNET_B1 = [
    MBRow(1, 3, 1, 32, 16, 1),
    MBRow(3, 3, 2, 16, 24, 3),
    MBRow(3, 5, 2, 24, 40, 3),
    MBRow(6, 5, 2, 40, 80, 3),
    MBRow(6, 3, 1, 80, 96, 2),
    MBRow(6, 5, 2, 96, 192, 4),
    MBRow(6, 3, 1, 192, 320, 1),
]


def mnasnet(alpha: float, name: str = "mnasnet") -> Network:
    """MNASNet-B1 with depth multiplier ``alpha`` (every width but the head's)."""
    rows = compound_scale(MNASNET_B1, alpha)
    bn = {"bn_momentum": BN_MOMENTUM}
    stages = tuple(
        Stage(
            mobile_block("mbconv", r.expand, r.kernel, se=False, act="relu", drop_path=False, **bn),
            r.layers,
            r.cout,
            r.stride,
        )
        for r in rows
    )
    return Network(
        name,
        conv_stem(rows[0].cin, "relu", **bn),
        stages,
        conv_head(HEAD_WIDTH, "relu", DROPOUT, **bn),
        (3, 224, 224),
        1000,
    )


for _k, _a in ALPHAS.items():
    register_arch(f"mnasnet{_k}", family="mnasnet", reference=f"mnasnet{_k}", test_size=32)(
        partial(mnasnet, _a, f"mnasnet{_k}")
    )
