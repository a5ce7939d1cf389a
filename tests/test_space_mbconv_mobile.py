"""The mbconv macro space extended with Fused-MBConv blocks, per-stage activations and MobileNetV3's SE
style: MobileNetV3, MNASNet and EfficientNetV2 are members of its layouts (encode/decode round-trip,
decoded members named after the zoo), B0 and MobileNet-v2 stay members of the default space."""

from __future__ import annotations

import random

import pytest
import torch

import nas
from cells.mobile_blocks import block_name, fused_mbconv, mobile_block
from search_spaces.macro.mbconv import LAYOUTS

MEMBERS = [(layout, name) for layout, names in LAYOUTS.items() for name in names]


@pytest.fixture(scope="module")
def spaces() -> dict:
    return {layout: nas.SPACES["mbconv"](layout=layout) for layout in LAYOUTS}


@pytest.mark.parametrize(("layout", "name"), MEMBERS)
def test_zoo_entries_round_trip(spaces, layout: str, name: str) -> None:
    g = nas.resolve(name)
    sp = spaces[layout]
    c = sp.encode(g)
    assert sp.decode(c) == g  # named after the zoo entry too
    assert sp.contains(g)


@pytest.mark.parametrize("name", ["efficientnet_b0", "mobilenet_v2"])
def test_default_space_members_unchanged(name: str) -> None:
    sp = nas.SPACES["mbconv"]()
    assert not any(k.endswith(("_block", "_act")) and k != "act" for k in sp.choices())
    assert sp.decode(sp.encode(nas.resolve(name))) == nas.resolve(name)


def test_layouts_are_not_interchangeable(spaces) -> None:
    v3 = nas.resolve("mobilenet_v3_large")
    assert not nas.SPACES["mbconv"]().contains(v3)  # 12 stages, BN ε 1e-3, hardsigmoid SE, MLP head
    assert not spaces["mobilenet_v3_small"].contains(v3)
    assert not spaces["efficientnet_v2_m"].contains(nas.resolve("efficientnet_v2_l"))  # dropout 0.3 ≠ 0.4
    with pytest.raises(ValueError, match="field 'layout' must be one of"):
        nas.SPACES["mbconv"](layout="mobilenet_v4")


def test_encodings_read_the_zoo_tables(spaces) -> None:
    c = spaces["mobilenet_v3_large"].encode(nas.resolve("mobilenet_v3_large"))
    n = 12  # stages: equal consecutive rows share one
    acts = [c[f"stage{i}_act"] for i in range(1, n + 1)]
    assert acts == ["relu"] * 5 + ["hardswish"] * 7 and c["act"] == "hardswish"
    assert [c[f"stage{i}_se"] for i in range(1, n + 1)] == [False] * 3 + [True] * 2 + [False] * 3 + [True] * 4
    assert c["stage7_expand"] == 2.5 and c["stage8_repeats"] == 2
    v2 = spaces["efficientnet_v2_s"].encode(nas.resolve("efficientnet_v2_s"))
    assert [v2[f"stage{i}_block"] for i in range(1, 7)] == ["fused"] * 3 + ["mbconv"] * 3
    assert [v2[f"stage{i}_repeats"] for i in range(1, 7)] == [2, 4, 4, 6, 9, 15]
    m = spaces["mnasnet"].encode(nas.resolve("mnasnet1_3"))
    assert (m["act"], m["stochastic_depth"], m["stage1_expand"], m["stage2_width"]) == ("relu", 0, 1, 32)


def test_fused_stage_in_the_default_space() -> None:
    """``blocks`` adds the per-stage block field to the default layout; a fused B0 variant builds."""
    sp = nas.SPACES["mbconv"](blocks=("mbconv", "fused"))
    c = sp.encode(nas.resolve("efficientnet_b0"))
    assert c["stage2_block"] == "mbconv"
    g = sp.decode({**c, "stage2_block": "fused", "stage3_block": "fused"})
    assert g.name.startswith("mbconv_") and g.stages[1].cell.name == "fused_mbconv6_k3_se"
    assert sp.decode(sp.encode(g)) == g
    assert nas.build(g, input_size=32).eval()(torch.randn(1, 3, 32, 32)).shape == (1, 1000)


def test_sampled_layout_members_compile_and_round_trip(spaces) -> None:
    rng = random.Random(3)
    for layout in ("mobilenet_v3_small", "efficientnet_v2_s"):
        sp = spaces[layout]
        c = {**sp.sample_choices(rng), **{f"stage{i}_repeats": 1 for i in range(1, 13)}}
        g = sp.decode({k: v for k, v in c.items() if k in sp.choices()})
        assert sp.decode(sp.encode(g)) == g
        assert nas.build(g, input_size=32).eval()(torch.randn(1, 3, 32, 32)).shape == (1, 1000)


def test_fused_block_with_se_and_without_expansion() -> None:
    """Fused-MBConv: with expansion 1 no projection; SE (the paper's option) gates the k×k output."""
    plain = fused_mbconv("f1", 1, 3)
    assert [n.op for n in plain.nodes] == ["conv", "bn", "silu", "skip", "identity"]
    se = mobile_block("fused", 4, 3, se=True, act="silu", drop_path=True)
    ops = [n.name for n in se.nodes]
    assert ops.index("se_scale") < ops.index("project_conv") and se.name == "fused_mbconv4_k3_se"
    mod, out = nas.compile_cell(se, [nas.core.compile.TensorInfo((16, 8, 8))], width=24, stride=2)
    assert out.shape == (24, 4, 4)
    # fused 3×3 16→64, BN, SE 64→4→64 (biases), project 64→24, BN
    want = 16 * 64 * 9 + 2 * 64 + (64 * 4 + 4) + (4 * 64 + 64) + 64 * 24 + 2 * 24
    assert sum(p.numel() for p in mod.parameters()) == want


def test_v3_se_style_needs_the_input_width() -> None:
    with pytest.raises(ValueError, match="needs the block's input channels 'cin'"):
        mobile_block("mbconv", 3, 5, se=True, act="relu", drop_path=False, se_style="mobilenet_v3")
    with pytest.raises(ValueError, match="field 'se_style' must be one of"):
        mobile_block("mbconv", 3, 5, se=True, act="relu", drop_path=False, se_style="squeeze")


def test_block_names() -> None:
    assert block_name("mbconv", 6, 5, True, "silu", True) == "mbconv6_k5"  # EfficientNet
    assert block_name("mbconv", 6, 3, False, "relu6", False) == "inverted_residual_e6"  # MobileNet-v2
    assert block_name("mbconv", 4.5, 3, False, "relu", False) == "mbconv4.5_k3_relu"  # MobileNetV3
    assert block_name("fused", 4, 3, False, "silu", True) == "fused_mbconv4_k3"  # EfficientNetV2
    assert block_name("fused", 1, 3, True, "relu", False) == "fused_mbconv1_k3_relu_se_nosd"
    with pytest.raises(ValueError, match="field 'block' must be one of"):
        block_name("ghost", 1, 3, False, "relu", False)
