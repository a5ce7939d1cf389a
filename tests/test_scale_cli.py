"""`nas scale grid | sweep | compare` end to end (synthetic objective, inline executor) and the scaling
spaces they run: constrained grid, resume after a kill, the φ family, equal-MACs comparison, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import nas
from nas.cli import main
from nas.core.genotype import Network, Stage, chain, save
from nas.core.registry import SPACES
from nas.core.space import anonymous
from nas.search.config import TrainObjectiveConfig
from nas.search.objectives import Job, RunContext
from nas.search.objectives.train import TrainObjective
from nas.search.strategies import make_strategy

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--objective", "synthetic", "--executor", "inline", "--quiet"]


def _tiny(path: Path, *, pooled: bool = True) -> Path:
    """A small CIFAR-like network at 16 px (``pooled=False``: a head that flattens the spatial map, so
    its parameters depend on the resolution and it cannot be rescaled)."""
    stem = chain("stem", [("conv", {"channels": 16, "kernel": 3}), ("bn",), ("relu",)])
    conv = chain("c", [("conv", {"channels": "C", "kernel": 3, "stride": "cell"}), ("bn",), ("relu",)])
    pool = [("adaptive_avgpool", {"size": 1})] if pooled else []
    head = chain("head", [*pool, ("flatten",), ("linear", {"channels": "K"})])
    net = Network("tiny", stem, (Stage(conv, 2, 32, 1), Stage(conv, 2, 64, 2)), head, (3, 16, 16), 10)
    save(net, path)
    return path


def _one_line_error(capsys, argv: list[str], match: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and match in err, err


def test_scale_space_is_the_constrained_grid() -> None:
    space = SPACES["scale"](base="resnet20", step=0.1)
    points = space.member_choices()
    assert space.size() == len(points) == 15
    assert all(abs(c["alpha"] * c["beta"] ** 2 * c["gamma"] ** 2 - 2) <= 0.1 + 1e-9 for c in points)
    grid = make_strategy("grid", space)
    assert [grid.propose() for _ in points] == points and grid.propose() is None  # members, not 5^3
    c = {"alpha": 1.2, "beta": 1.1, "gamma": 1.2}
    net = space.decode(c)
    assert net.name == "resnet20_a1.2_b1.1_g1.2" and net.input_size == (3, 38, 38)
    assert space.encode(net) == c  # read off the name
    assert [s.repeats for s in net.stages] == [4, 4, 4]  # ceil(3 · 1.2) = ceil(3 · 1.1): one network, …
    renamed = space.encode(net.replace(name="renamed"))  # … so without the name, the first such member
    assert renamed == {**c, "alpha": 1.1} and anonymous(space.decode(renamed)) == anonymous(net)
    with pytest.raises(ValueError, match="outside the constrained grid"):
        space.decode({"alpha": 1.0, "beta": 1.0, "gamma": 1.0})


def test_grid_writes_the_table_heat_map_and_best(tmp_path, capsys) -> None:
    run = tmp_path / "g"
    assert main(["scale", "grid", "--base", "resnet20", "--step", "0.2", *FAST, "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "best alpha, beta, gamma = " in out
    table = pd.read_csv(run / "grid.csv")
    trials = pd.read_csv(run / "trials.csv")
    assert len(table) == len(trials) == SPACES["scale"](step=0.2).size() == 5
    assert list(table.resolution_mult) == list(table.gamma) and (table.macs > 40_551_040).all()
    assert set(table.resolution) == {round(32 * g) for g in table.gamma}
    assert (run / "grid.png").read_bytes()[:4] == b"\x89PNG"
    best = json.loads((run / "best.json").read_text())["best"]
    assert best["score"] == table.score.max() and best["genotype"]["kind"] == "network"
    top = table.loc[table.score.idxmax()]
    assert f"{top.alpha:g}, {top.beta:g}, {top.gamma:g}" in out
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["space"] == "scale" and cfg["strategy"] == "grid" and cfg["space_options"]["step"] == 0.2
    # the run's report carries the same heat-map
    assert main(["report", str(run), "--cells", "0", "--quiet"]) == 0
    md = (run / "report.md").read_text()
    assert "## Compound scaling: score over the α β γ grid" in md and "report/scaling_grid.png" in md
    assert f"Best: α {top.alpha:g}, β {top.beta:g}, γ {top.gamma:g}" in md
    assert (run / "report" / "scaling_grid.png").read_bytes()[:4] == b"\x89PNG"


def _wait_rows(csv: Path, n: int, proc: subprocess.Popen) -> None:
    for _ in range(1200):
        if csv.exists() and csv.read_text().count("\n") - 1 >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"scale grid ended early: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError("scale grid too slow")


@pytest.mark.slow  # > 10 s: the fast suite stays under 10 minutes
def test_grid_resumes_after_a_kill_like_nas_search(tmp_path, capsys) -> None:
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "nas.cli", "scale", "grid", "--base", "resnet20", "--step", "0.1", *FAST,
           "--synthetic-sleep", "0.3", "--out", str(run)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_rows(run / "trials.csv", 4, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    first = pd.read_csv(run / "trials.csv")
    assert 4 <= len(first) < 15 and not (run / "grid.csv").exists()
    assert main(["scale", "grid", "--resume", str(run), "--quiet"]) == 0
    df = pd.read_csv(run / "trials.csv")
    assert len(df) == 15 and df.trial_id.is_unique and set(df.session) == {1, 2}
    merged = first.merge(df, on="trial_id", suffixes=("", "_after"))
    assert len(merged) == len(first) and (merged.key == merged.key_after).all()
    assert (merged.score == merged.score_after).all()
    assert len(pd.read_csv(run / "grid.csv")) == 15 and (run / "grid.png").is_file()
    assert json.loads((run / "ledger.json").read_text())["sessions"] == 2


def test_sweep_writes_the_family_and_trains_it(tmp_path, capsys) -> None:
    out = tmp_path / "family"
    assert (
        main(["scale", "sweep", "--base", "resnet20", "--phi", "0..2", "--out", str(out), "--train", *FAST])
        == 0
    )
    table = pd.read_csv(out / "sweep.csv")
    assert list(table.phi) == [0, 1, 2] and list(table.resolution) == [32, 37, 42]
    assert table.depth_mult.tolist() == pytest.approx([1, 1.2, 1.44])
    assert table.macs.is_monotonic_increasing and table.score.notna().all()
    assert anonymous(nas.load(out / "phi0.json")) == anonymous(nas.resolve("resnet20"))
    assert nas.load(out / "phi2.json").input_size == (3, 42, 42)
    assert len(pd.read_csv(out / "train" / "trials.csv")) == 3
    # the same command again continues (finds) its run; other settings in the same place are an error
    assert (
        main(["scale", "sweep", "--base", "resnet20", "--phi", "0..2", "--out", str(out), "--train", *FAST])
        == 0
    )
    capsys.readouterr()
    other = ["scale", "sweep", "--base", "resnet20", "--phi", "0..3", "--out", str(out), "--train", *FAST]
    _one_line_error(capsys, other, "--out: ")


def test_compare_matches_macs_and_reports_mean_ci(tmp_path, capsys) -> None:
    base = _tiny(tmp_path / "tiny.json")
    out = tmp_path / "cmp"
    argv = ["scale", "compare", "--base", str(base), "--seeds", "2", "--out", str(out), *FAST]
    assert main(argv) == 0
    assert "mean ± ci95 over 2 seed runs" in capsys.readouterr().out
    t = pd.read_csv(out / "compare.csv").set_index("variant")
    assert list(t.index) == ["compound", "depth", "width", "resolution"]
    assert t.loc["compound", ["depth_mult", "width_mult", "resolution_mult"]].tolist() == [1.2, 1.1, 1.15]
    assert t.loc["depth", "width_mult"] == t.loc["depth", "resolution_mult"] == 1.0
    assert t.loc["resolution", "params"] == nas.describe(nas.load(base))["params"]  # resolution adds none
    assert ((t.macs_ratio - 1).abs() < 0.25).all(), t.macs_ratio  # rounding: whole blocks, channels, pixels
    assert (t.n == 2).all() and t["mean"].notna().all()
    assert all((out / f"seed{s}" / "best.json").is_file() for s in (0, 1))


def test_training_members_as_built(tmp_path) -> None:
    """A scaling space's members train at their own resolution, unshrunk by the preset's cells / width."""
    base = _tiny(tmp_path / "tiny.json")
    space = SPACES["scale-list"](base=str(base), members={"r20": [1, 1, 1.25]})  # 16 px → 20 px
    net = space.decode({"member": "r20"})
    assert net.input_size == (3, 20, 20)
    config = TrainObjectiveConfig(
        dataset="synthetic", preset="tiny", train_overrides={"train_subset": 64, "val_size": 32, "epochs": 1}
    )
    objective = TrainObjective.from_config(config, space, RunContext())
    assert objective.as_built and objective.config()["as_built"]
    job = Job(trial_id=0, key="k", genotype=net.to_json(), choices={"member": "r20"})
    m = objective.evaluate(job, lambda _: None)
    assert m["macs"] == nas.describe(net)["macs"] and m["proxy_macs"] == m["macs"]


def test_errors_are_one_line_exit_2(tmp_path, capsys) -> None:
    grid = ["scale", "grid", *FAST, "--out", str(tmp_path / "e")]
    _one_line_error(
        capsys, [*grid, "--base", "resnet20", "--alpha-range", "0.9:1.4"], "--alpha-range: must be >= 1"
    )
    sweep = ["scale", "sweep", "--base", "resnet20", "--out", str(tmp_path)]
    _one_line_error(capsys, [*sweep, "--alpha", "0.9"], "--alpha: must be >= 1")
    _one_line_error(
        capsys, [*grid, "--base", "resnet20", "--step", "0.1", "--tolerance", "0.001"], "--tolerance: "
    )
    flat = _tiny(tmp_path / "flat.json", pooled=False)
    _one_line_error(capsys, [*grid, "--base", str(flat)], "cannot scale 'tiny' along resolution")
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, [*grid, "--base", str(tmp_path / "empty")], "has no best.json")
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "best.json").write_text('{"run": "failed", "trials": 3, "failed": 3}')
    _one_line_error(capsys, [*grid, "--base", str(failed)], f"run {str(failed)!r} has no best genotype")
    _one_line_error(capsys, [*grid, "--base", "resnet2000"], "resnet2000")
    _one_line_error(capsys, ["scale", "grid", *FAST], "needs --base")
