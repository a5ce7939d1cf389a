"""MobileNetV3 small / large, MNASNet 0.5…1.3 and EfficientNetV2 S/M/L: exact against torchvision
(parameters, per-image MACs, layer hyperparameters, outputs after ``nas.transfer``), depth by the
conv + FC convention, listed by ``nas zoo list``."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from test_zoo_mobile import check_exact
from torch import nn
from torchvision.ops import SqueezeExcitation, StochasticDepth

import nas
from nas.cli import main
from nas.tools.describe import describe
from nas.weights.reference import compare
from search_spaces.zoo.mobilenet_v3 import MOBILENET_V3

FAST = ["mobilenet_v3_small", "mobilenet_v3_large", "mnasnet0_5"]
SLOW = [
    "mnasnet0_75",
    "mnasnet1_0",
    "mnasnet1_3",
    "efficientnet_v2_s",
    "efficientnet_v2_m",
    "efficientnet_v2_l",
]
NAMES = [*FAST, *(pytest.param(n, marks=pytest.mark.slow) for n in SLOW)]
SIZE = 32  # the smallest input every one of them takes (five stride-2 steps)


@pytest.mark.parametrize("name", NAMES)
def test_params_macs_outputs_equal_torchvision(name: str) -> None:
    r = compare(name, SIZE)
    assert r["reference"] == f"torchvision.models.{name}"
    assert r["params"] == r["reference_params"]
    assert r["macs"] == r["reference_macs"] > 0
    assert r["max_rel_diff"] < 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_layer_hyperparameters_equal_torchvision(name: str) -> None:
    """Strides, padding, groups, BN ε and momentum layer by layer (transfer only checks shapes)."""
    check_exact(name, SIZE)


def reference_depth(m: nn.Module) -> int:
    """Conv and FC layers of torchvision's module outside squeeze-excitation gates: these nets are
    chains apart from the gates and identity residuals, so this is the longest path's count."""
    gated = {id(x) for se in m.modules() if isinstance(se, SqueezeExcitation) for x in se.modules()}
    return sum(isinstance(x, nn.Conv2d | nn.Linear) and id(x) not in gated for x in m.modules())


@pytest.mark.parametrize("name", NAMES)
def test_describe_depth(name: str) -> None:
    with torch.device("meta"):
        want = reference_depth(getattr(torchvision.models, name)(weights=None))
    assert describe(name, input_size=SIZE)["depth"] == want


def test_depth_figures() -> None:
    """The counts themselves: V3-large 1 + 2 + 14·3 + 1 + 2; MNASNet 1 + 2 + 16·3 + 1 + 1."""
    assert describe("mobilenet_v3_large", input_size=SIZE)["depth"] == 48
    assert describe("mobilenet_v3_small", input_size=SIZE)["depth"] == 36
    assert describe("mnasnet1_0", input_size=SIZE)["depth"] == 53


def test_v3_blocks_are_cells_of_primitives() -> None:
    """One cell per bottleneck row (equal rows share a stage), each a graph of primitive ops with
    the row's activation, SE (ReLU, hardsigmoid gate) and no stochastic depth."""
    for variant, (rows, _) in MOBILENET_V3.items():
        g = nas.resolve(f"mobilenet_v3_{variant}")
        cells = [s.cell for s in g.stages for _ in range(s.repeats)]
        assert len(cells) == len(rows)
        for cell, row in zip(cells, rows):
            ops = {n.name: n.op for n in cell.nodes}
            assert ops["dw_act"] == {"RE": "relu", "HS": "hardswish"}[row.act]
            assert ("se_gate" in ops) == row.se
            if row.se:
                assert (ops["se_act"], ops["se_gate"]) == ("relu", "hardsigmoid")
            assert ("expand_conv" in ops) == (row.expanded != row.cin)
            assert not any(n.drop_path for n in cell.nodes)
        assert g.drop_path == 0


def test_v3_training_forward_matches_with_same_seed() -> None:
    """Train mode (batch statistics, BN momentum 0.01, dropout in the head): same numbers."""
    ref = torchvision.models.mobilenet_v3_small(weights=None)
    ours = nas.build("mobilenet_v3_small", input_size=SIZE)
    nas.transfer(ref, ours)
    x = torch.randn(4, 3, SIZE, SIZE)
    torch.manual_seed(1)
    a = ref.train()(x)
    torch.manual_seed(1)
    b = ours.train()(x)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5
    ref_bn = [m for m in ref.modules() if isinstance(m, nn.BatchNorm2d)]
    our_bn = [m for m in ours.modules() if isinstance(m, nn.BatchNorm2d)]
    for r, o in zip(ref_bn, our_bn, strict=True):
        torch.testing.assert_close(o.running_var, r.running_var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["efficientnet_v2_s", "efficientnet_v2_m"])
def test_v2_stochastic_depth_schedule(name: str) -> None:
    """Only (Fused-)MBConv blocks are cells: the linear schedule gives torchvision's sd_prob."""
    with torch.device("meta"):
        ref = getattr(torchvision.models, name)(weights=None)
        ours = nas.build(name, input_size=SIZE)
    ours.train()
    want = [m.p for m in ref.modules() if isinstance(m, StochasticDepth)]
    assert [c.drop_path_rate for stage in ours.stages for c in stage] == want


def test_v2_fused_stages() -> None:
    g = nas.resolve("efficientnet_v2_s")
    kinds = [("dw_conv" in {n.name for n in s.cell.nodes}, s.cell.name) for s in g.stages]
    assert [k for k, _ in kinds] == [False, False, False, True, True, True]
    first = g.stages[0].cell  # expansion 1: one 3×3 conv-BN-SiLU, no projection
    assert [n.op for n in first.nodes] == ["conv", "bn", "silu", "skip", "identity"]
    assert g.input_size == (3, 384, 384)
    assert nas.resolve("efficientnet_v2_l").input_size == (3, 480, 480)


def test_zoo_list_shows_the_new_names(capsys) -> None:
    assert main(["zoo", "list"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    families = {"mobilenet_v3": "mobilenet", "mnasnet": "mnasnet", "efficientnet_v2": "efficientnet"}
    for name in [*FAST, *SLOW]:
        family = next(f for p, f in families.items() if name.startswith(p))
        assert rows[name] == [family, f"torchvision.models.{name}"]


def test_zoo_check_cli(capsys) -> None:
    assert main(["zoo", "check", "mobilenet_v3_small"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["match"] and r["input_size"] == [3, SIZE, SIZE]
