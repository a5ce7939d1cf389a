"""Bad input across every command: exit code 2, exactly one line on stderr (no traceback), and that line
names the file, field or flag at fault.

The table is meant to grow: append a ``Case(argv, needle, setup=...)``. ``argv`` may use ``{tmp}`` (the
test's ``tmp_path``); ``setup(tmp_path)`` writes the files a case needs before it runs. Cases run
in-process through ``nas.cli.main`` (fast), under an alarm so a case that is wrongly accepted and starts
real work fails instead of hanging; a few run as subprocesses too.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from search_helpers import damaged_run

from nas.cli import main
from nas.core.resolve import resolve


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    needle: str  # must appear in the one stderr line: the file, field or flag at fault
    setup: Callable[[Path], Any] | None = None
    code: int = 2
    cpu_only: bool = False  # bad only on a machine without CUDA (asking trials for a GPU)


def case(argv: str, needle: str, setup: Callable[[Path], Any] | None = None, **kw: Any) -> Case:
    return Case(tuple(argv.split()), needle, setup, **kw)


# --- files the cases need -------------------------------------------------------------------------


def genotype(name: str, edit: Callable[[dict], Any], base: str = "resnet20") -> Callable[[Path], None]:
    """A setup writing ``{tmp}/<name>.json``: zoo ``base``'s genotype JSON after ``edit(d)``."""

    def write(tmp: Path) -> None:
        d = json.loads(resolve(base).to_json())
        edit(d)
        (tmp / f"{name}.json").write_text(json.dumps(d))

    return write


def node(d: dict, cell: str, name: str) -> dict:
    return next(n for n in d["cells"][cell]["nodes"] if n["name"] == name)


def set_attr(cell: str, name: str, **attrs: Any) -> Callable[[dict], None]:
    return lambda d: node(d, cell, name).setdefault("attrs", {}).update(attrs)


def set_field(cell: str, name: str, **fields: Any) -> Callable[[dict], None]:
    return lambda d: node(d, cell, name).update(fields)


def set_stage(i: int, **fields: Any) -> Callable[[dict], None]:
    return lambda d: d["stages"][i].update(fields)


def set_top(**fields: Any) -> Callable[[dict], None]:
    return lambda d: d.update(fields)


def add_dropout(p: Any) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        head = d["cells"]["head"]
        head["nodes"].insert(2, {"name": "drop", "op": "dropout", "inputs": ["flatten"], "attrs": {"p": p}})
        node(d, "head", "fc0")["inputs"] = ["drop"]

    return edit


def text_file(name: str, text: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_bytes(text.encode("latin1"))


def a_file_at(name: str) -> Callable[[Path], None]:
    return text_file(name, "not a directory\n")


class _Exec:
    def __reduce__(self):
        return os.system, ("touch pwned-by-bad-inputs",)


def evil_cifar(tmp: Path) -> None:
    d = tmp / "evil" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for f in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]:
        (d / f).write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": _Exec()}))


def table_csv(tmp: Path) -> None:
    (tmp / "t.csv").write_text("arch,acc\n|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|,0.5\n")


# --- the table ------------------------------------------------------------------------------------

T = "train resnet20 --dataset synthetic --preset tiny --format json --dry-run"
S = "search --space nb201 --executor inline --objective synthetic --budget 2trials --out {tmp}/run --quiet"
B = "baselines --archs resnet20 --executor inline --objective synthetic --budget 2trials --out {tmp}/b"
X = "transfer darts_v2_cifar --to imagenet --preset tiny --format json --dry-run"
K = "conv0"  # resnet20's stem conv
R = "search --resume {tmp}/run --quiet"

