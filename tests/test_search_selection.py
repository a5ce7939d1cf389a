"""The selection stage (``nas search --select``): the top candidates re-evaluated at escalating fidelity
inside the budget, every re-evaluation a row, the pick and its evidence in ``best.json``, resume in the
middle of it. The synthetic objective with seed noise stands in for a noisy proxy."""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from pathlib import Path

import pytest

from nas.cli import main
from nas.core.errors import ConfigError
from nas.search.budget import Budget, Ledger
from nas.search.config import SearchConfig
from nas.search.objectives import run_job
from nas.search.objectives.synthetic import SyntheticObjective
from nas.search.run import open_search, run_search
from nas.search.selection_plan import DEFAULT_SELECT, SelectionPlan
from nas.train import presets

PLAN = "top=4,eta=2,reserve=0.4,rungs=3+5"


def _config(tmp: Path, name: str = "r", seed: int = 1, **kw) -> SearchConfig:
    settings = dict(
        space="nb201", strategy="evolution", objective={"kind": "synthetic", "noise": 2.0}, executor="inline",
        budget="30trials", runs_dir=str(tmp), name=name, quiet=True, select=PLAN, seed=seed,
    )  # fmt: skip
    return SearchConfig(**{**settings, **kw})


def _rung(row) -> int | None:
    return ((row["metrics"] or {}).get("selection") or {}).get("rung")


def test_selection_spends_the_reserve_and_records_every_reevaluation(tmp_path) -> None:
    s = run_search(_config(tmp_path))
    rows = s.table.rows
    search = [r for r in rows if r["source"] != "select"]
    sel = [r for r in rows if r["source"] == "select"]
    # 40 % of 30 evaluations is held back: the search phase stops at 18
    assert (len(search), len(sel), s.ledger.evaluations) == (18, 12, 30)
    top4 = [r["key"] for r in sorted(search, key=lambda r: (-r["score"], r["trial_id"]))[:4]]
    assert Counter(r["key"] for r in sel if _rung(r) == 1) == {k: 2 for k in top4}

    best = json.loads((tmp_path / "r" / "best.json").read_text())
    ev = best["selection"]
    assert ev["status"] == "done" and ev["plan"] == PLAN
    r1, r2 = ev["rungs"]
    first = {r["key"]: r["score"] for r in search}
    for c in r1["candidates"]:  # the search's score is seed 1 of rung 1, then the rung's own rows in order
        assert c["scores"] == [first[c["key"]]] + [
            r["score"] for r in sel if r["key"] == c["key"] and _rung(r) == 1
        ]
        assert c["mean"] == pytest.approx(statistics.mean(c["scores"]))
    means = [c["mean"] for c in r1["candidates"]]
    assert means == sorted(means, reverse=True) and len(set(means)) == 4  # ranked; the seeds differ
    assert [c["kept"] for c in r1["candidates"]] == [True, True, False, False]
    assert [c["key"] for c in r2["candidates"]] == sorted(
        [c["key"] for c in r1["candidates"][:2]],
        key=lambda k: -next(c["mean"] for c in r2["candidates"] if c["key"] == k),
    )
    assert all(len(c["scores"]) == 5 for c in r2["candidates"])
    pick = r2["candidates"][0]
    assert best["best"]["trial_id"] == pick["trial_id"] == ev["pick"]["trial_id"]
    assert best["best"]["picked_at"] == ev["pick_fidelity"] == "synthetic×5" and ev["pick_rung"] == 2
    assert best["evaluations"] == 30
    # the strategy saw the search's trials only
    assert s.strategy is not None and s.strategy.state_dict()["history"] == 18


