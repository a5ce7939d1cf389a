"""``nas scale grid | sweep | compare``: compound scaling (EfficientNet, Tan & Le 2019) of any base network.

Every training goes through the search engine, as a ``nas search`` run with the grid strategy (same run
directory, budget ledger, trials table, best.json, resume):

* ``grid``: space ``scale`` (α, β, γ under ``|α·β²·γ² − target| ≤ tolerance``, each candidate at φ = 1);
  then ``grid.csv`` (the candidate table) and ``grid.png`` (score over β × γ) in the run directory.
* ``sweep``: the family φ = 0, 1, … as genotype files and ``sweep.csv``; ``--train`` trains it as a
  ``scale-list`` run in ``OUT/train``.
* ``compare``: compound against depth-, width- and resolution-only scaling at the compound network's MACs,
  one ``scale-list`` run per seed in ``OUT/seed<S>``, then ``compare.csv`` (mean ± 95% CI per variant).

Rerunning ``sweep --train`` or ``compare`` with the same settings continues their runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.cli.options import add_quiet, command, finish, subcommands
from nas.cli.search import FIELDS, add_common, add_execution, add_objective, common_config, execute_run
from nas.cli.search import resume_config as search_resume_config
from nas.core.errors import ConfigError
from nas.core.genotype import Network, save
from nas.core.registry import SPACES
from nas.core.resolve import resolve
from nas.search import compound as report
from nas.search.config import SearchConfig
from nas.search.rundir import best_genotype, load_config
from nas.tools.compound import DIMENSIONS, equal_macs, multipliers
from nas.tools.describe import describe

# EfficientNet's coefficients (found on B0 at φ = 1): the defaults of sweep and compare
EFFICIENTNET_ABG = (1.2, 1.1, 1.15)
# library fields → this command's flags
_FLAGS = {
    **FIELDS, "alpha": "--alpha-range", "beta": "--beta-range", "gamma": "--gamma-range",
    "base": "--base", "name": "--out", "runs_dir": "--out",
}  # fmt: skip
_POINT_FLAGS = {**_FLAGS, "alpha": "--alpha", "beta": "--beta", "gamma": "--gamma"}


def _span(text: str) -> float | list[float]:
    """``LO:HI`` (a range) or ``X`` (a single value)."""
    lo, sep, hi = text.partition(":")
    try:
        return [float(lo), float(hi)] if sep else float(lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO:HI or a number, got {text!r}") from None


_span.__name__ = "LO:HI"


def _phis(text: str) -> list[int]:
    """``0..7``, ``1,2,4`` or ``3``."""
    try:
        if ".." in text:
            lo, hi = text.split("..")
            values = list(range(int(lo), int(hi) + 1))
        else:
            values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A..B or a comma list of integers, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected integers >= 0, got {text!r}")
    return values


_phis.__name__ = "PHI"


def base_option(text: str) -> str | dict[str, Any]:
    """``--base``: a zoo name (kept as the name), a genotype file or a run directory (its best genotype),
    both kept as the genotype's JSON data so that the run does not depend on the file later."""
    if Path(text).is_dir():
        return best_genotype(text)
    net = resolve(text)  # an unknown name or a missing file says so here
    if not isinstance(net, Network):
        raise ConfigError("base", f"{text!r} is a single cell, not a network")
    return text if not (text.endswith(".json") or "/" in text) else json.loads(net.to_json())


def _add_base(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--base", required=required, metavar="ARCH|FILE|RUN",
        help="the network to scale: a zoo name, a genotype JSON file or a search run directory (its best)",
    )  # fmt: skip


def _add_coefficients(p: argparse.ArgumentParser) -> None:
    for k, v in zip(("alpha", "beta", "gamma"), EFFICIENTNET_ABG):
        what = dict(alpha="depth", beta="width", gamma="resolution")[k]
        p.add_argument(f"--{k}", type=float, default=v, help=f"{what} coefficient, >= 1 (default: {v:g})")


def _add_train_run(p: argparse.ArgumentParser) -> None:
    """The training options of ``nas search`` (objective, execution) and the settings ``common_config``
    reads that these commands do not offer."""
    add_objective(p)
    add_execution(p)
    p.add_argument("--budget", default=None, help="budget of each run (default: until every point is done)")
    add_quiet(p, "no live progress line", default=None)
    p.set_defaults(
        zero_cost=None, prescreen=None, train_top=None, proxy_batch=None, name=None, runs_dir=None, seed=None,
        resume=None,
    )  # fmt: skip


