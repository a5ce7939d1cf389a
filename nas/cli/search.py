"""``nas search`` and ``nas baselines``.

``nas search --space S --strategy X --budget B`` samples candidates from a registered space, evaluates them
(proxy training, a tabular benchmark or a synthetic score) through Ray Tune or inline, and writes the run
directory ``--out`` (default ``runs/<space>-<strategy>-<time>``); ``--resume DIR`` continues a run.
``nas baselines`` evaluates zoo networks as trials of a run (same trainer, same table, same ledger), so they
compare like for like with search candidates. Every default is :class:`nas.search.config.SearchConfig`'s:
an option left out is not passed on.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from nas import proxies
from nas.cli.options import add_data_dir, add_out, add_pairs, add_quiet, add_sets, command, finish, old_option
from nas.cli.resume import apply_resumable, check_resume, resume_help
from nas.core.registry import SPACES
from nas.search.config import (
    DEFAULT_BASELINES,
    DEFAULT_DATASET,
    DEFAULT_PRESET,
    EARLY_STOPPING,
    EXECUTORS,
    SearchConfig,
    parse_objective,
)
from nas.search.driver import Search
from nas.search.executor import ExecutorLost
from nas.search.report import format_score
from nas.search.run import load_config, run_search
from nas.search.rundir import IncompleteRun, complete_run
from nas.search.selection_plan import DEFAULT_SELECT
from nas.search.strategies import STRATEGIES
from nas.train.presets import preset_names

# Library settings (SearchConfig and its objective) whose flag is not named after them.
FIELDS = {
    "cost_s": "--table-cost-s",
    "data": "--data-dir",
    "train_overrides": "--set",
    "proxy": "--objective",
    "sleep": "--synthetic-sleep",
    "epochs": "--synthetic-epochs",
    "noise": "--synthetic-noise",
    "space_options": "--space-opt",
    "strategy_options": "--strategy-opt",
    "asha": "--asha-opt",
    "name": "--out",
    "runs_dir": "--out",
    "max_duplicates": "--max-duplicates",
}


def _default(name: str) -> Any:
    """``SearchConfig``'s default for field ``name`` (for the help texts)."""
    f = next(f for f in fields(SearchConfig) if f.name == name)
    return f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]


class _Kinds(tuple):
    """The objective kinds, and ``faulty:RATES`` (open-ended: ``parse_objective`` checks the rates)."""

    def __contains__(self, value: object) -> bool:
        return super().__contains__(value) or str(value).split(":")[0] == "faulty"


def _objective_choices() -> tuple[str, ...]:
    return _Kinds(("train", "table", "synthetic", "faulty", *(f"zero-cost:{p}" for p in proxies.PROXIES)))


def add_objective(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("objective")
    o.add_argument(
        "--objective",
        default=None,
        choices=_objective_choices(),
        metavar="{train,table,zero-cost:PROXY,synthetic,faulty:RATES}",
        help="what a trial measures (default: train); zero-cost:synflow scores each candidate with a "
        f"zero-cost proxy ({', '.join(proxies.PROXIES)}) on one minibatch instead of training it",
    )
    o.add_argument("--table", type=Path, help="tabular benchmark CSV (NAS-Bench-201-style arch strings)")
    o.add_argument(
        "--arch-column", default=None, help="table column holding the arch strings (default: arch)"
    )
    o.add_argument("--metric-column", help="table column holding the score (higher is better)")
    o.add_argument(
        "--table-cost-s",
        type=float,
        default=None,
        metavar="S",
        help="table objective: charge each trial S seconds as if it had been trained (what-if budgets)",
    )
    o.add_argument(
        "--dataset", default=None, help=f"training objective: data set name (default: {DEFAULT_DATASET})"
    )
    add_data_dir(o, "training objective: data set path (directory or archive)")
    o.add_argument(
        "--preset",
        default=None,
        choices=preset_names(),
        help=f"training objective: fidelity preset (default: {DEFAULT_PRESET}, tuned for rank fidelity)",
    )
    add_sets(
        o, "training objective: override a preset field (repeatable)", json_values=True, old=("--train-opt",)
    )
    o.add_argument("--synthetic-sleep", type=float, default=None, help=argparse.SUPPRESS)  # tests' objective
    o.add_argument("--synthetic-epochs", type=int, default=None, help=argparse.SUPPRESS)
    o.add_argument("--synthetic-noise", type=float, default=None, help=argparse.SUPPRESS)
    o.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure params and MACs of each candidate (default: for training, or when a cost is needed)",
    )


