"""On the DARTS space at reduced size: SPOS and DARTS searches finish on the CPU, resume, and return
genotypes that ``nas build`` compiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from test_data import make_folder

from nas.cli.app import main
from nas.core.compile import build
from nas.core.genotype import save
from nas.data.datasets import load_dataset
from nas.oneshot.bilevel import bilevel_trainer
from nas.oneshot.spos import InheritedScorer, best_member, search_members, spos_trainer
from nas.oneshot.supernet import Supernet
from nas.train.config import TrainConfig

SPACE = {"layers": 3, "C": 8}
CONFIG = TrainConfig(
    epochs=2,
    batch_size=16,
    eval_batch_size=32,
    lr=0.05,
    grad_clip=5.0,
    amp="none",
    channels_last=False,
    evaluate_test=False,
)


@pytest.fixture(scope="module")
def data() -> Any:
    return load_dataset("synthetic", num_classes=10, synthetic_size=(32, 16), val_size=0.5)


class _Stop(Exception):
    pass


def _stop(trainer: Any, record: dict) -> None:
    raise _Stop


def _interrupted_and_whole(make: Any, tmp_path: Path) -> tuple[Any, Any]:
    whole = make(tmp_path / "a")
    whole.fit()
    with pytest.raises(_Stop):
        make(tmp_path / "b", callbacks=[_stop]).fit()
    resumed = make(tmp_path / "b", resume=True)
    assert resumed.epoch == 1
    resumed.fit()
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))
    return whole, resumed


@pytest.mark.slow
def test_darts_search_on_the_darts_space(data: Any, tmp_path: Path) -> None:
    def make(out: Path, **kw: Any) -> Any:
        return bilevel_trainer("darts", data, CONFIG, method="darts", space_options=SPACE, out_dir=out, **kw)

    whole, _ = _interrupted_and_whole(make, tmp_path)
    genotype = whole.model.supernet.genotype_of(whole.model.choices())
    assert build(genotype)(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # nas transfer takes the found genotype as it is (its ImageNet layout, planned without training)
    path = save(genotype, tmp_path / "found.json")
    images = tmp_path / "images"
    make_folder(images, classes=("a", "b"), n_train=1, size=40, split=False)
    plan = ["transfer", str(path), "--to", "imagenet", "--dry-run", "--data-dir", str(images)]
    assert main([*plan, "--out", str(tmp_path / "t")]) == 0


@pytest.mark.slow
def test_spos_search_on_the_darts_space(data: Any, tmp_path: Path) -> None:
    def make(out: Path, **kw: Any) -> Any:
        return spos_trainer(lambda: Supernet("darts", **SPACE), data, CONFIG, out_dir=out, **kw)

    whole, _ = _interrupted_and_whole(make, tmp_path)
    scorer = InheritedScorer(whole, calib_batches=1, batch_size=16)
    rows = search_members(
        whole.model.supernet.space, lambda c: scorer(c)["val_top1"], strategy="random", budget=3
    )
    choices, _ = best_member(rows)
    genotype = whole.model.supernet.genotype_of(choices)
    assert build(genotype)(torch.randn(2, 3, 32, 32)).shape == (2, 10)
