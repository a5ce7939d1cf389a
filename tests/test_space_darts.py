"""The NASNet and DARTS cell spaces (search_spaces/darts_spaces.py).

What is checked: the zoo's NASNet-A, AmoebaNet-A and DARTS-V1/V2 networks are members and round-trip
exactly; the general cell builder equals ``cells.blocks.darts_cell`` wherever that can express a cell;
sizes by formula and, on reduced op lists, by exhaustive enumeration; mutation, membership, errors
naming the field, compilation of sampled members, Optuna define-by-run.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

import nas
from cells import darts_cell
from search_spaces import darts_spaces as D
from search_spaces.zoo import nas_cells as Z


def nasnet_a(**kw):
    return D.nasnet(concat_extra=D.NASNET_A_CONCAT_EXTRA, **kw)


ZOO_MEMBERS = [
    ("nasnet_a_cifar", lambda: nasnet_a()),
    ("nasnet_a_mobile", lambda: nasnet_a(dataset="imagenet", layers=14, C=44)),
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
        assert space.decode(c) == g
        assert space.contains(g)
        m = space.mutate(g, rng)
        cm = space.encode(m)
        assert sum(c[k] != cm[k] for k in c) == 1
        assert space.contains(m) and space.decode(cm) == m


# --- zoo members ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, make", ZOO_MEMBERS, ids=[n for n, _ in ZOO_MEMBERS])
def test_zoo_members_round_trip_exactly(name, make):
    space, g = make(), nas.ARCHS[name]()
    assert space.contains(g)
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
    c = nasnet_a().encode(nas.ARCHS["nasnet_a_cifar"]())
    assert (
        c["normal_n2_in0"] == 1 and c["normal_n2_op0"] == "sep_conv_5x5" and c["normal_n2_combine"] == "add"
    )
    assert c["reduce_n5_in0"] == 3 and c["reduce_n5_op0"] == "skip_connect"


def test_nasnet_variants_are_members_of_the_right_spaces():
    nasnet_a_cifar = nas.ARCHS["nasnet_a_cifar"]()
    # NASNet's released code concatenates two used states as well; the plain "loose ends" space does not
    assert not D.nasnet().contains(nasnet_a_cifar)
    # the DARTS repository's NASNet rows (loose-end concat lists) are a member of the plain space
    g = Z.darts_network("x", Z.NASNET_DARTS, layers=20, C=32)
    assert D.nasnet().contains(g)
    assert D.nasnet().decode(D.nasnet().encode(g)).stages[0].cell.name == "nasnet_a_darts_normal"
    assert not nasnet_a(C=36).contains(nasnet_a_cifar)  # another layout
    with pytest.raises(ValueError, match="stem"):
        nasnet_a(C=36).encode(nasnet_a_cifar)


def test_builder_equals_darts_cell_on_the_zoo_genotypes():
    for geno in Z.GENOTYPES.values():
        for rows, concat, red in (
            (geno.normal, geno.normal_concat, False),
            (geno.reduce, geno.reduce_concat, True),
        ):
            ours = D.darts_format_cell("c", rows, ["add"] * (len(rows) // 2), concat, red)
            assert ours == darts_cell("c", rows, concat, red)
            assert D.read_darts_format_cell(ours, len(rows) // 2) == (list(rows), ["add"] * (len(rows) // 2))


# --- sizes ------------------------------------------------------------------------------------------


def test_size_formulas():
    # nasnet: per cell type  prod_j (j+2)^2 |ops|^2 |combines|, both cell types searched
    assert D.nasnet().size() == (720**2 * 13**10 * 2**5) ** 2
    assert D.nasnet().size() == math.prod((j + 2) ** 2 * 13**2 * 2 for j in range(5)) ** 2
    # darts: per cell type  prod_j (j+2)(j+1) |ops|^2  (two distinct inputs, ordered)
    assert D.darts().size() == (2880 * 8**8) ** 2 == math.prod((j + 2) * (j + 1) * 64 for j in range(4)) ** 2
    for space in (D.nasnet(), D.darts(), D.nasnet(ops=D.NASNET_OPS[:3], blocks=2)):
        assert space.size() == space.cell_size() ** 2 == math.prod(len(o) for o in space.choices().values())


@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda: D.nasnet(ops=["skip_connect", "max_pool_5x5"], blocks=1, layers=3, C=4),
            (2**2 * 2**2 * 2) ** 2,
        ),
        (
            lambda: D.nasnet(ops=["conv_1x3_3x1"], blocks=2, combines=["add"], layers=3, C=4),
            (2**2 * 3**2) ** 2,
        ),
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
    assert len(members) == len(set(members)) == expected  # every choice vector is a different genotype
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
    with pytest.raises(ValueError, match="normal_n2_op0"):
        darts.encode(Z.darts_network("x", odd))
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
