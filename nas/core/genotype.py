"""The genotype: immutable, hashable, JSON-serializable descriptions of cells and networks.

A :class:`Cell` is a DAG of :class:`Node` s. Each node combines its inputs (``sum``, ``concat`` or
``mul``) and applies one registered op. A :class:`Network` is a stem cell, stages of repeated cells
and a head cell. Channel counts may be absolute or relative (see :func:`parse_channels`) so that one
cell serves every repeat of a stage and every width of a scaled family.

Files: ``to_json`` writes schema ``nas.genotype/2``; ``from_json`` reads it and ``nas.genotype/1``.

* v1 nests each cell where it is used (a stage repeating one block five times writes it five times) and
  writes a node's ``combine`` only when it is not ``sum``.
* v2 writes each distinct cell once, in a top-level ``cells`` map (reference → cell); ``stem``, each
  stage's ``cell``, ``head`` and each aux head's ``head`` are references. A reference is the cell's name;
  a different cell with a name already taken gets ``name#2``, ``name#3``… (in order of first use: stem,
  stages, head, aux heads) and keeps its own ``name`` in its entry. A node with several inputs always
  writes ``combine`` (reading a v2 node with several inputs and no ``combine`` is an error); a one-input
  node writes it only when it is not ``sum``. With ``indent``, whatever fits on a line is written inline
  (:mod:`nas.core.jsontext`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from nas.core.jsontext import dumps as _dumps

SCHEMA = "nas.genotype/2"
SCHEMA_V1 = "nas.genotype/1"
COMBINES = ("sum", "concat", "mul")
# Node stride: an int, "cell" (the cell's stride: the stage stride on its first repeat, else 1) or
# "auto" (whatever reduces this node's input to the resolution of the cell's last input).
STRIDE_WORDS = ("cell", "auto")

AttrValue = int | float | str | bool | None | tuple
Channels = int | str | None

_CHANNELS_RE = re.compile(r"^(C|Cin|in|K)(?:\*(\d+(?:\.\d+)?))?(?://?(\d+))?$")


def parse_channels(spec: Channels) -> tuple[str, float, int] | None:
    """Parse a channel spec into ``(base, mult, div)``; ``None`` means "same as the node's input".

    ``64`` is absolute; ``"C*0.25"`` is a quarter of the cell's width; ``"Cin/4"`` a quarter (floor) of
    the cell's input channels; ``"in*6"`` six times the node's own input; ``"K"`` the number of classes.
    The value is ``max(1, floor(base * mult) // div)``.
    """
    if spec is None:
        return None
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise TypeError(f"channels must be an int, a spec string or null, got {type(spec).__name__}")
    if isinstance(spec, int):
        if spec <= 0:
            raise ValueError(f"channels must be positive, got {spec}")
        return ("abs", float(spec), 1)
    m = _CHANNELS_RE.match(spec.replace(" ", ""))
    if not m:
        raise ValueError(
            f"channels spec {spec!r} is not of the form BASE[*MULT][/DIV] with BASE in C, Cin, in, K"
        )
    mult = float(m.group(2)) if m.group(2) else 1.0
    div = int(m.group(3)) if m.group(3) else 1
    if mult <= 0 or div <= 0:
        raise ValueError(f"channels spec {spec!r} must have a positive multiplier and divisor")
    return (m.group(1), mult, div)


def resolve_channels(spec: Channels, *, C: int | None, Cin: int, inp: int, K: int) -> int:
    """Evaluate a channel spec (see :func:`parse_channels`) against the sizes known at build time."""
    parsed = parse_channels(spec)
    if parsed is None:
        return inp
    base, mult, div = parsed
    if base == "abs":
        return int(mult)
    if base == "C" and C is None:
        raise ValueError(f"channels {spec!r} refers to the cell width C, but the stage has no width")
    value = {"C": C, "Cin": Cin, "in": inp, "K": K}[base]
    return max(1, math.floor(value * mult + 1e-9) // div)


def _freeze(value: Any, where: str) -> AttrValue:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, where) for v in value)
    raise TypeError(f"{where}: attribute values must be JSON scalars or lists, got {type(value).__name__}")


def _thaw(value: AttrValue) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Node:
    """One step of a cell: ``op(combine(inputs))``.

    ``attrs`` is stored as a sorted tuple of ``(key, value)`` pairs so the node stays hashable; pass a
    dict and it is normalised. ``drop_path`` marks a ``sum`` whose non-identity inputs are dropped per
    sample during training (stochastic depth / DARTS drop-path).
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    combine: str = "sum"
    channels: Channels = None
    stride: int | str = 1
    attrs: tuple[tuple[str, AttrValue], ...] = ()
    drop_path: bool = False

    def __post_init__(self) -> None:
        where = f"node {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"node name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.op, str) or not self.op:
            raise ValueError(f"{where}: field 'op' must be a non-empty string")
        inputs = (self.inputs,) if isinstance(self.inputs, str) else tuple(self.inputs)
        if not inputs or not all(isinstance(i, str) for i in inputs):
            raise ValueError(f"{where}: field 'inputs' must be a non-empty list of names")
        object.__setattr__(self, "inputs", inputs)
        if self.combine not in COMBINES:
            raise ValueError(f"{where}: field 'combine' must be one of {COMBINES}, got {self.combine!r}")
        try:
            parse_channels(self.channels)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: field 'channels': {e}") from None
        if isinstance(self.stride, bool) or not (
            (isinstance(self.stride, int) and self.stride >= 1) or self.stride in STRIDE_WORDS
        ):
            raise ValueError(f"{where}: field 'stride' must be a positive int or one of {STRIDE_WORDS}")
        raw = dict(self.attrs) if isinstance(self.attrs, Mapping | tuple | list) else None
        if raw is None:
            raise TypeError(f"{where}: field 'attrs' must be a mapping")
        attrs = tuple(sorted((str(k), _freeze(v, f"{where} attr {k!r}")) for k, v in raw.items()))
        object.__setattr__(self, "attrs", attrs)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.attrs}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "op": self.op, "inputs": list(self.inputs)}
        if self.combine != "sum":
            d["combine"] = self.combine
        if self.channels is not None:
            d["channels"] = self.channels
        if self.stride != 1:
            d["stride"] = self.stride
        if self.attrs:
            d["attrs"] = {k: _thaw(v) for k, v in self.attrs}
        if self.drop_path:
            d["drop_path"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Node:
        return cls(**_known(cls, d, "node"))


@dataclass(frozen=True)
class Cell:
    """A DAG of nodes with named inputs (``("x",)``, or ``("h0", "h1")`` for NASNet-style cells whose
    inputs are the outputs of the previous two cells, ``h1`` the most recent) and one output node."""

    name: str
    nodes: tuple[Node, ...]
    output: str
    inputs: tuple[str, ...] = ("x",)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"cell name must be a non-empty string, got {self.name!r}")
        inputs = (self.inputs,) if isinstance(self.inputs, str) else tuple(self.inputs)
        nodes = tuple(Node.from_dict(n) if isinstance(n, Mapping) else n for n in self.nodes)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "nodes", nodes)
        if not inputs:
            raise ValueError(f"cell {self.name!r}: field 'inputs' must name at least one input")
        if not nodes:
            raise ValueError(f"cell {self.name!r}: field 'nodes' must not be empty")

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"cell {self.name!r} has no node {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "inputs": list(self.inputs),
            "nodes": [n.to_dict() for n in self.nodes],
            "output": self.output,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Cell:
        kw = _known(cls, d, "cell")
        kw["nodes"] = tuple(Node.from_dict(n) for n in kw.get("nodes", ()))
        return cls(**kw)

    def to_json(self, *, indent: int | None = None, **kw: Any) -> str:
        """The schema-v2 document (see the module docstring); ``kw`` goes to :func:`json.dumps`."""
        return _write({"schema": SCHEMA, "kind": "cell", **_cell_v2(self)}, indent, kw)


