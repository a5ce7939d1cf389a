"""DARTS (first order) and GDAS on the supernet: resumable, and the result is an ordinary member."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nas.core.compile import build
from nas.core.registry import SPACES
from nas.data.datasets import load_dataset
from nas.oneshot.bilevel import bilevel_trainer
from nas.oneshot.layouts import layout_for
from nas.oneshot.supernet import Supernet
from nas.train.config import TrainConfig

CONFIG = TrainConfig(
    epochs=2,
    batch_size=32,
    eval_batch_size=64,
    lr=0.05,
    grad_clip=5.0,
    amp="none",
    channels_last=False,
    evaluate_test=False,
)
NB201 = {"C": 8, "N": 1}


@pytest.fixture(scope="module")
def data() -> Any:
    return load_dataset("synthetic", num_classes=10, synthetic_size=(64, 32), val_size=0.5)


class _Stop(Exception):
    pass


def _stop(trainer: Any, record: dict) -> None:
    raise _Stop


@pytest.mark.parametrize("method", ["darts", "gdas"])
def test_search_resumes_bit_identically_and_returns_a_member(method: str, data: Any, tmp_path: Path) -> None:
    def run(out: Path, **kw: Any) -> Any:
        return bilevel_trainer("nb201", data, CONFIG, method=method, space_options=NB201, out_dir=out, **kw)

    whole = run(tmp_path / "a")
    alpha0 = {k: v.clone() for k, v in whole.model.arch.alpha.items()}
    whole.fit()
    with pytest.raises(_Stop):
        run(tmp_path / "b", callbacks=[_stop]).fit()
    resumed = run(tmp_path / "b", resume=True)
    assert resumed.epoch == 1
    resumed.fit()
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    tensors = [k for k in a if isinstance(a[k], torch.Tensor)]
    assert all(torch.equal(a[k], b[k]) for k in tensors)
    assert any(not torch.equal(whole.model.arch.alpha[g], alpha0[g]) for g in alpha0)  # α learned
    choices = whole.model.choices()
    assert choices == resumed.model.choices()
    genotype = whole.model.supernet.genotype_of(choices)
    out = build(genotype)(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert whole.history[-1]["none_edges"] + whole.history[-1]["skip_edges"] <= 6


def test_darts_discretisation_rule() -> None:
    space = SPACES["darts"](layers=5, C=8)
    layout = layout_for(space)
    edges = layout.edges("normal")
    ops = list(edges[0].options)
    w = {g: torch.full((len(edges), len(ops)), 0.1) for g in layout.groups}
    key = [e.key for e in edges]
    # node 3: 'none' is the largest weight on every edge but is never picked; from2 then from0 win
    w["normal"][:, ops.index("none")] = 0.9
    w["normal"][key.index("n3_from2"), ops.index("sep_conv_5x5")] = 0.6
    w["normal"][key.index("n3_from0"), ops.index("max_pool_3x3")] = 0.5
    c = layout.discretize(w)
    assert c["normal_n3_inputs"] == "2,0"
    assert (c["normal_n3_op0"], c["normal_n3_op1"]) == ("sep_conv_5x5", "max_pool_3x3")
    assert "none" not in {v for k, v in c.items() if "_op" in k}
    build(space.decode(c))  # nas build compiles it


def test_nb201_discretisation_keeps_none() -> None:
    sn = Supernet("nb201", C=4, N=1)
    w = torch.zeros(6, 5)
    w[:, 0] = 1.0  # 'none' strongest everywhere: the collapse is reported, not hidden
    c = sn.layout.discretize({"cell": w})
    assert set(c.values()) == {"none"}
