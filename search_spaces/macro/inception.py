"""GoogLeNet-style macro space: the branch widths of every Inception module; GoogLeNet is a point.

The layout is GoogLeNet's as torchvision builds it (:func:`search_spaces.zoo.inception.googlenet`):
conv stem, modules 3a 3b | 4a…4e | 5a 5b with ceil-mode max-pools between the groups, global pool,
dropout 0.2, FC. Each module is 1×1 | 1×1→3×3 | 1×1→"5×5" | 3×3 max-pool→1×1, concatenated.

Fields: ``{m}_{branch}`` for module ``m`` in 3a…5b and branch in ``1x1``, ``3x3_reduce``, ``3x3``,
``5x5_reduce``, ``5x5``, ``pool_proj`` (output channels), and ``5x5_kernel`` (3, torchvision's
choice, or 5, the paper's). A branch's default options are GoogLeNet's width times
0.5, 0.75, 1, 1.25 and 1.5.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas.core.genotype import Network
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices
from search_spaces.macro.common import MacroSpace, option_list
from search_spaces.zoo.inception import GOOGLENET, googlenet

BRANCHES = ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")
MULTIPLIERS = (0.5, 0.75, 1.0, 1.25, 1.5)
KERNELS_5X5 = (3, 5)
# node in :func:`cells.inception_module` whose output channels are each branch's width
_NODES = ("b1_conv", "b2a_conv", "b2b_conv", "b3a_conv", "b3b_conv", "b4_conv")


class InceptionSpace(MacroSpace):
    name = "inception"
    families = ("inception",)

    def __init__(
        self,
        *,
        multipliers: Sequence[float] = MULTIPLIERS,
        kernels_5x5: Sequence[int] = KERNELS_5X5,
        aux: bool = False,
        input_size: int = 224,
        num_classes: int = 1000,
        options: Mapping[str, Sequence[Choice]] | None = None,
    ) -> None:
        self.aux, self.input_size, self.num_classes = aux, input_size, num_classes
        self.layout = tuple(GOOGLENET)
        self.modules = tuple(row[0] for row in self.layout if row[0] != "M")
        dims = {}
        for row in self.layout:
            if row[0] != "M":
                for b, width in zip(BRANCHES, row[1:]):
                    widths = sorted({max(1, round(width * m)) for m in multipliers})
                    dims[f"{row[0]}_{b}"] = option_list(f"{row[0]}_{b}", widths)
        dims["5x5_kernel"] = option_list("5x5_kernel", kernels_5x5)
        super().__init__(dims, options)

    def build(self, c: Choices, name: str) -> Network:
        rows = [
            row if row[0] == "M" else (row[0], *(c[f"{row[0]}_{b}"] for b in BRANCHES)) for row in self.layout
        ]
        net = googlenet(self.aux, rows=rows, k5=c["5x5_kernel"], name=name)
        return net.replace(input_size=(3, self.input_size, self.input_size), num_classes=self.num_classes)

    def parse(self, g: Network) -> dict[str, Any]:
        if len(g.stages) != len(self.layout):
            raise ValueError(f"it has {len(g.stages)} stages, the space has {len(self.layout)}")
        c: dict[str, Any] = {}
        for row, stage in zip(self.layout, g.stages):
            if row[0] != "M":
                for b, node in zip(BRANCHES, _NODES):
                    c[f"{row[0]}_{b}"] = stage.cell.node(node).channels
        module = g.stages[0].cell
        c["5x5_kernel"] = module.node("b3b_conv").kwargs["kernel"]
        return c


@register_space(
    "inception",
    description="GoogLeNet: branch widths of the 9 Inception modules, 5x5 kernel (Szegedy 2015)",
)
def inception_space(**kwargs: Any) -> InceptionSpace:
    """GoogLeNet-style macro space. Keywords: ``multipliers`` (each branch's options are
    GoogLeNet's width times these), ``kernels_5x5``; ``options`` replaces any single field's list;
    ``aux`` (the two auxiliary heads), ``input_size``, ``num_classes`` are fixed."""
    return InceptionSpace(**kwargs)
