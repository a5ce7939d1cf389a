"""Compound scaling of genotypes (nas.tools.scale): the EfficientNet B-table, φ sweeps, and depth / width /
resolution on stage-table and cell networks. Everything is counted on the meta device (nas.describe)."""

from __future__ import annotations

import math
from functools import cache

import pytest

import nas
from nas.core.genotype import Network, Stage, chain
from nas.core.space import anonymous
from nas.tools.scale import EFFICIENTNET, scale
from search_spaces.zoo.mobile import mobilenet_v2
from search_spaces.zoo.nas_cells import zoo_network

# torchvision's efficientnet_b0…b7 parameter counts (its model documentation; test_zoo_mobile builds both)
TORCHVISION_PARAMS = {
    "b0": 5_288_548,
    "b1": 7_794_184,
    "b2": 9_109_994,
    "b3": 12_233_232,
    "b4": 19_341_616,
    "b5": 30_389_784,
    "b6": 43_040_704,
    "b7": 66_347_960,
}


@cache
def described(net: Network) -> tuple[int, int, int]:
    """(params, MACs, depth) of a genotype."""
    d = nas.describe(net)
    return d["params"], d["macs"], d["depth"]


def _check_preset(variant: str) -> None:
    ours = scale(nas.resolve("efficientnet_b0"), preset=variant)
    assert ours == nas.resolve(f"efficientnet_{variant}")  # same genotype, same name
    assert described(ours)[0] == TORCHVISION_PARAMS[variant]


@pytest.mark.parametrize("variant", ["b0", "b1", "b2", "b3", "b4"])
def test_preset_is_the_zoo_member(variant: str) -> None:
    _check_preset(variant)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["b5", "b6", "b7"])
def test_preset_is_the_zoo_member_large(variant: str) -> None:
    """B5–B7 also switch every BN to the TF weights' eps 1e-3 / momentum 0.01."""
    _check_preset(variant)


def test_b_table_is_the_released_one() -> None:
    assert EFFICIENTNET["b7"][:4] == (2.0, 3.1, 600, 0.5)  # not α^7 etc.: the released multipliers
    assert [r.resolution for r in EFFICIENTNET.values()] == [224, 240, 260, 300, 380, 456, 528, 600]


def test_mbconv_width_matches_the_zoo_builder() -> None:
    """MobileNet-v2 ×1.4: stem 32 → 48, stage widths made divisible, head 1280 = 4 × 320 → 4 × 448."""
    ours = scale(nas.resolve("mobilenet_v2"), width=1.4)
    assert ours.name == "mobilenet_v2_w1.4"
    assert anonymous(ours) == anonymous(mobilenet_v2(1.4))


@pytest.mark.slow  # > 10 s: the fast suite stays under 10 minutes
def test_compound_phi_sweep_grows_macs_by_alpha_beta2_gamma2() -> None:
    """α = 1.2 (depth), β = 1.1 (width), γ = 1.15 (resolution) on B0: MACs(φ) / MACs(0) ≈ 1.92^φ.

    Measured: ×2.573, 4.691, 8.425, 16.38 for φ = 1…4 against 1.920, 3.687, 7.081, 13.60, i.e. 1.34,
    1.27, 1.19, 1.20 times the ideal. Inexact because the network is rounded: depths with ceil (B0's
    one-block stages become two blocks at d = 1.2, its two-block stages three: +100 % / +50 % on those
    stages), widths to multiples of 8 (up or down, at most 10 % down: 16·1.1 = 17.6 → 16, 40·1.1 = 44 →
    48), resolutions to whole pixels. Ceil only adds, so the measured growth is never below the ideal,
    and the overshoot shrinks as φ grows (the rounding is a smaller fraction of larger depths): the
    tolerance is [1, 1.4] × ideal per φ, and the mean growth per φ step, (MACs(4)/MACs(0))^(1/4) =
    2.012, within 6 % of α·β²·γ² = 1.920."""
    a, b, g = 1.2, 1.1, 1.15
    base = nas.resolve("efficientnet_b0")
    macs0 = described(base)[1]
    ratios = []
    for phi in range(1, 5):
        net = scale(base, depth=a**phi, width=b**phi, resolution=g**phi)
        assert net.input_size == (3, round(224 * g**phi), round(224 * g**phi))
        ratios.append(described(net)[1] / macs0)
    ideal = a * b * b * g * g
    for phi, r in enumerate(ratios, 1):
        assert 1.0 <= r / ideal**phi <= 1.4, (phi, r)
    assert ratios == sorted(ratios)
    assert ratios[-1] ** 0.25 == pytest.approx(ideal, rel=0.06)


