"""Inception blocks written as cells of primitive ops (torchvision layouts).

Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture"): modules A–E and the
auxiliary head; GoogLeNet (Inception v1): the auxiliary head and plain conv stems. GoogLeNet's module
itself is :func:`cells.blocks.inception_module`.

Every conv is torchvision's ``BasicConv2d``: conv (no bias) → BN (eps 1e-3) → ReLU. Nodes are written
in the reference's forward order, so ``nas.transfer`` pairs layers one to one. Channel counts are
absolute (the modules do not scale with a stage width); reductions (B, D) take the cell's stride.
"""

from __future__ import annotations

from collections.abc import Sequence

from cells.blocks import CellWriter
from nas.core.genotype import Cell

BN_EPS = 1e-3  # torchvision's BasicConv2d (GoogLeNet and Inception-v3)

# stem rows: (channels, kernel, stride, padding) for a conv-BN-ReLU, or ("M", kernel, ceil_mode)
# for a stride-2 max-pool.
StemRow = tuple[int, int, int, int] | tuple[str, int, bool]


def _conv(w: CellWriter, prefix: str, x: str, channels: int, kernel: int | Sequence[int], **kw) -> str:
    return w.conv_bn_act(prefix, x, channels, kernel, bn_eps=BN_EPS, **kw)


def conv_stem(name: str, rows: Sequence[StemRow]) -> Cell:
    """A plain stem: conv-BN(eps 1e-3)-ReLU layers and stride-2 max-pools, from a table."""
    w = CellWriter()
    x = "x"
    for i, row in enumerate(rows):
        if row[0] == "M":
            _, kernel, ceil = row
            x = w.add(
                f"pool{i}", "maxpool", x, stride=2, kernel=kernel, **({"ceil_mode": True} if ceil else {})
            )
        else:
            c, k, s, p = row
            x = _conv(w, f"conv{i}_", x, c, k, stride=s, padding=p)
    return w.cell(name, x)


def inception_a(pool_features: int, name: str | None = None) -> Cell:
    """35×35 module: 1×1 (64) | 1×1 (48) → 5×5 (64) | 1×1 (64) → 3×3 (96) → 3×3 (96) |
    3×3 avg-pool → 1×1 (``pool_features``); concatenated (224 + pool_features channels)."""
    w = CellWriter()
    b1 = _conv(w, "b1x1_", "x", 64, 1)
    b5 = _conv(w, "b5x5_1_", "x", 48, 1)
    b5 = _conv(w, "b5x5_2_", b5, 64, 5)
    b3 = _conv(w, "b3x3dbl_1_", "x", 64, 1)
    b3 = _conv(w, "b3x3dbl_2_", b3, 96, 3)
    b3 = _conv(w, "b3x3dbl_3_", b3, 96, 3)
    bp = w.add("pool", "avgpool", "x", kernel=3, padding=1)
    bp = _conv(w, "bpool_", bp, pool_features, 1)
    out = w.add("concat", "identity", [b1, b5, b3, bp], combine="concat")
    return w.cell(name or f"inception_a{pool_features}", out)


def inception_b(name: str = "inception_b") -> Cell:
    """35→17 reduction: 3×3/2 (384) | 1×1 (64) → 3×3 (96) → 3×3/2 (96) | 3×3/2 max-pool; concatenated.
    The strides are the cell's (give the stage stride 2)."""
    w = CellWriter()
    b3 = _conv(w, "b3x3_", "x", 384, 3, stride="cell", padding=0)
    bd = _conv(w, "b3x3dbl_1_", "x", 64, 1)
    bd = _conv(w, "b3x3dbl_2_", bd, 96, 3)
    bd = _conv(w, "b3x3dbl_3_", bd, 96, 3, stride="cell", padding=0)
    bp = w.add("pool", "maxpool", "x", stride="cell", kernel=3)
    out = w.add("concat", "identity", [b3, bd, bp], combine="concat")
    return w.cell(name, out)


def inception_c(c7: int, name: str | None = None) -> Cell:
    """17×17 module with factorized 7×7s: 1×1 (192) | 1×1 (c7) → 1×7 → 7×1 (192) |
    1×1 (c7) → 7×1 → 1×7 → 7×1 → 1×7 (192) | 3×3 avg-pool → 1×1 (192); concatenated (768)."""
    w = CellWriter()
    b1 = _conv(w, "b1x1_", "x", 192, 1)
    b7 = _conv(w, "b7x7_1_", "x", c7, 1)
    b7 = _conv(w, "b7x7_2_", b7, c7, (1, 7))
    b7 = _conv(w, "b7x7_3_", b7, 192, (7, 1))
    bd = _conv(w, "b7x7dbl_1_", "x", c7, 1)
    for i, (k, c) in enumerate([((7, 1), c7), ((1, 7), c7), ((7, 1), c7), ((1, 7), 192)], start=2):
        bd = _conv(w, f"b7x7dbl_{i}_", bd, c, k)
    bp = w.add("pool", "avgpool", "x", kernel=3, padding=1)
    bp = _conv(w, "bpool_", bp, 192, 1)
    out = w.add("concat", "identity", [b1, b7, bd, bp], combine="concat")
    return w.cell(name or f"inception_c{c7}", out)


