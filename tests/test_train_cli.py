"""``nas train`` / ``nas transfer``: outputs over seeds, resume, the ImageNet transfer, and every bad
input as one line on stderr with exit code 2."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import nas
from nas.cli import main

FAST = ["--dataset", "synthetic", "--preset", "tiny", "--image-size", "16", "--train-subset", "64"]
FAST += [
    "--val-size",
    "32",
    "--cells",
    "3",
    "--width",
    "4",
    "--epochs",
    "1",
    "--quiet",
    "--threads",
    "1",
]


@pytest.fixture(autouse=True)
def _restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def make_folder(root, classes=("cat", "dog", "emu"), n_train=4, n_test=2, size=12):
    rng = np.random.default_rng(0)
    for part, n in (("train", n_train), ("test", n_test)):
        for c in classes:
            (root / part / c).mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(img).save(root / part / c / f"{i}.png")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv) -> str:
    code, _out, err = run(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert lines[-1].startswith("nas: error: ") and "Traceback" not in err, err
    return lines[-1]


def test_train_two_seeds_writes_everything(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run(
        capsys, "train", "resnet20", *FAST, "--seeds", "2", "--out", out, "--format", "json"
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["seeds"] == [0, 1] and summary["test_top1"]["n"] == 2
    assert summary["test_top1"]["ci95"] is not None and summary["val_top1"]["mean"] is not None
    assert json.loads((out / "summary.json").read_text()) == summary
    for s in (0, 1):
        d = out / f"seed{s}"
        assert (d / "checkpoint.pt").is_file() and (d / "result.json").is_file()
        assert len(pd.read_csv(d / "metrics.csv")) == 1 and len(pd.read_parquet(d / "metrics.parquet")) == 1
        assert any(p.name.startswith("events.out.tfevents") for p in (d / "tb").iterdir())
    rows = pd.read_parquet(out / "results.parquet")
    assert rows["seed"].tolist() == [0, 1] and (rows["params"] == summary["params"]).all()
    assert nas.load(out / "genotype.json").stages[0].width == 4
    config = json.loads((out / "config.json").read_text())
    assert config["preset"]["name"] == "tiny" and config["data"]["train"] == 64

    # a second run into the same directory needs --resume or --overwrite
    msg = one_line_error(capsys, "train", "resnet20", *FAST, "--out", out)
    assert "--resume" in msg and "--overwrite" in msg
    code, stdout, err = run(
        capsys, "train", "resnet20", *FAST, "--seeds", "2", "--out", out, "--format", "json", "--resume"
    )
    again = json.loads(stdout)
    assert code == 0 and again["test_top1"] == summary["test_top1"]
    code, _, _ = run(capsys, "train", "resnet20", *FAST, "--out", out, "--overwrite")
    assert code == 0 and not (out / "seed1").exists()


def test_train_human_summary_and_dry_run(capsys, tmp_path):
    code, stdout, err = run(capsys, "train", "resnet20", *FAST, "--out", tmp_path / "h")
    assert code == 0 and "test top-1" in stdout and "params" in stdout
    code, stdout, _ = run(capsys, "train", "resnet20", *FAST, "--dry-run", "--set", "cutout=8")
    plan = json.loads(stdout)
    assert code == 0 and plan["would_train"] == "resnet20" and plan["preset"]["cutout"] == 8
    assert plan["cells"] == 3 and plan["data"]["val"] == 32


def test_transfer_to_imagenet(capsys, tmp_path):
    data = tmp_path / "imagenet"
    make_folder(data, classes=("a", "b", "c"), n_train=4, n_test=2, size=80)
    code, stdout, err = run(
        capsys, "transfer", "darts_v2_cifar", "--to", "imagenet", "--data-dir", data, "--dry-run",
        "--cache-dir", tmp_path / "c", "-o", tmp_path / "g.json",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(stdout)
    g = nas.load(tmp_path / "g.json")
    assert g.num_classes == 3 and g.input_size == (3, 224, 224) and g.num_cells == 15  # stem1 + 14
    assert plan["params"] == 4_718_752 - 1000 * 769 + 3 * 769  # DARTS-V2 ImageNet, 3 classes
    assert plan["data"]["pipeline"] == "files" and plan["data"]["train"] == 12
    # a small real run: 5 cells at C=8, 72 px (file pipeline), no aux head
    out = tmp_path / "t"
    code, stdout, err = run(
        capsys, "transfer", "darts_v2_cifar", "--to", "imagenet", "--data-dir", data, "--cells", "5",
        "--width", "8", "--image-size", "72", "--epochs", "1", "--batch-size", "4", "--no-aux",
        "--set", "workers=0", "--out", out, "--quiet", "--threads", "1", "--cache-dir", tmp_path / "c",
    )  # fmt: skip
    assert code == 0, err
    assert (out / "darts_v2_cifar_imagenet.json").is_file() and (out / "seed0" / "result.json").is_file()
    r = json.loads((out / "seed0" / "result.json").read_text())
    assert r["test_images"] == 6 and r["epochs"] == 1
    msg = one_line_error(capsys, "transfer", "resnet20", "--to", "imagenet", "--data-dir", data, "--dry-run")
    assert "no two-input" in msg


def test_bad_inputs_exit_2_with_one_line(capsys, tmp_path, monkeypatch):
    out = ["--out", tmp_path / "x", "--quiet"]
    msg = one_line_error(
        capsys, "train", "resnet20", "--dataset", "cifar10", "--data-dir", tmp_path / "no", *out
    )
    assert "does not exist" in msg
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    msg = one_line_error(
        capsys, "train", "resnet20", "--dataset", "imagefolder", "--data-dir", tmp_path / "empty", *out
    )
    assert "no images found" in msg
    three = tmp_path / "three"
    make_folder(three, n_train=4, n_test=2)
    cache = ["--cache-dir", tmp_path / "c"]
    msg = one_line_error(
        capsys, "train", "resnet20", "--dataset", "cifar10", "--data-dir", three, *cache, *out
    )
    assert "cifar10 has 10 classes" in msg
    msg = one_line_error(
        capsys,
        "train",
        "resnet20",
        "--dataset",
        "imagefolder",
        "--data-dir",
        three,
        "--num-classes",
        "10",
        *cache,
        *out,
    )
    assert "--num-classes 10 does not match" in msg and "3 classes" in msg
    geno = tmp_path / "r20.json"
    nas.save(nas.resolve("resnet20"), geno)  # a genotype file states its classes: 10
    msg = one_line_error(capsys, "train", geno, "--dataset", "imagefolder", "--data-dir", three, *cache, *out)
    assert "r20.json has 10 classes but data set imagefolder" in msg and "has 3" in msg
    msg = one_line_error(capsys, "train", "resnet20", "--dataset", "synthetic", "--preset", "huge", *out)
    assert "invalid choice: 'huge'" in msg
    msg = one_line_error(capsys, "train", "inception_v3", "--dataset", "synthetic", "--preset", "tiny", *out)
    assert "inception_v3 cannot take 32x32 inputs" in msg and "--image-size" in msg

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    msg = one_line_error(capsys, "train", "resnet20", "--dataset", "cifar10", *cache, *out)
    assert "could not download cifar10" in msg and "--data-dir" in msg
    msg = one_line_error(capsys, "train", "resnet20", *FAST, "--set", "lr=-1", *out)
    assert "'lr'" in msg


def test_help_texts(capsys):
    for argv in (["--help"], ["train", "--help"], ["transfer", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    out = capsys.readouterr().out
    assert "mean ± 95% CI" in out and "--layout" in out and "--resume" in out
