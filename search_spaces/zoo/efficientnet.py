"""EfficientNet-B0…B7 (Tan & Le 2019) exactly as torchvision builds them.

B0's stage table is data, the compound-scaling coefficients are the engine's B-table
(:data:`nas.tools.scale.EFFICIENTNET`); B1–B7 are B0's rows passed through
:func:`search_spaces.scaling.compound_scale` before anything is built. Stages hold only MBConv cells
(stem conv in the stem cell; 1×1 conv, pool, dropout and FC in the head), so the network's linear
drop-path schedule ``0.2 · i / n`` over its cells is torchvision's stochastic-depth schedule.
"""

from __future__ import annotations

from functools import partial

from cells import mbconv
from nas.core.genotype import Network, Stage
from nas.core.registry import register_arch
from nas.tools.scale import EFFICIENTNET
from search_spaces.scaling import MBRow, compound_scale
from search_spaces.zoo.mobile import conv_head, conv_stem

# (expand, kernel, stride, in, out, layers): Table 1 of the paper, torchvision's ``_efficientnet_conf``.
EFFICIENTNET_B0 = [
    MBRow(1, 3, 1, 32, 16, 1),
    MBRow(6, 3, 2, 16, 24, 2),
    MBRow(6, 5, 2, 24, 40, 2),
    MBRow(6, 3, 2, 40, 80, 3),
    MBRow(6, 5, 1, 80, 112, 3),
    MBRow(6, 5, 2, 112, 192, 4),
    MBRow(6, 3, 1, 192, 320, 1),
]

STOCHASTIC_DEPTH = 0.2


def efficientnet(variant: str) -> Network:
    """EfficientNet-``variant``: 3×3/2 conv-BN-SiLU, MBConv stages (SE 0.25, SiLU, stochastic depth
    0.2 linear over blocks), 1×1 conv to 4× the last width, pool, dropout, FC."""
    scale = EFFICIENTNET[variant]
    rows = compound_scale(EFFICIENTNET_B0, scale.width_mult, scale.depth_mult)
    bn = {"bn_eps": scale.bn_eps, "bn_momentum": scale.bn_momentum}  # B5–B7: the TF weights' settings
    stages = tuple(
        Stage(mbconv(f"mbconv{r.expand:g}_k{r.kernel}", r.expand, r.kernel, **bn), r.layers, r.cout, r.stride)
        for r in rows
    )
    return Network(
        f"efficientnet_{variant}",
        conv_stem(rows[0].cin, "silu", **bn),
        stages,
        conv_head(4 * rows[-1].cout, "silu", scale.dropout, **bn),
        (3, scale.resolution, scale.resolution),
        1000,
        drop_path=STOCHASTIC_DEPTH,
        drop_path_schedule="linear",
    )


for _v in EFFICIENTNET:
    register_arch(f"efficientnet_{_v}", family="efficientnet", reference=f"efficientnet_{_v}", test_size=32)(
        partial(efficientnet, _v)
    )
