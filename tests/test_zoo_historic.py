"""Historical nets and CIFAR VGGs: published parameter counts, depth, and outputs equal to independent
``nn.Sequential`` re-implementations after ``nas.transfer``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.vgg import VGG, cfgs, make_layers

import nas

# name → (exact parameter count, published figure it must round to, weighted-layer depth)
COUNTS = {
    "lenet5": (61_706, 61_706, 5),  # LeCun et al. 1998 with a linear output layer
    "alexnet2012": (60_965_224, 60_965_224, 8),  # Caffe bvlc_alexnet; "60 million" in the paper
    "zfnet": (62_357_608, 62.4e6, 8),
    "vgg11_lrn": (132_863_336, 133e6, 11),  # Simonyan & Zisserman Table 2: A-LRN 133M
    "vgg16_c": (133_638_952, 134e6, 16),  # Table 2: C 134M
    "vgg11_cifar": (9_231_114, 9.2e6, 9),
    "vgg16_cifar": (14_728_266, 14.7e6, 14),
    "nin": (966_986, 0.97e6, 9),  # Lin et al. 2014 CIFAR-10 model
}


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def lrn() -> nn.Module:
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)


def ref_lenet5() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )


def fc_head(c: int, spatial: int) -> list[nn.Module]:
    return [
        nn.AdaptiveAvgPool2d(spatial),
        nn.Flatten(),
        nn.Linear(c * spatial * spatial, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, 1000),
    ]


def ref_alexnet2012() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4),
        nn.ReLU(),
        lrn(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2),
        nn.ReLU(),
        lrn(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        *fc_head(256, 6),
    )


def ref_zfnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 96, 7, stride=2, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        lrn(),
        nn.Conv2d(96, 256, 5, stride=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        lrn(),
        nn.Conv2d(256, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        *fc_head(256, 6),
    )


def ref_vgg11_lrn() -> nn.Module:
    f = make_layers(cfgs["A"])
    return VGG(nn.Sequential(*f[:2], lrn(), *f[2:]))


def ref_vgg16_c() -> nn.Module:
    layers: list[nn.Module] = []
    c = 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, "1", "M", 512, 512, "1", "M", 512, 512, "1", "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        elif v == "1":
            layers += [nn.Conv2d(c, c, 1), nn.ReLU()]
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return VGG(nn.Sequential(*layers))


def ref_vgg_cifar(cfg: str) -> Callable[[], nn.Module]:
    return lambda: nn.Sequential(make_layers(cfgs[cfg], batch_norm=True), nn.Flatten(), nn.Linear(512, 10))


def ref_nin() -> nn.Module:
    def mlpconv(c_in: int, k: int, cs: tuple[int, int, int]) -> list[nn.Module]:
        out: list[nn.Module] = []
        for i, c in enumerate(cs):
            out += [nn.Conv2d(c_in, c, k if i == 0 else 1, padding=(k - 1) // 2 if i == 0 else 0), nn.ReLU()]
            c_in = c
        return out

    return nn.Sequential(
        *mlpconv(3, 5, (192, 160, 96)),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Dropout(),
        *mlpconv(96, 5, (192, 192, 192)),
        nn.AvgPool2d(3, 2, ceil_mode=True),
        nn.Dropout(),
        *mlpconv(192, 3, (192, 192, 10)),
        nn.AvgPool2d(8),
        nn.Flatten(),
    )


REFS: dict[str, Callable[[], nn.Module]] = {
    "lenet5": ref_lenet5,
    "alexnet2012": ref_alexnet2012,
    "zfnet": ref_zfnet,
    "vgg11_lrn": ref_vgg11_lrn,
    "vgg16_c": ref_vgg16_c,
    "vgg11_cifar": ref_vgg_cifar("A"),
    "vgg16_cifar": ref_vgg_cifar("D"),
    "nin": ref_nin,
}
FAST = ["lenet5", "nin", "vgg11_cifar", "vgg16_cifar", "zfnet", "alexnet2012"]
SLOW = ["vgg11_lrn", "vgg16_c"]  # two copies of ~130M parameters: slow to initialise on a busy CPU


@pytest.mark.parametrize("name", list(COUNTS))
def test_param_counts_and_depth(name: str) -> None:
    exact, published, depth = COUNTS[name]
    with torch.device("meta"):
        ours = nas.build(name)
        ref = REFS[name]()
    assert n_params(ours) == exact == n_params(ref)
    assert abs(exact - published) <= 0.0051 * published  # agrees with the published (rounded) figure
    assert ours.depth == depth


def test_known_relations() -> None:
    with torch.device("meta"):
        counts = {n: n_params(nas.build(n)) for n in ("vgg11_lrn", "vgg16_c")}
        assert counts["vgg11_lrn"] == n_params(torchvision.models.vgg11())  # LRN has no weights
        # C = D with three 3×3 convs replaced by 1×1: 256² · 8 + 2 · 512² · 8 fewer weights
        assert counts["vgg16_c"] == n_params(torchvision.models.vgg16()) - 8 * (256**2 + 2 * 512**2)


def check_outputs(name: str) -> None:
    torch.manual_seed(0)
    g = nas.ARCHS[name]()
    size = nas.ARCHS.entry(name).meta["test_size"]
    ref, ours = REFS[name](), nas.build(g, input_size=size)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # non-trivial BN statistics
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0, 0.1, generator=gen)
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    assert nas.transfer(ref, ours) > 0
    ref.eval(), ours.eval()
    x = torch.randn(2, g.input_size[0], size, size, generator=gen)
    with torch.no_grad():
        a, b = ref(x), ours(x)
    assert a.shape == b.shape == (2, g.num_classes)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5


@pytest.mark.parametrize("name", FAST)
def test_outputs_match_reference(name: str) -> None:
    check_outputs(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_outputs_match_reference_slow(name: str) -> None:
    check_outputs(name)


@pytest.mark.parametrize("name", list(COUNTS))
def test_json_round_trip_and_native_size(name: str) -> None:
    g = nas.ARCHS[name]()
    assert nas.from_json(g.to_json()) == g
    with torch.device("meta"):  # the native input size runs (shapes only)
        out = nas.build(g).eval()(torch.empty(1, *g.input_size))
    assert out.shape == (1, g.num_classes)


def test_historic_details() -> None:
    with torch.device("meta"):
        alex = nas.build("alexnet2012")
        zf = nas.build("zfnet")
        lenet = nas.build("lenet5")
    convs = [m for m in alex.modules() if isinstance(m, nn.Conv2d)]
    assert [m.groups for m in convs] == [1, 2, 1, 2, 2]
    assert (convs[0].out_channels, convs[0].kernel_size, convs[0].stride) == (96, (11, 11), (4, 4))
    lrns = [m for m in alex.modules() if isinstance(m, nn.LocalResponseNorm)]
    assert [(m.size, m.alpha, m.beta, m.k) for m in lrns] == [(5, 1e-4, 0.75, 2.0)] * 2
    assert nas.ARCHS["alexnet2012"]().input_size == (3, 227, 227)
    z0 = next(m for m in zf.modules() if isinstance(m, nn.Conv2d))
    assert (z0.out_channels, z0.kernel_size, z0.stride) == (96, (7, 7), (2, 2))
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in zf.modules()) == 2
    assert sum(isinstance(m, nn.Tanh) for m in lenet.modules()) == 4
    assert sum(isinstance(m, nn.AvgPool2d) for m in lenet.modules()) == 2
    assert nas.ARCHS["lenet5"]().input_size == (1, 32, 32)
    nin = nas.ARCHS["nin"]()
    assert nas.build(nin, num_classes=100, input_size=32).genotype.num_classes == 100  # last 1×1 has K maps
