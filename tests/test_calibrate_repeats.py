"""nas calibrate --repeats: every training preset trained with several seeds, each repeat and the
seed-averaged score reported (the fidelity of a selection rung of N seeds)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from shared_data import NB201_ARCHS

from nas.calibration import calibrate as C
from nas.cli import main
from nas.core.archcodec import ArchCodec

nb201 = pytest.importorskip("search_spaces.nb201")

ARCHS = NB201_ARCHS


def _space() -> nb201.NB201Space:
    return nb201.NB201Space(C=8, N=1, input_size=16)


def _truth(path: Path) -> Path:  # arch i has truth 90 - 7 i
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "acc"])
        w.writerows([a, 90.0 - 7 * i] for i, a in enumerate(ARCHS))
    return path


def _noisy(calls: list[tuple[str, int]]):
    """A training evaluator: arch i scores -i plus seed noise as large as the gaps between archs, so one
    seed misranks and the mean of three ranks better; costs 1 CPU-s and 2 wall-s per training."""
    parse = ArchCodec(_space()).genotype

    def run(genotype, spec, seed):
        calls.append((spec, seed))
        i = next(k for k, a in enumerate(ARCHS) if genotype == parse(a))
        return -float(i) + float(np.random.default_rng([seed, i]).normal(0, 1.5)), 1.0, 2.0

    return run


def test_each_repeat_and_the_seed_mean_are_reported(tmp_path: Path) -> None:
    truth = _truth(tmp_path / "t.csv")
    calls: list = []
    cal = C.calibrate(
        _space(), ["params", "rank"], truth, target_column="acc", sample=6, seed=4, data=None,
        trainer=_noisy(calls), repeats=3, ensembles=["params+rank*3"],
    )  # fmt: skip
    assert sorted(calls) == sorted([("rank", s) for s in (4, 5, 6) for _ in range(6)])
    by = {r.name: r for r in cal.results}
    assert list(by) == ["params", "rank", "rank#2", "rank#3", "rank*3", "params+rank*3"]
    reps = [by[n] for n in ("rank", "rank#2", "rank#3")]
    assert [r.info["seed"] for r in reps] == [4, 5, 6] and [r.info["repeat"] for r in reps] == [1, 2, 3]
    mean = by["rank*3"]
    assert mean.kind == "training" and mean.info["mean_of"] == ["rank", "rank#2", "rank#3"]
    assert mean.scores == pytest.approx([float(np.mean(x)) for x in zip(*(r.scores for r in reps))])
    assert mean.cpu_s == [3.0] * 6 and mean.wall_s == [6.0] * 6
    assert -1 < mean.info["repeat_spearman"] < 1
    rows = {r["proxy"]: r for r in cal.summary()}
    assert rows["rank*3"]["cpu_s_per_candidate"] == 3.0
    # the noise is large enough that averaging seeds changes the ranking
    assert len({rows[n]["spearman"] for n in ("rank", "rank#2", "rank#3", "rank*3")}) > 1
    assert cal.settings["repeats"] == 3


def test_one_seeds_journal_is_resumed_by_more_repeats(tmp_path: Path) -> None:
    truth = _truth(tmp_path / "t.csv")
    journal = tmp_path / "o" / "c.journal.jsonl"
    kw = dict(target_column="acc", sample=6, seed=2, data=None, journal=journal)
    first: list = []
    once = C.calibrate(_space(), ["rank"], truth, trainer=_noisy(first), **kw)
    calls: list = []
    thrice = C.calibrate(_space(), ["rank"], truth, trainer=_noisy(calls), repeats=3, resume=True, **kw)
    assert sorted({s for _, s in calls}) == [3, 4] and len(calls) == 12  # seed 2 replayed, not retrained
    assert thrice.results[0].scores == once.results[0].scores
    lines = journal.read_text().splitlines()
    assert len(lines) == 1 + 18 and '"preset": "rank#3"' in lines[-1]
    again: list = []  # all three journaled: nothing trains
    same = C.calibrate(_space(), ["rank"], truth, trainer=_noisy(again), repeats=3, resume=True, **kw)
    assert again == [] and [r.scores for r in same.results] == [r.scores for r in thrice.results]


def test_repeats_are_validated(tmp_path: Path, capsys) -> None:
    truth = _truth(tmp_path / "t.csv")
    kw = dict(target_column="acc", sample=6, data=None, trainer=_noisy([]))
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="repeats"):
            C.calibrate(_space(), ["rank"], truth, repeats=bad, **kw)
    with pytest.raises(ValueError, match="rungs and repeats"):
        C.calibrate(_space(), ["rank"], truth, repeats=2, rungs=[1], **kw)
    with pytest.raises(ValueError, match="'rank\\*3' is not among the proxies"):
        C.calibrate(_space(), ["params", "rank"], truth, ensembles=["params+rank*3"], **kw)
    rc = main(
        ["calibrate", "--truth", str(truth), "--target-column", "acc", "--preset", "rank", "--repeats", "0"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--repeats: must be an integer of at least 1" in err, err


SYNTH = "tiny:train_subset=96,val_size=64,epochs=2,image_size=16,batch_size=32"


@pytest.mark.slow  # real trainings in two worker processes
def test_workers_train_the_repeats_like_one_process(tmp_path: Path) -> None:
    truth = _truth(tmp_path / "t.csv")
    kw = dict(target_column="acc", sample=3, data=None, dataset="synthetic", repeats=2)
    one = C.calibrate("nb201", [SYNTH], truth, **kw)
    two = C.calibrate("nb201", [SYNTH], truth, workers=2, journal=tmp_path / "j.jsonl", **kw)
    assert [r.name for r in two.results] == [SYNTH, f"{SYNTH}#2", f"{SYNTH}*2"]
    assert [r.scores for r in two.results] == [r.scores for r in one.results]
    assert one.results[0].scores != one.results[1].scores  # another seed trains another network
