"""Genotype files: schema v2 (a ``cells`` map, explicit ``combine``, compact lines), v1 files still load."""

import json
from pathlib import Path

import pytest
import torch

import nas
from nas.cli import main
from nas.core.genotype import Cell, Network, Node, Stage, chain
from nas.core.jsontext import dumps

DATA = Path(__file__).parent / "data"


def _module_outputs(g: Network, size: int) -> tuple[int, torch.Tensor]:
    torch.manual_seed(0)
    model = nas.build(g).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1)))
    return sum(p.numel() for p in model.parameters()), out


@pytest.mark.parametrize(("name", "size"), [("resnet50", 64), ("darts_v2_cifar", 32)])
def test_committed_v1_file_loads_and_compiles_to_the_same_module(name, size):
    path = DATA / f"{name}.v1.json"
    assert json.loads(path.read_text())["schema"] == "nas.genotype/1"
    old, zoo = nas.load(path), nas.resolve(name)
    assert old == zoo and hash(old) == hash(zoo)
    (p_old, y_old), (p_zoo, y_zoo) = _module_outputs(old, size), _module_outputs(zoo, size)
    assert p_old == p_zoo
    assert torch.equal(y_old, y_zoo)
    assert nas.from_json(old.to_json(indent=1)) == zoo  # and it is rewritten as v2


@pytest.mark.parametrize(("name", "limit"), [("resnet50", 150), ("darts_v2_cifar", 300)])
def test_zoo_export_is_short_and_writes_each_cell_once(tmp_path, capsys, name, limit):
    path = tmp_path / f"{name}.json"
    assert main(["zoo", "export", name, "-o", str(path)]) == 0
    capsys.readouterr()
    text = path.read_text()
    assert len(text.splitlines()) < limit
    doc = json.loads(text)
    g = nas.resolve(name)
    assert doc["schema"] == "nas.genotype/2"
    assert len(doc["cells"]) == len(g.cells())
    assert all(isinstance(s["cell"], str) for s in doc["stages"])
    assert nas.load(path) == g


def test_several_inputs_always_write_combine():
    doc = json.loads(nas.resolve("darts_v2_cifar").to_json())
    nodes = [n for c in doc["cells"].values() for n in c["nodes"]]
    multi = [n for n in nodes if len(n["inputs"]) > 1]
    assert multi and all(n["combine"] in ("sum", "concat", "mul") for n in multi)
    assert all("combine" not in n for n in nodes if len(n["inputs"]) == 1)  # one input, default sum


def test_a_one_input_node_writes_a_combine_that_is_not_sum():
    cell = Cell("c", (Node("n", "identity", ("x",), combine="concat"),), "n")
    assert json.loads(cell.to_json())["nodes"][0]["combine"] == "concat"
    assert nas.from_json(cell.to_json()) == cell


def _two_blocks_one_name() -> Network:
    a = chain("block", [("conv", {"channels": "C", "kernel": 3}), ("bn",)])
    b = chain("block", [("conv", {"channels": "C", "kernel": 1}), ("bn",)])
    odd = chain("block#2", [("relu",)])  # a cell whose own name is the first spare reference
    return Network(
        "twins",
        stem=chain("stem", [("conv", {"channels": 8, "kernel": 3})]),
        stages=(Stage(a, 1, 8), Stage(odd, 1, 8), Stage(b, 2, 16, 2), Stage(a, 1, 16)),
        head=chain("head", [("adaptive_avgpool",), ("flatten",), ("linear", {"channels": "K"})]),
        input_size=(3, 16, 16),
        num_classes=3,
    )


def test_different_cells_with_one_name_get_distinct_references():
    g = _two_blocks_one_name()
    doc = json.loads(g.to_json())
    assert [s["cell"] for s in doc["stages"]] == ["block", "block#2", "block#3", "block"]
    assert "name" not in doc["cells"]["block"] and "name" not in doc["cells"]["block#2"]
    assert doc["cells"]["block#3"]["name"] == "block"
    back = nas.from_json(g.to_json(indent=1))
    assert back == g and hash(back) == hash(g)
    assert g.to_json() == back.to_json()  # deterministic


def _doc(**change) -> str:
    doc = json.loads(nas.resolve("darts_v2_cifar").to_json())
    for k, v in change.items():
        doc[k] = v
    return json.dumps(doc)


def test_v2_errors_name_the_field():
    with pytest.raises(ValueError, match=r"field 'stages\[1\].cell' must name an entry of 'cells'"):
        doc = json.loads(_doc())
        doc["stages"][1]["cell"] = "nope"
        nas.from_json(json.dumps(doc))
    with pytest.raises(ValueError, match=r"field 'head' must name an entry of 'cells'"):
        nas.from_json(_doc(head={"inputs": ["x"]}))
    with pytest.raises(ValueError, match=r"field 'cells' must be an object"):
        nas.from_json(_doc(cells=[]))
    doc = json.loads(_doc())
    doc["cells"]["spare"] = doc["cells"]["head"]
    with pytest.raises(ValueError, match=r"field 'cells' has unused entries 'spare'"):
        nas.from_json(json.dumps(doc))
    doc = json.loads(_doc())
    node = next(n for n in doc["cells"]["darts_v2_normal"]["nodes"] if len(n["inputs"]) > 1)
    del node["combine"]
    with pytest.raises(ValueError, match=rf"node {node['name']!r}: field 'combine' is required"):
        nas.from_json(json.dumps(doc))


def test_compact_json_keeps_what_fits_on_a_line():
    value = {"shape": [3, 224, 224], "rows": [{"a": 1, "b": [1, 2]}] * 3, "long": list(range(60)), "e": []}
    text = dumps(value, indent=1, width=40)
    assert json.loads(text) == value
    lines = text.splitlines()
    assert ' "shape": [3, 224, 224],' in lines
    assert '  {"a": 1, "b": [1, 2]},' in lines
    assert all(len(line) <= 40 for line in lines)
    assert dumps(value, indent=2, width=10_000) == json.dumps(value, separators=(", ", ": "))
