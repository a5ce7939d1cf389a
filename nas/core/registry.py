"""Name → object registries with one decorator, wildcard listing and loud duplicates.

nas core defines the registries; ops (``cells``) and architectures (``search_spaces``) fill them.
They are imported lazily through the ``nas.plugins`` entry-point group, so the core names no op.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_DEFAULT_PLUGINS = ("cells", "search_spaces")  # used when the package is not installed (source tree)
_loaded = False


def load_plugins() -> None:
    """Import every module registered under the ``nas.plugins`` entry point (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    eps = entry_points(group="nas.plugins")
    names = [ep.value for ep in eps] or list(_DEFAULT_PLUGINS)
    for name in names:
        importlib.import_module(name)


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A named table: ``@registry.register("name")`` adds, ``registry["name"]`` gets,
    ``registry.list("resnet*")`` lists sorted names matching a shell-style pattern."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj, **meta)
            return obj

        return deco

    def add(self, name: str, obj: T, **meta: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, obj, dict(meta))

    def entry(self, name: str) -> Entry[T]:
        load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            close = fnmatch.filter(self._entries, f"*{name[:4]}*")[:5] if name else []
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"unknown {self.kind} {name!r}{hint}; see the list of registered names"
            ) from None

    def __getitem__(self, name: str) -> T:
        return self.entry(name).obj

    def __contains__(self, name: object) -> bool:
        load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        load_plugins()
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        load_plugins()
        return len(self._entries)

    def list(self, pattern: str = "*") -> list[str]:
        load_plugins()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))


# op name → constructor(C_in, C_out, stride, **attrs) -> nn.Module | None.
# Metadata: inplace=True if the constructor takes ``inplace`` (the compiler sets it when safe).
OPS: Registry[Callable[..., Any]] = Registry("op")
register_op = OPS.register

# architecture name → zero-argument builder returning a Network genotype.
ARCHS: Registry[Callable[[], Any]] = Registry("architecture")
register_arch = ARCHS.register

# search-space name → zero-or-keyword-argument factory returning a SearchSpace.
SPACES: Registry[Callable[..., Any]] = Registry("search space")
register_space = SPACES.register

# layout family name → factory(layout, *, cells=None, width=None, auxiliary=True) returning a transform
# ``(net, *, num_classes, image_size, name=None) -> Network`` that re-stacks a searched network's cells in
# that layout (e.g. "imagenet": the DARTS/NASNet ImageNet networks). The factory rejects an unknown
# layout with a ValueError before any work. Metadata: ``layouts``, the named layouts it knows.
LAYOUTS: Registry[Callable[..., Any]] = Registry("layout family")
register_layout = LAYOUTS.register
