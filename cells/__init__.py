"""Ops (primitive and compound) and hand-designed blocks as cells; registers into ``nas.OPS``."""

from cells import compound, modern_ops, ops  # noqa: F401  (registration side effects)
from cells.blocks import (
    CellWriter,
    basic_block,
    bottleneck,
    darts_cell,
    dense_layer,
    dense_transition,
    inception_module,
    mbconv,
)

__all__ = [
    "CellWriter",
    "basic_block",
    "bottleneck",
    "darts_cell",
    "dense_layer",
    "dense_transition",
    "inception_module",
    "mbconv",
]
