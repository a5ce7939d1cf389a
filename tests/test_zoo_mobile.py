"""MobileNet-v1/v2 and EfficientNet-B0…B7: exact against torchvision (params, outputs after transfer,
layer hyperparameters, stochastic-depth schedule) and against the paper for MobileNet-v1."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import efficientnet as tv_effnet
from torchvision.models._utils import _make_divisible
from torchvision.ops import StochasticDepth

import nas
from nas.weights.transfer import dataflow_layers
from search_spaces.scaling import compound_scale, make_divisible
from search_spaces.zoo.efficientnet import EFFICIENTNET, EFFICIENTNET_B0
from search_spaces.zoo.mobile import mobilenet_v1, mobilenet_v2

SIZE = 64
FAST = ["mobilenet_v2", *(f"efficientnet_b{i}" for i in range(5))]
SLOW = [f"efficientnet_b{i}" for i in range(5, 8)]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _config(m: nn.Module) -> tuple:
    """The hyperparameters transfer() does not compare (it checks types and tensor shapes)."""
    if isinstance(m, nn.Conv2d):
        return (m.stride, m.padding, m.dilation, m.groups)
    if isinstance(m, nn.BatchNorm2d):
        return (m.eps, m.momentum, m.affine)
    return ()


def check_exact(name: str, size: int = SIZE, **ref_kwargs) -> None:
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)(weights=None, **ref_kwargs)
    ours = nas.build(name, input_size=size)
    assert n_params(ours) == n_params(ref)
    pairs = zip(dataflow_layers(ref, (3, size, size)), dataflow_layers(ours, (3, size, size)))
    assert all(_config(a) == _config(b) for (_, a), (_, b) in pairs)
    nas.transfer(ref, ours)
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        a, b = ref(x), ours(x)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5


@pytest.mark.parametrize("name", FAST)
def test_exact_vs_torchvision(name: str) -> None:
    check_exact(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_exact_vs_torchvision_large(name: str) -> None:
    check_exact(name)


def test_registry_metadata() -> None:
    sizes = [224, 240, 260, 300, 380, 456, 528, 600]
    for i, size in enumerate(sizes):
        name = f"efficientnet_b{i}"
        assert nas.ARCHS.entry(name).meta["reference"] == name
        assert nas.resolve(name).input_size == (3, size, size)
    assert nas.ARCHS.entry("mobilenet_v2").meta["reference"] == "mobilenet_v2"
    assert "reference" not in nas.ARCHS.entry("mobilenet_v1").meta


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "efficientnet_b0", "efficientnet_b7"])
def test_json_round_trip(name: str) -> None:
    g = nas.resolve(name)
    assert nas.from_json(g.to_json()) == g


def test_make_divisible_matches_torchvision() -> None:
    for v in [x * 0.05 for x in range(1, 4000)]:
        assert make_divisible(v, 8) == _make_divisible(v, 8)


@pytest.mark.parametrize("variant", list(EFFICIENTNET))
def test_compound_scaling_rows_match_torchvision(variant: str) -> None:
    s = EFFICIENTNET[variant]
    ref, _ = tv_effnet._efficientnet_conf(
        f"efficientnet_{variant}", width_mult=s.width_mult, depth_mult=s.depth_mult
    )
    ours = compound_scale(EFFICIENTNET_B0, s.width_mult, s.depth_mult)
    assert [
        (c.expand_ratio, c.kernel, c.stride, c.input_channels, c.out_channels, c.num_layers) for c in ref
    ] == [tuple(r) for r in ours]


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b3", "efficientnet_b7"])
def test_stochastic_depth_schedule(name: str) -> None:
    """Only MBConv blocks are cells, so the linear schedule gives torchvision's sd_prob per block."""
    with torch.device("meta"):
        ref = getattr(torchvision.models, name)(weights=None)
        ours = nas.build(name, input_size=32)
    ours.train()
    want = [m.p for m in ref.modules() if isinstance(m, StochasticDepth)]
    got = [c.drop_path_rate for stage in ours.stages for c in stage]
    assert got == want
    assert len(got) == ours.genotype.num_cells


def test_training_forward_matches_with_same_seed() -> None:
    """Training mode: stochastic depth and dropout draw the same random numbers in the same order,
    so outputs and BN running statistics agree exactly."""
    ref = torchvision.models.efficientnet_b0(weights=None)
    ours = nas.build("efficientnet_b0", input_size=SIZE)
    nas.transfer(ref, ours)
    ref.train()
    ours.train()
    x = torch.randn(4, 3, SIZE, SIZE)
    torch.manual_seed(1)
    a = ref(x)
    torch.manual_seed(1)
    b = ours(x)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5
    ref_bn = [m for m in ref.modules() if isinstance(m, nn.BatchNorm2d)]
    our_bn = [m for m in ours.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(ref_bn) == len(our_bn)
    for r, o in zip(ref_bn, our_bn):
        torch.testing.assert_close(o.running_mean, r.running_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(o.running_var, r.running_var, rtol=1e-5, atol=1e-6)
    # With the head's dropout off, only stochastic depth is random: another seed changes the output.
    ours.head.eval()
    torch.manual_seed(2)
    assert not torch.allclose(ours(x), b)


@pytest.mark.parametrize("width", [0.5, 1.4])
def test_mobilenet_v2_width_mult(width: float) -> None:
    ref = torchvision.models.mobilenet_v2(weights=None, width_mult=width)
    ours = nas.build(mobilenet_v2(width), input_size=32)
    assert n_params(ours) == n_params(ref)
    nas.transfer(ref, ours)


def test_mobilenet_v1_paper() -> None:
    """Howard et al. 2017: 4.2M parameters (4,231,976 with a 1000-way FC), 28 layers counting
    depthwise and pointwise convs separately."""
    m = nas.build("mobilenet_v1", input_size=32)
    assert n_params(m) == 4_231_976
    assert m.depth == 28
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 1000)
    convs = [x for x in m.modules() if isinstance(x, nn.Conv2d)]
    assert sum(c.groups > 1 for c in convs) == 13
    half = nas.build(mobilenet_v1(0.5), input_size=32)
    assert n_params(half) < n_params(m) / 2
