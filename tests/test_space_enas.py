"""The ENAS spaces (search_spaces/enas.py): micro cells and the macro network.

What is checked: the zoo's ENAS cells are members of the default micro space (ENAS's final-model
concat, no 1×1 conv) and round-trip exactly in their layout; the released macro architecture
(``ENAS_MACRO_ARC``) decodes, encodes and prints back; sizes by formula (the paper's 6¹² · 2⁶⁶ for
macro) and by exhaustive enumeration on reduced op lists; mutation, membership, errors naming the
field, compiled members, Optuna.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

import nas
from search_spaces import enas as E
from search_spaces import nb201
from search_spaces.zoo import nas_cells as Z


def _check_members(space, rng: random.Random, n: int = 10) -> None:
    for _ in range(n):
        g = space.sample(rng)
        c = space.encode(g)
        assert space.decode(c) == g and space.contains(g)
        m = space.mutate(g, rng)
        cm = space.encode(m)
        assert sum(c[k] != cm[k] for k in c) == 1
        assert space.contains(m) and space.decode(cm) == m


# --- micro ------------------------------------------------------------------------------------------


def test_zoo_enas_cell_is_a_member():
    g = nas.ARCHS["enas_cifar"]()
    space = E.enas()  # ENAS's final model: loose ends concatenated, no 1x1 conv; its CIFAR-10 layout
    assert space.contains(g) and space.layout_matches(g)
    assert space.decode(space.encode(g)) == g
    assert space.encode(g) == space.choices_from_genotype(Z.ENAS)
    g_imagenet = nas.ARCHS["enas_imagenet"]()
    assert space.encode(g_imagenet) == space.encode(g) and not space.layout_matches(g_imagenet)
    own = E.enas(dataset="imagenet", layers=14, C=48)
    assert own.decode(own.encode(g_imagenet)) == g_imagenet
    # the search-time space adds the 1x1 conv after the concat: the same rows, another cell
    search_time = E.enas(final_conv=True)
    assert not search_time.contains(g)
    with pytest.raises(ValueError, match="normal cell has no 1×1 conv after the concat"):
        search_time.encode(g)
    decoded = search_time.decode(space.encode(g))
    normal = next(s.cell for s in decoded.stages if s.cell.inputs == ("h0", "h1"))
    assert normal.output == "final" and normal.node("final").op == "relu_conv_bn"
    assert search_time.encode(decoded) == space.encode(g)


def test_micro_choices_are_the_released_arc():
    # ENAS fixed_arc normal "0 2 0 0 ...": node 2 = avg_pool(state 0) + sep_conv_3x3(state 0)
    c = E.enas().choices_from_genotype(Z.ENAS)
    assert (c["normal_n2_in0"], c["normal_n2_op0"], c["normal_n2_in1"], c["normal_n2_op1"]) == (
        0,
        "avg_pool_3x3",
        0,
        "sep_conv_3x3",
    )
    assert E.ENAS_OPS == ("sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "skip_connect")


def test_micro_size_formula_and_enumeration():
    assert E.enas().size() == (720 * 5**5) ** 4 == math.prod((j + 2) ** 2 * 25 for j in range(5)) ** 2
    space = E.enas(ops=["skip_connect", "avg_pool_3x3"], blocks=1, layers=3, C=4)
    assert space.size() == (2**2 * 2**2) ** 2
    members = list(space.enumerate())
    assert len(set(members)) == len(members) == 256


def test_micro_members_round_trip_mutate_compile():
    _check_members(E.enas(), random.Random(0))
    _check_members(E.enas(final_conv=True), random.Random(1), n=3)
    rng = random.Random(1)
    space = E.enas(layers=4, C=4)
    for _ in range(1):
        out = nas.build(space.sample(rng))(torch.randn(2, 3, 32, 32))
        assert out.shape == (2, 10)


def test_micro_not_members():
    space = E.enas()
    for name in ("resnet50", "darts_v2_cifar", "nasnet_a_cifar", "amoebanet_a_cifar"):
        assert not space.contains(nas.ARCHS[name]()), name
    with pytest.raises(ValueError, match=r"normal cell also concatenates state\(s\) \[0\]"):
        space.encode(nas.ARCHS["nasnet_a_cifar"]())  # NASNet-A's extra concatenation
    with pytest.raises(ValueError, match="'reduce_n3_op1' = 'sep_conv_7x7'"):
        space.encode(nas.ARCHS["amoebanet_a_cifar"]())  # an op outside ENAS's five
    with pytest.raises(ValueError, match="normal_n4_op1"):
        space.decode(space.sample_choices(random.Random(0)) | {"normal_n4_op1": "conv_3x3"})
    with pytest.raises(ValueError, match="reduce_n3_in1"):
        space.decode(space.sample_choices(random.Random(0)) | {"reduce_n3_in1": 3})
    with pytest.raises(ValueError, match="'reduce' must hold 10"):
        space.choices_from_rows(Z.ENAS.normal, Z.ENAS.reduce[:8])


# --- macro ------------------------------------------------------------------------------------------


def test_macro_size_is_the_papers():
    space = E.EnasMacroSpace()
    assert space.size() == 6**12 * 2**66  # ≈ 1.6e29, Pham et al. 2018 §2.3
    assert len(space.choices()) == 12 + 66
    small = E.EnasMacroSpace(layers=3, ops=E.ENAS_MACRO_OPS[:2], C=4)
    assert small.size() == 2**3 * 2 ** (3 * 2 // 2)
    members = list(small.enumerate())
    assert len(set(members)) == len(members) == 64


def test_released_macro_arc_round_trips():
    ops = E.ENAS_MACRO_OPS[:4]  # the final run uses child_num_branches=4
    space = E.EnasMacroSpace(layers=24, C=96, ops=ops)
    c = E.macro_arc_choices(E.ENAS_MACRO_ARC, layers=24, ops=ops)
    g = space.decode(c)
    assert space.encode(g) == c
    assert E.macro_arc(c, ops) == E.ENAS_MACRO_ARC
    assert space.pool_layers == (7, 15)
    assert (c["l0_op"], c["l1_op"], c["l1_from_stem"], c["l3_from_l1"]) == ("conv_3x3", "sep_conv_5x5", 0, 1)
    assert sum(v for k, v in c.items() if "_from_" in k) == 98


def test_macro_members_round_trip_mutate_compile():
    _check_members(E.EnasMacroSpace(), random.Random(0))
    space, rng = E.EnasMacroSpace(layers=6, C=4), random.Random(2)
    for _ in range(2):
        g = space.sample(rng)
        m = nas.build(g)
        out = m(torch.randn(2, 3, 32, 32))
        out.sum().backward()
        assert out.shape == (2, 10)
    # every skip on: the stem is read after both factorized reductions
    c = {k: (1 if "_from_" in k else "sep_conv_5x5") for k in space.choices()}
    g = space.decode(c)
    body = g.stages[0].cell
    assert body.node("p3_stem").inputs == ("p1_stem",) and body.node("p1_stem").inputs == ("x",)
    assert space.encode(g) == c
    assert nas.build(g)(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_macro_not_members_and_errors():
    space = E.EnasMacroSpace()
    for g in (
        nas.ARCHS["resnet18"](),
        nas.ARCHS["enas_cifar"](),
        nb201.from_arch_string(nb201.arch_string(dict.fromkeys(nb201.FIELDS, "none"))),
    ):
        assert not space.contains(g)
    g = space.sample(random.Random(0))
    assert not E.EnasMacroSpace(C=32).contains(g)
    assert not E.EnasMacroSpace(layers=11).contains(g)
    assert not E.EnasMacroSpace(ops=E.ENAS_MACRO_OPS[:4]).contains(
        space.decode(
            space.sample_choices(random.Random(0))
            | dict.fromkeys((f"l{k}_op" for k in range(12)), "max_pool_3x3")
        )
    )
    with pytest.raises(ValueError, match="l5_op"):
        space.decode(space.sample_choices(random.Random(0)) | {"l5_op": "dil_conv_3x3"})
    with pytest.raises(ValueError, match="l4_from_l2"):
        space.decode(space.sample_choices(random.Random(0)) | {"l4_from_l2": 2})
    with pytest.raises(ValueError, match="l12_op"):  # a 13-layer vector in the 12-layer space
        space.decode(E.EnasMacroSpace(layers=13).sample_choices(random.Random(0)))
    with pytest.raises(ValueError, match="'l1_op': op id 7"):
        E.macro_arc_choices("0 7 0")
    with pytest.raises(ValueError, match="expected 12 layers, got 24"):
        E.macro_arc_choices(E.ENAS_MACRO_ARC, layers=12)


def test_define_by_run_with_optuna_tpe():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for space in (E.enas(), E.EnasMacroSpace()):

        def objective(trial, space=space):
            c = space.define_by_run(trial)
            assert space.contains(space.decode(c))
            return float(sum(v == 1 for v in c.values()))

        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(objective, n_trials=5)
        assert sum(t.state.name == "COMPLETE" for t in study.trials) == 5
