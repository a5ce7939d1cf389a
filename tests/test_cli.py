"""The nas command: output, files written, and one-line errors with exit code 2."""

import argparse
import json
import re
import subprocess
import sys

import pytest

import nas
from nas.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_describe_alexnet_table(capsys):
    code, out, err = run(capsys, "describe", "alexnet", "--input-size", "227")
    assert code == 0 and not err
    assert "61,100,840" in out
    assert "Conv2d" in out and "227x227" in out and "56x56" in out
    assert "depth:             8" in out


def test_describe_json_and_csv(capsys, tmp_path):
    code, out, _ = run(capsys, "describe", "resnet20", "--format", "json")
    d = json.loads(out)
    assert code == 0 and d["params"] == 269_722 and d["depth"] == 20
    path = tmp_path / "r.csv"
    code, out, _ = run(capsys, "describe", "resnet20", "--format", "csv", "-o", str(path))
    assert code == 0 and path.read_text().startswith("name,type,")


def test_zoo_commands(capsys, tmp_path):
    code, out, _ = run(capsys, "zoo", "list", "resnet*")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and "resnet50" in names and all(n.startswith("resnet") for n in names)
    code, out, _ = run(capsys, "zoo", "show", "resnet18")
    assert nas.from_json(out) == nas.resolve("resnet18")
    path = tmp_path / "r18.json"
    assert run(capsys, "zoo", "export", "resnet18", "-o", str(path))[0] == 0
    assert nas.load(path) == nas.resolve("resnet18")
    code, out, _ = run(capsys, "describe", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["params"] == 11_689_512
    code, out, _ = run(capsys, "zoo", "check", "resnet18", "--input-size", "32")
    r = json.loads(out)
    assert code == 0 and r["match"] and r["params"] == r["reference_params"] and r["max_rel_diff"] < 1e-5


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_draw(capsys, tmp_path, suffix):
    path = tmp_path / f"cell{suffix}"
    code, out, err = run(capsys, "draw", "resnet50", "-o", str(path))
    assert code == 0 and path.stat().st_size > 1000
    magic = path.read_bytes()[:8]
    assert magic.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in path.read_bytes()[:2000]


def test_validate(capsys):
    code, out, _ = run(capsys, "validate", "resnet50")
    assert code == 0 and json.loads(out)["key"] == nas.canonical_key(nas.resolve("resnet50"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["describe", "resnet5"], "unknown architecture 'resnet5'"),
        (["describe", "missing.json"], "genotype file 'missing.json' does not exist"),
        (["describe", "alexnet", "--input-size", "16"], "cannot take input of shape"),
        (["describe", "alexnet", "--format", "xml"], "invalid choice: 'xml'"),
        (["draw", "resnet50", "-o", "cell.txt"], "must end in .png, .svg or .pdf"),
        (["draw", "resnet50", "-o", "c.png", "--cell", "nope"], "--cell: 'nope' is not a cell of 'resnet50'"),
        (["zoo", "check", "resnet20"], "has no reference implementation"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required: COMMAND"),
    ],
)
def test_user_errors_are_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_library_errors_are_reported_with_the_flag(capsys, tmp_path, monkeypatch):
    """The library names its settings (``data_dir``, ``image_size``, ``cell``); the CLI names the flag."""
    import urllib.error
    import urllib.request

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    train = ["train", "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")]
    cases = [
        (["draw", "resnet50", "-o", str(tmp_path / "c.png"), "--cell", "no"], "--cell: 'no' is not a cell"),
        ([*train, "resnet20", "--dataset", "imagefolder"], "--data-dir: dataset 'imagefolder'"),
        ([*train, "resnet20", "--dataset", "cifar10"], "--data-dir: could not download cifar10"),
        ([*train, "inception_v3", "--dataset", "synthetic", "--preset", "tiny"], "--image-size: "),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.splitlines()[-1].startswith(f"nas: error: {message}"), err


def test_bad_json_file(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"schema": "nas.genotype/1", "kind": "network", "name": "x"}')
    code, _, err = run(capsys, "describe", str(path))
    assert code == 2 and err.startswith("nas: error:") and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # over 10 s here
def test_console_script_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "nas.cli", "describe", "nope"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "nas: error: unknown architecture 'nope'; see the list of registered names"
    )
    proc = subprocess.run([sys.executable, "-m", "nas.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "describe" in proc.stdout


# --- the parser: help, choices, one spelling per concept -------------------------------------------

INTERNAL = {
    "--synthetic-sleep",
    "--synthetic-epochs",
    "--synthetic-noise",
    "--max-duplicates",
}  # test-only, hidden on purpose


def _commands(parser=None, path=()):
    """(path, parser) for the top level and every subcommand, depth first."""
    from nas.cli.app import build_parser

    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _options(parser):
    skip = (argparse._HelpAction, argparse._SubParsersAction)
    return [a for a in parser._actions if not isinstance(a, skip)]


def test_every_command_help_opens_with_a_description_and_shows_an_example(capsys):
    paths = []
    for path, parser in _commands():
        paths.append(" ".join(path))
        assert parser.description and "\n" not in parser.description.strip(), path
        assert parser.epilog and "example:\n  nas" in parser.epilog, path
        with pytest.raises(SystemExit) as e:
            main([*path, "--help"])
        out = capsys.readouterr().out
        assert e.value.code == 0 and parser.description in out and "example:\n  nas" in out, path
    for name in ("describe", "draw", "validate", "zoo list", "zoo check", "spaces show", "train", "transfer"):
        assert name in paths
    for name in ("search", "baselines", "calibrate", "final", "report"):
        assert name in paths


def test_every_option_has_help_text():
    from nas.cli.options import _Deprecated, _OldOption

    for path, parser in _commands():
        for a in _options(parser):
            flag = a.option_strings[-1] if a.option_strings else a.dest
            assert a.help, f"nas {' '.join(path)} {flag} has no help"
            if a.help is argparse.SUPPRESS:
                assert isinstance(a, _Deprecated | _OldOption) or flag in INTERNAL, (path, flag)


def _option(path: tuple[str, ...], flag: str):
    parser = dict(_commands())[path]
    return next(a for a in _options(parser) if flag in a.option_strings or a.dest == flag)


def test_closed_sets_are_choices():
    from nas.core.registry import SPACES
    from nas.proxies import PROXIES
    from nas.search.config import EARLY_STOPPING, EXECUTORS
    from nas.search.strategies import STRATEGIES
    from nas.train.presets import preset_names

    spaces, presets = SPACES.list(), preset_names()
    expected = {
        (("search",), "--space"): spaces,
        (("calibrate",), "--space"): spaces,
        (("spaces", "show"), "name"): spaces,
        (("search",), "--strategy"): list(STRATEGIES),
        (("search",), "--executor"): list(EXECUTORS),
        (("baselines",), "--executor"): list(EXECUTORS),
        (("search",), "--early-stop"): list(EARLY_STOPPING),
        (("transfer",), "--to"): ["imagenet"],
    }
    for cmd in ("train", "transfer", "final", "search", "baselines"):
        expected[(cmd,), "--preset"] = presets
    for (path, flag), choices in expected.items():
        assert list(_option(path, flag).choices) == list(choices), (path, flag)
    objective = list(_option(("search",), "--objective").choices)
    assert {"train", "table", "synthetic"} < set(objective)
    assert {f"zero-cost:{p}" for p in PROXIES} < set(objective)
    for path, parser in _commands():  # every output format is a closed set
        for a in _options(parser):
            if "--format" in a.option_strings:
                assert a.choices and a.default == "table", path


# (command, old spelling, its new spelling); values are given after each
RENAMED = [
    (["search", "--space", "nb201"], ["--train-opt", "epochs=2"], ["--set", "epochs=2"]),
    (["search", "--space", "nb201"], ["--data", "d"], ["--data-dir", "d"]),
    (["baselines"], ["--train-opt", "lr=0.1"], ["--set", "lr=0.1"]),
    (["final", "run", "--top", "1"], ["--data", "d"], ["--data-dir", "d"]),
    (["final", "run", "--top", "1"], ["--json"], ["--format", "json"]),
    (["train", "resnet20"], ["--no-progress"], ["--quiet"]),
    (["train", "resnet20"], ["--json"], ["--format", "json"]),
    (["transfer", "darts_v2_cifar", "--to", "imagenet"], ["--no-progress"], ["--quiet"]),
    (["transfer", "darts_v2_cifar", "--to", "imagenet"], ["--json"], ["--format", "json"]),
    (["calibrate"], ["--data", "d"], ["--data-dir", "d"]),
    (["calibrate"], ["-o", "o"], ["--out", "o"]),
    (["calibrate"], ["--output-dir", "o"], ["--out", "o"]),
    (["calibrate"], ["--batch-size", "8"], ["--proxy-batch", "8"]),
    (["spaces", "show", "darts"], ["--set", "nodes=2"], ["--space-opt", "nodes=2"]),
    (["spaces", "show", "darts"], ["--json"], ["--format", "json"]),
]


@pytest.mark.parametrize(("command", "old", "new"), RENAMED, ids=[f"{c[0]} {o[0]}" for c, o, _ in RENAMED])
def test_old_spellings_still_work_with_a_deprecation_note(capsys, command, old, new):
    from nas.cli.app import build_parser

    parser = build_parser()
    as_new = vars(parser.parse_args([*command, *new]))
    assert capsys.readouterr().err == ""
    as_old = vars(parser.parse_args([*command, *old]))
    err = capsys.readouterr().err
    assert as_old == as_new
    use = " ".join(new) if len(old) == 1 else new[0]  # a flag-only old spelling stands for flag + value
    assert err == f"nas: warning: {old[0]} is deprecated; use {use}\n", err
    parsers = dict(_commands(parser))
    sub = parsers[max((tuple(command[:n]) for n in range(3) if tuple(command[:n]) in parsers), key=len)]
    assert not re.search(rf"(?<![\w-]){old[0]}(?![\w-])", sub.format_help())  # hidden from --help


def test_search_out_is_the_run_directory_and_old_name_runs_dir_still_work(capsys, tmp_path):
    from nas.cli.app import build_parser
    from nas.cli.search import _run_dir

    parser = build_parser()
    base = ["search", "--space", "nb201"]
    assert _run_dir(parser.parse_args([*base, "--out", str(tmp_path / "x")])) == {
        "runs_dir": str(tmp_path),
        "name": "x",
    }
    old = parser.parse_args([*base, "--runs-dir", str(tmp_path), "--name", "x"])
    assert _run_dir(old) == {"runs_dir": str(tmp_path), "name": "x"}
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "nas: warning: --runs-dir is deprecated; use --out DIR",
        "nas: warning: --name is deprecated; use --out DIR",
    ]
    both = parser.parse_args([*base, "--out", "a/b", "--name", "x"])
    with pytest.raises(ValueError, match="--out names the run directory"):
        _run_dir(both)


def test_a_library_config_error_names_the_flag(capsys):
    from nas.cli.options import flag_for

    flags = {"cost_s": "--table-cost-s", "data": "--data-dir", "objective": "--objective"}
    assert flag_for("objective.cost_s", flags) == "--table-cost-s"
    assert flag_for("objective.data", flags) == "--data-dir"
    assert flag_for("objective.kind", flags) == "--objective"
    assert flag_for("nothing", flags) is None
    code, _, err = run(
        capsys, "search", "--space", "nb201", "--budget", "2trials", "--executor", "inline",
        "--objective", "table", "--table", "x.csv", "--metric-column", "m", "--table-cost-s", "-1",
    )  # fmt: skip
    assert code == 2 and err.startswith("nas: error: --table-cost-s: ") and err.count("\n") == 1, err


def test_calibrate_truth_and_data_come_from_flags_or_the_environment(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("NAS_TRUTH", raising=False)
    monkeypatch.delenv("NAS_DATA", raising=False)
    code, _, err = run(capsys, "calibrate", "--proxies", "params", "--quiet")
    assert code == 2 and "--truth is required" in err and "NAS_TRUTH" in err
    monkeypatch.setenv("NAS_TRUTH", str(tmp_path / "from_env.csv"))
    code, _, err = run(capsys, "calibrate", "--proxies", "params", "--quiet")
    assert code == 2 and "from_env.csv" in err and "does not exist" in err, err
    monkeypatch.setenv("NAS_DATA", str(tmp_path / "images"))
    from nas.cli.app import build_parser

    args = build_parser().parse_args(["calibrate"])
    assert args.truth == tmp_path / "from_env.csv" and args.data_dir == tmp_path / "images"
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    out = capsys.readouterr().out
    assert "$NAS_TRUTH" in out and "$NAS_DATA" in out


def test_a_config_error_crosses_a_process_pool_whole():
    import pickle

    from nas.core.errors import ConfigError
    from nas.data.errors import DataError, DataPathError

    e = pickle.loads(pickle.dumps(ConfigError("journal", "exists", fixes=("resume",))))
    assert (str(e), e.field, e.message, e.fixes) == ("journal: exists", "journal", "exists", ("resume",))
    d = pickle.loads(pickle.dumps(DataPathError("not here")))
    assert isinstance(d, DataError) and str(d) == "data_dir: not here"
