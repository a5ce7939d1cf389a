"""nas: neural architecture search for PyTorch — one genotype, one compiler.

The public API re-exports the core (genotype, graph, registry, compiler), the tools (describe) and the
weights layer (transfer, pretrained builds); see ARCHITECTURE.md for the layers.
"""

from nas.core.archcodec import ArchCodec
from nas.core.compile import CellModule, NetworkModule, TensorInfo, compile_cell, validate
from nas.core.genotype import AuxHead, Cell, Network, Node, Stage, chain, from_json, load, save
from nas.core.graph import KeyIndex, canonical_key, to_networkx
from nas.core.registry import (
    ARCHS,
    LAYOUTS,
    OPS,
    SPACES,
    register_arch,
    register_layout,
    register_op,
    register_space,
)
from nas.core.resolve import resolve
from nas.core.space import SearchSpace
from nas.tools.describe import describe
from nas.weights.pretrained import build
from nas.weights.transfer import transfer

__version__ = "0.1.0"


__all__ = [
    "ARCHS",
    "ArchCodec",
    "LAYOUTS",
    "OPS",
    "SPACES",
    "AuxHead",
    "Cell",
    "CellModule",
    "KeyIndex",
    "Network",
    "NetworkModule",
    "Node",
    "SearchSpace",
    "Stage",
    "TensorInfo",
    "build",
    "canonical_key",
    "chain",
    "compile_cell",
    "describe",
    "from_json",
    "load",
    "register_arch",
    "register_layout",
    "register_op",
    "register_space",
    "resolve",
    "save",
    "to_networkx",
    "transfer",
    "validate",
]
