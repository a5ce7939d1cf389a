"""Durable writes and named reads of a run's state files.

Every state file of a run is either appended one line at a time (``trials.csv``: flushed and fsynced, so a
finished trial survives a kill *and* a power loss) or replaced in one rename (``config.json``,
``ledger.json``, …: the temporary file is fsynced before the rename and the directory after it, so the new
name points at complete data). Reading one that does not parse raises :class:`StateFileError`, which names
the file, says what is wrong with it and how to recover.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

#: fsync appends and renames (benchmarks turn it off to measure what it costs)
FSYNC = True


class StateFileError(ValueError):
    """A run's state file that cannot be read: ``"<path>: <problem> — <fix>"`` (one line)."""

    def __init__(self, path: Path | str, problem: str, fix: str = "") -> None:
        super().__init__(f"{path}: {problem}" + (f" — {fix}" if fix else ""))
        self.path = Path(path)
        self.problem = problem
        self.fix = fix


# --------------------------------------------------------------------------------------------- writes


def sync(f: IO[Any]) -> None:
    """Flush ``f`` to the operating system and (with :data:`FSYNC`) to the disk: its data and the size
    that makes it readable (``fdatasync`` where there is one: the timestamps need not be written)."""
    f.flush()
    if FSYNC:
        getattr(os, "fdatasync", os.fsync)(f.fileno())


def sync_dir(directory: Path) -> None:
    """Make the entries of ``directory`` (a rename, a new file) durable."""
    if not FSYNC:
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform (or file system) without directory handles: nothing more to do
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_with(path: Path, write: Callable[[Path], None]) -> None:
    """Replace ``path`` with what ``write(tmp)`` writes to a temporary file: fsynced, renamed over ``path``,
    directory fsynced. A kill (or power loss) leaves the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    if FSYNC:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    tmp.replace(path)
    sync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` durably (:func:`replace_with`)."""
    replace_with(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, obj: Any, **dumps: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON durably (:func:`replace_with`)."""
    write_text(path, json.dumps(obj, **dumps) + "\n")


def append_text(path: Path, text: str) -> None:
    """Append ``text`` in one write, flushed and fsynced (a kill leaves at most one torn last line)."""
    with open(path, "a") as f:
        f.write(text)
        sync(f)


# ---------------------------------------------------------------------------------------------- reads


def read_json(path: Path, fix: str = "", *, kind: type = dict) -> Any:
    """``path`` as JSON of type ``kind``; :class:`StateFileError` naming it (and ``fix``) when it is not."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise StateFileError(path, "not a text file", fix) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise StateFileError(path, f"not valid JSON (line {e.lineno} column {e.colno})", fix) from None
    if not isinstance(obj, kind):
        names = {dict: "object", list: "array", str: "string", int: "number", float: "number"}
        raise StateFileError(path, f"holds a JSON {names.get(type(obj), type(obj).__name__)}, "
                                   f"expected a JSON {names.get(kind, kind.__name__)}", fix)  # fmt: skip
    return obj


def set_aside(path: Path, why: str) -> Path:
    """Rename an unreadable state file to ``NAME.corrupt.EXT`` (kept, not lost) and warn naming both."""
    aside = path.with_name(f"{path.stem}.corrupt{path.suffix}")
    path.replace(aside)
    sync_dir(path.parent)
    warn(f"{why}; the unreadable file is kept as {aside}")
    return aside


def warn(message: str) -> None:
    """One ``nas: warning: …`` line on stderr (what a resumed run repaired)."""
    print(f"nas: warning: {message}", file=sys.stderr, flush=True)


__all__ = [
    "FSYNC",
    "StateFileError",
    "append_text",
    "read_json",
    "replace_with",
    "set_aside",
    "sync",
    "sync_dir",
    "warn",
    "write_json",
    "write_text",
]
