"""VGG macro space: convs and width per stage, batch norm; VGG-11/13/16/19 (± BN) are points.

torchvision's layout (:func:`search_spaces.zoo.classic.vgg_from_rows`): five stages of 3×3
conv[-BN]-ReLU layers, each closed by a 2×2 max-pool, then a 7×7 adaptive pool and the
4096-4096-K classifier. The first conv of the network is its stem.

Fields (``i`` = 1…5): ``stage{i}_convs``, ``stage{i}_width``, ``batch_norm``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas.core.genotype import Network
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices
from search_spaces.macro.common import MacroSpace, option_list, per_stage
from search_spaces.zoo.classic import vgg_from_rows

CONVS = (1, 2, 3, 4)
WIDTHS = ((32, 64, 128), (64, 128, 256), (128, 256, 512), (256, 512), (256, 512))
BATCH_NORM = (False, True)


class VGGSpace(MacroSpace):
    name = "vgg"
    families = ("vgg",)

    def __init__(
        self,
        *,
        convs: Any = CONVS,
        widths: Any = WIDTHS,
        batch_norm: Sequence[bool] = BATCH_NORM,
        num_stages: int = 5,
        input_size: int = 224,
        num_classes: int = 1000,
        options: Mapping[str, Sequence[Choice]] | None = None,
    ) -> None:
        self.num_stages, self.input_size, self.num_classes = num_stages, input_size, num_classes
        dims = {}
        for i, (c, w) in enumerate(
            zip(per_stage("convs", convs, num_stages), per_stage("widths", widths, num_stages)), 1
        ):
            dims[f"stage{i}_convs"] = c
            dims[f"stage{i}_width"] = w
        dims["batch_norm"] = option_list("batch_norm", batch_norm)
        super().__init__(dims, options)

    def build(self, c: Choices, name: str) -> Network:
        rows: list[int | str] = []
        for i in range(1, self.num_stages + 1):
            rows += [c[f"stage{i}_width"]] * c[f"stage{i}_convs"] + ["M"]
        net = vgg_from_rows(name, rows, c["batch_norm"])
        return net.replace(input_size=(3, self.input_size, self.input_size), num_classes=self.num_classes)

    def parse(self, g: Network) -> dict[str, Any]:
        conv = g.stem.nodes[0]
        if conv.op != "conv":
            raise ValueError("the stem does not start with a conv")
        groups: list[list[int]] = [[conv.channels]]  # conv widths between pools
        for s in g.stages:
            if s.width is None:  # a pool
                groups.append([])
            else:
                groups[-1] += [s.width] * s.repeats
        if groups[-1]:
            raise ValueError("the last stage is not closed by a pool")
        groups.pop()
        if len(groups) != self.num_stages:
            raise ValueError(f"it has {len(groups)} pooled stages, the space has {self.num_stages}")
        c: dict[str, Any] = {"batch_norm": any(n.op == "bn" for n in g.stem.nodes)}
        for i, widths in enumerate(groups, 1):
            if not widths or len(set(widths)) != 1:
                raise ValueError(f"pooled stage {i} has conv widths {widths}, not one width")
            c[f"stage{i}_convs"], c[f"stage{i}_width"] = len(widths), widths[0]
        return c


@register_space(
    "vgg",
    description="VGG: convs and width per stage, batch norm (Simonyan 2015)",
)
def vgg_space(**kwargs: Any) -> VGGSpace:
    """VGG macro space. Keywords set option lists: ``convs``, ``widths`` (one list, or one per
    stage), ``batch_norm``; ``options`` replaces any single field's list; ``input_size`` and
    ``num_classes`` are fixed."""
    return VGGSpace(**kwargs)
