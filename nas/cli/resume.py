"""What ``--resume`` may change: a resumed run keeps its configuration.

A flag given with ``--resume`` is compared with the stored configuration: one of :data:`RESUMABLE` is
applied (a longer budget, another executor, other resources), one equal to the stored value is fine, any
other is an error naming it (``--seed 9 conflicts with the run's seed 1``), so that no flag is silently
ignored.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nas.cli.options import flag_for
from nas.search.config import ObjectiveConfig, SearchConfig

#: SearchConfig settings a resumed run may change (and how many trials it may run: the budget)
RESUMABLE = (
    "budget", "executor", "address", "num_cpus", "concurrency", "cpus_per_trial", "gpus_per_trial", "quiet",
    "max_retries", "trial_timeout", "max_failures", "select",
)  # fmt: skip

#: objective flags (their dest) → the ObjectiveConfig field they set
OBJECTIVE_FLAGS = {
    "table": "table",
    "arch_column": "arch_column",
    "metric_column": "metric_column",
    "table_cost_s": "cost_s",
    "dataset": "dataset",
    "data_dir": "data",
    "preset": "preset",
    "set": "train_overrides",
    "synthetic_sleep": "sleep",
    "synthetic_epochs": "epochs",
    "synthetic_noise": "noise",
}


def resume_help() -> str:
    """The ``--resume`` help text: what a resumed run may change."""
    flags = ", ".join("--" + k.replace("_", "-") for k in RESUMABLE)
    return (
        "continue the run in DIR with its stored configuration; only these flags may change it: "
        f"{flags} (e.g. a larger --budget extends the run); any other flag must equal the stored value. "
        "A directory killed while it was being created (trials.csv, no config.json) is completed when "
        "given the flags that created it"
    )


def _show(v: Any) -> str:
    if isinstance(v, Mapping):
        return " ".join(f"{k}={_show(x)}" for k, x in v.items()) or "(none)"
    if isinstance(v, list | tuple):
        return ",".join(map(str, v)) or "(none)"
    return str(v)


def _same(given: Any, stored: Any) -> bool:
    """Equal, or for options (``--strategy-opt k=v``) each given one equal to the stored one."""
    if isinstance(given, Mapping) and isinstance(stored, Mapping):
        return all(k in stored and _same(v, stored[k]) for k, v in given.items())
    if isinstance(given, int | float) and isinstance(stored, int | float) and not isinstance(given, bool):
        return float(given) == float(stored)
    return bool(given == stored)


def _objective_conflicts(
    args: argparse.Namespace, stored: ObjectiveConfig, flag: Callable[[str], str]
) -> list[str]:
    out = []
    kind = getattr(args, "objective", None)
    if kind is not None:
        k, _, proxy = kind.partition(":")
        stored_proxy = getattr(stored, "proxy", "")
        stored_kind = stored.kind + (f":{stored_proxy}" if stored_proxy else "")
        if k != stored.kind or (proxy and proxy != stored_proxy):
            out.append(f"--objective {kind} conflicts with the run's objective {stored_kind}")
    names = {f.name for f in dataclasses.fields(stored)}
    for dest, field in OBJECTIVE_FLAGS.items():
        v = getattr(args, dest, None)
        if v is None or v == []:
            continue
        v = dict(v) if dest == "set" else v
        if field not in names:
            out.append(f"{flag(dest)} {_show(v)} does not apply to the run's {stored.kind} objective")
            continue
        try:  # the config's own normalisation (paths resolved, numbers as floats)
            v = getattr(dataclasses.replace(stored, **{field: v}), field)
        except (ValueError, TypeError):
            pass
        old = getattr(stored, field)
        if not _same(v, old):
            out.append(f"{flag(dest)} {_show(v)} conflicts with the run's {field} {_show(old)}")
    return out


def conflicts(args: argparse.Namespace, config: SearchConfig, given: Mapping[str, Any]) -> list[str]:
    """What the command line ``args`` (its explicitly ``given`` settings) would change in the stored
    ``config`` beyond :data:`RESUMABLE`: one ``"--flag V conflicts with the run's … W"`` per flag."""
    flags = getattr(args, "config_flags", {})

    def flag(name: str) -> str:
        return flag_for(name, flags) or "--" + name.replace("_", "-")

    out = []
    resume = Path(args.resume)
    if "name" in given or "runs_dir" in given:
        out_dir = Path(given.get("runs_dir", config.runs_dir)) / given.get("name", resume.name)
        if out_dir.resolve() != resume.resolve():
            out.append(f"--out {out_dir} conflicts with --resume {resume} (a resumed run keeps its place)")
    for k, v in given.items():
        if k in RESUMABLE or k in ("objective", "name", "runs_dir"):
            continue
        stored = getattr(config, k, None)
        if not _same(v, stored):
            out.append(f"{flag(k)} {_show(v)} conflicts with the run's {k.replace('_', ' ')} {_show(stored)}")
    return out + _objective_conflicts(args, config.objective, flag)


def check_resume(args: argparse.Namespace, config: SearchConfig, given: Mapping[str, Any]) -> None:
    """``ValueError`` (one line) naming every flag that conflicts with the resumed run's configuration."""
    found = conflicts(args, config, given)
    if found:
        may = ", ".join("--" + k.replace("_", "-") for k in RESUMABLE)
        raise ValueError(f"{'; '.join(found)}; a resumed run keeps its configuration (it may change {may})")


def apply_resumable(args: argparse.Namespace, config: SearchConfig) -> None:
    """Set the :data:`RESUMABLE` settings given on the command line on the resumed run's ``config``."""
    for k in RESUMABLE:
        v = getattr(args, k, None)
        if v is not None:
            setattr(config, k, v)
    config.validate()