CASES = [
    # nas describe
    case("describe resnet5", "unknown architecture 'resnet5'"),
    case("describe {tmp}/missing.json", "missing.json"),
    case("describe alexnet --input-size 16", "cannot take input of shape"),
    case("describe resnet20 --input-size 0", "--input-size"),
    case("describe resnet20 --input-size -5", "--input-size"),
    case("describe resnet20 --num-classes 0", "--num-classes"),
    case("describe resnet20 --format xml", "--format: invalid choice: 'xml'"),
    case("describe resnet20 -o /sys/x", "/sys/x"),
    case("describe resnet20 -o {tmp}/nodir/x/y.json", "nodir"),
    case("describe {tmp}/w.json", "parameters", genotype("w", set_stage(2, width=10**12))),
    case("describe resnet20 --input-size 100000", "activation"),
    case("describe {tmp}/bad.json", "bad.json", text_file("bad.json", "{not json")),
    case("describe {tmp}/empty.json", "empty.json", text_file("empty.json", "")),
    case("describe {tmp}/bin.json", "bin.json", text_file("bin.json", "\x80\x04\x95\xff\x00")),
    case("describe {tmp}/s.json", "schema", genotype("s", set_top(schema="nas.genotype/9"))),
    case("describe {tmp}", "{tmp}"),
    # nas validate: every number of a genotype is checked before torch sees it
    case("validate {tmp}/k.json", "kernel", genotype("k", set_attr("cifar_stem", K, kernel=-3))),
    case("validate {tmp}/k0.json", "kernel", genotype("k0", set_attr("cifar_stem", K, kernel=0))),
    case("validate {tmp}/kf.json", "kernel", genotype("kf", set_attr("cifar_stem", K, kernel=2.5))),
    case("validate {tmp}/ks.json", "kernel", genotype("ks", set_attr("cifar_stem", K, kernel="big"))),
    case("validate {tmp}/kl.json", "kernel", genotype("kl", set_attr("cifar_stem", K, kernel=[3, 3, 3]))),
    case("validate {tmp}/d.json", "dilation", genotype("d", set_attr("cifar_stem", K, dilation=0))),
    case("validate {tmp}/g.json", "groups", genotype("g", set_attr("cifar_stem", K, groups=0))),
    case("validate {tmp}/pad.json", "padding", genotype("pad", set_attr("cifar_stem", K, padding=-1))),
    case("validate {tmp}/st.json", "stride", genotype("st", set_field("cifar_stem", K, stride=0))),
    case("validate {tmp}/ch.json", "channels", genotype("ch", set_field("cifar_stem", K, channels=-16))),
    case("validate {tmp}/ch0.json", "channels", genotype("ch0", set_field("cifar_stem", K, channels=0))),
    case("validate {tmp}/r.json", "repeats", genotype("r", set_stage(0, repeats=0))),
    case("validate {tmp}/rn.json", "repeats", genotype("rn", set_stage(0, repeats=-2))),
    case("validate {tmp}/wn.json", "width", genotype("wn", set_stage(1, width=-8))),
    case("validate {tmp}/ss.json", "stride", genotype("ss", set_stage(1, stride=0))),
    case("validate {tmp}/in.json", "input_size", genotype("in", set_top(input_size=[3, 0, 32]))),
    case("validate {tmp}/in2.json", "input_size", genotype("in2", set_top(input_size=[3, -32]))),
    case("validate {tmp}/nc.json", "num_classes", genotype("nc", set_top(num_classes=-1))),
    case("validate {tmp}/p.json", "'p'", genotype("p", add_dropout(1.5))),
    case("validate {tmp}/dp.json", "drop_path", genotype("dp", set_top(drop_path=2.0))),
    case("validate {tmp}/op.json", "conv9000", genotype("op", set_field("cifar_stem", K, op="conv9000"))),
    case("validate {tmp}/w.json", "parameters", genotype("w", set_stage(2, width=10**12))),
    case("validate nope", "unknown architecture 'nope'"),
    # nas draw
    case("draw resnet50 -o {tmp}/cell.txt", "must end in .png, .svg or .pdf"),
    case("draw resnet50 -o {tmp}/c.png --cell nope", "--cell: 'nope' is not a cell of 'resnet50'"),
    case("draw resnet20 -o /sys/x.png", "/sys/x.png"),
    case("draw {tmp}/k.json -o {tmp}/c.png", "kernel", genotype("k", set_attr("cifar_stem", K, kernel=-3))),
    # nas zoo
    case("zoo", "required: ZOO_COMMAND"),
    case("zoo list zzz*", "no architecture matches 'zzz*'"),
    case("zoo show nope", "unknown architecture 'nope'"),
    case("zoo export nope -o {tmp}/x.json", "unknown architecture 'nope'"),
    case("zoo export resnet20 -o /sys/n/x.json", "/sys/n"),
    case("zoo export resnet20", "-o/--output"),
    case("zoo check resnet20", "has no reference implementation"),
    case("zoo check resnet18 --input-size 0", "--input-size"),
    case("zoo check resnet18 --input-size 100000", "--input-size: network 'resnet18' needs"),
    # nas spaces
    case("spaces list zzz*", "zzz*"),
    case("spaces show nope", "invalid choice: 'nope'"),
    case("spaces show darts --space-opt nodes=-1", "nodes"),
    case("spaces show darts --space-opt bogus=1", "bogus"),
    case("spaces show darts --space-opt nodes", "nodes"),
    # nas train
    case("train nope --dataset synthetic --dry-run", "unknown architecture 'nope'"),
    case(f"{T} --image-size 100000", "--image-size: synthetic data"),
    case(f"{T} --image-size 0", "--image-size"),
    case(f"{T} --width 1000000000000", "parameters"),
    case(f"{T} --width -3", "--width"),
    case(f"{T} --cells 0", "--cells"),
    case(f"{T} --epochs -1", "--epochs"),
    case(f"{T} --batch-size 0", "--batch-size"),
    case(f"{T} --lr -1", "--lr"),
    case(f"{T} --seeds 0", "--seeds"),
    case(f"{T} --threads 0", "--threads"),
    case(f"{T} --num-classes 0", "--num-classes"),
    case(f"{T} --test-image-size -1", "--test-image-size"),
    case(f"{T} --val-size 2.5", "--val-size"),
    case(f"{T} --train-subset -5", "--train-subset"),
    case(f"{T} --set nonsense=1", "nonsense"),
    case(f"{T} --set epochs=abc", "epochs"),
    case(f"{T} --device tpu", "--device"),
    case(f"{T} --device cuda:7", "--device"),
    case(f"{T} --epochs x", "--epochs: invalid int value: 'x'"),
    case(f"{T} --preset huge", "--preset: invalid choice"),
    case("train resnet20 --dataset cifar10 --data-dir {tmp}/evil --dry-run", "data_batch_1", evil_cifar),
    case(
        "train resnet20 --dataset cifar10 --data-dir {tmp}/x.tar.gz --dry-run",
        "x.tar.gz",
        text_file("x.tar.gz", "this is text\n"),
    ),
    case("train resnet20 --dataset cifar10 --data-dir {tmp}/absent --dry-run", "--data-dir"),
    case("train resnet20 --dataset imagefolder --dry-run", "--data-dir"),
    case("train resnet20 --dataset synthetic --preset tiny --format json --out /sys/t", "/sys/t"),
    case("train resnet20 --dataset synthetic --out {tmp}/f --resume --overwrite", "--overwrite"),
    case("train resnet20 --dataset synthetic --preset tiny --out {tmp}/f", "{tmp}/f", a_file_at("f")),
    case("train resnet20 --dataset synthetic --preset tiny --format json", "--out"),
    # nas transfer
    case("transfer nope --to imagenet --data-dir {tmp} --dry-run", "unknown architecture 'nope'"),
    case("transfer darts_v2_cifar --to mars", "--to: invalid choice: 'mars'"),
    case("transfer darts_v2_cifar --to imagenet --dry-run", "--data-dir"),
    case(f"{X} --data-dir {{tmp}}/absent", "--data-dir"),
    case(f"{X} --data-dir {{tmp}} --epochs -1", "--epochs"),
    case(f"{X} --data-dir {{tmp}} --lr 0", "--lr"),
    # nas search
    case("search --space nope", "--space: invalid choice: 'nope'"),
    case(f"{S} --budget abc", "--budget"),
    case(f"{S} --budget -1trials", "--budget"),
    case(f"{S} --budget 0trials", "--budget"),
    case(f"{S} --concurrency 0", "--concurrency"),
    case(f"{S} --cpus-per-trial -1", "--cpus-per-trial"),
    case(f"{S} --gpus-per-trial -1", "--gpus-per-trial"),
    case(f"{S} --gpus-per-trial 1", "--gpus-per-trial", cpu_only=True),
    case(f"{S} --gpus-per-trial 1 --budget 100gpuh", "--gpus-per-trial", cpu_only=True),
    case(f"{S} --max-retries -1", "--max-retries"),
    case(f"{S} --trial-timeout 0", "--trial-timeout"),
    case(f"{S} --strategy nope", "--strategy: invalid choice: 'nope'"),
    case(f"{S} --strategy evolution --strategy-opt population=-3", "population"),
    case(f"{S} --strategy-opt bogus=1", "bogus"),
    case(f"{S} --space-opt bogus=1", "bogus"),
    case(f"{S} --seed-with {{tmp}}/missing.json", "missing.json"),
    case(
        "search --space nb201 --executor inline --objective table --budget 2trials --out {tmp}/r", "--table"
    ),
    case(
        "search --space nb201 --executor inline --objective table --table {tmp}/no.csv --metric-column acc "
        "--budget 2trials --out {tmp}/r",
        "no.csv",
    ),
    case(
        "search --space nb201 --executor inline --objective table --table {tmp}/t.csv --metric-column nope "
        "--budget 2trials --out {tmp}/r",
        "nope",
        table_csv,
    ),
    case(
        "search --space nb201 --budget 2trials --executor inline --runs-dir /sys/nasruns --name x",
        "/sys/nasruns",
    ),
    case(f"{S} --zero-cost nope", "nope"),
    # nas baselines
    case(
        "baselines --archs nope --executor inline --objective synthetic --budget 2trials --out {tmp}/b",
        "nope",
    ),
    case(f"{B} --budget abc", "--budget"),
    case(f"{B} --gpus-per-trial 1", "--gpus-per-trial", cpu_only=True),
    # nas calibrate
    case("calibrate --proxies params --truth {tmp}/none.csv --quiet", "none.csv"),
    case("calibrate --proxies nope --truth {tmp}/t.csv --quiet", "nope", table_csv),
    # nas final / report
    case("final {tmp}/norun --top 1", "norun"),
    case("final {tmp}/f --top 1", "{tmp}/f", a_file_at("f")),
    case("report {tmp}/norun", "norun"),
    case("report {tmp}/f", "{tmp}/f", a_file_at("f")),
    case("report {tmp}/norun --watch 0", "--watch"),
    case("report {tmp}/norun --cells -1", "--cells"),
    # nas ls / compare / draw --network, --diff
    case("ls {tmp}/nope", "{tmp}/nope"),
    case("compare {tmp}/norun", "two runs"),
    case("compare {tmp}/norun {tmp}/norun2", "norun"),
    case("draw resnet20 --network --cell stem -o {tmp}/x.png", "--cell"),
    case("draw --diff resnet20 nope -o {tmp}/x.png", "unknown architecture 'nope'"),
    case("draw -o {tmp}/x.png", "ARCH"),
    # nas oneshot; the selection plan of nas search
    case("oneshot --space nasnet --out {tmp}/o", "--space: invalid choice: 'nasnet'"),
    case("oneshot --space nb201 --method nope --out {tmp}/o", "--method: invalid choice: 'nope'"),
    case(
        "search --space nb201 --objective synthetic --budget 2trials --select top=1 --out {tmp}/s", "--select"
    ),
    case(
        "search --space nb201 --objective synthetic --budget 2trials --select rungs=small --out {tmp}/s",
        "need a training objective",
    ),
    # nas scale
    case("scale grid --base nope --objective synthetic --budget 2trials --out {tmp}/g", "nope"),
    case("scale sweep --base resnet20 --phi -1 --out {tmp}/s", "--phi"),
    case("scale compare --base resnet20 --alpha 0 --out {tmp}/c", "--alpha"),
    # damaged run files and conflicting resume flags (H2: a finished run in {tmp}/run, then damaged)
    case(R, "{tmp}/run/config.json: not valid JSON (line 1 column 2)", damaged_run("config.json", "{")),
    case("report {tmp}/run", "{tmp}/run/config.json: holds a JSON array", damaged_run("config.json", "[]")),
    case("final {tmp}/run --top 1", "{tmp}/run/config.json: not valid JSON", damaged_run("config.json", "")),
    case(R, "{tmp}/run/config.json: missing, but trials.csv is there", damaged_run("config.json")),
    case(S, "holds trials.csv but no config.json", damaged_run("config.json")),
    case("report {tmp}/run", "{tmp}/run/ledger.json: not valid JSON", damaged_run("ledger.json", "{")),
    case("report {tmp}/run", "{tmp}/run/best.json", damaged_run("best.json", "[")),
    case("compare {tmp}/run {tmp}/run --optimum 1", "--optimum", damaged_run()),
    case("ls {tmp}/run --format xml", "--format: invalid choice: 'xml'", damaged_run()),
    case(
        R,
        "{tmp}/run/strategy.json: not a valid state of strategy evolution",
        damaged_run("strategy.json", '{"state": {"strategy": "evolution"}}'),
    ),
    case(R, "{tmp}/run/trials.csv: its columns", damaged_run("trials.csv", "a,b\n1,2\n")),
    case("scale sweep --base {tmp}/run --out {tmp}/s", "{tmp}/run/best.json", damaged_run("best.json", "{")),
    case(f"{R} --seed 9", "--seed 9 conflicts with the run's seed 1", damaged_run()),
    case(f"{R} --strategy-opt population=3", "--strategy-opt population=3 conflicts", damaged_run()),
    case(f"{R} --space darts", "--space darts conflicts with the run's space nb201", damaged_run()),
    case(f"{R} --objective table --table {{tmp}}/t.csv", "--objective table conflicts", damaged_run()),
    case(f"{R} --preset tiny", "--preset tiny does not apply to the run's synthetic", damaged_run()),
]

