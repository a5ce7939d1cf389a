"""Historical conv nets (LeNet-5, AlexNet 2012, ZFNet, VGG A-LRN / C, Network-in-Network) and the
common CIFAR VGGs. No torchvision reference: parameter counts are checked against the published
ones, outputs against independent ``nn.Sequential`` re-implementations (see the tests).

Plain nets are layer tables (data): each conv or pool row is one cell (stride = the stage's), and
``("lrn",)`` / ``("dropout", p)`` rows extend the cell before them. The first row is the stem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from cells import CellWriter
from nas.core.genotype import Cell, Network, Node, Stage, chain
from nas.core.registry import register_arch
from search_spaces.zoo.classic import vgg
from search_spaces.zoo.common import classifier, conv_cell, plain_stages, pool_cell

# Krizhevsky et al. 2012 local response normalisation, in PyTorch's convention
# b = a / (k + alpha/size · Σ a²)^beta (as Caffe and cuda-convnet; the paper writes the sum without /size).
LRN = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}

# Rows: ("conv", width, kernel, stride, padding[, groups]) | ("maxpool"|"avgpool", kernel, stride[, ceil])
# | ("lrn",) | ("dropout", p).
Row = tuple
LENET5: list[Row] = [("conv", 6, 5, 1, 0), ("avgpool", 2, 2), ("conv", 16, 5, 1, 0), ("avgpool", 2, 2)]
# Two-tower AlexNet: conv2/4/5 see only their own GPU's half of the input channels (groups=2).
ALEXNET2012: list[Row] = [
    ("conv", 96, 11, 4, 0), ("lrn",), ("maxpool", 3, 2),
    ("conv", 256, 5, 1, 2, 2), ("lrn",), ("maxpool", 3, 2),
    ("conv", 384, 3, 1, 1), ("conv", 384, 3, 1, 1, 2), ("conv", 256, 3, 1, 1, 2), ("maxpool", 3, 2),
]  # fmt: skip
# Zeiler & Fergus 2013, Fig. 3: 224 → 110 → 55 → 26 → 13 → 13 → 13 → 6 (pools round up, as Caffe).
ZFNET: list[Row] = [
    ("conv", 96, 7, 2, 1), ("maxpool", 3, 2, True), ("lrn",),
    ("conv", 256, 5, 2, 0), ("maxpool", 3, 2, True), ("lrn",),
    ("conv", 384, 3, 1, 1), ("conv", 384, 3, 1, 1), ("conv", 256, 3, 1, 1), ("maxpool", 3, 2, True),
]  # fmt: skip


def extend(cell: Cell, op: str, **attrs: Any) -> Cell:
    """``cell`` followed by one more node ``op`` (the new output)."""
    taken = {n.name for n in cell.nodes}
    name, i = op, 1
    while name in taken:
        name, i = f"{op}{i}", i + 1
    node = Node(name, op, (cell.output,), attrs=attrs)
    return Cell(f"{cell.name}_{op}", (*cell.nodes, node), name, cell.inputs)


def absolute(cell: Cell, name: str, width: int | None, stride: int) -> Cell:
    """A stage cell made standalone (a stem): ``"C"`` → ``width``, stride ``"cell"`` → ``stride``."""
    nodes = tuple(
        replace(
            n,
            channels=width if n.channels == "C" else n.channels,
            stride=stride if n.stride == "cell" else n.stride,
        )
        for n in cell.nodes
    )
    return Cell(name, nodes, cell.output, cell.inputs)


def layer_table(name: str, rows: Sequence[Row], act: str = "relu") -> tuple[Cell, tuple[Stage, ...]]:
    """Layer rows → (stem, stages); equal consecutive stride-1 layers become one stage's repeats."""
    layers: list[list[Any]] = []  # [cell, width, stride]
    for row in rows:
        kind, *args = row
        if kind == "conv":
            width, k, s, p, *g = args
            layers.append([conv_cell(k, padding=p, act=act, groups=g[0] if g else 1), width, s])
        elif kind in ("maxpool", "avgpool"):
            k, s, *ceil = args
            layers.append([pool_cell(kind, k, ceil_mode=bool(ceil and ceil[0])), None, s])
        elif kind == "lrn":
            layers[-1][0] = extend(layers[-1][0], "lrn", **LRN)
        elif kind == "dropout":
            layers[-1][0] = extend(layers[-1][0], "dropout", p=args[0])
        else:
            raise ValueError(f"{name}: unknown layer row {row!r}")
    (cell, width, stride), *rest = layers
    stem = absolute(cell, f"{name}_stem", width, stride)
    stages: list[Stage] = []
    for cell, width, stride in rest:
        last = stages[-1] if stages else None
        if last and stride == 1 and last.cell == cell and last.width == width:
            stages[-1] = Stage(cell, last.repeats + 1, width, last.stride)
        else:
            stages.append(Stage(cell, 1, width, stride))
    return stem, tuple(stages)


