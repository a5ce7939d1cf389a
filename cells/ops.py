"""The ops table: ``name → constructor(C_in, C_out, stride, **attrs) → nn.Module``.

Primitive ops (conv, norm, activation, pool, linear, …) are single torch layers, so a hand-designed
block written as a cell of them has the same modules, parameters and arithmetic as the reference.
Registry metadata: ``inplace`` (takes ``inplace=``; the compiler decides when it is safe), ``fresh``
(its output is a new tensor a sole consumer may overwrite), ``identity`` (passes its input through;
drop-path skips it).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

from torch import nn

from nas.core.registry import register_op

Size = int | Sequence[int]


def _pair(v: Size, attr: str, minimum: int = 1) -> tuple[int, int]:
    """``v`` as (height, width); each an int >= ``minimum``, checked here so torch never sees -3."""
    pair = [v, v] if isinstance(v, Integral) else v
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ValueError(f"attr {attr!r} must be an int or two ints, got {v!r}")
    for x in pair:
        if isinstance(x, bool) or not isinstance(x, Integral) or x < minimum:
            raise ValueError(f"attr {attr!r} must be ints >= {minimum}, got {v!r}")
    return (int(pair[0]), int(pair[1]))


def same_channels(op: str, c_in: int, c_out: int) -> None:
    if c_in != c_out:
        raise ValueError(f"{op} keeps its channels: input has {c_in}, field 'channels' asks for {c_out}")


def _groups(groups: int | str, c_in: int) -> int:
    if groups == "in":  # depthwise
        return c_in
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"attr 'groups' must be a positive int or 'in', got {groups!r}")
    return groups


@register_op("conv", fresh=True)
def conv(
    c_in: int,
    c_out: int,
    stride: int,
    kernel: Size = 3,
    padding: Size | None = None,
    dilation: Size = 1,
    groups: int | str = 1,
    bias: bool = False,
) -> nn.Module:
    """2-D convolution; ``padding`` defaults to "same" (``dilation * (kernel - 1) // 2``)."""
    k, d = _pair(kernel, "kernel"), _pair(dilation, "dilation")
    pad = (
        tuple(di * (ki - 1) // 2 for ki, di in zip(k, d)) if padding is None else _pair(padding, "padding", 0)
    )
    g = _groups(groups, c_in)
    if c_in % g or c_out % g:
        raise ValueError(f"attr 'groups'={g} must divide input channels {c_in} and output channels {c_out}")
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, dilation=d, groups=g, bias=bias)


@register_op("linear", fresh=True, last_dim=True)  # features are the last dim (flat or NHWC)
def linear(c_in: int, c_out: int, stride: int, bias: bool = True) -> nn.Module:
    _no_stride("linear", stride)
    return nn.Linear(c_in, c_out, bias=bias)


@register_op("bn", fresh=True)
def bn(
    c_in: int, c_out: int, stride: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
) -> nn.Module:
    same_channels("bn", c_in, c_out)
    _no_stride("bn", stride)
    return nn.BatchNorm2d(c_in, eps=eps, momentum=momentum, affine=affine)


@register_op("lrn")
def lrn(
    c_in: int, c_out: int, stride: int, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
):
    same_channels("lrn", c_in, c_out)
    _no_stride("lrn", stride)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"attr 'size' must be an int >= 1, got {size!r}")
    return nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)


def _activation(name: str, cls: type[nn.Module], has_inplace: bool) -> None:
    if has_inplace:

        def make(c_in: int, c_out: int, stride: int, inplace: bool = False) -> nn.Module:
            same_channels(name, c_in, c_out)
            _no_stride(name, stride)
            return cls(inplace=inplace)

    else:

        def make(c_in: int, c_out: int, stride: int) -> nn.Module:
            same_channels(name, c_in, c_out)
            _no_stride(name, stride)
            return cls()

    make.__doc__ = f"{cls.__name__} activation."
    # Not "fresh": an activation's backward may read its output, so nothing may overwrite it in place.
    register_op(name, inplace=has_inplace)(make)


for _name, _cls, _inplace in [
    ("relu", nn.ReLU, True),
    ("relu6", nn.ReLU6, True),
    ("silu", nn.SiLU, True),
    ("hardswish", nn.Hardswish, True),
    ("sigmoid", nn.Sigmoid, False),
    ("hardsigmoid", nn.Hardsigmoid, False),
    ("tanh", nn.Tanh, False),
    ("gelu", nn.GELU, False),
]:
    _activation(_name, _cls, _inplace)


def _no_stride(op: str, stride: int) -> None:
    if stride != 1:
        raise ValueError(f"{op} cannot apply stride {stride}; put the stride on a conv or pool")


@register_op("maxpool", fresh=True)
def maxpool(
    c_in: int, c_out: int, stride: int, kernel: Size = 3, padding: Size = 0, ceil_mode: bool = False
) -> nn.Module:
    """Max pooling; the node's stride is the pool's stride."""
    same_channels("maxpool", c_in, c_out)
    k, pad = _pair(kernel, "kernel"), _pair(padding, "padding", 0)
    return nn.MaxPool2d(k, stride=stride, padding=pad, ceil_mode=ceil_mode)


@register_op("avgpool", fresh=True)
def avgpool(
    c_in: int,
    c_out: int,
    stride: int,
    kernel: Size = 3,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> nn.Module:
    same_channels("avgpool", c_in, c_out)
    return nn.AvgPool2d(
        _pair(kernel, "kernel"),
        stride=stride,
        padding=_pair(padding, "padding", 0),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )


@register_op("adaptive_avgpool", fresh=True)
def adaptive_avgpool(c_in: int, c_out: int, stride: int, size: Size = 1) -> nn.Module:
    same_channels("adaptive_avgpool", c_in, c_out)
    _no_stride("adaptive_avgpool", stride)
    return nn.AdaptiveAvgPool2d(_pair(size, "size"))


@register_op("adaptive_maxpool", fresh=True)
def adaptive_maxpool(c_in: int, c_out: int, stride: int, size: Size = 1) -> nn.Module:
    same_channels("adaptive_maxpool", c_in, c_out)
    _no_stride("adaptive_maxpool", stride)
    return nn.AdaptiveMaxPool2d(_pair(size, "size"))


@register_op("flatten", identity=False)
def flatten(c_in: int, c_out: int, stride: int) -> nn.Module:
    """Flatten (C, H, W) to C·H·W features; the node's channels must be left unset."""
    _no_stride("flatten", stride)
    return nn.Flatten(1)


@register_op("dropout")
def dropout(c_in: int, c_out: int, stride: int, p: float = 0.5) -> nn.Module:
    same_channels("dropout", c_in, c_out)
    _no_stride("dropout", stride)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
        raise ValueError(f"attr 'p' must be in [0, 1), got {p}")
    return nn.Dropout(p)


@register_op("identity", identity=True)
def identity(c_in: int, c_out: int, stride: int) -> nn.Module:
    same_channels("identity", c_in, c_out)
    _no_stride("identity", stride)
    return nn.Identity()
