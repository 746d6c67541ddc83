"""Run a model's tool calls safely: validate, check policy, confirm, time-limit, truncate, never raise."""

from __future__ import annotations

import asyncio
import inspect
import time
import traceback as tb
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any, Literal

import jsonschema
import pydantic_core
from pydantic import BaseModel, ConfigDict, ValidationError

from llmbench.errors import redact
from llmbench.providers.types import ToolCall, ToolResult
from llmbench.tools.limits import CallCounter, ToolLimits, truncate_result
from llmbench.tools.toolset import Tool, ToolSet

ErrorKind = Literal["validation", "unknown_tool", "denied", "timeout", "exception", "not_confirmed", "limit"]
ConfirmHook = Callable[[ToolCall, Tool], bool | Awaitable[bool]]


class ExecutionOutcome(BaseModel):
    """What running one tool call gave: the text for the model plus what the log needs."""

    model_config = ConfigDict(frozen=True)

    call: ToolCall
    content: str
    is_error: bool = False
    error_kind: ErrorKind | None = None
    duration_s: float = 0.0
    truncated: bool = False
    traceback: str | None = None  # for the log only; never part of `content`

    def to_result(self) -> ToolResult:
        """The neutral `ToolResult` to send back to the model."""
        return ToolResult(
            tool_call_id=self.call.id, content=self.content, is_error=self.is_error, name=self.call.name
        )


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = pydantic_core.from_json(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def validate_arguments(tool: Tool, arguments: dict[str, Any]) -> list[str]:
    """Messages for every way `arguments` break the tool's JSON Schema (empty when they are valid)."""
    validator = _validator(pydantic_core.to_json(tool.parameters).decode())
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors:
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{where}: {err.message}" if where else err.message)
    return out


def result_text(value: Any) -> str:
    """A tool's return value as the text the model reads (JSON for anything but strings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return pydantic_core.to_json(value, fallback=str).decode()


def _error(
    call: ToolCall, kind: ErrorKind, text: str, start: float, trace: str | None = None
) -> ExecutionOutcome:
    return ExecutionOutcome(
        call=call,
        content=text,
        is_error=True,
        error_kind=kind,
        duration_s=time.perf_counter() - start,
        traceback=trace,
    )


async def _confirmed(confirm: ConfirmHook, call: ToolCall, tool: Tool) -> bool:
    answer = confirm(call, tool)
    if inspect.isawaitable(answer):
        answer = await answer
    return bool(answer)


async def execute_call(
    tool_set: ToolSet,
    call: ToolCall,
    limits: ToolLimits | None = None,
    confirm: ConfirmHook | None = None,
    counter: CallCounter | None = None,
) -> ExecutionOutcome:
    """Run one call; every failure becomes an error outcome for the model, never an exception."""
    limits = limits or ToolLimits()
    start = time.perf_counter()
    if counter is not None and not counter.take():
        return _error(
            call,
            "limit",
            f"Tool call refused: the limit of {counter.limit} tool calls for this conversation is reached.",
            start,
        )
    tool = tool_set.get(call.name)
    if tool is None:
        known = ", ".join(tool_set.names) or "none"
        return _error(call, "unknown_tool", f"Unknown tool {call.name!r}. Available tools: {known}.", start)
    if not tool_set.is_allowed(call.name):
        return _error(call, "denied", f"Tool {call.name!r} is not allowed in this conversation.", start)
    if call.raw_arguments is not None:
        return _error(
            call,
            "validation",
            f"Invalid arguments for tool {call.name!r}: not a JSON object: {call.raw_arguments[:200]!r}. "
            "Send the arguments as one JSON object.",
            start,
        )
    try:
        problems = validate_arguments(tool, call.arguments)
    except jsonschema.SchemaError as exc:  # the tool's own schema is broken: the model cannot fix that
        return _error(
            call, "exception", f"Tool {call.name!r} has an invalid parameter schema.", start, str(exc)
        )
    if problems:
        listed = "; ".join(problems[:10])
        return _error(call, "validation", f"Invalid arguments for tool {call.name!r}: {listed}.", start)
    if tool.side_effects:
        try:
            ok = limits.auto_confirm if confirm is None else await _confirmed(confirm, call, tool)
        except Exception:
            return _error(
                call,
                "not_confirmed",
                f"Running tool {call.name!r} was not confirmed.",
                start,
                redact(tb.format_exc()),
            )
        if not ok:
            return _error(
                call, "not_confirmed", f"Running tool {call.name!r} was not confirmed by the user.", start
            )
    timeout = tool.timeout_s if tool.timeout_s is not None else limits.tool_timeout_s
    try:
        value = await asyncio.wait_for(tool.arun(call.arguments), timeout)
    except TimeoutError:
        # A sync tool keeps running in its worker thread: Python cannot stop a thread; its result is dropped.
        return _error(call, "timeout", f"Tool {call.name!r} did not finish within {timeout:g} s.", start)
    except ValidationError as exc:  # pydantic's own checks beyond the JSON Schema (e.g. custom validators)
        msgs = "; ".join(f"{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10])
        return _error(call, "validation", f"Invalid arguments for tool {call.name!r}: {msgs}.", start)
    except Exception as exc:
        text = f"Tool {call.name!r} failed: {type(exc).__name__}: {redact(exc)}"
        return _error(call, "exception", text, start, redact(tb.format_exc()))
    try:
        text = result_text(value)
    except Exception as exc:
        return _error(
            call, "exception", f"Tool {call.name!r} returned a value that cannot be shown: {exc}", start
        )
    text, truncated = truncate_result(text, limits.max_result_chars)
    return ExecutionOutcome(
        call=call, content=text, duration_s=time.perf_counter() - start, truncated=truncated
    )


async def execute_calls(
    tool_set: ToolSet,
    calls: Sequence[ToolCall],
    limits: ToolLimits | None = None,
    confirm: ConfirmHook | None = None,
    counter: CallCounter | None = None,
) -> list[ExecutionOutcome]:
    """Run several calls concurrently; outcomes come back in the order of `calls`."""
    return list(await asyncio.gather(*(execute_call(tool_set, c, limits, confirm, counter) for c in calls)))