def inception_d(name: str = "inception_d") -> Cell:
    """17→8 reduction: 1×1 (192) → 3×3/2 (320) | 1×1 (192) → 1×7 → 7×1 → 3×3/2 (192) |
    3×3/2 max-pool; concatenated. The strides are the cell's (give the stage stride 2)."""
    w = CellWriter()
    b3 = _conv(w, "b3x3_1_", "x", 192, 1)
    b3 = _conv(w, "b3x3_2_", b3, 320, 3, stride="cell", padding=0)
    b7 = _conv(w, "b7x7x3_1_", "x", 192, 1)
    b7 = _conv(w, "b7x7x3_2_", b7, 192, (1, 7))
    b7 = _conv(w, "b7x7x3_3_", b7, 192, (7, 1))
    b7 = _conv(w, "b7x7x3_4_", b7, 192, 3, stride="cell", padding=0)
    bp = w.add("pool", "maxpool", "x", stride="cell", kernel=3)
    out = w.add("concat", "identity", [b3, b7, bp], combine="concat")
    return w.cell(name, out)


def inception_e(name: str = "inception_e") -> Cell:
    """8×8 module with expanded filter banks: 1×1 (320) | 1×1 (384) → [1×3 ‖ 3×1] (384 each) |
    1×1 (448) → 3×3 (384) → [1×3 ‖ 3×1] (384 each) | 3×3 avg-pool → 1×1 (192); 2048 channels.

    torchvision concatenates each split pair first and then the four branches; concatenation is
    associative, so one six-way concat gives the same tensor."""
    w = CellWriter()
    b1 = _conv(w, "b1x1_", "x", 320, 1)
    b3 = _conv(w, "b3x3_1_", "x", 384, 1)
    b3a = _conv(w, "b3x3_2a_", b3, 384, (1, 3))
    b3b = _conv(w, "b3x3_2b_", b3, 384, (3, 1))
    bd = _conv(w, "b3x3dbl_1_", "x", 448, 1)
    bd = _conv(w, "b3x3dbl_2_", bd, 384, 3)
    bda = _conv(w, "b3x3dbl_3a_", bd, 384, (1, 3))
    bdb = _conv(w, "b3x3dbl_3b_", bd, 384, (3, 1))
    bp = w.add("pool", "avgpool", "x", kernel=3, padding=1)
    bp = _conv(w, "bpool_", bp, 192, 1)
    out = w.add("concat", "identity", [b1, b3a, b3b, bda, bdb, bp], combine="concat")
    return w.cell(name, out)


def inception_v3_aux(name: str = "inception_v3_aux") -> Cell:
    """Inception-v3 auxiliary classifier: 5×5/3 avg-pool → 1×1 (128) → 5×5 valid (768) → global
    avg-pool → linear (K). Needs a ≥17×17 input (the 299-px network's Mixed_6e output)."""
    w = CellWriter()
    x = w.add("pool", "avgpool", "x", stride=3, kernel=5)
    x = _conv(w, "conv0_", x, 128, 1)
    x = _conv(w, "conv1_", x, 768, 5, padding=0)
    x = w.add("gap", "adaptive_avgpool", x, size=1)
    x = w.add("flatten", "flatten", x)
    x = w.add("fc", "linear", x, channels="K")
    return w.cell(name, x)


def googlenet_aux(dropout: float = 0.7, name: str = "googlenet_aux") -> Cell:
    """GoogLeNet auxiliary classifier: 4×4 adaptive avg-pool → 1×1 (128) → flatten (2048) →
    linear (1024) → ReLU → dropout → linear (K)."""
    w = CellWriter()
    x = w.add("pool", "adaptive_avgpool", "x", size=4)
    x = _conv(w, "conv_", x, 128, 1)
    x = w.add("flatten", "flatten", x)
    x = w.add("fc1", "linear", x, channels=1024)
    x = w.add("relu", "relu", x)
    x = w.add("drop", "dropout", x, p=dropout)
    x = w.add("fc2", "linear", x, channels="K")
    return w.cell(name, x)
