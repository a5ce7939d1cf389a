"""`nas search` end to end with the inline executor: run directory, dedup, failures, resume, errors."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from search_helpers import write_table

from nas.cli import main
from nas.core.registry import SPACES
from nas.search import SearchConfig, run_search
from nas.search.objectives import Objective
from nas.search.strategies import make_strategy
from search_spaces.nb201 import arch_string

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory, table) -> Path:
    return write_table(tmp_path_factory.mktemp("table") / "synthetic_nb201.csv", table)


def _search(runs: Path, name: str, *extra: str) -> int:
    return main(
        [
            "search",
            "--space",
            "nb201",
            "--executor",
            "inline",
            "--out",
            str(runs / name),
            "--quiet",
            *extra,
        ]
    )


def _table_args(csv: Path) -> list[str]:
    return ["--objective", "table", "--table", str(csv), "--metric-column", "val_acc"]


def test_table_search_writes_the_run_directory(tmp_path, table_csv, table, capsys) -> None:
    rc = _search(
        tmp_path,
        "evo",
        "--strategy",
        "evolution",
        "--budget",
        "60trials",
        "--seed",
        "1",
        "--baseline",
        "resnet20",
        *_table_args(table_csv),
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "trials 60 evaluated" in out and "best" in out
    run = tmp_path / "evo"
    for f in ("config.json", "trials.csv", "trials.parquet", "best.json", "strategy.json", "ledger.json"):
        assert (run / f).is_file(), f
    csv = pd.read_csv(run / "trials.csv")
    pq = pd.read_parquet(run / "trials.parquet")
    # a trials budget counts evaluations: duplicates answered from the cache are rows, not evaluations
    dups = int(csv.cached.sum())
    assert len(csv) == len(pq) == 60 + dups and f"{dups} duplicates" in out
    assert csv[~csv.cached].key.is_unique  # no candidate evaluated twice
    children = csv[csv.parent.notna()]  # mutations record the trial they came from: an earlier evaluation
    assert len(children) > 20 and (children.parent < children.trial_id).all()
    evaluated = csv[~csv.cached].set_index("trial_id")
    assert set(children.parent.astype(int)) <= set(evaluated.index)
    assert csv[csv.source == "baseline"].parent.isna().all()
    assert list(csv.trial_id) == list(pq.trial_id) == sorted(set(csv.trial_id))
    # the outside baseline is an ordinary (failed: no table entry) trial, not fed to the strategy
    seed = csv[csv.source == "baseline"].iloc[0]
    assert seed["name"] == "resnet20" and seed.status == "error" and "not a member" in seed.error
    ok = csv[csv.status == "ok"]
    assert all(ok.score == [table[a] for a in ok.arch])
    best = json.loads((run / "best.json").read_text())
    assert best["best"]["score"] == ok.score.max()
    assert best["best"]["arch"] == arch_string(best["best"]["choices"])
    assert best["best"]["genotype"]["kind"] == "network"
    ledger = json.loads((run / "ledger.json").read_text())
    assert ledger["evaluations"] == 60 and ledger["budget"] == "60trials"
    assert ledger["duplicates"] == dups and ledger["proposals"] == 60 + dups
    assert ledger["cpu_hours"] == pytest.approx(csv.cpu_hours.sum())
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["strategy"] == "evolution" and cfg["space"] == "nb201" and cfg["seed"] == 1
    assert cfg["objective"]["kind"] == "table" and cfg["objective"]["rows"] == 15625
    assert json.loads((run / "strategy.json").read_text())["observed"] == 60 + dups


def test_same_seed_same_genotypes_and_matches_ask_tell(tmp_path, table_csv, table) -> None:
    for name in ("a", "b"):
        assert (
            _search(
                tmp_path,
                name,
                "--strategy",
                "rl",
                "--budget",
                "40trials",
                "--seed",
                "7",
                *_table_args(table_csv),
            )
            == 0
        )
    a = pd.read_csv(tmp_path / "a" / "trials.csv")
    b = pd.read_csv(tmp_path / "b" / "trials.csv")
    assert list(a.key) == list(b.key) and list(a.arch) == list(b.arch)
    # the pipeline (dedup, cache, table) shows the strategy exactly what a bare ask/tell loop would
    s = make_strategy("rl", SPACES["nb201"](), seed=7)
    direct = []
    for _ in range(len(a)):  # every proposal, the duplicates answered from the cache included
        c = s.propose()
        direct.append(arch_string(c))
        s.observe(c, table[arch_string(c)])
    assert list(a.arch) == direct


def test_dedup_reuses_and_marks_cached_results(tmp_path) -> None:
    # a 2-op space (64 members) and a small population: evolution revisits candidates
    rc = _search(
        tmp_path,
        "dup",
        "--space-opt",
        'ops=["none","nor_conv_3x3"]',
        "--strategy",
        "evolution",
        "--strategy-opt",
        "population=6",
        "--strategy-opt",
        "sample=3",
        "--budget",
        "80trials",
        "--objective",
        "synthetic",
    )
    assert rc == 0
    df = pd.read_csv(tmp_path / "dup" / "trials.csv")
    cached = df[df.cached]
    ran = df[~df.cached]
    assert len(cached) > 10
    assert ran.key.is_unique  # never trained twice
    by_id = df.set_index("trial_id")
    for _, r in cached.iterrows():
        orig = by_id.loc[int(r.cached_from)]
        assert orig.key == r.key and orig.score == r.score and not orig.cached
        assert r.wall_s == 0 and r.device_hours == 0
    ledger = json.loads((tmp_path / "dup" / "ledger.json").read_text())
    assert ledger["cached"] == len(cached)


class _Flaky(Objective):
    """Raises, returns NaN, or runs out of memory for some candidates."""

    kind = "flaky"

    def evaluate(self, job, report):
        import torch

        k = job.trial_id % 4
        if k == 1:
            raise RuntimeError("boom")
        if k == 2:
            return {"score": math.nan}
        if k == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return {"score": float(job.trial_id)}


def test_failed_trials_are_recorded_and_the_search_goes_on(tmp_path) -> None:
    cfg = SearchConfig(
        space="nb201",
        strategy="random",
        budget="12trials",
        executor="inline",
        runs_dir=str(tmp_path),
        name="flaky",
        quiet=True,
        objective={"kind": "synthetic"},
        gpus_per_trial=0.0,
    )
    s = run_search(cfg, objective=_Flaky())
    df = pd.read_csv(tmp_path / "flaky" / "trials.csv")
    assert len(df) == 12 and s.ledger.failed == 9
    errors = df.set_index("trial_id").error
    assert errors[1] == "RuntimeError: boom"
    assert "non-finite score" in errors[2]
    assert errors[3].startswith("out of memory: OutOfMemoryError")
    assert s.best_row["trial_id"] == 8 and s.ledger.cpu_hours > 0  # failed trials count in the ledger


def test_nsga2_writes_a_pareto_front(tmp_path, table_csv) -> None:
    rc = _search(
        tmp_path,
        "mo",
        "--strategy",
        "nsga2",
        "--strategy-opt",
        "cost=params_m",
        "--strategy-opt",
        "population=10",
        "--budget",
        "40trials",
        *_table_args(table_csv),
    )
    assert rc == 0
    best = json.loads((tmp_path / "mo" / "best.json").read_text())
    pts = best["pareto_front"]["points"]
    assert best["pareto_front"]["objectives"] == ["score (max)", "params_m (min)"]
    assert [p["params_m"] for p in pts] == sorted(p["params_m"] for p in pts)
    assert [p["score"] for p in pts] == sorted(p["score"] for p in pts)  # more cost buys more accuracy
    assert best["optuna_pareto_front"]


def test_baselines_are_trials_of_a_run(tmp_path, capsys) -> None:
    rc = main(
        [
            "baselines",
            "--objective",
            "synthetic",
            "--executor",
            "inline",
            "--archs",
            "resnet20,vgg11_cifar",
            "--runs-dir",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc == 0
    df = pd.read_csv(tmp_path / "baselines-synthetic" / "trials.csv")
    assert list(df.name) == ["resnet20", "vgg11_cifar"] and set(df.source) == {"baseline"}
    assert (df.status == "ok").all()


def _wait_rows(csv: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if csv.exists() and csv.read_text().count("\n") - 1 >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"search ended early: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("search too slow")


def test_resume_after_kill_keeps_every_finished_trial_once(tmp_path) -> None:
    run = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "nas.cli",
        "search",
        "--space",
        "nb201",
        "--strategy",
        "evolution",
        "--strategy-opt",
        "population=8",
        "--budget",
        "40trials",
        "--objective",
        "synthetic",
        "--synthetic-sleep",
        "0.05",
        "--executor",
        "inline",
        "--out",
        str(run),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_rows(run / "trials.csv", 12, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    first = pd.read_csv(run / "trials.csv")
    assert 12 <= len(first) < 40
    assert json.loads((run / "driver.pid").read_text())["pid"] == proc.pid  # left by the killed driver
    assert main(["search", "--resume", str(run), "--quiet"]) == 0
    assert not (run / "driver.pid").exists()  # a driver that closes the run removes its mark
    df = pd.read_csv(run / "trials.csv")
    assert (~df.cached).sum() == 40 and df.trial_id.is_unique  # the budget counts evaluations
    # every trial finished before the kill is still there, unchanged, exactly once
    merged = first.merge(df, on="trial_id", suffixes=("", "_after"))
    assert len(merged) == len(first)
    assert (merged.key == merged.key_after).all() and (merged.score == merged.score_after).all()
    assert set(df.session) == {1, 2}
    assert df[~df.cached].key.is_unique
    cfg = json.loads((run / "config.json").read_text())
    assert [s["session"] for s in cfg["sessions"]] == [1, 2]
    ledger = json.loads((run / "ledger.json").read_text())
    assert ledger["evaluations"] == 40 and ledger["sessions"] == 2
    assert json.loads((run / "strategy.json").read_text())["observed"] == len(df)  # duplicates too
    assert len(pd.read_parquet(run / "trials.parquet")) == len(df)


def test_resume_can_extend_the_budget(tmp_path, table_csv) -> None:
    assert _search(tmp_path, "ext", "--strategy", "tpe", "--budget", "15trials", *_table_args(table_csv)) == 0
    assert main(["search", "--resume", str(tmp_path / "ext"), "--budget", "25trials", "--quiet"]) == 0
    df = pd.read_csv(tmp_path / "ext" / "trials.csv")
    assert (~df.cached).sum() == 25 and df.trial_id.is_unique and list(df.session.unique()) == [1, 2]


def _one_line_error(capsys, argv: list[str], match: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and match in err, err
    return err


def test_errors_are_one_line_exit_2(tmp_path, table_csv, capsys) -> None:
    base0 = ["search", "--executor", "inline", "--objective", "synthetic"]
    base = [*base0, "--out", str(tmp_path / "err")]
    _one_line_error(capsys, [*base, "--space", "nb2017", "--budget", "5trials"], "invalid choice: 'nb2017'")
    _one_line_error(
        capsys,
        [*base, "--space", "nb201", "--strategy", "bayes", "--budget", "5trials"],
        "invalid choice: 'bayes'",
    )
    _one_line_error(capsys, [*base, "--space", "nb201", "--budget", "100gpu"], "bad budget '100gpu'")
    _one_line_error(capsys, [*base, "--space", "nb201", "--budget=-1h"], "bad budget '-1h'")
    _one_line_error(
        capsys, [*base, "--space", "nb201", "--budget", "1gpuh", "--gpus-per-trial", "0"], "counts GPU-hours"
    )
    tab = [
        "search",
        "--space",
        "nb201",
        "--budget",
        "5trials",
        "--executor",
        "inline",
        "--out",
        str(tmp_path / "tab"),
        "--objective",
        "table",
        "--table",
        str(table_csv),
    ]
    _one_line_error(capsys, [*tab, "--metric-column", "cifar10_acc"], "no metric column 'cifar10_acc'")
    _one_line_error(
        capsys, [*tab, "--metric-column", "val_acc", "--arch-column", "genotype"], "no arch column 'genotype'"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,acc\n|nor_conv_3x3~0|+|nor_conv_3x3~0|conv_5x5~1|+|none~0|none~1|none~2|,90.0\n")
    _one_line_error(capsys, [*tab[:-1], str(bad), "--metric-column", "acc"], "outside space 'nb201'")
    restricted = [*tab, "--metric-column", "val_acc", "--space-opt", 'ops=["none","skip_connect"]']
    _one_line_error(capsys, restricted, "outside space 'nb201'")
    _one_line_error(capsys, ["search", "--resume", str(tmp_path / "nothing")], "is not a run directory")
    x = ["--out", str(tmp_path / "x")]
    assert main([*base0, "--space", "nb201", "--budget", "2trials", *x, "--quiet"]) == 0
    capsys.readouterr()
    _one_line_error(capsys, [*base0, "--space", "nb201", "--budget", "2trials", *x], "already exists")
    _one_line_error(
        capsys,
        [*base, "--space", "nb201", "--budget", "2trials", "--seed-with", "resnet2000"],
        "unknown architecture 'resnet2000'",
    )
    err = _one_line_error(
        capsys,
        [*base, "--space", "nb201", "--budget", "2trials", "--seed-with", "resnet20"],
        "resnet20 is not a point of the nb201 space",
    )
    assert "--seed-with" in err and "--baseline" in err


def test_seed_points_inside_the_space_feed_the_strategy(tmp_path, table_csv, table) -> None:
    from nas.core.genotype import save

    space = SPACES["nb201"]()
    best_arch = max(table, key=table.get)
    from search_spaces.nb201 import parse_arch_string

    path = save(space.decode(parse_arch_string(best_arch)), tmp_path / "best_cell.json")
    rc = _search(
        tmp_path,
        "seeded",
        "--strategy",
        "evolution",
        "--strategy-opt",
        "population=20",
        "--budget",
        "12trials",
        "--seed-with",
        str(path),
        "--baseline",
        "resnet20",
        *_table_args(table_csv),
    )
    assert rc == 0
    df = pd.read_csv(tmp_path / "seeded" / "trials.csv")
    seeds = df[df.source.isin(["seed", "baseline"])].set_index("name")
    assert list(seeds.index) == ["best_cell", "resnet20"]  # seed points first, then the baselines
    assert list(seeds.source) == ["seed", "baseline"]
    assert seeds.loc["best_cell"].arch == best_arch and seeds.loc["best_cell"].score == table[best_arch]
    assert json.loads(seeds.loc["best_cell"].choices) == parse_arch_string(best_arch)
    assert pd.isna(
        seeds.loc["resnet20"].choices
    )  # an outside baseline: evaluated, never shown to the strategy

    state = json.loads((tmp_path / "seeded" / "strategy.json").read_text())["state"]
    # the in-space seed was observed: it is in the (not yet aged) population
    assert any(arch_string(c) == best_arch for c, _ in state["population"])


def test_training_objective_scores_accuracy_plus_the_size_term() -> None:
    # the rank preset's score is val top-1 + 5 log10(params); ASHA's per-epoch reports carry the same term
    from nas.search.objectives import Job, make_objective

    space = SPACES["nb201"](C=8, N=1, input_size=16)
    g = space.decode({k: v[2] for k, v in space.choices().items()})
    opts = dict(train_subset=64, val_size=32, epochs=2, eval_every=1, image_size=16, batch_size=32)
    obj = make_objective("train", space, dataset="synthetic", preset="rank", train_overrides=opts)
    reports: list[dict] = []
    out = obj.evaluate(Job(trial_id=0, key="k", genotype=g.to_json()), reports.append)
    bonus = 5 * math.log10(out["params"])
    assert out["score"] == pytest.approx(out["val_top1"] + bonus)
    assert [r["epoch"] for r in reports] == [1, 2] and reports[-1]["score"] == pytest.approx(out["score"])
    assert [r["score"] for r in reports] == [s for _, s in out["curve"]] and out["curve"][-1][1] == out[
        "score"
    ]
    hits = (reports[0]["score"] - bonus) * 32 / 100  # epoch 1 too: accuracy on 32 images + the size term
    assert hits == pytest.approx(round(hits), abs=1e-6) and 0 <= round(hits) <= 32
