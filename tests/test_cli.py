"""The nas command: output, files written, and one-line errors with exit code 2."""

import json
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
        (["draw", "resnet50", "-o", "c.png", "--cell", "nope"], "--cell 'nope' is not a cell of 'resnet50'"),
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


def test_bad_json_file(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"schema": "nas.core.genotype/1", "kind": "network", "name": "x"}')
    code, _, err = run(capsys, "describe", str(path))
    assert code == 2 and err.startswith("nas: error:") and len(err.strip().splitlines()) == 1


def test_console_script_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "nas.cli", "describe", "nope"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "nas: error: unknown architecture 'nope'; see the list of registered names"
    )
    proc = subprocess.run([sys.executable, "-m", "nas.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "describe" in proc.stdout
