"""Every validation error names the cell, the node and the field."""

import dataclasses

import pytest

import nas
from cells import basic_block
from nas.core.genotype import Cell, Network, Node, Stage, chain


def cell(*nodes: Node, output: str = "out", inputs=("x",)) -> Cell:
    return Cell("bad", tuple(nodes), output, inputs)


def net(c: Cell, width: int | None = 8, stride: int = 1) -> Network:
    stem = chain("stem", [("conv", {"channels": 8, "kernel": 3})])
    head = chain("head", [("adaptive_avgpool",), ("flatten",), ("linear", {"channels": "K"})])
    return Network("n", stem, (Stage(c, 1, width, stride),), head, (3, 16, 16), 10)


def check(c: Cell, match: str, **kw) -> None:
    with pytest.raises(ValueError, match=match):
        nas.validate(net(c, **kw))


def test_cycle():
    c = cell(Node("a", "relu", ("x", "out")), Node("out", "relu", ("a",)))
    check(c, r"cell 'bad': node '(a|out)': field 'inputs' forms a cycle")


def test_unreachable():
    c = cell(Node("a", "relu", ("b",)), Node("b", "relu", ("a",)), Node("out", "relu", ("x", "a")))
    check(c, r"cell 'bad': node '(a|b)' is unreachable from the cell inputs \['x'\]")


def test_dangling():
    c = cell(Node("a", "relu", ("x",)), Node("out", "relu", ("x",)))
    check(c, r"cell 'bad': node 'a' is dangling: its result never reaches output 'out'")


def test_missing_input():
    c = cell(Node("out", "relu", ("x", "ghost")))
    check(c, r"cell 'bad': node 'out': field 'inputs' refers to 'ghost', which does not exist")


def test_missing_output():
    c = cell(Node("a", "relu", ("x",)), output="nowhere")
    check(c, r"cell 'bad': field 'output' refers to 'nowhere', which is not a node of the cell")


def test_duplicate_node_name():
    c = cell(Node("out", "relu", ("x",)), Node("out", "relu", ("x",)))
    check(c, r"cell 'bad': node 'out': field 'name' is used twice")


def test_unknown_op():
    c = cell(Node("out", "conv9000", ("x",)))
    check(c, r"cell 'bad': node 'out': op 'conv9000'|unknown op 'conv9000'")
    with pytest.raises(ValueError, match=r"unknown op 'conv9000'"):
        nas.validate(c)


def test_stride_mismatch_at_sum():
    c = cell(
        Node("a", "conv", ("x",), channels="C", stride=2),
        Node("out", "relu", ("a", "x")),
    )
    check(
        c,
        r"cell 'bad': node 'out': spatial/stride mismatch at sum: input 'x' is 16x16 \(stride 1\), "
        r"input 'a' is 8x8 \(stride 2\)",
    )


def test_channel_mismatch_at_sum():
    c = cell(Node("a", "conv", ("x",), channels=16), Node("out", "relu", ("a", "x")))
    check(c, r"cell 'bad': node 'out': channel mismatch at sum: input 'x' has 8 channels, input 'a' has 16")


def test_spatial_mismatch_at_concat():
    c = cell(
        Node("a", "maxpool", ("x",), stride=2, attrs={"kernel": 2}),
        Node("out", "identity", ("a", "x"), combine="concat"),
    )
    check(c, r"node 'out': spatial/stride mismatch at concat")


def test_channels_change_on_channel_keeping_op():
    c = cell(Node("out", "bn", ("x",), channels=4))
    check(
        c, r"cell 'bad': node 'out': op 'bn': bn keeps its channels: input has 8, field 'channels' asks for 4"
    )


def test_bad_attr_names_the_node_and_op():
    c = cell(Node("out", "conv", ("x",), attrs={"kernal": 3}))
    check(c, r"cell 'bad': node 'out': op 'conv': .*kernal")


def test_relative_width_without_stage_width():
    c = cell(Node("out", "conv", ("x",), channels="C*2"))
    check(c, r"refers to the cell width C, but the stage has no width", width=None)


@pytest.mark.parametrize("width", [0, -4])
def test_non_positive_width(width):
    with pytest.raises(ValueError, match=r"stage of cell 'basic': field 'width' must be a positive int"):
        Stage(basic_block(), 2, width, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"repeats": 0}, "field 'repeats' must be a positive int"),
        ({"stride": 0}, "field 'stride' must be a positive int"),
    ],
)
def test_bad_stage_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Stage(basic_block(), **{"repeats": 1, "width": 8, "stride": 1, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channels": 0}, r"node 'n': field 'channels': channels must be positive"),
        ({"channels": "Z*2"}, r"node 'n': field 'channels': channels spec 'Z\*2'"),
        ({"combine": "max"}, r"node 'n': field 'combine' must be one of"),
        ({"stride": 0}, r"node 'n': field 'stride' must be a positive int"),
        ({"inputs": ()}, r"node 'n': field 'inputs' must be a non-empty list"),
        ({"attrs": {"k": {"nested": 1}}}, r"node 'n' attr 'k': attribute values must be JSON scalars"),
    ],
)
def test_bad_node_fields(kwargs, match):
    fields = {"name": "n", "op": "relu", "inputs": ("x",), **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        Node(**fields)


def test_network_fields():
    good = net(basic_block())
    with pytest.raises(ValueError, match=r"network 'n': field 'input_size'"):
        dataclasses.replace(good, input_size=(3, 0, 16))
    with pytest.raises(ValueError, match=r"network 'n': field 'num_classes'"):
        dataclasses.replace(good, num_classes=0)
    with pytest.raises(ValueError, match=r"network 'n': field 'drop_path'"):
        dataclasses.replace(good, drop_path=1.5)


def test_head_must_produce_logits():
    bad_head = chain("head", [("adaptive_avgpool",), ("flatten",)])
    with pytest.raises(ValueError, match=r"field 'head' must produce \(10,\) logits"):
        nas.validate(dataclasses.replace(net(basic_block()), head=bad_head))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "not valid JSON"),
        ('{"schema": "other/9", "kind": "cell"}', "field 'schema' must be 'nas.genotype/2'"),
        ('{"schema": "nas.genotype/1", "kind": "blob"}', "field 'kind' must be 'network' or 'cell'"),
        (
            '{"schema": "nas.genotype/1", "kind": "cell", "name": "c", "nodes": [], "output": "o", '
            '"colour": 1}',
            "cell 'c': unknown field\\(s\\) 'colour'",
        ),
    ],
)
def test_bad_json(text, match):
    with pytest.raises(ValueError, match=match):
        nas.from_json(text)


def test_image_too_small_for_network():
    with pytest.raises(ValueError, match="cannot take input of shape"):
        nas.validate(nas.resolve("alexnet").replace(input_size=(3, 32, 32)))
