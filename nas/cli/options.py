"""Options that several commands share, spelled once, and the old spellings kept as hidden aliases.

One spelling per concept in every command: ``--data-dir DIR`` (a data set's files), ``--format
{table,json,…}`` (what stdout is), ``--quiet`` (no progress on stderr), ``--set FIELD=VALUE`` (override a
training preset's field), ``--out DIR`` (the directory a command writes), ``-o/--output FILE`` (the one file
a command writes). An old spelling still works: it is hidden from ``--help`` and prints one deprecation line
on stderr (:func:`deprecated`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.truth import DEFAULT_ARCH_COLUMN, DEFAULT_TARGET_COLUMN

HELP_FORMAT = argparse.RawDescriptionHelpFormatter
FORMATS = ("table", "json")


def command(
    sub: Any, name: str, *, help: str, description: str | None = None, example: str | Sequence[str]
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` opens with a one-line description and ends with an example."""
    examples = [example] if isinstance(example, str) else list(example)
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description or (help[:1].upper() + help[1:] + ".").replace("%%", "%"),
        epilog="example:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=HELP_FORMAT,
    )
    return p


def subcommands(p: argparse.ArgumentParser, dest: str) -> Any:
    """The required sub-subcommands of a command group (``nas zoo list``, ``nas spaces show``)."""
    s = p.add_subparsers(dest=dest, metavar=dest.upper(), parser_class=type(p))
    s.required = True
    return s


def finish(p: argparse.ArgumentParser, func: Callable[[argparse.Namespace], None], **fields: str) -> None:
    """Set the command's handler and the table that turns a library setting named in a
    :class:`nas.core.errors.ConfigError` into the flag that sets it: every option's ``dest`` (``data_dir`` →
    ``--data-dir``) plus ``fields`` for library names that differ from the dest (``cost_s="--table-cost-s"``).
    """
    flags: dict[str, str] = {}
    for a in p._actions:
        longs = [s for s in a.option_strings if s.startswith("--")]
        if longs and a.help is not argparse.SUPPRESS:
            flags.setdefault(a.dest, longs[0])
    p.set_defaults(func=func, config_flags={**flags, **fields})


def flag_for(field: str, flags: Mapping[str, str]) -> str | None:
    """The flag for library setting ``field``; a dotted field (``objective.cost_s``) is looked up whole,
    then by its last part, then by its first."""
    parts = field.split(".")
    for key in (field, parts[-1], parts[0]):
        if key in flags:
            return flags[key]
    return None


# ------------------------------------------------------------------------------------ old spellings


class _Deprecated(argparse.Action):
    """A hidden old spelling: one line on stderr, then exactly what the new option does."""

    def __init__(self, option_strings: list[str], dest: str, *, new: argparse.Action, value: Any, **kw: Any):
        super().__init__(option_strings, dest, **kw)
        self.new, self.value = new, value

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: Any = None) -> None:
        new_flag = self.new.option_strings[-1]
        spelled = f"{new_flag} {self.value}" if self.value is not None else new_flag
        print(f"nas: warning: {option} is deprecated; use {spelled}", file=sys.stderr)
        if self.value is not None:
            setattr(namespace, self.new.dest, self.value)
        else:
            self.new(parser, namespace, values, option)


def deprecated(p: Any, new: argparse.Action, *old: str, value: Any = None) -> None:
    """Accept the old spellings ``old`` of option ``new`` (hidden from ``--help``). ``value``: the old
    spelling takes no argument and stands for ``new`` with this value (``--json`` → ``--format json``)."""
    if not old:
        return
    kw: dict[str, Any] = {"nargs": 0} if value is not None else {"nargs": new.nargs, "type": new.type}
    if value is None and new.choices is not None:
        kw["choices"] = new.choices
    if value is None and new.nargs is None and new.metavar is not None:
        kw["metavar"] = new.metavar
    p.add_argument(
        *old, action=_Deprecated, dest=new.dest, new=new, value=value, default=argparse.SUPPRESS,
        help=argparse.SUPPRESS, **kw,
    )  # fmt: skip


# ------------------------------------------------------------------------------------- shared options


def _split_pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return key.strip().replace("-", "_"), value


