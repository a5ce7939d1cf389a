"""The core's plugin-facing contracts: the SearchSpace protocol, the one arch codec, the layout registry."""

import json
import random

import pytest

import nas
from nas.core.archcodec import ArchCodec
from nas.core.space import SearchSpace, get_space
from search_spaces import base, nb201
from search_spaces.transfer import to_imagenet

STANDARD = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_plugins_see_the_core_protocol():
    assert base.SearchSpace is SearchSpace and nas.SearchSpace is SearchSpace
    assert isinstance(get_space("nb201"), SearchSpace)
    with pytest.raises(TypeError, match="SearchSpace or a registered name"):
        get_space(3)  # type: ignore[arg-type]


def test_a_space_with_a_notation_reads_and_writes_it():
    space = get_space("nb201")
    assert space.has_notation
    codec = ArchCodec(space)
    assert codec.native and codec.format(codec.parse(STANDARD)) == STANDARD
    assert codec.genotype(STANDARD) == nb201.from_arch_string(STANDARD)
    with pytest.raises(ValueError, match="unknown op"):
        codec.parse(STANDARD.replace("avg_pool_3x3", "max_pool"))
    small = nb201.NB201Space(ops=("none", "skip_connect"))
    with pytest.raises(ValueError, match="is not one of"):
        ArchCodec(small).parse(STANDARD)  # parsed, then checked against this space's options


def test_a_space_without_a_notation_is_written_as_json():
    space = get_space("resnet")
    assert not space.has_notation
    with pytest.raises(NotImplementedError, match="no arch-string notation"):
        space.parse_arch("x")
    codec = ArchCodec(space)
    choices = space.sample_choices(random.Random(0))
    text = codec.format(choices)
    assert json.loads(text) == choices and codec.parse(text) == choices
    with pytest.raises(ValueError, match="not a JSON choice dict"):
        codec.parse("[1]")
    with pytest.raises(ValueError, match="has no arch-string notation"):
        ArchCodec(space, json_fallback=False)


def test_the_imagenet_layouts_are_registered():
    entry = nas.LAYOUTS.entry("imagenet")
    assert "darts" in entry.meta["layouts"] and "nasnet_mobile" in entry.meta["layouts"]
    net = nas.resolve("darts_v2_cifar")
    ours = nas.LAYOUTS["imagenet"]("darts", cells=5, width=8, auxiliary=False)(net, num_classes=10)
    assert ours == to_imagenet(net, layout="darts", cells=5, width=8, num_classes=10, auxiliary=False)
    with pytest.raises(ValueError, match="unknown ImageNet layout 'huge'"):
        nas.LAYOUTS["imagenet"]("huge")  # before any network is seen
