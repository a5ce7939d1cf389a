"""RegNetX and RegNetY (Radosavovic et al. 2020), every torchvision size, exactly as torchvision builds
them.

Each network is its :class:`~search_spaces.anynet.RegNetParams` row (torchvision's
``BlockParams.from_init_params`` arguments); :func:`search_spaces.anynet.regnet_stages` turns it
into stage rows before anything is built. Layout: 3×3/2 conv-BN-ReLU stem (32), one stage of
:func:`cells.modern_blocks.regnet_block` cells per row (stride 2 on the first block), global average
pool, FC.
"""

from __future__ import annotations

from functools import partial

from cells.modern_blocks import regnet_block
from nas.core.genotype import Cell, Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.anynet import RegNetParams, regnet_stages
from search_spaces.zoo.common import classifier

STEM_WIDTH = 32

# name → (depth, w0, wa, wm, group width[, bottleneck, SE ratio]): torchvision's regnet_* builders.
REGNETS: dict[str, RegNetParams] = {
    "regnet_x_400mf": RegNetParams(22, 24, 24.48, 2.54, 16),
    "regnet_x_800mf": RegNetParams(16, 56, 35.73, 2.28, 16),
    "regnet_x_1_6gf": RegNetParams(18, 80, 34.01, 2.25, 24),
    "regnet_x_3_2gf": RegNetParams(25, 88, 26.31, 2.25, 48),
    "regnet_x_8gf": RegNetParams(23, 80, 49.56, 2.88, 120),
    "regnet_x_16gf": RegNetParams(22, 216, 55.59, 2.1, 128),
    "regnet_x_32gf": RegNetParams(23, 320, 69.86, 2.0, 168),
    "regnet_y_400mf": RegNetParams(16, 48, 27.89, 2.09, 8, se=0.25),
    "regnet_y_800mf": RegNetParams(14, 56, 38.84, 2.4, 16, se=0.25),
    "regnet_y_1_6gf": RegNetParams(27, 48, 20.71, 2.65, 24, se=0.25),
    "regnet_y_3_2gf": RegNetParams(21, 80, 42.63, 2.66, 24, se=0.25),
    "regnet_y_8gf": RegNetParams(17, 192, 76.82, 2.19, 56, se=0.25),
    "regnet_y_16gf": RegNetParams(18, 200, 106.23, 2.48, 112, se=0.25),
    "regnet_y_32gf": RegNetParams(20, 232, 115.89, 2.53, 232, se=0.25),
    "regnet_y_128gf": RegNetParams(27, 456, 160.83, 2.52, 264, se=0.25),
}


def regnet_stem(width: int = STEM_WIDTH) -> Cell:
    """3×3/2 conv-BN-ReLU (torchvision's ``SimpleStemIN``)."""
    return chain("regnet_stem", [("conv", {"channels": width, "kernel": 3, "stride": 2}), ("bn",), ("relu",)])


def regnet(name: str, params: RegNetParams) -> Network:
    """The RegNet of ``params``: stem, one stage per AnyNet row, pool, FC (1000 classes, 224 px)."""
    stages = []
    for row in regnet_stages(params):
        kind = "y" if params.se else "x"
        cell = regnet_block(
            f"regnet_{kind}_block_g{row.groups}_b{row.bottleneck:g}", row.groups, row.bottleneck, params.se
        )
        stages.append(Stage(cell, row.depth, row.width, row.stride))
    return Network(name, regnet_stem(), tuple(stages), classifier(), (3, 224, 224), 1000)


for _name, _params in REGNETS.items():
    register_arch(_name, family="regnet", reference=_name, test_size=32)(partial(regnet, _name, _params))