# as a user runs them: the console entry point, in a fresh process
FRESH = ("describe resnet5", "validate {tmp}/k.json", "zoo export resnet20 -o /sys/n/x.json")
SUBPROCESS = [c for c in CASES if " ".join(c.argv) in FRESH]


def _argv(c: Case, tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in c.argv]


class _TooSlow(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _TooSlow("a bad input was accepted and started real work")


def _commands(parser: Any, path: tuple[str, ...] = ()) -> Any:
    import argparse

    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield (*path, name)
                yield from _commands(sub, (*path, name))


def test_the_table_is_large_and_covers_every_command():
    from nas.cli.app import build_parser

    commands = {" ".join(p) for p in _commands(build_parser())}
    covered = {" ".join(c.argv[:2]) for c in CASES} | {c.argv[0] for c in CASES}
    assert len(CASES) >= 60
    missing = {c for c in commands if c not in covered and c.split()[0] not in {"scale", "zoo", "spaces"}}
    assert not missing, missing


def _id(c: Case) -> str:
    """The case's command line, the shared prefixes abbreviated (``train… --epochs -1``)."""
    text = " ".join(c.argv)
    for prefix in (T, S, B, X):
        text = text.replace(prefix, prefix.split()[0] + "…")
    return text


@pytest.mark.parametrize("c", CASES, ids=_id)
def test_bad_input_is_one_line_naming_it(c: Case, capsys, tmp_path, monkeypatch):
    if c.cpu_only and torch.cuda.is_available():
        pytest.skip("valid where CUDA is")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    if c.setup:
        c.setup(tmp_path)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        code = main(_argv(c, tmp_path))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if not x.startswith("nas: warning:")]
    assert code == c.code, err
    assert len(lines) == 1 and lines[0].startswith("nas: error: ") and "Traceback" not in err, err
    assert c.needle.replace("{tmp}", str(tmp_path)) in lines[0], lines[0]
    assert not (tmp_path / "pwned-by-bad-inputs").exists()