# (base, dimension, multiplier) → measured (params ratio, MACs ratio) bands, asserted with ±3 %.
# depth ×2: params and MACs about double, less where a stage's first block, the stem and the head do not
# repeat (ResNet-50 ×1.84), more where channels grow with depth (DenseNet concatenates: ×3.17), little in
# params where the classifier dominates (VGG's 124M FC parameters: ×1.12, MACs ×2.17).
# width ×2: ×4 minus what does not widen (3 input channels of the first conv, K outputs of the classifier).
# resolution ×2: the same parameters, MACs ×4 (minus the classifier's share).
CASES = {
    ("resnet50", "depth"): (1.838, 1.854),
    ("resnet50", "width"): (3.835, 3.941),
    ("resnet50", "resolution"): (1.0, 3.998),
    ("densenet121", "depth"): (3.174, 2.858),
    ("densenet121", "width"): (3.720, 3.916),
    ("densenet121", "resolution"): (1.0, 3.999),
    ("vgg16_bn", "depth"): (1.118, 2.166),
    ("vgg16_bn", "width"): (3.940, 3.988),
    ("vgg16_bn", "resolution"): (1.0, 3.976),
    ("darts_v2_cifar", "depth"): (1.983, 1.932),
    ("darts_v2_cifar", "width"): (3.881, 3.844),
    ("darts_v2_cifar", "resolution"): (1.0, 4.000),
}
# The default run keeps one DenseNet case; the rest (≈ 5–9 s each on a shared CPU) run with -m slow.
SLOW_CASES = {
    ("densenet121", "depth"),
    ("densenet121", "width"),
    ("darts_v2_cifar", "depth"),
    ("darts_v2_cifar", "width"),
    ("darts_v2_cifar", "resolution"),
}


def _case(base: str, dimension: str) -> None:
    """``base`` ×2 along ``dimension`` is a valid network (describe compiles it, as nas.validate does)
    whose params and MACs move as CASES says."""
    net = nas.resolve(base)
    out = scale(net, **{dimension: 2.0})
    p0, m0, d0 = described(net)
    p, m, d = described(out)
    want_p, want_m = CASES[base, dimension]
    assert p / p0 == pytest.approx(want_p, rel=0.03)
    assert m / m0 == pytest.approx(want_m, rel=0.03)
    if dimension == "resolution":
        assert p == p0 and out.input_size == (3, 2 * net.input_size[1], 2 * net.input_size[2])
    if dimension == "depth":
        assert d > 1.5 * d0  # the longest conv path lengthens too (ResNet-50: 50 → 98)
        assert out.num_cells > net.num_cells
    if dimension == "width":
        assert [s.width and 2 * s.width for s in net.stages] == [s.width for s in out.stages]


@pytest.mark.parametrize("base, dimension", [c for c in CASES if c not in SLOW_CASES])
def test_scaling_along_one_dimension(base: str, dimension: str) -> None:
    _case(base, dimension)


@pytest.mark.slow
@pytest.mark.parametrize("base, dimension", sorted(SLOW_CASES))
def test_scaling_along_one_dimension_large(base: str, dimension: str) -> None:
    _case(base, dimension)


