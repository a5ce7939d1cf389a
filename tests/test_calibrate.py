"""nas calibrate: rank statistics, ground-truth reading, end-to-end outputs, pre-screening, CLI errors."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_data import CIFAR_TAR, NB201_ARCHS, SHARED

from nas import stats as S
from nas import truth as T
from nas.calibration import calibrate as C
from nas.calibration import evaluators as EV
from nas.calibration import halving as H
from nas.calibration import outputs as O
from nas.calibration import prescreen_sim as PS
from nas.calibration import results as R
from nas.cli import main
from nas.core.archcodec import ArchCodec
from nas.core.errors import ConfigError
from nas.core.space import get_space

nb201 = pytest.importorskip("search_spaces.nb201")
TRUTH_1500 = SHARED / "nb201-calibration-1500.csv"

ARCHS = NB201_ARCHS


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
    assert S.rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert S.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert S.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert S.kendall([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 40).astype(float)  # many ties
    y = x + rng.normal(0, 2, 40)
    assert S.kendall(x, y) == pytest.approx(_kendall_brute(x, y))
    # Spearman = Pearson of average ranks (pandas' ranks agree)
    import pandas as pd

    assert S.spearman(x, y) == pytest.approx(pd.Series(x).rank().corr(pd.Series(y).rank()))
    assert np.isnan(S.spearman([1, 1, 1], [1, 2, 3]))
    assert S.top_precision(list(range(20)), list(range(20)), 0.1) == 1.0
    assert S.top_precision(list(range(20)), list(range(20))[::-1], 0.1) == 0.0


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
    rows = T.load_truth(p, "arch", "acc")
    assert len(rows) == len(ARCHS) and rows[0] == (ARCHS[0], 90.0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        T.load_truth(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no column 'cifar10_test_acc_200ep'"):
        T.load_truth(p)
    assert T.sample_rows(rows, 3, seed=1) == T.sample_rows(rows, 3, seed=1)


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
    paths = O.write_outputs(cal, tmp_path / "out", "cal")
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [r["proxy"] for r in rows] == names
    d = json.loads(paths["json"].read_text())
    assert d["n_archs"] == 6 and set(d["scores"]) == set(names) and len(d["archs"]) == 6
    back = R.load_calibration(paths["json"])
    assert [r["spearman"] for r in back.summary()] == [r["spearman"] for r in summary]
    merged = R.merge_calibrations([back, cal])
    assert [r.name for r in merged.results] == names
    assert "spearman" in O.format_table(summary)


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


def test_config_is_validated_once_in_library_terms(tmp_path: Path) -> None:
    truth = tmp_path / "t.csv"
    cfg = C.CalibrationConfig(truth, proxies=["params", "tiny"], rungs=[2, 1], ensembles=["params+tiny"])
    assert cfg.zero_cost == ("params",) and cfg.training == ("tiny",) and cfg.rungs == (1, 2)
    assert cfg.schedules == {"tiny": EV.rung_schedule("tiny", [1, 2])} and cfg.data is None
    assert cfg.ensemble_members == (("params", "tiny"),)
    with pytest.raises(AttributeError):
        cfg.sample = 3  # type: ignore[misc]  # frozen: checked once, never changed after
    for options, field in [
        ({"sample": 1}, "sample"),
        ({"batch_size": 0}, "batch_size"),
        ({"proxies": ["params", "params"]}, "proxies"),
        ({"proxies": ["bogus"]}, "proxies"),
        ({"proxies": ["params"], "rungs": [1]}, "rungs"),
        ({"proxies": ["tiny"], "rungs": [99]}, "rungs"),
        ({"proxies": ["params"], "ensembles": ["params+tiny"]}, "ensembles"),
    ]:
        with pytest.raises(ConfigError) as e:
            C.CalibrationConfig(truth, **options)
        assert e.value.field == field and "--" not in str(e.value), (options, str(e.value))
    with pytest.raises(TypeError):
        C.CalibrationConfig()  # type: ignore[call-arg]  # no default ground-truth table


# ------------------------------------------------------------------------------------------ prescreen


def test_simulated_prescreen_beats_training_everything_with_a_good_proxy() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(90, 3, 500)
    scores = truth + rng.normal(0, 1, 500)  # a good proxy
    curves = PS.simulate_prescreen(
        truth, scores, proxy_cost_s=1, train_cost_s=60, n_screen=300, top=20, budgets_h=[0.2, 0.5], repeats=50
    )
    assert curves["prescreen"].mean_best[1] > curves["train-all"].mean_best[1]
    assert all(r >= 0 for r in curves["prescreen"].regret)


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path: Path, capsys) -> None:
    truth = write_truth(tmp_path / "t.csv")
    args = ["calibrate", "--truth", str(truth), "--target-column", "acc", "--proxies", "params,synflow"]
    rc = main(
        [*args, "--sample", "3", "--quiet", "--out", str(tmp_path / "o"), "--name", "c", "--format", "json"]
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
        (["--preset", "tiny", "--device", "tpu0"], "--device: 'tpu0' is not a device"),
        (["--preset", "tiny", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, capsys, extra, message) -> None:
    truth = write_truth(tmp_path / "t.csv", column="cifar10_test_acc_200ep")
    rc = main(["calibrate", "--truth", str(truth), "--quiet", *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.count("\n") == 1, err


# ---------------------------------------------------------------------------------- multi-fidelity


def test_parse_rungs_and_schedule() -> None:
    assert EV.parse_rungs("4, 1,2") == [1, 2, 4]
    assert EV.parse_rungs([3, 1]) == [1, 3]
    for bad, msg in [("1,x", "not an epoch"), ("0,2", "positive"), ("2,2", "twice"), ("", "not an epoch")]:
        with pytest.raises(ValueError, match=msg):
            EV.parse_rungs(bad)
    assert EV.rung_schedule("rank", [1, 3]) == [1, 3, 6]  # the preset's last epoch is always a rung
    assert EV.rung_schedule("rank", [2, 6]) == [2, 6]
    assert EV.rung_schedule("tiny:epochs=4", [1]) == [1, 4]
    with pytest.raises(ValueError, match="rung 8 is past the end of preset 'rank'"):
        EV.rung_schedule("rank", [1, 8])


def rung_fake(calls: list):
    """A rung trainer whose answer is known: arch i (truth 90 - 7i) scores +i at epochs below 3 (the
    ranking reversed) and -i from epoch 3 on (the ranking right); epoch e costs 10·e CPU-s cumulative."""

    def run(genotype, spec, seed, epochs):
        calls.append((spec, list(epochs)))
        i = next(k for k, a in enumerate(ARCHS) if genotype == _genotype(a))
        return [(float(i if e < 3 else -i), 10.0 * e, 11.0 * e) for e in epochs]

    return run


def _genotype(arch: str):
    return ArchCodec(small_space()).genotype(arch)


def test_calibrate_per_rung_with_a_fake_trainer(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    calls: list = []
    cal = C.calibrate(
        small_space(), ["params", "rank"], truth, target_column="acc", sample=6, data=None,
        trainer=rung_fake(calls), rungs=[1, 3], ensembles=["params+rank"],
    )  # fmt: skip
    assert calls == [("rank", [1, 3, 6])] * 6  # one run per arch, scored at every rung
    summary = {r["proxy"]: r for r in cal.summary()}
    assert list(summary) == ["params", "rank@1", "rank@3", "rank@6", "params+rank"]
    assert summary["rank@1"]["spearman"] == -1.0 and summary["rank@1"]["top10_precision"] == 0.0
    assert summary["rank@3"]["spearman"] == 1.0 and summary["rank@6"]["kendall"] == 1.0
    assert [summary[f"rank@{e}"]["cpu_s_per_candidate"] for e in (1, 3, 6)] == [10.0, 30.0, 60.0]
    assert summary["rank@3"]["info"] == {"rung_of": "rank", "rung": 3, "epochs": 6}
    # the ensemble takes the last rung
    assert summary["params+rank"]["info"] == {"ensemble": ["params", "rank@6"]}
    assert summary["params+rank"]["cpu_s_per_candidate"] > 60.0
    assert cal.settings["rungs"] == {"rank": [1, 3, 6]}
    assert cal.settings["device"].split()[0] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert [r.name for r in cal.rung_curves()["rank"]] == ["rank@1", "rank@3", "rank@6"]
    paths = O.write_outputs(cal, tmp_path / "out", "rungs")
    d = json.loads(paths["json"].read_text())
    assert d["scores"]["rank@1"] == [float(ARCHS.index(a)) for a in d["archs"]]
    sims = d["successive_halving"]
    assert {(s["eta"], s["grace"], s["mode"]) for s in sims} >= {
        (3, 1, "sync"),
        (3, 1, "async"),
        (2, 3, "sync"),
    }
    # rung 1 reverses the ranking: halving from it always drops the best (arch 0) at once
    s = next(s for s in sims if (s["eta"], s["grace"], s["mode"]) == (3, 1, "sync"))
    assert s["milestones"] == [1, 3] and s["top_survival"]["1"] == 0.0 and s["winner_truth"] < 90.0
    s = next(s for s in sims if (s["eta"], s["grace"], s["mode"]) == (3, 3, "sync"))
    assert s["winner_truth"] == 90.0 and s["winner_is_best"] == 1.0
    back = R.load_calibration(paths["json"])
    assert [r.name for r in back.rung_curves()["rank"]] == ["rank@1", "rank@3", "rank@6"]
    assert paths["png"].stat().st_size > 0


def test_rung_errors(tmp_path: Path, capsys) -> None:
    truth = write_truth(tmp_path / "t.csv")
    kw = dict(target_column="acc", sample=3, data=None)
    with pytest.raises(ValueError, match="need a training preset"):
        C.calibrate(small_space(), ["params"], truth, rungs=[1], **kw)
    with pytest.raises(ValueError, match="past the end"):
        C.calibrate(small_space(), ["tiny"], truth, rungs=[3], trainer=rung_fake([]), **kw)
    with pytest.raises(ValueError, match="returned 1 scores"):
        C.calibrate(
            small_space(), ["rank"], truth, rungs=[1], trainer=lambda g, p, s, e: [(1.0, 1.0, 1.0)], **kw
        )
    t2 = write_truth(tmp_path / "t2.csv", column="cifar10_test_acc_200ep")
    for extra, msg in [(["--proxies", "params", "--rungs", "1"], "--rungs: need a training preset"),
                       (["--preset", "rank", "--rungs", "1,9"], "past the end"),
                       (["--preset", "rank", "--rungs", "a"], "not an epoch")]:  # fmt: skip
        assert main(["calibrate", "--truth", str(t2), "--quiet", *extra]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err


def test_asha_milestones_and_decisions_match_ray() -> None:
    pytest.importorskip("ray")
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.schedulers.async_hyperband import _Bracket

    for grace, eta, max_t in [(1, 2, 6), (1, 3, 6), (2, 2, 6), (2, 3, 6), (3, 2, 6), (1, 3, 27), (1, 2, 16)]:
        ray_rungs = sorted(m for m, _ in _Bracket(grace, max_t, eta, 0)._rungs)
        assert H.asha_milestones(grace, eta, max_t) == [m for m in ray_rungs if m < max_t]
    # the asynchronous rule, trial by trial, against Ray's bracket fed every epoch's score
    rng = np.random.default_rng(0)
    n, max_t = 40, 6
    per_epoch = rng.normal(size=(max_t + 1, n)).round(1)  # rounded: ties happen
    for grace, eta in [(1, 2), (1, 3), (2, 2)]:
        milestones = H.asha_milestones(grace, eta, max_t)
        order = rng.permutation(n)
        ours = H.asha_stops([per_epoch[m] for m in milestones], order, eta)
        bracket = _Bracket(grace, max_t, eta, 0, stop_last_trials=False)

        class Trial:
            def __init__(self, i: int) -> None:
                self.trial_id = str(i)

        for i in order:
            stopped_at = None
            for epoch in range(1, max_t + 1):
                if bracket.on_result(Trial(i), epoch, float(per_epoch[epoch, i])) == TrialScheduler.STOP:
                    stopped_at = epoch
                    break
            expected = len(milestones) if stopped_at in (None, max_t) else milestones.index(stopped_at)
            assert ours[i] == expected, (grace, eta, i)


def test_simulated_halving_exact() -> None:
    truth = [90.0 - i for i in range(9)]
    good = {e: [-float(i) for i in range(9)] for e in (1, 3, 9)}
    costs = {e: [float(e)] * 9 for e in (1, 3, 9)}
    s = H.simulate_halving(truth, good, costs, eta=3, grace=1, mode="sync")
    # 9 archs → 3 after epoch 1 → 1 after epoch 3: 6·1 + 2·3 + 1·9 CPU-s instead of 9·9
    assert s["milestones"] == [1, 3] and s["cpu_s"] == 21.0 and s["cpu_s_train_all"] == 81.0
    assert s["winner_truth"] == 90.0 and s["survivors"] == 1 and s["top_k"] == 1
    assert s["top_survival"] == {"1": 1.0, "3": 1.0} and s["spearman_all"] == pytest.approx(1.0)
    bad_start = {**good, 1: [float(i) for i in range(9)]}  # epoch 1 ranks them backwards
    s = H.simulate_halving(truth, bad_start, costs, eta=3, grace=1, mode="sync")
    assert s["top_survival"]["1"] == 0.0 and s["winner_truth"] == 84.0  # best of archs 6, 7, 8
    assert s["train_all_winner_truth"] == 90.0
    a = H.simulate_halving(truth, good, costs, eta=3, grace=1, mode="async", repeats=50)
    assert a["repeats"] == 50 and a["winner_truth"] == 90.0 and 21.0 <= a["cpu_s"] < 81.0
    with pytest.raises(ValueError, match="milestone 2 .* is not a measured rung"):
        H.simulate_halving(truth, good, costs, eta=2, grace=1)
    with pytest.raises(ValueError, match="mode"):
        H.simulate_halving(truth, good, costs, eta=3, grace=1, mode="hyper")


def test_rung_evaluator_keeps_the_trajectory_of_plain_training() -> None:
    # intermediate evaluations must not change training: the last rung equals a plain run's score
    spec = "tiny:train_subset=96,val_size=64,epochs=3,eval_every=3,image_size=16,batch_size=32"
    g = _genotype(ARCHS[0])
    plain = EV.training_evaluator(None, dataset="synthetic")(g, spec, 0)
    rungs = EV.rung_evaluator(None, dataset="synthetic")(g, spec, 0, [1, 2])
    assert len(rungs) == 3 and rungs[-1][0] == plain[0]
    assert rungs[0][1] < rungs[1][1] < rungs[2][1]  # cumulative CPU-s
    assert len({s for s, _, _ in rungs}) > 1  # the scores move as training goes on


def test_training_scores_carry_the_presets_size_term() -> None:
    # score = val top-1 + params_weight * log10(params of the sampled architecture, not the proxy)
    from nas.tools.describe import describe

    spec = "tiny:train_subset=96,val_size=64,epochs=2,eval_every=2,image_size=16,batch_size=32"
    g = _genotype(ARCHS[0])
    params = describe(g)["params"]
    plain = EV.training_evaluator(None, dataset="synthetic")(g, spec, 0)
    sized = EV.training_evaluator(None, dataset="synthetic")(g, spec + ",params_weight=5", 0)
    assert sized[0] == pytest.approx(plain[0] + 5 * np.log10(params))
    rungs = EV.rung_evaluator(None, dataset="synthetic")(g, spec + ",params_weight=5", 0, [1])
    assert rungs[-1][0] == pytest.approx(sized[0]) and rungs[0][0] > 5 * np.log10(params)


@pytest.mark.slow
@pytest.mark.skipif(
    CIFAR_TAR is None or not TRUTH_1500.is_file(), reason="shared CIFAR-10 / NB201 table absent"
)
def test_rung_calibration_on_real_data() -> None:
    spec = "rank:train_subset=1000,val_size=1000,epochs=2"
    kw = dict(truth=TRUTH_1500, sample=2, seed=1, data=CIFAR_TAR)
    cal = C.calibrate("nb201", [spec], rungs=[1], **kw)
    plain = C.calibrate("nb201", [spec], **kw)
    assert [r.name for r in cal.results] == [f"{spec}@1", f"{spec}@2"]
    assert cal.results[-1].scores == plain.results[0].scores  # same trajectory, same final accuracy
    assert all(10.0 < s < 60.0 for r in cal.results for s in r.scores)


# ------------------------------------------------------------------------------------------ journal


class _Stop(Exception):
    pass


def _scoring(calls: list, stop_after: int | None = None, space=None):
    """A training evaluator: arch i scores -i (the ranking right); raises after ``stop_after`` calls."""
    parse = ArchCodec(space or small_space()).genotype

    def run(genotype, spec, seed):
        if stop_after is not None and len(calls) == stop_after:
            raise _Stop
        calls.append(spec)
        i = next(k for k, a in enumerate(ARCHS) if genotype == parse(a))
        return -float(i), 1.0 + i, 2.0 + i

    return run


def test_an_interrupted_calibration_resumes_from_its_journal(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    journal = tmp_path / "o" / "c.journal.jsonl"
    kw = dict(target_column="acc", sample=6, data=None, journal=journal)
    whole = C.calibrate(small_space(), ["params", "tiny", "rank"], truth, trainer=_scoring([]), **kw)
    journal.unlink()
    calls: list = []
    with pytest.raises(_Stop):
        C.calibrate(small_space(), ["params", "tiny", "rank"], truth, trainer=_scoring(calls, 8), **kw)
    assert len(journal.read_text().splitlines()) == 1 + 8  # the key, then one line per training
    with pytest.raises(ValueError, match="unfinished calibration: resume it, or overwrite"):
        C.calibrate(small_space(), ["params", "tiny", "rank"], truth, trainer=_scoring([]), **kw)
    calls = []
    again = C.calibrate(
        small_space(), ["params", "tiny", "rank"], truth, trainer=_scoring(calls), resume=True, **kw
    )
    assert calls == ["rank"] * 4  # 6 + 6 trainings, 8 journaled
    assert again.summary()[1:] == whole.summary()[1:]  # params' cost is measured anew
    assert [r.scores for r in again.results] == [r.scores for r in whole.results]
    # another protocol may not continue this journal
    for change, field in [({"seed": 1}, "seed"), ({"sample": 5}, "sample"), ({"device": "meta"}, "device")]:
        with pytest.raises(ValueError, match=f"it was run with {field}="):
            C.calibrate(
                small_space(), ["tiny", "rank"], truth, trainer=_scoring([]), resume=True, **{**kw, **change}
            )
    with pytest.raises(ValueError, match="it was run with presets="):
        C.calibrate(small_space(), ["tiny:epochs=3", "rank"], truth, trainer=_scoring([]), resume=True, **kw)


def test_progress_lines_carry_the_rho_so_far(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    kw = dict(target_column="acc", sample=6, data=None)
    lines: list[str] = []
    C.calibrate(small_space(), ["tiny"], truth, trainer=_scoring([]), progress=lines.append, **kw)
    trained = [m for m in lines if m.startswith("[tiny ")]
    assert "ρ=" not in trained[1] and trained[2].endswith("ρ=1.000 over 3") and "over 6" in trained[5]
    lines.clear()
    C.calibrate(small_space(), ["rank"], truth, trainer=rung_fake([]), rungs=[1], progress=lines.append, **kw)
    assert lines[-1].endswith("ρ=1.000 over 6")  # the last rung: epoch 3 ranks right (epoch 1 wrong)


def test_journal_survives_a_torn_last_line_and_replays_rungs(tmp_path: Path) -> None:
    from nas.calibration.journal import Journal

    truth = write_truth(tmp_path / "t.csv")
    journal = tmp_path / "j.jsonl"
    kw = dict(target_column="acc", sample=6, data=None, rungs=[1, 3], journal=journal)
    whole = C.calibrate(small_space(), ["rank"], truth, trainer=rung_fake([]), **kw)
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])  # a crash while writing line 5
    calls: list = []
    again = C.calibrate(small_space(), ["rank"], truth, trainer=rung_fake(calls), resume=True, **kw)
    assert len(calls) == 6 - 3 and again.summary() == whole.summary()
    assert len(journal.read_text().splitlines()) == 7
    journal.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        Journal(journal, {}, resume=True)
    (tmp_path / "other.jsonl").write_text('{"a": 1}\n')
    with pytest.raises(ValueError, match="not a nas calibrate journal"):
        Journal(tmp_path / "other.jsonl", {}, resume=True)


def test_cli_names_the_flags_that_settle_an_existing_journal(tmp_path: Path, capsys) -> None:
    truth = write_truth(tmp_path / "t.csv")
    args = ["calibrate", "--truth", str(truth), "--target-column", "acc", "--preset", "tiny", "--sample", "4"]
    args += ["--quiet", "--out", str(tmp_path), "--name", "c"]
    (tmp_path / "c.journal.jsonl").write_text('{"format": "nas calibrate journal", "key": {"seed": 99}}\n')
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--out: " in err and "unfinished calibration" in err, err
    assert "(pass --resume or --overwrite)" in err, err
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and err.endswith("; overwrite to start again (pass --overwrite)\n"), err


def test_cli_resume(tmp_path: Path, capsys, monkeypatch) -> None:
    truth = write_truth(tmp_path / "t.csv")
    out = tmp_path / "o"
    args = ["calibrate", "--truth", str(truth), "--target-column", "acc", "--preset", "tiny", "--sample", "4"]
    args += ["--quiet", "--out", str(out), "--name", "c", "--format", "json"]
    calls: list = []

    def interrupted(*a, **k):
        run = _scoring(calls, space=get_space("nb201"))

        def once(genotype, spec, seed):
            if len(calls) == 2:
                raise KeyboardInterrupt
            return run(genotype, spec, seed)

        return once

    monkeypatch.setattr(C, "training_evaluator", interrupted)
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 130 and "journaled in" in err and "--resume" in err, err
    assert main(args) == 2
    assert "pass --resume" in capsys.readouterr().err
    monkeypatch.setattr(C, "training_evaluator", lambda *a, **k: _scoring(calls, space=get_space("nb201")))
    assert main([*args, "--resume"]) == 0
    assert len(calls) == 4 and not (out / "c.journal.jsonl").exists()
    d = json.loads((out / "c.json").read_text())
    assert d["summary"][0]["spearman"] == 1.0 and d["summary"][0]["n"] == 4
    capsys.readouterr()
    assert main([*args, "--resume", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "exclude each other" in err and err.count("\n") == 1, err
    no_out = [a for a in args if a not in ("--out", str(out))]
    assert main([*no_out, "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


# ------------------------------------------------------------------------------- parallel workers

SYNTH = "tiny:train_subset=96,val_size=64,epochs=2,image_size=16,batch_size=32"


@pytest.mark.slow  # over 10 s here
def test_workers_train_in_parallel_with_the_scores_of_one_process(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    kw = dict(target_column="acc", sample=4, data=None, dataset="synthetic")
    one = C.calibrate("nb201", [SYNTH], truth, **kw)
    lines: list[str] = []
    two = C.calibrate(
        "nb201", [SYNTH], truth, workers=2, journal=tmp_path / "j.jsonl", progress=lines.append, **kw
    )
    assert two.results[0].scores == one.results[0].scores  # deterministic, whichever worker ran it
    assert two.settings["workers"] == 2 and all(c > 0 for c in two.results[0].cpu_s)
    assert sum("trained]" in m for m in lines) == 4 and " over 4 |" in lines[-1]
    journal = (tmp_path / "j.jsonl").read_text().splitlines()
    assert len(journal) == 1 + 4
    # resuming replays the journal: a doctored result comes back as written, nothing retrains
    first = json.loads(journal[1])
    first["result"][0] = 123.0
    (tmp_path / "j.jsonl").write_text("\n".join([journal[0], json.dumps(first), *journal[2:]]) + "\n")
    again = C.calibrate("nb201", [SYNTH], truth, workers=2, journal=tmp_path / "j.jsonl", resume=True, **kw)
    i = again.archs.index(first["arch"])
    assert again.results[0].scores[i] == 123.0
    with pytest.raises(ValueError, match="it was run with dataset='synthetic'"):
        other = {**kw, "dataset": "cifar10"}
        C.calibrate("nb201", [SYNTH], truth, journal=tmp_path / "j.jsonl", resume=True, **other)
    assert [s for k, s in enumerate(again.results[0].scores) if k != i] == [
        s for k, s in enumerate(one.results[0].scores) if k != i
    ]


@pytest.mark.slow  # > 10 s: the fast suite stays under 10 minutes
def test_workers_score_rungs_like_one_process(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    kw = dict(target_column="acc", sample=3, data=None, dataset="synthetic", rungs=[1])
    one = C.calibrate("nb201", [SYNTH], truth, **kw)
    two = C.calibrate("nb201", [SYNTH], truth, workers=2, **kw)
    assert [r.name for r in two.results] == [f"{SYNTH}@1", f"{SYNTH}@2"]
    assert [r.scores for r in two.results] == [r.scores for r in one.results]


def test_worker_errors(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    kw = dict(target_column="acc", sample=3, data=None, dataset="synthetic")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            C.calibrate("nb201", [SYNTH], truth, workers=bad, **kw)
    with pytest.raises(ValueError, match="custom trainer"):
        C.calibrate("nb201", [SYNTH], truth, workers=2, trainer=_scoring([]), **kw)
    with pytest.raises(ValueError, match="epochs"):  # a bad preset fails before any worker starts
        C.calibrate("nb201", ["tiny:epochs=x"], truth, workers=2, **kw)


@pytest.mark.slow  # over 10 s here
def test_leaving_the_pool_early_stops_its_workers() -> None:
    # what Ctrl-C does: the trainings still running are terminated, not left to finish
    import multiprocessing
    import time

    from nas.calibration.pool import evaluate_parallel

    g = ArchCodec(get_space("nb201")).genotype(ARCHS[0])
    slow = SYNTH.replace("epochs=2", "epochs=500")
    tasks = [(g, SYNTH, 0, None), (g, slow, 0, None), (g, slow, 0, None)]
    results = evaluate_parallel(tasks, workers=2, threads=1, data=None, dataset="synthetic")
    index, (score, cpu, _) = next(results)
    assert index == 0 and 0 <= score <= 100 and cpu > 0
    t0 = time.perf_counter()
    results.close()
    assert time.perf_counter() - t0 < 10
    assert not multiprocessing.active_children()


def _proc(pid: int, what: str) -> str:
    try:
        return Path(f"/proc/{pid}/{what}").read_text(errors="replace")
    except OSError:
        return ""


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    stat = _proc(pid, "stat")
    return bool(stat) and stat.rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    script = tmp_path / "killed.py"
    script.write_text(
        "import multiprocessing, os, sys\n"
        "from nas.core.archcodec import ArchCodec\n"
        "from nas.calibration.pool import evaluate_parallel\n"
        "if __name__ == '__main__':\n"
        f"    g = ArchCodec('nb201').genotype({ARCHS[0]!r})\n"
        f"    slow = {SYNTH.replace('epochs=2', 'epochs=500')!r}\n"
        "    it = evaluate_parallel([(g, slow, 0, None)] * 2, workers=2, threads=1, data=None,\n"
        "                           dataset='synthetic')\n"
        "    next(it)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    kids: list[int] = []
    while len(kids) < 2 and time.monotonic() < deadline:  # wait until both workers run
        time.sleep(0.5)
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
        kids = [int(p) for p in out.split() if "spawn_main" in _proc(int(p), "cmdline")]
    assert len(kids) == 2, proc.stderr.read() if proc.poll() is not None else "no workers"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60  # a worker still importing torch ends once it gets to its setup
    while any(_running(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [k for k in kids if _running(k)]
    for k in alive:
        os.kill(k, 9)
    assert not alive, "workers outlived their killed parent"


def test_plot_legend_names_only_the_kinds_plotted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    labels: list[list[str]] = []
    save = Figure.savefig

    def spy(self: Figure, *args: object, **kwargs: object) -> None:
        labels.append([t.get_text() for ax in self.axes for t in ax.get_legend().get_texts()])
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    summary = [
        {"proxy": "synflow", "kind": "zero-cost", "spearman": 0.8, "cpu_s_per_candidate": 0.1},
        {"proxy": "small", "kind": "training", "spearman": 0.9, "cpu_s_per_candidate": 600.0},
    ]
    assert O.plot(summary, tmp_path / "p.png").is_file()
    assert labels == [["zero-cost", "training"]]