def test_the_pick_beats_the_best_noisy_score_on_average(tmp_path) -> None:
    """Over 8 runs, the pick's noise-free score is higher than that of the best noisy search score."""
    clean = SyntheticObjective()
    picked, naive = [], []
    for seed in range(8):
        s = run_search(_config(tmp_path, name=f"s{seed}", seed=seed, budget="40trials"))
        search = [r for r in s.table.rows if r["source"] != "select"]
        best_noisy = max(search, key=lambda r: r["score"])
        job = lambda r: type("J", (), {"choices": r["choices"], "key": r["key"]})()  # noqa: E731
        picked.append(clean.score(job(s.best_row)))
        naive.append(clean.score(job(best_noisy)))
    assert statistics.mean(picked) > statistics.mean(naive)


def test_the_search_phase_leaves_room_for_the_first_rung(tmp_path) -> None:
    """The search's share (9 of 12) would leave 3 evaluations, and rung 1 needs 4 at its smallest size
    (2 survivors × 2 more seeds): the search phase stops at 8 instead, and the rung runs."""
    s = run_search(_config(tmp_path, budget="12trials", select="top=4,eta=2,reserve=0.25,rungs=3+5"))
    sel = [r for r in s.table.rows if r["source"] == "select"]
    assert (s.ledger.evaluations - len(sel), len(sel)) == (8, 4)
    assert {r["metrics"]["selection"]["size"] for r in sel} == {2}
    best = json.loads((tmp_path / "r" / "best.json").read_text())
    assert best["selection"]["pick_rung"] == 1 and best["best"]["picked_at"] == "synthetic×3"
    assert "the selection's first rung" in s.stop_reason


def test_a_rung_that_does_not_fit_the_reserve_is_not_started(tmp_path) -> None:
    s = run_search(_config(tmp_path, budget="5trials", select="top=4,eta=2,reserve=0.25,rungs=3+5"))
    assert not [r for r in s.table.rows if r["source"] == "select"]
    assert s.ledger.evaluations == 2  # two candidates to choose from, then rung 1 needs 4 of the 3 left
    best = json.loads((tmp_path / "r" / "best.json").read_text())
    assert best["selection"]["status"] == "the budget's reserve does not fit rung 1"
    assert best["selection"]["pick_rung"] == 0 and "search's own score" in best["best"]["picked_at"]
    assert best["best"]["trial_id"] == max(s.table.rows, key=lambda r: r["score"])["trial_id"]
    assert "does not fit rung 1" in s.stop_reason


def test_the_first_rung_is_costed_at_its_preset() -> None:
    """A stronger-preset rung's expected cost is each finalist's own trial wall × the presets' cost
    ratio; at the search's preset its trial counts as the first seed."""
    from nas.search.selection import Selection
    from nas.search.selection_plan import cost_ratio

    rows = [
        {"trial_id": i, "source": "strategy", "status": "ok", "cached": False, "score": s, "key": k,
         "wall_s": w, "metrics": {}}
        for i, (k, s, w) in enumerate([("a", 3.0, 100.0), ("b", 2.0, 160.0), ("c", 1.0, 10.0)])
    ]  # fmt: skip
    confirm = Selection(SelectionPlan.parse("top=3,rungs=confirm", "rank"), "rank", None, 0)
    ratio = cost_ratio("confirm", "rank", {})
    assert confirm.first_rung_walls(rows, {}) == pytest.approx([100.0 * ratio, 160.0 * ratio])
    seeds = Selection(SelectionPlan.parse("top=3,rungs=3+confirm", "rank"), "rank", None, 0)
    assert seeds.first_rung_walls(rows, {}) == [100.0, 100.0, 160.0, 160.0]
    assert confirm.first_rung_walls(rows[:1], {}) == []  # one candidate: nothing to choose between


