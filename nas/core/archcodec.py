"""Arch text ⇄ choices for a search space: the one codec tables, trial rows and truth files go through.

A space with its own notation (``SearchSpace.parse_arch`` / ``format_arch``, e.g. the NB201 arch string)
is read and written in it; any other space is written as its choice dict in compact JSON (fields in the
order of ``choices()``), unless the caller asks for the notation only (``json_fallback=False``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from nas.core.genotype import Genotype
from nas.core.space import Choice, Choices, SearchSpace, get_space


class ArchCodec:
    """``parse`` (text → checked choices), ``format`` (choices → text) and ``genotype`` (text → member)
    for one space (or a registered space's name); ``native`` is True when the space's own notation is used."""

    def __init__(self, space: SearchSpace | str, *, json_fallback: bool = True) -> None:
        self.space = get_space(space)
        self.native = self.space.has_notation
        if not self.native and not json_fallback:
            raise ValueError(
                f"space {self.space.name!r} has no arch-string notation (no parse_arch/format_arch)"
            )

    def parse(self, text: str) -> Choices:
        if self.native:
            return self.space.check(self.space.parse_arch(text))
        try:
            choices = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            raise ValueError(f"{text!r} is not a JSON choice dict") from None
        if not isinstance(choices, dict):
            raise ValueError(f"{text!r} is not a JSON choice dict")
        return self.space.check(choices)

    def format(self, choices: Mapping[str, Choice]) -> str:
        if self.native:
            return self.space.format_arch(choices)
        return json.dumps({k: choices[k] for k in self.space.choices()}, separators=(",", ":"))

    def genotype(self, text: str) -> Genotype:
        """The member of the space that ``text`` names."""
        return self.space.decode(self.parse(text))