def add_parser(sub: Any) -> None:
    """Register ``nas scale grid``, ``nas scale sweep`` and ``nas scale compare``."""
    s = command(
        sub, "scale", help="compound scaling (depth α, width β, resolution γ) of any network",
        example="nas scale grid --base resnet20 --step 0.1 --preset tiny --out runs/scale-r20",
    )  # fmt: skip
    cmds = subcommands(s, "action")
    g = command(
        cmds, "grid", help="grid search for α, β, γ at φ = 1 under α·β²·γ² ≈ target (a search run)",
        example=[
            "nas scale grid --base resnet20 --step 0.1 --preset tiny --out runs/scale-r20",
            "nas scale grid --resume runs/scale-r20",
        ],
    )  # fmt: skip
    _add_base(g, required=False)
    for k in ("alpha", "beta", "gamma"):
        g.add_argument(
            f"--{k}-range", dest=k, type=_span, default=None, metavar="LO:HI",
            help=f"values of {k} (LO:HI every --step, or one number; default: 1.0:1.4)",
        )  # fmt: skip
    g.add_argument("--step", type=float, default=None, help="grid step (default: 0.05)")
    g.add_argument("--target", type=float, default=None, help="α·β²·γ² to aim for (default: 2)")
    g.add_argument("--tolerance", type=float, default=None, help="allowed |α·β²·γ² − target| (default: 0.1)")
    add_common(g)
    finish(g, _grid, **_FLAGS)

    w = command(
        cmds, "sweep", help="the family (α^φ, β^φ, γ^φ) for several φ: genotypes and a table",
        example="nas scale sweep --base resnet20 --phi 0..4 --out runs/r20-family",
    )  # fmt: skip
    _add_base(w)
    _add_coefficients(w)
    w.add_argument("--phi", type=_phis, default=_phis("0..7"), help="φ: A..B or a list (default: 0..7)")
    w.add_argument("--out", type=Path, required=True, metavar="DIR", help="where genotypes and tables go")
    w.add_argument("--train", action="store_true", help="also train the family (a search run in OUT/train)")
    _add_train_run(w)
    finish(w, _sweep, **_POINT_FLAGS)

    c = command(
        cmds, "compare", help="compound vs depth-, width-, resolution-only scaling at equal MACs",
        example="nas scale compare --base resnet20 --phi 1 --seeds 3 --preset tiny --out runs/r20-compare",
    )  # fmt: skip
    _add_base(c)
    _add_coefficients(c)
    c.add_argument("--phi", type=float, default=1.0, help="compound exponent φ (default: 1)")
    c.add_argument("--seeds", type=int, default=3, help="training seeds, one run each (default: 3)")
    c.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the runs and the table go")
    _add_train_run(c)
    finish(c, _compare, **_POINT_FLAGS)


# ------------------------------------------------------------------------------------------------ grid


def _grid(args: argparse.Namespace) -> None:
    if args.resume is not None:
        config = search_resume_config(args)
        if config.space != "scale":
            raise ValueError(f"run {str(args.resume)!r} is not a `nas scale grid` run (space {config.space})")
        search = execute_run(config, args.resume)
    else:
        if args.base is None:
            raise ValueError("nas scale grid needs --base (or --resume DIR)")
        options = {"base": base_option(args.base)}
        options.update({k: getattr(args, k) for k in ("alpha", "beta", "gamma", "step", "target")})
        options["tolerance"] = args.tolerance
        config = SearchConfig(
            space="scale",
            strategy="grid",
            space_options={k: v for k, v in options.items() if v is not None},
            **common_config(args),
        )
        search = execute_run(config, None)
    rows = report.grid_rows(search.dir)
    report.write_csv(rows, search.dir / "grid.csv", report.GRID_COLUMNS)
    if any(r["score"] is not None for r in rows):
        report.heatmap(rows, search.dir / "grid.png", f"{search.dir.name}: score over the α β γ grid")
    best = report.best_row(rows)
    if best is not None:
        print(f"best alpha, beta, gamma = {best['alpha']:g}, {best['beta']:g}, {best['gamma']:g} "
              f"(score {best['score']:.4g}, {best['macs']:,} MACs, {best['resolution']} px)")  # fmt: skip
    print(f"table {search.dir / 'grid.csv'}; heat-map {search.dir / 'grid.png'}")


