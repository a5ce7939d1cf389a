"""The run directory survives damage and never silently loses data: corrupt trial rows are moved to
``trials.corrupt.csv`` (original text, line number) before the table is rewritten; every unreadable state
file is named (and rebuilt from the table where the table suffices); a half-created directory is explained
or completed; ``--resume`` rejects flags that conflict with the stored configuration; appends and renames
are fsynced."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from nas.cli import main
from nas.search import durable, rundir
from nas.search.durable import StateFileError
from nas.search.trials import COLUMNS, TrialsTable, parse_rows

SYNTH = "--objective synthetic --executor inline --quiet".split()
NEW = "search --space nb201 --strategy evolution --strategy-opt population=8 --seed 1".split()


def _new_run(out: Path, trials: int = 20, *extra: str) -> Path:
    assert main([*NEW, *SYNTH, "--budget", f"{trials}trials", "--out", str(out), *extra]) == 0
    return out


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    return _new_run(tmp_path_factory.mktemp("base") / "run")


@pytest.fixture
def run(base_run, tmp_path) -> Path:
    """A fresh copy of a finished 20-trial synthetic run."""
    return Path(shutil.copytree(base_run, tmp_path / "run"))


def _resume(run: Path, *extra: str) -> int:
    return main(["search", "--resume", str(run), "--quiet", *extra])


def _one_line(capsys, rc: int, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "\n" not in err and err.startswith("nas: error: "), err
    for n in needles:
        assert n in err, err
    return err


def _corrupt_row(line: str, column: str, value: str) -> str:
    cells = next(csv.reader([line]))
    cells[COLUMNS.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def _corrupt(run: Path) -> tuple[dict[int, str], int]:
    """Break three middle rows (wrong field count, bad number, bad JSON) and add a torn last line;
    returns {line number: original text} and the number of intact rows."""
    path = run / "trials.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].rstrip("\n") + ",surplus\n"  # line 4
    lines[7] = _corrupt_row(lines[7], "score", "7x.5")  # line 8
    lines[12] = _corrupt_row(lines[12], "metrics", '{"acc": ')  # line 13
    torn = lines[15][:40]
    path.write_text("".join(lines) + torn)
    bad = {4: lines[3], 8: lines[7], 13: lines[12], len(lines) + 1: torn}
    return {n: t.rstrip("\n") for n, t in bad.items()}, len(lines) - 1 - 3


# ------------------------------------------------------------------------------------ corrupt rows


def test_corrupt_rows_are_moved_aside_with_their_text_and_the_run_continues(run, capsys) -> None:
    before = pd.read_csv(run / "trials.csv")
    bad, intact = _corrupt(run)
    assert _resume(run, "--budget", "30trials") == 0
    err = capsys.readouterr().err
    assert f"{run / 'trials.csv'}: moved 4 corrupt row(s) at lines 4 (" in err and "trials.corrupt.csv" in err
    assert "8 (bad value in column score)" in err and "13 (bad JSON in column metrics)" in err
    assert "torn last line" in err
    with open(run / "trials.corrupt.csv", newline="") as f:
        kept = {int(r["line"]): r["text"] for r in csv.DictReader(f)}
    assert kept == bad  # the original text of every corrupt line, by its line number
    after = pd.read_csv(run / "trials.csv")
    assert (~after.cached).sum() == 30 and after.trial_id.is_unique  # resumed to the budget (evaluations)
    survivors = set(before.trial_id) - {before.trial_id[n - 2] for n in (4, 8, 13)}
    assert len(survivors) == intact and survivors <= set(after.trial_id)
    merged = before.merge(after, on="trial_id", suffixes=("", "_after"))
    assert (merged.score == merged.score_after).all()  # no intact row changed


def test_the_table_is_rewritten_only_after_the_corrupt_copy_is_synced(run, monkeypatch) -> None:
    _corrupt(run)
    events: list[str] = []
    real_sync, real_write = durable.sync, durable.write_text
    monkeypatch.setattr("nas.search.trials.sync", lambda f: (events.append(f"sync {Path(f.name).name}"),
                                                             real_sync(f))[1])  # fmt: skip

    def write(path: Path, text: str) -> None:
        events.append(f"rewrite {path.name}")
        assert "surplus" in (run / "trials.corrupt.csv").read_text()
        real_write(path, text)

    monkeypatch.setattr("nas.search.trials.write_text", write)
    TrialsTable(run)
    assert events == ["sync trials.corrupt.csv", "rewrite trials.csv"]


def test_a_stray_quote_does_not_swallow_the_rows_after_it(run) -> None:
    lines = (run / "trials.csv").read_text().splitlines(keepends=True)
    lines[2] = '"' + lines[2]  # an unbalanced quote: the csv module would read on to the next quote
    parsed = parse_rows(lines, COLUMNS)
    assert [n for n, _, _ in parsed.corrupt] == [3] and parsed.removed == [1]
    assert len(parsed.rows) == len(lines) - 2


def test_rows_removed_before_the_saved_strategy_state_shift_the_replay(run) -> None:
    from nas.core.registry import SPACES
    from nas.search.strategies import make_strategy

    n = len(pd.read_csv(run / "trials.csv"))  # 20 evaluations and the duplicates among the proposals
    _corrupt(run)  # lines 4, 8, 13 (rows 2, 6, 11) and a torn last row
    table = TrialsTable(run)
    assert table.removed == [2, 6, 11, n] and len(table.rows) == n - 3
    strategy = make_strategy("evolution", SPACES["nb201"](), seed=1, population=8)
    # strategy.json saw all n rows of the table as written: n - 3 of them remain, none is to be replayed
    assert rundir.restore_strategy(run, strategy, table.removed) == n - 3 == len(table.rows)


def test_undecodable_bytes_are_moved_aside_byte_for_byte(run) -> None:
    path = run / "trials.csv"
    n = len(pd.read_csv(path))
    data = path.read_bytes().split(b"\n")
    data[5] = data[5][:30] + b"\xff\xfe\x00garbage" + data[5][30:]
    path.write_bytes(b"\n".join(data))
    table = TrialsTable(run)
    assert len(table.rows) == n - 1 and b"\xff\xfe\x00garbage" not in path.read_bytes()
    assert b"\xff\xfe\x00garbage" in (run / "trials.corrupt.csv").read_bytes()


def test_a_reader_never_rewrites_the_table_but_says_what_it_skipped(run, capsys) -> None:
    bad, _ = _corrupt(run)
    text = (run / "trials.csv").read_text()
    assert main(["report", str(run)]) == 0
    assert (run / "trials.csv").read_text() == text and not (run / "trials.corrupt.csv").exists()
    assert "skipped corrupt rows at lines 4" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- state files


def test_corrupt_ledger_is_rebuilt_from_the_table(run, capsys) -> None:
    (run / "ledger.json").write_text("{not json")
    assert _resume(run, "--budget", "25trials") == 0
    err = capsys.readouterr().err
    assert f"{run / 'ledger.json'}: not valid JSON (line 1 column 2) — rebuilt from trials.csv" in err
    assert (run / "ledger.corrupt.json").read_text() == "{not json"
    ledger = json.loads((run / "ledger.json").read_text())
    df = pd.read_csv(run / "trials.csv")
    assert ledger["trials"] == len(df) and ledger["evaluations"] == (~df.cached).sum() == 25
    assert ledger["sessions"] == 2
    assert ledger["cpu_hours"] == pytest.approx(df.cpu_hours.sum())


def test_corrupt_strategy_state_is_rebuilt_by_replaying_the_table(run, capsys) -> None:
    (run / "strategy.json").write_text("")
    assert _resume(run, "--budget", "25trials") == 0
    assert f"{run / 'strategy.json'}: not valid JSON (line 1 column 1) — strategy evolution rebuilt" in (
        capsys.readouterr().err
    )
    rows = len(pd.read_csv(run / "trials.csv"))  # every proposal is observed, duplicates included
    assert json.loads((run / "strategy.json").read_text())["observed"] == rows
    assert (run / "strategy.corrupt.json").exists()


def test_a_strategy_state_that_does_not_load_is_an_error_naming_the_file(run, capsys) -> None:
    (run / "strategy.json").write_text(json.dumps({"observed": 3, "state": {"strategy": "evolution"}}))
    rc = _resume(run, "--budget", "25trials")
    _one_line(capsys, rc, f"{run / 'strategy.json'}: not a valid state of strategy evolution", "delete it")


@pytest.mark.parametrize("command", ["resume", "report", "final"])
def test_corrupt_config_is_one_line_naming_the_file(run, capsys, command) -> None:
    (run / "config.json").write_text("\n")
    argv = {
        "resume": ["search", "--resume", str(run)],
        "report": ["report", str(run)],
        "final": ["final", str(run), "--top", "1"],
    }[command]
    _one_line(capsys, main(argv), f"{run / 'config.json'}: not valid JSON (line 2 column 1)")


def test_corrupt_best_json_names_the_file(run) -> None:
    (run / "best.json").write_text("[1, 2]")
    with pytest.raises(StateFileError, match=r"best.json: holds a JSON array, expected a JSON object — "):
        rundir.best_genotype(run)


def test_corrupt_prescreen_is_an_error_naming_the_file(tmp_path, capsys) -> None:
    out = _new_run(tmp_path / "pre", 6, "--prescreen", "params:8", "--train-top", "2")
    (out / "prescreen.csv").write_text("rank,score\n1,oops\n")
    rc = _resume(out, "--budget", "8trials")
    _one_line(capsys, rc, f"{out / 'prescreen.csv'}: not a pre-screen table", "delete it to screen again")


# ------------------------------------------------------------------------------ half-created runs


def test_config_json_is_written_before_any_table(tmp_path, monkeypatch) -> None:
    import nas.search.driver as driver

    seen = []
    real = driver.TrialsTable

    def table(directory: Path, **kw):
        seen.append((directory / "config.json").is_file())
        return real(directory, **kw)

    monkeypatch.setattr(driver, "TrialsTable", table)
    _new_run(tmp_path / "order", 2)
    assert seen == [True]


def test_a_half_created_run_is_explained_then_completed(run, capsys) -> None:
    (run / "config.json").unlink()
    rows = len(pd.read_csv(run / "trials.csv"))
    _one_line(capsys, _new_run_rc(run), "holds trials.csv but no config.json", "--resume")
    _one_line(capsys, _resume(run), "config.json: missing, but trials.csv is there", "at least --space and")
    # the flags that created it, given again with --resume: config.json is rewritten and the run goes on
    rc = main([*NEW, *SYNTH, "--budget", "25trials", "--resume", str(run)])
    assert rc == 0, capsys.readouterr().err
    assert "config.json: was missing; written from the settings" in capsys.readouterr().err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["seed"] == 1 and cfg["strategy_options"] == {"population": 8}
    df = pd.read_csv(run / "trials.csv")
    assert (~df.cached).sum() == 25 and len(df) > rows and df.trial_id.is_unique


def _new_run_rc(out: Path) -> int:
    return main([*NEW, *SYNTH, "--budget", "20trials", "--out", str(out)])


# ---------------------------------------------------------------------------------- resume flags


def test_flags_that_conflict_with_the_stored_run_are_named(run, capsys, tmp_path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("arch,acc\n")
    flags = ["--objective", "table", "--table", str(table), "--seed", "9", "--strategy-opt", "population=3"]
    err = _one_line(
        capsys, _resume(run, *flags), "--seed 9 conflicts with the run's seed 1", "a resumed run keeps"
    )
    assert "--strategy-opt population=3 conflicts with the run's strategy options population=8" in err
    assert "--objective table conflicts with the run's objective synthetic" in err
    assert "--table" in err and "does not apply to the run's synthetic objective" in err
    assert "--budget" in err  # what may change is listed


def test_flags_equal_to_the_stored_values_and_resumable_ones_are_fine(run) -> None:
    same = [*NEW[1:], "--objective", "synthetic"]
    assert _resume(run, *same, "--budget", "24trials", "--concurrency", "2") == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["budget"] == "24trials" and cfg["concurrency"] == 2
    assert (~pd.read_csv(run / "trials.csv").cached).sum() == 24


def test_objective_flags_equal_to_the_stored_ones_are_fine(tmp_path, monkeypatch, capsys) -> None:
    from search_helpers import write_table

    from search_spaces.nb201_synthetic import synthetic_nb201_table

    write_table(tmp_path / "t.csv", synthetic_nb201_table(seed=0))
    monkeypatch.chdir(tmp_path)  # a relative --table path is the stored absolute one
    table = ["--objective", "table", "--table", "t.csv", "--metric-column", "val_acc", "--table-cost-s", "2"]
    base = ["search", "--space", "nb201", "--strategy", "random", "--executor", "inline", "--quiet"]
    assert main([*base, *table, "--budget", "5trials", "--out", "tab"]) == 0
    assert _resume(tmp_path / "tab", *table[:-1], "2.0", "--budget", "8trials") == 0
    assert len(pd.read_csv(tmp_path / "tab" / "trials.csv")) == 8
    rc = _resume(tmp_path / "tab", "--metric-column", "params_m", "--table-cost-s", "3")
    err = _one_line(capsys, rc, "--metric-column params_m conflicts with the run's metric_column val_acc")
    assert "--table-cost-s 3.0 conflicts with the run's cost_s 2.0" in err


def test_resume_help_lists_what_may_change(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "only these flags may change it: --budget, --executor" in text and "--gpus-per-trial" in text


# ------------------------------------------------------------------------------------------ fsync


def test_appends_and_renames_are_fsynced(tmp_path, monkeypatch) -> None:
    synced_dirs: list[Path] = []
    synced_files: list[str] = []
    real_dir, real_fsync = durable.sync_dir, durable.os.fsync
    monkeypatch.setattr(durable, "sync_dir", lambda d: (synced_dirs.append(Path(d)), real_dir(d))[1])

    def fsync(fd: int) -> None:
        synced_files.append(Path(f"/proc/self/fd/{fd}").resolve().name)
        real_fsync(fd)

    monkeypatch.setattr(durable.os, "fsync", fsync)
    monkeypatch.setattr(durable.os, "fdatasync", fsync)
    out = _new_run(tmp_path / "sync", 6)
    # six appended rows, each synced; each rename synced as its temp file, then the directory
    assert synced_files.count("trials.csv") >= 6
    for name in ("config.json", "ledger.json", "strategy.json", "best.json", "trials.parquet"):
        assert f"{name}.tmp" in synced_files, name
    assert out in synced_dirs


# ------------------------------------------------------------------------------------- bad inputs


@dataclass(frozen=True)
class Case:
    """A bad input: ``setup(run)`` damages a copy of a finished run and returns the argv; the CLI must
    exit 2 with one line on stderr holding ``match`` (the run directory written as RUN)."""

    id: str
    setup: Callable[[Path], list[str]]
    match: str


def _write(name: str, text: str, argv: list[str]) -> Callable[[Path], list[str]]:
    def setup(run: Path) -> list[str]:
        (run / name).write_text(text)
        return [a.replace("RUN", str(run)) for a in argv]

    return setup


def _drop(name: str, argv: list[str]) -> Callable[[Path], list[str]]:
    def setup(run: Path) -> list[str]:
        (run / name).unlink()
        return [a.replace("RUN", str(run)) for a in argv]

    return setup


RESUME = ["search", "--resume", "RUN"]
REPORT = ["report", "RUN"]
CASES = [
    Case("config-not-json-resume", _write("config.json", "{", RESUME), "RUN/config.json: not valid JSON"),
    Case("config-not-json-report", _write("config.json", "x", REPORT), "RUN/config.json: not valid"),
    Case("config-not-json-final", _write("config.json", "", ["final", "RUN", "--top", "1"]), "RUN/config"),
    Case("config-a-list", _write("config.json", "[]", RESUME), "RUN/config.json: holds a JSON array"),
    Case("config-bad-field", _write("config.json", '{"executor": "mpi"}', RESUME), "RUN/config.json: not a"),
    Case("config-missing", _drop("config.json", RESUME), "RUN/config.json: missing, but trials.csv is there"),
    Case("config-missing-report", _drop("config.json", REPORT), "RUN/config.json: missing, but trials.csv"),
    Case("config-missing-final", _drop("config.json", ["final", "RUN", "--top", "1"]), "RUN/config.json: m"),
    Case(
        "half-created-new-run",
        _drop("config.json", [*NEW, "--budget", "2trials", "--out", "RUN"]),
        "holds trials.csv but no config.json",
    ),
    Case("ledger-not-json-report", _write("ledger.json", "{", REPORT), "RUN/ledger.json: not valid JSON"),
    Case(
        "strategy-does-not-load",
        _write("strategy.json", '{"state": {"strategy": "evolution"}}', RESUME),
        "RUN/strategy.json: not a valid state of strategy evolution",
    ),
    Case(
        "best-not-json-scale-base",
        _write("best.json", "{", ["scale", "sweep", "--base", "RUN", "--out", "RUN/s"]),
        "RUN/best.json: not valid JSON",
    ),
    Case("trials-other-columns", _write("trials.csv", "a,b\n1,2\n", RESUME), "RUN/trials.csv: its columns"),
    Case("resume-seed", lambda r: [*RESUME, "--seed", "9"], "--seed 9 conflicts with the run's seed 1"),
    Case("resume-space", lambda r: [*RESUME, "--space", "darts"], "--space darts conflicts with the run's"),
    Case("resume-strategy", lambda r: [*RESUME, "--strategy", "random"], "--strategy random conflicts"),
    Case("resume-strategy-opt", lambda r: [*RESUME, "--strategy-opt", "population=3"], "population=3 conf"),
    Case("resume-objective", lambda r: [*RESUME, "--objective", "train"], "--objective train conflicts"),
    Case("resume-preset", lambda r: [*RESUME, "--preset", "tiny"], "--preset tiny does not apply"),
    Case("resume-out", lambda r: [*RESUME, "--out", "/tmp/elsewhere"], "--out /tmp/elsewhere conflicts"),
    Case("resume-seed-with", lambda r: [*RESUME, "--seed-with", "resnet20"], "--seed-with resnet20 conf"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_run_files_and_resume_flags(case: Case, run, capsys) -> None:
    argv = [a.replace("RUN", str(run)) for a in case.setup(run)]
    _one_line(capsys, main(argv), case.match.replace("RUN", str(run)))


def test_a_table_written_before_the_parent_column_resumes_and_gains_it(run) -> None:
    from nas.search.trials import LEGACY_COLUMNS

    df = pd.read_csv(run / "trials.csv", dtype=str, keep_default_na=False)
    df[LEGACY_COLUMNS].to_csv(run / "trials.csv", index=False)  # the header of older runs: no parent
    rows = len(df)
    assert _resume(run, "--budget", "24trials") == 0
    after = pd.read_csv(run / "trials.csv")
    assert list(after.columns) == COLUMNS and len(after) > rows and (~after.cached).sum() == 24
    assert after.parent[:rows].isna().all() and after.parent[rows:].notna().any()
