"""Failing trials: the fault-injection objective, the two failure kinds (``error`` cached, ``transient``
retried up to ``--max-retries``, never cached, retried again by ``--resume``), ``--trial-timeout``, and the
ledger equal to the sum of the trials' costs — inline and through Ray."""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import pytest

from nas.cli import main
from nas.core.errors import ConfigError
from nas.search.config import FaultyObjectiveConfig, SearchConfig, parse_objective
from nas.search.objectives import Job, make_objective, run_job
from nas.search.objectives.base import TrialTimeout, call_with_timeout
from nas.search.objectives.faulty import FaultyObjective
from nas.search.retries import RetryBook

#: about 30 % of first attempts fail: 14 % deterministically (raise, NaN), 18 % of the rest transiently
FAULTS = "faulty:raise=0.07,nan=0.07,oom=0.06,hang=0.06,exit=0.06,hang_s=60"


def _search(run, *extra: str) -> int:
    seed = [] if "--seed" in extra else ["--seed", "1"]
    return main(["search", "--space", "nb201", "--strategy", "evolution", "--strategy-opt", "population=8",
                 *seed, "--out", str(run), "--quiet", *extra])  # fmt: skip


def _rows(run) -> pd.DataFrame:
    return pd.read_csv(run / "trials.csv", keep_default_na=False, na_values={"score": [""]})


