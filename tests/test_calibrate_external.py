"""Proxies the calibration does not build (a trained supernet's inherited weights): scored by arch text,
reported with their own kind and info, ensembled like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import NB201_ARCHS

from nas.calibration import calibrate as C

pytest.importorskip("search_spaces.nb201")

ARCHS = [*NB201_ARCHS[:3], NB201_ARCHS[4]]


def _truth(path: Path) -> Path:
    path.write_text("arch,acc\n" + "".join(f"{a},{90 - 7 * i}\n" for i, a in enumerate(ARCHS)))
    return path


def test_an_external_scorer_is_calibrated_and_ensembled(tmp_path: Path) -> None:
    seen: list[str] = []

    def score(arch: str) -> tuple[float, float, float]:
        seen.append(arch)
        return -float(ARCHS.index(arch)), 0.25, 0.5  # ranks exactly like the truth

    ext = {"supernet:x": C.ExternalScorer(score, info={"supernet_train_seconds": 12.0})}
    cal = C.calibrate(
        "nb201", ["params"], _truth(tmp_path / "t.csv"), target_column="acc", sample=4, external=ext,
        ensembles=["params+supernet:x"],
    )  # fmt: skip
    assert sorted(seen) == sorted(ARCHS)
    rows = {r["proxy"]: r for r in cal.summary()}
    assert list(rows) == ["params", "supernet:x", "params+supernet:x"]
    assert rows["supernet:x"]["spearman"] == 1.0 and rows["supernet:x"]["kind"] == "weight-sharing"
    assert rows["supernet:x"]["cpu_s_per_candidate"] == 0.25
    assert rows["supernet:x"]["info"] == {"supernet_train_seconds": 12.0}
    assert rows["params+supernet:x"]["cpu_s_per_candidate"] > 0.25
    alone = C.calibrate("nb201", [], tmp_path / "t.csv", target_column="acc", sample=4, external=ext)
    assert [r.name for r in alone.results] == ["supernet:x"]


def test_external_names_are_checked(tmp_path: Path) -> None:
    truth = _truth(tmp_path / "t.csv")
    ext = {"params": C.ExternalScorer(lambda a: (0.0, 0.0, 0.0))}
    with pytest.raises(ValueError, match="'params' is named twice"):
        C.calibrate("nb201", ["params"], truth, target_column="acc", sample=4, external=ext)
    config = C.CalibrationConfig(truth, "nb201", ("params",), target_column="acc", sample=4, external=("a",))
    with pytest.raises(ValueError, match="do not match"):
        C.run_calibration(config, external={})
