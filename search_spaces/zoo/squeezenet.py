"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016) exactly as torchvision builds them.

Stem conv (7×7/2, 96 for 1.0; 3×3/2, 64 for 1.1; bias, no padding) -ReLU, 3×3/2 max-pool (ceil);
fire modules (:func:`cells.modern_blocks.fire`, squeeze C/8, expands C/2 + C/2) with max-pool stages
between them; head: dropout 0.5, 1×1 conv to K classes -ReLU, global pool, flatten.
"""

from __future__ import annotations

from functools import partial

from cells import CellWriter
from cells.modern_blocks import fire
from nas.core.genotype import Cell, Network, chain
from nas.core.registry import register_arch
from search_spaces.zoo.common import plain_stages, pool_cell

# name → (stem kernel, stem width, fire widths with "M" for a max-pool): torchvision's features.
SQUEEZENETS: dict[str, tuple[int, int, tuple[int | str, ...]]] = {
    "squeezenet1_0": (7, 96, (128, 128, 256, "M", 256, 384, 384, 512, "M", 512)),
    "squeezenet1_1": (3, 64, (128, 128, "M", 256, 256, "M", 384, 384, 512, 512)),
}


def squeezenet_head(dropout: float = 0.5) -> Cell:
    w = CellWriter()
    x = w.add("drop", "dropout", "x", p=dropout)
    x = w.add("conv", "conv", x, channels="K", kernel=1, bias=True)
    x = w.add("relu", "relu", x)
    x = w.add("pool", "adaptive_avgpool", x, size=1)
    return w.cell("squeezenet_head", w.add("flatten", "flatten", x))


def squeezenet(name: str, kernel: int, stem_width: int, rows: tuple[int | str, ...]) -> Network:
    stem = chain(
        f"squeezenet_stem{kernel}",
        [
            ("conv", {"channels": stem_width, "kernel": kernel, "stride": 2, "padding": 0, "bias": True}),
            ("relu",),
            ("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True}),
        ],
    )
    stages = plain_stages(rows, cell=fire(), pool=pool_cell("maxpool", 3, ceil_mode=True))
    return Network(name, stem, stages, squeezenet_head(), (3, 224, 224), 1000)


for _name, _row in SQUEEZENETS.items():
    register_arch(_name, family="squeezenet", reference=_name, test_size=32)(
        partial(squeezenet, _name, *_row)
    )
