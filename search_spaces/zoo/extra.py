"""Pre-activation ResNets (He et al. 2016, "Identity mappings"), SE-ResNet-50 (Hu et al. 2018) and
Xception (Chollet 2017). None of them ships in torchvision; their tests check the papers' parameter
counts and independent reference modules."""

from __future__ import annotations

from functools import partial

from cells.extra_blocks import preact_bottleneck, se_bottleneck, xception_block, xception_tail
from cells.preact import preact_block
from nas.core.genotype import Cell, Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.zoo.common import classifier

# name → (block, blocks per stage, stage widths, stem, bottleneck stride placement)
PREACT_RESNETS: dict[str, tuple[str, list[int], list[int], str, str]] = {
    "preact_resnet18": ("basic", [2, 2, 2, 2], [64, 128, 256, 512], "imagenet", "3x3"),
    "preact_resnet50": ("bottleneck", [3, 4, 6, 3], [256, 512, 1024, 2048], "imagenet", "3x3"),
    # CIFAR (the paper's Table 2/3 networks): three stages of n = 18 blocks, 16/32/64 inner channels;
    # the authors' bottleneck code strides on the first 1×1 conv.
    "preact_resnet110": ("basic", [18, 18, 18], [16, 32, 64], "cifar", "3x3"),
    "preact_resnet164": ("bottleneck", [18, 18, 18], [64, 128, 256], "cifar", "1x1"),
}

_STEMS = {
    # ImageNet: 7×7/2 conv, 3×3/2 max-pool; no BN-ReLU, the first block pre-activates (as timm's ResNetV2).
    "imagenet": [
        ("conv", {"channels": 64, "kernel": 7, "stride": 2, "padding": 3}),
        ("maxpool", {"kernel": 3, "stride": 2, "padding": 1}),
    ],
    "cifar": [("conv", {"channels": 16, "kernel": 3})],
}


def preact_head() -> Cell:
    """The final BN-ReLU (the last residual sum is not activated), global average pool, FC."""
    return chain(
        "preact_head",
        [("bn",), ("relu",), ("adaptive_avgpool", {"size": 1}), ("flatten",), ("linear", {"channels": "K"})],
    )


def preact_resnet(
    name: str, block: str, depths: list[int], widths: list[int], stem: str, stride_at: str
) -> Network:
    """Pre-activation ResNet: stem, stages of pre-activation blocks (stride on each stage's first),
    BN-ReLU, global average pool, FC."""
    if block == "basic":
        cell = preact_block()
    else:
        cell = preact_bottleneck(f"preact_bottleneck_{stride_at}", stride_at=stride_at)
    stages = tuple(Stage(cell, n, c, 1 if i == 0 else 2) for i, (n, c) in enumerate(zip(depths, widths)))
    size, classes = ((3, 224, 224), 1000) if stem == "imagenet" else ((3, 32, 32), 10)
    return Network(name, chain(f"preact_{stem}_stem", _STEMS[stem]), stages, preact_head(), size, classes)


for _name, _row in PREACT_RESNETS.items():
    register_arch(_name, family="preact_resnet", test_size=32)(partial(preact_resnet, _name, *_row))


def se_resnet50() -> Network:
    """SE-ResNet-50 as the authors released it (Caffe; Cadene's ``pretrainedmodels`` port): ResNet-50
    with a squeeze-excitation (reduction 16) in every bottleneck, the stride on the first 1×1 conv,
    and a 3×3/2 max-pool with ceil mode and no padding. 28,088,024 parameters."""
    stem = chain(
        "se_resnet_stem",
        [
            ("conv", {"channels": 64, "kernel": 7, "stride": 2, "padding": 3}),
            ("bn",),
            ("relu",),
            ("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True}),
        ],
    )
    cell = se_bottleneck(reduction=16, stride_at="1x1")
    stages = tuple(Stage(cell, n, 256 * 2**i, 1 if i == 0 else 2) for i, n in enumerate([3, 4, 6, 3]))
    return Network("se_resnet50", stem, stages, classifier(), (3, 224, 224), 1000)


register_arch("se_resnet50", family="se_resnet", test_size=32)(se_resnet50)

# Xception stages after the two-conv stem: (cell, repeats, width, stride).
XCEPTION = [
    ("entry_first", 1, 128, 2),  # entry flow: its first block follows the stem's ReLU
    ("entry", 1, 256, 2),
    ("entry", 1, 728, 2),
    ("middle", 8, 728, 1),  # middle flow: 8 × three separable convs, identity shortcut
    ("exit", 1, 1024, 2),  # exit flow: 728 → 728 → 1024, max-pool
    ("tail", 1, 2048, 1),  # separable 1536, separable 2048
]


def xception() -> Network:
    """Xception (Chollet 2017): 3×3/2 conv 32, 3×3 conv 64 (unpadded, BN-ReLU), entry / middle / exit
    flows of separable-conv residual blocks, global average pool, FC. 22,855,952 parameters."""
    cells = {
        "entry_first": xception_block("xception_entry_first", 2, start_with_relu=False),
        "entry": xception_block("xception_entry", 2),
        "middle": xception_block("xception_middle", 3, pool=False),
        "exit": xception_block("xception_exit", 2, grow_first=False),
        "tail": xception_tail(),
    }
    stem = chain(
        "xception_stem",
        [
            ("conv", {"channels": 32, "kernel": 3, "stride": 2, "padding": 0}),
            ("bn",),
            ("relu",),
            ("conv", {"channels": 64, "kernel": 3, "padding": 0}),
            ("bn",),
            ("relu",),
        ],
    )
    stages = tuple(Stage(cells[c], n, w, s) for c, n, w, s in XCEPTION)
    return Network("xception", stem, stages, classifier(), (3, 299, 299), 1000)


register_arch("xception", family="xception", test_size=32)(xception)
