"""``nas.build``: the core compiler plus, on request, torchvision's pretrained weights."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas.core import compile as _compile
from nas.core.compile import NetworkModule
from nas.core.genotype import Network
from nas.core.registry import ARCHS
from nas.weights.reference import reference_module
from nas.weights.transfer import transfer


def build(
    arch: Network | str | Path,
    num_classes: int | None = None,
    input_size: Sequence[int] | int | None = None,
    weights: str | None = None,
    download: bool = False,
    **overrides: Any,
) -> NetworkModule:
    """Compile a network genotype (or a zoo name, or a genotype JSON path) into an ``nn.Module``.

    ``num_classes`` and ``input_size`` (an int sets height and width) override the genotype's, as do
    other ``Network`` fields given as keywords (``drop_path=0.2``). ``weights="torchvision"`` loads the
    pretrained weights of a zoo entry's torchvision reference with :func:`nas.transfer`; they must be in
    the local torch hub cache, else ``ValueError`` (``download=True``: download them there first). The
    file's SHA-256 must start with the prefix torchvision publishes in its name, and it is read with
    ``torch.load(weights_only=True)``: a planted or damaged file is refused, never unpickled.
    """
    if weights is None:
        return _compile.build(arch, num_classes, input_size, **overrides)
    if weights != "torchvision":
        raise ValueError(f"weights must be None or 'torchvision', got {weights!r}")
    if not isinstance(arch, str) or arch not in ARCHS:
        raise ValueError(f"weights='torchvision' needs a zoo name with a reference, got {arch!r}")
    reference = reference_module(arch, weights=weights, download=download)
    model = _compile.build(arch, num_classes, input_size, **overrides)
    transfer(reference, model)
    return model
