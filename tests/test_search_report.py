"""``nas final`` (train a run's top candidates with a target preset) and ``nas report`` (summary and the
agreement of proxy, target, truth, zero-cost metrics and early rungs), on inline synthetic/table runs."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nas.cli import main
from nas.search import SearchConfig, run_search
from nas.search.final import FinalTable, final_train
from nas.search.objectives import Objective
from nas.search.report import format_report, report
from search_spaces.nb201 import FIELDS, arch_string

# a target that trains in well under a second per candidate on the synthetic data set
FAST = {
    "epochs": "1",
    "train_subset": "64",
    "val_size": "32",
    "test_subset": "100",
    "image_size": "16",
    "width": "4",
    "batch_size": "32",
}
TWO_OPS = {"ops": ["none", "nor_conv_3x3"]}  # 64 members: random sampling revisits candidates


def _run(tmp: Path, name: str, budget: str, obj: Objective | None = None, **kw) -> Path:
    """An inline nb201 random-search run (``obj``: an objective instance; ``kw``: SearchConfig fields)."""
    cfg = SearchConfig(
        space=kw.pop("space", "nb201"),
        strategy="random",
        budget=budget,
        executor="inline",
        runs_dir=str(tmp),
        name=name,
        quiet=True,
        **{"objective": {"kind": "synthetic"}, "gpus_per_trial": 0.0, **kw},
    )
    run_search(cfg, **({"objective": obj} if obj is not None else {}))
    return tmp / name


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _error(capsys, *argv) -> str:
    code, _out, err = _cli(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("nas: error: "), err
    return lines[0]


def _rho(x, y) -> float | None:
    """Spearman ρ computed independently: Pearson correlation of pandas' average ranks."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return None
    return round(float(np.corrcoef(rx, ry)[0, 1]), 4)


def test_final_trains_distinct_top_candidates_resumes_and_report_shows_rho(tmp_path, capsys) -> None:
    run = _run(tmp_path, "syn", "30trials", objective={"kind": "synthetic"}, space_options=TWO_OPS, seed=3)
    trials = pd.read_csv(run / "trials.csv")
    assert trials.cached.any()  # duplicates exist, so "distinct" is tested
    expected = (
        trials[trials.status == "ok"]
        .sort_values(["score", "trial_id"], ascending=[False, True])
        .drop_duplicates("key")
        .trial_id.head(3)
        .tolist()
    )

    s = final_train(run, top=3, preset="tiny", dataset="synthetic", overrides=FAST, quiet=True)
    target = "synthetic:tiny[" + ",".join(f"{k}={FAST[k]}" for k in sorted(FAST)) + "]"
    assert s["target"] == target and s["proxy"] == "synthetic" and s["candidates"] == expected
    df = pd.read_csv(run / "final.csv")
    assert df.trial_id.tolist() == expected and df.key.is_unique and (df.seed == 0).all()
    assert (df.target == target).all() and (df.proxy == "synthetic").all()
    score = trials.set_index("trial_id").score
    assert df.proxy_score.tolist() == [score[i] for i in expected]
    assert df.target_score.tolist() == df.test_top1.tolist() and df.val_top1.notna().all()
    assert (df.params > 0).all() and (df.macs > 0).all() and (df.cpu_s > 0).all()
    assert json.loads(df.genotype[0])["kind"] == "network"
    assert len(pd.read_parquet(run / "final.parquet")) == 3

    # resume: everything done → nothing trained; a lost row → only that one again
    assert (
        final_train(run, top=3, preset="tiny", dataset="synthetic", overrides=FAST, quiet=True)["trained"]
        == []
    )
    lines = (run / "final.csv").read_text().splitlines(keepends=True)
    (run / "final.csv").write_text("".join(lines[:-1]))
    again = final_train(run, top=3, preset="tiny", dataset="synthetic", overrides=FAST, quiet=True)
    assert [r["trial_id"] for r in again["trained"]] == [expected[-1]] and again["skipped"] == 2

    # the CLI: a second seed for the top 2 (seed 0 is skipped)
    sets = [a for k, v in FAST.items() for a in ("--set", f"{k}={v}")]
    code, out, _ = _cli(
        capsys,
        "final",
        run,
        "--top",
        "2",
        "--seeds",
        "2",
        "--preset",
        "tiny",
        "--dataset",
        "synthetic",
        *sets,
    )
    assert code == 0 and "2 trained, 2 already done, 0 failed" in out
    df = pd.read_csv(run / "final.csv")
    assert sorted(zip(df.trial_id, df.seed)) == sorted(
        [(i, 0) for i in expected] + [(i, 1) for i in expected[:2]]
    )

    means = df.groupby("trial_id").agg(proxy=("proxy_score", "first"), target=("target_score", "mean"))
    rho = _rho(means.proxy, means.target)
    code, out, _ = _cli(capsys, "report", run, "--no-files", "--format", "json")
    rep = json.loads(out)
    (pt,) = rep["agreement"]["proxy_target"]
    assert pt["n"] == 3 and pt["rows"] == 5 and pt["spearman"] == rho
    code, out, _ = _cli(capsys, "report", run, "--no-files")
    assert code == 0 and (f"ρ {rho:.3f}" if rho is not None else "ρ -") in out
    assert f"proxy synthetic → target {target}: n 3" in out


