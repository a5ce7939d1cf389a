"""The README's tour stays true: its Python block runs verbatim and every ``nas`` command it shows parses
with today's flags (no unknown option, no deprecated spelling)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from nas.cli.app import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_the_python_tour_runs_verbatim() -> None:
    (tour,) = _blocks("python")
    exec(compile(tour, "README.md (python tour)", "exec"), {})


def _commands() -> list[str]:
    lines = [line.split("  #")[0].strip() for block in _blocks("bash") for line in block.splitlines()]
    out = []
    for line in lines:  # the set-up lines chain commands with &&: keep the nas part
        out += [part.strip() for part in line.split("&&") if part.strip().startswith("nas ")]
    return out


def test_the_readme_shows_the_main_commands() -> None:
    shown = {shlex.split(c)[1] for c in _commands()}
    assert {"search", "train", "calibrate", "zoo", "describe", "final", "report", "transfer"} <= shown


@pytest.mark.parametrize("command", _commands())
def test_every_readme_command_parses_with_current_flags(command: str, capsys) -> None:
    build_parser().parse_args(shlex.split(command)[1:])
    assert "deprecated" not in capsys.readouterr().err
