"""Genotype values: immutability, equality, hashing, JSON round trip, canonical keys."""

import dataclasses
import json

import pytest

import nas
from cells import basic_block, bottleneck, darts_cell, dense_layer, inception_module, mbconv
from nas.core.genotype import Cell, Node, parse_channels, resolve_channels
from nas.core.graph import KeyIndex, canonical_key
from search_spaces.zoo.nas_cells import DARTS_V2

DARTS_V2_NORMAL, DARTS_V2_REDUCE = list(DARTS_V2.normal), list(DARTS_V2.reduce)

ALL_CELLS = [
    basic_block(),
    bottleneck(),
    dense_layer(32),
    inception_module("3a", 64, 96, 128, 16, 32, 32),
    mbconv("mb6", 6, 5),
    darts_cell("normal", DARTS_V2_NORMAL, [2, 3, 4, 5], False),
]


def test_genotype_is_immutable_and_hashable():
    g = nas.resolve("resnet50")
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.name = "x"  # type: ignore[misc]
    assert hash(g) == hash(nas.resolve("resnet50"))
    assert {g, nas.resolve("resnet50")} == {g}
    assert g != nas.resolve("resnet101")


def test_attrs_normalised_from_dict_and_list():
    a = Node("c", "conv", ["x"], attrs={"kernel": [1, 7], "groups": 2})
    b = Node("c", "conv", ("x",), attrs=(("groups", 2), ("kernel", (1, 7))))
    assert a == b and hash(a) == hash(b)
    assert a.kwargs == {"groups": 2, "kernel": (1, 7)}


@pytest.mark.parametrize("name", ["alexnet", "resnet50", "resnet20", "vgg16_bn", "resnext50_32x4d"])
def test_network_json_round_trip(name):
    g = nas.resolve(name)
    text = g.to_json()
    assert json.loads(text)["schema"] == "nas.genotype/2"
    back = nas.from_json(text)
    assert back == g and hash(back) == hash(g)
    assert back.to_json() == text


@pytest.mark.parametrize("cell", ALL_CELLS, ids=lambda c: c.name)
def test_cell_json_round_trip(cell):
    assert nas.from_json(cell.to_json()) == cell


def test_save_and_load(tmp_path):
    g = nas.resolve("resnet18")
    path = nas.save(g, tmp_path / "g" / "resnet18.json")
    assert nas.load(path) == g
    assert nas.resolve(str(path)) == g


def _cell(order: list[int], names: list[str]) -> Cell:
    """Two branches (3×3 conv, 5×5 conv) of x, summed: written in the order given, with given names."""
    a, b, s = names
    nodes = [
        Node(a, "conv", ("x",), channels="C", attrs={"kernel": 3}),
        Node(b, "conv", ("x",), channels="C", attrs={"kernel": 5}),
        Node(s, "relu", (a, b)),
    ]
    return Cell("c", tuple(nodes[i] for i in order), s)


def test_isomorphic_cells_share_a_key():
    c1 = _cell([0, 1, 2], ["a", "b", "s"])
    c2 = _cell([1, 0, 2], ["p", "q", "r"])  # reordered and renamed
    assert c1 != c2
    assert canonical_key(c1) == canonical_key(c2)
    n1 = darts_cell("n", DARTS_V2_NORMAL, [2, 3, 4, 5], False)
    swapped = [DARTS_V2_NORMAL[1], DARTS_V2_NORMAL[0], *DARTS_V2_NORMAL[2:]]  # order of a node's two inputs
    assert canonical_key(n1) == canonical_key(darts_cell("m", swapped, [2, 3, 4, 5], False))


def test_non_isomorphic_cells_differ():
    base = _cell([0, 1, 2], ["a", "b", "s"])
    other_op = Cell(
        "c", (base.nodes[0], dataclasses.replace(base.nodes[1], attrs={"kernel": 7}), base.nodes[2]), "s"
    )
    assert canonical_key(base) != canonical_key(other_op)
    n1 = darts_cell("n", DARTS_V2_NORMAL, [2, 3, 4, 5], False)
    rewired = list(DARTS_V2_NORMAL)
    rewired[7] = ("dil_conv_3x3", 4)  # same ops, different wiring
    assert canonical_key(n1) != canonical_key(darts_cell("n", rewired, [2, 3, 4, 5], False))
    rewired[7] = ("dil_conv_3x3", 3)  # nodes 2 and 3 are alike: reading either is the same cell
    assert canonical_key(n1) == canonical_key(darts_cell("n", rewired, [2, 3, 4, 5], False))
    rewired[7] = ("dil_conv_3x3", 1)
    assert canonical_key(n1) != canonical_key(darts_cell("n", rewired, [2, 3, 4, 5], False))
    # which cell input an edge reads matters (h[i-2] vs h[i-1])
    inputs_swapped = [(op, {0: 1, 1: 0}.get(i, i)) for op, i in DARTS_V2_NORMAL]
    assert canonical_key(n1) != canonical_key(darts_cell("n", inputs_swapped, [2, 3, 4, 5], False))


def test_network_keys():
    assert canonical_key(nas.resolve("resnet50")) == canonical_key(nas.resolve("resnet50"))
    assert canonical_key(nas.resolve("resnet50")) != canonical_key(nas.resolve("resnet101"))
    assert canonical_key(nas.resolve("resnet50")) != canonical_key(
        nas.resolve("resnet50").replace(num_classes=10)
    )


def test_key_index_dedups_and_separates_collisions(monkeypatch):
    idx = KeyIndex()
    c1, c2 = _cell([0, 1, 2], ["a", "b", "s"]), _cell([1, 0, 2], ["p", "q", "r"])
    assert idx.key(c1) == idx.key(c2)
    assert len(idx) == 1
    # Force a hash collision: the exact isomorphism check must still tell the cells apart.
    monkeypatch.setattr("nas.core.graph.canonical_key", lambda g: "same")
    idx2 = KeyIndex()
    other = darts_cell("n", DARTS_V2_NORMAL, [2, 3, 4, 5], False)
    assert idx2.key(c1) == "same"
    assert idx2.key(other) == "same#1"
    assert idx2.key(c2) == "same"
    assert len(idx2) == 2


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (64, 64),
        ("C", 256),
        ("C*0.25", 64),
        ("Cin/4", 8),
        ("in*6", 96),
        ("K", 10),
        (None, 16),
        ("Cin*0.25", 8),
    ],
)
def test_channel_specs(spec, value):
    assert resolve_channels(spec, C=256, Cin=32, inp=16, K=10) == value


@pytest.mark.parametrize("spec", ["D*2", "C*-1", "C/0", "", "in**2", 0, -3])
def test_bad_channel_specs(spec):
    with pytest.raises(ValueError, match="channels"):
        parse_channels(spec)
