"""RegNet macro space: the AnyNet parameters of Radosavovic et al. 2020, every torchvision RegNet a point.

Fields: ``depth`` (blocks in all), ``w0`` (initial width), ``wa`` (width slope), ``wm`` (log-space
width step), ``group_width`` (channels per group of the 3×3 conv), ``bottleneck`` (inner width ratio)
and ``se`` (squeeze-excitation, ratio 0.25 of the block input: RegNetY). A choice vector becomes stage
rows through :func:`search_spaces.anynet.regnet_stages` and those a network through the zoo's
:func:`search_spaces.zoo.regnet.regnet` (3×3/2 stem of 32, stride 2 per stage, pool, FC). The default
option lists are the values torchvision's fifteen RegNets use.

The quantization is many-to-one: nearby (w0, wa, wm) can give the same stages, so one network has
several parameter vectors. ``encode`` returns torchvision's own parameters for its networks, else the
first in option order (``group_width``, ``w0``, ``wa``, ``wm``); ``decode(encode(g)) == g`` for every member;
``size`` counts parameter vectors, not distinct networks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from nas.core.genotype import Network, parse_channels
from nas.core.registry import register_space
from nas.tools.scale import make_divisible
from search_spaces.anynet import RegNetParams, check_params, regnet_stages
from search_spaces.base import Choice, Choices
from search_spaces.macro.common import MacroSpace, option_list
from search_spaces.zoo.regnet import REGNETS, regnet

SE_RATIO = 0.25
PARAMS = ("depth", "w0", "wa", "wm", "group_width", "bottleneck")  # RegNetParams' fields before `se`


def _values(field: str) -> tuple[Any, ...]:
    return tuple(sorted({getattr(p, field) for p in REGNETS.values()}))


DEPTHS, W0S, WAS, WMS, GROUP_WIDTHS = (_values(f) for f in ("depth", "w0", "wa", "wm", "group_width"))
BOTTLENECKS = (0.25, 0.5, 1.0)


def _first_width(w0: int, group_width: int, bottleneck: float) -> int:
    """The first stage's width (the first block is always ``w0`` wide before the width adjustment)."""
    inner = int(w0 * bottleneck)
    return int(make_divisible(inner, min(group_width, inner)) / bottleneck)


class RegNetSpace(MacroSpace):
    name = "regnet"
    families = ("regnet",)

    def __init__(
        self,
        *,
        depths: Sequence[int] = DEPTHS,
        w0: Sequence[int] = W0S,
        wa: Sequence[float] = WAS,
        wm: Sequence[float] = WMS,
        group_widths: Sequence[int] = GROUP_WIDTHS,
        bottlenecks: Sequence[float] = BOTTLENECKS,
        se: Sequence[bool] = (False, True),
        input_size: int = 224,
        num_classes: int = 1000,
        options: Mapping[str, Sequence[Choice]] | None = None,
    ) -> None:
        self.input_size, self.num_classes = input_size, num_classes
        dims = {
            "depth": option_list("depth", depths),
            "w0": option_list("w0", w0),
            "wa": option_list("wa", wa),
            "wm": option_list("wm", wm),
            "group_width": option_list("group_width", group_widths),
            "bottleneck": option_list("bottleneck", bottlenecks),
            "se": option_list("se", se),
        }
        super().__init__(dims, options)
        for v in self.dims["se"]:
            if not isinstance(v, bool):
                raise ValueError(f"option list for field 'se' must hold booleans, got {v!r}")
        first = {k: self.dims[k][0] for k in PARAMS}
        for k in PARAMS:
            for v in self.dims[k]:
                check_params(RegNetParams(**{**first, k: v}))  # a ConfigError naming the field

    @staticmethod
    def params(c: Mapping[str, Choice]) -> RegNetParams:
        """The RegNet parametrization of a choice vector."""
        return RegNetParams(*(c[k] for k in PARAMS), se=SE_RATIO if c["se"] else None)  # type: ignore[arg-type]

    def build(self, c: Choices, name: str) -> Network:
        s = self.input_size
        return regnet(name, self.params(c)).replace(input_size=(3, s, s), num_classes=self.num_classes)

    def parse(self, g: Network) -> dict[str, Any]:
        cell = g.stages[0].cell
        se = any(n.name == "se_pool" for n in cell.nodes)
        parsed = parse_channels(cell.node("a_conv").channels)
        if parsed is None or parsed[0] != "C":
            raise ValueError("its blocks' 1×1 conv width is not relative to the stage width")
        fixed = {"depth": sum(s.repeats for s in g.stages), "bottleneck": parsed[1], "se": se}
        want = [(s.width, s.repeats, s.cell.node("b_conv").kwargs.get("groups")) for s in g.stages]
        for gw, w0, wa, wm in self._candidates(fixed["depth"], parsed[1], want[0][0]):
            p = RegNetParams(fixed["depth"], w0, wa, wm, gw, parsed[1])
            if [(r.width, r.depth, r.groups) for r in regnet_stages(p)] == want:
                return {**fixed, "w0": w0, "wa": wa, "wm": wm, "group_width": gw}
        raise ValueError("no (group_width, w0, wa, wm) among the options gives its stages")

    def _candidates(self, depth: int, bottleneck: float, width0: int) -> Iterator[tuple[Any, ...]]:
        """(group_width, w0, wa, wm) to try: torchvision's own rows first (so its networks encode as
        its parameters), then the options in order, skipping w0 that cannot give the first width."""
        d = self.dims
        for p in REGNETS.values():
            row = (p.group_width, p.w0, p.wa, p.wm)
            if p.depth == depth and all(v in d[k] for k, v in zip(("group_width", "w0", "wa", "wm"), row)):
                yield row
        for gw, w0 in itertools.product(d["group_width"], d["w0"]):
            if _first_width(int(w0), int(gw), bottleneck) == width0:
                yield from ((gw, w0, wa, wm) for wa, wm in itertools.product(d["wa"], d["wm"]))


@register_space(
    "regnet",
    description="RegNet/AnyNet: depth, w0, wa, wm, group width, bottleneck, SE (Radosavovic 2020)",
)
def regnet_space(**kwargs: Any) -> RegNetSpace:
    """RegNet macro space (keywords set the option lists: ``depths``, ``w0``, ``wa``, ``wm``,
    ``group_widths``, ``bottlenecks``, ``se``; ``options`` replaces any single field's list;
    ``input_size``, ``num_classes`` are fixed)."""
    return RegNetSpace(**kwargs)
