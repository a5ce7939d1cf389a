"""Pre-activation residual block (He et al. 2016, "Identity Mappings in Deep Residual Networks").

Written as a cell of primitive ops, like the blocks in :mod:`cells.blocks`.
"""

from __future__ import annotations

from cells.blocks import CellWriter
from nas.core.genotype import Cell


def preact_block(name: str = "preact_basic", project: str = "conv") -> Cell:
    """Pre-activation basic block: BN-ReLU-3×3 conv (stride = cell's) - BN-ReLU-3×3 conv, plus a
    shortcut, added with no activation after the sum.

    The shortcut is the ``skip`` op on the block input ``x``: identity when the shape is unchanged,
    else a projection chosen by ``project`` (default ``"conv"``: a bare strided 1×1 conv, since the
    next block's BN normalises the sum). Some implementations (timm's ``PreActBasicBlock``) feed
    the projection the pre-activated input instead; a cell cannot switch its input on whether the
    shortcut projects, so this block always reads ``x``. A network of these blocks needs a final
    BN-ReLU before its classifier (the last sum is not activated)."""
    w = CellWriter()
    y = w.add("bn1", "bn", "x")
    y = w.add("relu1", "relu", y)
    y = w.add("conv1", "conv", y, channels="C", stride="cell", kernel=3)
    y = w.add("bn2", "bn", y)
    y = w.add("relu2", "relu", y)
    y = w.add("conv2", "conv", y, channels="C", kernel=3)
    s = w.add("shortcut", "skip", "x", channels="C", stride="cell", project=project)
    out = w.add("add", "identity", [y, s])
    return w.cell(name, out)
