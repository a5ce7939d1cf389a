"""describe: the per-layer table and totals, checked against torchvision's models."""

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import nas
from nas.tools.describe import describe, render


def _reference_macs(model: torch.nn.Module, size: int) -> int:
    with FlopCounterMode(display=False) as fc:
        model.eval()(torch.randn(1, 3, size, size))
    return fc.get_total_flops() // 2


def test_alexnet_totals_equal_torchvision():
    d = describe("alexnet", input_size=227)
    assert d["params"] == 61_100_840
    assert d["macs"] == _reference_macs(torchvision.models.alexnet(), 227)
    assert d["depth"] == 8
    convs = [layer for layer in d["layers"] if layer["type"] == "Conv2d"]
    first = convs[0]
    assert (first["in_channels"], first["in_hw"], first["filters"], first["kernel"], first["stride"]) == (
        3,
        "227x227",
        64,
        "11",
        "4",
    )
    assert (first["padding"], first["out_channels"], first["out_hw"]) == ("2", 64, "56x56")
    assert first["params"] == 64 * 3 * 11 * 11 + 64
    assert first["macs"] == 64 * 3 * 11 * 11 * 56 * 56
    assert first["activation_kb"] == 64 * 56 * 56 * 4 / 1024
    assert sum(layer["params"] for layer in d["layers"]) == d["params"]
    assert sum(layer["macs"] for layer in d["layers"]) == d["macs"]
    assert d["activation_bytes"] == pytest.approx(
        sum(layer["activation_kb"] for layer in d["layers"]) * 1024, abs=1
    )


@pytest.mark.parametrize(
    ("name", "depth"),
    [
        ("vgg16", 16),
        ("vgg19_bn", 19),
        ("resnet18", 18),
        ("resnet50", 50),
        ("resnet152", 152),
        ("resnet20", 20),
        ("resnet110", 110),
    ],
)
def test_depth_convention(name, depth):
    assert describe(name)["depth"] == depth


def test_resnet50_macs_equal_torchvision():
    assert describe("resnet50", input_size=64)["macs"] == _reference_macs(torchvision.models.resnet50(), 64)


def test_describe_built_model_and_json_keys():
    model = nas.build("resnet20")
    d = describe(model)
    assert set(d) >= {"params", "macs", "depth", "activation_bytes", "layers"}
    assert d["params"] == sum(p.numel() for p in model.parameters())
    assert {
        "type",
        "in_channels",
        "in_hw",
        "filters",
        "kernel",
        "stride",
        "padding",
        "out_channels",
        "out_hw",
        "activation_kb",
        "params",
        "macs",
    } <= set(d["layers"][0])
    assert render(d, "csv").splitlines()[0].startswith("name,type,in_channels")
    assert "params:" in render(d, "table")


def test_squeeze_excitation_gates_do_not_add_depth():
    # SE convs sit on a multiplicative gate branch; by convention SE-ResNet-50 stays "50".
    assert nas.describe("se_resnet50", input_size=32)["depth"] == 50
    assert nas.describe("resnet50", input_size=32)["depth"] == 50  # nas.describe stays callable
