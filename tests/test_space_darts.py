"""The NASNet and DARTS cell spaces (search_spaces/darts_spaces.py).

What is checked: the zoo's NASNet-A, AmoebaNet-A and DARTS-V1/V2 networks are members (NASNet-A through
the extra-concat fields) and round-trip exactly in their own layouts; the general cell builder equals
``cells.blocks.darts_cell`` wherever that can express a cell; sizes by formula and, on reduced op lists,
by exhaustive enumeration; one encoding per member (bits that do not apply are 0), mutation,
membership, errors naming the field, compilation of sampled members, Optuna define-by-run. Membership
independent of the layout: tests/test_space_membership.py.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

import nas
from cells import darts_cell
from search_spaces import darts_spaces as D
from search_spaces.zoo import nas_cells as Z

ZOO_MEMBERS = [
    ("nasnet_a_cifar", lambda: D.nasnet()),
    ("nasnet_a_mobile", lambda: D.nasnet(dataset="imagenet", layers=14, C=44)),
    ("amoebanet_a_cifar", lambda: D.nasnet(C=36)),
    ("amoebanet_a_mobile", lambda: D.nasnet(dataset="imagenet", layers=14, C=50)),
    ("darts_v1_cifar", lambda: D.darts()),
    ("darts_v2_cifar", lambda: D.darts()),
    ("darts_v1_imagenet", lambda: D.darts(dataset="imagenet", layers=14, C=48)),
    ("darts_v2_imagenet", lambda: D.darts(dataset="imagenet", layers=14, C=48)),
]


def _check_members(space, rng: random.Random, n: int = 10) -> None:
    for _ in range(n):
        g = space.sample(rng)
        c = space.encode(g)
        assert space.decode(c) == g and space.check(c) == c
        assert space.contains(g) and space.layout_matches(g)
        m = space.mutate(g, rng)
        cm = space.encode(m)
        assert m != g and space.decode(cm) == m
        changed = [k for k in c if c[k] != cm[k]]
        # one field, or an input change that leaves a state unread and so clears its extra-concat bit
        assert len(changed) == 1 or (len(changed) == 2 and "_concat_extra_" in changed[1]), changed


# --- zoo members ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, make", ZOO_MEMBERS, ids=[n for n, _ in ZOO_MEMBERS])
def test_zoo_members_round_trip_exactly(name, make):
    space, g = make(), nas.ARCHS[name]()
    assert space.contains(g) and space.layout_matches(g)
    assert space.decode(space.encode(g)) == g  # names included: decode names zoo members after the zoo


def test_zoo_member_choices_are_the_published_rows():
    c = D.darts().encode(nas.ARCHS["darts_v2_cifar"]())
    assert c == D.darts().choices_from_genotype(Z.DARTS_V2)
    assert (c["normal_n2_inputs"], c["normal_n2_op0"], c["normal_n2_op1"]) == (
        "0,1",
        "sep_conv_3x3",
        "sep_conv_3x3",
    )
    assert (c["reduce_n5_inputs"], c["reduce_n5_op0"]) == ("2,1", "skip_connect")
    c = D.nasnet().encode(nas.ARCHS["nasnet_a_cifar"]())
    assert c == D.nasnet().choices_from_genotype(Z.NASNET)
    assert (
        c["normal_n2_in0"] == 1 and c["normal_n2_op0"] == "sep_conv_5x5" and c["normal_n2_combine"] == "add"
    )
    assert c["reduce_n5_in0"] == 3 and c["reduce_n5_op0"] == "skip_connect"
    # NASNet's used_hiddenstates mask: h[i-2] (state 0) in the normal cell, node 3 in the reduction cell
    extra = sorted(k for k, v in c.items() if "_concat_extra_" in k and v == 1)
    assert extra == ["normal_concat_extra_0", "reduce_concat_extra_3"]


def test_nasnet_variants_are_members_of_the_right_spaces():
    nasnet_a_cifar = nas.ARCHS["nasnet_a_cifar"]()
    # the paper's space (unused states only) does not hold NASNet-A's extra concatenation
    plain = D.nasnet(extra_concat=False)
    assert not plain.contains(nasnet_a_cifar)
    with pytest.raises(ValueError, match=r"normal cell also concatenates state\(s\) \[0\].*extra_concat"):
        plain.encode(nasnet_a_cifar)
    # the DARTS repository's NASNet rows (unused-state concat lists) are a member of both spaces
    g = Z.darts_network("x", Z.NASNET_DARTS, layers=20, C=32)
    for space in (plain, D.nasnet()):
        assert space.contains(g) and space.layout_matches(g)
        assert space.decode(space.encode(g)).stages[0].cell.name == "nasnet_a_darts_normal"
    assert not any(v for k, v in D.nasnet().encode(g).items() if "_concat_extra_" in k)
    # another layout: the cells are still members, the layout is not the space's
    wide = D.nasnet(C=36)
    assert wide.contains(nasnet_a_cifar) and not wide.layout_matches(nasnet_a_cifar)
    assert wide.encode(nasnet_a_cifar) == D.nasnet().encode(nasnet_a_cifar)


def test_builder_equals_darts_cell_on_the_zoo_genotypes():
    for geno in Z.GENOTYPES.values():
        for rows, concat, red in (
            (geno.normal, geno.normal_concat, False),
            (geno.reduce, geno.reduce_concat, True),
        ):
            ours = D.darts_format_cell("c", rows, ["add"] * (len(rows) // 2), concat, red)
            assert ours == darts_cell("c", rows, concat, red)
            read = D.read_darts_format_cell(ours)
            assert read == (list(rows), ["add"] * (len(rows) // 2), tuple(sorted(concat)), False)


# --- sizes ------------------------------------------------------------------------------------------


def test_size_formulas():
    # nasnet, unused states only: per cell type  prod_j (j+2)^2 |ops|^2 |combines|, both types searched
    plain = D.nasnet(extra_concat=False)
    assert plain.size() == (720**2 * 13**10 * 2**5) ** 2
    assert plain.size() == math.prod((j + 2) ** 2 * 13**2 * 2 for j in range(5)) ** 2
    # darts: per cell type  prod_j (j+2)(j+1) |ops|^2  (two distinct inputs, ordered)
    assert D.darts().size() == (2880 * 8**8) ** 2 == math.prod((j + 2) * (j + 1) * 64 for j in range(4)) ** 2
    for space in (plain, D.darts(), D.nasnet(ops=D.NASNET_OPS[:3], blocks=2, extra_concat=False)):
        assert space.size() == space.cell_size() ** 2 == math.prod(len(o) for o in space.choices().values())


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_nasnet_size_with_extra_concat_by_brute_force(blocks):
    """Each input choice doubles per state it reads (that state's extra-concat bit applies)."""
    space = D.nasnet(ops=["skip_connect", "conv_1x1"], blocks=blocks)
    ranges = [range(j + 2) for j in range(blocks) for _ in (0, 1)]
    inputs = sum(2 ** len(set(p)) for p in itertools.product(*ranges))
    assert space.cell_size() == (2**2 * 2) ** blocks * inputs
    assert space.size() == space.cell_size() ** 2 < math.prod(len(o) for o in space.choices().values())
    assert D.nasnet().size() == 3282188723505142749469814300982198943744  # ≈ 3.3e39 (module docstring)


@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda: D.nasnet(
                ops=["skip_connect", "max_pool_5x5"], blocks=1, extra_concat=False, layers=3, C=4
            ),
            (2**2 * 2**2 * 2) ** 2,
        ),
        (
            lambda: D.nasnet(
                ops=["conv_1x3_3x1"], blocks=2, combines=["add"], extra_concat=False, layers=3, C=4
            ),
            (2**2 * 3**2) ** 2,
        ),
        # inputs (a, b) of the one node: 2 + 2 (one state read) + 4 + 4 (both) with the extra bits
        (lambda: D.nasnet(ops=["max_pool_5x5"], blocks=1, combines=["add"], layers=3, C=4), 12**2),
        (
            lambda: D.darts(ops=["none", "skip_connect", "dil_conv_5x5"], nodes=1, layers=3, C=4),
            (2 * 1 * 3**2) ** 2,
        ),
        (lambda: D.darts(ops=["max_pool_3x3"], nodes=2, layers=3, C=4), (2 * 1 * 3 * 2) ** 2),
    ],
)
def test_size_formula_by_enumeration(make, expected):
    space = make()
    assert space.size() == expected
    members = list(space.enumerate())
    assert len(members) == len(set(members)) == expected  # every member once, each a different genotype
    assert all(space.contains(g) for g in members[:: max(1, expected // 50)])


# --- membership, mutation, errors -------------------------------------------------------------------


@pytest.mark.parametrize("make", [D.nasnet, D.darts, lambda: D.nasnet(dataset="imagenet", layers=8)])
def test_sampled_members_round_trip_and_mutate(make):
    _check_members(make(), random.Random(0))


def test_contains_is_false_outside_the_space():
    nasnet, darts = D.nasnet(), D.darts()
    for name in ("resnet50", "nasnet_a_cifar", "enas_cifar", "mobilenet_v2"):
        assert not darts.contains(nas.ARCHS[name]()), name
    for name in ("resnet50", "darts_v2_cifar", "vgg11"):
        assert not nasnet.contains(nas.ARCHS[name]()), name
    # a DARTS cell with an op outside the list
    odd = Z.DARTS_V2._replace(normal=(("conv_7x1_1x7", 0), *Z.DARTS_V2.normal[1:]))
    assert not darts.contains(Z.darts_network("x", odd))
    with pytest.raises(
        ValueError, match="'x' is not a member: choice field 'normal_n2_op0' = 'conv_7x1_1x7'"
    ):
        darts.encode(Z.darts_network("x", odd))
    with pytest.raises(ValueError, match="its normal cell has 5 nodes, the space's 4"):
        darts.encode(nas.ARCHS["nasnet_a_cifar"]())
    with pytest.raises(ValueError, match="has no normal cell"):
        darts.encode(nas.ARCHS["resnet50"]())
    # DARTS concatenates every intermediate node; a cell that concatenates only some is outside
    loose = Z.DARTS_V2._replace(normal_concat=(3, 4, 5))
    with pytest.raises(ValueError, match=r"concatenates states \[3, 4, 5\].*every intermediate node"):
        darts.encode(Z.darts_network("x", loose))
    assert not D.darts(ops=[o for o in D.DARTS_OPS if o != "dil_conv_3x3"]).contains(
        nas.ARCHS["darts_v2_cifar"]()
    )
    # two rows from the same state: NASNet allows it, DARTS does not
    same = Z.DARTS_V2._replace(normal=(("sep_conv_3x3", 0), ("sep_conv_3x3", 0), *Z.DARTS_V2.normal[2:]))
    assert not darts.contains(Z.darts_network("x", same))
    # a single cell is not a member (members are networks)
    assert not darts.contains(nas.ARCHS["darts_v2_cifar"]().stages[0].cell)


def test_renamed_member_is_contained():
    g = nas.ARCHS["darts_v1_cifar"]()
    assert D.darts().contains(g.replace(name="mine"))


@pytest.mark.parametrize(
    "make, change, field",
    [
        (D.nasnet, {"normal_n3_op1": "conv_9x9"}, "normal_n3_op1"),  # unknown op
        (D.nasnet, {"reduce_n4_in0": 4}, "reduce_n4_in0"),  # input index out of range (node 4 sees 0-3)
        (D.nasnet, {"normal_n2_combine": "mul"}, "normal_n2_combine"),
        (D.darts, {"normal_n3_inputs": "1,1"}, "normal_n3_inputs"),  # DARTS inputs are distinct
        (D.darts, {"reduce_n2_op0": "sep_conv_7x7"}, "reduce_n2_op0"),  # a NASNet op, not a DARTS one
        (D.darts, {"normal_n6_op0": "none"}, "normal_n6_op0"),  # a fifth node
    ],
)
def test_bad_choices_raise_naming_the_field(make, change, field):
    space = make()
    c = space.sample_choices(random.Random(0)) | change
    with pytest.raises(ValueError, match=field):
        space.decode(c)


def test_wrong_number_of_blocks_raises_naming_the_field():
    with pytest.raises(ValueError, match="'normal' must hold 10 .*5 blocks"):
        D.nasnet().choices_from_genotype(Z.DARTS_V2)  # 4 nodes
    with pytest.raises(ValueError, match="'normal' must hold 8"):
        D.darts().choices_from_genotype(Z.NASNET)  # 5 nodes
    small = D.darts(nodes=3)
    with pytest.raises(ValueError, match="normal_n5_inputs"):  # a 3-node choice vector in the 4-node space
        D.darts().decode(small.sample_choices(random.Random(0)))
    with pytest.raises(ValueError, match="option 'ops'"):
        D.darts(ops=["sep_conv_9x9"])
    with pytest.raises(ValueError, match="option 'extra_concat'"):
        D.CellPairSpace("x", ops=D.DARTS_OPS, blocks=4, concat="all", extra_concat=True)


def test_extra_concat_bits_of_unread_states_do_not_apply():
    space = D.nasnet()
    c = space.encode(nas.ARCHS["nasnet_a_cifar"]())
    # no normal-cell node reads node 3: its bit does not apply, check() sets it to 0, same genotype
    assert c["normal_concat_extra_3"] == 0
    other = c | {"normal_concat_extra_3": 1}
    assert space.check(other) == c and space.decode(other) == space.decode(c)
    # a bit that applies is a different member: h[i-2] dropped from the normal cell's concat
    plainer = space.decode(c | {"normal_concat_extra_0": 0})
    assert plainer != space.decode(c) and plainer.stages[0].cell.node("out").inputs[0] == "n2"
    nbrs = space.neighbours(c)
    assert other not in nbrs and all(space.check(n) == n and n != c for n in nbrs)
    assert len(nbrs) == len({tuple(sorted(n.items())) for n in nbrs})
    # reduction node 5 reads node 3 (an extra): moving that input clears the bit, node 3 stays concatenated
    moved = next(n for n in nbrs if n["reduce_n5_in0"] == 0)
    assert moved["reduce_concat_extra_3"] == 0
    reduce = next(s.cell for s in space.decode(moved).stages if s.stride == 2)
    assert "n3" in reduce.node("out").inputs


# --- compiled members -------------------------------------------------------------------------------


def test_sampled_members_compile_and_run():
    rng = random.Random(3)
    for space in (D.nasnet(layers=5, C=8), D.darts(layers=5, C=8)):
        for _ in range(2):
            m = nas.build(space.sample(rng))
            out = m(torch.randn(2, 3, 32, 32))
            (out[0] if isinstance(out, tuple) else out).sum().backward()


def test_concat_blocks_and_loose_inputs_compile():
    """Every block concatenates (2C states), every op is a pool (needs the 1×1 adapter), every node reads
    the last state, so cell input 0 is a loose end (reduced first in the reduction cell)."""
    space = D.nasnet(layers=5, C=8)
    c = {}
    for k, options in space.choices().items():
        if "_extra_" in k:
            c[k] = 0  # only the unused states (here: cell input 0 and the last node)
        else:
            c[k] = "concat" if k.endswith("combine") else max(options) if "_in" in k else "avg_pool_3x3"
    g = space.decode(c)
    cells = {s.cell.name: s.cell for s in g.stages if s.cell.inputs == ("h0", "h1")}
    reduce = cells["nasnet_reduce"]
    assert reduce.node("out").inputs == ("pre0_reduce", "n6")
    assert reduce.node("n3_0").inputs == ("n3_0_adj",)
    assert space.decode(space.encode(g)) == g
    m = nas.build(g)
    assert m(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_define_by_run_with_optuna_tpe():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for space in (D.nasnet(), D.darts()):

        def objective(trial, space=space):
            g = space.decode(space.define_by_run(trial))
            assert space.contains(g)
            return float(sum("sep" in n.op for s in g.stages for n in s.cell.nodes))

        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(objective, n_trials=5)
        assert sum(t.state.name == "COMPLETE" for t in study.trials) == 5
        assert set(study.best_params) == set(space.choices())
