"""DenseNet macro space: growth rate, block sizes, bottleneck, compression; DenseNet-121/161/169/201
are points.

torchvision's ImageNet layout (:func:`search_spaces.zoo.densenet.densenet`): 7×7/2 conv-BN-ReLU
stem and 3×3/2 max-pool, four dense blocks with transitions (BN-ReLU-1×1 conv to
``floor(compression · channels)``, 2×2 average pool) between them, final BN-ReLU, pool, FC.

Fields: ``growth`` (k), ``stem_width``, ``block{i}_layers`` (``i`` = 1…4), ``bottleneck`` (True:
DenseNet-B layer BN-ReLU-1×1 conv (4k)-BN-ReLU-3×3 conv (k); False: BN-ReLU-3×3 conv (k)),
``compression`` (1.0: no compression, DenseNet without "C").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cells import CellWriter
from nas.core.genotype import Cell, Network
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices
from search_spaces.macro.common import MacroSpace, option_list, per_stage
from search_spaces.zoo.densenet import densenet

GROWTH = (12, 16, 24, 32, 40, 48)
STEM_WIDTHS = (32, 48, 64, 96)
LAYERS = ((2, 4, 6, 8), (6, 8, 12, 16), (12, 16, 24, 32, 36, 48), (8, 12, 16, 24, 32))
BOTTLENECK = (False, True)
COMPRESSION = (0.5, 1.0)


def plain_dense_layer(growth: int, name: str = "dense_layer_plain") -> Cell:
    """DenseNet layer without bottleneck: BN-ReLU-3×3 conv (k); output concat(x, new)."""
    w = CellWriter()
    y = w.add("norm", "bn", "x")
    y = w.add("relu", "relu", y)
    y = w.add("conv", "conv", y, channels=growth, kernel=3)
    out = w.add("concat", "identity", ["x", y], combine="concat")
    return w.cell(name, out)


class DenseNetSpace(MacroSpace):
    name = "densenet"
    families = ("densenet",)

    def __init__(
        self,
        *,
        growth: Sequence[int] = GROWTH,
        stem_widths: Sequence[int] = STEM_WIDTHS,
        layers: Any = LAYERS,
        bottleneck: Sequence[bool] = BOTTLENECK,
        compression: Sequence[float] = COMPRESSION,
        num_blocks: int = 4,
        input_size: int = 224,
        num_classes: int = 1000,
        options: Mapping[str, Sequence[Choice]] | None = None,
    ) -> None:
        self.num_blocks, self.input_size, self.num_classes = num_blocks, input_size, num_classes
        dims = {"growth": option_list("growth", growth), "stem_width": option_list("stem_width", stem_widths)}
        for i, o in enumerate(per_stage("layers", layers, num_blocks), 1):
            dims[f"block{i}_layers"] = o
        dims["bottleneck"] = option_list("bottleneck", bottleneck)
        dims["compression"] = option_list("compression", compression)
        super().__init__(dims, options)
        for v in self.dims["compression"]:
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
                raise ValueError(f"option list for field 'compression': {v!r} is not in (0, 1]")

    def build(self, c: Choices, name: str) -> Network:
        k = c["growth"]
        blocks = tuple(c[f"block{i}_layers"] for i in range(1, self.num_blocks + 1))
        layer = None if c["bottleneck"] else plain_dense_layer(k)
        net = densenet(name, k, blocks, c["stem_width"], compression=c["compression"], layer=layer)
        return net.replace(input_size=(3, self.input_size, self.input_size), num_classes=self.num_classes)

    def parse(self, g: Network) -> dict[str, Any]:
        dense = [s for s in g.stages if s.width is None]
        if len(dense) != self.num_blocks or len(g.stages) != 2 * self.num_blocks - 1:
            raise ValueError(f"it does not have {self.num_blocks} dense blocks with transitions between them")
        cell = dense[0].cell
        bottleneck = any(n.name == "conv1" for n in cell.nodes)
        growth = cell.node("conv2" if bottleneck else "conv").channels
        init = g.stem.nodes[0].channels
        c: dict[str, Any] = {"growth": growth, "stem_width": init, "bottleneck": bottleneck}
        for i, s in enumerate(dense, 1):
            c[f"block{i}_layers"] = s.repeats
        channels = init + dense[0].repeats * growth  # the first transition's input
        width = g.stages[1].width
        c["compression"] = next((r for r in self.dims["compression"] if int(channels * r) == width), None)
        if c["compression"] is None:
            raise ValueError(f"the first transition maps {channels} to {width} channels")
        return c


@register_space(
    "densenet",
    description="DenseNet: growth, block sizes, bottleneck, compression (Huang 2017)",
)
def densenet_space(**kwargs: Any) -> DenseNetSpace:
    """DenseNet macro space. Keywords set option lists: ``growth``, ``stem_widths``, ``layers`` (one
    list, or one per block), ``bottleneck``, ``compression``; ``options`` replaces any single
    field's list; ``input_size`` and ``num_classes`` are fixed."""
    return DenseNetSpace(**kwargs)
