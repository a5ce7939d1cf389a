"""Macro search spaces (issue 4): resnet, mbconv, vgg, densenet, inception.

Equality convention: ``decode`` names a network after the zoo entry it equals, else
``<space>_<structure hash>``, so ``decode(encode(g)) == g`` (full ``==``, names included) holds for
zoo members and for decoded (sampled) members alike; membership itself is structural (names ignored).
"""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest
import torch

import nas
from cells.preact import preact_block
from nas.core.compile import TensorInfo
from search_spaces.macro import MacroSpace
from search_spaces.macro.mbconv import cell_name

SPACES = ("resnet", "mbconv", "vgg", "densenet", "inception")
ZOO_MEMBERS = {
    "resnet": [
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "wide_resnet50_2",
        "wide_resnet101_2",
        "resnext50_32x4d",
        "resnext101_32x8d",
        "resnext101_64x4d",
        "preact_resnet18",  # block="preact"
    ],
    "mbconv": ["efficientnet_b0", "mobilenet_v2"],
    "vgg": [f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")],
    "densenet": ["densenet121", "densenet161", "densenet169", "densenet201"],
    "inception": ["googlenet"],
}
NOT_MEMBERS = {
    "resnet": [
        "alexnet",
        "resnet20",  # CIFAR layout
        "vgg16",
        "densenet121",
        "efficientnet_b0",
        "preact_resnet50",  # pre-activation bottleneck: not a block type of the space
        "preact_resnet110",
        "se_resnet50",
    ],
    "mbconv": ["resnet50", "mobilenet_v1", "efficientnet_b1", "efficientnet_b7", "alexnet"],
    "vgg": ["alexnet", "vgg11_lrn", "vgg16_c", "resnet18", "zfnet"],
    "densenet": ["densenet_bc", "resnet50", "googlenet"],
    "inception": ["inception_v3", "googlenet_aux", "resnet50", "vgg11"],
}


@pytest.fixture(scope="module")
def spaces() -> dict[str, MacroSpace]:
    return {name: nas.SPACES[name]() for name in SPACES}


def test_registered(spaces):
    for name in SPACES:
        assert name in nas.SPACES.list()
        sp = spaces[name]
        assert isinstance(sp, MacroSpace) and sp.name == name
        d = sp.describe()
        assert d["size"] == sp.size() and list(d["dimensions"]) == list(sp.choices())


def test_registered_by_plugin_import():
    """A fresh interpreter finds the spaces through ``nas.SPACES`` alone (search_spaces imports macro)."""
    code = "import nas; print(' '.join(nas.SPACES.list()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(SPACES) <= set(out.split())


@pytest.mark.parametrize("space,arch", [(s, a) for s, names in ZOO_MEMBERS.items() for a in names])
def test_zoo_members_round_trip(spaces, space, arch):
    sp, g = spaces[space], nas.resolve(arch)
    c = sp.encode(g)
    assert sp.decode(c) == g  # full equality: the decoded network is named after the zoo entry
    assert sp.encode(sp.decode(c)) == c and sp.contains(g)


@pytest.mark.parametrize("space", SPACES)
def test_sampled_members_round_trip(spaces, space):
    sp, rng = spaces[space], random.Random(0)
    for _ in range(8):
        c = sp.sample_choices(rng)
        g = sp.decode(c)
        assert sp.encode(g) == c and sp.decode(sp.encode(g)) == g and sp.contains(g)
        assert g.name == sp.known_names().get(_key(g), f"{space}_{_key(g)[:10]}")
        assert nas.from_json(g.to_json()) == g


def _key(g):
    from search_spaces.macro.common import structure_hash

    return structure_hash(g)


@pytest.mark.parametrize("space", SPACES)
def test_not_members(spaces, space):
    sp = spaces[space]
    for arch in NOT_MEMBERS[space]:
        assert not sp.contains(nas.resolve(arch)), arch
        with pytest.raises(ValueError, match="is not a member"):
            sp.encode(nas.resolve(arch))
    member = nas.resolve(ZOO_MEMBERS[space][0])
    assert not sp.contains(member.replace(num_classes=10))
    assert not sp.contains(member.replace(input_size=(3, 32, 32)))
    assert not sp.contains(member.stages[0].cell)  # a cell is not a network


def test_not_members_near_misses(spaces):
    r50 = nas.resolve("resnet50")
    odd_width = r50.replace(stages=(nas.Stage(r50.stages[0].cell, 3, 200, 1), *r50.stages[1:]))
    assert not spaces["resnet"].contains(odd_width)  # 200 is not a multiple of 4
    off_option = r50.replace(stages=(nas.Stage(r50.stages[0].cell, 5, 256, 1), *r50.stages[1:]))
    with pytest.raises(ValueError, match="stage1_depth"):  # 5 blocks is not an option
        spaces["resnet"].encode(off_option)
    b0 = nas.resolve("efficientnet_b0")
    assert not spaces["mbconv"].contains(b0.replace(drop_path=0.1))


@pytest.mark.parametrize("space", SPACES)
def test_renamed_member_is_member(spaces, space):
    sp = spaces[space]
    g = nas.resolve(ZOO_MEMBERS[space][0])
    renamed = g.replace(name="mine")
    assert sp.contains(renamed) and sp.decode(sp.encode(renamed)) == g


@pytest.mark.parametrize("space", SPACES)
def test_mutate_changes_exactly_one_choice(spaces, space):
    sp, rng = spaces[space], random.Random(1)
    parents = [nas.resolve(a) for a in ZOO_MEMBERS[space]][:3] + [sp.sample(rng) for _ in range(3)]
    for g in parents:
        c = sp.encode(g)
        for _ in range(4):
            child = sp.mutate(g, rng)
            cc = sp.encode(child)  # stays in the space
            assert sum(cc[k] != c[k] for k in c) == 1 and child != g


def test_resnet_conditional_fields(spaces):
    sp = spaces["resnet"]
    r18 = sp.encode(nas.resolve("resnet18"))
    assert (r18["block"], r18["groups"], r18["width_per_group"]) == ("basic", 1, 64)
    # groups / width_per_group do not apply to basic blocks: any option decodes to the same network
    assert sp.decode({**r18, "groups": 32, "width_per_group": 4}) == nas.resolve("resnet18")
    partial = {k: v for k, v in r18.items() if k not in ("groups", "width_per_group")}
    assert sp.decode(partial) == nas.resolve("resnet18")
    # a ResNeXt never mutates straight into a basic block (that would change three choices)
    rng, x = random.Random(0), nas.resolve("resnext50_32x4d")
    assert all(sp.encode(sp.mutate(x, rng))["block"] == "bottleneck" for _ in range(40))


def test_resnet_size_formula(spaces):
    sp, dims = spaces["resnet"], spaces["resnet"].choices()
    stages = math.prod(len(dims[f"stage{i}_{f}"]) for i in range(1, 5) for f in ("depth", "width"))
    bottleneck = len(dims["groups"]) * len(dims["width_per_group"])
    assert sp.size() == (2 + bottleneck) * stages == 12_000_000


def test_product_sizes(spaces):
    for name in ("mbconv", "vgg", "densenet", "inception"):
        sp = spaces[name]
        assert sp.size() == math.prod(len(o) for o in sp.choices().values())
    assert spaces["vgg"].size() == 4**5 * 3 * 3 * 3 * 2 * 2 * 2
    assert spaces["densenet"].size() == 6 * 4 * (4 * 4 * 6 * 5) * 2 * 2
    assert spaces["inception"].size() == 5 ** (9 * 6) * 2
    assert spaces["mbconv"].size() == (3 * 4 * 4 * 2) ** 7 * (3 * 3 * 4 * 3 * 3 * 3 * 2) * 4 * 3 * 2 * 2


REDUCED = {
    "resnet": {
        "options": {
            "stage1_depth": (1, 2),
            "stage2_depth": (1,),
            "stage3_depth": (1,),
            "stage4_depth": (1,),
            "stage1_width": (64,),
            "stage2_width": (128,),
            "stage3_width": (256,),
            "stage4_width": (512,),
            "groups": (1, 32),
            "width_per_group": (4, 64),
        }
    },
    "mbconv": {
        "kernels": (3,),
        "expansions": (6,),
        "repeats": (1,),
        "se": (True,),
        "widths": ((16,), (24,), (40,), (80,), (112,), (192,), (320,)),
        "stem_widths": (32,),
        "head_widths": (1280,),
        "options": {"stage1_expand": (1, 6), "stage2_kernel": (3, 5)},
    },
    "vgg": {"convs": (1,), "widths": (64,), "options": {"stage3_convs": (1, 2), "stage5_width": (256, 512)}},
    "densenet": {
        "growth": (32,),
        "stem_widths": (64,),
        "layers": (6,),
        "options": {"block4_layers": (6, 16)},
    },
    "inception": {"multipliers": (1.0,), "options": {"3a_1x1": (32, 64, 96)}},
}
REDUCED_SIZES = {
    "resnet": (2 + 2 * 2) * 2,
    "mbconv": 2 * 2 * 2 * 2,  # stage-1 expansion, stage-2 kernel, act, stochastic depth
    "vgg": 2 * 2 * 2,
    "densenet": 2 * 2 * 2,
    "inception": 3 * 2,
}


@pytest.mark.parametrize("space", SPACES)
def test_size_by_enumeration(space):
    sp = nas.SPACES[space](**REDUCED[space])
    members = list(sp.enumerate())
    assert sp.size() == REDUCED_SIZES[space] == len(members) == len(set(members))
    assert len({nas.canonical_key(g) for g in members}) == len(members)  # all different architectures
    for g in members[:: max(1, len(members) // 16)]:
        assert sp.decode(sp.encode(g)) == g


def test_resnet50_encoding(spaces):
    c = spaces["resnet"].encode(nas.resolve("resnet50"))
    assert c["block"] == "bottleneck"
    assert [c[f"stage{i}_depth"] for i in range(1, 5)] == [3, 4, 6, 3]
    assert [c[f"stage{i}_width"] for i in range(1, 5)] == [64, 128, 256, 512]
    assert (c["groups"], c["width_per_group"]) == (1, 64)
    assert spaces["resnet"].encode(nas.resolve("resnext50_32x4d"))["groups"] == 32
    assert spaces["resnet"].encode(nas.resolve("resnext50_32x4d"))["width_per_group"] == 4
    assert spaces["resnet"].encode(nas.resolve("wide_resnet50_2"))["width_per_group"] == 128
    assert [spaces["resnet"].encode(nas.resolve("resnet152"))[f"stage{i}_depth"] for i in range(1, 5)] == [
        3,
        8,
        36,
        3,
    ]


def _table(c, field):
    return [c[f"stage{i}_{field}"] for i in range(1, 8)]


def test_efficientnet_b0_encoding(spaces):
    c = spaces["mbconv"].encode(nas.resolve("efficientnet_b0"))
    assert _table(c, "kernel") == [3, 3, 5, 3, 5, 5, 3]
    assert _table(c, "expand") == [1, 6, 6, 6, 6, 6, 6]
    assert _table(c, "repeats") == [1, 2, 2, 3, 3, 4, 1]
    assert _table(c, "width") == [16, 24, 40, 80, 112, 192, 320]
    assert _table(c, "se") == [True] * 7
    assert (c["stem_width"], c["head_width"], c["act"], c["stochastic_depth"]) == (32, 1280, "silu", 0.2)


def test_mobilenet_v2_encoding(spaces):
    c = spaces["mbconv"].encode(nas.resolve("mobilenet_v2"))
    assert _table(c, "kernel") == [3] * 7 and _table(c, "se") == [False] * 7
    assert _table(c, "expand") == [1, 6, 6, 6, 6, 6, 6]
    assert _table(c, "repeats") == [1, 2, 3, 4, 3, 3, 1]
    assert _table(c, "width") == [16, 24, 32, 64, 96, 160, 320]
    assert (c["act"], c["stochastic_depth"]) == ("relu6", 0.0)
    assert cell_name(6, 5, True, "relu6", False) == "inverted_residual_e6_k5_se"


def test_other_encodings(spaces):
    vgg16 = spaces["vgg"].encode(nas.resolve("vgg16_bn"))
    assert [vgg16[f"stage{i}_convs"] for i in range(1, 6)] == [2, 2, 3, 3, 3] and vgg16["batch_norm"] is True
    assert [vgg16[f"stage{i}_width"] for i in range(1, 6)] == [64, 128, 256, 512, 512]
    d169 = spaces["densenet"].encode(nas.resolve("densenet169"))
    assert [d169[f"block{i}_layers"] for i in range(1, 5)] == [6, 12, 32, 32]
    assert (d169["growth"], d169["stem_width"], d169["bottleneck"], d169["compression"]) == (
        32,
        64,
        True,
        0.5,
    )
    goog = spaces["inception"].encode(nas.resolve("googlenet"))
    assert [goog[f"4e_{b}"] for b in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")] == [
        256,
        160,
        320,
        32,
        128,
        128,
    ]
    assert goog["5x5_kernel"] == 3


@pytest.mark.parametrize(
    "space,change,field",
    [
        ("resnet", {"block": "dense"}, "block"),  # unknown value
        ("resnet", {"stage3_depth": 99}, "stage3_depth"),  # out of range
        ("resnet", {"groups": 7}, "groups"),
        ("mbconv", {"stage4_kernel": 9}, "stage4_kernel"),
        ("mbconv", {"stage2_se": 1}, "stage2_se"),  # an int is not a boolean choice
        ("vgg", {"batch_norm": "yes"}, "batch_norm"),
        ("densenet", {"compression": 0.3}, "compression"),
        ("inception", {"4a_3x3": 5}, "4a_3x3"),
        ("inception", {"typo": 1}, "typo"),  # unknown field
    ],
)
def test_bad_choices_name_the_field(spaces, space, change, field):
    sp = spaces[space]
    c = {**sp.encode(nas.resolve(ZOO_MEMBERS[space][0])), **change}
    with pytest.raises(ValueError, match=f"'{field}'"):
        sp.decode(c)


@pytest.mark.parametrize("space", SPACES)
def test_missing_field(spaces, space):
    sp = spaces[space]
    c = sp.encode(nas.resolve(ZOO_MEMBERS[space][-1]))
    field = next(iter(c))
    del c[field]
    with pytest.raises(ValueError, match=f"'{field}' is missing"):
        sp.decode(c)
    with pytest.raises(ValueError, match="mapping"):
        sp.decode([1, 2])


def test_bad_space_options():
    with pytest.raises(ValueError, match="'groups'"):
        nas.SPACES["resnet"](groups=())
    with pytest.raises(ValueError, match="unknown field 'depth'"):
        nas.SPACES["resnet"](options={"depth": (1,)})
    with pytest.raises(ValueError, match="stage1_width"):
        nas.SPACES["resnet"](widths=(40,))  # 40 · 4 is not a multiple of 64
    with pytest.raises(ValueError, match="'block'"):
        nas.SPACES["resnet"](blocks=("basic", "dense"))
    with pytest.raises(ValueError, match="one list per stage"):
        nas.SPACES["vgg"](widths=((64,), (128,)))
    with pytest.raises(ValueError, match="compression"):
        nas.SPACES["densenet"](compression=(0.5, 2.0))
    nas.SPACES["resnet"](blocks=("basic",), widths=(40,))  # fine without bottlenecks


class _Trial:
    def __init__(self, rng: random.Random) -> None:
        self.rng, self.asked = rng, []

    def suggest_categorical(self, name, opts):
        self.asked.append(name)
        return self.rng.choice(opts)


def test_define_by_run(spaces):
    for name in SPACES:
        sp = spaces[name]
        trial = _Trial(random.Random(3))
        c = sp.define_by_run(trial)
        assert sp.encode(sp.decode(c)) == c
    sp, rng = spaces["resnet"], random.Random(0)
    for _ in range(20):
        trial = _Trial(rng)
        c = sp.define_by_run(trial)
        assert ("groups" in trial.asked) == (c["block"] == "bottleneck")


# ---------------------------------------------------------------------------------------------------
# Compiling sampled members (tiny option lists so a forward pass on CPU is quick).
TINY = {
    "resnet": {
        "depths": (1, 2),
        "widths": (16,),
        "groups": (1, 2),
        "width_per_group": (4, 8),
        "num_classes": 10,
    },
    "mbconv": {
        "kernels": (3, 5),
        "expansions": (1, 2),
        "repeats": (1, 2),
        "widths": (8, 16),
        "stem_widths": (8,),
        "head_widths": (32,),
        "num_classes": 10,
    },
    "vgg": {"convs": (1, 2), "widths": (8, 16), "num_classes": 10},
    "densenet": {"growth": (4, 8), "stem_widths": (8,), "layers": (1, 2), "num_classes": 10},
    "inception": {"multipliers": (0.25, 0.5), "num_classes": 10},
}


@pytest.mark.parametrize("space", SPACES)
def test_sampled_members_compile(space):
    sp = nas.SPACES[space](**TINY[space])
    rng = random.Random(5)
    samples = [sp.sample(rng) for _ in range(2)]
    if space == "resnet":
        samples = [
            sp.decode({**sp.sample_choices(rng), "block": b}) for b in ("basic", "bottleneck", "preact")
        ]
    x = torch.randn(2, 3, 32, 32)
    for g in samples:
        model = nas.build(g, input_size=32).eval()
        with torch.no_grad():
            assert model(x).shape == (2, 10)


def test_preact_block():
    cell = preact_block()
    assert [n.op for n in cell.nodes] == ["bn", "relu", "conv", "bn", "relu", "conv", "skip", "identity"]
    mod, out = nas.compile_cell(cell, [TensorInfo((16, 8, 8))], width=32, stride=2)
    assert out.shape == (32, 4, 4)
    # bn1 + conv1 + bn2 + conv2 + 1×1 projection (a bare conv)
    assert sum(p.numel() for p in mod.parameters()) == 2 * 16 + 16 * 32 * 9 + 2 * 32 + 32 * 32 * 9 + 16 * 32
    same, _ = nas.compile_cell(cell, [TensorInfo((16, 8, 8))], width=16, stride=1)
    assert sum(p.numel() for p in same.parameters()) == 2 * (2 * 16 + 16 * 16 * 9)  # identity shortcut
    y = same.eval()(torch.randn(2, 16, 8, 8))
    assert y.shape == (2, 16, 8, 8)
    net = nas.SPACES["resnet"]().decode(
        {**nas.SPACES["resnet"]().encode(nas.resolve("resnet18")), "block": "preact"}
    )
    assert net.head.nodes[0].op == "bn" and net.stages[0].cell == cell  # final BN-ReLU before the classifier
