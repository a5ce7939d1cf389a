"""Zero-cost proxies: registry, determinism, sanity on small NAS-Bench-201 networks."""

from __future__ import annotations

import math

import pytest
import torch

import nas
from nas import proxies as P
from nas.stats import finite_or_worst
from nas.tools.describe import describe

nb201 = pytest.importorskip("search_spaces.nb201")

CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
POOL = "|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
ALL = ("synflow", "naswot", "jacob_cov", "grad_norm", "snip", "params", "macs")


def small(arch: str, C: int = 8) -> nas.Network:
    return nb201.NB201Space(C=C, N=1, input_size=16).decode(nb201.parse_arch_string(arch))


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 16, 16, generator=g), torch.randint(0, 10, (8,), generator=g)


def built(g: nas.Network, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return nas.build(g)


def test_registry_has_the_published_proxies() -> None:
    assert set(ALL) <= set(P.PROXIES)
    with pytest.raises(ValueError, match="unknown zero-cost proxy 'nope'"):
        P.get_proxy("nope")
    with pytest.raises(ValueError, match="already registered"):
        P.register_proxy("synflow")(lambda m, x, y: 0.0)


def test_params_and_macs_match_counts(batch) -> None:
    m = built(small(CONV))
    assert P.score("params", m, batch) == sum(p.numel() for p in m.parameters())
    assert P.score("macs", m, batch) == describe(small(CONV))["macs"]


def test_deterministic_given_seed(batch) -> None:
    a = P.build_scored(small(CONV), ALL, batch, seed=3)
    b = P.build_scored(small(CONV), ALL, batch, seed=3)
    assert {k: v["score"] for k, v in a.items()} == {k: v["score"] for k, v in b.items()}
    assert all(v["cpu_s"] >= 0 for v in a.values())
    c = P.build_scored(small(CONV), ["synflow"], batch, seed=4)
    assert c["synflow"]["score"] != a["synflow"]["score"]  # the seed sets the weights


def test_score_leaves_the_model_unchanged(batch) -> None:
    m = built(small(CONV))
    m.eval()
    before = {k: v.clone() for k, v in m.state_dict().items() if v.dtype.is_floating_point}
    first = {n: P.score(n, m, batch) for n in ("synflow", "grad_norm", "snip", "jacob_cov")}
    assert not m.training
    assert all(p.grad is None for p in m.parameters())
    for k, v in m.named_parameters():
        assert torch.equal(v, before[k]), k
    # scoring again gives the same values (synflow works on a copy; BN uses batch statistics)
    assert {n: P.score(n, m, batch) for n in first} == first


def test_values_are_sensible(batch) -> None:
    s = P.build_scored(small(CONV), ALL, batch, seed=0)
    for n in ALL:
        assert math.isfinite(s[n]["score"]), n
    assert s["naswot"]["score"] > 0  # log-det of an 8x8 kernel with large diagonal
    assert s["grad_norm"]["score"] > 0 and s["snip"]["score"] > 0 and s["synflow"]["score"] > 0


def test_synflow_prefers_wider_and_convolutional_nets(batch) -> None:
    narrow = P.build_scored(small(CONV, C=8), ["synflow"], batch)["synflow"]["score"]
    wide = P.build_scored(small(CONV, C=16), ["synflow"], batch)["synflow"]["score"]
    pool = P.build_scored(small(POOL, C=8), ["synflow"], batch)["synflow"]["score"]
    assert wide > narrow > pool


def test_naswot_distinguishes_and_handles_dead_cells(batch) -> None:
    conv = P.build_scored(small(CONV), ["naswot"], batch)["naswot"]["score"]
    dead = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    d = P.build_scored(small(dead), ["naswot", "jacob_cov", "synflow"], batch)
    assert math.isfinite(conv)
    assert d["naswot"]["score"] < conv  # the residual blocks still have ReLUs: finite but lower
    assert d["jacob_cov"]["score"] == float("-inf")  # output independent of the input
    ranked = finite_or_worst([1.0, float("-inf"), float("nan"), 0.5])
    assert ranked[0] > ranked[3] > max(ranked[1], ranked[2])


def test_labels_required(batch) -> None:
    m = built(small(CONV))
    with pytest.raises(ValueError, match="needs labels"):
        P.score("snip", m, batch[0])
    with pytest.raises(TypeError, match="batch must be"):
        P.score("snip", m, [1, 2, 3])
    assert P.score("naswot", m, batch[0]) == P.score("naswot", m, batch)
