"""Indented JSON that keeps whatever fits on a line on one line (genotype files stay short and diffable).

``json.dumps(indent=1)`` puts every list item on its own line, so a 3-element shape takes five lines and
a node fifteen; :func:`dumps` writes a list or object inline when it fits within ``width`` columns and
expands it one item per line otherwise. The text parses back to the same value as ``json.dumps``'s.
"""

from __future__ import annotations

import json
from typing import Any

_SEP = (", ", ": ")


def dumps(obj: Any, *, indent: int = 1, width: int = 110, sort_keys: bool = False, **kw: Any) -> str:
    """``obj`` as JSON, expanded only where an inline container would pass column ``width``; ``kw``
    goes to :func:`json.dumps` (e.g. ``ensure_ascii``)."""
    if isinstance(indent, bool) or not isinstance(indent, int) or indent < 0:
        raise ValueError(f"indent must be a non-negative int, got {indent!r}")

    def inline(o: Any) -> str:
        return json.dumps(o, separators=_SEP, sort_keys=sort_keys, **kw)

    def render(o: Any, level: int, used: int) -> str:
        text = inline(o)
        # ``used``: columns already taken on this line (indent and key); +1 for a trailing comma
        if not isinstance(o, dict | list) or not o or used + len(text) + 1 <= width:
            return text
        pad, inner = " " * (indent * level), " " * (indent * (level + 1))
        if isinstance(o, dict):
            keys = sorted(o) if sort_keys else list(o)
            rows = []
            for k in keys:
                head = f"{inner}{inline(str(k))}: "
                rows.append(head + render(o[k], level + 1, len(head)))
            return "{\n" + ",\n".join(rows) + "\n" + pad + "}"
        rows = [inner + render(v, level + 1, len(inner)) for v in o]
        return "[\n" + ",\n".join(rows) + "\n" + pad + "]"

    return render(obj, 0, 0)
