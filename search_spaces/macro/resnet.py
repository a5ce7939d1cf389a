"""ResNet macro space: block type, depth and width per stage, groups and width per group.

Covers ResNet (basic / bottleneck), Wide ResNet (wider bottleneck: ``width_per_group`` 128), ResNeXt
(``groups`` 32/64 with ``width_per_group`` 4/8) and pre-activation ResNets, on torchvision's ImageNet
layout (7×7/2 stem + max-pool, four stages, stride 2 from the second, global pool, FC).

Fields (``i`` = 1…4): ``block``; ``stage{i}_depth`` (blocks); ``stage{i}_width`` (torchvision's
``planes``: the stage is ``planes × expansion`` wide, expansion 4 for the bottleneck, 1 otherwise);
``groups`` and ``width_per_group`` (the bottleneck's 3×3 conv has ``groups`` groups of
``planes·width_per_group/64`` channels each, torchvision's formula). ``groups`` and
``width_per_group`` apply to the bottleneck only; for the other blocks they are fixed at 1 and 64.

A pre-activation network (``block="preact"``) is the zoo's ImageNet pre-activation ResNet
(:func:`search_spaces.zoo.extra.preact_resnet`: 7×7/2 conv and max-pool stem without BN-ReLU,
:func:`cells.preact.preact_block` cells, BN-ReLU before the classifier), so ``preact_resnet18`` is a
point. (The zoo's pre-activation *bottleneck* networks are not: no ``preact_bottleneck`` block type.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas.core.genotype import Network, parse_channels
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices
from search_spaces.macro.common import MacroSpace, option_list, per_stage
from search_spaces.zoo.extra import preact_resnet
from search_spaces.zoo.resnet import resnet as zoo_resnet

BLOCKS = ("basic", "bottleneck", "preact")
DEPTHS = ((1, 2, 3, 4), (1, 2, 3, 4, 6, 8), (1, 2, 3, 4, 6, 8, 12, 16, 23, 36), (1, 2, 3, 4))
WIDTHS = ((32, 48, 64, 80, 96), (64, 96, 128, 160, 192), (128, 192, 256, 320, 384), (256, 384, 512, 640, 768))
GROUPS = (1, 32, 64)
WIDTH_PER_GROUP = (4, 8, 16, 32, 64, 128)


class ResNetSpace(MacroSpace):
    name = "resnet"
    families = ("resnet", "preact_resnet")
    controllers = ("block",)
    neutral = {"groups": 1, "width_per_group": 64}

    def __init__(
        self,
        *,
        blocks: Sequence[str] = BLOCKS,
        depths: Any = DEPTHS,
        widths: Any = WIDTHS,
        groups: Sequence[int] = GROUPS,
        width_per_group: Sequence[int] = WIDTH_PER_GROUP,
        num_stages: int = 4,
        input_size: int = 224,
        num_classes: int = 1000,
        options: Mapping[str, Sequence[Choice]] | None = None,
    ) -> None:
        self.num_stages = num_stages
        self.input_size, self.num_classes = input_size, num_classes
        dims = {"block": option_list("block", blocks)}
        for b in dims["block"]:
            if b not in BLOCKS:
                raise ValueError(f"option list for field 'block': {b!r} is not one of {BLOCKS}")
        for i, o in enumerate(per_stage("depths", depths, num_stages), 1):
            dims[f"stage{i}_depth"] = o
        for i, o in enumerate(per_stage("widths", widths, num_stages), 1):
            dims[f"stage{i}_width"] = o
        dims["groups"] = option_list("groups", groups)
        dims["width_per_group"] = option_list("width_per_group", width_per_group)
        super().__init__(dims, options)
        for k, opts in self.dims.items():
            if k != "block" and not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in opts
            ):
                raise ValueError(f"option list for field {k!r} must hold positive ints, got {list(opts)}")
        if "bottleneck" in self.dims["block"]:
            self._check_bottleneck_widths()

    def _check_bottleneck_widths(self) -> None:
        """Every bottleneck option must give a whole inner width that ``groups`` divides."""
        for g in self.dims["groups"]:
            for wpg in self.dims["width_per_group"]:
                frac = wpg * g / 256
                if float(f"{frac:g}") != frac:
                    raise ValueError(
                        f"option list for field 'width_per_group': {wpg} × groups {g} / 256 "
                        "is not a short decimal"
                    )
                for i in range(1, self.num_stages + 1):
                    for p in self.dims[f"stage{i}_width"]:
                        if (p * wpg) % 64:
                            raise ValueError(
                                f"option list for field 'stage{i}_width': {p} × width_per_group "
                                f"{wpg} is not a multiple of 64"
                            )

    def active(self, c: Mapping[str, Choice]) -> set[str]:
        if c.get("block") == "bottleneck":
            return set(self.dims)
        return set(self.dims) - {"groups", "width_per_group"}

    def build(self, c: Choices, name: str) -> Network:
        n = self.num_stages
        depths = [c[f"stage{i}_depth"] for i in range(1, n + 1)]
        planes = [c[f"stage{i}_width"] for i in range(1, n + 1)]
        block = c["block"]
        frac = c["width_per_group"] * c["groups"] / 256  # torchvision: planes·wpg/64·groups of 4·planes
        if block == "preact":
            net = preact_resnet(name, "basic", depths, planes, "imagenet", "3x3")
        else:
            net = zoo_resnet(name, block, depths, frac, c["groups"], planes)
        s = self.input_size
        return net.replace(input_size=(3, s, s), num_classes=self.num_classes)

    def parse(self, g: Network) -> dict[str, Any]:
        if len(g.stages) != self.num_stages:
            raise ValueError(f"it has {len(g.stages)} stages, the space has {self.num_stages}")
        cell = g.stages[0].cell
        names = {n.name for n in cell.nodes}
        block = "bottleneck" if "c3_conv" in names else "preact" if "bn1" in names else "basic"
        expansion = 4 if block == "bottleneck" else 1
        c: dict[str, Any] = {"block": block}
        for i, s in enumerate(g.stages, 1):
            c[f"stage{i}_depth"] = s.repeats
            if s.width is None or s.width % expansion:
                raise ValueError(f"stage {i - 1} width {s.width} is not a multiple of {expansion}")
            c[f"stage{i}_width"] = s.width // expansion
        if block == "bottleneck":
            groups = cell.node("c2_conv").kwargs.get("groups", 1)
            _, frac, _ = parse_channels(cell.node("c1_conv").channels)
            c["groups"] = groups
            c["width_per_group"] = round(frac * 256 / groups) if isinstance(groups, int) else None
        return c


@register_space(
    "resnet",
    description="ResNet/WRN/ResNeXt/pre-act: block, depth+width per stage, groups, width/group (He 2016)",
)
def resnet_space(**kwargs: Any) -> ResNetSpace:
    """ResNet / Wide ResNet / ResNeXt / pre-activation macro space (keywords set the option lists:
    ``blocks``, ``depths``, ``widths`` (one list, or one per stage), ``groups``, ``width_per_group``;
    ``options`` replaces any single field's list; ``input_size``, ``num_classes`` are fixed)."""
    return ResNetSpace(**kwargs)