class _Curves(Objective):
    """A deterministic score, a zero-cost metric that ranks exactly backwards, and a validation curve
    whose first epoch ranks backwards and later epochs forwards; every fourth trial stops at epoch 2."""

    kind = "curves"

    def evaluate(self, job, report):
        h = hashlib.blake2b(job.key.encode(), digest_size=4).digest()
        score = 50.0 + int.from_bytes(h, "little") % 10_000 / 250.0
        epochs = 2 if job.trial_id % 4 == 0 else 3
        curve = [[1, -score], [2, score / 2], [3, score]][:epochs]
        return {"score": score, "zc_fake": -score, "curve": curve}


def test_report_truth_zero_cost_rungs_and_seed_means(tmp_path, capsys) -> None:
    run = _run(tmp_path, "curves", "12trials", _Curves())
    trials = pd.read_csv(run / "trials.csv")
    assert (trials.status == "ok").all() and not trials.cached.any()
    t = trials.sort_values("score")

    # truth: 5 of the trials, ranked exactly backwards; an arch not in the run and one outside the space
    five = t.head(5)
    truth = tmp_path / "truth.csv"
    with truth.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "acc"])
        for a, sc in zip(five.arch, five.score):
            w.writerow([a, 100.0 - sc])
        unseen = next(
            arch_string(dict(zip(FIELDS, ops)))
            for ops in itertools.product(["avg_pool_3x3", "skip_connect"], repeat=6)
            if arch_string(dict(zip(FIELDS, ops))) not in set(trials.arch)
        )
        w.writerow([unseen, 99.0])
        w.writerow(["not-an-arch", 1.0])

    # final.csv by hand: 4 candidates (ascending proxy), 2 seeds each; the means 10, 30, 20, 40 give
    # ρ = 0.8 and τ = 2/3, while seed 0 alone (5, 50, 20, 45) would give ρ = 0.6
    four = t.tail(4)
    table = FinalTable(run)
    for (tid, sc), pair in zip(zip(four.trial_id, four.score), [(5, 15), (50, 10), (20, 20), (45, 35)]):
        for seed, v in enumerate(pair):
            table.append(
                {"trial_id": int(tid), "key": "k", "proxy": "curves", "proxy_score": float(sc)}
                | {"target": "synthetic:x", "seed": seed, "target_score": float(v), "test_top1": float(v)}
            )

    rep = report(run, truth=truth, target_column="acc", top=3)
    assert rep["objective"] == "curves" and rep["trials"]["total"] == 12 and len(rep["top"]) == 3
    assert rep["top"][0]["trial_id"] == rep["best"]["trial_id"] == int(t.trial_id.iloc[-1])
    a = rep["agreement"]
    (pt,) = a["proxy_target"]
    assert (pt["n"], pt["spearman"], pt["kendall"], pt["proxy_best_is_target_best"]) == (4, 0.8, 0.6667, True)
    assert a["truth"]["n"] == 5 and a["truth"]["of_trials"] == 12
    assert (a["truth"]["spearman"], a["truth"]["kendall"], a["truth"]["top10_precision"]) == (-1.0, -1.0, 0.0)
    zc = {x["vs"]: x for x in a["zero_cost"] if x["metric"] == "zc_fake"}
    assert (zc["score"]["n"], zc["score"]["spearman"], zc["score"]["kendall"]) == (12, -1.0, -1.0)
    assert zc["truth"]["spearman"] == 1.0 and zc["target synthetic:x"]["spearman"] == -0.8
    rungs = a["rungs"]
    assert rungs["last_epoch"] == 3 and rungs["trials"] == sum(trials.trial_id % 4 != 0)
    assert [(e["epoch"], e["spearman"]) for e in rungs["epochs"]] == [(1, -1.0), (2, 1.0), (3, 1.0)]

    text = format_report(rep)
    for line in (
        "proxy curves → target synthetic:x: n 4, ρ 0.800, τ 0.667, proxy best = target best: yes",
        "n 5 of 12 trials, ρ -1.000, τ -1.000, top-10% precision 0.00",
        "zc_fake vs score: n 12, ρ -1.000",
        "epoch 1: n 9, ρ -1.000",
    ):
        assert line in text, text
    code, out, _ = _cli(
        capsys, "report", run, "--no-files", "--truth", truth, "--target-column", "acc", "--format", "json"
    )
    assert code == 0 and json.loads(out)["agreement"] == a