def _add_zero_cost(p: argparse.ArgumentParser) -> None:
    z = p.add_argument_group("zero-cost proxies")
    z.add_argument(
        "--zero-cost",
        default=None,
        metavar="PROXIES",
        help="also record these zero-cost proxies for every trial, as zc_<proxy> columns "
        "(e.g. synflow,naswot,params)",
    )
    z.add_argument(
        "--prescreen",
        default=None,
        metavar="PROXY:N",
        help="score N distinct candidates with a zero-cost proxy first and train the best --train-top "
        "of them before the strategy's proposals (e.g. synflow:1000)",
    )
    z.add_argument("--train-top", type=int, default=None, metavar="K", help="with --prescreen: train K")
    z.add_argument(
        "--select",
        default=None,
        metavar="PLAN",
        help="the pick: re-evaluate the top candidates at escalating fidelity before naming the best "
        f"(default for training: {DEFAULT_SELECT}; a rung is SEEDS at the search's preset or "
        "PRESET[:SEEDS]; reserve is the budget's share held for it; 'off' picks the best proxy score)",
    )
    z.add_argument(
        "--proxy-batch",
        type=int,
        default=None,
        help=f"images in the zero-cost minibatch (default: {_default('proxy_batch')})",
    )


def add_execution(p: argparse.ArgumentParser) -> None:
    e = p.add_argument_group("execution")
    e.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help=f"where trials run (default: {_default('executor')})",
    )
    e.add_argument("--address", default=None, help="join a running Ray cluster (HOST:PORT or 'auto')")
    e.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray started for the search")
    e.add_argument(
        "--cpus-per-trial",
        type=float,
        default=None,
        help=f"CPUs per trial (default: {_default('cpus_per_trial'):g})",
    )
    e.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="fractional GPUs per trial (default: 1 if a GPU is visible, else 0)",
    )
    e.add_argument(
        "--concurrency", type=int, default=None, help="trials at once (default: as resources allow)"
    )
    e.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help="retries of a trial that failed transiently: out of memory, worker or node lost, timeout "
        f"(default: {_default('max_retries')}); a deterministic error is never retried",
    )
    e.add_argument(
        "--max-failures",
        type=int,
        default=None,
        metavar="K",
        help="stop the run when K trials in a row fail with the same error "
        f"(default: {_default('max_failures')}; 0: never)",
    )
    e.add_argument(
        "--trial-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a trial running longer fails transiently (and is retried); default: no limit",
    )
    e.add_argument(
        "--early-stop", choices=EARLY_STOPPING, default=None, help="ASHA on the per-epoch proxy score"
    )
    add_pairs(e, "--asha-opt", "ASHA: max_t, grace_period, reduction_factor (repeatable)")


def _add_run(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("run")
    r.add_argument(
        "--budget",
        default=None,
        help="'100gpuh', '2cpuh' (device-hours), '30m', '2h' (wall time), '500trials'; "
        "comma-separate to combine",
    )
    add_out(r, f"the run directory (default: {_default('runs_dir')}/SPACE-STRATEGY-TIME)")
    old_option(r, "--name", use="--out DIR", default=None)
    old_option(r, "--runs-dir", use="--out DIR", default=None)
    r.add_argument(
        "--seed", type=int, default=None, help=f"fixes everything random (default: {_default('seed')})"
    )
    r.add_argument("--resume", type=Path, default=None, metavar="DIR", help=resume_help())
    add_quiet(r, "no live progress line", default=None)


def add_common(p: argparse.ArgumentParser) -> None:
    add_objective(p)
    _add_zero_cost(p)
    add_execution(p)
    _add_run(p)


def add_parser(sub: Any) -> None:
    """Register ``nas search`` and ``nas baselines``."""
    s = command(
        sub,
        "search",
        help="search a space under a budget (Ray Tune or inline)",
        example=[
            "nas search --space nb201 --strategy evolution --budget 2cpuh --out runs/nb201",
            "nas search --space nb201 --objective table --table nb201.csv --metric-column acc "
            "--budget 500trials",
        ],
    )
    s.add_argument("--space", default=None, choices=SPACES.list(), help="a registered search space")
    add_pairs(s, "--space-opt", "search-space option (repeatable)")
    s.add_argument(
        "--strategy",
        default=None,
        choices=tuple(STRATEGIES),
        help=f"how candidates are proposed (default: {_default('strategy')})",
    )
    add_pairs(
        s,
        "--strategy-opt",
        "strategy option, e.g. population=50 sample=10 (evolution), lr=0.02 (rl), cost=params (nsga2)",
    )
    s.add_argument(
        "--seed-with",
        action="append",
        default=[],
        metavar="NAMES",
        help="evaluate these zoo names / genotype files first, as points of the space that the strategy "
        "starts from (cells at the space's layout; a non-member is an error) ('nasnet_a_cifar')",
    )
    s.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="NAMES",
        help="evaluate these zoo names / genotype files as they are, as outside baselines the strategy "
        "never sees ('resnet20,densenet_bc')",
    )
    s.add_argument("--max-duplicates", type=int, default=None, help=argparse.SUPPRESS)
    add_common(s)
    finish(s, _search, **FIELDS)

    b = command(
        sub,
        "baselines",
        help="evaluate zoo networks as trials of a run (like for like with search)",
        example="nas baselines --archs resnet20,resnet56 --preset rank --budget 2cpuh",
    )
    b.add_argument(
        "--archs",
        default=",".join(DEFAULT_BASELINES),
        help=f"zoo names or genotype files (default: {','.join(DEFAULT_BASELINES)})",
    )
    add_common(b)
    finish(b, _baselines, **FIELDS)


