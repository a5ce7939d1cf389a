"""SIGKILL the search driver at random moments and resume each time: every finished trial is kept exactly
once, the ledger stays the sum of the trials' costs, an inline run ends with exactly the trial sequence of
an uninterrupted run of the same seed, and no Ray process of a run outlives its killed driver by 10 s."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from nas.cli import main
from nas.search import raywatch

ROOT = Path(__file__).resolve().parents[1]
#: raise / NaN errors and out-of-memory / worker-exit transient failures (retried), from the run's seed
FAULTS = "faulty:raise=0.05,nan=0.05,oom=0.08,exit=0.04"


def _cmd(run: Path, *extra: str, strategy: str = "evolution") -> list[str]:
    opts = ["--strategy-opt", "population=8"] if strategy == "evolution" else []
    return [sys.executable, "-m", "nas.cli", "search", "--space", "nb201", "--strategy", strategy, *opts,
            "--seed", "7", "--objective", FAULTS, "--max-retries", "3", "--out", str(run), "--quiet",
            *extra]  # fmt: skip


def _resume(run: Path) -> list[str]:
    return [sys.executable, "-m", "nas.cli", "search", "--resume", str(run), "--quiet"]


def _rows(csv: Path) -> int:
    return max(0, csv.read_text().count("\n") - 1) if csv.exists() else 0


def _kill_after_new_rows(cmd: list[str], csv: Path, rng: random.Random, timeout: float = 120.0) -> int:
    """Start ``cmd``; once it has recorded a trial more, wait a random moment and SIGKILL it. Returns the
    driver's pid."""
    before = _rows(csv)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while _rows(csv) <= before:
            if proc.poll() is not None:
                raise AssertionError(f"the search ended before the kill: {proc.stderr.read()}")
            if time.time() - t0 > timeout:
                raise AssertionError("the search recorded no trial in time")
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.25))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.pid


def _snapshot(csv: Path) -> pd.DataFrame:
    """The table as text (cells compared exactly)."""
    return pd.read_csv(csv, dtype=str, keep_default_na=False) if csv.exists() else pd.DataFrame()


def _check_kept(before: pd.DataFrame, after: pd.DataFrame) -> None:
    """Every row finished before a kill is in the final table, unchanged, once."""
    if before.empty:
        return
    cols = ["trial_id", "key", "status", "score", "source", "wall_s"]
    merged = before[cols].merge(after[cols], on="trial_id", suffixes=("", "_after"), how="left")
    assert len(merged) == len(before)
    for c in cols[1:]:
        assert (merged[c] == merged[f"{c}_after"]).all(), c


def _check_ledger(run: Path, budget: int) -> pd.DataFrame:
    df = pd.read_csv(run / "trials.csv", keep_default_na=False, na_values={"score": [""]})
    assert (~df.cached).sum() == budget and df.trial_id.is_unique  # the budget counts evaluations
    assert df[~df.cached & (df.status != "transient")].key.is_unique  # each candidate evaluated once
    ledger = json.loads((run / "ledger.json").read_text())
    assert ledger["evaluations"] == budget and ledger["trials"] == len(df)
    assert math.isclose(ledger["cpu_hours"], df.cpu_hours.sum(), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(ledger["trial_wall_s"], df[~df.cached].wall_s.sum(), rel_tol=1e-9)
    return df


@pytest.mark.parametrize("strategy", ["evolution", "tpe"])
def test_resumed_inline_run_reproduces_the_uninterrupted_one_from_any_saved_state(tmp_path, strategy) -> None:
    """Resumed twice (the second time with its strategy.json lost, so every row is replayed by proposing
    it again): the same trials in the same order as the uninterrupted run."""
    whole = _cmd(tmp_path / "whole", "--executor", "inline", "--budget", "50trials", strategy=strategy)
    assert main(whole[3:]) == 0
    run = tmp_path / "part"
    assert main(_cmd(run, "--executor", "inline", "--budget", "13trials", strategy=strategy)[3:]) == 0
    assert main([*_resume(run)[3:], "--budget", "29trials"]) == 0
    (run / "strategy.json").unlink()
    assert main([*_resume(run)[3:], "--budget", "50trials"]) == 0
    a, b = _snapshot(tmp_path / "whole" / "trials.csv"), _snapshot(run / "trials.csv")
    for c in ("trial_id", "key", "status", "source", "cached", "score"):
        assert list(a[c]) == list(b[c]), c
    assert set(a.status) == {"ok", "error", "transient"}


@pytest.mark.slow
def test_inline_run_killed_at_random_moments_resumes_to_the_uninterrupted_sequence(tmp_path) -> None:
    budget = ["--budget", "60trials", "--executor", "inline", "--synthetic-sleep", "0.04"]
    whole = tmp_path / "whole"
    assert main(_cmd(whole, *budget)[3:]) == 0
    run, rng = tmp_path / "killed", random.Random(11)
    csv, kills = run / "trials.csv", 0
    snapshots = []
    while kills < 5 and _rows(csv) < 54:
        _kill_after_new_rows(_resume(run) if kills else _cmd(run, *budget), csv, rng)
        snapshots.append(_snapshot(csv))
        kills += 1
    assert kills >= 5
    assert main(_resume(run)[3:]) == 0
    df = _check_ledger(run, 60)
    for snap in snapshots:
        _check_kept(snap, _snapshot(csv))
    assert df.session.nunique() == kills + 1
    ref = pd.read_csv(whole / "trials.csv", keep_default_na=False)
    for c in ("trial_id", "key", "status", "source", "cached"):
        assert list(df[c]) == list(ref[c]), c  # the uninterrupted run's trials, in its order
    assert set(ref.status) == {"ok", "error", "transient"} and (ref.source == "retry").any()
    assert json.loads((run / "strategy.json").read_text())["observed"] == len(df)


def _ray_processes(run: Path) -> list[int]:
    """Live processes of the run's Ray (they carry raywatch.MARK naming the run directory)."""
    prefix = f"{raywatch.MARK}={run.resolve()}:".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                env = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(v.startswith(prefix) for v in env):
                out.append(int(entry.name))
    return out


@pytest.mark.slow
def test_ray_run_killed_at_random_moments_keeps_every_trial_and_leaves_no_ray_behind(tmp_path) -> None:
    pytest.importorskip("ray")
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    budget = ["--budget", "12trials", "--executor", "ray", "--num-cpus", "2", "--synthetic-sleep", "0.1"]
    run, rng = tmp_path / "ray", random.Random(5)
    csv, kills, snapshots, lingering = run / "trials.csv", 0, [], []
    while kills < 5 and _rows(csv) < 10:
        _kill_after_new_rows(_resume(run) if kills else _cmd(run, *budget), csv, rng, timeout=240)
        snapshots.append(_snapshot(csv))
        kills += 1
        t0 = time.time()
        while _ray_processes(run) and time.time() - t0 < 10:
            time.sleep(0.2)
        lingering.append(_ray_processes(run))
        for pid in lingering[-1]:  # do not leave them to the next session (the test fails below)
            os.kill(pid, signal.SIGKILL)
    assert kills >= 5 and lingering == [[]] * kills  # no Ray process alive 10 s after a kill
    done = subprocess.run(_resume(run), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    _check_ledger(run, 12)
    for snap in snapshots:
        _check_kept(snap, _snapshot(csv))
    assert not _ray_processes(run)
