"""Inverted-residual (MBConv) macro space: EfficientNet-B0 and MobileNet-v2 are points of it.

Seven stages with fixed strides (1, 2, 2, 2, 1, 2, 1: B0's and MobileNet-v2's), built from the zoo's
parts (:func:`cells.mbconv`, the 3×3/2 conv stem and the 1×1-conv classifier head of
:mod:`search_spaces.zoo.mobile`).

Fields (``i`` = 1…7): ``stage{i}_kernel`` (depthwise k×k), ``stage{i}_expand`` (expansion ratio;
1 drops the 1×1 expansion conv), ``stage{i}_repeats``, ``stage{i}_se`` (squeeze-excitation with
squeeze width ``0.25·Cin``), ``stage{i}_width`` (output channels); ``stem_width``, ``head_width``
(the 1×1 conv before pooling); ``act`` (every activation, the SE's included: ``silu`` for
EfficientNet, ``relu6`` for MobileNet-v2); ``stochastic_depth`` (the network's linear drop-path rate
over blocks; 0 also leaves the blocks' residual adds unmarked, as MobileNet-v2).

Cell names follow the zoo: ``mbconv{e}_k{k}`` for SiLU blocks (EfficientNet), ``inverted_residual_e{e}``
for ReLU6 blocks (MobileNet-v2; ``_k{k}`` added for k ≠ 3); ``_se``/``_nose`` and ``_sd``/``_nosd``
are appended where a block departs from its family's default (SE and drop-path on for SiLU, off for
ReLU6), and ``_{act}`` for any other activation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cells import mbconv
from nas.core.genotype import Network, Stage, parse_channels
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices
from search_spaces.macro.common import MacroSpace, option_list, per_stage
from search_spaces.zoo.mobile import conv_head, conv_stem

STRIDES = (1, 2, 2, 2, 1, 2, 1)
KERNELS = (3, 5, 7)
EXPANSIONS = (1, 3, 4, 6)
REPEATS = (1, 2, 3, 4)
SE = (False, True)
# per stage: MobileNet-v2's and B0's widths and a neighbour (multiples of 8)
WIDTHS = (
    (16, 24, 32),
    (16, 24, 32),
    (24, 32, 40, 48),
    (64, 80, 96),
    (96, 112, 128),
    (160, 192, 224),
    (320, 384),
)
STEM_WIDTHS = (16, 24, 32, 40)
HEAD_WIDTHS = (1024, 1280, 1536)
ACTS = ("silu", "relu6")
STOCHASTIC_DEPTH = (0.0, 0.2)
SE_RATIO = 0.25
DROPOUT = 0.2


def cell_name(expand: int | float, kernel: int, se: bool, act: str, drop_path: bool) -> str:
    """The zoo's MBConv cell names, extended (see the module notes)."""
    if act == "relu6":
        name, default = f"inverted_residual_e{expand:g}" + ("" if kernel == 3 else f"_k{kernel}"), False
    else:
        name, default = f"mbconv{expand:g}_k{kernel}" + ("" if act == "silu" else f"_{act}"), True
    if se != default:
        name += "_se" if se else "_nose"
    if drop_path != default:
        name += "_sd" if drop_path else "_nosd"
    return name