# ------------------------------------------------------------------------------------------- running


def _given(**values: Any) -> dict[str, Any]:
    """The settings the user gave (None: not given, so SearchConfig's default applies)."""
    return {k: v for k, v in values.items() if v is not None}


def _run_dir(args: argparse.Namespace) -> dict[str, Any]:
    if args.out is not None:
        if args.name is not None or args.runs_dir is not None:
            raise ValueError("--out names the run directory: give it alone, without --name / --runs-dir")
        return {"runs_dir": str(args.out.parent), "name": args.out.name}
    return _given(runs_dir=args.runs_dir, name=args.name)


def common_config(args: argparse.Namespace) -> dict[str, Any]:
    """The SearchConfig settings of the command line (objective included)."""
    return dict(objective=_objective(args), **run_settings(args))


def _objective(args: argparse.Namespace) -> Any:
    return parse_objective(
        args.objective,
        dataset=args.dataset,
        data=args.data_dir,
        preset=args.preset,
        train_overrides=dict(args.set),
        table=args.table,
        arch_column=args.arch_column,
        metric_column=args.metric_column,
        cost_s=args.table_cost_s,
        sleep=args.synthetic_sleep,
        epochs=args.synthetic_epochs,
        noise=args.synthetic_noise,
    )


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The SearchConfig settings of the command line but the objective (defaults left out)."""
    zero_cost = [n for n in (args.zero_cost or "").split(",") if n.strip()]
    return dict(
        asha=dict(args.asha_opt),
        zero_cost=zero_cost,
        quiet=bool(args.quiet),
        **_run_dir(args),
        **_given(
            budget=args.budget,
            executor=args.executor,
            address=args.address,
            num_cpus=args.num_cpus,
            seed=args.seed,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            max_failures=args.max_failures,
            trial_timeout=args.trial_timeout,
            early_stop=args.early_stop,
            profile=args.profile,
            proxy_batch=args.proxy_batch,
            prescreen=args.prescreen,
            train_top=args.train_top,
            select=getattr(args, "select", None),  # nas scale runs searches without the flag
        ),
    )


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The SearchConfig settings the command line gives explicitly (the objective's aside: see
    :mod:`nas.cli.resume`)."""
    given = {k: v for k, v in run_settings(args).items() if k not in ("asha", "zero_cost", "quiet")}
    if getattr(args, "asha_opt", None):
        given["asha"] = dict(args.asha_opt)
    if getattr(args, "zero_cost", None) is not None:
        given["zero_cost"] = run_settings(args)["zero_cost"]
    given.update(_given(**{k: getattr(args, k, None) for k in ("space", "strategy", "max_duplicates")}))
    for k, dest in (("space_options", "space_opt"), ("strategy_options", "strategy_opt")):
        if getattr(args, dest, None):
            given[k] = dict(getattr(args, dest))
    if getattr(args, "seed_with", None):
        given["seed_with"] = list(args.seed_with)
    if getattr(args, "baseline", None):
        given["baseline"] = list(args.baseline)
    if getattr(args, "archs", None) not in (None, ",".join(DEFAULT_BASELINES)):
        given["seed_with"] = [a for a in args.archs.split(",") if a.strip()]
    return given


