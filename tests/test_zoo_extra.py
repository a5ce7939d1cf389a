"""Pre-activation ResNets, SE-ResNet-50 and Xception: parameter counts from the papers, and outputs
equal (after transfer) to independent reference modules written here in plain PyTorch."""

from __future__ import annotations

import pytest
import torch
from shared_data import randomize_bn
from torch import nn

import nas

# ---------------------------------------------------------------------------------------------------
# Independent references (plain nn.Modules, not genotypes)


class PreActBasic(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int, stride_at: str = "3x3") -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = (
            nn.Conv2d(cin, planes, 1, stride, bias=False) if stride != 1 or cin != planes else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        return y + self.shortcut(x)


class PreActBottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, stride_at: str = "3x3") -> None:
        super().__init__()
        s1, s2 = (stride, 1) if stride_at == "1x1" else (1, stride)
        out = planes * 4
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, planes, 1, s1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, s2, 1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(planes), nn.Conv2d(planes, out, 1, bias=False)
        self.shortcut = (
            nn.Conv2d(cin, out, 1, stride, bias=False) if stride != 1 or cin != out else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + self.shortcut(x)


class PreActResNet(nn.Module):
    def __init__(self, block: type, depths: list[int], cifar: bool, stride_at: str = "3x3") -> None:
        super().__init__()
        if cifar:
            self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            c, planes, classes = 16, [16, 32, 64], 10
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.MaxPool2d(3, 2, 1))
            c, planes, classes = 64, [64, 128, 256, 512], 1000
        layers = []
        for i, (n, p) in enumerate(zip(depths, planes)):
            for j in range(n):
                layers.append(block(c, p, 2 if i and not j else 1, stride_at))
                c = p * block.expansion
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.layers(self.stem(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class SEModule(nn.Module):
    def __init__(self, c: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, c // reduction, 1), nn.Conv2d(c // reduction, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.fc2(torch.relu(self.fc1(nn.functional.adaptive_avg_pool2d(x, 1))))
        return x * torch.sigmoid(g)


class SEBottleneck(nn.Module):
    """Hu et al.'s released SE-ResNet bottleneck (stride on conv1; downsample before the SE module)."""

    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        out = planes * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
        self.se = SEModule(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.relu(self.se(y) + residual)


class SEResNet50(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer0 = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
        )
        blocks, c = [], 64
        for i, n in enumerate([3, 4, 6, 3]):
            for j in range(n):
                blocks.append(SEBottleneck(c, 64 * 2**i, 2 if i and not j else 1))
                c = 256 * 2**i
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.layer0(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def sep_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False)
    )


class XceptionBlock(nn.Module):
    """Chollet's block as in Cadene's ``pretrainedmodels`` port of the Keras model."""

    def __init__(
        self, cin: int, cout: int, reps: int, stride: int, start_relu: bool, grow_first: bool
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = cin
        for i in range(reps):
            target = cout if grow_first or i == reps - 1 else c
            layers += [nn.ReLU(), sep_conv(c, target), nn.BatchNorm2d(target)]
            c = target
        if not start_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)
        self.skip = None
        if cout != cin or stride != 1:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rep(x) + (x if self.skip is None else self.skip(x))


class Xception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 0, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(
            XceptionBlock(64, 128, 2, 2, False, True),
            XceptionBlock(128, 256, 2, 2, True, True),
            XceptionBlock(256, 728, 2, 2, True, True),
            *(XceptionBlock(728, 728, 3, 1, True, True) for _ in range(8)),
            XceptionBlock(728, 1024, 2, 2, True, False),
        )
        self.tail = nn.Sequential(
            sep_conv(1024, 1536), nn.BatchNorm2d(1536), nn.ReLU(), sep_conv(1536, 2048), nn.BatchNorm2d(2048)
        )
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.tail(self.blocks(self.stem(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


REFERENCES = {
    "preact_resnet18": lambda: PreActResNet(PreActBasic, [2, 2, 2, 2], cifar=False),
    "preact_resnet50": lambda: PreActResNet(PreActBottleneck, [3, 4, 6, 3], cifar=False),
    "preact_resnet110": lambda: PreActResNet(PreActBasic, [18, 18, 18], cifar=True),
    "preact_resnet164": lambda: PreActResNet(PreActBottleneck, [18, 18, 18], cifar=True, stride_at="1x1"),
    "se_resnet50": SEResNet50,
    "xception": Xception,
}

# ---------------------------------------------------------------------------------------------------


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("se_resnet50", 28_088_024),  # Hu et al.; the released model (ResNet-50's 25,557,032 + SE)
        ("xception", 22_855_952),  # Chollet; Keras' trainable parameters at 1000 classes
        ("preact_resnet50", 25_549_352),
        ("preact_resnet18", 11_687_720),
    ],
)
def test_param_counts(name: str, params: int) -> None:
    with torch.device("meta"):
        assert n_params(nas.build(name)) == params


@pytest.mark.parametrize(("name", "millions"), [("preact_resnet110", 1.7), ("preact_resnet164", 1.7)])
def test_cifar_param_counts_match_paper(name: str, millions: float) -> None:
    """He et al. 2016 ("Identity mappings"), Tables 2–3: 1.7M parameters each."""
    assert round(n_params(nas.build(name)) / 1e6, 1) == millions


@pytest.mark.parametrize("name", list(REFERENCES))
def test_outputs_equal_independent_reference(name: str) -> None:
    size = nas.ARCHS.entry(name).meta["test_size"]
    torch.manual_seed(0)
    ref = REFERENCES[name]()
    randomize_bn(ref)
    ours = nas.build(name, input_size=size)
    assert n_params(ours) == n_params(ref)
    nas.transfer(ref, ours)
    ref.eval(), ours.eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        a, b = ref(x), ours(x)
    assert a.shape == b.shape == (2, ours.num_classes)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5


def test_se_block_structure() -> None:
    """The SE gate follows the bottleneck's last BN and precedes the residual add."""
    cell = nas.resolve("se_resnet50").stages[0].cell
    ops = [n.op for n in cell.nodes]
    assert ops.index("adaptive_avgpool") > max(i for i, op in enumerate(ops) if op == "bn")
    scale = cell.node("se_scale")
    assert scale.combine == "mul" and set(scale.inputs) == {"c3_bn", "se_gate"}
    assert cell.node("relu").inputs == ("se_scale", "shortcut")
    assert [cell.node(n).op for n in ("se_fc1", "se_act", "se_fc2", "se_gate")] == [
        "conv",
        "relu",
        "conv",
        "sigmoid",
    ]


def test_xception_at_native_size_and_separable_convs() -> None:
    with torch.device("meta"):
        model = nas.build("xception")
        out = model(torch.empty(1, 3, 299, 299))
    assert out.shape == (1, 1000)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    depthwise = [m for m in convs if m.groups > 1]
    assert len(depthwise) == 34 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert sum(m.kernel_size == (1, 1) and m.stride == (2, 2) for m in convs) == 4  # residual projections


def test_forward_backward_small() -> None:
    model = nas.build("se_resnet50", input_size=32)
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
