"""``nas draw``: whole networks as stage diagrams, and the diff of two cells (``--diff A B``)."""

from __future__ import annotations

import json

import pytest

import nas
from nas.cli import main
from nas.core.genotype import Cell, Node
from nas.tools.draw import cell_diff, cells_to_compare, draw_diff, draw_network
from nas.tools.stagediagram import network_figure_size


def _picture_ok(path) -> None:
    data = path.read_bytes()
    assert len(data) > 5000
    assert data.startswith(b"\x89PNG") if path.suffix == ".png" else b"<svg" in data[:2000]


def test_resnet50_stage_diagram_from_the_command_line(capsys, tmp_path) -> None:
    path = tmp_path / "r50.svg"
    assert main(["draw", "resnet50", "--network", "-o", str(path)]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    _picture_ok(path)
    text = path.read_text()
    for label in ("3 × bottleneck", "6 × bottleneck", "2048×7×7", "25.56 M params"):
        assert label in text  # SVG keeps text as text: the boxes say what they should


@pytest.mark.parametrize(
    ("arch", "shapes", "params"),
    [
        # (output shape after the stem, after each stage, of the head), total parameters (torchvision's)
        (
            "resnet50",
            [(64, 56, 56), (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7), (1000,)],
            25_557_032,
        ),
        (
            "efficientnet_b0",
            [
                (32, 112, 112),
                (16, 112, 112),
                (24, 56, 56),
                (40, 28, 28),
                (80, 14, 14),
                (112, 14, 14),
                (192, 7, 7),
                (320, 7, 7),
                (1000,),
            ],
            5_288_548,
        ),  # fmt: skip
        (
            "nasnet_a_cifar",
            [(96, 32, 32), (192, 32, 32), (256, 16, 16), (384, 16, 16), (512, 8, 8), (768, 8, 8), (10,)],
            None,
        ),  # fmt: skip
    ],
)
def test_stage_diagram_of_macro_and_cell_networks(tmp_path, arch, shapes, params) -> None:
    from nas.tools.draw import _pyplot

    plt = _pyplot()
    g = nas.resolve(arch)
    fig, ax = plt.subplots(figsize=network_figure_size(g))
    parts = draw_network(g, ax)
    boxes = [t.get_text() for t in ax.texts if t.get_text()]  # arrows are empty annotations
    assert len(boxes) == len(parts) and boxes[0].startswith("input")  # the figure's size: top to bottom
    path = tmp_path / f"{arch}.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    _picture_ok(path)
    assert [p.kind for p in parts][:2] == ["input", "stem"] and parts[-1].kind == "head"
    assert [p.shape for p in parts[1:]] == shapes
    stages = parts[2:-1]
    assert [(p.cell, p.repeats, p.width, p.stride) for p in stages] == [
        (s.cell.name, s.repeats, s.width, s.stride) for s in g.stages
    ]
    assert all((p.kind == "reduce") == (p.stride > 1) for p in stages)
    if params is not None:
        assert sum(p.params for p in parts) == params


def test_stage_diagram_wraps_left_to_right_on_a_wide_axis(tmp_path) -> None:
    from nas.tools.draw import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(12, 3))
    parts = draw_network("resnet20", ax)
    texts = [t.get_text() for t in ax.texts if t.get_text()]  # arrows are empty annotations
    plt.close(fig)
    # across: the input's shape joins the stem's box, one setting a line
    assert len(texts) == len(parts) - 1 and texts[0].startswith("in 3×32×32\nstem: ")
    with pytest.raises(ValueError, match="direction"):
        draw_network("resnet20", ax, direction="sideways")
    with pytest.raises(TypeError, match="not a single cell"):
        draw_network(nas.resolve("resnet20").stem, ax)


# ------------------------------------------------------------------------------------------- diff

NORMAL_CHANGED = {
    "n3_0": ("skip project=factorized ch=C", "sep_conv kernel=3 ch=C"),
    "n4_0": ("skip project=factorized ch=C", "sep_conv kernel=3 ch=C"),
    "n4_1": ("sep_conv kernel=3 ch=C", "skip project=factorized ch=C"),
    "n5_0": ("sep_conv kernel=3 ch=C", "skip project=factorized ch=C"),
    "n5_1": ("skip project=factorized ch=C", "dil_conv kernel=3 ch=C"),
}


