"""``nas oneshot``: one run directory, one-line errors, resume; the genotype it writes builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.cli import app
from nas.core.compile import build

TINY = [
    "--space-opt", "C=8", "--space-opt", "N=1", "--dataset", "synthetic", "--train-subset", "256",
    "--val-size", "64", "--set", "epochs=1", "--set", "batch_size=32", "--set", "amp=none",
    "--set", "channels_last=false", "--calib-batches", "1", "--quiet", "--format", "json",
]  # fmt: skip


def test_spos_run_errors_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = [
        "oneshot",
        "--space",
        "nb201",
        "--method",
        "spos",
        *TINY,
        "--strategy",
        "random",
        "--out",
        str(out),
    ]
    assert app.main([*argv, "--budget", "3trials"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["search"]["evaluations"] == 3
    ledger = json.loads((out / "search" / "ledger.json").read_text())
    assert ledger["extra"]["supernet_cpu_s"] == pytest.approx(
        r["supernet_train_seconds"]
    )  # training is charged
    assert (out / "search" / "trials.csv").is_file() and (out / "search" / "best.json").is_file()
    build(str(out / "genotype.json"))  # nas build / train / final read it as is
    assert app.main([*argv, "--budget", "5trials"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nas: error: --out") and "(pass --resume)" in err
    assert app.main([*argv, "--budget", "5trials", "--resume"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["search"]["evaluations"] == 5
    ledger = json.loads((out / "search" / "ledger.json").read_text())
    assert ledger["extra"]["supernet_cpu_s"] == pytest.approx(r["supernet_train_seconds"])  # booked once
    assert app.main([*argv, "--budget", "5trials", "--resume", "--set", "lr=0.2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nas: error: --set") and "lr=0.05" in err


def test_darts_run_and_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "darts"
    argv = ["oneshot", "--space", "nb201", "--method", "darts", *TINY, "--out", str(out)]
    assert app.main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["choices"]) == {"e1_0", "e2_0", "e2_1", "e3_0", "e3_1", "e3_2"} and "arch" in r
    build(str(out / "genotype.json"))
    assert (
        app.main(["oneshot", "--space", "nb201", *TINY, "--set", "nope=1", "--out", str(tmp_path / "x")]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("nas: error: --set") and "nope" in err and len(err.splitlines()) == 1


def test_the_member_search_flows_into_final_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["oneshot", "--space", "nb201", "--method", "spos", *TINY, "--strategy", "random"]
    argv += ["--out", str(out)]
    assert app.main([*argv, "--budget", "3trials"]) == 0
    found = json.loads(capsys.readouterr().out)["search"]["best"]
    final = ["final", str(out / "search"), "--top", "1", "--preset", "tiny", "--dataset", "synthetic"]
    assert app.main([*final, "--set", "epochs=1", "--device", "cpu", "--quiet", "--format", "json"]) == 0
    (trained,) = json.loads(capsys.readouterr().out)["trained"]
    assert trained["arch"] == found["arch"] and trained["trial_id"] == found["trial_id"]
    assert app.main(["report", str(out / "search")]) == 0
    assert found["arch"] in (out / "search" / "report.md").read_text()
