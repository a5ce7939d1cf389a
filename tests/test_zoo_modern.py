"""ConvNeXt, ShuffleNetV2 and SqueezeNet: exact against torchvision (params, per-image MACs, outputs
after transfer), depth by the usual convention, stochastic depth as the genotype's drop-path, and the
new primitive ops (layer norm over channels, channel split and shuffle, layer scale) against
torchvision's own functions."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.convnext import LayerNorm2d as TvLayerNorm2d
from torchvision.models.shufflenetv2 import channel_shuffle as tv_channel_shuffle
from torchvision.ops import StochasticDepth
from zoo_exact import assert_exact

import nas
from nas.cli import main
from nas.tools.describe import describe
from search_spaces.zoo.convnext import CONVNEXTS
from search_spaces.zoo.shufflenet import SHUFFLENETS
from search_spaces.zoo.squeezenet import SQUEEZENETS

SIZE = 64
FAST = ["convnext_tiny", *SHUFFLENETS, *SQUEEZENETS]
SLOW = ["convnext_small", "convnext_base", "convnext_large"]
CASES = FAST + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW]


@pytest.mark.parametrize("name", CASES)
def test_exact_vs_torchvision(name: str) -> None:
    assert_exact(name, SIZE)


@pytest.mark.parametrize(
    "name,depth",
    [
        ("convnext_tiny", 1 + 3 * 18 + 3 + 1),  # stem, 3 per block (dw 7×7, two Linears), 3 transitions, FC
        ("convnext_base", 1 + 3 * 36 + 3 + 1),
        ("shufflenet_v2_x1_0", 1 + 3 * 16 + 1 + 1),  # stem, 3 per unit (branch 2), conv5, FC
        ("squeezenet1_0", 1 + 2 * 8 + 1),  # stem, squeeze + expand per fire, final conv
        ("squeezenet1_1", 1 + 2 * 8 + 1),
    ],
)
def test_depth_convention(name: str, depth: int) -> None:
    assert describe(name, input_size=32)["depth"] == depth


@pytest.mark.parametrize("name", list(CONVNEXTS))
def test_convnext_stochastic_depth_schedule(name: str) -> None:
    """Every cell is one block, so the linear drop-path schedule is torchvision's sd_prob per block."""
    with torch.device("meta"):
        ref = getattr(torchvision.models, name)(weights=None)
        ours = nas.build(name, input_size=32)
    want = [m.p for m in ref.modules() if isinstance(m, StochasticDepth)]
    got = [c.drop_path_rate for stage in ours.stages for c in stage]
    assert got == pytest.approx(want, rel=1e-12, abs=0)
    assert len(got) == sum(CONVNEXTS[name][1])


def test_convnext_training_step_matches_with_same_seed() -> None:
    """Training mode: stochastic depth draws the same masks in the same order; outputs and gradients
    of the layer scales agree."""
    ref = torchvision.models.convnext_tiny(weights=None)
    ours = nas.build("convnext_tiny", input_size=32)
    nas.transfer(ref, ours)
    with torch.no_grad():  # a layer scale of 1e-6 would hide the blocks behind the residuals
        for m in (*ref.modules(), *ours.modules()):
            if hasattr(m, "layer_scale"):
                m.layer_scale.fill_(0.5)
    x = torch.randn(4, 3, 32, 32)
    outs = []
    for m in (ref.train(), ours.train()):
        torch.manual_seed(1)
        y = m(x)
        y.square().mean().backward()
        outs.append((y, [p.grad for n, p in m.named_parameters() if n.endswith("layer_scale")]))
    (a, ga), (b, gb) = outs
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5
    assert len(ga) == len(gb) == 18
    for g1, g2 in zip(ga, gb):
        torch.testing.assert_close(g2, g1, rtol=1e-4, atol=1e-7)
    torch.manual_seed(2)
    assert not torch.allclose(ours(x), b)  # another seed drops other blocks


def test_layer_norm2d_matches_torchvision() -> None:
    ours = nas.OPS["layer_norm2d"](16, 16, 1, eps=1e-6)
    ref = TvLayerNorm2d(16, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 16, 5, 7)
    assert torch.equal(ours(x), ref(x))
    assert isinstance(ours, nn.LayerNorm)


def test_channel_split_and_shuffle_match_torchvision() -> None:
    x = torch.randn(2, 12, 3, 3)
    assert torch.equal(nas.OPS["channel_shuffle"](12, 12, 1, groups=2)(x), tv_channel_shuffle(x, 2))
    halves = x.chunk(2, dim=1)
    for i in (0, 1):
        assert torch.equal(nas.OPS["channel_split"](12, 6, 1, parts=2, index=i)(x), halves[i])


def test_layer_scale_and_permute_ops() -> None:
    scale = nas.OPS["layer_scale"](8, 8, 1, init=0.5)
    assert tuple(scale.layer_scale.shape) == (8, 1, 1)
    x = torch.randn(2, 8, 4, 4)
    assert torch.equal(scale(x), 0.5 * x)
    to_last = nas.OPS["permute"](8, 8, 1, dims=[0, 2, 3, 1])
    assert to_last(x).shape == (2, 4, 4, 8)


@pytest.mark.parametrize(
    "op,args,match",
    [
        ("channel_split", (12, 5, 1), "channels' asks for 5"),
        ("channel_split", (12, 6, 1, 2, 2), "attr 'index' must be an int in"),
        ("channel_shuffle", (12, 12, 1, 5), "attr 'groups'=5 must divide"),
        ("channel_shuffle", (12, 12, 2), "cannot apply stride 2"),
        ("permute", (8, 8, 1, (1, 0, 2, 3)), "attr 'dims' must be a permutation"),
        ("layer_scale", (8, 4, 1), "keeps its channels"),
    ],
)
def test_new_ops_validate(op: str, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        nas.OPS[op](*args)


def test_blocks_are_cells_of_primitives() -> None:
    block = nas.resolve("convnext_tiny").stages[0].cell
    assert [n.op for n in block.nodes] == [
        "conv", "permute", "layer_norm", "linear", "gelu", "linear", "permute", "layer_scale", "identity",
    ]  # fmt: skip
    unit = nas.resolve("shufflenet_v2_x1_0").stages[1].cell
    assert {"channel_split", "channel_shuffle"} <= {n.op for n in unit.nodes}


def test_zoo_list_shows_the_families(capsys) -> None:
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in [*CONVNEXTS, *SHUFFLENETS, *SQUEEZENETS])


def test_transfer_pairs_layer_kinds_and_refuses_other_layers() -> None:
    """torchvision's LayerNorm2d pairs with ours (both LayerNorms; CNBlock's own layer scale with our
    layer-scale op, after the block's layers); a different network is still refused, naming the layer."""
    with torch.device("meta"):
        tiny = torchvision.models.convnext_tiny(weights=None)
        small = nas.build("convnext_small", input_size=32)
    with pytest.raises(ValueError, match=r"layer \d+ differs: reference .* LayerNorm2d\(.* target .* Conv2d"):
        nas.transfer(tiny, small, (3, 32, 32))
