"""Packages whose exported names load from their modules on first use (PEP 562), so importing one light name
does not import everything beside it (scipy, scikit-learn)."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["LazyPackage", "lazy_exports"]


class LazyPackage(types.ModuleType):
    """A package module whose `_homes` names (exported name -> module) load on first use. Importing a submodule
    sets its name on the package; that never replaces an export spelt the same (`llmbench.stats.diff` stays the
    function after `import llmbench.stats.diff`)."""

    _homes: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        home = self.__dict__.get("_homes", {}).get(name)
        if home is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if not (isinstance(value, types.ModuleType) and name in self.__dict__.get("_homes", {})):
            super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__.get("__all__", ()), *super().__dir__()})


def lazy_exports(package: str, homes: dict[str, str]) -> None:
    """Make the (already imported) `package` a `LazyPackage` loading `homes` (exported name -> its module)."""
    module = sys.modules[package]
    module.__class__ = LazyPackage
    module.__dict__["_homes"] = dict(homes)