class MBConvSpace(MacroSpace):
    name = "mbconv"
    families = ("efficientnet", "mobilenet")

    def __init__(
        self,
        *,
        kernels: Any = KERNELS,
        expansions: Any = EXPANSIONS,
        repeats: Any = REPEATS,
        se: Any = SE,
        widths: Any = WIDTHS,
        stem_widths: Sequence[int] = STEM_WIDTHS,
        head_widths: Sequence[int] = HEAD_WIDTHS,
        acts: Sequence[str] = ACTS,
        stochastic_depth: Sequence[float] = STOCHASTIC_DEPTH,
        strides: Sequence[int] = STRIDES,
        dropout: float = DROPOUT,
        input_size: int = 224,
        num_classes: int = 1000,
        options: Mapping[str, Sequence[Choice]] | None = None,
    ) -> None:
        self.strides = tuple(strides)
        self.dropout, self.input_size, self.num_classes = dropout, input_size, num_classes
        n = len(self.strides)
        table = {
            "kernel": per_stage("kernels", kernels, n),
            "expand": per_stage("expansions", expansions, n),
            "repeats": per_stage("repeats", repeats, n),
            "se": per_stage("se", se, n),
            "width": per_stage("widths", widths, n),
        }
        dims = {f"stage{i + 1}_{f}": table[f][i] for i in range(n) for f in table}
        dims["stem_width"] = option_list("stem_width", stem_widths)
        dims["head_width"] = option_list("head_width", head_widths)
        dims["act"] = option_list("act", acts)
        dims["stochastic_depth"] = option_list("stochastic_depth", stochastic_depth)
        super().__init__(dims, options)
        for k, opts in self.dims.items():
            if k.endswith("_se") and not all(isinstance(v, bool) for v in opts):
                raise ValueError(f"option list for field {k!r} must hold booleans, got {list(opts)}")

    def build(self, c: Choices, name: str) -> Network:
        act, sd = c["act"], c["stochastic_depth"]
        stages = []
        for i, stride in enumerate(self.strides, 1):
            e, k, se = c[f"stage{i}_expand"], c[f"stage{i}_kernel"], c[f"stage{i}_se"]
            cell = mbconv(
                cell_name(e, k, se, act, bool(sd)),
                e,
                k,
                se=SE_RATIO if se else None,
                act=act,
                se_act=act,
                drop_path=bool(sd),
            )
            stages.append(Stage(cell, c[f"stage{i}_repeats"], c[f"stage{i}_width"], stride))
        return Network(
            name,
            conv_stem(c["stem_width"], act),
            tuple(stages),
            conv_head(c["head_width"], act, self.dropout),
            (3, self.input_size, self.input_size),
            self.num_classes,
            drop_path=sd,
            drop_path_schedule="linear" if sd else "constant",
        )

    def parse(self, g: Network) -> dict[str, Any]:
        if len(g.stages) != len(self.strides):
            raise ValueError(f"it has {len(g.stages)} stages, the space has {len(self.strides)}")
        c: dict[str, Any] = {}
        for i, s in enumerate(g.stages, 1):
            cell = s.cell
            names = {n.name for n in cell.nodes}
            if "dw_conv" not in names:
                raise ValueError(f"stage {i - 1} cell {cell.name!r} is not an MBConv block")
            expand = parse_channels(cell.node("expand_conv").channels)[1] if "expand_conv" in names else 1
            c |= {
                f"stage{i}_kernel": cell.node("dw_conv").kwargs["kernel"],
                f"stage{i}_expand": expand,
                f"stage{i}_repeats": s.repeats,
                f"stage{i}_se": "se_pool" in names,
                f"stage{i}_width": s.width,
            }
        c["stem_width"] = g.stem.nodes[0].channels
        c["head_width"] = g.head.nodes[0].channels
        c["act"] = g.stages[0].cell.node("dw_act").op
        c["stochastic_depth"] = g.drop_path
        return c


@register_space(
    "mbconv",
    description="MBConv stages: kernel, expansion, repeats, SE, width (EfficientNet-B0, MobileNet-v2)",
)
def mbconv_space(**kwargs: Any) -> MBConvSpace:
    """MBConv macro space (EfficientNet-B0 / MobileNet-v2). Keywords set option lists: ``kernels``,
    ``expansions``, ``repeats``, ``se``, ``widths`` (one list, or one per stage), ``stem_widths``,
    ``head_widths``, ``acts``, ``stochastic_depth``; ``options`` replaces any single field's list;
    ``strides``, ``dropout``, ``input_size``, ``num_classes`` are fixed."""
    return MBConvSpace(**kwargs)
