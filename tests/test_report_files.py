"""``nas report`` files: report.html (self-contained) and report.md with their figures, on a finished nb201
run over the synthetic table; the numbers of report.md against trials.csv; ``--watch``; damaged runs."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from shared_data import CIFAR_TAR

from nas.cli import main
from nas.core.genotype import save
from nas.core.registry import SPACES
from nas.report.build import write_report
from nas.report.curves import best_so_far, prescreen_hours
from nas.report.load import Run
from nas.report.watch import watch
from nas.search import SearchConfig, run_search
from nas.search.objectives import Objective
from nas.search.trials import TrialsTable
from search_spaces.nb201 import arch_string

PNG = b"\x89PNG\r\n\x1a\n"


class _CostedTable(Objective):
    """The synthetic NAS-Bench-201 table as the score, with params and MACs that grow with the number of
    convolutions (no profiling: fast), and a deterministic failure for some candidates."""

    kind = "costed_table"

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def evaluate(self, job, report):
        if job.choices is None:
            raise ValueError("candidate is not a member of the space")
        arch = arch_string(job.choices)
        if arch.count("avg_pool_3x3") == 3:
            raise RuntimeError("boom: three pools")
        convs = arch.count("conv_3x3") * 9 + arch.count("conv_1x1")
        return {"score": self.table[arch], "params": 100_000 + 20_000 * convs, "macs": 10**7 * (1 + convs)}


def finished_run(tmp: Path, table: dict[str, float]) -> Path:
    """A finished evolution run of 40 trials, seeded with 'allconv', resnet20 an outside baseline (no table
    entry: fails)."""
    space = SPACES["nb201"]()
    seed = save(space.decode({k: "nor_conv_1x1" for k in space.choices()}), tmp / "allconv.json")
    cfg = SearchConfig(
        space="nb201",
        strategy="evolution",
        budget="40trials",
        executor="inline",
        runs_dir=str(tmp),
        name="evo",
        quiet=True,
        seed=2,
        seed_with=[str(seed)],
        baseline=["resnet20"],
        objective={"kind": "synthetic"},
        gpus_per_trial=0.0,
    )
    run_search(cfg, objective=_CostedTable(table))
    return tmp / "evo"


@pytest.fixture(scope="module")
def finished(tmp_path_factory, table) -> Path:
    return finished_run(tmp_path_factory.mktemp("runs"), table)


@pytest.fixture(scope="module")
def written(finished):
    return write_report(finished, top=5, cells=2)


def _rows_of(md: str, heading: str) -> list[list[str]]:
    """The body rows of the first Markdown table under ``heading`` (cells unescaped)."""
    part = md.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in part.splitlines() if ln.startswith("| ")][1:]
    return [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]


def test_every_figure_is_a_png_embedded_in_the_html(finished, written) -> None:
    names = {p.name for p in written.figures}
    assert {"best_so_far.png", "pareto.png"} <= names
    assert sum(n.startswith("network_") for n in names) == 1
    assert len({n.split("_")[1] for n in names if n.startswith("cell_")}) == 2  # the cells of 2 candidates
    html = written.html.read_text()
    md = written.markdown.read_text()
    for p in written.figures:
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 2000, p
        with Image.open(p) as im:
            colors = im.convert("RGB").getcolors(maxcolors=1 << 20)
            assert colors is not None and len(colors) > 20, p  # not blank
        assert f"data:image/png;base64,{base64.b64encode(data).decode()}" in html, p
        assert f"](report/{p.name})" in md, p
    assert "report/" not in re.sub(r"\(report/[^)]+\)", "", md.split("## Configuration")[0])
    assert not re.search(r'src="(?!data:)', html)  # self-contained: no file or URL the page must fetch
    assert 'http-equiv="refresh"' not in html
    assert sorted(p.name for p in (finished / "report").iterdir()) == sorted(names)
    assert "Not drawn: the cells every one of them shares (nb201_resblock)." in md


def test_markdown_numbers_equal_the_trials_table(finished, written) -> None:
    t = pd.read_csv(finished / "trials.csv")
    md = written.markdown.read_text()
    ok = t[t.status == "ok"]
    best = ok.sort_values(["score", "trial_id"], ascending=[False, True]).iloc[0]
    ran = t[~t.cached]
    failed = int(ran.status.isin(["error", "transient"]).sum())
    assert failed >= 2  # resnet20 and the three-pool candidates: the failures table is tested
    counts = (
        f"trials {len(ran)} evaluated: ok {int((ran.status == 'ok').sum())}, failed {failed}, stopped 0; "
    )
    assert counts + f"{int(t.cached.sum())} duplicates answered from the cache ({len(t)} proposals)" in md
    assert f"best #{best.trial_id} score {best.score:.4f}" in md

    found = ok[~ok.cached & (ok.source == "strategy")].sort_values(
        ["score", "trial_id"], ascending=[False, True]
    )
    top = found.drop_duplicates("key").head(5)
    rows = _rows_of(md, "Found architectures vs baselines")
    got = [r for r in rows if r[0] == "found"]
    assert [r[1] for r in got] == [f"#{i}" for i in top.trial_id]
    assert [r[2] for r in got] == list(top.arch)
    assert [r[3] for r in got] == [f"{s:.4f}" for s in top.score]
    assert [r[4] for r in got] == [f"{p / 1e6:.3g}" for p in top.params]
    assert [r[5] for r in got] == [f"{m / 1e6:.3g}" for m in top.macs]
    seeds = {r[2]: r for r in rows if r[0] in ("seed", "baseline")}
    assert {k: r[0] for k, r in seeds.items()} == {"allconv": "seed", "resnet20": "baseline"}
    assert seeds["resnet20"][3].startswith("error: ValueError: candidate is not a member")
    allconv = t[(t.name == "allconv") & (t.status == "ok")].iloc[0]
    assert seeds["allconv"][3] == f"{allconv.score:.4f}"

    errors = _rows_of(md, "Failures")
    by_error = t[t.status == "error"].groupby(t.error.str.split("\n").str[0]).size()
    assert {r[0].removeprefix("error: "): int(r[1]) for r in errors} == by_error.to_dict()
    ledger = json.loads((finished / "ledger.json").read_text())
    assert ["sessions", str(ledger["sessions"])] in _rows_of(md, "Budget ledger (ledger.json)")
    assert json.dumps(json.loads((finished / "config.json").read_text()), indent=1) in md


def test_best_so_far_against_trials_and_device_hours() -> None:
    rows = [
        {"trial_id": 0, "status": "error", "score": None, "device_hours": 0.5},
        {"trial_id": 1, "status": "ok", "score": 60.0, "device_hours": 1.0},
        {"trial_id": 3, "status": "ok", "score": 55.0, "device_hours": 1.0},
        {"trial_id": 2, "status": "stopped", "score": 70.0, "device_hours": 0.25},
    ]
    assert best_so_far(rows, "trials") == [(2.0, 60.0), (3.0, 70.0), (4.0, 70.0)]
    ledger = {"extra": {"prescreen_cpu_s": 1800.0}}
    assert prescreen_hours(ledger) == 0.5
    assert best_so_far(rows, "device_hours", ledger) == [(2.0, 60.0), (2.25, 70.0), (3.25, 70.0)]
    with pytest.raises(ValueError, match="x must be one of"):
        best_so_far(rows, "epochs")


def test_nasnet_cells_are_drawn_one_picture_each(tmp_path) -> None:
    import nas
    from nas.core.genotype import Network
    from nas.report.figures import cell_figures, network_figure

    g = nas.ARCHS["nasnet_a_cifar"]()
    assert isinstance(g, Network)
    row = {"trial_id": 7, "status": "ok", "score": 97.1, "key": "k", "genotype": g.to_json()}
    run = Run(tmp_path, {}, [row])
    pictures, shared = cell_figures(run, tmp_path / "report", 1)
    assert shared == []
    names = [p.name for p, _ in pictures]
    assert names == ["cell_k_nasnet_a_normal.png", "cell_k_nasnet_a_reduce.png"]
    for p, caption in pictures:
        assert p.read_bytes().startswith(PNG) and "trial #7" in caption
    assert network_figure(g.stages[0].cell, tmp_path / "net.png") is None  # a cell has no stages


def _copy(run: Path, tmp: Path) -> Path:
    return Path(shutil.copytree(run, tmp / run.name))  # report/ too: its pictures are reused


def test_watch_picks_up_new_trials_then_stops_when_the_run_is_still(finished, tmp_path) -> None:
    run = _copy(finished, tmp_path)
    n = len(pd.read_csv(run / "trials.csv"))
    pages: list[tuple[int, bool, str]] = []
    sleeps: list[float] = []

    def more_trials(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:  # the search goes on: three more trials (copies of the best, new ids)
            table = TrialsTable(run)
            best = max((r for r in table.rows if r["score"] is not None), key=lambda r: r["score"])
            for k in range(3):
                table.append({**best, "trial_id": n + k, "score": best["score"] + 1 + k, "cached": False})

    def write(refresh_s):
        return write_report(run, top=3, cells=0, refresh_s=refresh_s)

    last = watch(
        run,
        write,
        0.2,
        sleep=more_trials,
        on_write=lambda w: pages.append(
            (w.trials, 'http-equiv="refresh" content="1"' in w.html.read_text(), w.markdown.read_text())
        ),
    )
    assert sleeps == [0.2, 0.2]
    assert [(t, refresh) for t, refresh, _ in pages] == [(n, True), (n + 3, True), (n + 3, False)]
    assert f"({n} proposals)" in pages[0][2] and f"({n + 3} proposals)" in pages[2][2]
    assert f"best #{n + 2} score" in pages[2][2]
    assert last is not None and last.trials == n + 3 and last.finished


def test_watch_stops_on_ctrl_c_and_cli_watch_of_a_finished_run(finished, tmp_path, capsys) -> None:
    run = _copy(finished, tmp_path)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    written = []
    last = watch(run, lambda r: write_report(run, cells=0, refresh_s=r), 5.0, sleep=interrupted,
                 on_write=written.append)  # fmt: skip
    assert last is written[0] and len(written) == 1
    assert main(["report", str(run), "--watch", "0.01", "--cells", "0"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"run {run.name} (") and err.count("nas: wrote ") == 2  # twice: then still
    assert 'http-equiv="refresh"' not in (run / "report.html").read_text()
    assert main(["report", str(run), "--no-files", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == run.name


def _damage(name: str, text: str | None):
    def setup(run: Path) -> None:
        if text is None:
            (run / name).unlink()
        else:
            (run / name).write_text(text)

    return setup


@pytest.mark.parametrize(
    ("setup", "named"),
    [
        (_damage("trials.csv", None), "trials.csv: missing"),
        (_damage("config.json", "{not json"), "config.json: not valid JSON"),
        (_damage("config.json", None), "config.json: missing"),
        (_damage("best.json", "[1, 2"), "best.json: not valid JSON"),
        (_damage("best.json", "[1, 2]"), "best.json: holds a JSON array"),
        (_damage("ledger.json", "{"), "ledger.json: not valid JSON"),
        (_damage("final.csv", "a,b\n1,2\n"), "final.csv is not a final-training table"),
        (lambda run: shutil.rmtree(run), "is not a run directory"),
    ],
    ids=["no-trials", "bad-config", "no-config", "bad-best", "best-array", "bad-ledger", "bad-final", "gone"],
)
def test_a_damaged_run_is_one_line_naming_the_file(finished, tmp_path, capsys, setup, named) -> None:
    run = _copy(finished, tmp_path)
    for f in ("report.html", "report.md"):
        (run / f).unlink(missing_ok=True)
    setup(run)
    assert main(["report", str(run)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nas: error: ") and named in lines[0], err
    assert out == "" and not (run / "report.html").exists()


def test_proxy_vs_target_and_truth_scatter_with_the_summary_rho(finished, tmp_path, table) -> None:
    from search_helpers import write_table

    from nas.search.final import FinalTable
    from nas.search.report import report

    run = _copy(finished, tmp_path)
    t = pd.read_csv(run / "trials.csv")
    found = t[(t.status == "ok") & ~t.cached & (t.source == "strategy")]
    top = found.sort_values(["score", "trial_id"], ascending=[False, True]).drop_duplicates("key").head(4)
    final = FinalTable(run)
    for k, r in enumerate(top.itertuples()):
        for seed in (0, 1):  # a target that ranks the candidates in reverse, two seeds each
            final.append({"trial_id": r.trial_id, "key": r.key, "arch": r.arch, "proxy": "synthetic",
                          "proxy_score": r.score, "target": "synthetic:tiny", "seed": seed,
                          "target_score": 50.0 + k + seed})  # fmt: skip
    truth = write_table(tmp_path / "truth.csv", table)
    w = write_report(run, truth=truth, target_column="val_acc", top=4, cells=0)
    rep = report(run, truth=truth, target_column="val_acc")
    assert (
        rep["agreement"]["proxy_target"][0]["spearman"] == -1.0
        and rep["agreement"]["truth"]["spearman"] == 1.0
    )
    assert "agreement.png" in {p.name for p in w.figures}
    md = w.markdown.read_text()
    assert "proxy synthetic → target synthetic:tiny: n 4, ρ -1.000" in md  # the summary's own numbers
    rows = [r for r in _rows_of(md, "Found architectures vs baselines") if r[0] == "found"]
    assert [r[1] for r in rows] == [f"#{i}" for i in top.trial_id]
    assert [r[-1] for r in rows] == [f"{50.5 + k:.4f} ± 6.35 (n 2)" for k in range(4)]  # t(1) · 1/√2 · 0.707


@pytest.mark.slow  # ~100 s here: reading the JPEG archive dominates
@pytest.mark.skipif(CIFAR_TAR is None, reason="shared CIFAR-10 JPEG archive absent")
def test_a_real_proxy_search_on_the_cifar10_jpegs_gets_its_report(tmp_path, capsys) -> None:
    # naswot scores each candidate on a minibatch of the real JPEGs: a proxy search, seconds per trial
    run = tmp_path / "real"
    argv = ["search", "--space", "nb201", "--objective", "zero-cost:naswot", "--data-dir", str(CIFAR_TAR)]
    argv += ["--budget", "8trials", "--executor", "inline", "--profile", "--quiet", "--out", str(run)]
    assert main(argv) == 0
    assert main(["report", str(run), "--cells", "1", "--quiet"]) == 0
    capsys.readouterr()
    t = pd.read_csv(run / "trials.csv")
    assert (t.status == "ok").all() and t.score.notna().all()
    md, html = (run / "report.md").read_text(), (run / "report.html").read_text()
    figures = sorted((run / "report").glob("*.png"))
    assert {"best_so_far.png", "pareto.png"} <= {p.name for p in figures}
    for p in figures:
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 2000, p
        assert f"data:image/png;base64,{base64.b64encode(data).decode()}" in html, p
    ran = t[~t.cached]
    best = ran.sort_values(["score", "trial_id"], ascending=[False, True]).iloc[0]
    assert f"trials {len(ran)} evaluated: ok {len(ran)}, failed 0" in md
    assert f"best #{best.trial_id} score {best.score:.4f}" in md
    found = [r for r in _rows_of(md, "Found architectures vs baselines") if r[0] == "found"]
    assert found[0][1] == f"#{best.trial_id}" and found[0][2] == best.arch
