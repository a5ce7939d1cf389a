"""The supernet: compiled from a space's own members; a fixed path is exactly the member's network."""

from __future__ import annotations

import random

import pytest
import torch

from nas.core.compile import build
from nas.core.registry import SPACES
from nas.oneshot.supernet import Supernet


@pytest.fixture(scope="module")
def nb201() -> Supernet:
    return Supernet("nb201", C=8, N=1)


@pytest.fixture(scope="module")
def darts() -> Supernet:
    return Supernet("darts", layers=5, C=8)


def _same_outputs(sn: Supernet, seed: int, n: int) -> None:
    rng = random.Random(seed)
    x = torch.randn(2, 3, 32, 32)
    sn.eval()
    for _ in range(n):
        c = sn.space.sample_choices(rng)
        sn.set_path(c)
        member = build(sn.genotype_of(c))  # nas.build of the genotype, weights copied in
        member.load_state_dict(sn.subnet_state(c), strict=True)
        member.eval()
        with torch.no_grad():
            assert torch.equal(sn(x), member(x)), c


def test_nb201_path_equals_member(nb201: Supernet) -> None:
    _same_outputs(nb201, 0, 6)


def test_darts_path_equals_member(darts: Supernet) -> None:
    _same_outputs(darts, 1, 3)


def test_every_candidate_is_built_once(nb201: Supernet, darts: Supernet) -> None:
    # nb201: 6 edges x 5 ops per cell; darts: node k has k incoming edges (2+3+4+5 = 14) x 8 ops
    for sn, edges, ops in ((nb201, 6, 5), (darts, 14, 8)):
        for cell in sn.super_cells():
            assert len(cell.cands) == edges
            assert all(len(c) == ops for c in cell.cands.values())
    ids = [id(m) for c in darts.super_cells() for d in c.cands.values() for m in d.values()]
    assert len(ids) == len(set(ids))


def test_extraction_round_trip(nb201: Supernet, darts: Supernet) -> None:
    rng = random.Random(3)
    for sn in (nb201, darts):
        c = sn.space.sample_choices(rng)
        g = sn.genotype_of(c)
        assert sn.space.encode(g) == c  # an ordinary member genotype
        assert sn.space.layout_matches(g)


def test_darts_path_runs_two_edges_per_node(darts: Supernet) -> None:
    c = darts.space.sample_choices(random.Random(5))
    darts.set_path(c)
    cell = darts.super_cells("normal")[0]
    running = [k for k, (run, _) in enumerate(cell.active) if run]
    assert len(running) == 8  # 4 nodes x 2 inputs
    a, b = (int(v) for v in str(c["normal_n2_inputs"]).split(","))
    keys = {cell.edge_specs[k].key for k in running}
    assert {f"n2_from{a}", f"n2_from{b}"} <= keys


def test_one_hot_mixture_equals_path(nb201: Supernet) -> None:
    c = nb201.space.sample_choices(random.Random(7))
    edges = nb201.edges["cell"]
    w = torch.zeros(len(edges), len(edges[0].options))
    for k, e in enumerate(edges):
        w[k, e.options.index(c[e.key])] = 1.0
    x = torch.randn(2, 3, 32, 32)
    nb201.eval()
    with torch.no_grad():
        nb201.set_path(c)
        a = nb201(x)
        nb201.set_mixture({"cell": w})
        b = nb201(x)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_mixture_gradients_reach_the_weights(nb201: Supernet) -> None:
    edges = nb201.edges["cell"]
    alpha = torch.zeros(len(edges), len(edges[0].options), requires_grad=True)
    nb201.train()
    nb201.set_mixture({"cell": alpha.softmax(-1)})
    nb201(torch.randn(2, 3, 32, 32)).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    nb201.zero_grad(set_to_none=True)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="no supernet layout"):
        Supernet("nasnet")
    sn = Supernet(SPACES["nb201"](C=4, N=1, ops=("skip_connect", "nor_conv_1x1")))
    with pytest.raises(RuntimeError, match="no active edge"):
        sn(torch.randn(1, 3, 32, 32))  # nothing set yet
    with pytest.raises(ValueError, match="shape"):
        sn.set_mixture({"cell": torch.zeros(6, 5)})
    with pytest.raises(ValueError, match="e1_0"):
        sn.set_path({"e1_0": "nor_conv_3x3"})
