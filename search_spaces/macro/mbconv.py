"""Inverted-residual (MBConv) macro space: EfficientNet-B0, MobileNet-v2, MobileNetV3, MNASNet and
EfficientNetV2 are points of it.

By default seven stages with fixed strides (1, 2, 2, 2, 1, 2, 1: B0's and MobileNet-v2's), built from
the zoo's parts (:func:`cells.mobile_blocks.mobile_block`, the 3×3/2 conv stem and the 1×1-conv head
of :mod:`search_spaces.zoo.mobile`).

Fields (``i`` = 1…stages): ``stage{i}_kernel`` (depthwise k×k), ``stage{i}_expand`` (expansion ratio;
1 drops the 1×1 expansion conv), ``stage{i}_repeats``, ``stage{i}_se`` (squeeze-excitation),
``stage{i}_width`` (output channels); ``stem_width``, ``head_width`` (the 1×1 conv before pooling);
``act`` (every activation: ``silu`` for EfficientNet, ``relu6`` for MobileNet-v2); ``stochastic_depth``
(the network's linear drop-path rate over blocks; 0 also leaves the blocks' residual adds unmarked).
Two more per-stage fields exist when their option lists are given (``blocks``, ``stage_acts``) or a
layout is chosen: ``stage{i}_block`` (``mbconv`` or Fused-MBConv ``fused``) and ``stage{i}_act`` (the
blocks' activation; ``act`` is then the stem's and head's).

``layout`` names a family whose stage structure the space takes (:data:`LAYOUTS`): its zoo entries'
strides, BN settings, SE style (EfficientNet's or MobileNetV3's, see :mod:`cells.mobile_blocks`), head
(MobileNetV3's extra linear layer), dropout and resolution are fixed, and their values join every
option list not given, so the entries are members. Cell names are the zoo's
(:func:`cells.mobile_blocks.block_name`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from cells.mobile_blocks import block_name, mobile_block
from nas.core.genotype import Network, Stage, parse_channels
from nas.core.registry import ARCHS, register_space
from nas.tools.scale import make_divisible
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
DROPOUT = 0.2
BLOCKS = ("mbconv", "fused")
STAGE_ACTS = ("relu", "relu6", "hardswish", "silu")

# layout → the zoo entries it is built around (one stage structure)
LAYOUTS: dict[str, tuple[str, ...]] = {
    "mobilenet_v3_large": ("mobilenet_v3_large",),
    "mobilenet_v3_small": ("mobilenet_v3_small",),
    "mnasnet": ("mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"),
    "efficientnet_v2_s": ("efficientnet_v2_s",),
    "efficientnet_v2_m": ("efficientnet_v2_m",),
    "efficientnet_v2_l": ("efficientnet_v2_l",),
}


class Fixed(NamedTuple):
    """What a space holds fixed (read off a layout's zoo entries)."""

    strides: tuple[int, ...] = STRIDES
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    se_style: str = "efficientnet"
    head_hidden: int | None = None
    dropout: float = DROPOUT
    input_size: int = 224
    num_classes: int = 1000


def cell_name(expand: int | float, kernel: int, se: bool, act: str, drop_path: bool) -> str:
    """The zoo's MBConv cell names (see :func:`cells.mobile_blocks.block_name`)."""
    return block_name("mbconv", expand, kernel, se, act, drop_path)


def read_stage(s: Stage) -> dict[str, Any]:
    """A stage's per-stage fields (block, kernel, expand, repeats, se, width, act)."""
    cell = s.cell
    names = {n.name for n in cell.nodes}
    if "dw_conv" in names:
        block, conv, expanding = "mbconv", cell.node("dw_conv"), "expand_conv"
        expand = parse_channels(cell.node("expand_conv").channels)[1] if expanding in names else 1
    elif "fused_conv" in names:
        block, conv = "fused", cell.node("fused_conv")
        expand = parse_channels(conv.channels)[1] if "project_conv" in names else 1
    else:
        raise ValueError(f"cell {cell.name!r} is neither an MBConv nor a Fused-MBConv block")
    prefix = "dw_" if block == "mbconv" else "fused_"
    return {
        "block": block,
        "kernel": conv.kwargs["kernel"],
        "expand": expand,
        "repeats": s.repeats,
        "se": "se_pool" in names,
        "width": s.width,
        "act": cell.node(f"{prefix}act").op,
    }


def read_fixed(g: Network) -> Fixed:
    """The fixed settings of a zoo entry of the space's shape."""
    bn = next(n for n in g.stem.nodes if n.op == "bn").kwargs
    head = {n.name: n for n in g.head.nodes}
    gates = {n.op for s in g.stages for n in s.cell.nodes if n.name == "se_gate"}
    return Fixed(
        tuple(s.stride for s in g.stages),
        bn.get("eps", 1e-5),
        bn.get("momentum", 0.1),
        "mobilenet_v3" if "hardsigmoid" in gates else "efficientnet",
        head["hidden_fc"].channels if "hidden_fc" in head else None,
        head["drop"].kwargs["p"] if "drop" in head else 0.0,
        g.input_size[1],
        g.num_classes,
    )


def _union(options: Iterable[Choice], extra: Iterable[Choice]) -> tuple[Choice, ...]:
    """``options`` then each new value of ``extra`` (6.0 is the option 6; bools match only bools)."""
    out = list(options)
    for v in extra:
        if not any(isinstance(v, bool) == isinstance(o, bool) and v == o for o in out):
            out.append(v)
    return tuple(out)


def layout_defaults(layout: str) -> tuple[Fixed, dict[str, Any]]:
    """A layout's fixed settings and default option lists (generic lists ∪ its entries' values)."""
    if layout not in LAYOUTS:
        raise ValueError(f"field 'layout' must be one of {sorted(LAYOUTS)}, got {layout!r}")
    nets = [ARCHS[n]() for n in LAYOUTS[layout]]
    fixed = {read_fixed(g) for g in nets}
    if len(fixed) != 1:
        raise ValueError(f"layout {layout!r}: its zoo entries do not share one stage structure")
    stages = [[read_stage(s) for s in g.stages] for g in nets]
    n = len(stages[0])

    def col(f: str, base: Sequence[Choice]) -> list[tuple[Choice, ...]]:
        return [_union(base, [st[i][f] for st in stages]) for i in range(n)]

    first = stages[0]
    widths = [
        tuple(
            sorted(
                {st[i]["width"] for st in stages}
                | {make_divisible(first[i]["width"] * m, 8) for m in (0.75, 1.25)}
            )
        )
        for i in range(n)
    ]
    options = {
        "kernels": col("kernel", KERNELS),
        "expansions": col("expand", EXPANSIONS),
        "repeats": col("repeats", REPEATS),
        "se": col("se", SE),
        "widths": widths,
        "blocks": col("block", BLOCKS),
        "stage_acts": col("act", STAGE_ACTS),
        "stem_widths": _union(STEM_WIDTHS, [g.stem.nodes[0].channels for g in nets]),
        "head_widths": _union(HEAD_WIDTHS, [g.head.nodes[0].channels for g in nets]),
        "acts": _union(ACTS, [g.stem.nodes[-1].op for g in nets]),
        "stochastic_depth": _union(STOCHASTIC_DEPTH, [g.drop_path for g in nets]),
    }
    return fixed.pop(), options


class MBConvSpace(MacroSpace):
    name = "mbconv"
    families = ("efficientnet", "mobilenet", "mnasnet")

    def __init__(
        self,
        *,
        layout: str | None = None,
        strides: Sequence[int] | None = None,
        dropout: float | None = None,
        input_size: int | None = None,
        num_classes: int | None = None,
        options: Mapping[str, Sequence[Choice]] | None = None,
        **option_lists: Any,
    ) -> None:
        fixed, defaults = layout_defaults(layout) if layout else (Fixed(), {})
        unknown = sorted(set(option_lists) - set(_OPTION_DEFAULTS))
        if unknown:
            raise TypeError(f"mbconv space: unknown keyword(s) {', '.join(unknown)}")
        given = {"strides": strides, "dropout": dropout, "input_size": input_size, "num_classes": num_classes}
        fixed = fixed._replace(
            **{k: tuple(v) if k == "strides" else v for k, v in given.items() if v is not None}
        )
        self.fixed_settings = fixed
        lists = {**_OPTION_DEFAULTS, **defaults, **option_lists}
        super().__init__(self._dims(lists), options)
        for k, opts in self.dims.items():
            if k.endswith("_se") and not all(isinstance(v, bool) for v in opts):
                raise ValueError(f"option list for field {k!r} must hold booleans, got {list(opts)}")

    def _dims(self, lists: Mapping[str, Any]) -> dict[str, tuple[Choice, ...]]:
        """Per-stage fields (``block`` and ``act`` only when their lists are set), then the others."""
        n = len(self.fixed_settings.strides)
        table = {
            f: per_stage(key, lists[key], n)
            for f, key in [
                ("kernel", "kernels"),
                ("expand", "expansions"),
                ("repeats", "repeats"),
                ("se", "se"),
                ("width", "widths"),
                ("block", "blocks"),
                ("act", "stage_acts"),
            ]
            if lists[key] is not None
        }
        dims = {f"stage{i + 1}_{f}": table[f][i] for i in range(n) for f in table}
        for field, key in [
            ("stem_width", "stem_widths"),
            ("head_width", "head_widths"),
            ("act", "acts"),
            ("stochastic_depth", "stochastic_depth"),
        ]:
            dims[field] = option_list(field, lists[key])
        return dims

    def build(self, c: Choices, name: str) -> Network:
        f, act, sd = self.fixed_settings, c["act"], c["stochastic_depth"]
        bn = {"bn_eps": f.bn_eps, "bn_momentum": f.bn_momentum}
        stages, cin = [], c["stem_width"]
        for i, stride in enumerate(f.strides, 1):
            width = c[f"stage{i}_width"]
            cell = mobile_block(
                c.get(f"stage{i}_block", "mbconv"),
                c[f"stage{i}_expand"],
                c[f"stage{i}_kernel"],
                se=c[f"stage{i}_se"],
                act=c.get(f"stage{i}_act", act),
                drop_path=bool(sd),
                se_style=f.se_style,
                cin=cin,
                width=width,
                **bn,
            )
            stages.append(Stage(cell, c[f"stage{i}_repeats"], width, stride))
            cin = width
        return Network(
            name,
            conv_stem(c["stem_width"], act, **bn),
            tuple(stages),
            conv_head(c["head_width"], act, f.dropout, hidden=f.head_hidden, **bn),
            (3, f.input_size, f.input_size),
            f.num_classes,
            drop_path=sd,
            drop_path_schedule="linear" if sd else "constant",
        )

    def parse(self, g: Network) -> dict[str, Any]:
        if len(g.stages) != len(self.fixed_settings.strides):
            raise ValueError(
                f"it has {len(g.stages)} stages, the space has {len(self.fixed_settings.strides)}"
            )
        c: dict[str, Any] = {}
        for i, s in enumerate(g.stages, 1):
            c |= {f"stage{i}_{k}": v for k, v in read_stage(s).items() if f"stage{i}_{k}" in self.dims}
        c["stem_width"] = g.stem.nodes[0].channels
        c["head_width"] = g.head.nodes[0].channels
        c["act"] = g.stem.nodes[-1].op
        c["stochastic_depth"] = g.drop_path
        return c


_OPTION_DEFAULTS: dict[str, Any] = {
    "kernels": KERNELS,
    "expansions": EXPANSIONS,
    "repeats": REPEATS,
    "se": SE,
    "widths": WIDTHS,
    "blocks": None,
    "stage_acts": None,
    "stem_widths": STEM_WIDTHS,
    "head_widths": HEAD_WIDTHS,
    "acts": ACTS,
    "stochastic_depth": STOCHASTIC_DEPTH,
}


@register_space(
    "mbconv",
    description="MBConv stages: kernel, expansion, repeats, SE, width, [block, act] "
    "(EfficientNet-B0, MobileNet-v2; layouts: MobileNetV3, MNASNet, EfficientNetV2)",
)
def mbconv_space(**kwargs: Any) -> MBConvSpace:
    """MBConv macro space. ``layout`` (one of :data:`LAYOUTS`) takes a family's stage structure.
    Keywords set option lists: ``kernels``, ``expansions``, ``repeats``, ``se``, ``widths`` (one list,
    or one per stage), ``blocks``, ``stage_acts`` (these two add their per-stage fields),
    ``stem_widths``, ``head_widths``, ``acts``, ``stochastic_depth``; ``options`` replaces any single
    field's list; ``strides``, ``dropout``, ``input_size``, ``num_classes`` are fixed."""
    return MBConvSpace(**kwargs)
