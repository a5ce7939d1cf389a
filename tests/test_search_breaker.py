"""Data first, and the circuit breaker: a search with unusable data stops before its directory, pre-screen
or any trial (exit 2); one whose trials keep failing the same way stops after K of them (exit 1)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

from nas.cli import main
from nas.search.breaker import FailureBreaker


def _row(status: str, error: str = "", source: str = "strategy", cached: bool = False) -> dict:
    return {"status": status, "error": error, "source": source, "cached": cached}


def test_the_breaker_trips_on_k_same_errors_in_a_row_only() -> None:
    b = FailureBreaker(3)
    assert b.observe(_row("error", "ValueError: bad 12")) is None
    assert b.observe(_row("ok")) is None  # a success resets the count
    assert b.observe(_row("error", "ValueError: bad 1")) is None
    assert b.observe(_row("transient", "OutOfMemoryError: 20.5 MiB")) is None  # another error: restart
    assert b.observe(_row("error", "ValueError: bad 7")) is None
    assert b.observe(_row("error", "ValueError: bad 8")) is None
    assert b.observe(_row("error", "ValueError: bad 8", cached=True)) is None  # cached rows do not count
    assert b.observe(_row("error", "ValueError: bad 0x1f", source="retry")) is None  # nor retries
    reason = b.observe(_row("error", "ValueError: bad 9"))  # numbers differ: still the same error
    assert reason == "3 trials in a row failed with the same error: ValueError: bad 9"
    assert FailureBreaker(0).observe(_row("error", "x")) is None  # 0: never


def test_a_retry_that_succeeds_resets_the_breaker() -> None:
    b = FailureBreaker(2)
    assert b.observe(_row("transient", "OutOfMemoryError: 1 MiB")) is None
    assert b.observe(_row("ok", source="retry")) is None
    assert b.observe(_row("transient", "OutOfMemoryError: 2 MiB")) is None  # a fresh count of 1


def test_an_objective_that_always_fails_stops_after_k_trials_with_exit_1(tmp_path, capsys) -> None:
    run = tmp_path / "broken"
    argv = ["search", "--space", "nb201", "--strategy", "random", "--objective", "faulty:raise=1",
            "--budget", "200trials", "--executor", "inline", "--out", str(run),
            "--max-failures", "4"]  # fmt: skip
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("nas: error")]
    assert len(err) == 1
    assert "4 trials in a row failed with the same error: InjectedFault: injected fault" in err[0]
    assert str(run / "trials.csv") in err[0] and f"--resume {run}" in err[0]
    df = pd.read_csv(run / "trials.csv")
    assert len(df) == 4 and set(df.status) == {"error"}


@pytest.mark.parametrize("data", ["empty-dir", "text.tar.gz"])
def test_unusable_data_stops_the_search_before_any_prescreen_or_trial(tmp_path, capsys, data) -> None:
    path = tmp_path / data
    if data == "empty-dir":
        path.mkdir()
    else:
        path.write_text("not an archive\n")
    run = tmp_path / "run"
    t0 = time.monotonic()
    code = main(["search", "--space", "nb201", "--strategy", "random", "--objective", "train",
                 "--data-dir", str(path), "--prescreen", "synflow:50", "--train-top", "5",
                 "--budget", "1cpuh", "--executor", "inline", "--out", str(run)])  # fmt: skip
    assert code == 2 and time.monotonic() - t0 < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nas: error: ") and path.name in err[0]
    assert not run.exists()  # nothing left behind: the same command works once the data is fixed


def test_an_offline_download_stops_the_search_before_any_prescreen_or_trial(
    tmp_path, capsys, monkeypatch
) -> None:
    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached: it must download
    run = tmp_path / "run"
    t0 = time.monotonic()
    code = main(["search", "--space", "nb201", "--strategy", "random", "--objective", "train",
                 "--dataset", "cifar100", "--prescreen", "synflow:50", "--train-top", "5",
                 "--budget", "1cpuh", "--executor", "inline", "--out", str(run)])  # fmt: skip
    assert code == 2 and time.monotonic() - t0 < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nas: error: ") and "download cifar100" in err[0]
    assert not run.exists()
