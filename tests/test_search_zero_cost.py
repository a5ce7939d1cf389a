"""Zero-cost proxies inside ``nas search``: as the objective, as zc_<proxy> columns, and as a pre-screen."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest
import torch
from search_helpers import write_table

from nas.cli import main
from nas.core.registry import SPACES
from nas.proxies import build_scored
from nas.search import SearchConfig, open_search, run_search
from nas.search.prescreen import parse_prescreen, prescreen
from nas.search.trials import TrialsTable
from search_spaces.nb201 import parse_arch_string
from search_spaces.nb201_synthetic import synthetic_nb201_table


def _config(tmp_path, **kw) -> SearchConfig:
    base = dict(space="nb201", strategy="random", executor="inline", runs_dir=str(tmp_path), quiet=True)
    base["gpus_per_trial"] = 0.0  # the default is one GPU per trial when one is visible
    return SearchConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def small_table(tmp_path_factory):
    """60 NB201 archs of the synthetic table: a sparse benchmark, like the shared 1,500-arch one."""
    full = synthetic_nb201_table(0)
    archs = random.Random(0).sample(sorted(full), 60)
    path = tmp_path_factory.mktemp("table") / "t.csv"
    write_table(path, {a: full[a] for a in archs})
    return path, {a: full[a] for a in archs}


def _synflow(arch: str, seed: int) -> float:
    g = SPACES["nb201"]().decode(parse_arch_string(arch))
    batch = (torch.zeros((2, *g.input_size)), torch.zeros(2, dtype=torch.long))
    return build_scored(g, ["synflow"], batch, seed=seed)["synflow"]["score"]


def test_zero_cost_objective_scores_are_the_proxy(tmp_path) -> None:
    s = run_search(
        _config(tmp_path, objective={"kind": "zero-cost", "proxy": "synflow"}, budget="4trials", seed=3)
    )
    df = pd.read_parquet(s.dir / "trials.parquet")
    ok = df[df.status == "ok"]
    assert len(ok) >= 3 and "zc_synflow" in df.columns
    assert (ok.score == ok.zc_synflow).all()
    first = ok.iloc[0]
    assert first.score == pytest.approx(_synflow(first.arch, seed=3), rel=1e-9)
    cfg = json.loads((s.dir / "config.json").read_text())
    assert cfg["objective"]["kind"] == "zero-cost" and cfg["objective"]["proxy"] == "synflow"


def test_report_reads_runs_with_zero_cost_columns(tmp_path, capsys) -> None:
    s = run_search(_config(tmp_path, objective={"kind": "zero-cost", "proxy": "synflow"}, budget="3trials"))
    assert main(["report", str(s.dir), "--no-files"]) == 0
    out = capsys.readouterr().out
    best = pd.read_csv(s.dir / "trials.csv").score.max()
    assert f"score {best:.4g}:" in out  # synflow's huge values in exponent form
    assert "zc_synflow vs score" not in out and "zc_cpu_s" not in out  # neither itself nor a cost
    path = write_table(tmp_path / "full.csv", synthetic_nb201_table(0))
    obj = {"kind": "table", "table": str(path), "arch_column": "arch", "metric_column": "val_acc"}
    t = run_search(_config(tmp_path, name="t", objective=obj, budget="5trials", zero_cost=["params"]))
    assert main(["report", str(t.dir), "--no-files"]) == 0
    out = capsys.readouterr().out
    assert "zc_params vs score: n" in out and "zc_cpu_s" not in out


def test_zero_cost_objective_with_images_from_a_data_set(tmp_path) -> None:
    obj = {"kind": "zero-cost", "proxy": "naswot", "dataset": "synthetic"}
    s = run_search(_config(tmp_path, objective=obj, budget="3trials", proxy_batch=16))
    df = pd.read_parquet(s.dir / "trials.parquet")
    assert (df.status == "ok").all() and df.zc_naswot.notna().all()
    assert df.score.nunique() == len(df)  # the score depends on the architecture


def test_zero_cost_columns_on_every_trial(tmp_path) -> None:
    path = write_table(tmp_path / "full.csv", synthetic_nb201_table(0))
    obj = {"kind": "table", "table": str(path), "arch_column": "arch", "metric_column": "val_acc"}
    s = run_search(_config(tmp_path, objective=obj, budget="6trials", zero_cost=["synflow", "params"]))
    header = (s.dir / "trials.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["zc_synflow", "zc_params"]
    df = pd.read_parquet(s.dir / "trials.parquet")
    ok = df[(df.status == "ok") & ~df.cached]
    assert len(ok) >= 1 and ok.zc_synflow.notna().all() and (ok.zc_params > 0).all()
    row = ok.iloc[0]
    assert row.zc_synflow == pytest.approx(_synflow(row.arch, seed=0), rel=1e-9)
    # the table reloads with its extra columns (resume), and a table of another configuration does not
    assert len(TrialsTable(s.dir, extra=["zc_synflow", "zc_params"]).rows) == len(df)
    with pytest.raises(ValueError, match="columns"):
        TrialsTable(s.dir)


def test_prescreen_trains_the_best_scored_first_and_charges_the_budget(tmp_path, small_table) -> None:
    path, table = small_table
    obj = {
        "kind": "table",
        "table": str(path),
        "arch_column": "arch",
        "metric_column": "val_acc",
        "cost_s": 36,
    }
    cfg = _config(tmp_path, name="pre", objective=obj, budget="6trials", prescreen="synflow:12", train_top=4)
    s = run_search(cfg)
    screened = pd.read_csv(s.dir / "prescreen.csv")
    assert len(screened) == 12 and screened.arch.isin(list(table)).all()  # the table is the pool
    assert screened.score.is_monotonic_decreasing and list(screened["rank"]) == list(range(1, 13))
    assert screened.score.iloc[0] == pytest.approx(_synflow(screened.arch.iloc[0], seed=0), rel=1e-9)
    df = pd.read_parquet(s.dir / "trials.parquet").sort_values("trial_id")
    pre = df[df.source == "prescreen"]
    assert list(pre.arch) == list(screened.arch[:4]) and list(pre.name) == [
        f"prescreen#{i}" for i in range(1, 5)
    ]
    assert list(pre.zc_synflow) == pytest.approx(list(screened.score[:4]))
    assert (df.source[len(pre) :] == "strategy").all()  # then the strategy goes on
    # budget: 36 simulated CPU-s per looked-up trial plus the screening's measured CPU time
    ledger = json.loads((s.dir / "ledger.json").read_text())
    screen_s = ledger["extra"]["prescreen_cpu_s"]
    assert screen_s == pytest.approx(screened.total_cpu_s.iloc[0]) and screen_s > 0
    ok = int(((df.status == "ok") & ~df.cached).sum())
    assert ledger["cpu_hours"] == pytest.approx((screen_s + 36 * ok) / 3600, rel=0.01)
    # resume: the screen is read back (not redone) and no pre-screened candidate is trained twice
    before = (s.dir / "prescreen.csv").read_bytes()
    cfg.budget = "9trials"
    s2 = run_search(cfg, resume=s.dir)
    assert (s2.dir / "prescreen.csv").read_bytes() == before
    df2 = pd.read_parquet(s2.dir / "trials.parquet")
    assert (df2.source == "prescreen").sum() == 4 and len(df2) == 9
    assert s2.ledger.extra["prescreen_cpu_s"] == pytest.approx(screen_s)


def small_space():
    return SPACES["nb201"](C=8, N=1, input_size=16)


def test_prescreen_keeps_the_best_by_proxy() -> None:
    sp = small_space()
    top = prescreen(sp, "params", 12, 3, random.Random(0))
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    again = prescreen(sp, "params", 12, 3, random.Random(0))
    assert [g for g, _ in top] == [g for g, _ in again]
    with pytest.raises(ValueError, match="needs a batch"):
        prescreen(sp, "naswot", 4, 2, random.Random(0))
    assert parse_prescreen("synflow:1000") == ("synflow", 1000)
    with pytest.raises(ValueError, match="PROXY:N"):
        parse_prescreen("synflow")


def test_asha_makes_the_training_objective_report_every_epoch(tmp_path) -> None:
    obj = {"kind": "train", "dataset": "synthetic", "preset": "rank"}
    s = open_search(_config(tmp_path, executor="ray", early_stop="asha", objective=obj, budget="1trials"))
    assert s.objective.overrides["eval_every"] == 1 and s.objective.preset == "rank"
    obj["train_overrides"] = {"eval_every": 2}  # an explicit choice wins
    s = open_search(
        _config(tmp_path, name="b", executor="ray", early_stop="asha", objective=obj, budget="1trials")
    )
    assert s.objective.overrides["eval_every"] == 2


def _err(capsys, *argv: str) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--train-top", "5"], "--train-top: needs prescreen"),
        (["--prescreen", "synflow:many", "--train-top", "5"], "PROXY:N"),
        (["--prescreen", "synflow:10"], "--prescreen: needs train_top"),
        (["--prescreen", "synflow:10", "--train-top", "11"], "--train-top: must be between"),
        (["--prescreen", "magic:10", "--train-top", "1"], "magic"),
        (["--zero-cost", "synflow,bogus"], "bogus"),
        (["--objective", "zero-cost"], "invalid choice: 'zero-cost'"),
        (["--objective", "zero-cost:bogus"], "bogus"),
        (["--objective", "guess"], "invalid choice: 'guess'"),
        (
            ["--objective", "table", "--table", "x.csv", "--metric-column", "m", "--table-cost-s", "-1"],
            "--table-cost-s",
        ),
    ],
)
def test_user_errors_are_one_line(capsys, tmp_path, extra, message) -> None:
    argv = ["search", "--space", "nb201", "--budget", "2trials", "--executor", "inline"]
    line = _err(capsys, *argv, "--out", str(tmp_path / "z"), "--objective", "synthetic", *extra)
    assert line.startswith("nas: error:") and message in line
