"""``nas ls`` (one line per run, its status read defensively) and ``nas compare`` (curves, final bests,
one self-contained HTML page)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from search_helpers import write_table

from nas.cli import main
from nas.report.listing import list_runs, status_of
from nas.search.rundir import DRIVER_PID


def _search(out: Path, *extra: str, strategy: str = "random", seed: int = 1, budget: str = "6trials") -> Path:
    argv = ["search", "--space", "nb201", "--strategy", strategy, "--seed", str(seed), "--quiet"]
    argv += ["--executor", "inline", "--budget", budget, "--out", str(out), *extra]
    try:
        code = main(argv)
    except SystemExit as e:  # the breaker ends the run with exit 1
        code = e.code
    assert out.is_dir(), code
    return out


def _set_best(run: Path, **fields) -> None:
    best = json.loads((run / "best.json").read_text())
    best.update(fields)
    (run / "best.json").write_text(json.dumps(best))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A runs directory: finished, interrupted (killed: no stop reason), stopped by the breaker, corrupt
    (best.json, config.json), a stale pid file, and two directories that are not runs."""
    root = tmp_path_factory.mktemp("runs")
    done = _search(root / "a-finished", "--objective", "synthetic")
    _search(root / "c-broken", "--objective", "faulty:raise=1", "--max-failures", "2", budget="20trials")
    shutil.copytree(done, root / "b-interrupted")
    _set_best(root / "b-interrupted", stop_reason=None)
    shutil.copytree(done, root / "d-corrupt")
    (root / "d-corrupt" / "best.json").write_text('{"run": "d-corrupt", "trials": ')
    shutil.copytree(done, root / "e-no-config")
    (root / "e-no-config" / "config.json").unlink()
    shutil.copytree(done, root / "f-stale-pid")
    _set_best(root / "f-stale-pid", stop_reason=None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / "f-stale-pid" / DRIVER_PID).write_text(json.dumps({"pid": dead.pid}))
    shutil.copytree(done, root / "g-no-best")  # killed before its first best.json
    (root / "g-no-best" / "best.json").unlink()
    shutil.copytree(done, root / "h-bad-ledger")
    (root / "h-bad-ledger" / "ledger.json").write_text("[1, 2]")
    (root / "not-a-run").mkdir()
    (root / "not-a-run" / "notes.txt").write_text("hello")
    (root / "README").write_text("a file, not a directory")
    return root


