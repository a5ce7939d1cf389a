"""Whole networks as stage diagrams: input → stem → stages (repeats × cell, width, stride, output shape,
parameters) → head, one box per part, top to bottom.

Shapes and parameter counts come from one build and one forward on the meta device (no memory, no
arithmetic), so a picture of resnet50 costs what ``nas describe`` costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nas.core.compile import build
from nas.core.genotype import Genotype, Network
from nas.core.meta import meta_call
from nas.core.resolve import resolve

_COLORS = {"input": "#d9e7f5", "stem": "#f2e2f5", "stage": "#e3f1dd", "reduce": "#fbe3c4", "head": "#f2e2f5"}


@dataclass(frozen=True)
class Part:
    """One box of the diagram: the stem, a stage or the head, with its output shape and parameters."""

    kind: str  # "input", "stem", "stage", "reduce" (a stage with stride > 1) or "head"
    cell: str
    repeats: int
    width: int | None
    stride: int
    shape: tuple[int, ...]  # output shape without the batch: (C, H, W), or (classes,) for the head
    params: int

    def text(self) -> str:
        """The box's label: what it is, then its settings and output."""
        shape = "×".join(map(str, self.shape))
        if self.kind == "input":
            return f"input  {shape}"
        if self.kind in ("stem", "head"):
            return f"{self.kind}: {self.cell}\n→ {shape}   {_count(self.params)} params"
        width = f"width {self.width}, " if self.width is not None else ""
        params = _count(self.params)
        return f"{self.repeats} × {self.cell}\n{width}stride {self.stride} → {shape}   {params} params"


def _count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k" if n >= 1e3 else str(n)


