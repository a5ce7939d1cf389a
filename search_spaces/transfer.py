"""Transfer a CIFAR-found cell network to ImageNet.

A NASNet/DARTS-style search finds a *normal* and a *reduction* cell (two-input cells reading the
previous two cells) on CIFAR; for ImageNet the same cells are stacked in the ImageNet layout of the
DARTS evaluation code (``NetworkImageNet``): a stride-8 stem (3×3/2 conv C/2, BN, ReLU, 3×3/2 conv
C, BN; then ReLU, 3×3/2 conv C, BN), ``cells`` cells with reduction cells (stride 2, width doubled)
at ``cells // 3`` and ``2 * cells // 3``, global average pooling and a linear classifier, plus the
DARTS ImageNet auxiliary head after the second reduction cell.

Sizes are given as ``cells`` and initial width ``C``, or in the papers' ``N@F`` notation: ``N``
normal cells per stage (``cells = 3N + 2``) and ``F`` filters in the penultimate layer, i.e. the last
cell's output = ``4 · C · multiplier`` channels, where the multiplier is the number of states the
normal cell concatenates (so NASNet-A's ``4@1056`` is C = 44, DARTS's 14 cells at C = 48).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from nas.core.compile import TensorInfo, compile_cell
from nas.core.genotype import AuxHead, Cell, Network, Stage
from nas.core.registry import register_layout
from search_spaces.zoo.common import classifier
from search_spaces.zoo.nas_cells import aux_head, darts_stages, imagenet_stem

# Named ImageNet layouts: (cells, C) or an N@F string.
LAYOUTS: dict[str, tuple[int, int] | str] = {
    "darts": (14, 48),  # DARTS (Liu et al. 2019): 14 cells, C = 48, mobile setting (< 600M MACs)
    "nasnet_mobile": "4@1056",  # NASNet-A mobile (Zoph et al. 2018)
    "nasnet_large": "6@4032",  # NASNet-A large
    "amoebanet_mobile": "4@1200",  # AmoebaNet-A mobile-size (N=4, F=50 with 6 states → 1200)
}

_NF = re.compile(r"^\s*(\d+)\s*@\s*(\d+)\s*$")


def search_cells(net: Network) -> tuple[Cell, Cell]:
    """The normal and reduction cells of a cell network: the cells of its first two-input stage of
    stride 1 and of stride 2."""
    normal = next((s.cell for s in net.stages if len(s.cell.inputs) == 2 and s.stride == 1), None)
    reduce = next((s.cell for s in net.stages if len(s.cell.inputs) == 2 and s.stride == 2), None)
    if normal is None or reduce is None:
        missing = "normal" if normal is None else "reduction"
        raise ValueError(
            f"{net.name} has no two-input {missing} cell: transfer needs a NASNet/DARTS-style cell "
            "network (stages of cells reading the previous two cells, reduction stages of stride 2)"
        )
    return normal, reduce


def cell_multiplier(cell: Cell, C: int = 16) -> int:
    """How many ``C``-channel states the cell concatenates into its output."""
    with torch.device("meta"):
        ins = [TensorInfo((C * 4, 8, 8)), TensorInfo((C * 4, 8, 8))]
        _, out = compile_cell(cell, ins, width=C, stride=1)
    if out.channels % C:
        raise ValueError(f"cell {cell.name!r}: output channels {out.channels} are not a multiple of C={C}")
    return out.channels // C


def parse_layout(layout: str | tuple[int, int], multiplier: int) -> tuple[int, int]:
    """``"darts"``, ``"N@F"`` or ``(cells, C)`` → ``(cells, C)``."""
    spec = LAYOUTS.get(layout, layout) if isinstance(layout, str) else layout
    if isinstance(spec, tuple):
        cells, C = spec
    else:
        m = _NF.match(spec)
        if not m:
            raise ValueError(
                f"unknown ImageNet layout {layout!r}; use one of {', '.join(LAYOUTS)} or N@F (e.g. 4@1056)"
            )
        n, f = int(m.group(1)), int(m.group(2))
        if n < 1 or f % (4 * multiplier):
            raise ValueError(
                f"layout {spec}: F={f} must be a multiple of 4 x {multiplier} (4 x the cell's "
                f"{multiplier} concatenated states) and N >= 1"
            )
        cells, C = 3 * n + 2, f // (4 * multiplier)
    if cells < 3 or C < 2:
        raise ValueError(f"layout needs at least 3 cells and C >= 2, got {cells} cells at C={C}")
    return cells, C


def to_imagenet(
    net: Network,
    *,
    layout: str | tuple[int, int] = "darts",
    cells: int | None = None,
    width: int | None = None,
    num_classes: int = 1000,
    image_size: int = 224,
    auxiliary: bool = True,
    name: str | None = None,
) -> Network:
    """The ImageNet network of ``net``'s cells (see the module docstring). ``cells``/``width``
    override the layout's."""
    normal, reduce = search_cells(net)
    mult = cell_multiplier(normal)
    n_cells, C = parse_layout(layout, mult)
    n_cells = cells or n_cells
    C = width or C
    stem0, stem1 = imagenet_stem(C)
    stages = [Stage(stem1, 1, C, 2), *darts_stages(normal, reduce, n_cells, C)]
    aux = ()
    if auxiliary:
        aux = (AuxHead(2 * n_cells // 3 + 1, aux_head("imagenet")),)  # +1: stem1 is cell 0
    return Network(
        name=name or f"{net.name}_imagenet",
        stem=stem0,
        stages=tuple(stages),
        head=classifier(),
        input_size=(3, image_size, image_size),
        num_classes=num_classes,
        drop_path=0.0,
        drop_path_schedule="constant",
        aux=aux,
    )


@register_layout(
    "imagenet",
    description="a NASNet/DARTS-style cell network's cells in the ImageNet layout (darts, nasnet_*, N@F)",
    layouts=tuple(LAYOUTS),
)
def imagenet_layout(
    layout: str | tuple[int, int] = "darts",
    *,
    cells: int | None = None,
    width: int | None = None,
    auxiliary: bool = True,
) -> Callable[..., Network]:
    """The registry's face of :func:`to_imagenet`: checks ``layout`` now (an unknown name raises a
    ValueError listing the known ones) and returns ``net → to_imagenet(net, …)``."""
    parse_layout(layout, 1)

    def transform(net: Network, *, num_classes: int = 1000, image_size: int = 224, name: str | None = None):
        return to_imagenet(
            net,
            layout=layout,
            cells=cells,
            width=width,
            num_classes=num_classes,
            image_size=image_size,
            auxiliary=auxiliary,
            name=name,
        )

    return transform
