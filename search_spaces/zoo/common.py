"""Pieces shared by the zoo's builders: classifier heads and plain conv stages."""

from __future__ import annotations

from collections.abc import Sequence

from cells import CellWriter
from nas.core.genotype import Cell, Stage


def classifier(
    name: str = "head",
    *,
    pool: int | None = 1,
    hidden: Sequence[int] = (),
    dropout: float = 0.0,
    dropout_first: bool = False,
) -> Cell:
    """adaptive avg-pool (``pool``×``pool``; ``None``: none) → flatten → [Linear-ReLU-Dropout]* → Linear(K).

    ``dropout_first`` puts each dropout before its linear layer (AlexNet, EfficientNet) instead of after
    the ReLU (VGG)."""
    w = CellWriter()
    x = "x"
    if pool is not None:
        x = w.add("pool", "adaptive_avgpool", x, size=pool)
    x = w.add("flatten", "flatten", x)
    for i, h in enumerate([*hidden, "K"]):
        last = h == "K"
        if dropout and dropout_first:
            x = w.add(f"drop{i}", "dropout", x, p=dropout)
        x = w.add(f"fc{i}", "linear", x, channels=h)
        if not last:
            x = w.add(f"relu{i}", "relu", x)
            if dropout and not dropout_first:
                x = w.add(f"drop{i}", "dropout", x, p=dropout)
    return w.cell(name, x)


def conv_cell(
    kernel: int,
    *,
    padding: int | None = None,
    bn: bool = False,
    act: str = "relu",
    bias: bool = True,
    lrn: dict | None = None,
    groups: int = 1,
) -> Cell:
    """One conv layer (stride = the cell's) [+ BN] + activation [+ LRN], width = the stage's."""
    w = CellWriter()
    attrs = {"kernel": kernel, "bias": bias}
    if padding is not None:
        attrs["padding"] = padding
    if groups != 1:
        attrs["groups"] = groups
    x = w.add("conv", "conv", "x", channels="C", stride="cell", **attrs)
    if bn:
        x = w.add("bn", "bn", x)
    x = w.add("act", act, x)
    if lrn:
        x = w.add("lrn", "lrn", x, **lrn)
    tag = f"conv{kernel}x{kernel}" + ("_bn" if bn else "") + (f"_g{groups}" if groups != 1 else "")
    return w.cell(tag + ("_lrn" if lrn else ""), x)


def pool_cell(kind: str = "maxpool", kernel: int = 2, padding: int = 0, ceil_mode: bool = False) -> Cell:
    """A pooling layer as a cell; its stride is the stage's."""
    w = CellWriter()
    attrs = (
        {"kernel": kernel}
        | ({"padding": padding} if padding else {})
        | ({"ceil_mode": True} if ceil_mode else {})
    )
    x = w.add("pool", kind, "x", stride="cell", **attrs)
    return w.cell(f"{kind}{kernel}" + ("_ceil" if ceil_mode else ""), x)


def plain_stages(
    rows: Sequence[int | str],
    *,
    kernel: int = 3,
    bn: bool = False,
    cell: Cell | None = None,
    pool: Cell | None = None,
) -> tuple[Stage, ...]:
    """VGG-style config (``[64, "M", 128, ...]``) → stages; runs of equal widths become repeats.
    Widths are conv cells (``cell``: another block, e.g. SqueezeNet's fire), ``"M"`` a 2×2 max-pool
    (``pool``: another pooling cell)."""
    stages: list[Stage] = []
    conv = conv_cell(kernel, bn=bn) if cell is None else cell
    pool = pool_cell("maxpool", 2) if pool is None else pool
    for v in rows:
        if v == "M":
            stages.append(Stage(pool, 1, None, 2))
        elif stages and stages[-1].cell == conv and stages[-1].width == v:
            stages[-1] = Stage(conv, stages[-1].repeats + 1, v, 1)
        else:
            stages.append(Stage(conv, 1, int(v), 1))
    return tuple(stages)
