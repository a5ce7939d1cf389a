"""Cell pictures: networkx for the layered layout, matplotlib for drawing (PNG, SVG, PDF)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from nas.core.errors import ConfigError
from nas.core.genotype import Cell, Genotype, Network
from nas.core.graph import check_structure, to_networkx

_COLORS = {"input": "#d9e7f5", "output": "#f7dcb4", "combine": "#e5e5e5", "op": "#e3f1dd"}
_SHOWN_ATTRS = ("kernel", "groups", "dilation", "kind", "project", "p", "size")


def node_text(cell: Cell, name: str) -> str:
    if name in cell.inputs:
        return name
    n = cell.node(name)
    bits = [n.op]
    kw = n.kwargs
    for k in _SHOWN_ATTRS:
        if k in kw:
            v = kw[k]
            bits.append(f"{k}={'x'.join(map(str, v)) if isinstance(v, tuple) else v}")
    if n.channels is not None:
        bits.append(f"ch={n.channels}")
    if n.stride != 1:
        bits.append(f"s={n.stride}")
    head = n.name if n.name != n.op else ""
    combine = f"[{n.combine}]" if len(n.inputs) > 1 else ""
    return "\n".join(x for x in (f"{head} {combine}".strip(), " ".join(bits[:1]), " ".join(bits[1:])) if x)


def _layers(g: nx.DiGraph, cell: Cell) -> dict[str, int]:
    level: dict[str, int] = {}
    for v in nx.topological_sort(g):
        preds = list(g.predecessors(v))
        level[v] = 0 if v in cell.inputs else 1 + max(level[p] for p in preds)
    return level


def _layout(g: nx.DiGraph, cell: Cell) -> dict[str, tuple[float, float]]:
    """Layers by longest path from the inputs (top to bottom); within a layer, nodes sit at the mean
    position of their inputs (barycenter ordering), which keeps crossings few."""
    pos: dict[str, tuple[float, float]] = {}
    for lv, members in enumerate(_groups(cell)):
        if lv == 0:
            members = list(cell.inputs)
        else:
            members.sort(key=lambda v: sum(pos[p][0] for p in g.predecessors(v)) / max(1, g.in_degree(v)))
        for k, v in enumerate(members):
            pos[v] = (k - (len(members) - 1) / 2, -float(lv))
    return pos


def draw_cell(cell: Cell, ax: object) -> None:
    check_structure(cell)
    g = to_networkx(cell)
    pos = _layout(g, cell)
    nx.draw_networkx_edges(
        g,
        pos,
        ax=ax,
        arrows=True,
        arrowsize=12,
        edge_color="#555555",
        node_size=2600,
        connectionstyle="arc3,rad=0.06",
    )
    for v, (x, y) in pos.items():
        kind = "input" if v in cell.inputs else "output" if v == cell.output else "op"
        if kind == "op" and len(cell.node(v).inputs) > 1:
            kind = "combine"
        ax.text(
            x,
            y,
            node_text(cell, v),
            ha="center",
            va="center",
            fontsize=7,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.35", "fc": _COLORS[kind], "ec": "#333333", "lw": 0.8},
        )
    ax.set_title(f"cell {cell.name!r}  ({len(cell.nodes)} nodes, output: {cell.output})", fontsize=9)
    ax.margins(0.12)
    ax.axis("off")


def cells_to_draw(genotype: Genotype, which: str | None = None) -> list[Cell]:
    if isinstance(genotype, Cell):
        return [genotype]
    assert isinstance(genotype, Network)
    named = {"stem": genotype.stem, "head": genotype.head}
    for c in genotype.cells():
        named.setdefault(c.name, c)
    if which is not None:
        if which not in named:
            cells = ", ".join(named)
            raise ConfigError("cell", f"{which!r} is not a cell of {genotype.name!r}; cells: {cells}")
        return [named[which]]
    stage_cells = list(dict.fromkeys(s.cell for s in genotype.stages))
    return stage_cells[:4] or [genotype.stem]


def draw(genotype: Genotype, path: str | Path, cell: str | None = None) -> Path:
    """Draw a cell (or a network's distinct stage cells, at most four) to PNG/SVG/PDF by extension."""
    import matplotlib  # optional and slow to import: only drawing needs it

    matplotlib.use("Agg")  # files only, no display; must precede the pyplot import
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"output {str(path)!r} must end in .png, .svg or .pdf")
    cells = cells_to_draw(genotype, cell)
    heights = [2 + 1.1 * max(_layers(to_networkx(c), c).values()) for c in cells]
    width = max(6.0, 1.9 * max(max(sum(1 for _ in g) for g in _groups(c)) for c in cells))
    fig, axes = plt.subplots(
        len(cells), 1, figsize=(width, sum(heights)), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for c, ax in zip(cells, axes[:, 0]):
        draw_cell(c, ax)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def _groups(cell: Cell) -> list[list[str]]:
    level = _layers(to_networkx(cell), cell)
    out: dict[int, list[str]] = {}
    for v, lv in level.items():
        out.setdefault(lv, []).append(v)
    return [out[k] for k in sorted(out)]
