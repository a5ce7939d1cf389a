"""ConvNeXt tiny / small / base / large (Liu et al. 2022) exactly as torchvision builds them.

Stem: 4×4/4 conv (bias) + LayerNorm over channels. Four stages of
:func:`cells.modern_blocks.convnext_block` cells; the transition before stages 2–4 (LayerNorm, 2×2/2
conv) is the first block's prelude (``downsample=True``), so every cell is one block and the
network's linear drop-path schedule is torchvision's stochastic depth: block ``i`` of ``n`` drops with
``p·i/(n-1)``, i.e. a network rate ``p·n/(n-1)`` over ``i/n``. Head: pool, LayerNorm, flatten, FC.
"""

from __future__ import annotations

from functools import partial

from cells import CellWriter
from cells.modern_blocks import convnext_block
from nas.core.genotype import Cell, Network, Stage, chain
from nas.core.registry import register_arch

EPS = 1e-6
# name → (stage widths, blocks per stage, stochastic depth): torchvision's CNBlockConfig rows.
CONVNEXTS: dict[str, tuple[tuple[int, ...], tuple[int, ...], float]] = {
    "convnext_tiny": ((96, 192, 384, 768), (3, 3, 9, 3), 0.1),
    "convnext_small": ((96, 192, 384, 768), (3, 3, 27, 3), 0.4),
    "convnext_base": ((128, 256, 512, 1024), (3, 3, 27, 3), 0.5),
    "convnext_large": ((192, 384, 768, 1536), (3, 3, 27, 3), 0.5),
}


def convnext_head(eps: float = EPS) -> Cell:
    """Global average pool → LayerNorm over channels → flatten → linear (K)."""
    w = CellWriter()
    x = w.add("pool", "adaptive_avgpool", "x", size=1)
    x = w.add("norm", "layer_norm2d", x, eps=eps)
    x = w.add("flatten", "flatten", x)
    return w.cell("convnext_head", w.add("fc", "linear", x, channels="K"))


def convnext(name: str, widths: tuple[int, ...], depths: tuple[int, ...], stochastic_depth: float) -> Network:
    stem = chain(
        "convnext_stem",
        [
            ("conv", {"channels": widths[0], "kernel": 4, "stride": 4, "padding": 0, "bias": True}),
            ("layer_norm2d", {"eps": EPS}),
        ],
    )
    block, first = convnext_block(eps=EPS), convnext_block("convnext_down_block", downsample=True, eps=EPS)
    stages: list[Stage] = []
    for i, (c, n) in enumerate(zip(widths, depths)):
        if i == 0:
            stages.append(Stage(block, n, c, 1))
            continue
        stages.append(Stage(first, 1, c, 2))
        if n > 1:
            stages.append(Stage(block, n - 1, c, 1))
    total = sum(depths)
    return Network(
        name,
        stem,
        tuple(stages),
        convnext_head(),
        (3, 224, 224),
        1000,
        drop_path=stochastic_depth * total / (total - 1),
        drop_path_schedule="linear",
    )


for _name, _row in CONVNEXTS.items():
    register_arch(_name, family="convnext", reference=_name, test_size=32)(partial(convnext, _name, *_row))