def test_resume_in_the_middle_of_the_selection_continues_it_exactly(tmp_path) -> None:
    whole = run_search(_config(tmp_path / "a"))
    s = open_search(_config(tmp_path / "b"))
    while sum(r["source"] == "select" for r in s.table.rows) < 5:  # stopped inside rung 1
        job = s.next_job()
        assert job is not None
        s.complete(job, run_job(s.objective, job))
    s.close()
    assert not json.loads((tmp_path / "b" / "r" / "best.json").read_text()).get("selection")
    resumed = run_search(_config(tmp_path / "b"), resume=tmp_path / "b" / "r")

    def table(search):
        return [(r["trial_id"], r["source"], r["key"], r["score"], _rung(r)) for r in search.table.rows]

    assert table(resumed) == table(whole)
    a, b = (json.loads((tmp_path / d / "r" / "best.json").read_text()) for d in ("a", "b"))
    assert a["selection"] == b["selection"] and a["best"]["trial_id"] == b["best"]["trial_id"]
    assert [r["session"] for r in resumed.table.rows if r["source"] == "select"][-1] == 2


def test_a_rung_at_a_stronger_preset_trains_at_that_preset(tmp_path, monkeypatch) -> None:
    fast = {"epochs": 1, "train_subset": 64, "val_size": 32, "batch_size": 32, "image_size": 16}
    monkeypatch.setitem(presets.PRESETS, "tiny_fast", {**presets.PRESETS["tiny"], **fast})
    monkeypatch.setitem(presets.PRESETS, "tiny_more", {**presets.PRESETS["tiny"], **fast, "epochs": 2})
    config = SearchConfig(
        space="nb201", strategy="random", executor="inline", budget="5trials", runs_dir=str(tmp_path),
        name="t", quiet=True, objective={"kind": "train", "dataset": "synthetic", "preset": "tiny_fast"},
        select="top=2,eta=1.5,reserve=0.4,rungs=1+tiny_more",
    )  # fmt: skip
    s = run_search(config)
    sel = [r for r in s.table.rows if r["source"] == "select"]
    assert [(_rung(r), r["metrics"]["preset"]) for r in sel] == [(2, "tiny_more")] * 2
    assert {r["metrics"]["preset"] for r in s.table.rows if r["source"] != "select"} == {"tiny_fast"}
    assert all(r["metrics"]["selection"]["fidelity"] == "tiny_more" for r in sel if _rung(r) == 2)
    best = json.loads((tmp_path / "t" / "best.json").read_text())
    assert best["best"]["picked_at"] == "tiny_more×1"
    assert best["selection"]["rungs"][1]["candidates"][0]["trial_id"] == best["best"]["trial_id"]


def test_the_report_shows_the_selection_and_the_pick(tmp_path) -> None:
    from nas.report.build import write_report
    from nas.search.report import format_report, report

    run_search(_config(tmp_path))
    rep = report(tmp_path / "r")
    best = json.loads((tmp_path / "r" / "best.json").read_text())
    assert rep["best"]["trial_id"] == best["best"]["trial_id"]
    assert rep["trials"]["evaluated"] == 18 and rep["trials"]["selection"] == 12
    text = format_report(rep)
    assert "picked at synthetic×5" in text and "rung 2 synthetic×5" in text
    md = write_report(tmp_path / "r", cells=0).markdown.read_text()
    assert "Selection: the pick at escalating fidelity" in md
    assert f"the pick is trial {best['best']['trial_id']}, made at synthetic×5" in md


