"""``nas spaces``: list the registered search spaces, show one's choices and exact size."""

from __future__ import annotations

import argparse
import json
from typing import Any

from nas.cli.options import add_format, add_pairs, command, finish, subcommands
from nas.core.registry import SPACES


def _approx(n: int) -> str:
    return f"{n:,}" if n < 10**9 else f"{n:.2e}"


def _make(name: str, options: list[tuple[str, Any]] | None = None) -> Any:
    factory = SPACES[name]
    try:
        return factory(**dict(options or []))
    except TypeError as e:  # an unknown option
        raise ValueError(f"space {name!r}: {e}") from None


def _list(args: argparse.Namespace) -> None:
    names = SPACES.list(args.pattern)
    if not names:
        raise ValueError(f"no search space matches {args.pattern!r}")
    for n in names:
        space = _make(n)
        desc = SPACES.entry(n).meta.get("description", "")
        print(f"{n:12s} {_approx(space.size()):>10s} {len(space.choices()):4d} dims  {desc}".rstrip())


def _show(args: argparse.Namespace) -> None:
    space = _make(args.name, args.space_opt)
    if args.format == "json":
        print(json.dumps(space.describe(), indent=1))
        return
    size = space.size()
    print(f"space {args.name}: {SPACES.entry(args.name).meta.get('description', '')}".rstrip(": "))
    print(f"size  {size} ({_approx(size)})")
    dims = space.choices()
    print(f"dimensions ({len(dims)}):")
    width = max(len(k) for k in dims)
    for k, options in dims.items():
        print(f"  {k:{width}s}  {' | '.join(map(str, options))}")


def add_parser(sub: Any) -> None:
    """Register ``nas spaces list`` and ``nas spaces show NAME``."""
    s = command(
        sub, "spaces", help="search spaces: list them, show one's choices and size", example="nas spaces list"
    )
    ss = subcommands(s, "spaces_command")
    sl = command(
        ss,
        "list",
        help="list search spaces matching a pattern, with size and dimensions",
        example="nas spaces list 'nb*'",
    )
    sl.add_argument("pattern", nargs="?", default="*", help="a shell-style name pattern (default: *, all)")
    finish(sl, _list)
    sw = command(
        ss,
        "show",
        help="print a space's categorical dimensions and exact size",
        example="nas spaces show darts --space-opt nodes=2 --format json",
    )
    names = SPACES.list()
    sw.add_argument(
        "name", choices=names, metavar="NAME", help=f"a registered search space: {', '.join(names)}"
    )
    add_pairs(
        sw,
        "--space-opt",
        "a space option (JSON value or a bare string; repeatable), e.g. --space-opt nodes=2 "
        "--space-opt 'ops=[\"none\"]'",
        old=("--set",),
    )
    add_format(sw, old_json=True)
    finish(sw, _show, options="--space-opt")
