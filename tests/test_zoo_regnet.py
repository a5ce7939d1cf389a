"""RegNetX / RegNetY: the design-space transform gives torchvision's stage rows for every size; the
networks are exact (params, per-image MACs, outputs after transfer); depth follows the ResNet
convention; every one is a point of the ``regnet`` macro space (encode/decode round-trip)."""

from __future__ import annotations

import random

import pytest
import torch
from torchvision.models.regnet import BlockParams
from zoo_exact import assert_exact

import nas
from nas.cli import main
from nas.core.errors import ConfigError
from nas.tools.describe import describe
from search_spaces.anynet import RegNetParams, regnet_stages
from search_spaces.zoo.regnet import REGNETS

SIZE = 64
ALL = list(REGNETS)
FAST = ["regnet_x_400mf", "regnet_y_400mf", "regnet_x_800mf", "regnet_y_800mf"]
CASES = [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in ALL]


@pytest.mark.parametrize("name", ALL)
def test_stage_rows_match_torchvision(name: str) -> None:
    p = REGNETS[name]
    ref = BlockParams.from_init_params(
        depth=p.depth, w_0=p.w0, w_a=p.wa, w_m=p.wm, group_width=p.group_width, se_ratio=p.se
    )
    want = list(zip(ref.widths, ref.depths, ref.group_widths, ref.bottleneck_multipliers, ref.strides))
    assert [tuple(r) for r in regnet_stages(p)] == want


@pytest.mark.parametrize("name", CASES)
def test_exact_vs_torchvision(name: str) -> None:
    assert_exact(name, SIZE)


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_y_400mf", "regnet_y_32gf"])
def test_depth_convention(name: str) -> None:
    """Stem conv + three convs per block + FC, as ResNet-50 is 50 (SE gates and shortcuts add none)."""
    assert describe(name, input_size=32)["depth"] == 2 + 3 * REGNETS[name].depth


def test_blocks_are_cells_of_primitives() -> None:
    g = nas.resolve("regnet_y_400mf")
    ops = {n.op for s in g.stages for n in s.cell.nodes}
    assert ops == {"skip", "conv", "bn", "relu", "adaptive_avgpool", "sigmoid", "identity"}
    x_ops = {n.op for s in nas.resolve("regnet_x_400mf").stages for n in s.cell.nodes}
    assert "sigmoid" not in x_ops
    assert [s.cell.node("b_conv").kwargs["groups"] for s in g.stages] == [6, 13, 26, 55]  # 48/8 … 440/8


def test_transform_validates_fields() -> None:
    with pytest.raises(ConfigError, match="w0: must be a positive multiple of 8"):
        regnet_stages(RegNetParams(16, 50, 27.89, 2.09, 8))
    with pytest.raises(ConfigError, match="wm: must be > 1"):
        regnet_stages(RegNetParams(16, 48, 27.89, 1.0, 8))
    with pytest.raises(ConfigError, match="depth"):
        regnet_stages(RegNetParams(0, 48, 27.89, 2.09, 8))


@pytest.fixture(scope="module")
def space():
    return nas.SPACES["regnet"]()


@pytest.mark.parametrize("name", ALL)
def test_space_round_trip(space, name: str) -> None:
    g = nas.resolve(name)
    c = space.encode(g)
    assert space.decode(c) == g  # decoded members carry the zoo name
    p = REGNETS[name]
    assert (c["depth"], c["se"], c["bottleneck"]) == (p.depth, p.se is not None, 1.0)
    assert (c["w0"], c["wa"], c["wm"], c["group_width"]) == (p.w0, p.wa, p.wm, p.group_width)


def test_space_sampled_members_round_trip(space) -> None:
    rng = random.Random(0)
    for _ in range(5):
        g = space.sample(rng)
        assert space.decode(space.encode(g)) == g
        assert g.name.startswith("regnet_")


def test_space_bottleneck_and_se_change_the_network(space) -> None:
    c = space.encode(nas.resolve("regnet_x_400mf"))
    half = space.decode({**c, "bottleneck": 0.5})
    with torch.device("meta"):
        m = nas.build(half, input_size=32)
    assert m(torch.zeros(2, 3, 32, 32, device="meta")).shape == (2, 1000)
    assert space.encode(half)["bottleneck"] == 0.5
    y = space.decode({**c, "se": True})
    assert any(n.op == "sigmoid" for n in y.stages[0].cell.nodes)


def test_space_rejects_non_members_and_bad_options(space) -> None:
    with pytest.raises(ValueError, match="not a member of space 'regnet'"):
        space.encode(nas.resolve("resnet50"))
    g = nas.resolve("regnet_x_400mf")
    with pytest.raises(ValueError, match="not a member"):
        space.encode(g.replace(stages=g.stages[:-1]))
    with pytest.raises(ConfigError, match="w0"):
        nas.SPACES["regnet"](w0=(24, 30))


def test_zoo_list_shows_regnets(capsys) -> None:
    assert main(["zoo", "list", "regnet*"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in ALL)
    assert "regnet" in nas.SPACES.list()
