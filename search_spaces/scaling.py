"""Compound scaling (EfficientNet, Tan & Le 2019) as a transform of configuration rows.

Scaling happens on the DATA before any genotype is built: a base stage table (rows of
:class:`MBRow`) and a :class:`Scale` row give new stage rows, which a family builder then turns into
stages. Widths are rounded with :func:`make_divisible` (torchvision's ``_make_divisible``), depths
rounded up, exactly as torchvision's ``MBConvConfig.adjust_channels`` / ``adjust_depth``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple


class MBRow(NamedTuple):
    """One stage of an inverted-residual network: ``layers`` blocks with expansion ratio ``expand``
    and a ``kernel``×``kernel`` depthwise conv; the first block has ``stride`` and maps ``cin`` to
    ``cout`` channels."""

    expand: float
    kernel: int
    stride: int
    cin: int
    cout: int
    layers: int


class Scale(NamedTuple):
    """Compound-scaling coefficients of one family member: width and depth multipliers, the input
    resolution and the classifier dropout."""

    width_mult: float
    depth_mult: float
    resolution: int
    dropout: float


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), never going down by more than 10% (the TF-slim / torchvision rule)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def scale_width(channels: int, width_mult: float, divisor: int = 8) -> int:
    return make_divisible(channels * width_mult, divisor)


def scale_depth(layers: int, depth_mult: float) -> int:
    return int(math.ceil(layers * depth_mult))


def compound_scale(rows: Sequence[MBRow], width_mult: float = 1.0, depth_mult: float = 1.0) -> list[MBRow]:
    """New stage rows with every channel count scaled by ``width_mult`` (rounded to multiples of 8)
    and every stage depth by ``depth_mult`` (rounded up)."""
    return [
        r._replace(
            cin=scale_width(r.cin, width_mult),
            cout=scale_width(r.cout, width_mult),
            layers=scale_depth(r.layers, depth_mult),
        )
        for r in rows
    ]