def _check_run(run, budget: int, timeout: float) -> pd.DataFrame:
    """What every faulty run must show: the budget spent, every trial with its kind, transient failures
    retried (or given up after --max-retries), errors never retried, the ledger exact."""
    df = _rows(run)
    assert (~df.cached).sum() == budget and df.trial_id.is_unique  # the budget counts evaluations
    assert set(df.status) <= {"ok", "error", "transient"}
    ran = df[~df.cached]
    first = ran[ran.source != "retry"]
    failed = first[first.status != "ok"]
    assert 0.15 <= len(failed) / len(first) <= 0.5, (len(failed), len(first))
    errors = ran[ran.status == "error"]
    assert errors.error.str.contains("InjectedFault|non-finite score").all()
    transient = ran[ran.status == "transient"]
    assert transient.error.str.contains("out of memory|TrialTimeout|WorkerDied").all()
    for kind in ("InjectedFault", "non-finite", "out of memory", "TrialTimeout", "WorkerDied"):
        assert df.error.str.contains(kind).any(), f"no {kind} among the trials"
    by_key = {k: g.sort_values("trial_id") for k, g in ran.groupby("key")}
    for _, t in transient.iterrows():  # each transient attempt is followed by a retry of its candidate …
        later = by_key[t.key][by_key[t.key].trial_id > t.trial_id]
        gave_up = "gave up after" in t.error
        assert gave_up or len(later) or t.trial_id == ran.trial_id.max() or len(ran) == budget
        if len(later) and not gave_up:
            assert later.iloc[0].source == "retry"
    for _, e in errors.iterrows():  # … an error never is: duplicates of it are cached copies
        assert (ran[(ran.key == e.key) & (ran.trial_id > e.trial_id)].source != "retry").all()
    assert not df[df.cached].cached_from.isin(transient.trial_id).any()  # a transient failure is not cached
    hangs = transient[transient.error.str.contains("TrialTimeout")]
    assert ((hangs.wall_s >= timeout * 0.95) & (hangs.wall_s < 30)).all()  # charged the time it ran
    ledger = json.loads((run / "ledger.json").read_text())
    assert ledger["evaluations"] == budget and ledger["trials"] == len(df)
    assert ledger["failed"] == int((df.status != "ok").sum())
    assert math.isclose(ledger["cpu_hours"], df.cpu_hours.sum(), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(ledger["gpu_hours"], df.gpu_hours.sum(), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(ledger["trial_wall_s"], ran.wall_s.sum(), rel_tol=1e-9)
    return df


def test_faulty_inline_search_finishes_its_budget_with_every_kind_recorded(tmp_path) -> None:
    run = tmp_path / "faulty"
    rc = _search(run, "--budget", "80trials", "--objective", FAULTS, "--trial-timeout", "0.3",
                 "--executor", "inline", "--cpus-per-trial", "2")  # fmt: skip
    assert rc == 0
    df = _check_run(run, 80, 0.3)
    ok_retries = df[(df.source == "retry") & (df.status == "ok")]
    assert len(ok_retries) >= 3  # a transient failure's retry can succeed
    assert df[df.error.str.contains("WorkerDied")].error.str.contains("simulated").all()  # inline: no exit


def test_transient_failures_are_retried_then_given_up_and_retried_by_resume(tmp_path) -> None:
    run = tmp_path / "oom"
    args = ["--objective", "faulty:oom=1", "--max-retries", "1", "--executor", "inline"]
    assert _search(run, "--budget", "6trials", *args) == 0
    df = _rows(run)
    assert list(df.status) == ["transient"] * 6 and list(df.source) == ["strategy", "retry"] * 3
    assert (df.key.iloc[::2].values == df.key.iloc[1::2].values).all()
    assert df.error.iloc[1::2].str.contains("gave up after 2 attempts").all()
    assert not df.error.iloc[::2].str.contains("gave up").any()
    assert main(["search", "--resume", str(run), "--budget", "9trials", "--quiet"]) == 0
    df = _rows(run)
    # the resumed run starts a new round for each given-up candidate, oldest first, before proposing
    assert list(df.source.iloc[6:]) == ["retry"] * 3
    assert list(df.key.iloc[6:]) == [df.key[1], df.key[1], df.key[3]]
    assert not df.cached.any()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["max_retries"] == 1 and cfg["objective"]["rates"]["oom"] == 1.0


def test_a_deterministic_error_is_cached_and_never_retried(tmp_path) -> None:
    run = tmp_path / "raise"
    assert _search(run, "--budget", "30trials", "--objective", "faulty:raise=1", "--executor", "inline",
                   "--max-failures", "0", "--space-opt", 'ops=["none","skip_connect"]') == 0  # fmt: skip
    df = _rows(run)
    assert set(df.status) == {"error"} and not (df.source == "retry").any()
    assert df[~df.cached].key.is_unique and df.cached.any()  # duplicates copy the error, at no cost
    assert (df[df.cached].wall_s == 0).all()


def test_faults_are_drawn_per_candidate_and_attempt() -> None:
    obj = FaultyObjective({"raise": 0.3, "oom": 0.5}, seed=4)
    jobs = [Job(trial_id=i, key=f"k{i}", genotype="", choices={"a": i}) for i in range(400)]
    first = [obj.fault(j) for j in jobs]
    assert 0.22 < first.count("raise") / 400 < 0.38 and 0.25 < first.count("oom") / 400 < 0.45
    again = [obj.fault(Job(trial_id=j.trial_id + 1000, key=j.key, genotype="", attempt=1)) for j in jobs]
    assert all(b == "raise" for a, b in zip(first, again, strict=True) if a == "raise")  # deterministic
    assert [a == b for a, b in zip(first, again, strict=True) if a == "oom"].count(False) > 50  # per attempt
    assert first == [FaultyObjective({"raise": 0.3, "oom": 0.5}, seed=4).fault(j) for j in jobs]
    assert first != [FaultyObjective({"raise": 0.3, "oom": 0.5}, seed=5).fault(j) for j in jobs]


def test_run_job_sorts_failures_into_errors_and_transient_ones() -> None:
    job = Job(trial_id=0, key="k", genotype="", choices={"a": 1})
    for rates, status, text in [
        ({"raise": 1}, "error", "InjectedFault"),
        ({"nan": 1}, "error", "non-finite score"),
        ({"oom": 1}, "transient", "out of memory"),
        ({"exit": 1}, "transient", "WorkerDied"),
    ]:
        r = run_job(FaultyObjective(rates), job)
        assert (r.status, r.score) == (status, None) and text in r.error, (rates, r)
    r = run_job(FaultyObjective({"hang": 1}, hang_s=30), job, timeout=0.2)
    assert r.status == "transient" and "0.2 s timeout" in r.error and 0.19 < r.wall_s < 5
    assert run_job(FaultyObjective({"hang": 1}, hang_s=0.01), job, timeout=5).status == "ok"  # slow, in time
    assert run_job(FaultyObjective({}), job).status == "ok"


def test_a_timeout_outside_the_main_thread_abandons_the_trial() -> None:
    import threading
    import time

    box: dict = {}

    def in_thread() -> None:
        try:
            call_with_timeout(lambda: time.sleep(30), 0.2)
        except TrialTimeout as e:
            box["error"] = e
        box["value"] = call_with_timeout(lambda: 7, 1.0)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join(10)
    assert "abandoned" in str(box["error"]) and box["value"] == 7


def test_retry_book_rounds() -> None:
    book = RetryBook(max_retries=2)
    row = {"key": "a", "cached": False, "status": "transient"}
    assert [book.book(row) for _ in range(3)] == [True, True, False] and book.gave_up(row)
    assert book.attempt("a") == 3 and [r["key"] for r in book.pending()] == ["a"]
    assert book.book(row) and not book.gave_up(row)  # a new round (a resume)
    assert not book.book({**row, "status": "ok"}) and book.pending() == []
    assert not book.book({**row, "cached": True}) and not book.book({**row, "key": ""})


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("faulty:explode=0.1", "unknown fault 'explode'"),
        ("faulty:raise=2", "must be a number in [0, 1]"),
        ("faulty:raise", "expected NAME=NUMBER"),
        ("faulty:raise=x", "expected NAME=NUMBER"),
        ("faulty:oom=0.6,exit=0.6", "add up to more than 1"),
        ("faulty:hang_s=-1", "hang_s must be >= 0"),
    ],
)
def test_bad_fault_specs_name_the_objective(spec, match) -> None:
    with pytest.raises(ConfigError, match=match.replace("[", r"\[").replace("]", r"\]")) as e:
        parse_objective(spec)
    assert e.value.field == "objective"


