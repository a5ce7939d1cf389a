"""Compound ops: small fixed sub-graphs that NAS cell spaces treat as one choice (DARTS/NASNet style).

Hand-designed blocks never use these as opaque units; they are cells of primitive ops (see
``cells.blocks``). The exceptions are the shape-adapting edges (``skip``, ``preprocess``), whose
structure depends on whether the shapes at their ends agree, as in every reference implementation.
"""

from __future__ import annotations

import torch
from torch import nn

from cells.ops import same_channels
from nas.core.registry import register_op


class Zero(nn.Module):
    """DARTS/NB201 ``none``: a zero tensor of the output shape (keeps the gradient graph)."""

    def __init__(self, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if x.shape[1] != self.c_out:
            return x.new_zeros((x.shape[0], self.c_out, *x.shape[2:]))
        return x.mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing pixels: two offset stride-2 1×1 convs, concatenated."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True, relu: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"factorized reduce needs an even channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False) if relu else nn.Identity()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        y = x[:, :, 1:, 1:]
        if x.shape[2] % 2:  # odd size: pad the shifted path so both halves align
            y = nn.functional.pad(y, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(y)], dim=1))


class PadShortcut(nn.Module):
    """ResNet option-A shortcut (CIFAR ResNets): subsample, then zero-pad the new channels."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        if c_out < c_in:
            raise ValueError(f"project='pad' cannot reduce channels ({c_in} -> {c_out})")
        self.stride, self.extra = stride, c_out - c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        before = self.extra // 2
        return nn.functional.pad(x, (0, 0, 0, 0, before, self.extra - before))


def _seq(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


@register_op("zero")
def zero(c_in: int, c_out: int, stride: int) -> nn.Module:
    return Zero(c_out, stride)


@register_op("skip", identity=True)
def skip(c_in: int, c_out: int, stride: int, project: str = "conv_bn") -> nn.Module | None:
    """A shortcut: identity when shapes agree, else a projection chosen by ``project``:
    ``conv_bn`` (ResNet), ``conv`` (pre-activation ResNet), ``pad`` (CIFAR ResNet option A),
    ``factorized`` (DARTS), ``none`` (the shortcut is absent, as MBConv / inverted residual blocks)."""
    if c_in == c_out and stride == 1:
        return nn.Identity()
    if project == "conv_bn":
        return _seq(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
    if project == "conv":
        return nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
    if project == "pad":
        return PadShortcut(c_in, c_out, stride)
    if project == "factorized":
        if stride != 2:
            raise ValueError(f"project='factorized' needs stride 2, got {stride}")
        return FactorizedReduce(c_in, c_out)
    if project == "none":
        return None
    raise ValueError(f"attr 'project' must be conv_bn, conv, pad, factorized or none, got {project!r}")


@register_op("relu_conv_bn", fresh=True)
def relu_conv_bn(c_in: int, c_out: int, stride: int, kernel: int = 1, affine: bool = True) -> nn.Module:
    return _seq(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out, affine=affine),
    )


@register_op("preprocess", fresh=True)
def preprocess(c_in: int, c_out: int, stride: int, affine: bool = True) -> nn.Module:
    """NASNet/DARTS cell-input adapter: ReLU-1×1 conv-BN, or a factorized reduce when the input is
    at twice the cell's resolution (use ``stride="auto"`` on the node)."""
    if stride == 2:
        return FactorizedReduce(c_in, c_out, affine=affine)
    if stride != 1:
        raise ValueError(f"preprocess handles stride 1 or 2, got {stride}")
    return relu_conv_bn(c_in, c_out, 1, kernel=1, affine=affine)


@register_op("sep_conv", fresh=True)
def sep_conv(c_in: int, c_out: int, stride: int, kernel: int = 3, affine: bool = True) -> nn.Module:
    """DARTS separable conv: (ReLU, depthwise k×k, pointwise, BN) twice; stride on the first."""
    p = kernel // 2
    return _seq(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=p, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_in, 1, bias=False),
        nn.BatchNorm2d(c_in, affine=affine),
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_in, kernel, padding=p, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out, affine=affine),
    )


@register_op("dil_conv", fresh=True)
def dil_conv(
    c_in: int, c_out: int, stride: int, kernel: int = 3, dilation: int = 2, affine: bool = True
) -> nn.Module:
    """DARTS dilated separable conv: ReLU, dilated depthwise k×k, pointwise, BN."""
    return _seq(
        nn.ReLU(inplace=False),
        nn.Conv2d(
            c_in,
            c_in,
            kernel,
            stride=stride,
            padding=dilation * (kernel - 1) // 2,
            dilation=dilation,
            groups=c_in,
            bias=False,
        ),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out, affine=affine),
    )


@register_op("conv_7x1_1x7", fresh=True)
def conv_7x1_1x7(c_in: int, c_out: int, stride: int, kernel: int = 7, affine: bool = True) -> nn.Module:
    """NASNet factorized k×k conv: ReLU, 1×k, k×1, BN."""
    p = kernel // 2
    return _seq(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_in, (1, kernel), stride=(1, stride), padding=(0, p), bias=False),
        nn.Conv2d(c_in, c_out, (kernel, 1), stride=(stride, 1), padding=(p, 0), bias=False),
        nn.BatchNorm2d(c_out, affine=affine),
    )


@register_op("pool")
def pool(c_in: int, c_out: int, stride: int, kind: str = "avg", kernel: int = 3) -> nn.Module:
    """A NAS-cell pooling edge with "same" padding (DARTS/NB201: avg excludes the padding)."""
    same_channels("pool", c_in, c_out)
    if kind == "avg":
        return nn.AvgPool2d(kernel, stride=stride, padding=kernel // 2, count_include_pad=False)
    if kind == "max":
        return nn.MaxPool2d(kernel, stride=stride, padding=kernel // 2)
    raise ValueError(f"attr 'kind' must be 'avg' or 'max', got {kind!r}")
