"""ShuffleNetV2 ×0.5 / ×1.0 / ×1.5 / ×2.0 (Ma et al. 2018) exactly as torchvision builds them.

3×3/2 conv-BN-ReLU stem and 3×3/2 max-pool; each of torchvision's three stages is a down-sampling
unit (:func:`cells.modern_blocks.shuffle_down_unit`, stride 2) followed by basic units
(:func:`cells.modern_blocks.shuffle_unit`: channel split, branch, concat, channel shuffle); 1×1
conv-BN-ReLU, global pool, FC.
"""

from __future__ import annotations

from functools import partial

from cells.modern_blocks import shuffle_down_unit, shuffle_unit
from nas.core.genotype import Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.zoo.mobile import conv_head

REPEATS = (4, 8, 4)
# name → torchvision's stages_out_channels (stem, three stages, last conv).
SHUFFLENETS: dict[str, tuple[int, int, int, int, int]] = {
    "shufflenet_v2_x0_5": (24, 48, 96, 192, 1024),
    "shufflenet_v2_x1_0": (24, 116, 232, 464, 1024),
    "shufflenet_v2_x1_5": (24, 176, 352, 704, 1024),
    "shufflenet_v2_x2_0": (24, 244, 488, 976, 2048),
}


def shufflenet_v2(name: str, channels: tuple[int, ...], repeats: tuple[int, ...] = REPEATS) -> Network:
    stem = chain(
        "shufflenet_stem",
        [
            ("conv", {"channels": channels[0], "kernel": 3, "stride": 2}),
            ("bn",),
            ("relu",),
            ("maxpool", {"kernel": 3, "stride": 2, "padding": 1}),
        ],
    )
    down, unit = shuffle_down_unit(), shuffle_unit()
    stages: list[Stage] = []
    for c, n in zip(channels[1:-1], repeats):
        stages.append(Stage(down, 1, c, 2))
        if n > 1:
            stages.append(Stage(unit, n - 1, c, 1))
    head = conv_head(channels[-1], "relu", 0.0, name="shufflenet_head")
    return Network(name, stem, tuple(stages), head, (3, 224, 224), 1000)


for _name, _channels in SHUFFLENETS.items():
    register_arch(_name, family="shufflenet", reference=_name, test_size=32)(
        partial(shufflenet_v2, _name, _channels)
    )
