"""The journal of a calibration: every finished training evaluation as one JSON line.

Calibrating a training preset takes hours on a CPU (the ``small`` preset: minutes per architecture),
so ``nas calibrate -o DIR`` appends each (preset, architecture) result to ``DIR/NAME.journal.jsonl``
as soon as it is known, and ``--resume`` replays the finished ones instead of training them again.
The first line holds the run's key (sample, seed, presets, rungs, device, …); a journal is only
resumed by a run with the same key, so one calibration never mixes two protocols or CPU- with
GPU-seconds. Zero-cost proxies are not journaled: they cost about a second per architecture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError

JOURNAL_SUFFIX = ".journal.jsonl"
_FORMAT = "nas calibrate journal"


def journal_path(out_dir: str | Path, name: str) -> Path:
    return Path(out_dir) / f"{name}{JOURNAL_SUFFIX}"


class Journal:
    """Append-only record of training evaluations, keyed by (preset spec, arch string).

    ``resume=False`` and an existing file is a :class:`ConfigError` on ``journal`` (nothing is overwritten
    silently); ``resume=True`` reads the file, checks its key field by field against ``key`` and replays
    its entries. A last line cut short by a crash is ignored; a damaged line before it is an error."""

    def __init__(self, path: str | Path, key: Mapping[str, Any], *, resume: bool = False) -> None:
        self.path = Path(path)
        self.key = json.loads(json.dumps(dict(key), default=str))  # as it reads back
        self.entries: dict[tuple[str, str], Any] = {}
        if self.path.exists():
            if not resume:
                raise ConfigError(
                    "journal",
                    f"{self.path} holds an unfinished calibration: resume it, or overwrite to start again",
                    fixes=("resume", "overwrite"),
                )
            self._read()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"format": _FORMAT, "key": self.key})

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self) -> None:
        lines = self.path.read_text().split("\n")
        records = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if any(rest.strip() for rest in lines[i + 1 :]):
                    raise ValueError(f"{self.path}: line {i + 1} is not JSON") from None
                # a write cut short by a crash: drop it, and the file's tail with it
                self.path.write_text("\n".join(lines[:i]) + ("\n" if i else ""))
        if not records or records[0].get("format") != _FORMAT:
            raise ValueError(f"{self.path} is not a nas calibrate journal")
        old = records[0].get("key", {})
        for f in sorted(set(old) | set(self.key)):
            if old.get(f) != self.key.get(f):
                raise ConfigError(
                    "journal",
                    f"cannot resume {self.path}: it was run with {f}={old.get(f)!r}, now "
                    f"{f}={self.key.get(f)!r}; overwrite to start again",
                    fixes=("overwrite",),
                )
        for r in records[1:]:
            self.entries[(r["preset"], r["arch"])] = r["result"]

    def _append(self, record: Mapping[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def get(self, spec: str, arch: str) -> Any:
        """The journaled result: ``(score, cpu_s, wall_s)`` or, for rungs, a list of them; else None."""
        r = self.entries.get((spec, arch))
        if r is None:
            return None
        return [tuple(x) for x in r] if r and isinstance(r[0], list) else tuple(r)

    def record(self, spec: str, arch: str, result: Any) -> None:
        plain = json.loads(json.dumps(result))  # tuples → lists, floats as JSON keeps them
        self._append({"preset": spec, "arch": arch, "result": plain})
        self.entries[(spec, arch)] = plain

    def wrap(self, run: Callable[..., Any], arch_of: Mapping[Any, str]) -> Callable[..., Any]:
        """``run`` (a training or rung evaluator taking ``(genotype, spec, seed, ...)``) that answers
        from the journal when it can and journals what it computes."""

        def journaled(genotype: Any, spec: str, seed: int, *rest: Any) -> Any:
            arch = arch_of[genotype]
            done = self.get(spec, arch)
            if done is not None:
                return done
            result = run(genotype, spec, seed, *rest)
            self.record(spec, arch, result)
            return result

        return journaled
