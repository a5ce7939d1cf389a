"""Cell-space membership is a property of the cells, not of the macro layout (issue #16).

What is checked: every zoo network built of NAS cells (NASNet-A, AmoebaNet-A, DARTS-V1/V2, ENAS, each
layout) encodes in its family's default space, and ``decode(encode(g))`` has exactly ``g``'s cells in the
space's own layout; ``layout_matches`` is true exactly for the zoo layouts that are the space's default
(then the round trip is exact, names included); changing only the layout (cells, width, data set, heads)
leaves the choices alone; cells outside a space raise ``ValueError`` naming the op, the node count, the
concat or the node that differs; which zoo networks are points of which cell space (the README table).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import nas
from nas.core.registry import SPACES
from nas.core.space import anonymous
from search_spaces import nb201
from search_spaces.darts_spaces import cell_space_network, network_cells
from search_spaces.zoo import nas_cells as Z

FAMILY_SPACE = {"nasnet": "nasnet", "amoebanet": "nasnet", "darts": "darts", "enas": "enas"}
NAS_CELL_NETS = sorted(n for n in nas.ARCHS.list() if nas.ARCHS.entry(n).meta.get("family") in FAMILY_SPACE)
# the zoo layouts that are their space's default (CIFAR; AmoebaNet-A's C = 36 is not NASNet's 32)
DEFAULT_LAYOUT = {"nasnet_a_cifar", "darts_v1_cifar", "darts_v2_cifar", "enas_cifar"}


def _cells(g: nas.Network) -> dict:
    return {t: anonymous(c) for t, c in network_cells("?", g).items()}


def test_the_nas_cell_zoo_is_the_darts_format_layouts():
    assert NAS_CELL_NETS == sorted(Z.LAYOUTS)  # a new NAS-cell network joins the checks below


@pytest.mark.parametrize("name", NAS_CELL_NETS)
def test_every_zoo_nas_cell_encodes_in_its_family_default_space(name):
    g = nas.ARCHS[name]()
    space = SPACES[FAMILY_SPACE[nas.ARCHS.entry(name).meta["family"]]]()
    choices = space.encode(g)
    decoded = space.decode(choices)
    assert _cells(decoded) == _cells(g)  # the same cells, in the space's own layout
    cells = network_cells("?", g)
    assert anonymous(decoded) == anonymous(
        cell_space_network("?", cells["normal"], cells["reduce"], **space.layout)
    )
    assert space.encode(decoded) == choices
    assert space.contains(g)
    assert space.layout_matches(g) == (name in DEFAULT_LAYOUT)
    if name in DEFAULT_LAYOUT:
        assert decoded == g  # names included
    else:
        assert decoded != g and (decoded.stages, decoded.stem) != (g.stages, g.stem)


@pytest.mark.parametrize(
    "layout",
    [
        {"layers": 8},
        {"C": 16},
        {"auxiliary": True},
        {"num_classes": 100},
        {"drop_path": 0.0},
        {"dataset": "imagenet", "layers": 14, "C": 48},
    ],
)
def test_encode_ignores_the_layout(layout):
    space, g = SPACES["darts"](), nas.ARCHS["darts_v2_cifar"]()
    other = Z.darts_network("mine", "darts_v2", **{"layers": 20, "C": 36, **layout})
    assert other != g
    assert space.encode(other) == space.encode(g)
    assert space.contains(other) and not space.layout_matches(other)
    assert space.decode(space.encode(other)) == g  # the space's layout: the published CIFAR one
    # a space whose layout option is that layout holds it exactly
    own = SPACES["darts"](**{"layers": 20, "C": 36, **layout})
    assert own.layout_matches(other) and anonymous(own.decode(own.encode(other))) == anonymous(other)


def _with_normal_cell(g: nas.Network, cell: nas.Cell) -> nas.Network:
    old = network_cells("?", g)["normal"]
    return g.replace(stages=tuple(replace(s, cell=cell) if s.cell == old else s for s in g.stages))


def test_cells_outside_the_space_raise_with_the_reason():
    enas, nasnet, darts = SPACES["enas"](), SPACES["nasnet"](), SPACES["darts"]()
    cases = [
        (enas, nas.ARCHS["amoebanet_a_cifar"](), r"choice field 'reduce_n3_op1' = 'sep_conv_7x7'"),
        (enas, nas.ARCHS["nasnet_a_cifar"](), r"normal cell also concatenates state\(s\) \[0\]"),
        (SPACES["enas"](final_conv=True), nas.ARCHS["enas_cifar"](), r"has no 1×1 conv after the concat"),
        (nasnet, nas.ARCHS["darts_v2_cifar"](), r"its normal cell has 4 nodes, the space's 5"),
        (darts, nas.ARCHS["enas_cifar"](), r"its normal cell has 5 nodes, the space's 4"),
        (darts, nas.ARCHS["resnet50"](), r"has no normal cell"),
        (nasnet, nas.ARCHS["darts_v2_cifar"]().stages[0].cell, r"a member is a network genotype"),
    ]
    # a node the rows do not describe: node 2's sum without drop-path
    g = nas.ARCHS["enas_cifar"]()
    normal = network_cells("?", g)["normal"]
    nodes = tuple(replace(n, drop_path=False) if n.name == "n2" else n for n in normal.nodes)
    cases.append(
        (enas, _with_normal_cell(g, replace(normal, nodes=nodes)), r"normal cell differs: node 'n2'")
    )
    for space, genotype, reason in cases:
        assert not space.contains(genotype)
        with pytest.raises(ValueError, match=reason):
            space.encode(genotype)


def test_layout_matches_is_membership_for_the_other_spaces():
    resnet = SPACES["resnet"]()
    assert resnet.layout_matches(nas.ARCHS["resnet50"]()) and not resnet.layout_matches(nas.ARCHS["vgg11"]())
    space = SPACES["nb201"]()
    g = nb201.from_arch_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    )
    assert space.layout_matches(g) and space.layout_matches(g.replace(name="renamed"))
    assert not space.layout_matches(g.replace(num_classes=100))


def membership_table(names: list[str], spaces: list[str]) -> dict[str, dict[str, bool]]:
    """Zoo network → {space: whether its layout is the space's default} over the spaces whose default
    instance holds its cells (the README table)."""
    made = {s: SPACES[s]() for s in spaces}
    out: dict[str, dict[str, bool]] = {}
    for name in names:
        g = nas.ARCHS[name]()
        out[name] = {s: space.layout_matches(g) for s, space in made.items() if space.contains(g)}
    return out


def test_which_zoo_networks_are_points_of_which_cell_space():
    table = membership_table([*NAS_CELL_NETS, "resnet50"], ["nasnet", "darts", "enas", "enas_macro", "nb201"])
    assert table == {
        "amoebanet_a_cifar": {"nasnet": False},
        "amoebanet_a_mobile": {"nasnet": False},
        "darts_v1_cifar": {"darts": True},
        "darts_v1_imagenet": {"darts": False},
        "darts_v2_cifar": {"darts": True},
        "darts_v2_imagenet": {"darts": False},
        # ENAS's five ops are NASNet ops, its cells concatenate the unused states: a NASNet cell too
        "enas_cifar": {"nasnet": False, "enas": True},
        "enas_imagenet": {"nasnet": False, "enas": False},
        "nasnet_a_cifar": {"nasnet": True},
        "nasnet_a_mobile": {"nasnet": False},
        "resnet50": {},
    }