def mlp_head(hidden: Sequence[int], act: str, name: str = "head") -> Cell:
    """flatten → [Linear-act]* → Linear(K), no pooling (the input size is fixed)."""
    w = CellWriter()
    x = w.add("flatten", "flatten", "x")
    for i, h in enumerate(hidden):
        x = w.add(f"fc{i}", "linear", x, channels=h)
        x = w.add(f"{act}{i}", act, x)
    x = w.add(f"fc{len(hidden)}", "linear", x, channels="K")
    return w.cell(name, x)


def lenet5() -> Network:
    """LeCun et al. 1998 LeNet-5 on 32×32×1: tanh, 2×2 average pooling, C3 fully connected to S2,
    and a linear output layer instead of the RBF units: 61,706 parameters."""
    stem, stages = layer_table("lenet5", LENET5, act="tanh")
    return Network("lenet5", stem, stages, mlp_head((120, 84), "tanh"), (1, 32, 32), 10)


def alexnet2012() -> Network:
    """Krizhevsky et al. 2012 AlexNet at 227 px: 96 11×11/4 filters, LRN after conv1/conv2, two-group
    conv2/4/5 (the two GPUs), dropout after fc6/fc7: 60,965,224 parameters (Caffe's bvlc_alexnet count).
    The LRN spans all 96/256 channels, where each GPU normalised only its own half."""
    stem, stages = layer_table("alexnet2012", ALEXNET2012)
    head = classifier(pool=6, hidden=(4096, 4096), dropout=0.5)
    return Network("alexnet2012", stem, stages, head, (3, 227, 227), 1000)


def zfnet() -> Network:
    """Zeiler & Fergus 2013 (Fig. 3): 96 7×7/2 filters, 3×3/2 max-pool then contrast normalisation
    (AlexNet's LRN) after layers 1-2, dense conv3-5 (384, 384, 256), two 4096 FC: 62,357,608 params."""
    stem, stages = layer_table("zfnet", ZFNET)
    head = classifier(pool=6, hidden=(4096, 4096), dropout=0.5)
    return Network("zfnet", stem, stages, head, (3, 224, 224), 1000)


register_arch("lenet5", family="lenet", test_size=32)(lenet5)
register_arch("alexnet2012", family="alexnet", test_size=67)(alexnet2012)
register_arch("zfnet", family="alexnet", test_size=47)(zfnet)

# VGG configuration C (Simonyan & Zisserman 2015, Table 1): D with the last conv of stages 3-5 as 1×1;
# (width, kernel) rows are 1×1 convs. Its first row is the stem.
VGG_C: list[int | str | tuple[int, int]] = [
    64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M",
]  # fmt: skip


