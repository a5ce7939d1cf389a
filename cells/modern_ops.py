"""Primitive ops of the post-2017 classifiers: channel split and shuffle (ShuffleNetV2), permute, layer
norm over the last dim or over channels, and layer scale (ConvNeXt).

Each is one small module whose arithmetic is torchvision's, op for op, so a block written as a cell of
them computes what the reference computes: ``layer_norm2d`` permutes to channels-last, normalises and
permutes back exactly as torchvision's ``LayerNorm2d``; ConvNeXt's block writes that pattern out
(``permute`` → ``layer_norm`` → ``linear`` … → ``permute``), so its Linears run on channels-last
tensors as torchvision's do. Ops that act on the last dim (``layer_norm``, like ``linear``) carry the
registry metadata ``last_dim``: the compiler reads their input channels off the last dim.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from cells.ops import _no_stride, same_channels
from nas.core.registry import register_op


def _positive_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"attr {field!r} must be a positive int, got {value!r}")
    return value


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle: (g, C/g) → (C/g, g) over the channel dim."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, self.groups, c // self.groups, h, w)
        return torch.transpose(x, 1, 2).contiguous().view(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ChannelChunk(nn.Module):
    """Part ``index`` of ``parts`` equal channel chunks (a view, as ``x.chunk(parts, 1)[index]``)."""

    def __init__(self, parts: int, index: int) -> None:
        super().__init__()
        self.parts, self.index = parts, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.parts, 1)[self.index]

    def extra_repr(self) -> str:
        return f"parts={self.parts}, index={self.index}"


class Permute(nn.Module):
    """``torch.permute`` with fixed dims (batch dim included), torchvision's ``ops.misc.Permute``."""

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor: permute, normalise the last dim, permute back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """Per-channel learned scale ``γ · x`` (γ of shape (C, 1, 1), initialised to ``init``)."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(channels, 1, 1) * init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x


@register_op("channel_shuffle", fresh=True)
def channel_shuffle(c_in: int, c_out: int, stride: int, groups: int = 2) -> nn.Module:
    same_channels("channel_shuffle", c_in, c_out)
    _no_stride("channel_shuffle", stride)
    g = _positive_int("groups", groups)
    if c_in % g:
        raise ValueError(f"attr 'groups'={g} must divide the input channels {c_in}")
    return ChannelShuffle(g)


@register_op("channel_split")
def channel_split(c_in: int, c_out: int, stride: int, parts: int = 2, index: int = 0) -> nn.Module:
    """One of ``parts`` equal channel chunks; the node's channels must be ``Cin/parts`` (or ``in/…``)."""
    _no_stride("channel_split", stride)
    p = _positive_int("parts", parts)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < p:
        raise ValueError(f"attr 'index' must be an int in [0, {p}), got {index!r}")
    if c_in % p or c_out != c_in // p:
        raise ValueError(
            f"channel_split into {p} parts of {c_in} channels gives {c_in / p:g}; field 'channels' asks "
            f"for {c_out}"
        )
    return ChannelChunk(p, index)


@register_op("permute")
def permute(c_in: int, c_out: int, stride: int, dims: Sequence[int] = (0, 2, 3, 1)) -> nn.Module:
    """Reorder dims (the batch dim included): ``(0, 2, 3, 1)`` to channels-last, ``(0, 3, 1, 2)`` back."""
    _no_stride("permute", stride)
    d = list(dims)
    if sorted(d) != list(range(len(d))) or d[0] != 0:
        raise ValueError(f"attr 'dims' must be a permutation of 0…n-1 keeping the batch dim first, got {d}")
    return Permute(d)


@register_op("layer_norm", fresh=True, last_dim=True)
def layer_norm(c_in: int, c_out: int, stride: int, eps: float = 1e-5) -> nn.Module:
    """LayerNorm over the last dim (channels of a channels-last tensor, or features)."""
    same_channels("layer_norm", c_in, c_out)
    _no_stride("layer_norm", stride)
    return nn.LayerNorm(c_in, eps=eps)


@register_op("layer_norm2d", fresh=True)
def layer_norm2d(c_in: int, c_out: int, stride: int, eps: float = 1e-5) -> nn.Module:
    """LayerNorm over the channels of an NCHW tensor (torchvision's ``LayerNorm2d`` numerics)."""
    same_channels("layer_norm2d", c_in, c_out)
    _no_stride("layer_norm2d", stride)
    return LayerNorm2d(c_in, eps=eps)


@register_op("layer_scale", fresh=True)
def layer_scale(c_in: int, c_out: int, stride: int, init: float = 1e-6) -> nn.Module:
    same_channels("layer_scale", c_in, c_out)
    _no_stride("layer_scale", stride)
    return LayerScale(c_in, float(init))
