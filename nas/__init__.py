"""nas: neural architecture search for PyTorch — one genotype, one compiler."""

from nas.compile import CellModule, NetworkModule, TensorInfo, build, compile_cell, resolve, validate
from nas.describe import describe  # binds the function over the submodule attribute
from nas.genotype import AuxHead, Cell, Network, Node, Stage, chain, from_json, load, save
from nas.graph import KeyIndex, canonical_key, to_networkx
from nas.registry import ARCHS, OPS, SPACES, register_arch, register_op, register_space
from nas.transfer import transfer

__version__ = "0.1.0"


__all__ = [
    "ARCHS",
    "OPS",
    "SPACES",
    "AuxHead",
    "Cell",
    "CellModule",
    "KeyIndex",
    "Network",
    "NetworkModule",
    "Node",
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
    "register_op",
    "register_space",
    "resolve",
    "save",
    "to_networkx",
    "transfer",
    "validate",
]
