"""nas calibrate: rank statistics, ground-truth reading, end-to-end outputs, pre-screening, CLI errors."""

from __future__ import annotations

import csv
import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_data import CIFAR_TAR

from nas import calibrate as C
from nas.cli import main

nb201 = pytest.importorskip("search_spaces.nb201")

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
    "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_3x3~0|skip_connect~1|none~2|",
]


# ------------------------------------------------------------------------------------------- statistics


def _kendall_brute(x, y) -> float:
    conc = disc = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        a, b = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if a == 0 and b == 0:
            continue
        if a == 0:
            tx += 1
        elif b == 0:
            ty += 1
        elif a == b:
            conc += 1
        else:
            disc += 1
    return (conc - disc) / np.sqrt((conc + disc + tx) * (conc + disc + ty))


def test_rank_statistics() -> None:
    assert C.rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert C.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert C.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert C.kendall([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 40).astype(float)  # many ties
    y = x + rng.normal(0, 2, 40)
    assert C.kendall(x, y) == pytest.approx(_kendall_brute(x, y))
    # Spearman = Pearson of average ranks (pandas' ranks agree)
    import pandas as pd

    assert C.spearman(x, y) == pytest.approx(pd.Series(x).rank().corr(pd.Series(y).rank()))
    assert np.isnan(C.spearman([1, 1, 1], [1, 2, 3]))
    assert C.top_precision(list(range(20)), list(range(20)), 0.1) == 1.0
    assert C.top_precision(list(range(20)), list(range(20))[::-1], 0.1) == 0.0


# ------------------------------------------------------------------------------------------ the inputs


def write_truth(path: Path, archs=ARCHS, column="acc") -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", column])
        for i, a in enumerate(archs):
            w.writerow([a, 90.0 - 7 * i])
    return path


def write_images(root: Path, n_per_class: int = 2, size: int = 16) -> Path:
    from PIL import Image

    g = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in ("cat", "dog", "ship"):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n_per_class):
                arr = g.integers(0, 255, (size, size, 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / f"{i}.png")
    return root


def test_load_truth_errors(tmp_path: Path) -> None:
    p = write_truth(tmp_path / "t.csv")
    rows = C.load_truth(p, "arch", "acc")
    assert len(rows) == len(ARCHS) and rows[0] == (ARCHS[0], 90.0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        C.load_truth(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no column 'cifar10_test_acc_200ep'"):
        C.load_truth(p)
    assert C.sample_rows(rows, 3, seed=1) == C.sample_rows(rows, 3, seed=1)


def test_image_batch_is_seeded(tmp_path: Path) -> None:
    root = write_images(tmp_path / "img")
    x, y = C.load_image_batch(root, 4, seed=0)
    x2, y2 = C.load_image_batch(root, 4, seed=0)
    assert x.shape == (4, 3, 16, 16) and torch.equal(x, x2) and torch.equal(y, y2)
    assert set(y.tolist()) <= {0, 1, 2}
    with pytest.raises(ValueError, match="no images"):
        C.load_image_batch(root, 4, split="nope")


@pytest.mark.skipif(CIFAR_TAR is None, reason="shared CIFAR-10 tar absent")
def test_real_cifar_batch() -> None:
    x, y = C.load_image_batch(CIFAR_TAR, 16, seed=0)
    assert x.shape == (16, 3, 32, 32) and y.max() < 10
    assert abs(float(x.mean())) < 0.5  # normalised


# ---------------------------------------------------------------------------------------- end to end


def small_space() -> nb201.NB201Space:
    return nb201.NB201Space(C=8, N=1, input_size=16)


def test_calibrate_end_to_end(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    data = write_images(tmp_path / "img")
    names = ["synflow", "naswot", "params", "snip"]
    cal = C.calibrate(
        small_space(), names, truth, target_column="acc", sample=6, seed=0, data=data, batch_size=4
    )
    summary = cal.summary()
    assert [r["proxy"] for r in summary] == names and all(r["n"] == 6 for r in summary)
    assert all(-1 <= r["spearman"] <= 1 and r["cpu_s_per_candidate"] > 0 for r in summary)
    again = C.calibrate(
        small_space(), names, truth, target_column="acc", sample=6, seed=0, data=data, batch_size=4
    )
    assert [r.scores for r in again.results] == [r.scores for r in cal.results]
    paths = C.write_outputs(cal, tmp_path / "out", "cal")
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [r["proxy"] for r in rows] == names
    d = json.loads(paths["json"].read_text())
    assert d["n_archs"] == 6 and set(d["scores"]) == set(names) and len(d["archs"]) == 6
    back = C.load_calibration(paths["json"])
    assert [r["spearman"] for r in back.summary()] == [r["spearman"] for r in summary]
    merged = C.merge_calibrations([back, cal])
    assert [r.name for r in merged.results] == names
    assert "spearman" in C.format_table(summary)


def test_calibrate_with_a_training_evaluator(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    calls = []

    def fake(genotype, preset, seed):  # score = minus the number of "none" edges
        calls.append(preset)
        return float(-sum(1 for n in genotype.stages[0].cell.nodes if n.op == "zero")), 0.5, 0.5

    kw = dict(target_column="acc", sample=6, trainer=fake, data=None, ensembles=["params+tiny"])
    cal = C.calibrate(small_space(), ["params", "tiny"], truth, **kw)
    assert calls == ["tiny"] * 6
    params, tiny, both = cal.summary()
    assert tiny["kind"] == "training" and tiny["cpu_s_per_candidate"] == 0.5
    assert both["proxy"] == "params+tiny" and both["cpu_s_per_candidate"] > 0.5
    with pytest.raises(ValueError, match="not among the proxies"):
        C.calibrate(small_space(), ["params"], truth, **kw)


# ------------------------------------------------------------------------------------------ prescreen


def test_prescreen_keeps_the_best_by_proxy() -> None:
    sp = small_space()
    top = C.prescreen(sp, "params", 12, 3, random.Random(0))
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    again = C.prescreen(sp, "params", 12, 3, random.Random(0))
    assert [g for g, _ in top] == [g for g, _ in again]
    with pytest.raises(ValueError, match="needs a batch"):
        C.prescreen(sp, "naswot", 4, 2, random.Random(0))
    assert C.parse_prescreen("synflow:1000") == ("synflow", 1000)
    with pytest.raises(ValueError, match="PROXY:N"):
        C.parse_prescreen("synflow")


def test_simulated_prescreen_beats_training_everything_with_a_good_proxy() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(90, 3, 500)
    scores = truth + rng.normal(0, 1, 500)  # a good proxy
    curves = C.simulate_prescreen(
        truth, scores, proxy_cost_s=1, train_cost_s=60, n_screen=300, top=20, budgets_h=[0.2, 0.5], repeats=50
    )
    assert curves["prescreen"].mean_best[1] > curves["train-all"].mean_best[1]
    assert all(r >= 0 for r in curves["prescreen"].regret)


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path: Path, capsys) -> None:
    truth = write_truth(tmp_path / "t.csv")
    args = ["calibrate", "--truth", str(truth), "--target-column", "acc", "--proxies", "params,synflow"]
    rc = main(
        [*args, "--sample", "3", "--quiet", "-o", str(tmp_path / "o"), "--name", "c", "--format", "json"]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert [r["proxy"] for r in json.loads(out.out)] == ["params", "synflow"]
    assert (tmp_path / "o" / "c.png").is_file()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--proxies", "bogus"], "unknown proxy 'bogus'"),
        (["--target-column", "nope"], "no column 'nope'"),
        (["--truth", "/nonexistent/t.csv"], "does not exist"),
        (["--preset", "tiny:epochs=x"], "epochs"),
        (["--proxies", "params,params"], "listed twice"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, capsys, extra, message) -> None:
    truth = write_truth(tmp_path / "t.csv", column="cifar10_test_acc_200ep")
    rc = main(["calibrate", "--truth", str(truth), "--quiet", *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.count("\n") == 1, err
