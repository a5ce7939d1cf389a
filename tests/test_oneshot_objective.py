"""A trained SPOS supernet as a search objective: an ordinary run directory, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.cli import main
from nas.core.compile import build
from nas.core.errors import ConfigError
from nas.core.genotype import from_json
from nas.oneshot.objective import SupernetObjectiveConfig, inherited_scores
from nas.oneshot.store import SupernetRun, load_data, open_trainer, read_meta, write_meta
from nas.search.config import SearchConfig
from nas.search.run import run_search
from nas.search.rundir import best_genotype

RUN = SupernetRun(
    method="spos",
    space="nb201",
    space_options={"C": 8, "N": 1},
    train={"epochs": 1, "batch_size": 32, "amp": "none", "channels_last": False, "evaluate_test": False},
    data={"dataset": "synthetic", "num_classes": 10, "val_size": 64},
)


@pytest.fixture(scope="module")
def supernet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("supernet")
    write_meta(d, RUN)
    open_trainer(d, RUN, load_data(RUN)).fit()
    return d


def _config(supernet_dir: Path, runs: Path, budget: str) -> SearchConfig:
    return SearchConfig(
        space="nb201",
        space_options={"C": 8, "N": 1},
        strategy="evolution",
        strategy_options={"population": 3, "sample": 2},
        budget=budget,
        objective={
            "kind": "supernet",
            "supernet": str(supernet_dir),
            "calib_batches": 1,
            "calib_batch_size": 32,
        },
        executor="inline",
        runs_dir=str(runs),
        name="oneshot",
        quiet=True,
    )


def test_search_over_inherited_scores_writes_and_resumes_a_run(supernet_dir: Path, tmp_path: Path) -> None:
    run_search(_config(supernet_dir, tmp_path, "4trials"))
    run = tmp_path / "oneshot"
    rows = (run / "trials.csv").read_text().splitlines()
    assert len(rows) == 1 + 4
    run_search(_config(supernet_dir, tmp_path, "6trials"), resume=run)
    assert len((run / "trials.csv").read_text().splitlines()) == 1 + 6
    best = json.loads((run / "best.json").read_text())["best"]
    scores = [float(r.split(",")[7]) for r in (run / "trials.csv").read_text().splitlines()[1:]]
    assert best["score"] == max(scores)
    build(from_json(json.dumps(best_genotype(run))))  # the found genotype compiles: nas final takes it
    assert json.loads((run / "ledger.json").read_text())


def test_meta_guards(supernet_dir: Path, tmp_path: Path) -> None:
    assert read_meta(supernet_dir) == RUN
    with pytest.raises(ConfigError, match="space_options"):
        write_meta(supernet_dir, SupernetRun(**{**RUN.__dict__, "space_options": {"C": 4, "N": 1}}))
    with pytest.raises(ConfigError, match="no trained supernet"):
        read_meta(tmp_path)
    with pytest.raises(ConfigError, match="objective.supernet"):
        SupernetObjectiveConfig()


def test_inherited_scores_of_arch_strings(supernet_dir: Path, tmp_path: Path) -> None:
    archs = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ]
    scores = inherited_scores(supernet_dir, archs, calib_batches=1, batch_size=32)
    assert len(scores) == 2 and all(0 <= s <= 100 for s in scores)
    assert scores == inherited_scores(supernet_dir, archs, calib_batches=1, batch_size=32)
    write_meta(tmp_path, SupernetRun(**{**RUN.__dict__, "method": "darts"}))
    with pytest.raises(ConfigError, match="need SPOS"):
        inherited_scores(tmp_path, archs)


def test_nas_calibrate_ranks_by_a_supernet(supernet_dir: Path, tmp_path: Path, capsys) -> None:
    archs = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
        "|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
    ]
    truth = tmp_path / "t.csv"
    truth.write_text("arch,acc\n" + "".join(f"{a},{90 - 5 * i}\n" for i, a in enumerate(archs)))
    name = f"supernet:{supernet_dir.name}"
    flags = ["--truth", str(truth), "--target-column", "acc", "--sample", "4", "--quiet"]
    out = ["--out", str(tmp_path / "o"), "--name", "c"]
    rc = main(["calibrate", *flags, "--supernet", str(supernet_dir), "--calib-batches", "1", "--proxies",
               "params", "--ensemble", f"params+{name}", *out])  # fmt: skip
    assert rc == 0
    doc = json.loads((tmp_path / "o" / "c.json").read_text())
    assert [r["proxy"] for r in doc["summary"]] == ["params", name, f"params+{name}"]
    row = doc["summary"][1]
    assert row["kind"] == "weight-sharing" and row["info"]["method"] == "spos"
    assert row["info"]["supernet_epochs"] == 1 and row["info"]["supernet_train_seconds"] > 0
    by_arch = dict(zip(doc["archs"], doc["scores"][name], strict=True))
    assert [by_arch[a] for a in archs] == inherited_scores(supernet_dir, archs, calib_batches=1)
    assert all(c > 0 for c in doc["cpu_s"][name])
    capsys.readouterr()
    rc = main(["calibrate", *flags, "--space", "darts", "--supernet", str(supernet_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "a supernet of space 'nb201', not --space 'darts'" in err
    rc = main(["calibrate", *flags, "--supernet", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "no trained supernet" in err, err
