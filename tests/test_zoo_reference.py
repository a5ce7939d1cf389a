"""The whole zoo, driven by the registry: every entry with a torchvision ``reference`` is exact
(parameters, MACs, outputs after transfer); every entry round-trips through JSON and validates;
depths follow the naming convention; ``nas.build(name, weights="torchvision")`` loads local weights.

What counts as ``slow`` is computed from the genotypes (and torchvision's published parameter
counts), so new zoo entries need no list here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import nas
from nas.cli import main
from nas.tools.describe import describe
from nas.weights.reference import compare

MAX_FAST_NODES = 220  # meta-device work (validate, describe) grows with the number of nodes
MAX_FAST_REFERENCE_NODES = 170  # a comparison also initialises, copies and runs both models
MAX_FAST_PARAMS = 50_000_000


def n_nodes(g: nas.Network) -> int:
    """Nodes in the unrolled network (stem, every repeat of every stage cell, heads)."""
    cells = [
        (g.stem, 1),
        (g.head, 1),
        *((s.cell, s.repeats) for s in g.stages),
        *((a.head, 1) for a in g.aux),
    ]
    return sum(len(c.nodes) * r for c, r in cells)


def reference_params(name: str) -> int:
    """torchvision's published parameter count of the reference (no model is built)."""
    ref = nas.ARCHS.entry(name).meta["reference"]
    return torchvision.models.get_model_weights(ref).DEFAULT.meta["num_params"]


def is_slow_reference(name: str) -> bool:
    return n_nodes(nas.resolve(name)) > MAX_FAST_REFERENCE_NODES or reference_params(name) > MAX_FAST_PARAMS


def cases(names: list[str], slow) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if slow(n) else n for n in names]


ALL = list(nas.ARCHS)
REFERENCED = [n for n in ALL if nas.ARCHS.entry(n).meta.get("reference")]
DEPTH_NAME = re.compile(r"^(?:preact_)?(?:resnet|vgg|densenet)(\d+)(?:_bn)?$")  # depth is in the name


def big(name: str) -> bool:
    return n_nodes(nas.resolve(name)) > MAX_FAST_NODES


def test_slow_selection_is_sane() -> None:
    fast = [n for n in REFERENCED if not is_slow_reference(n)]
    assert {"resnet18", "resnet50", "resnext50_32x4d"} <= set(fast)  # the others are in test_zoo_<family>
    assert {"vgg16", "alexnet", "resnet152", "densenet201", "efficientnet_b7"}.isdisjoint(fast)


@pytest.mark.parametrize("name", cases(REFERENCED, is_slow_reference))
def test_exact_vs_torchvision(name: str) -> None:
    size = nas.ARCHS.entry(name).meta.get("test_size")
    assert isinstance(size, int), f"{name}: registry entry needs test_size="
    r = compare(name, size)
    assert r["params"] == r["reference_params"]
    assert r["macs"] == r["reference_macs"] > 0  # per image
    assert r["max_rel_diff"] < 1e-5


@pytest.mark.parametrize("name", cases(REFERENCED, big))
def test_params_equal_published(name: str) -> None:
    """Cheaper than a comparison (meta device, no reference built): our parameter count equals the
    one torchvision publishes with its weights (GoogLeNet's without its auxiliary heads)."""
    with torch.device("meta"):
        g = nas.resolve(name)
        counts = {sum(p.numel() for p in nas.build(v).parameters()) for v in {g, g.replace(aux=())}}
    assert reference_params(name) in counts


@pytest.mark.parametrize("name", ["alexnet", "vgg11"])
def test_test_size_is_the_smallest(name: str) -> None:
    g, size = nas.resolve(name), nas.ARCHS.entry(name).meta["test_size"]
    nas.validate(g.replace(input_size=(3, size, size)))
    with pytest.raises(ValueError, match="cannot take input of shape"):
        nas.validate(g.replace(input_size=(3, size - 1, size - 1)))


def test_json_round_trip_every_entry() -> None:
    for name in ALL:
        g = nas.resolve(name)
        assert nas.from_json(g.to_json()) == g, name


@pytest.mark.parametrize("name", cases(ALL, big))
def test_every_entry_validates(name: str) -> None:
    g = nas.from_json(nas.resolve(name).to_json())
    assert nas.validate(g) == g
    size = nas.ARCHS.entry(name).meta.get("test_size")
    if size is not None:
        nas.validate(g.replace(input_size=(g.input_size[0], size, size)))


@pytest.mark.parametrize("name", cases([n for n in ALL if DEPTH_NAME.match(n)], big))
def test_depth_is_in_the_name(name: str) -> None:
    assert describe(name)["depth"] == int(DEPTH_NAME.match(name).group(1))


def test_zoo_check_cli_uses_test_size(capsys) -> None:
    code = main(["zoo", "check", "googlenet"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and r["match"] and r["input_size"] == [3, 15, 15]


# --- nas.build(name, weights="torchvision") ---------------------------------------------------------


def test_build_weights_not_cached(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ValueError, match="pretrained weights are not on this machine: expected .*resnet18-"):
        nas.build("resnet18", weights="torchvision")


def test_build_weights_bad_arguments() -> None:
    with pytest.raises(ValueError, match="weights must be None or 'torchvision', got 'imagenet'"):
        nas.build("resnet18", weights="imagenet")
    with pytest.raises(ValueError, match="has no reference implementation"):
        nas.build("resnet20", weights="torchvision")
    with pytest.raises(ValueError, match="needs a zoo name"):
        nas.build(nas.resolve("resnet18"), weights="torchvision")


def test_build_weights_from_local_cache(monkeypatch, tmp_path) -> None:
    """A state_dict saved under torchvision's file name in a (fake) hub cache is loaded and
    transferred: our outputs equal the torchvision model's with those weights. Nothing is downloaded."""
    ref = torchvision.models.mobilenet_v2()
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    from nas.weights.hubfile import sha256

    enum = torchvision.models.get_model_weights("mobilenet_v2").DEFAULT
    (tmp_path / "checkpoints").mkdir()
    staged = tmp_path / "checkpoints" / "staged.pth"
    torch.save(ref.state_dict(), staged)
    # its file name must carry its SHA-256 prefix, as torchvision's published ones do
    monkeypatch.setattr(enum.value, "url", f"https://x/mobilenet_v2-{sha256(staged)[:8]}.pth")
    staged.rename(tmp_path / "checkpoints" / Path(enum.url).name)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    ours = nas.build("mobilenet_v2", input_size=32, weights="torchvision").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = ref.eval()(x), ours(x)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5