def vgg_stages(rows: Sequence[int | str | tuple[int, int]]) -> tuple[Stage, ...]:
    """:func:`plain_stages` with ``(width, kernel)`` rows for non-3×3 convs."""
    stages: list[Stage] = []
    for row in rows:
        if isinstance(row, tuple):
            width, k = row
            stages.append(Stage(conv_cell(k, padding=(k - 1) // 2), 1, width, 1))
        else:
            new = plain_stages([row])[0]
            last = stages[-1] if stages else None
            if last and new.stride == 1 and last.cell == new.cell and last.width == new.width:
                stages[-1] = Stage(new.cell, last.repeats + 1, new.width, 1)
            else:
                stages.append(new)
    return tuple(stages)


def vgg11_lrn() -> Network:
    """VGG configuration A-LRN: VGG-11 with an LRN (AlexNet's) after the first conv's ReLU (133M)."""
    net = vgg("A", batch_norm=False)
    stem = extend(net.stem, "lrn", **LRN)
    return net.replace(name="vgg11_lrn", stem=replace(stem, name="vgg_stem_lrn"))


def vgg16_c() -> Network:
    """VGG configuration C: 16 weight layers, three of them 1×1 convs; torchvision-style head (134M)."""
    net = vgg("D", batch_norm=False)
    return net.replace(name="vgg16_c", stages=vgg_stages(VGG_C[1:]))


register_arch("vgg11_lrn", family="vgg", test_size=32)(vgg11_lrn)
register_arch("vgg16_c", family="vgg", test_size=32)(vgg16_c)


def vgg_cifar(cfg: str, name: str) -> Network:
    """The common CIFAR VGG: torchvision's config with BN (conv biases kept), five 2×2 max-pools take
    32 px to 1×1, no 7×7 pool and a single Linear(512, K) (the global pool is a no-op at 32 px)."""
    net = vgg(cfg, batch_norm=True)
    return net.replace(name=name, head=classifier(), input_size=(3, 32, 32), num_classes=10)


for _cfg, _name in (("A", "vgg11_cifar"), ("D", "vgg16_cifar")):
    register_arch(_name, family="cifar_vgg", test_size=32)(partial(vgg_cifar, _cfg, _name))

# Network in Network, CIFAR-10 model of Lin et al. 2014 (the Caffe model-zoo prototxt): mlpconv blocks
# (k×k conv, two 1×1 convs, each + ReLU) with max/avg 3×3/2 pools (rounding up) and dropout between;
# the last 1×1 conv has K channels and global average pooling gives the logits.
NIN_BLOCKS: list[tuple[int, tuple[int | str, int | str, int | str]]] = [
    (5, (192, 160, 96)),
    (5, (192, 192, 192)),
    (3, (192, 192, "K")),
]
NIN_POOLS = ["maxpool", "avgpool"]


def mlpconv(name: str, kernel: int, channels: Sequence[int | str]) -> Cell:
    """NIN mlpconv block: ``kernel``×``kernel`` conv then 1×1 convs ("cccp"), each followed by ReLU."""
    w = CellWriter()
    x = "x"
    for i, c in enumerate(channels):
        x = w.add(f"conv{i}", "conv", x, channels=c, kernel=kernel if i == 0 else 1, bias=True)
        x = w.add(f"relu{i}", "relu", x)
    return w.cell(name, x)


def nin(dropout: float = 0.5) -> Network:
    """Network in Network (CIFAR-10): three mlpconv blocks, global average pool: 966,986 parameters."""
    (k0, c0), *blocks = NIN_BLOCKS
    stem = mlpconv("nin_stem", k0, c0)
    stages = []
    for i, ((k, c), pool) in enumerate(zip(blocks, NIN_POOLS)):
        stages.append(Stage(extend(pool_cell(pool, 3, ceil_mode=True), "dropout", p=dropout), 1, None, 2))
        stages.append(Stage(mlpconv(f"mlpconv{i + 1}", k, c), 1, None, 1))
    head = chain("gap_head", [("adaptive_avgpool", {"size": 1}), ("flatten",)])
    return Network("nin", stem, tuple(stages), head, (3, 32, 32), 10)


register_arch("nin", family="nin", test_size=32)(nin)