def test_stage_tables_follow_the_rules() -> None:
    """Depth: ceil, resolution-changing single cells kept; DenseNet transitions keep compression 0.5 of
    what the longer dense blocks produce; DARTS reduction cells stay single, normal runs 6 → 9."""
    r = scale(nas.resolve("resnet50"), depth=1.1)
    assert [s.repeats for s in r.stages] == [4, 5, 7, 4]  # ceil(3.3), ceil(4.4), ceil(6.6), ceil(3.3)
    d = scale(nas.resolve("densenet121"), depth=1.5, width=1.5, name="dn")
    growth, stem = 48, 96  # make_divisible(32·1.5), make_divisible(64·1.5)
    assert [s.repeats for s in d.stages[::2]] == [9, 18, 36, 24]
    assert d.stages[1].width == (stem + 9 * growth) // 2
    assert d.name == "dn"
    v = scale(nas.resolve("vgg16_bn"), depth=1.5)
    assert [(s.repeats, s.width) for s in v.stages[:4]] == [(2, 64), (1, None), (3, 128), (1, None)]


def test_shrinking_and_pixels() -> None:
    """Multipliers below 1 shrink (a grid over α, β, γ restricts itself to ≥ 1, scale() does not); an int
    resolution is in pixels."""
    base = nas.resolve("resnet50")
    half = scale(base, width=0.5)
    assert [s.width for s in half.stages] == [128, 256, 512, 1024]
    assert described(half)[0] / described(base)[0] == pytest.approx(0.27, abs=0.02)
    small = scale(base, resolution=160)
    assert small.input_size == (3, 160, 160) and small.name == "resnet50_r160"
    assert described(small)[1] / described(base)[1] == pytest.approx((160 / 224) ** 2, rel=0.02)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"depth": 0}, "depth"),
        ({"width": -1.0}, "width"),
        ({"width": math.nan}, "width"),
        ({"depth": True}, "depth"),
        ({"resolution": 0.0}, "resolution"),
        ({"preset": "b9"}, "preset"),
        ({"preset": "b1", "width": 1.2}, "preset"),
    ],
)
def test_bad_arguments_name_their_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        scale(nas.resolve("resnet20"), **kwargs)


def _tiny(stages: tuple[Stage, ...], head_pool: bool = True) -> Network:
    stem = chain("stem", [("conv", {"channels": 8, "kernel": 3}), ("bn",), ("relu",)])
    pool = [("adaptive_avgpool", {"size": 1})] if head_pool else []
    head = chain("head", [*pool, ("flatten",), ("linear", {"channels": "K"})])
    return Network("tiny", stem, stages, head, (3, 16, 16), 10)


def test_unscalable_dimensions_are_named() -> None:
    conv = chain("c", [("conv", {"channels": "C", "kernel": 3, "stride": "cell"}), ("relu",)])
    only_reductions = _tiny((Stage(conv, 1, 8, 2), Stage(conv, 1, 16, 2)))
    with pytest.raises(ValueError, match="along depth"):
        scale(only_reductions, depth=2.0)
    relative = chain("r", [("conv", {"channels": "Cin", "kernel": 3}), ("relu",)])
    no_widths = _tiny((Stage(relative, 2, None, 1),)).replace(
        stem=chain("stem", [("conv", {"channels": "in", "kernel": 3})])
    )
    with pytest.raises(ValueError, match="along width"):
        scale(no_widths, width=2.0)
    flat_head = _tiny((Stage(conv, 2, 8, 1),), head_pool=False)
    with pytest.raises(ValueError, match="along resolution: its parameter count depends"):
        scale(flat_head, resolution=2.0)
    with pytest.raises(ValueError, match="along resolution"):  # 5 max-pools need at least 32 px
        scale(nas.resolve("vgg16_bn"), resolution=16)


@pytest.mark.slow
def test_darts_aux_head_fixes_the_resolution() -> None:
    """DARTS's auxiliary head assumes an 8×8 input (its 2×2 conv then leaves 1×1 for the linear layer)."""
    with pytest.raises(ValueError, match="along resolution"):
        scale(zoo_network("darts_v2_cifar", auxiliary=True), resolution=2.0)
