"""ResNet family (torchvision layouts): ResNet-18…152, Wide ResNet, ResNeXt; CIFAR ResNets."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from cells import basic_block, bottleneck
from nas.core.genotype import Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.zoo.common import classifier

# name → (block, depths per stage, bottleneck width as a fraction of the stage width, groups)
RESNETS: dict[str, tuple[str, list[int], float, int]] = {
    "resnet18": ("basic", [2, 2, 2, 2], 1.0, 1),
    "resnet34": ("basic", [3, 4, 6, 3], 1.0, 1),
    "resnet50": ("bottleneck", [3, 4, 6, 3], 0.25, 1),
    "resnet101": ("bottleneck", [3, 4, 23, 3], 0.25, 1),
    "resnet152": ("bottleneck", [3, 8, 36, 3], 0.25, 1),
    "wide_resnet50_2": ("bottleneck", [3, 4, 6, 3], 0.5, 1),
    "wide_resnet101_2": ("bottleneck", [3, 4, 23, 3], 0.5, 1),
    "resnext50_32x4d": ("bottleneck", [3, 4, 6, 3], 0.5, 32),
    "resnext101_32x8d": ("bottleneck", [3, 4, 23, 3], 1.0, 32),
    "resnext101_64x4d": ("bottleneck", [3, 4, 23, 3], 1.0, 64),
}


def resnet(
    name: str,
    block: str,
    depths: list[int],
    width: float = 0.25,
    groups: int = 1,
    planes: Sequence[int] | None = None,
) -> Network:
    """ImageNet ResNet: 7×7/2 conv-BN-ReLU, 3×3/2 max-pool, four stages (stride on the first block's
    3×3 conv, v1.5), global average pool, FC. Stage ``i`` is ``planes[i]`` (default ``64·2^i``)
    times the block expansion wide (1 basic, 4 bottleneck)."""
    stem = chain(
        "resnet_stem",
        [
            ("conv", {"channels": 64, "kernel": 7, "stride": 2, "padding": 3}),
            ("bn",),
            ("relu",),
            ("maxpool", {"kernel": 3, "stride": 2, "padding": 1}),
        ],
    )
    expansion = 1 if block == "basic" else 4
    cell = basic_block() if block == "basic" else bottleneck(width=width, groups=groups)
    planes = [64 * 2**i for i in range(len(depths))] if planes is None else list(planes)
    stages = tuple(
        Stage(cell, n, p * expansion, 1 if i == 0 else 2) for i, (n, p) in enumerate(zip(depths, planes))
    )
    return Network(name, stem, stages, classifier(), (3, 224, 224), 1000)


for _name, _row in RESNETS.items():
    register_arch(_name, family="resnet", reference=_name, test_size=32)(partial(resnet, _name, *_row))


def cifar_resnet(name: str, n: int) -> Network:
    """He et al. 2016 CIFAR ResNet-(6n+2): 3×3 conv 16, three stages of n basic blocks at 16/32/64
    channels, option-A (zero-padding) shortcuts."""
    stem = chain("cifar_stem", [("conv", {"channels": 16, "kernel": 3}), ("bn",), ("relu",)])
    cell = basic_block("basic_a", project="pad")
    stages = tuple(Stage(cell, n, 16 * 2**i, 1 if i == 0 else 2) for i in range(3))
    return Network(name, stem, stages, classifier(), (3, 32, 32), 10)


for _depth in (20, 32, 44, 56, 110):
    register_arch(f"resnet{_depth}", family="cifar_resnet", test_size=32)(
        partial(cifar_resnet, f"resnet{_depth}", (_depth - 2) // 6)
    )