def _statuses(capsys, root: Path) -> dict[str, list[str]]:
    assert main(["ls", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "status", "space", "strategy", "trials", "best", "budget", "used"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


def test_ls_prints_the_status_of_each_run_and_skips_what_is_not_a_run(capsys, runs) -> None:
    got = _statuses(capsys, runs)
    assert list(got) == [
        "a-finished", "b-interrupted", "c-broken", "d-corrupt", "e-no-config", "f-stale-pid", "g-no-best",
        "h-bad-ledger",
    ]  # fmt: skip
    assert got["a-finished"] == ["finished", "nb201", "random", "6", got["a-finished"][4], "6/6", "trials"]
    assert float(got["a-finished"][4]) == pytest.approx(
        json.loads((runs / "a-finished" / "best.json").read_text())["best"]["score"], abs=1e-4
    )
    assert got["b-interrupted"][0] == "interrupted"
    assert got["c-broken"][:4] == ["failed", "nb201", "random", "2"] and got["c-broken"][4] == "-"
    assert got["d-corrupt"][:2] == ["corrupt", "(best.json)"]
    assert got["e-no-config"][:2] == ["corrupt", "(config.json)"]
    assert got["f-stale-pid"][0] == "interrupted"  # its driver is gone
    assert got["g-no-best"][:5] == ["interrupted", "nb201", "random", "6", "-"]  # trials counted in the table
    assert got["h-bad-ledger"][:2] == ["corrupt", "(ledger.json)"]


def test_ls_json_and_a_single_run(capsys, runs) -> None:
    assert main(["ls", str(runs), "--format", "json"]) == 0
    lines = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert lines["c-broken"]["status"] == "failed"
    assert "trials in a row failed with the same error" in lines["c-broken"]["stop_reason"]
    assert lines["d-corrupt"]["status"] == "corrupt" and lines["d-corrupt"]["corrupt"] == "best.json"
    assert lines["a-finished"]["budget"] == "6/6 trials" and lines["a-finished"]["trials"] == 6
    assert [x.name for x in list_runs(runs / "a-finished")] == ["a-finished"]  # a run itself: its line


def test_a_live_driver_is_running(capsys, runs, tmp_path) -> None:
    run = tmp_path / "live"
    shutil.copytree(runs / "b-interrupted", run)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / DRIVER_PID).write_text(json.dumps({"pid": sleeper.pid}))
        assert _statuses(capsys, tmp_path)["live"][0] == "running"
        (run / DRIVER_PID).unlink()  # a closed run has no mark
        assert _statuses(capsys, tmp_path)["live"][0] == "interrupted"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _statuses(capsys, tmp_path)["live"][0] == "interrupted"


def test_status_rules() -> None:
    assert status_of("budget 2cpuh reached", live=False) == "finished"
    assert status_of("every point of the grid was proposed", live=False) == "finished"
    assert (
        status_of("the strategy proposed 200 evaluated candidates in a row (converged)", False) == "finished"
    )
    assert status_of("4 trials in a row failed with the same error: boom", live=False) == "failed"
    assert status_of("interrupted", live=False) == status_of(None, live=False) == "interrupted"
    assert status_of(None, live=True) == "running"


def test_ls_of_a_missing_directory_is_one_line(capsys, tmp_path) -> None:
    assert main(["ls", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nas: error: {str(tmp_path / 'nope')!r} is not a directory"]
    assert main(["ls", str(tmp_path)]) == 0 and capsys.readouterr().out.strip() == "no runs"


# ---------------------------------------------------------------------------------------- compare


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, table) -> tuple[Path, Path, Path]:
    """Two finished table-objective runs on the synthetic NB201 table, and the table."""
    root = tmp_path_factory.mktemp("cmp")
    csv = write_table(root / "nb201.csv", table)
    obj = ["--objective", "table", "--table", str(csv), "--metric-column", "val_acc"]
    a = _search(root / "runs" / "evo", *obj, strategy="evolution", seed=3, budget="25trials")
    b = _search(root / "runs" / "rand", *obj, strategy="random", seed=4, budget="25trials")
    return a, b, csv


def test_compare_writes_html_with_embedded_figures_and_the_final_bests(capsys, two_runs, table) -> None:
    a, b, csv = two_runs
    out = a.parent.parent / "cmp-out"
    argv = ["compare", str(a), str(b), "--truth", str(csv), "--target-column", "val_acc", "--out", str(out)]
    assert main([*argv, "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    optimum = max(table.values())
    assert got["optimum"] == pytest.approx(optimum)
    for row, run in zip(got["runs"], (a, b)):
        best = json.loads((run / "best.json").read_text())
        assert row["run"] == run.name and row["status"] == "finished"
        assert row["best"] == best["best"]["score"] and row["best_trial"] == best["best"]["trial_id"]
        assert row["trials"] == best["trials"] == 25
        assert row["regret"] == pytest.approx(optimum - best["best"]["score"])
    html = (out / "compare.html").read_text()
    assert html.count("data:image/png;base64,") == 1 and 'src="compare.png"' not in html
    md = (out / "compare.md").read_text()
    assert "](compare.png)" in md and (out / "compare.png").stat().st_size > 10_000
    for row in got["runs"]:
        assert f"| {row['run']} | finished | nb201 |" in md and f"{row['best']:.4f}" in md
    assert json.loads((out / "compare.json").read_text())["runs"] == got["runs"]
    # the table printed, and where it went
    assert main(argv) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split()[:3] == ["run", "status", "space"] and text[0].split()[-1] == "regret"
    assert [line.split()[0] for line in text[1:3]] == ["evo", "rand"]
    assert text[-1] == f"wrote {out / 'compare.html'} and {out / 'compare.md'}"


def test_compare_default_out_is_next_to_the_first_run_and_no_optimum_plots_scores(capsys, two_runs) -> None:
    a, b, _ = two_runs
    assert main(["compare", str(a), str(b)]) == 0
    out = a.parent / "compare-evo-rand"
    assert (
        capsys.readouterr().out.splitlines()[-1] == f"wrote {out / 'compare.html'} and {out / 'compare.md'}"
    )
    assert "regret" not in (out / "compare.md").read_text()
    # the comparison's directory is not a run: nas ls skips it
    assert main(["ls", str(a.parent)]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["evo", "rand"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--optimum", "50"], "--optimum: run 'evo' has a best score"),
        (["--optimum", "nan"], "--optimum: must be a finite number"),
        (["--optimum", "99", "--truth", "t.csv"], "--truth: not allowed with argument --optimum"),
        (["--truth", "missing.csv"], "missing.csv"),
    ],
)
def test_compare_errors_are_one_line(capsys, two_runs, extra, message) -> None:
    a, b, _ = two_runs
    assert main(["compare", str(a), str(b), "--out", str(a.parent / "x"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nas: error: ") and message in err[0]


def test_compare_needs_two_runs_and_names_a_broken_one(capsys, two_runs, tmp_path) -> None:
    a, _, _ = two_runs
    assert main(["compare", str(a)]) == 2
    assert "compare needs at least two runs, got 1" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err
