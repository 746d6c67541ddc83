"""The gateway's Anthropic Messages wire format (`POST /v1/messages`): requests to neutral messages, completions
and stream events back to `message` JSON and Anthropic's SSE events, so the `anthropic` SDK can use the gateway."""

from __future__ import annotations

from typing import Any

from llmbench.errors import DataError
from llmbench.json_safe import utf8
from llmbench.providers.anthropic import AnthropicProvider, messages_from_anthropic
from llmbench.providers.types import (
    Completion,
    StopEvent,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolSpec,
    Usage,
    stop_reason_names,
)
from llmbench.serve.openai_wire import ChatRequest, load_object

__all__ = ["EventWriter", "error_json", "message_json", "parse_messages_request"]

_STOP = stop_reason_names(AnthropicProvider.stop_reasons, default="end_turn")
_PASSED = {"temperature": "temperature", "top_p": "top_p", "stop_sequences": "stop"}


def _tool_choice(choice: Any) -> dict[str, Any]:
    """Anthropic's tool_choice as the neutral (OpenAI-style) parameters the providers take."""
    if not isinstance(choice, dict):
        raise DataError(f"'tool_choice' must be an object like {{'type': 'auto'}}, got {choice!r}")
    kind = choice.get("type")
    neutral: Any = {"any": "required", "auto": "auto", "none": "none"}.get(str(kind))
    if kind == "tool":
        neutral = {"type": "function", "function": {"name": choice.get("name", "")}}
    if neutral is None:
        raise DataError(f"'tool_choice' type {kind!r} is not one of auto, any, tool, none")
    out: dict[str, Any] = {"tool_choice": neutral}
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def parse_messages_request(body: bytes) -> ChatRequest:
    """The request, or a `DataError` naming the bad field."""
    data = load_object(body)
    model, turns, limit = data.get("model"), data.get("messages"), data.get("max_tokens")
    if not isinstance(model, str) or not model:
        raise DataError("'model' is required: 'router', 'router:NAME' or a model id this gateway serves")
    if (
        not isinstance(turns, list)
        or not turns
        or not all(isinstance(t, dict) and "role" in t for t in turns)
    ):
        raise DataError("'messages' must be a non-empty list of {role, content} objects")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise DataError(f"'max_tokens' must be a positive integer, got {limit!r}")
    system = data.get("system")
    if isinstance(system, list):
        system = "".join(b.get("text", "") for b in system if isinstance(b, dict))
    try:
        messages = messages_from_anthropic(system if isinstance(system, str) else None, turns)
        tools = [
            ToolSpec(
                name=t["name"],
                description=t.get("description") or "",
                parameters=t.get("input_schema") or {"type": "object", "properties": {}},
            )
            for t in data.get("tools") or []
        ] or None
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"'messages' or 'tools' is malformed: {exc}") from None
    params = {ours: data[theirs] for theirs, ours in _PASSED.items() if data.get(theirs) is not None}
    if data.get("tool_choice") is not None:
        params |= _tool_choice(data["tool_choice"])
    return ChatRequest(model, messages, tools, {**params, "max_tokens": limit}, bool(data.get("stream")))


def usage_json(usage: Usage | None) -> dict[str, int]:
    """Anthropic's usage object."""
    u = usage or Usage()
    return {
        "input_tokens": u.input_tokens or 0,
        "output_tokens": u.output_tokens or 0,
        "cache_read_input_tokens": u.cache_read_tokens or 0,
        "cache_creation_input_tokens": u.cache_write_tokens or 0,
    }


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}


def message_json(c: Completion, request_id: str) -> dict[str, Any]:
    """A `message` object for a neutral completion."""
    content: list[dict[str, Any]] = [{"type": "text", "text": c.text}] if c.text else []
    content += [_tool_use(t) for t in c.tool_calls]
    return {
        "id": request_id,
        "type": "message",
        "role": "assistant",
        "model": c.model,
        "content": content,
        "stop_reason": _STOP[c.stop_reason],
        "stop_sequence": None,
        "usage": usage_json(c.usage),
    }


class EventWriter:
    """Neutral stream events to Anthropic's SSE events (a text block, then one block per tool call)."""

    def __init__(self, request_id: str, model: str = "") -> None:
        self.request_id, self.model = request_id, model
        self._blocks = 0  # blocks opened so far
        self._open: str | None = None  # "text" or the open tool call's id
        self._tools: dict[int, int] = {}  # the stream's tool-call index -> block index

    def first(self) -> bytes:
        """`message_start`."""
        message: dict[str, Any] = {
            "id": self.request_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_json(None),
        }
        return _sse("message_start", {"type": "message_start", "message": message})

    def event(self, event: StreamEvent) -> bytes | None:
        """The events for one neutral event (None when Anthropic has none for it)."""
        if isinstance(event, TextDelta):
            out = b"" if self._open == "text" else self._start({"type": "text", "text": ""}, "text")
            delta = {
                "type": "content_block_delta",
                "index": self._blocks - 1,
                "delta": {"type": "text_delta", "text": event.text},
            }
            return out + _sse("content_block_delta", delta)
        if isinstance(event, ToolCallStart):
            self._tools[event.index] = self._blocks
            return self._start(
                {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}, event.id
            )
        if isinstance(event, ToolCallDelta) and event.index in self._tools:
            delta = {
                "type": "content_block_delta",
                "index": self._tools[event.index],
                "delta": {"type": "input_json_delta", "partial_json": event.arguments_delta},
            }
            return _sse("content_block_delta", delta)
        return None

    def last(self, stop: StopEvent, extras: dict[str, Any] | None = None) -> bytes:
        """Close the open block, then `message_delta` (stop reason, usage, the gateway's extras), `message_stop`."""
        c = stop.completion
        delta: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": _STOP[c.stop_reason], "stop_sequence": None},
            "usage": usage_json(c.usage),
        }
        if extras:
            delta["llmbench"] = extras
        return self._close() + _sse("message_delta", delta) + _sse("message_stop", {"type": "message_stop"})

    def _start(self, block: dict[str, Any], key: str) -> bytes:
        out = self._close()
        self._open = key
        self._blocks += 1
        start = {"type": "content_block_start", "index": self._blocks - 1, "content_block": block}
        return out + _sse("content_block_start", start)

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return _sse("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1})


def error_json(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error body."""
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        504: "api_error",
    }
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + utf8(data) + b"\n\n"