@pytest.mark.parametrize("c", SUBPROCESS, ids=_id)
def test_bad_input_in_a_fresh_process(c: Case, tmp_path):
    if c.setup:
        c.setup(tmp_path)
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch")}
    proc = subprocess.run(
        [sys.executable, "-m", "nas.cli", *_argv(c, tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == c.code and proc.stderr.count("\n") == 1, proc.stderr
    assert c.needle in proc.stderr and "Traceback" not in proc.stderr


# --- the size guard: estimated before anything is allocated ---------------------------------------


def test_the_size_guard_is_fast_and_names_the_estimate(capsys, tmp_path):
    import time

    t0 = time.perf_counter()
    argv = ["train", "resnet20", "--image-size", "100000", "--dataset", "synthetic", "--dry-run"]
    assert main([*argv, "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert time.perf_counter() - t0 < 20, "the guard must refuse before allocating"
    assert err.startswith("nas: error: --image-size: synthetic data of ") and " PB), more than " in err, err
    genotype("w", set_stage(2, width=10**12))(tmp_path)
    assert main(["describe", str(tmp_path / "w.json")]) == 2
    err = capsys.readouterr().err
    assert "network 'resnet20' needs ~9.0e+24 parameters in one layer" in err, err


def test_the_size_guard_compares_with_the_devices_memory(capsys, monkeypatch):
    """A network that fits a big machine is refused on a small one, naming both figures."""
    import nas.core.memory as memory

    assert main(["describe", "resnet50", "--format", "json"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(memory, "_available_ram", lambda: 200_000_000)
    assert main(["describe", "resnet50", "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert "network 'resnet50' needs ~2.6e+07 parameters" in err and "(246 MB)" in err, err
    assert "more than this machine's 200 MB of available RAM" in err, err
    code = main(["train", "resnet20", "--dataset", "synthetic", "--preset", "tiny", "--batch-size", "4096",
                 "--dry-run", "--format", "json"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "for 4096 images of 32x32" in err and "(pass --batch-size)" in err, err