def network_parts(net: Network) -> list[Part]:
    """The diagram's boxes, shapes and parameter counts measured on the meta device."""
    with torch.device("meta"):
        model = build(net)
    outputs: dict[str, tuple[int, ...]] = {}
    lasts = {"stem": model.stem, "head": model.head}
    lasts.update({f"stage{i}": stage[-1] for i, stage in enumerate(model.stages)})

    def record(key: str) -> Any:
        def hook(_m: torch.nn.Module, _args: tuple, out: torch.Tensor) -> None:  # None: output unchanged
            outputs.setdefault(key, tuple(out.shape[1:]))

        return hook

    handles = [m.register_forward_hook(record(k)) for k, m in lasts.items()]
    try:
        meta_call(model, (1, *net.input_size))
    finally:
        for h in handles:
            h.remove()

    def params(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    parts = [Part("input", "image", 1, None, 1, tuple(net.input_size), 0)]
    parts.append(Part("stem", net.stem.name, 1, None, 1, outputs["stem"], params(model.stem)))
    for i, (st, mods) in enumerate(zip(net.stages, model.stages)):
        kind = "reduce" if st.stride > 1 else "stage"
        parts.append(
            Part(kind, st.cell.name, st.repeats, st.width, st.stride, outputs[f"stage{i}"], params(mods))
        )
    parts.append(Part("head", net.head.name, 1, None, 1, outputs["head"], params(model.head)))
    return parts


def _axis_inches(ax: Any) -> tuple[float, float]:
    w, h = ax.figure.get_size_inches()
    box = ax.get_position()
    return float(w * box.width), float(h * box.height)


# inches a box needs: a row of the top-to-bottom layout (two text lines); a column and a row of the
# left-to-right layout (five lines at 7 pt)
_ROW_IN, _COL_IN, _ACROSS_ROW_IN = 0.55, 1.55, 1.05


def _grid(n: int, ax: Any, direction: str) -> tuple[str, int, float]:
    """``(direction, boxes per row, font size)``: top to bottom when the axis is tall enough for ``n`` rows
    (or ``direction="down"``), else left to right in as few rows as the width allows and the height holds
    (a smaller font when the boxes must be narrower)."""
    w, h = _axis_inches(ax)
    if direction == "down" or (direction == "auto" and h >= _ROW_IN * n):
        return "down", 1, 8.0
    max_rows = max(1, int(h // _ACROSS_ROW_IN))
    per_row = max(1, min(n, max(int(w // _COL_IN), -(-n // max_rows))))
    return "across", per_row, max(5.0, min(7.0, 7.0 * (w / per_row) / _COL_IN))


def _compact(p: Part) -> str:
    """A narrow label for the left-to-right layout: one setting a line."""
    lines = p.text().replace("   ", "\n").replace(", stride", "\nstride").replace(" → ", "\n→ ").split("\n")
    return "\n".join(x.strip() for x in lines if x.strip())


def draw_network(genotype: Genotype | str, ax: Any, direction: str = "auto") -> list[Part]:
    """Draw a network's stage diagram on a matplotlib axis; returns the boxes drawn.

    Each stage box reads ``repeats × cell``, its width, stride, output shape and parameters; stages that
    reduce the resolution (stride > 1) are orange, the others green. ``direction``: ``"down"`` (one box a
    row), ``"across"`` (left to right, wrapping) or ``"auto"``: down when the axis is tall enough for it
    (:func:`network_figure_size` makes such a figure), else across.
    """
    if direction not in ("auto", "down", "across"):
        raise ValueError(f"direction must be 'auto', 'down' or 'across', got {direction!r}")
    net = resolve(genotype)
    if not isinstance(net, Network):
        raise TypeError("draw_network() takes a network genotype (or a zoo name), not a single cell")
    parts = network_parts(net)
    way, per_row, font = _grid(len(parts), ax, direction)
    # across, the input's shape joins the stem's box: one box fewer where boxes are short of room
    shown = parts if way == "down" else parts[1:]
    pos = [(float(k % per_row), -float(k // per_row)) for k in range(len(shown))]
    for k, (p, (x, y)) in enumerate(zip(shown, pos)):
        label = p.text() if way == "down" else _compact(p)
        if way != "down" and p.kind == "stem":
            label = f"in {'×'.join(map(str, parts[0].shape))}\n{label}"
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=font,
            family="monospace",
            zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "fc": _COLORS[p.kind], "ec": "#333333", "lw": 0.8},
        )
        if k:
            _arrow(ax, pos[k - 1], (x, y), way)
    total = sum(p.params for p in parts)
    aux = f", {len(net.aux)} auxiliary head(s)" if net.aux else ""
    ax.set_title(f"network {net.name!r}  ({net.num_cells} cells, {_count(total)} params{aux})", fontsize=9)
    from matplotlib.patches import Patch  # optional heavy dependency: only drawing needs it

    key = [Patch(fc=_COLORS["stage"], ec="#333333", label="stage, stride 1")]
    key.append(Patch(fc=_COLORS["reduce"], ec="#333333", label="stage, stride > 1 (reduces resolution)"))
    rows = -(-len(shown) // per_row)
    if way == "down":
        ax.legend(handles=key, loc="lower left", fontsize=7, frameon=False)
        ax.set_xlim(-0.5, 0.5)
        ax.set_ylim(-rows + 0.4, 0.6)
    else:
        ax.legend(
            handles=key, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7, frameon=False
        )
        ax.set_xlim(-0.5, per_row - 0.5)
        ax.set_ylim(-rows + 0.45, 0.55)
    ax.axis("off")
    return parts


def _arrow(ax: Any, a: tuple[float, float], b: tuple[float, float], way: str) -> None:
    if way == "down":
        start, end = (a[0], a[1] - 0.28), (b[0], b[1] + 0.28)
    elif a[1] == b[1]:
        start, end = (a[0] + 0.42, a[1]), (b[0] - 0.42, b[1])
    else:  # to the start of the next row
        start, end = (a[0], a[1] - 0.4), (b[0], b[1] + 0.4)
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.0})


def network_figure_size(genotype: Genotype | str) -> tuple[float, float]:
    """A figure size (inches) that fits the diagram's boxes without overlap."""
    net = resolve(genotype)
    rows = 3 + (len(net.stages) if isinstance(net, Network) else 0)
    # the axes get ~3/4 of the height (title, margins): 0.75 × 0.77 > _ROW_IN, so "auto" draws top to bottom
    return (6.5, 0.75 * rows + 1.0)
