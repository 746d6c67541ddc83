"""Find tools in a module or file, and in installed packages through the `llmbench.tools` entry-point group."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from llmbench.errors import ConfigError
from llmbench.tools.toolset import Tool, ToolSet, make_tool

ENTRY_POINT_GROUP = "llmbench.tools"


def _import(source: str) -> ModuleType:
    if source.endswith(".py") or "/" in source or "\\" in source:
        path = Path(source).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(
                f"tool file {source!r} does not exist; give a path to a .py file or a module name"
            )
        module_name = f"llmbench_tools_{path.stem}_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot import tool file {source!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pydantic look the module up while it executes
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            raise ConfigError(f"importing tool file {source!r} failed: {type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(source)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"tool module {source!r} not found ({exc}); give an importable module name or a path to a .py file"
        ) from exc


def tools_in_module(module: ModuleType) -> list[Tool]:
    """The `Tool` objects (made with `@tool`) and the tools of `ToolSet`s defined at module level, in order."""
    found: list[Tool] = []
    for value in vars(module).values():
        if isinstance(value, Tool):
            found.append(value)
        elif isinstance(value, ToolSet):
            found.extend(value.all_tools())
    unique: dict[int, Tool] = {id(t): t for t in found}
    return list(unique.values())


def load_module_tools(source: str, *, name: str | None = None) -> ToolSet:
    """A `ToolSet` of the tools in a module (`"pkg.module"`) or a file (`"path/to/file.py"`)."""
    tools = tools_in_module(_import(source))
    if not tools:
        raise ConfigError(f"no tools found in {source!r}: decorate functions with @llmbench.tools.tool")
    default_name = Path(source).stem if source.endswith(".py") else source
    return ToolSet(tools, name=name or default_name)


def _as_tools(obj: Any, where: str) -> list[Tool]:
    if isinstance(obj, ToolSet):
        return obj.all_tools()
    if isinstance(obj, ModuleType):
        return tools_in_module(obj)
    if isinstance(obj, list | tuple):
        return [t for item in obj for t in _as_tools(item, where)]
    if isinstance(obj, Tool) or callable(obj):
        return [make_tool(obj)]
    raise ConfigError(
        f"entry point {where} gave {type(obj).__name__}; it must name a tool, a ToolSet or a module"
    )


def load_entry_point_tools(group: str = ENTRY_POINT_GROUP, *, name: str = "entry-points") -> ToolSet:
    """A `ToolSet` of every tool that installed packages publish in the `llmbench.tools` entry-point group."""
    tool_set = ToolSet(name=name)
    for ep in entry_points(group=group):
        where = f"{ep.name!r} ({ep.value})"
        try:
            obj = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"loading tool entry point {where} failed: {type(exc).__name__}: {exc}"
            ) from exc
        for t in _as_tools(obj, where):
            tool_set.add(t)
    return tool_set