def test_fault_spec_parses_into_the_config_and_back() -> None:
    c = parse_objective("faulty:raise=0.1,exit=0.05,hang=0,hang_s=12", sleep=0.01)
    assert isinstance(c, FaultyObjectiveConfig) and c.rates == {"raise": 0.1, "exit": 0.05}
    assert (c.hang_s, c.sleep) == (12.0, 0.01)
    again = SearchConfig.from_dict({"objective": c.to_dict(), "executor": "inline"})
    assert again.objective == c
    assert isinstance(make_objective(c, None), FaultyObjective)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--max-retries", "-1"], "--max-retries: must be an integer >= 0"),
        (["--trial-timeout", "0"], "--trial-timeout: must be > 0 seconds"),
        (["--trial-timeout", "nan"], "--trial-timeout: must be > 0 seconds"),
        (["--objective", "faulty:boom=1"], "--objective: faulty: unknown fault 'boom'"),
    ],
)
def test_bad_fault_flags_are_one_line_errors(tmp_path, capsys, flags, match) -> None:
    assert _search(tmp_path / "r", "--budget", "2trials", "--executor", "inline", *flags) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and match in err, err


# ---------------------------------------------------------------------------------------------- Ray


@pytest.mark.slow
def test_faulty_ray_search_kills_workers_and_finishes_its_budget(tmp_path, capfd) -> None:
    """Through Ray (one trial at a time, so the run is deterministic): the same trials as inline, but the
    ``exit`` faults really end their worker process."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray = pytest.importorskip("ray")
    faults = "faulty:raise=0.08,nan=0.08,oom=0.08,hang=0.08,exit=0.12,hang_s=60"
    args = ["--budget", "20trials", "--objective", faults, "--trial-timeout", "1", "--seed", "6"]
    assert _search(tmp_path / "inline", *args, "--executor", "inline") == 0
    run = tmp_path / "ray"
    assert _search(run, *args, "--executor", "ray", "--num-cpus", "2", "--concurrency", "1") == 0
    assert not ray.is_initialized()
    out = capfd.readouterr().out
    assert "worker died" not in out.lower() and "raylet" not in out  # --quiet: Ray's lines not on stdout
    df = _check_run(run, 20, 1.0)
    inline = _rows(tmp_path / "inline")
    for c in ("key", "status", "source"):
        assert list(df[c]) == list(inline[c]), c
    died = df[df.error.str.contains("WorkerDied")]
    assert not died.error.str.contains("simulated").any()  # the worker really exited …
    assert (died.wall_s > 0).all()  # … and the attempt is charged the time since its launch
    assert "worker" in (run / "ray" / "errors.log").read_text().lower()  # Ray's lines: in the run directory
    assert list((run / "ray" / "tmp").glob("session_*/logs/raylet.out"))


@pytest.mark.slow
def test_a_lost_ray_node_is_one_line_with_the_resume_command(tmp_path) -> None:
    """Killing Ray's dashboard agent takes the raylet down with it, and Ray's core then ends the driver
    (exit 1: the machine failed, not the user): the watchdog says so in one line naming ``--resume``."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from nas.search import raywatch

    pytest.importorskip("ray")
    run = tmp_path / "lost"
    cmd = [sys.executable, "-m", "nas.cli", "search", "--space", "nb201", "--strategy", "evolution",
           "--budget", "200trials", "--objective", "synthetic", "--synthetic-sleep", "0.2",
           "--executor", "ray", "--num-cpus", "2", "--out", str(run), "--quiet"]  # fmt: skip
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    proc = subprocess.Popen(cmd, cwd=Path(__file__).parents[1], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        t0 = time.time()
        while not (run / "trials.csv").exists() or len((run / "trials.csv").read_text().splitlines()) < 4:
            assert proc.poll() is None and time.time() - t0 < 240, "the search did not get going"
            time.sleep(0.2)
        roots = raywatch.session_dirs(proc.pid, str(run.resolve() / "ray" / "tmp"))
        agents = [p for p in raywatch.marked(f"{run.resolve()}:", roots)
                  if b"DashboardAgent" in Path(f"/proc/{p}/cmdline").read_bytes()]  # fmt: skip
        assert agents
        os.kill(agents[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1
    lines = [x for x in err.splitlines() if x.startswith("nas: error:")]
    assert len(lines) == 1 and f"continue with `nas search --resume {run.resolve()}`" in lines[0], err
    assert "Traceback" not in err and "raylet" not in out
    t0 = time.time()
    while raywatch.marked(f"{run.resolve()}:", roots) and time.time() - t0 < 10:
        time.sleep(0.2)
    assert not raywatch.marked(f"{run.resolve()}:", roots)