@pytest.mark.parametrize(
    "spec, message",
    [
        ("top=1", "at least 2 candidates"),
        ("eta=1", "eta=1 must be > 1"),
        ("reserve=1", "reserve=1 must be a share"),
        ("rungs=0", "seeds must be a count"),
        ("rungs=3+nosuch:1", "unknown preset 'nosuch'"),
        ("depth=3", "expected top=N"),
        ("top=x", "must be numbers"),
    ],
)
def test_bad_plans_name_the_setting(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        SelectionPlan.parse(spec)
    assert e.value.field == "select"


def test_which_runs_select_by_default(tmp_path) -> None:
    train = SearchConfig(objective={"kind": "train"}, executor="inline")
    assert train.selection_plan == SelectionPlan.parse(DEFAULT_SELECT) == SelectionPlan()
    assert SearchConfig(objective={"kind": "synthetic"}, executor="inline").selection_plan is None
    assert SearchConfig(objective={"kind": "train"}, executor="inline", select="off").selection_plan is None
    assert SearchConfig(kind="baselines", strategy=None, executor="inline").selection_plan is None
    assert (
        SearchConfig(objective={"kind": "train"}, strategy="grid", executor="inline").selection_plan is None
    )
    tiny = {"kind": "train", "preset": "tiny"}  # a smoke test: none unless asked for
    assert SearchConfig(objective=tiny, executor="inline").selection_plan is None
    assert SearchConfig(objective=tiny, executor="inline", select="on").selection_plan == SelectionPlan()
    with pytest.raises(ConfigError, match="need a training objective"):
        SearchConfig(objective={"kind": "synthetic"}, executor="inline", select="rungs=small:1")


def test_a_bad_plan_on_the_command_line_is_one_line(tmp_path, capsys) -> None:
    argv = ["search", "--space", "nb201", "--objective", "synthetic", "--executor", "inline"]
    argv += ["--budget", "4trials", "--out", str(tmp_path / "x"), "--select", "eta=0.5"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--select" in err[0] and "eta=0.5" in err[0]


def test_budget_split_and_fit() -> None:
    b = Budget.parse("2cpuh,30trials,1h")
    s = b.scaled(0.65)
    assert [(lim.kind, lim.amount) for lim in s.limits] == [("cpuh", 1.3), ("trials", 19.0), ("wall", 2340.0)]
    assert s.text == "1.3cpuh,19trials,2340s"
    led = Ledger(cpu_hours=1.5, launched=20, elapsed_s=1000.0)
    assert b.fits(led, [900.0, 900.0], cpus=1.0, gpus=0.0)  # 1.5 + 0.5 cpuh
    assert not b.fits(led, [900.0, 900.0, 900.0], cpus=1.0, gpus=0.0)  # 1.5 + 0.75 > 2 cpuh
    assert not b.fits(led, [1.0] * 11, cpus=1.0, gpus=0.0)  # 20 + 11 > 30 trials
    assert not b.fits(led, [2700.0], cpus=0.1, gpus=0.0)  # 1000 s + 2700 s > 1 h of wall time


def test_a_rung_evaluates_as_many_survivors_as_fit_the_reserve(tmp_path) -> None:
    s = run_search(_config(tmp_path, select="top=6,eta=2,reserve=0.3,rungs=3"))
    sel = [r for r in s.table.rows if r["source"] == "select"]
    assert s.ledger.evaluations - len(sel) == 21  # the search's share of 30
    assert len(sel) == 8 and {r["metrics"]["selection"]["size"] for r in sel} == {4}  # 9 left: 4 × 2 fit
    best = json.loads((tmp_path / "r" / "best.json").read_text())
    (rung,) = best["selection"]["rungs"]
    assert len(rung["candidates"]) == 4 and rung["complete"]
    search = sorted((r for r in s.table.rows if r["source"] != "select"), key=lambda r: -r["score"])
    assert {c["trial_id"] for c in rung["candidates"]} == {r["trial_id"] for r in search[:4]}  # the best 4


@pytest.mark.slow
def test_selection_under_ray_waits_for_each_rung(tmp_path) -> None:
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    config = _config(
        tmp_path, executor="ray", num_cpus=2, budget="24trials", select="top=4,eta=2,reserve=0.5,rungs=3+5"
    )
    config.objective = type(config.objective)(noise=2.0, sleep=0.3)
    s = run_search(config)
    rows = s.table.rows
    sel = [r for r in rows if r["source"] == "select"]
    assert len(sel) == 12 and s.finished
    # a rung starts only when the one before it has finished: no rung-2 row started before rung 1 ended
    end1 = max(r["finished_at"] for r in sel if _rung(r) == 1)
    assert all(r["started_at"] >= end1 for r in sel if _rung(r) == 2)
    best = json.loads((tmp_path / "r" / "best.json").read_text())
    assert best["selection"]["status"] == "done" and best["best"]["picked_at"] == "synthetic×5"
