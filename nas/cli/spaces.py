"""``nas spaces``: list the registered search spaces, show one's choices and exact size."""

from __future__ import annotations

import argparse
import json
from typing import Any


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a bare string


def _approx(n: int) -> str:
    return f"{n:,}" if n < 10**9 else f"{n:.2e}"


_option.__name__ = "KEY=VALUE"  # argparse names the type in its error message


def _make(name: str, options: list[tuple[str, Any]] | None = None) -> Any:
    from nas.core.registry import SPACES

    factory = SPACES[name]
    try:
        return factory(**dict(options or []))
    except TypeError as e:  # an unknown option
        raise ValueError(f"space {name!r}: {e}") from None


def _list(args: argparse.Namespace) -> None:
    from nas.core.registry import SPACES

    names = SPACES.list(args.pattern)
    if not names:
        raise ValueError(f"no search space matches {args.pattern!r}")
    for n in names:
        space = _make(n)
        desc = SPACES.entry(n).meta.get("description", "")
        print(f"{n:12s} {_approx(space.size()):>10s} {len(space.choices()):4d} dims  {desc}".rstrip())


def _show(args: argparse.Namespace) -> None:
    from nas.core.registry import SPACES

    SPACES.entry(args.name)  # unknown name: the registry's error, with suggestions
    space = _make(args.name, args.set)
    if args.json:
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
    s = sub.add_parser("spaces", help="search spaces: list them, show one's choices and size")
    ss = s.add_subparsers(dest="spaces_command", metavar="SPACES_COMMAND", parser_class=type(s))
    ss.required = True
    sl = ss.add_parser("list", help="list search spaces matching a pattern, with size and dimensions")
    sl.add_argument("pattern", nargs="?", default="*")
    sl.set_defaults(func=_list)
    sw = ss.add_parser("show", help="print a space's categorical dimensions and exact size")
    sw.add_argument("name")
    sw.add_argument(
        "--set",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a space option (JSON value or a bare string), e.g. --set nodes=2 --set 'ops=[\"none\"]'",
    )
    sw.add_argument("--json", action="store_true", help="print {name, size, dimensions} as JSON")
    sw.set_defaults(func=_show)
