"""Cell pictures: networkx for the layered layout, matplotlib for drawing (PNG, SVG, PDF).

Also whole networks as stage diagrams (:func:`draw_network`, in :mod:`nas.tools.stagediagram`) and the
difference of two cells (:func:`cell_diff`, :func:`draw_diff`): nodes matched by name, edges by their
two end names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from nas.core.errors import ConfigError
from nas.core.genotype import Cell, Genotype, Network
from nas.core.graph import check_structure, to_networkx
from nas.tools.stagediagram import draw_network, network_figure_size

__all__ = [
    "CellDiff",
    "cell_diff",
    "cells_to_compare",
    "draw",
    "draw_cell",
    "draw_diff",
    "draw_network",
    "network_figure_size",
]

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


def draw_cell(
    cell: Cell,
    ax: Any,
    *,
    node_colors: dict[str, str] | None = None,
    edge_colors: dict[tuple[str, str], str] | None = None,
    title: str | None = None,
    like: dict[str, tuple[float, float]] | None = None,
) -> dict[str, tuple[float, float]]:
    """Draw one cell on a matplotlib axis; returns the node positions. ``node_colors`` / ``edge_colors``
    override the fill of some nodes and the colour of some edges (drawn thicker); ``like``: another
    cell's positions, kept for the nodes of the same name in the same layer (as :func:`draw_diff` does,
    so that both sides read alike)."""
    check_structure(cell)
    g = to_networkx(cell)
    pos = _layout(g, cell) if like is None else _aligned(_layout(g, cell), like)
    edges = list(g.edges())
    marked = edge_colors or {}
    nx.draw_networkx_edges(
        g,
        pos,
        ax=ax,
        edgelist=edges,
        arrows=True,
        arrowsize=12,
        edge_color=[marked.get(e, "#555555") for e in edges],
        width=[2.2 if e in marked else 1.0 for e in edges],
        node_size=2600,
        connectionstyle="arc3,rad=0.06",
    )
    for v, (x, y) in pos.items():
        kind = "input" if v in cell.inputs else "output" if v == cell.output else "op"
        if kind == "op" and len(cell.node(v).inputs) > 1:
            kind = "combine"
        fill = (node_colors or {}).get(v, _COLORS[kind])
        ax.text(
            x,
            y,
            node_text(cell, v),
            ha="center",
            va="center",
            fontsize=7,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.35", "fc": fill, "ec": "#333333", "lw": 0.8},
        )
    ax.set_title(title or f"cell {cell.name!r}  ({len(cell.nodes)} nodes, output: {cell.output})", fontsize=9)
    ax.margins(0.12)
    ax.axis("off")
    return pos


def _aligned(
    own: dict[str, tuple[float, float]], like: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """``own`` layout with the nodes that ``like`` places in the same layer moved to its places; the others
    keep their place unless it is taken, then go to the right end of their layer."""
    out: dict[str, tuple[float, float]] = {}
    for y in sorted({p[1] for p in own.values()}, reverse=True):
        members = [v for v, p in own.items() if p[1] == y]
        taken = [like[v][0] for v in members if v in like and like[v][1] == y]
        out.update({v: like[v] for v in members if v in like and like[v][1] == y})
        for v in (v for v in members if v not in out):
            x = own[v][0]
            if any(abs(x - t) < 0.999 for t in taken):
                x = max(taken) + 1.0
            taken.append(x)
            out[v] = (x, y)
    return out


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


def _pyplot() -> Any:
    import matplotlib  # optional and slow to import: only drawing needs it

    matplotlib.use("Agg")  # files only, no display; must precede the pyplot import
    import matplotlib.pyplot as plt

    return plt


def _picture_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"output {str(path)!r} must end in .png, .svg or .pdf")
    return path


def _save(fig: Any, path: Path, rect: tuple[float, float, float, float] | None = None) -> Path:
    """Lay out (``rect``: the part of the figure the axes may fill), write and close ``fig``."""
    plt = _pyplot()
    fig.tight_layout(rect=rect)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def _cells_size(cells: list[Cell]) -> tuple[float, list[float]]:
    """Width and per-cell heights (inches) that keep node boxes from overlapping."""
    heights = [2 + 1.1 * max(_layers(to_networkx(c), c).values()) for c in cells]
    width = max(6.0, 1.9 * max(max(len(g) for g in _groups(c)) for c in cells))
    return width, heights


def draw(genotype: Genotype, path: str | Path, cell: str | None = None, network: bool = False) -> Path:
    """Draw a cell (or a network's distinct stage cells, at most four) to PNG/SVG/PDF by extension;
    ``network=True`` draws a network's stage diagram instead (:func:`draw_network`)."""
    path = _picture_path(path)
    plt = _pyplot()
    if network:
        if not isinstance(genotype, Network):
            raise ConfigError("network", f"{genotype.name!r} is a single cell, not a network")
        if cell is not None:
            raise ConfigError(
                "cell", "picks one cell, but a stage diagram (network) draws them all: give one"
            )
        fig, ax = plt.subplots(figsize=network_figure_size(genotype))
        draw_network(genotype, ax)
        return _save(fig, path)
    cells = cells_to_draw(genotype, cell)
    width, heights = _cells_size(cells)
    fig, axes = plt.subplots(
        len(cells), 1, figsize=(width, sum(heights)), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for c, ax in zip(cells, axes[:, 0]):
        draw_cell(c, ax)
    return _save(fig, path)


# Diff colours: removed (in A only) red, added (in B only) green, changed op or settings orange.
DIFF_COLORS = {"removed": "#f4b6b6", "added": "#bfe8b5", "changed": "#fbd38d", "same": "#f2f2f2"}
_EDGE_COLORS = {"removed": "#c0392b", "added": "#2e8b3a"}


@dataclass(frozen=True)
class CellDiff:
    """What differs between cell ``a`` and cell ``b``, nodes matched by name (cell inputs count as
    nodes); ``changed`` holds ``(node, text in a, text in b)`` for nodes whose op or settings differ."""

    a: str
    b: str
    added_nodes: tuple[str, ...] = ()
    removed_nodes: tuple[str, ...] = ()
    changed: tuple[tuple[str, str, str], ...] = ()
    added_edges: tuple[tuple[str, str], ...] = ()
    removed_edges: tuple[tuple[str, str], ...] = ()
    output: tuple[str, str] | None = None  # (a's output, b's output) when they differ

    @property
    def empty(self) -> bool:
        return (
            not (
                self.added_nodes
                or self.removed_nodes
                or self.changed
                or self.added_edges
                or self.removed_edges
            )
            and self.output is None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "added_nodes": list(self.added_nodes),
            "removed_nodes": list(self.removed_nodes),
            "changed": [{"node": n, "a": x, "b": y} for n, x, y in self.changed],
            "added_edges": [list(e) for e in self.added_edges],
            "removed_edges": [list(e) for e in self.removed_edges],
            "output": list(self.output) if self.output else None,
        }

    def lines(self) -> list[str]:
        """A plain-text summary, one difference a line (``~ n3_0: skip project=factorized → sep_conv``)."""
        if self.empty:
            return [f"{self.a} vs {self.b}: identical"]
        out = [f"{self.a} vs {self.b}:"]
        out += [f"  + node {n}" for n in self.added_nodes]
        out += [f"  - node {n}" for n in self.removed_nodes]
        out += [f"  ~ {n}: {x} → {y}" for n, x, y in self.changed]
        out += [f"  + edge {u} → {v}" for u, v in self.added_edges]
        out += [f"  - edge {u} → {v}" for u, v in self.removed_edges]
        if self.output:
            out.append(f"  ~ output: {self.output[0]} → {self.output[1]}")
        return out


def _op_text(cell: Cell, name: str) -> str:
    """A node's label on one line, without its name (``skip project=factorized ch=C``)."""
    return " ".join(node_text(cell, name).split()).removeprefix(f"{name} ")


def _settings(cell: Cell, name: str) -> tuple:
    """Everything about a node but its inputs (those are its edges)."""
    if name in cell.inputs:
        return ("input",)
    n = cell.node(name)
    return (n.op, n.combine if len(n.inputs) > 1 else "", n.channels, n.stride, n.attrs, n.drop_path)


def cell_diff(a: Cell, b: Cell) -> CellDiff:
    """The nodes and edges added, removed or changed from cell ``a`` to cell ``b`` (matched by name)."""
    names_a = [*a.inputs, *(n.name for n in a.nodes)]
    names_b = [*b.inputs, *(n.name for n in b.nodes)]
    edges_a = [(i, n.name) for n in a.nodes for i in n.inputs]
    edges_b = [(i, n.name) for n in b.nodes for i in n.inputs]
    both = [v for v in names_a if v in names_b]
    return CellDiff(
        a=a.name,
        b=b.name,
        added_nodes=tuple(v for v in names_b if v not in names_a),
        removed_nodes=tuple(v for v in names_a if v not in names_b),
        changed=tuple(
            (v, _op_text(a, v), _op_text(b, v)) for v in both if _settings(a, v) != _settings(b, v)
        ),
        added_edges=tuple(dict.fromkeys(e for e in edges_b if e not in edges_a)),
        removed_edges=tuple(dict.fromkeys(e for e in edges_a if e not in edges_b)),
        output=(a.output, b.output) if a.output != b.output else None,
    )


def _normal_and_reduce(net: Network) -> tuple[Cell, Cell | None]:
    """The network's normal cell (of its stride-1 stages, the most repeated) and its reduction cell (of
    the first strided stage) when that is a different cell."""
    plain = [s for s in net.stages if s.stride == 1] or list(net.stages)
    if not plain:
        return net.stem, None
    normal = max(plain, key=lambda s: s.repeats).cell
    reduce = next((s.cell for s in net.stages if s.stride > 1 and s.cell != normal), None)
    return normal, reduce


def cells_to_compare(a: Genotype, b: Genotype) -> list[tuple[str, Cell, Cell]]:
    """The pairs :func:`draw_diff` compares: two cells as they are; with a network, its normal cell,
    and the reduction cells when both networks have one. Each pair is ``(role, cell of a, cell of b)``."""
    na, ra = _normal_and_reduce(a) if isinstance(a, Network) else (a, None)
    nb, rb = _normal_and_reduce(b) if isinstance(b, Network) else (b, None)
    pairs = [("normal", na, nb)]
    if ra is not None and rb is not None:
        pairs.append(("reduce", ra, rb))
    return pairs


def _diff_colors(d: CellDiff, cell: Cell, side: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    # unchanged nodes grey, so that only the differences carry colour
    changed = dict.fromkeys((*cell.inputs, *(n.name for n in cell.nodes)), DIFF_COLORS["same"])
    changed.update({n: DIFF_COLORS["changed"] for n, _, _ in d.changed})
    if side == "a":
        return {**changed, **dict.fromkeys(d.removed_nodes, DIFF_COLORS["removed"])}, dict.fromkeys(
            d.removed_edges, _EDGE_COLORS["removed"]
        )
    return {**changed, **dict.fromkeys(d.added_nodes, DIFF_COLORS["added"])}, dict.fromkeys(
        d.added_edges, _EDGE_COLORS["added"]
    )


def draw_diff(
    a: Genotype, b: Genotype, path: str | Path, names: tuple[str, str] = ("A", "B")
) -> list[CellDiff]:
    """Draw A's and B's cells side by side, one row per pair of :func:`cells_to_compare`: in A what
    B removes (red), in B what it adds (green), changed nodes orange on both; a legend explains them.
    Returns the diffs drawn."""
    path = _picture_path(path)
    plt = _pyplot()
    from matplotlib.lines import Line2D  # optional heavy dependency, as pyplot
    from matplotlib.patches import Patch

    pairs = cells_to_compare(a, b)
    diffs = [cell_diff(ca, cb) for _, ca, cb in pairs]
    width, heights = _cells_size([c for _, ca, cb in pairs for c in (ca, cb)])
    rows = [max(heights[2 * i], heights[2 * i + 1]) for i in range(len(pairs))]
    fig, axes = plt.subplots(
        len(pairs),
        2,
        figsize=(2 * width, sum(rows) + 0.8),
        squeeze=False,
        gridspec_kw={"height_ratios": rows},
    )
    for (role, ca, cb), d, row in zip(pairs, diffs, axes):
        like = None  # B's nodes sit where A's of the same name do
        for side, cell, name, ax in (("a", ca, names[0], row[0]), ("b", cb, names[1], row[1])):
            nodes, edges = _diff_colors(d, cell, side)
            title = f"{name}: {role} cell {cell.name!r}" + ("  (identical)" if d.empty else "")
            like = draw_cell(cell, ax, node_colors=nodes, edge_colors=edges, title=title, like=like)
    legend = [
        Patch(fc=DIFF_COLORS["removed"], ec=_EDGE_COLORS["removed"], label=f"only in {names[0]} (removed)"),
        Patch(fc=DIFF_COLORS["added"], ec=_EDGE_COLORS["added"], label=f"only in {names[1]} (added)"),
        Patch(fc=DIFF_COLORS["changed"], ec="#333333", label="op or settings changed"),
        Line2D([], [], color=_EDGE_COLORS["removed"], lw=2.2, label=f"edge only in {names[0]}"),
        Line2D([], [], color=_EDGE_COLORS["added"], lw=2.2, label=f"edge only in {names[1]}"),
    ]
    fig.legend(handles=legend, loc="lower center", ncol=5, fontsize=9, frameon=False)
    _save(fig, path, rect=(0, 0.5 / (sum(rows) + 0.8), 1, 1))  # the bottom half-inch: the legend
    return diffs


def _groups(cell: Cell) -> list[list[str]]:
    level = _layers(to_networkx(cell), cell)
    out: dict[int, list[str]] = {}
    for v, lv in level.items():
        out.setdefault(lv, []).append(v)
    return [out[k] for k in sorted(out)]
