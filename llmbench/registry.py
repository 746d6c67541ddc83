"""One registry style for every kind of part found by name: providers, scorers, router candidates, gateway wires.

A part registers itself where it is defined (`@REGISTRY.register` on the class; its `name` and `aliases` are
class attributes), or is named by a lazy `"module:attr"` path (so an SDK is imported only when its part is used),
or comes from another package through an entry point group. A registry may also own a package whose modules
register themselves on import: adding a part is then one module, found without editing any list.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from llmbench.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named parts of one kind (`kind` names it in errors), with aliases, lazy paths, entry points and packages."""

    def __init__(
        self,
        kind: str,
        *,
        base: type | None = None,
        entry_points: str | None = None,
        package: str | None = None,
    ) -> None:
        self.kind = kind
        self._base = base
        self._entry_points = entry_points
        self._package = package
        self._loaders: dict[str, Callable[[], T]] = {}
        self._aliases: dict[str, str] = {}
        self._discovered = package is None
        self._points: dict[str, Any] | None = None  # entry points, read once (installs do not change mid-run)

    @staticmethod
    def key(name: str) -> str:
        """The spelling names are compared in (case and surrounding space do not matter)."""
        return name.strip().lower()

    def register(self, part: T, *, name: str | None = None) -> T:
        """Register a part under its `name` and `aliases` attributes (a class decorator), or under `name`."""
        name = name or getattr(part, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} needs a non-empty `name` to be registered, {part!r} has none")
        self._add(name, lambda: part)
        for alias in getattr(part, "aliases", ()):
            self._aliases[self.key(alias)] = self.key(name)
        return part

    def register_path(self, name: str, path: str) -> None:
        """Register `module:attr`, imported on first use (a part whose SDK should not load with llmbench)."""
        module, _, attr = path.partition(":")
        self._add(name, lambda: getattr(importlib.import_module(module), attr))

    def unregister(self, name: str) -> None:
        """Remove a registered name and its aliases (a plugin unloaded, a test's scratch part)."""
        key = self.key(name)
        self._loaders.pop(key, None)
        self._aliases = {a: n for a, n in self._aliases.items() if n != key}

    def _add(self, name: str, loader: Callable[[], T]) -> None:
        key = self.key(name)
        if key in self._loaders or key in self._aliases:
            raise ConfigError(f"{self.kind} {name!r} is registered twice")
        self._loaders[key] = loader

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True  # set first: the modules imported below register into this registry
        package = importlib.import_module(str(self._package))
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(info.name)

    def _entry_point_table(self) -> dict[str, Any]:
        if self._points is None:
            self._points = {}
            if self._entry_points is not None:
                from importlib.metadata import entry_points

                for point in entry_points(group=self._entry_points):
                    self._points.setdefault(self.key(point.name), point)
        return self._points

    def _entry_point(self, key: str) -> Callable[[], T] | None:
        point = self._entry_point_table().get(key)
        return None if point is None else point.load

    def names(self) -> list[str]:
        """Every registered name (entry points included), sorted."""
        self._discover()
        return sorted({*self._loaders, *self._entry_point_table()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def __iter__(self) -> Iterator[T]:
        """Every registered part, in registration order (entry points last)."""
        self._discover()
        yield from (load() for load in self._loaders.values())

    def find(self, name: str) -> T | None:
        """The part registered as `name` (or an alias of it), or None."""
        self._discover()
        key = self.key(name)
        key = self._aliases.get(key, key)
        loader = self._loaders.get(key) or self._entry_point(key)
        if loader is None:
            return None
        part = loader()
        if self._base is not None and not (isinstance(part, type) and issubclass(part, self._base)):
            raise ConfigError(f"{self.kind} {name!r} is {part!r}, not a {self._base.__name__} class")
        return part

    def get(self, name: str, *, choices: list[str] | None = None) -> T:
        """The part registered as `name`; a ConfigError lists the choices and the nearest spelling."""
        part = self.find(name)
        if part is not None:
            return part
        known = choices if choices is not None else self.names()
        near = difflib.get_close_matches(self.key(name), known, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ConfigError(f"unknown {self.kind} {name!r}{hint}; choose one of: {', '.join(known)}")

    def aliases(self) -> dict[str, str]:
        """alias -> registered name."""
        self._discover()
        return dict(self._aliases)

    def describe(self) -> dict[str, Any]:
        """Names and aliases, for error messages and `--help` texts."""
        return {"names": self.names(), "aliases": self.aliases()}
