"""DenseNet zoo entries: exact against torchvision (parameters, depth, outputs after transfer)."""

from __future__ import annotations

import pytest
import torch
import torchvision
from shared_data import randomize_bn
from torch import nn
from torchvision.models.densenet import _DenseBlock, _Transition

import nas

DEPTHS = {"densenet121": 121, "densenet161": 161, "densenet169": 169, "densenet201": 201}
FAST = ["densenet121", "densenet169"]
SLOW = ["densenet161", "densenet201"]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / a.abs().max()).item()


def check_outputs(ref: nn.Module, ours: nas.NetworkModule, size: int, seed: int = 0) -> None:
    assert nas.transfer(ref, ours) > 0
    ref.eval(), ours.eval()
    x = torch.randn(
        2, *ours.genotype.input_size[:1], size, size, generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        a, b = ref(x), ours(x)
    assert a.shape == b.shape
    assert rel_err(a, b) < 1e-5


@pytest.mark.parametrize("name", list(DEPTHS))
def test_params_and_depth(name: str) -> None:
    with torch.device("meta"):
        ref = getattr(torchvision.models, name)()
        ours = nas.build(name)
    assert n_params(ours) == n_params(ref)
    assert ours.depth == DEPTHS[name]
    assert not ref.features.denseblock1.denselayer1.memory_efficient  # torchvision's default


def _outputs(name: str) -> None:
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)()
    randomize_bn(ref)
    ours = nas.build(name, input_size=64)
    check_outputs(ref, ours, 64)


@pytest.mark.parametrize("name", FAST)
def test_outputs_match_torchvision(name: str) -> None:
    _outputs(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_outputs_match_torchvision_slow(name: str) -> None:
    _outputs(name)


def test_registry_metadata() -> None:
    for name in DEPTHS:
        meta = nas.ARCHS.entry(name).meta
        assert meta["family"] == "densenet" and meta["reference"] == name
        size = meta["test_size"]
        with torch.device("meta"):  # the smallest test size still runs (shapes only)
            ours = nas.build(name, input_size=size).eval()
            assert ours(torch.empty(1, 3, size, size)).shape == (1, 1000)


@pytest.mark.parametrize("name", [*DEPTHS, "densenet_bc"])
def test_json_round_trip(name: str) -> None:
    g = nas.ARCHS[name]()
    assert nas.from_json(g.to_json()) == g


class CifarDenseNetBC(nn.Module):
    """Independent reference for DenseNet-BC-100 (k=12) built from torchvision's private blocks."""

    def __init__(self, growth: int = 12, n: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        c = 2 * growth
        layers: list[nn.Module] = [nn.Conv2d(3, c, 3, padding=1, bias=False)]
        for i in range(3):
            layers.append(_DenseBlock(n, c, bn_size=4, growth_rate=growth, drop_rate=0.0))
            c += n * growth
            if i < 2:
                layers.append(_Transition(c, c // 2))
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def test_densenet_bc() -> None:
    g = nas.ARCHS["densenet_bc"]()
    assert g.input_size == (3, 32, 32) and g.num_classes == 10
    torch.manual_seed(0)
    ours = nas.build(g)
    # Huang et al. report 0.8M; the exact count with bias-free convs is 769,162.
    assert n_params(ours) == 769_162
    assert ours.depth == 100
    ref = CifarDenseNetBC()
    randomize_bn(ref)
    assert n_params(ref) == 769_162
    check_outputs(ref, ours, 32)
