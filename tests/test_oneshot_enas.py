"""ENAS on the supernet: the controller picks every training path and learns from validation rewards;
training resumes bit for bit (controller included); the member search starts ``rl`` from its policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from nas.cli import app
from nas.core.compile import build
from nas.core.errors import ConfigError
from nas.core.registry import SPACES
from nas.data.datasets import load_dataset
from nas.oneshot.enas import ControlledPath, enas_trainer
from nas.oneshot.store import SupernetRun
from nas.oneshot.supernet import Supernet
from nas.search.strategies import make_strategy
from nas.search.strategies.reinforce import ReinforceController
from nas.train.config import TrainConfig

CONFIG = TrainConfig(epochs=2, batch_size=32, eval_batch_size=64, lr=0.05, amp="none", channels_last=False)
NB201 = {"C": 8, "N": 1}
OPTIONS = {"controller_steps": 10, "controller": {"batch": 5}}


@pytest.fixture(scope="module")
def data() -> Any:
    return load_dataset("synthetic", num_classes=10, synthetic_size=(160, 32), val_size=64)


class _Stop(Exception):
    pass


def _stop(trainer: Any, record: dict) -> None:
    raise _Stop


def _trainer(data: Any, **kw: Any) -> Any:
    return enas_trainer("nb201", data, CONFIG, space_options=NB201, method_options=OPTIONS, **kw)


def _path(sn: Supernet) -> list:
    return [list(cell.active) for cell in sn.super_cells()]


def test_every_training_path_is_the_controller_s_sample() -> None:
    sn = Supernet("nb201", **NB201)
    ctrl = ReinforceController(sn.space, seed=3)
    twin = ReinforceController(sn.space, seed=3)  # same RNG: proposes what the model's controller does
    model = ControlledPath(sn, ctrl).train()
    x = torch.randn(2, 3, 32, 32)
    seen = []
    for _ in range(4):
        model(x)
        got = _path(sn)
        sn.set_path(twin.propose())
        assert _path(sn) == got
        seen.append(repr(got))
    assert len(set(seen)) > 1  # fresh samples, not one fixed path
    model.eval()
    sn.set_path(twin.propose())
    fixed = _path(sn)
    model(x)
    assert _path(sn) == fixed  # evaluation runs the path set, the controller is not asked


def test_training_resumes_bit_identically_with_the_controller(data: Any, tmp_path: Path) -> None:
    whole = _trainer(data, out_dir=tmp_path / "a")
    whole.fit()
    broken = _trainer(data, out_dir=tmp_path / "b", callbacks=[_stop])
    with pytest.raises(_Stop):
        broken.fit()
    resumed = _trainer(data, out_dir=tmp_path / "b", resume=True)
    assert resumed.epoch == 1
    resumed.fit()
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and "_extra_state" in a
    assert all(torch.equal(a[k], b[k]) for k in a if k != "_extra_state")
    ca, cb = whole.model.controller.state_dict(), resumed.model.controller.state_dict()
    assert ca == cb
    assert ca["updates"] == CONFIG.epochs * OPTIONS["controller_steps"] // 5  # a policy step per 5 rewards
    fresh = ReinforceController(whole.model.supernet.space, seed=CONFIG.seed, batch=5).state_dict()
    assert ca["weights"] != fresh["weights"]  # the rewards moved the policy
    rec = whole.history[-1]
    assert 0.0 <= rec["controller_reward"] <= 100.0 and rec["controller_updates"] == ca["updates"]
    assert whole.model.supernet.space.check(json.loads(rec["choices"]))  # the greedy member


def test_the_controller_phase_leaves_the_supernet_s_buffers_alone(data: Any) -> None:
    trainer = _trainer(data)
    sn = trainer.model.supernet
    before = {k: v.clone() for k, v in sn.named_buffers()}
    params = {k: v.clone() for k, v in sn.named_parameters()}
    trainer.controller_epoch()
    assert all(torch.equal(v, before[k]) for k, v in sn.named_buffers())
    assert all(torch.equal(v, params[k]) for k, v in sn.named_parameters())  # rewards only, no weight step


def test_rl_starts_from_a_saved_policy_and_rejects_a_bad_one(tmp_path: Path) -> None:
    space = SPACES["nb201"]()
    trained = ReinforceController(space, seed=7)
    for i in range(10):
        c = trained.propose()
        trained.observe(c, float(i))
    path = tmp_path / "controller.json"
    path.write_text(json.dumps(trained.state_dict()))
    started = make_strategy("rl", space, seed=0, init=str(path))
    assert started.state_dict()["weights"] == trained.state_dict()["weights"]
    assert started.updates == 0 and not started.best  # the policy only: optimizer and replay start afresh
    with pytest.raises(ConfigError, match="init"):
        make_strategy("rl", space, seed=0, init=str(path), hidden=32)  # another shape
    with pytest.raises(ConfigError, match="init"):
        make_strategy("rl", space, seed=0, init=str(tmp_path / "missing.json"))


TINY = [
    "--space", "nb201", "--space-opt", "C=8", "--space-opt", "N=1", "--dataset", "synthetic",
    "--train-subset", "256", "--val-size", "64", "--set", "epochs=1", "--set", "batch_size=32",
    "--set", "amp=none", "--set", "channels_last=false", "--calib-batches", "1", "--quiet",
    "--format", "json",
]  # fmt: skip


def test_enas_run_searches_from_the_controller_and_resumes(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "enas"
    argv = ["oneshot", "--method", "enas", *TINY, "--method-opt", "controller_steps=5", "--out", str(out)]
    assert app.main([*argv, "--budget", "3trials"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["method"] == "enas" and r["search"]["evaluations"] == 3
    config = json.loads((out / "search" / "config.json").read_text())
    assert config["strategy"] == "rl"
    assert config["strategy_options"]["init"] == str((out / "supernet" / "controller.json").resolve())
    saved = json.loads((out / "supernet" / "controller.json").read_text())
    assert saved["updates"] == 1  # 5 rewards, one policy step
    search = json.loads((out / "search" / "strategy.json").read_text())["state"]
    assert search["updates"] == 0 and search["weights"] == saved["weights"]  # 3 trials: the trained policy
    meta = json.loads((out / "supernet" / "supernet.json").read_text())
    assert meta["method_options"] == {"controller_steps": 5, "controller": {"replay": 0}}  # defaults filled
    build(str(out / "genotype.json"))
    assert app.main([*argv, "--budget", "5trials", "--resume"]) == 0
    assert json.loads(capsys.readouterr().out)["search"]["evaluations"] == 5
    for flags, says in [
        (["--method-opt", 'controller={"hiden": 3}'], "hiden"),
        (["--method-opt", "controller_steps=7"], "multiple of the controller's batch=5"),
        (["--method-opt", "controller_steps=5", "--strategy-opt", "hidden=32"], "hidden"),
    ]:
        fresh = tmp_path / "z"
        assert app.main(["oneshot", "--method", "enas", *TINY, *flags, "--out", str(fresh)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nas: error: --") and says in err and len(err.splitlines()) == 1
        assert not fresh.exists()  # refused before the supernet trains: the same command works once fixed
    bad = [
        "oneshot",
        "--method",
        "spos",
        *TINY,
        "--method-opt",
        "controller_steps=5",
        "--out",
        str(tmp_path / "x"),
    ]
    assert app.main(bad) == 2
    err = capsys.readouterr().err
    assert err.startswith("nas: error: --method-opt") and len(err.splitlines()) == 1
    wrong = [*argv[:-1], str(tmp_path / "y"), "--method-opt", "steps=5"]
    assert app.main(wrong) == 2
    assert "controller_steps" in capsys.readouterr().err


def test_an_old_supernet_json_without_method_options_reads_back_the_same() -> None:
    run = SupernetRun("spos", "nb201", dict(NB201), {"epochs": 1}, {"dataset": "synthetic"})
    old = run.to_dict()
    del old["method_options"]  # written before ENAS existed
    assert SupernetRun.from_dict(old, "supernet.json") == run


@pytest.mark.parametrize("policy", ["lstm", "independent"])
def test_greedy_is_the_member_the_policy_learned(policy: str) -> None:
    space = SPACES["nb201"]()
    ctrl = ReinforceController(space, seed=0, policy=policy, replay=0)
    for _ in range(300):
        c = ctrl.propose()
        ctrl.observe(c, float(c["e1_0"] == "nor_conv_3x3") + float(c["e3_2"] == "skip_connect"))
    greedy = ctrl.greedy()
    assert space.check(greedy) == greedy
    assert greedy["e1_0"] == "nor_conv_3x3" and greedy["e3_2"] == "skip_connect"
