"""Running modules on the meta device: shapes, call order and FLOP counts without memory or arithmetic."""

from __future__ import annotations

from itertools import chain
from typing import Any

import torch
from torch import nn


def meta_call(module: nn.Module, input_shape: tuple[int, ...], *, train: bool = False) -> Any:
    """Call ``module`` on an empty meta tensor of ``input_shape`` (batch included), with every
    parameter and buffer swapped for a meta stand-in; the module's own tensors are untouched."""
    tensors = chain(module.named_parameters(), module.named_buffers())
    state = {k: torch.empty_like(v, device="meta") for k, v in tensors}
    was_training = module.training
    module.train(train)
    try:
        return torch.func.functional_call(module, state, (torch.empty(input_shape, device="meta"),))
    finally:
        module.train(was_training)
