"""SPOS: uniform single-path supernet training (resumable bit for bit), inherited-weight scoring, search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nas.data.datasets import load_dataset
from nas.oneshot.spos import InheritedScorer, UniformPath, best_member, search_members, spos_trainer
from nas.oneshot.supernet import Supernet
from nas.train.config import TrainConfig

CONFIG = TrainConfig(epochs=2, batch_size=32, eval_batch_size=64, lr=0.05, amp="none", channels_last=False)


@pytest.fixture(scope="module")
def data() -> Any:
    return load_dataset("synthetic", num_classes=10, synthetic_size=(160, 32), val_size=64)


def _supernet() -> Supernet:
    return Supernet("nb201", C=8, N=1)


class _Stop(Exception):
    pass


def _stop_after_first_epoch(trainer: Any, record: dict) -> None:
    raise _Stop


def test_training_resumes_bit_identically(data: Any, tmp_path: Path) -> None:
    before = _fresh_state()
    whole = spos_trainer(_supernet, data, CONFIG, out_dir=tmp_path / "a")
    whole.fit()
    broken = spos_trainer(
        _supernet, data, CONFIG, out_dir=tmp_path / "b", callbacks=[_stop_after_first_epoch]
    )
    with pytest.raises(_Stop):
        broken.fit()
    resumed = spos_trainer(_supernet, data, CONFIG, out_dir=tmp_path / "b", resume=True)
    assert resumed.epoch == 1
    resumed.fit()
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    changed = [k for k in a if not torch.equal(a[k], before[k.removeprefix("supernet.")])]
    assert changed  # training did something


def _fresh_state() -> dict[str, torch.Tensor]:
    from nas.train.seeding import seed_everything

    seed_everything(CONFIG.seed)
    return _supernet().state_dict()


def test_uniform_path_draws_members() -> None:
    sn = _supernet()
    model = UniformPath(sn).train()
    x = torch.randn(2, 3, 32, 32)
    seen = set()
    for _ in range(5):
        model(x)
        seen.add(tuple(tuple(run) for run, _ in sn.super_cells()[0].active))
    assert len(seen) > 1


def test_inherited_scores_and_search(data: Any) -> None:
    trainer = spos_trainer(
        _supernet, data, TrainConfig(epochs=1, batch_size=32, amp="none", channels_last=False)
    )
    trainer.fit()
    scorer = InheritedScorer(trainer, calib_batches=2, batch_size=32)
    sn = trainer.model.supernet
    buffers = {k: v.clone() for k, v in sn.named_buffers()}
    c = sn.space.sample_choices(__import__("random").Random(0))
    first = scorer(c)
    assert 0.0 <= first["val_top1"] <= 100.0
    assert scorer(c) == first  # recalibration depends on the member only
    assert all(torch.equal(v, buffers[k]) for k, v in sn.named_buffers())  # supernet left as it was
    rows = search_members(
        sn.space,
        lambda ch: scorer(ch)["val_top1"],
        strategy="evolution",
        budget=6,
        seed=0,
        options={"population": 3, "sample": 2},
    )
    assert len(rows) == 6
    choices, score = best_member(rows)
    assert score == max(v for _, v in rows if v is not None)
    sn.space.decode(choices)  # a member
