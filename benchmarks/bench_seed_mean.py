"""`rank` averaged over 3 seeds: does a seed-averaged score pick better? (issue #21, pick regret)

The 50 NB201 architectures of ``nas calibrate --sample 50 --seed 1`` were trained once with ``rank`` (seed 1,
``calibration_training.json``) and once with ``small`` (``calibration_small_seed1.json``). This benchmark
trains them twice more with ``rank`` (seeds 2 and 3) through ``nas calibrate --repeats 3`` and compares,
on the same 50 architectures, the pick regret (pools of 20 and 50, exact mean over every pool, 95 %
bootstrap over the architectures) of ``rank``, each of its seeds, ``rank*3``, ``small``, ``confirm`` and
rank ensembles.

``prepare`` writes the run's journal holding the seed-1 trainings already published, so the run trains
only seeds 2 and 3. The published column is ``rank``'s bare validation accuracy (it predates the preset's
size term); the journal holds the preset's score, that accuracy + 5 · log10(parameters). Its training is
the preset's (a later rerun with ``--preset rank`` reproduced all 50 accuracies exactly, CALIBRATION.md).

    python benchmarks/bench_seed_mean.py prepare [--data PATH]
    nas calibrate ... (the command ``prepare`` prints; about 80 CPU-minutes, resumable with --resume)
    python benchmarks/bench_seed_mean.py report

``report`` writes ``benchmarks/results/pick_regret_seeds.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
from pathlib import Path

from nas.calibration.calibrate import CalibrationConfig
from nas.calibration.journal import Journal, journal_path
from nas.calibration.results import ProxyResult, ensemble, load_calibration
from nas.core.archcodec import ArchCodec
from nas.core.space import get_space
from nas.tools.describe import describe

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NAME = "calibration_rank_x3_seed1"
TRUTH = ROOT.parent / "shared" / "data" / "nb201-calibration-1500.csv"
DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
ENSEMBLES = ("synflow+rank*3", "params+rank*3")
OPTIONS = dict(sample=50, seed=1, device="cpu", repeats=3, ensembles=ENSEMBLES)


def command(data: Path) -> list[str]:
    flags = [f"--ensemble={e}" for e in ENSEMBLES]
    return [
        "nas", "calibrate", "--proxies", "synflow,params", "--preset", "rank", "--repeats", "3",
        "--sample", "50", "--seed", "1", *flags, "--device", "cpu", "--workers", "2", "--truth", str(TRUTH),
        "--data-dir", str(data), "--out", str(RESULTS), "--name", NAME, "--resume",
    ]  # fmt: skip


def prepare(data: Path) -> None:
    """The journal of the run, holding the published seed-1 `rank` trainings with the size term."""
    config = CalibrationConfig(
        TRUTH,
        "nb201",
        ("synflow", "params", "rank"),
        data=data,
        journal=journal_path(RESULTS, NAME),
        **OPTIONS,
    )
    space = get_space("nb201")
    old = json.loads((RESULTS / "calibration_training.json").read_text())
    parse = ArchCodec(space).genotype
    log = Journal(config.journal, config.journal_key(space))
    for arch, acc, cpu, wall in zip(
        old["archs"], old["scores"]["rank"], old["cpu_s"]["rank"], old["wall_s"]["rank"], strict=True
    ):
        params = int(describe(parse(arch))["params"])
        log.record("rank", arch, (acc + 5 * math.log10(params), cpu, wall))
    print(f"{config.journal}: {len(log)} seed-1 trainings; now run\n  {shlex.join(command(data))}")


def report() -> None:
    from bench_pick_regret import row  # noqa: PLC0415 (the benchmarks folder is the script's path)

    cal = load_calibration(RESULTS / f"{NAME}.json")
    small = load_calibration(RESULTS / "calibration_small_seed1.json")
    if small.archs != cal.archs:
        raise ValueError("the small calibration holds another sample")
    proxies = {r.name: r for r in cal.results}
    s = next(r for r in small.results if r.name == "small")
    params = proxies["params"].scores
    proxies["small"] = s
    confirm = [a + 5 * math.log10(p) for a, p in zip(s.scores, params, strict=True)]
    proxies["confirm"] = ProxyResult("confirm", "training", confirm, s.cpu_s, s.wall_s)
    for members in (("synflow", "rank"), ("synflow", "confirm")):
        proxies["+".join(members)] = ensemble("+".join(members), [proxies[m] for m in members])
    rows = []
    for p in proxies.values():
        r = row("seed 1 (50 archs)", p, cal.truth)
        r["repeat_spearman"] = p.info.get("repeat_spearman")
        rows.append(r)
        regrets = "  ".join(
            f"@{n}: {r[k]['mean']:.2f} [{r[k]['ci95'][0]:.2f}, {r[k]['ci95'][1]:.2f}]"
            for n in (20, 50)
            if (k := f"pick_regret_{n}") in r
        )
        print(f"{p.name:18s} ρ {r['spearman']:.3f}  {r['cpu_s_per_candidate']:7.1f} CPU-s  regret {regrets}")
    out = RESULTS / "pick_regret_seeds.json"
    doc = {
        "benchmark": "pick_regret_seeds",
        "unit": "accuracy points",
        "calibration": f"{NAME}.json",
        "rows": rows,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("prepare", "report"))
    p.add_argument("--data", type=Path, default=DATA, help="the CIFAR-10 JPEG tar the run trains on")
    a = p.parse_args()
    prepare(a.data) if a.step == "prepare" else report()


if __name__ == "__main__":
    main()
