"""Inception family vs torchvision: GoogLeNet (with and without aux heads) and Inception-v3.

Exactness: equal parameter counts, and equal outputs (max relative error < 1e-5, fp32) after
``nas.transfer``, in eval mode and, with the same RNG seed, in training mode (aux heads included).
"""

from __future__ import annotations

import pytest
import torch
import torchvision

import nas
from nas.core.registry import ARCHS


def _numel(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / a.abs().max()).item()


def _pair(name: str, size: int, genotype: nas.Network | None = None, **ref_kwargs):
    meta = ARCHS.entry(name).meta
    torch.manual_seed(0)
    ref = getattr(torchvision.models, meta["reference"])(
        weights=None, **{**meta["reference_kwargs"], **ref_kwargs}
    )
    ours = nas.build(genotype or ARCHS[name](), input_size=size)
    return ref, ours


@pytest.mark.parametrize(
    "name, expected",
    [
        # the pretrained layout (its weights drop the aux heads)
        ("googlenet", torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1.meta["num_params"]),  # 6,624,904
        ("googlenet_aux", 13_004_888),  # + 2 × InceptionAux (3,188,968 and 3,191,016)
        (
            "inception_v3",
            torchvision.models.Inception_V3_Weights.IMAGENET1K_V1.meta["num_params"],
        ),  # 27,161,264
    ],
)
def test_param_counts(name: str, expected: int) -> None:
    meta = ARCHS.entry(name).meta
    with torch.device("meta"):
        ref = getattr(torchvision.models, meta["reference"])(weights=None, **meta["reference_kwargs"])
        ours = nas.build(name)
    assert _numel(ours) == _numel(ref) == expected


@pytest.mark.parametrize(
    "name, size",
    [
        ("googlenet", 15),  # torchvision's min_size; = our test_size
        ("googlenet", 64),
        ("googlenet_aux", 15),
        ("googlenet_aux", 64),
        ("inception_v3", 299),  # the aux head (5×5 valid conv on pooled Mixed_6e) needs the full 299 px
    ],
)
def test_outputs_after_transfer(name: str, size: int) -> None:
    ref, ours = _pair(name, size)
    assert nas.transfer(ref, ours) > 0
    x = torch.randn(2, 3, size, size)
    ref.eval()
    ours.eval()
    with torch.no_grad():
        assert _rel(ref(x), ours(x)) < 1e-5


def test_inception_v3_small_input_without_aux() -> None:
    # 75 px (torchvision's min_size) is the smallest input for the main path; our compiler builds the
    # aux head at any mode, and it cannot take Mixed_6e's 3×3 map there, so drop it on both sides.
    assert ARCHS.entry("inception_v3").meta["test_size"] == 299
    with pytest.raises(ValueError, match="inception_v3_aux"):
        nas.validate(ARCHS["inception_v3"]().replace(input_size=(3, 298, 298)))
    g = ARCHS["inception_v3"]().replace(aux=())
    ref, ours = _pair("inception_v3", 75, g, aux_logits=False)
    assert _numel(ref) == _numel(ours) == 27_161_264 - 3_326_696 == 23_834_568  # minus InceptionAux
    nas.transfer(ref, ours)
    x = torch.randn(2, 3, 75, 75)
    ref.eval()
    ours.eval()
    with torch.no_grad():
        assert _rel(ref(x), ours(x)) < 1e-5
    with pytest.raises(ValueError):
        nas.validate(g.replace(input_size=(3, 74, 74)))


def test_googlenet_aux_heads_match_and_order() -> None:
    ref, ours = _pair("googlenet_aux", 32)
    # each aux head has torchvision's InceptionAux structure (transfer checks layer types and shapes)
    assert [_numel(a) for a in ours.aux] == [_numel(ref.aux1), _numel(ref.aux2)] == [3_188_968, 3_191_016]
    assert [a.after for a in ours.genotype.aux] == [3, 6]  # inception4a, inception4d
    nas.transfer(ref, ours)
    x = torch.randn(4, 3, 32, 32)
    ref.train()
    ours.train()
    torch.manual_seed(1)
    r = ref(x)  # GoogLeNetOutputs(logits, aux_logits2, aux_logits1)
    torch.manual_seed(1)
    o = ours(x)  # (logits, aux1, aux2): aux heads come in network order, torchvision's are reversed
    assert len(o) == 3
    assert _rel(r.logits, o[0]) < 1e-5
    assert _rel(r.aux_logits1, o[1]) < 1e-5
    assert _rel(r.aux_logits2, o[2]) < 1e-5


def test_inception_v3_aux_training_outputs() -> None:
    ref, ours = _pair("inception_v3", 299)
    assert _numel(ours.aux[0]) == _numel(ref.AuxLogits) == 3_326_696
    nas.transfer(ref, ours)
    x = torch.randn(2, 3, 299, 299)
    ref.train()
    ours.train()
    torch.manual_seed(1)
    r = ref(x)  # InceptionOutputs(logits, aux_logits): same order as ours
    torch.manual_seed(1)
    o = ours(x)
    assert _rel(r.logits, o[0]) < 1e-5
    assert _rel(r.aux_logits, o[1]) < 1e-5


@pytest.mark.parametrize("name", ["googlenet", "googlenet_aux", "inception_v3"])
def test_json_round_trip(name: str) -> None:
    g = ARCHS[name]()
    assert nas.from_json(g.to_json()) == g


@pytest.mark.parametrize(
    "name, depth",
    [
        # conv stem 3 (7×7, 1×1, 3×3) + 9 modules × 2 (1×1 → 3×3) + fc 1 = 22, the paper's "22 layers"
        ("googlenet", 22),
        ("googlenet_aux", 22),  # aux heads are not on the main path
        # stem 5 + 3 × A (3) + B (3) + 4 × C (5: 1×1 then four 7×1/1×7) + D (4) + 2 × E (3) + fc 1 = 48
        ("inception_v3", 48),
    ],
)
def test_depth(name: str, depth: int) -> None:
    with torch.device("meta"):
        assert nas.build(name).depth == depth
