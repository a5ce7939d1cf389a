"""Compound scaling (EfficientNet, Tan & Le 2019) as a transform of configuration rows.

Scaling happens on the DATA before any genotype is built: a base stage table (rows of
:class:`MBRow`) and a width and depth multiplier give new stage rows, which a family builder then turns
into stages. The rounding rules (:func:`make_divisible`, torchvision's ``_make_divisible``; depths rounded
up, as torchvision's ``MBConvConfig.adjust_channels`` / ``adjust_depth``) and the EfficientNet B-table
(``CompoundScale`` rows) are the engine's (:mod:`nas.tools.scale`, which scales built genotypes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from nas.tools.scale import make_divisible, scale_depth, scale_width


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


__all__ = ["MBRow", "compound_scale", "make_divisible", "scale_depth", "scale_width"]