@dataclass(frozen=True)
class Stage:
    """``repeats`` copies of ``cell``; the first one runs with ``stride`` and changes the width."""

    cell: Cell
    repeats: int = 1
    width: int | None = None
    stride: int = 1

    def __post_init__(self) -> None:
        where = f"stage of cell {getattr(self.cell, 'name', '?')!r}"
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise ValueError(f"{where}: field 'repeats' must be a positive int, got {self.repeats!r}")
        if self.width is not None and (
            isinstance(self.width, bool) or not isinstance(self.width, int) or self.width <= 0
        ):
            raise ValueError(f"{where}: field 'width' must be a positive int, got {self.width!r}")
        if isinstance(self.stride, bool) or not isinstance(self.stride, int) or self.stride < 1:
            raise ValueError(f"{where}: field 'stride' must be a positive int, got {self.stride!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "cell": self.cell.to_dict(),
            "repeats": self.repeats,
            "width": self.width,
            "stride": self.stride,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Stage:
        kw = _known(cls, d, "stage")
        kw["cell"] = _as_cell(kw["cell"])
        return cls(**kw)


@dataclass(frozen=True)
class AuxHead:
    """An auxiliary classifier fed by the output of cell number ``after`` (0-based over all stage
    repeats); its logits are returned next to the main ones in training mode only."""

    after: int
    head: Cell

    def to_dict(self) -> dict[str, Any]:
        return {"after": self.after, "head": self.head.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuxHead:
        return cls(after=int(d["after"]), head=_as_cell(d["head"]))


@dataclass(frozen=True)
class Network:
    """A whole model: ``head(stages(stem(image)))``.

    ``input_size`` is ``(channels, height, width)``. ``drop_path`` is the stochastic-depth rate of the
    last cell; with ``drop_path_schedule="linear"`` cell ``i`` of ``n`` gets ``rate * i / n`` (as
    EfficientNet), with ``"constant"`` every cell gets ``rate`` (as DARTS).
    """

    name: str
    stem: Cell
    stages: tuple[Stage, ...]
    head: Cell
    input_size: tuple[int, int, int] = (3, 224, 224)
    num_classes: int = 1000
    drop_path: float = 0.0
    drop_path_schedule: str = "constant"
    aux: tuple[AuxHead, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "aux", tuple(self.aux))
        size = tuple(self.input_size)
        if len(size) != 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
            raise ValueError(
                f"network {self.name!r}: field 'input_size' must be three positive ints (C, H, W)"
            )
        object.__setattr__(self, "input_size", size)
        if (
            isinstance(self.num_classes, bool)
            or not isinstance(self.num_classes, int)
            or self.num_classes < 1
        ):
            raise ValueError(f"network {self.name!r}: field 'num_classes' must be a positive int")
        if not 0.0 <= float(self.drop_path) < 1.0:
            raise ValueError(f"network {self.name!r}: field 'drop_path' must be in [0, 1)")
        if self.drop_path_schedule not in ("constant", "linear"):
            raise ValueError(
                f"network {self.name!r}: field 'drop_path_schedule' must be 'constant' or 'linear'"
            )
        if len(self.stem.inputs) != 1:
            raise ValueError(f"network {self.name!r}: field 'stem' must have exactly one input (the image)")
        n_cells = self.num_cells
        for a in self.aux:
            if not 0 <= a.after < n_cells:
                raise ValueError(f"network {self.name!r}: aux head field 'after' must be in [0, {n_cells})")

    @property
    def num_cells(self) -> int:
        return sum(s.repeats for s in self.stages)

    def cells(self) -> tuple[Cell, ...]:
        """Every distinct cell genotype, stem and head included."""
        seen: dict[Cell, None] = {self.stem: None}
        for s in self.stages:
            seen[s.cell] = None
        seen[self.head] = None
        for a in self.aux:
            seen[a.head] = None
        return tuple(seen)

    def replace(self, **changes: Any) -> Network:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The expanded form: every stage carries its cell (the body of a v1 document)."""
        d = {
            "name": self.name,
            "input_size": list(self.input_size),
            "num_classes": self.num_classes,
            "stem": self.stem.to_dict(),
            "stages": [s.to_dict() for s in self.stages],
            "head": self.head.to_dict(),
        }
        if self.drop_path:
            d["drop_path"] = self.drop_path
            d["drop_path_schedule"] = self.drop_path_schedule
        if self.aux:
            d["aux"] = [a.to_dict() for a in self.aux]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Network:
        kw = _known(cls, d, "network")
        kw["stem"] = _as_cell(kw["stem"])
        kw["head"] = _as_cell(kw["head"])
        kw["stages"] = tuple(Stage.from_dict(s) for s in kw.get("stages", ()))
        kw["aux"] = tuple(AuxHead.from_dict(a) for a in kw.get("aux", ()))
        if "input_size" in kw:
            kw["input_size"] = tuple(kw["input_size"])
        return cls(**kw)

    def to_json(self, *, indent: int | None = None, **kw: Any) -> str:
        """The schema-v2 document (see the module docstring); ``kw`` goes to :func:`json.dumps`."""
        return _write({"schema": SCHEMA, "kind": "network", **_network_v2(self)}, indent, kw)


Genotype = Cell | Network


def _known(cls: type, d: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(d, Mapping):
        raise TypeError(f"{what} must be a JSON object, got {type(d).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"{what} {d.get('name', '?')!r}: unknown field(s) {', '.join(map(repr, unknown))}")
    return dict(d)


def _as_cell(value: Any) -> Cell:
    return value if isinstance(value, Cell) else Cell.from_dict(value)


def _write(doc: dict[str, Any], indent: int | None, kw: dict[str, Any]) -> str:
    return json.dumps(doc, **kw) if indent is None else _dumps(doc, indent=indent, **kw)


# -------------------------------------------------------------------------------- schema v2 documents


def _node_v2(node: Node) -> dict[str, Any]:
    d = node.to_dict()
    if len(node.inputs) > 1:  # several inputs: say how they are combined, even for the default sum
        head = {k: d.pop(k) for k in ("name", "op", "inputs")}
        d = {**head, "combine": node.combine, **d}
    return d


def _cell_v2(cell: Cell, name: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {"name": cell.name} if name else {}
    d.update(inputs=list(cell.inputs), nodes=[_node_v2(n) for n in cell.nodes], output=cell.output)
    return d


def _cell_refs(net: Network) -> dict[Cell, str]:
    """Distinct cell → its reference: its name, or ``name#k`` when a different cell took the name."""
    refs: dict[Cell, str] = {}
    taken = {c.name for c in net.cells()}
    used: set[str] = set()
    for c in net.cells():  # stem, stages, head, aux heads: first-use order
        ref, k = c.name, 1
        while ref in used or (k > 1 and ref in taken):  # never take another cell's own name
            k += 1
            ref = f"{c.name}#{k}"
        refs[c] = ref
        used.add(ref)
    return refs


def _network_v2(net: Network) -> dict[str, Any]:
    refs = _cell_refs(net)
    d: dict[str, Any] = {"name": net.name, "input_size": list(net.input_size), "num_classes": net.num_classes}
    if net.drop_path:
        d.update(drop_path=net.drop_path, drop_path_schedule=net.drop_path_schedule)
    d["stem"] = refs[net.stem]
    d["stages"] = [
        {"cell": refs[s.cell], "repeats": s.repeats, "width": s.width, "stride": s.stride} for s in net.stages
    ]
    d["head"] = refs[net.head]
    if net.aux:
        d["aux"] = [{"after": a.after, "head": refs[a.head]} for a in net.aux]
    d["cells"] = {ref: _cell_v2(c, name=ref != c.name) for c, ref in refs.items()}
    return d


def _read_cell_v2(d: Any, what: str) -> Cell:
    if not isinstance(d, Mapping):
        raise TypeError(f"{what} must be a JSON object, got {type(d).__name__}")
    for n in d.get("nodes") or ():
        inputs = n.get("inputs") if isinstance(n, Mapping) else None
        if isinstance(inputs, list | tuple) and len(inputs) > 1 and "combine" not in n:
            raise ValueError(
                f"cell {d.get('name', '?')!r} node {n.get('name', '?')!r}: field 'combine' is required for a "
                f"node with several inputs (schema {SCHEMA!r})"
            )
    return Cell.from_dict(d)


def _read_network_v2(d: dict[str, Any]) -> Network:
    where = f"network {d.get('name', '?')!r}"
    table = d.pop("cells", None)
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: field 'cells' must be an object of cells by reference")
    cells = {}
    for k, c in table.items():  # an entry's name is its reference unless it says otherwise
        cells[k] = _read_cell_v2({"name": k, **c} if isinstance(c, Mapping) else c, f"{where}: cell {k!r}")
    used: set[str] = set()

    def ref(value: Any, field: str) -> Cell:
        if not isinstance(value, str) or value not in cells:
            raise ValueError(f"{where}: field {field!r} must name an entry of 'cells', got {value!r}")
        used.add(value)
        return cells[value]

    d["stem"], d["head"] = ref(d.get("stem"), "stem"), ref(d.get("head"), "head")
    stages = d.get("stages", ())
    if not isinstance(stages, list):
        raise ValueError(f"{where}: field 'stages' must be a list")
    d["stages"] = [_resolved(s, "cell", ref, f"stages[{i}].cell") for i, s in enumerate(stages)]
    d["aux"] = [_resolved(a, "head", ref, f"aux[{i}].head") for i, a in enumerate(d.get("aux", ()))]
    unused = sorted(set(cells) - used)
    if unused:
        raise ValueError(f"{where}: field 'cells' has unused entries {', '.join(map(repr, unused))}")
    return Network.from_dict(d)


def _resolved(item: Any, key: str, ref: Callable[[Any, str], Cell], field: str) -> Any:
    """A stage or aux-head object with its cell reference replaced by the cell (others: as they are,
    for ``from_dict`` to reject)."""
    return {**item, key: ref(item.get(key), field)} if isinstance(item, Mapping) else item


def from_json(text: str | bytes) -> Genotype:
    """Parse a genotype document (a network or a cell) of schema v2 or v1."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"genotype JSON is not valid JSON: {e}") from None
    if not isinstance(d, dict):
        raise ValueError("genotype JSON must be an object")
    schema = d.pop("schema", None)
    if schema not in (SCHEMA, SCHEMA_V1):
        raise ValueError(f"genotype JSON field 'schema' must be {SCHEMA!r} or {SCHEMA_V1!r}, got {schema!r}")
    kind = d.pop("kind", None)
    if kind == "network":
        return _read_network_v2(d) if schema == SCHEMA else Network.from_dict(d)
    if kind == "cell":
        return _read_cell_v2(d, "cell") if schema == SCHEMA else Cell.from_dict(d)
    raise ValueError(f"genotype JSON field 'kind' must be 'network' or 'cell', got {kind!r}")


def load(path: str | Path) -> Genotype:
    """The genotype in file ``path``; any problem with its content is a ``ValueError`` naming the file."""
    path = Path(path)
    try:
        return from_json(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a genotype JSON file (not UTF-8 text)") from None
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: {e}") from None


def save(genotype: Genotype, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(genotype.to_json(indent=1) + "\n")
    return path


def chain(name: str, layers: Sequence[tuple[str, Mapping[str, Any]] | tuple[str]], inputs: str = "x") -> Cell:
    """A plain sequential cell from ``(op, fields)`` rows; ``fields`` may set channels/stride/attrs
    (any other key is an op attribute). Nodes are named ``<op><index>``."""
    nodes: list[Node] = []
    prev = inputs
    for i, row in enumerate(layers):
        op, kw = row[0], dict(row[1]) if len(row) > 1 else {}
        node_fields = {k: kw.pop(k) for k in ("channels", "stride", "combine", "drop_path") if k in kw}
        node = Node(name=f"{op}{i}", op=op, inputs=(prev,), attrs=kw, **node_fields)
        nodes.append(node)
        prev = node.name
    return Cell(name=name, nodes=tuple(nodes), output=prev, inputs=(inputs,))