# ----------------------------------------------------------------------------------- sweep and compare


def _run_members(args: argparse.Namespace, base: Any, members: dict[str, list], out: Path, seed: int) -> Path:
    """Train ``members`` (a ``scale-list`` space) as a grid run in ``out``; a run already there with the
    same settings is continued, one with other settings is an error."""
    common = {**common_config(args), "runs_dir": str(out.parent), "name": out.name, "seed": seed}
    config = SearchConfig(
        space="scale-list", strategy="grid", space_options={"base": base, "members": members}, **common
    )
    resume = None
    if (out / "config.json").is_file():
        old = load_config(out)
        same = [json.dumps(x, sort_keys=True, default=str) for x in (old.space_options, config.space_options)]
        if same[0] != same[1] or old.objective.to_dict() != config.objective.to_dict() or old.seed != seed:
            raise ConfigError("name", f"{str(out)!r} holds a run with other settings: choose another one")
        resume = out
    return execute_run(config, resume).dir


def _sweep(args: argparse.Namespace) -> None:
    base = base_option(args.base)
    members = {f"phi{p}": list(multipliers(args.alpha, args.beta, args.gamma, p)) for p in args.phi}
    space = SPACES["scale-list"](base=base, members=members)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for p, (name, (d, w, r)) in zip(args.phi, members.items()):
        net = space.decode({"member": name})
        save(net, args.out / f"{name}.json")
        info = describe(net)
        rows.append(
            dict(
                phi=p,
                **_mults(d, w, r),
                resolution=net.input_size[1],
                params=info["params"],
                macs=info["macs"],
                genotype=f"{name}.json",
            )
        )
    columns = ["phi", "depth_mult", "width_mult", "resolution_mult", "resolution", "params", "macs"]
    if args.train:
        run = _run_members(args, base, members, args.out / "train", args.seed or 0)
        summary = report.member_summary([run])
        for row, name in zip(rows, members):
            row["score"] = summary.get(name, {}).get("mean")
        columns.append("score")
    report.write_csv(rows, args.out / "sweep.csv", [*columns, "genotype"])
    _print_table(rows, columns)
    print(f"table {args.out / 'sweep.csv'}; genotypes {args.out}/phi*.json")


def _compare(args: argparse.Namespace) -> None:
    if args.seeds < 1:
        raise ConfigError("seeds", f"must be >= 1, got {args.seeds}")
    base = base_option(args.base)
    d, w, r = multipliers(args.alpha, args.beta, args.gamma, args.phi)
    space = SPACES["scale-list"](base=base, members={"compound": [d, w, r]})
    macs = int(describe(space.decode({"member": "compound"}))["macs"])
    members: dict[str, list] = {"compound": [d, w, r]}
    for i, dim in enumerate(DIMENSIONS):
        x = equal_macs(space.base, dim, macs)
        members[f"{dim}"] = [x if j == i else 1.0 for j in range(3)]
    runs = [_run_members(args, base, members, args.out / f"seed{s}", s) for s in range(args.seeds)]
    summary = report.member_summary(runs)
    rows = []
    for name, (dm, wm, rm) in members.items():
        s = summary.get(name, {})
        row = dict(
            variant=name, **_mults(dm, wm, rm), **{k: s.get(k) for k in ("resolution", "params", "macs")}
        )
        row["macs_ratio"] = round(s["macs"] / macs, 3) if s.get("macs") else None
        rows.append({**row, **{k: s.get(k) for k in ("n", "mean", "ci95")}})
    columns = list(rows[0])
    report.write_csv(rows, args.out / "compare.csv", columns)
    _print_table(rows, columns)
    print(f"table {args.out / 'compare.csv'} (mean ± ci95 over {args.seeds} seed runs, at {macs:,} MACs)")


def _mults(d: float, w: float, r: float) -> dict[str, float]:
    return {"depth_mult": round(d, 4), "width_mult": round(w, 4), "resolution_mult": round(r, 4)}


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    text = [list(columns), *[[cell(r.get(c)) for c in columns] for r in rows]]
    widths = [max(len(t[i]) for t in text) for i in range(len(columns))]
    for t in text:
        print("  ".join(s.rjust(n) for s, n in zip(t, widths)))