def _two_op_table(path: Path) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "val_acc", "zc_convs"])
        for ops in itertools.product(TWO_OPS["ops"], repeat=6):
            convs = ops.count("nor_conv_3x3")
            w.writerow(
                [
                    arch_string(dict(zip(FIELDS, ops))),
                    60.0 + 5 * convs + sum(i for i, o in enumerate(ops) if o == "none") / 10,
                    convs,
                ]
            )
    return path


def test_table_run_report_and_user_errors(tmp_path, capsys) -> None:
    objective = {
        "kind": "table",
        "table": str(_two_op_table(tmp_path / "t.csv")),
        "arch_column": "arch",
        "metric_column": "val_acc",
    }
    run = _run(tmp_path, "tbl", "15trials", objective=objective, space_options=TWO_OPS)
    code, out, _ = _cli(capsys, "report", run, "--no-files", "--top", "2")
    assert code == 0 and "objective table:val_acc" in out and "trials 15 evaluated: ok" in out
    assert "zc_convs vs score: n" in out and "top 2 trials" in out

    assert "not a run directory" in _error(capsys, "final", tmp_path / "nope", "--top", "3")
    assert "not a run directory" in _error(capsys, "report", tmp_path / "nope")
    assert "--top" in _error(capsys, "final", run, "--top", "0", "--dataset", "synthetic")
    assert "invalid choice: 'huge'" in _error(capsys, "final", run, "--top", "2", "--preset", "huge")
    assert "--dataset: is required" in _error(capsys, "final", run, "--top", "2")
    assert "--set" in _error(capsys, "final", run, "--top", "2", "--dataset", "synthetic", "--set", "bogus=1")
    assert "'nope'" in _error(capsys, "report", run, "--truth", tmp_path / "t.csv", "--target-column", "nope")
    assert "does not exist" in _error(capsys, "report", run, "--truth", tmp_path / "missing.csv")

    class _Fails(Objective):
        kind = "fails"

        def evaluate(self, job, report):
            raise RuntimeError("boom")

    bad = _run(tmp_path, "bad", "3trials", _Fails())
    assert "no successful" in _error(capsys, "final", bad, "--top", "1", "--dataset", "synthetic")


@pytest.mark.slow  # > 10 s: the fast suite stays under 10 minutes
def test_final_transfer_trains_the_imagenet_layout_and_labels_the_target(tmp_path, capsys) -> None:
    import nas
    from nas.core.genotype import from_json
    from search_spaces.transfer import to_imagenet

    run = _run(tmp_path, "darts", "3trials", objective={"kind": "synthetic"}, space="darts", seed=1)
    fast = {**FAST, "image_size": "32", "cells": "3"}
    sets = [a for k, v in fast.items() for a in ("--set", f"{k}={v}")]
    base = ["final", run, "--top", "1", "--preset", "tiny", "--dataset", "synthetic", *sets]
    code, out, _ = _cli(capsys, *base, "--transfer", "darts")
    assert code == 0 and "1 trained" in out
    row = pd.read_csv(run / "final.csv").iloc[0]
    assert row.target.endswith(",transfer=darts,val_size=32,width=4]")
    # the network trained is the candidate's cells in the ImageNet layout at the preset's cells/width
    net = to_imagenet(
        from_json(row.genotype), layout="darts", cells=3, width=4, num_classes=10, image_size=32,
        auxiliary=False,
    )  # fmt: skip
    expected = sum(p.numel() for p in nas.build(net).parameters())
    assert row.params == expected
    code, out, _ = _cli(capsys, *base)  # without --transfer: a separate target, the CIFAR network
    plain = pd.read_csv(run / "final.csv").iloc[1]
    assert code == 0 and "transfer" not in plain.target and plain.params != expected
    assert "ImageNet layout" in _error(capsys, *base, "--transfer", "huge")
