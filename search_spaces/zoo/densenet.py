"""DenseNet family: DenseNet-121/161/169/201 (torchvision layouts) and CIFAR DenseNet-BC (Huang et al.).

A dense block is one :func:`cells.dense_layer` cell repeated (each repeat concatenates ``growth``
new channels to its input, so the stage has no width); a transition is :func:`cells.dense_transition`
(BN-ReLU-1×1 conv to ``compression·channels`` (floor), 2×2 average pool) in a stride-2 stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from cells import CellWriter, dense_layer, dense_transition
from nas.core.genotype import Cell, Network, Stage, chain
from nas.core.registry import register_arch

# name → (growth rate k, layers per dense block, stem channels); bottleneck width 4·k, compression 0.5.
DENSENETS: dict[str, tuple[int, tuple[int, ...], int]] = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}


def dense_stages(
    init: int,
    growth: int,
    blocks: Sequence[int],
    bn_size: int = 4,
    compression: float = 0.5,
    layer: Cell | None = None,
) -> tuple[Stage, ...]:
    """Dense blocks separated by transitions (none after the last block); ``init`` = stem channels.
    ``layer`` replaces the bottleneck layer (it must add ``growth`` channels)."""
    layer = dense_layer(growth, bn_size) if layer is None else layer
    transition = dense_transition()
    stages: list[Stage] = []
    channels = init
    for i, n in enumerate(blocks):
        stages.append(Stage(layer, n, None, 1))
        channels += n * growth
        if i < len(blocks) - 1:
            channels = int(channels * compression)
            stages.append(Stage(transition, 1, channels, 2))
    return tuple(stages)


def bn_relu_classifier(name: str = "densenet_head") -> Cell:
    """Final BN (torchvision's ``norm5``) → ReLU → global average pool → flatten → Linear(K)."""
    w = CellWriter()
    x = w.add("norm", "bn", "x")
    x = w.add("relu", "relu", x)
    x = w.add("pool", "adaptive_avgpool", x, size=1)
    x = w.add("flatten", "flatten", x)
    x = w.add("fc", "linear", x, channels="K")
    return w.cell(name, x)


def densenet(
    name: str,
    growth: int,
    blocks: tuple[int, ...],
    init: int,
    *,
    compression: float = 0.5,
    layer: Cell | None = None,
) -> Network:
    """ImageNet DenseNet-BC (torchvision ``DenseNet``, ``drop_rate=0``; ``memory_efficient`` only
    changes how gradients are computed): 7×7/2 conv-BN-ReLU, 3×3/2 max-pool, four dense blocks.
    ``compression`` and ``layer`` are passed to :func:`dense_stages`."""
    stem = chain(
        "densenet_stem",
        [
            ("conv", {"channels": init, "kernel": 7, "stride": 2, "padding": 3}),
            ("bn",),
            ("relu",),
            ("maxpool", {"kernel": 3, "stride": 2, "padding": 1}),
        ],
    )
    stages = dense_stages(init, growth, blocks, compression=compression, layer=layer)
    return Network(name, stem, stages, bn_relu_classifier(), (3, 224, 224), 1000)


for _name, _row in DENSENETS.items():
    register_arch(_name, family="densenet", reference=_name, test_size=32)(partial(densenet, _name, *_row))


def densenet_bc(depth: int = 100, growth: int = 12) -> Network:
    """CIFAR DenseNet-BC (Huang et al. 2017, L=100, k=12: 769,162 parameters, "0.8M"): 3×3 conv to
    2k channels, three dense blocks of (L-4)/6 bottleneck layers, compression 0.5, BN-ReLU-pool-FC.
    Convolutions have no bias, as in the PyTorch ports that report 769,162; biased convs (Torch's
    default) would add 3,162 (stem 24, 48 × (48 + 12) in the layers, 108 + 150 in the transitions)."""
    if (depth - 4) % 6:
        raise ValueError(f"DenseNet-BC depth must be 6n+4, got {depth}")
    n = (depth - 4) // 6
    stem = chain("densenet_cifar_stem", [("conv", {"channels": 2 * growth, "kernel": 3})])
    stages = dense_stages(2 * growth, growth, (n, n, n))
    return Network(f"densenet_bc_{depth}_{growth}", stem, stages, bn_relu_classifier(), (3, 32, 32), 10)


register_arch("densenet_bc", family="cifar_densenet", test_size=32)(densenet_bc)