def resume_config(args: argparse.Namespace) -> SearchConfig:
    """The stored configuration of the run in ``--resume``, with the flags it may change applied
    (any other flag that differs from it is an error naming it)."""
    try:
        config = load_config(args.resume)
    except IncompleteRun as e:
        return _complete(args, e)
    check_resume(args, config, given_settings(args))
    apply_resumable(args, config)
    return config


def _complete(args: argparse.Namespace, e: IncompleteRun) -> SearchConfig:
    """A run killed while it was being created, resumed with the flags that created it: write its
    config.json from them; without them, say what to do."""
    if not hasattr(args, "space_opt"):  # nas baselines, nas scale grid: no flags rebuild the space
        raise e
    if not getattr(args, "space", None) or not args.budget:
        raise ValueError(
            f"{e.path}: {e.problem} — to complete the run, pass the flags that created it along with "
            f"--resume {args.resume} (at least --space and --budget), or delete the directory"
        ) from None
    resume = Path(args.resume)
    config = _new_config(args, runs_dir=str(resume.parent), name=resume.name)
    complete_run(resume, config)
    return config


def execute_run(config: SearchConfig, resume: Path | None) -> Search:
    """Run (or continue) ``config``'s search and print its summary; exit 130 when interrupted."""
    try:
        search = run_search(config, resume=resume)
    except KeyboardInterrupt:
        print("nas: interrupted; continue with `nas search --resume <run directory>`", file=sys.stderr)
        raise SystemExit(130) from None
    except ExecutorLost as e:  # not the user's mistake (exit 2) but the machine's: exit 1, resumable
        print(f"nas: error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    s = search.summary()
    best = s["best"]
    lines = [f"run {s['run']}: {s['stop_reason'] or 'done'}"]
    lines.append(
        f"trials {s['evaluations']} evaluated (failed {s['failed']}), {s['duplicates']} duplicates answered "
        f"from the cache, {s['proposals']} proposals; budget "
        f"{s['budget'] or '-'}; {s['gpu_hours']:.4g} gpuh, {s['cpu_hours']:.4g} cpuh, {s['elapsed_s']:.1f}s"
    )
    if best:
        label = best["arch"] or best["name"] or best["key"]
        at = f", picked at {s['pick']['pick_fidelity']}" if s["pick"] else ""
        lines.append(f"best {format_score(best['score'])} (trial {best['trial_id']}{at}): {label}")
    else:
        lines.append("best: none (no trial succeeded)")
    lines.append(f"figures and tables: nas report {search.dir}")
    print("\n".join(lines))
    if search.stop_reason == "interrupted":
        raise SystemExit(130)
    if search.broken:  # not the user's input (exit 2) but every trial failing: exit 1, resumable
        print(
            f"nas: error: the run stopped: {search.broken}; inspect {search.dir / 'trials.csv'} or "
            f"`nas report {search.dir}`, fix the cause, then `nas search --resume {search.dir}`",
            file=sys.stderr,
        )
        raise SystemExit(1)
    return search


def _search(args: argparse.Namespace) -> None:
    if args.resume is not None:
        execute_run(resume_config(args), args.resume)
        return
    if not args.space:
        raise ValueError("nas search needs --space (or --resume DIR)")
    if not args.budget:
        raise ValueError("nas search needs --budget ('100gpuh', '2h', '500trials', …)")
    execute_run(_new_config(args), None)


def _new_config(args: argparse.Namespace, **where: str) -> SearchConfig:
    """The configuration of a new ``nas search`` run (``where``: its runs_dir and name, overriding --out)."""
    return SearchConfig(
        space=args.space,
        space_options=dict(args.space_opt),
        strategy_options=dict(args.strategy_opt),
        seed_with=list(args.seed_with),
        baseline=list(args.baseline),
        **_given(strategy=args.strategy, max_duplicates=args.max_duplicates),
        **{**common_config(args), **where},
    )


def _baselines(args: argparse.Namespace) -> None:
    if args.resume is not None:
        execute_run(resume_config(args), args.resume)
        return
    archs = [a for a in args.archs.split(",") if a.strip()]
    if not archs:
        raise ValueError("--archs is empty")
    common = common_config(args)
    if common.get("name") is None:
        obj = common["objective"].to_dict()
        common["name"] = f"baselines-{obj.get('dataset', obj['kind'])}-{obj.get('preset', '')}".rstrip("-")
    config = SearchConfig(space="", strategy=None, seed_with=archs, kind="baselines", **common)
    execute_run(config, None)
