"""Weight transfer by structure: pair the weighted layers of two networks in dataflow order.

Both networks run once on the meta device (no memory, no arithmetic) in training mode, so auxiliary
heads run too; every module that owns parameters or buffers is recorded when its first call returns
(a block owning a tensor next to its layers, as ConvNeXt's layer scale, comes after them). The two
sequences are paired one to one and every pair must agree in layer kind (the ``torch.nn`` class it
is or derives from: torchvision's ``LayerNorm2d`` is a ``LayerNorm``) and in the name and shape of
each tensor. Names of the enclosing modules are never compared.
"""

from __future__ import annotations

from itertools import chain

import torch
from torch import nn

from nas.core.meta import meta_call


def _own_tensors(m: nn.Module) -> dict[str, torch.Tensor]:
    return dict(chain(m.named_parameters(recurse=False), m.named_buffers(recurse=False)))


def dataflow_layers(model: nn.Module, input_size: tuple[int, ...]) -> list[tuple[str, nn.Module]]:
    """Modules owning tensors, in the order their first call in a training-mode forward returns."""
    names = {m: n for n, m in model.named_modules()}
    order: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()

    def hook(module: nn.Module, args: object, out: object) -> None:
        if id(module) not in seen and _own_tensors(module):
            seen.add(id(module))
            order.append((names.get(module, "?"), module))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        meta_call(model, (2, *input_size), train=True)
    finally:
        for h in handles:
            h.remove()
    unused = [n for n, m in model.named_modules() if _own_tensors(m) and id(m) not in seen]
    if unused:
        raise ValueError(f"layers never called in a forward pass, cannot place them: {unused[:5]}")
    return order


@torch.no_grad()
def transfer(reference: nn.Module, target: nn.Module, input_size: tuple[int, ...] | None = None) -> int:
    """Copy every parameter and buffer of ``reference`` into ``target`` (matched by dataflow
    position); raise ``ValueError`` on any difference in structure. Returns the number of tensors copied.

    ``input_size`` (C, H, W) defaults to the target's genotype input size.
    """
    if input_size is None:
        genotype = getattr(target, "genotype", None)
        if genotype is None:
            raise TypeError("transfer() needs input_size when the target is not a compiled network")
        input_size = genotype.input_size
    src = dataflow_layers(reference, input_size)
    dst = dataflow_layers(target, input_size)
    for k, ((sn, sm), (dn, dm)) in enumerate(zip(src, dst)):
        st, dt = _own_tensors(sm), _own_tensors(dm)
        if _kind(sm) is not _kind(dm) or {n: t.shape for n, t in st.items()} != {
            n: t.shape for n, t in dt.items()
        }:
            raise ValueError(
                f"layer {k} differs: reference {sn!r} is {_sig(sm)}, target {dn!r} is {_sig(dm)}"
            )
    if len(src) != len(dst):
        extra = src[len(dst)] if len(src) > len(dst) else dst[len(src)]
        raise ValueError(
            f"reference has {len(src)} weighted layers, target has {len(dst)}; first unmatched: {extra[0]!r}"
        )
    copied = 0
    for (_, sm), (_, dm) in zip(src, dst):
        dt = _own_tensors(dm)
        for n, t in _own_tensors(sm).items():
            dt[n].copy_(t)
            copied += 1
    return copied


def _kind(m: nn.Module) -> type:
    """The ``torch.nn`` class a layer is or derives from (a subclass may only change ``forward``)."""
    return next(c for c in type(m).__mro__ if c.__module__.startswith("torch.nn."))


def _sig(m: nn.Module) -> str:
    shapes = ", ".join(f"{n}{tuple(t.shape)}" for n, t in _own_tensors(m).items())
    return f"{type(m).__name__}({shapes})"