def json_pair(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with a JSON value, or the bare string when it is not JSON (``ops=["none"]``, ``p=5``)."""
    key, value = _split_pair(text, "KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def text_pair(text: str) -> tuple[str, str]:
    """``FIELD=VALUE`` with the value kept as text (the preset converts it to the field's type)."""
    key, value = _split_pair(text, "FIELD=VALUE")
    return key, value.strip()


def _int_from(text: str, low: int, what: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if n < low:
        raise argparse.ArgumentTypeError(f"must be {what}, got {n}")
    return n


def positive_int(text: str) -> int:
    """An int >= 1 (a size, a count): anything else is refused by the parser, naming the flag."""
    return _int_from(text, 1, "a positive int")


def non_negative_int(text: str) -> int:
    """An int >= 0 (a count that may be none)."""
    return _int_from(text, 0, ">= 0")


def add_truth_columns(p: Any, *, target_default: str | None = None) -> None:
    """``--arch-column`` / ``--target-column``: which columns of a ground-truth table to read."""
    p.add_argument(
        "--arch-column",
        default=DEFAULT_ARCH_COLUMN,
        help=f"truth table arch column (default: {DEFAULT_ARCH_COLUMN})",
    )
    p.add_argument(
        "--target-column",
        default=target_default,
        help=f"truth table score column (default: {DEFAULT_TARGET_COLUMN})",
    )


json_pair.__name__ = "KEY=VALUE"  # argparse names a type in its error messages
text_pair.__name__ = "FIELD=VALUE"


def add_pairs(
    p: Any,
    flag: str,
    help: str,
    *,
    json_values: bool = True,
    metavar: str = "KEY=VALUE",
    old: Sequence[str] = (),
) -> argparse.Action:
    """A repeatable ``flag KEY=VALUE`` option collected as a list of pairs (``dict(args.x)``)."""
    a = p.add_argument(
        flag,
        action="append",
        type=json_pair if json_values else text_pair,
        default=[],
        metavar=metavar,
        help=help,
    )
    if old:
        deprecated(p, a, *old)
    return a


def add_sets(p: Any, help: str, *, json_values: bool, old: Sequence[str] = ()) -> argparse.Action:
    """``--set FIELD=VALUE`` (repeatable): override a training preset's field. ``json_values``: decode the
    value as JSON (``nas search`` has always recorded overrides that way in its config) or keep the text."""
    return add_pairs(p, "--set", help, json_values=json_values, metavar="FIELD=VALUE", old=old)


def add_data_dir(
    p: Any, help: str, *, default: Any = None, old: Sequence[str] = ("--data",)
) -> argparse.Action:
    """``--data-dir DIR`` (a directory or archive of the data set); ``--data`` is its old spelling."""
    a = p.add_argument("--data-dir", type=Path, default=default, metavar="DIR", help=help)
    deprecated(p, a, *old)
    return a


def add_format(p: Any, choices: Sequence[str] = FORMATS, *, old_json: bool = False) -> argparse.Action:
    """``--format`` (default: table); ``old_json``: the command's old ``--json`` means ``--format json``."""
    a = p.add_argument(
        "--format", choices=tuple(choices), default=choices[0], help=f"what to print (default: {choices[0]})"
    )
    if old_json:
        deprecated(p, a, "--json", value="json")
    return a


def add_quiet(p: Any, help: str, *, default: Any = False, old: Sequence[str] = ()) -> argparse.Action:
    """``--quiet``: no progress on stderr."""
    a = p.add_argument("--quiet", action="store_true", default=default, help=help)
    if old:
        deprecated(p, a, *old)
    return a


def add_out(p: Any, help: str, *, old: Sequence[str] = ()) -> argparse.Action:
    """``--out DIR``: the directory the command writes."""
    a = p.add_argument("--out", type=Path, default=None, metavar="DIR", help=help)
    if old:
        deprecated(p, a, *old)
    return a


class _OldOption(argparse._StoreAction):
    """A hidden old option with no one-to-one new spelling: stored as before, with a deprecation line."""

    def __init__(self, option_strings: list[str], dest: str, *, use: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, **kw)
        self.use = use

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: Any = None) -> None:
        print(f"nas: warning: {option} is deprecated; use {self.use}", file=sys.stderr)
        super().__call__(parser, namespace, values, option)


def old_option(p: Any, *flags: str, use: str, **kw: Any) -> argparse.Action:
    """A hidden, deprecated option that keeps its own meaning (``--runs-dir`` next to ``--out``)."""
    return p.add_argument(*flags, action=_OldOption, use=use, help=argparse.SUPPRESS, **kw)


def from_env(var: str) -> Path | None:
    """A path default from environment variable ``var`` (unset or empty: none)."""
    value = os.environ.get(var)
    return Path(value) if value else None
