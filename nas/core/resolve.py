"""What a user may name as an architecture: a genotype, a registered zoo name or a genotype JSON path."""

from __future__ import annotations

from pathlib import Path

from nas.core import genotype as G
from nas.core.registry import ARCHS


def resolve(arch: G.Genotype | str | Path) -> G.Genotype:
    """A genotype, a registered architecture name or a path to a genotype JSON file → genotype."""
    if isinstance(arch, G.Cell | G.Network):
        return arch
    if isinstance(arch, Path) or (isinstance(arch, str) and (arch.endswith(".json") or "/" in arch)):
        path = Path(arch)
        if path.is_dir():
            raise ValueError(f"genotype file {str(path)!r} is a directory")
        if not path.is_file():
            raise ValueError(f"genotype file {str(path)!r} does not exist")
        return G.load(path)
    if isinstance(arch, str):
        return ARCHS[arch]()
    raise TypeError(
        f"arch must be a genotype, an architecture name or a JSON path, got {type(arch).__name__}"
    )
