"""Replaying a resumed run's rows to its restored strategy *as they happened* (see :mod:`nas.search.driver`):
each of the strategy's own proposals is proposed again (the same RNG draws) before its outcome is observed,
so an inline run resumed after a kill continues with exactly the trials the uninterrupted run would have
run. Under Ray, whose trials finish out of order, a replayed proposal that differs ends the re-proposing
and the rest is observed only."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nas.search.strategies import Strategy, choice_key


def repropose(
    strategy: Strategy | None,
    rows: Sequence[dict[str, Any]],
    final: Sequence[bool],
    feed: Callable[[dict[str, Any]], None],
) -> None:
    """Show ``rows`` to the restored ``strategy``: propose each of its own proposals again (while the
    proposals match the table), ``feed`` each final outcome (``final[i]``: row ``i`` is one)."""
    in_step = strategy is not None
    for r, last in zip(rows, final, strict=True):
        if in_step and r["source"] == "strategy" and r["choices"] is not None:
            again = strategy.propose()  # type: ignore[union-attr]
            in_step = again is not None and same_choices(again, r["choices"])
            if not in_step:
                strategy.forget_pending()  # type: ignore[union-attr]
        if last:
            feed(r)


def same_choices(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return choice_key(dict(sorted(a.items()))) == choice_key(dict(sorted(b.items())))