def test_diff_of_darts_v1_and_v2_lists_exactly_the_differing_ops_and_edges(tmp_path) -> None:
    v1, v2 = nas.resolve("darts_v1_cifar"), nas.resolve("darts_v2_cifar")
    pairs = cells_to_compare(v1, v2)
    assert [(r, a.name, b.name) for r, a, b in pairs] == [
        ("normal", "darts_v1_normal", "darts_v2_normal"),
        ("reduce", "darts_v1_reduce", "darts_v2_reduce"),
    ]
    normal, reduce = draw_diff(v1, v2, tmp_path / "diff.png")
    _picture_ok(tmp_path / "diff.png")
    assert {n: (a, b) for n, a, b in normal.changed} == NORMAL_CHANGED
    assert set(normal.added_edges) == {("pre0", "n2_0"), ("pre1", "n2_1"), ("pre1", "n4_0"), ("pre0", "n4_1")}
    assert set(normal.removed_edges) == {
        ("pre1", "n2_0"),
        ("pre0", "n2_1"),
        ("pre0", "n4_0"),
        ("pre1", "n4_1"),
    }
    assert normal.added_nodes == normal.removed_nodes == () and normal.output is None
    assert [(n, a, b) for n, a, b in reduce.changed] == [
        ("n5_1", "pool kind=avg ch=C s=cell", "pool kind=max ch=C s=cell")
    ]
    assert set(reduce.added_edges) == {("pre1", "n3_1"), ("pre1", "n5_1")}
    assert set(reduce.removed_edges) == {("pre0", "n3_1"), ("pre0", "n5_1")}
    # and the diff is symmetric: B → A swaps added and removed
    back = cell_diff(pairs[0][2], pairs[0][1])
    assert set(back.added_edges) == set(normal.removed_edges) and len(back.changed) == 5


def test_identical_cells_give_an_empty_diff(capsys, tmp_path) -> None:
    v2 = nas.resolve("darts_v2_cifar")
    normal = v2.stages[0].cell
    assert cell_diff(normal, normal).empty
    path = tmp_path / "same.png"
    assert (
        main(["draw", "--diff", "darts_v2_cifar", "darts_v2_cifar", "-o", str(path), "--format", "json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [d["changed"] + d["added_edges"] + d["removed_edges"] for d in out["diffs"]] == [[], []]
    assert path.stat().st_size > 5000
    assert cell_diff(normal, normal).lines() == ["darts_v2_normal vs darts_v2_normal: identical"]


def test_diff_command_prints_one_line_per_difference(capsys, tmp_path) -> None:
    path = tmp_path / "d.svg"
    assert main(["draw", "--diff", "darts_v1_cifar", "darts_v2_cifar", "-o", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  ~ n5_1: skip project=factorized ch=C → dil_conv kernel=3 ch=C" in out
    assert "  - edge pre0 → n5_1" in out and out[-1] == str(path)
    # the legend and the titles name both sides
    svg = path.read_text()
    assert "only in darts_v1_cifar (removed)" in svg and "darts_v1_cifar: normal cell" in svg


def test_diff_of_added_removed_and_renamed_nodes() -> None:
    a = Cell("a", (Node("c", "conv", ("x",), attrs={"kernel": 3}), Node("p", "pool", ("c",))), "p")
    b = Cell("b", (Node("c", "conv", ("x",), attrs={"kernel": 5}), Node("q", "relu", ("c",))), "q")
    d = cell_diff(a, b)
    assert d.added_nodes == ("q",) and d.removed_nodes == ("p",)
    assert d.changed == (("c", "conv kernel=3", "conv kernel=5"),)
    assert d.added_edges == (("c", "q"),) and d.removed_edges == (("c", "p"),)
    assert d.output == ("p", "q") and not d.empty
    assert "  ~ output: p → q" in d.lines()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["draw", "-o", "x.png"], "draw needs an architecture (ARCH) or --diff A B"),
        (
            ["draw", "resnet20", "--diff", "a", "b", "-o", "x.png"],
            "--diff: takes the two architectures itself",
        ),
        (["draw", "resnet20", "--network", "--cell", "stem", "-o", "x.png"], "--cell: picks one cell"),
        (["draw", "--diff", "darts_v2_cifar", "nope_net", "-o", "x.png"], "nope_net"),
        (
            ["draw", "--diff", "darts_v1_cifar", "darts_v2_cifar", "-o", "x.txt"],
            "must end in .png, .svg or .pdf",
        ),
    ],
)
def test_draw_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, message) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nas: error: ") and message in err[0]


def test_the_b_side_of_a_diff_keeps_a_s_node_places() -> None:
    from nas.tools.draw import _pyplot, draw_cell

    plt = _pyplot()
    a = Cell("a", (Node("c", "conv", ("x",)), Node("p", "pool", ("c",))), "p")
    b = Cell("b", (Node("c", "conv", ("x",)), Node("d", "conv", ("x",)), Node("q", "pool", ("c", "d"))), "q")
    fig, (left, right) = plt.subplots(1, 2)
    pos_a = draw_cell(a, left)
    pos_b = draw_cell(b, right, like=pos_a)
    plt.close(fig)
    assert pos_b["x"] == pos_a["x"] and pos_b["c"] == pos_a["c"] == (0.0, -1.0)
    assert pos_b["d"] == (1.0, -1.0)  # its own place (0.5) was too close to c's: the end of its layer
    assert len(set(pos_b.values())) == len(pos_b)
