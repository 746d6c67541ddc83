"""Tools from typed Python functions or pydantic models, and named tool sets with allow and deny lists."""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from llmbench.errors import ConfigError
from llmbench.providers.types import ToolSpec


def clean_schema(schema: Any, *, in_properties: bool = False) -> Any:
    """Drop pydantic's auto-generated `title`s: they cost prompt tokens and tell the model nothing."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "title" and not in_properties:
                continue
            out[key] = clean_schema(value, in_properties=key in ("properties", "$defs"))
        return out
    if isinstance(schema, list):
        return [clean_schema(v) for v in schema]
    return schema


def _signature_model(fn: Callable[..., Any], name: str) -> type[BaseModel]:
    """A pydantic model whose fields are the function's parameters (unknown arguments are forbidden)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # an annotation that names something not importable
        raise ConfigError(f"tool {name!r}: cannot resolve the type hints of {fn!r}: {exc}") from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigError(
                f"tool {name!r}: *args/**kwargs cannot be described as JSON Schema; "
                "give every parameter a name and a type"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise ConfigError(
                f"tool {name!r}: positional-only parameter {param.name!r} cannot be passed by name"
            )
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    return create_model(
        f"{name}_arguments", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False), **fields
    )


class Tool:
    """A callable the model may use: its `ToolSpec` plus how to run it.

    Calling the tool object calls the original function, so a decorated function still works as before.
    """

    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        run: Callable[..., Any],
        *,
        args_model: type[BaseModel] | None = None,
        side_effects: bool = False,
        timeout_s: float | None = None,
        source: str = "python",
    ) -> None:
        try:
            self.spec = ToolSpec(name=name, description=description, parameters=parameters)
        except ValidationError as exc:
            raise ConfigError(
                f"tool name {name!r} is not allowed: use 1-64 letters, digits, '_' or '-' ({exc.errors()[0]['msg']})"
            ) from exc
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError(f"tool {name!r}: timeout_s must be positive, got {timeout_s}")
        self._run = run
        self.args_model = args_model
        self.side_effects = side_effects
        self.timeout_s = timeout_s
        self.source = source

    @property
    def name(self) -> str:
        """The name the model calls the tool by."""
        return self.spec.name

    @property
    def description(self) -> str:
        """What the tool does (the docstring for Python tools)."""
        return self.spec.description

    @property
    def parameters(self) -> dict[str, Any]:
        """JSON Schema of the arguments."""
        return self.spec.parameters

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(*args, **kwargs)

    def __repr__(self) -> str:
        flags = ", side_effects=True" if self.side_effects else ""
        return f"Tool({self.name!r}{flags})"

    async def arun(self, arguments: dict[str, Any]) -> Any:
        """Run the tool on already schema-checked JSON arguments (sync functions run in a worker thread)."""
        if self.args_model is None:
            result = self._run(**arguments)
        elif isinstance(self._run, type) and issubclass(self._run, BaseModel):
            instance = self._run.model_validate(arguments)
            method = getattr(instance, "run", None)
            if method is None:  # a model without `run` is a structured answer: echo it validated
                return instance
            result = method() if inspect.iscoroutinefunction(method) else await asyncio.to_thread(method)
        else:
            parsed = self.args_model.model_validate(arguments)
            kwargs = {field: getattr(parsed, field) for field in type(parsed).model_fields}
            if inspect.iscoroutinefunction(self._run):
                result = self._run(**kwargs)
            else:
                result = await asyncio.to_thread(self._run, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


def _from_function(
    fn: Callable[..., Any],
    name: str | None,
    description: str | None,
    side_effects: bool,
    timeout_s: float | None,
) -> Tool:
    tool_name = name or fn.__name__
    model = _signature_model(fn, tool_name)
    return Tool(
        tool_name,
        description if description is not None else (inspect.getdoc(fn) or ""),
        clean_schema(model.model_json_schema()),
        fn,
        args_model=model,
        side_effects=side_effects,
        timeout_s=timeout_s,
    )


def _from_model(
    cls: type[BaseModel],
    name: str | None,
    description: str | None,
    side_effects: bool,
    timeout_s: float | None,
) -> Tool:
    # `cls.__doc__` rather than inspect.getdoc: the latter would inherit BaseModel's own docstring.
    doc = inspect.cleandoc(cls.__doc__) if cls.__doc__ else ""
    return Tool(
        name or cls.__name__,
        description if description is not None else doc,
        clean_schema(cls.model_json_schema()),
        cls,
        args_model=cls,
        side_effects=side_effects,
        timeout_s=timeout_s,
    )


def make_tool(
    obj: Callable[..., Any] | type[BaseModel],
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    timeout_s: float | None = None,
) -> Tool:
    """Turn a typed function (sync or async) or a pydantic model class into a `Tool`."""
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        return _from_model(obj, name, description, side_effects, timeout_s)
    if callable(obj):
        return _from_function(obj, name, description, side_effects, timeout_s)
    raise ConfigError(f"cannot make a tool from {obj!r}: pass a function or a pydantic model class")


@overload
def tool(obj: Callable[..., Any] | type[BaseModel], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    timeout_s: float | None = None,
) -> Callable[[Callable[..., Any] | type[BaseModel]], Tool]: ...
def tool(
    obj: Callable[..., Any] | type[BaseModel] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    timeout_s: float | None = None,
) -> Tool | Callable[[Callable[..., Any] | type[BaseModel]], Tool]:
    """Decorator: `@tool` or `@tool(name=..., side_effects=True, timeout_s=...)` makes a `Tool`."""
    if obj is not None:
        return make_tool(obj)

    def wrap(target: Callable[..., Any] | type[BaseModel]) -> Tool:
        return make_tool(
            target, name=name, description=description, side_effects=side_effects, timeout_s=timeout_s
        )

    return wrap


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


class ToolSet:
    """A named collection of tools; `allow` (glob patterns, None = all) and `deny` filter what the model may use."""

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        name: str = "tools",
        allow: Iterable[str] | None = None,
        deny: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.allow: tuple[str, ...] | None = tuple(allow) if allow is not None else None
        self.deny: tuple[str, ...] = tuple(deny)
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(self, obj: Tool | Callable[..., Any], *, replace: bool = False) -> Tool:
        """Add a tool (or a function/model, made into one); a duplicate name is an error unless `replace`."""
        t = make_tool(obj)
        if t.name in self._tools and not replace and self._tools[t.name] is not t:
            raise ConfigError(
                f"tool set {self.name!r} already has a tool named {t.name!r}; rename one with @tool(name=...)"
            )
        self._tools[t.name] = t
        return t

    def is_allowed(self, name: str) -> bool:
        """Whether the allow and deny lists let the model use `name`."""
        if self.allow is not None and not _matches(name, self.allow):
            return False
        return not _matches(name, self.deny)

    def get(self, name: str) -> Tool | None:
        """The tool of that name whether allowed or not, or None."""
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        """The allowed tools, in insertion order."""
        return (t for t in self._tools.values() if self.is_allowed(t.name))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def names(self) -> list[str]:
        """Names of the allowed tools."""
        return [t.name for t in self]

    def all_tools(self) -> list[Tool]:
        """Every tool, allowed or not."""
        return list(self._tools.values())

    def restricted(self, *, allow: Iterable[str] | None = None, deny: Iterable[str] = ()) -> ToolSet:
        """A copy with extra restrictions: `allow` narrows the allowed names, `deny` adds to the deny list."""
        out = ToolSet(self._tools.values(), name=self.name, allow=self.allow, deny=(*self.deny, *deny))
        if allow is not None:
            allowed = [n for n in self._tools if self.is_allowed(n) and _matches(n, allow)]
            out.allow = tuple(allowed)
        return out

    def merged(self, other: ToolSet, *, name: str | None = None) -> ToolSet:
        """A new set with the tools of both (duplicate names are an error); lists of `self` are kept."""
        out = ToolSet(self._tools.values(), name=name or self.name, allow=self.allow, deny=self.deny)
        for t in other.all_tools():
            out.add(t)
        return out

    def __repr__(self) -> str:
        return f"ToolSet({self.name!r}, {self.names})"


def to_tool_specs(tool_set: ToolSet | Iterable[Tool]) -> list[ToolSpec]:
    """The `ToolSpec`s of the tools the model may use (denied tools are left out)."""
    return [t.spec for t in tool_set]
