"""The gateway's OpenAI Chat Completions wire format: requests to neutral messages, completions and stream events
back to `chat.completion` JSON and `chat.completion.chunk` SSE events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmbench.errors import DataError
from llmbench.json_safe import loads, utf8
from llmbench.providers.openai import OpenAIProvider, messages_from_openai
from llmbench.providers.types import (
    Completion,
    Message,
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
from llmbench.text_safe import encodable_data

__all__ = [
    "ChatRequest",
    "ChunkWriter",
    "chunk",
    "completion_json",
    "load_object",
    "parse_chat_request",
    "usage_json",
]

# Generation parameters every routed model understands (the Anthropic adapter maps tool_choice and stop to its own
# form); the rest of an OpenAI body is ignored, or refused below.
_PASSED = ("temperature", "top_p", "stop", "seed", "tool_choice", "parallel_tool_calls")


def _more_than_one(value: Any) -> bool:
    return value not in (None, 1)


_REFUSED: dict[str, Callable[[Any], bool]] = {"n": _more_than_one, "logprobs": bool, "audio": bool}
# A body holding only these fields means the same forwarded as is as it means through the neutral types; with any
# other field (response_format, logit_bias, ...), which the neutral path ignores, it takes the neutral path.
_FORWARDABLE = (
    frozenset(
        {"model", "messages", "tools", "stream", "stream_options", "max_tokens", "max_completion_tokens"}
    )
    | frozenset(_PASSED)
    | frozenset(_REFUSED)
)
_FINISH = stop_reason_names(OpenAIProvider.stop_reasons, default="stop")


@dataclass
class ChatRequest:
    """A parsed `POST /v1/chat/completions` body."""

    model: str
    messages: list[Message]
    tools: list[ToolSpec] | None
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    body: dict[str, Any] | None = None  # the parsed body, when a model of the same API can take it as it is


def load_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or a `DataError` (a 400): not JSON, nested past what the parser can
    follow, or holding a lone surrogate escape (text that is not valid Unicode cannot be sent on or stored)."""
    try:
        data = loads(body)
    except RecursionError:
        raise DataError("the body is nested too deeply to be a request") from None
    except ValueError as exc:
        raise DataError(f"the body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DataError("the body must be a JSON object")
    if (b"\\ud" in body or b"\\uD" in body) and encodable_data(data)[1]:
        raise DataError(
            "the body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): not valid Unicode text"
        )
    return data


def parse_chat_request(body: bytes) -> ChatRequest:
    """The request, or a `DataError` saying which field is wrong (the gateway answers 400 with it)."""
    data = load_object(body)
    model, raw = data.get("model"), data.get("messages")
    if not isinstance(model, str) or not model:
        raise DataError("'model' is required: 'router', 'router:NAME' or a model id this gateway serves")
    if not isinstance(raw, list) or not raw or not all(isinstance(m, dict) and "role" in m for m in raw):
        raise DataError("'messages' must be a non-empty list of {role, content} objects")
    for name, bad in _REFUSED.items():
        if name in data and bad(data[name]):
            raise DataError(f"{name!r}={data[name]!r} is not supported by this gateway")
    try:
        messages = messages_from_openai(raw)
        tools = [_tool(t) for t in data.get("tools") or []] or None
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"'messages' or 'tools' is malformed: {exc}") from None
    params = {k: data[k] for k in _PASSED if data.get(k) is not None}
    limit = data.get("max_completion_tokens", data.get("max_tokens"))
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise DataError(f"'max_tokens' must be a positive integer, got {limit!r}")
        params["max_tokens"] = limit
    as_is = _FORWARDABLE.issuperset(data) and (not data.get("stream") or _asks_usage(data))
    return ChatRequest(model, messages, tools, params, bool(data.get("stream")), data if as_is else None)


def _asks_usage(data: dict[str, Any]) -> bool:
    """Whether a streamed request asks for usage: without it the answer's bytes would not say what it cost (and
    asking for it on the client's behalf would change the bytes it gets)."""
    options = data.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _tool(raw: Any) -> ToolSpec:
    fn = raw.get("function") if isinstance(raw, dict) else None
    if not isinstance(fn, dict) or raw.get("type", "function") != "function":
        raise ValueError("each tool must be {type: function, function: {name, description, parameters}}")
    return ToolSpec(
        name=fn["name"],
        description=fn.get("description") or "",
        parameters=fn.get("parameters") or {"type": "object", "properties": {}},
    )


def usage_json(usage: Usage | None) -> dict[str, int] | None:
    """OpenAI's usage object (prompt tokens include cached ones)."""
    if usage is None:
        return None
    prompt = (usage.input_tokens or 0) + (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0)
    out = usage.output_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}


def completion_json(c: Completion, request_id: str) -> dict[str, Any]:
    """A `chat.completion` object for a neutral completion."""
    message: dict[str, Any] = {"role": "assistant", "content": c.text if c.text or not c.tool_calls else None}
    if c.tool_calls:
        message["tool_calls"] = [
            {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": _arguments(t)}}
            for t in c.tool_calls
        ]
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": c.model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": _FINISH[c.stop_reason], "logprobs": None}
        ],
        "usage": usage_json(c.usage),
    }


def _arguments(call: ToolCall) -> str:
    return (
        call.raw_arguments
        if call.raw_arguments is not None
        else json.dumps(call.arguments, ensure_ascii=False)
    )


class ChunkWriter:
    """Neutral stream events to `chat.completion.chunk` SSE lines (tool calls indexed in order of appearance)."""

    def __init__(self, request_id: str, model: str = "") -> None:
        self.request_id, self.created = request_id, int(time.time())
        self.model = model

    def first(self) -> bytes:
        """The opening chunk with the assistant role."""
        return self._sse({"role": "assistant", "content": ""})

    def event(self, event: StreamEvent) -> bytes | None:
        """The chunk for one event (None for events OpenAI has no chunk for)."""
        if isinstance(event, TextDelta):
            return self._sse({"content": event.text})
        if isinstance(event, ToolCallStart):
            fn = {"name": event.name, "arguments": ""}
            return self._sse(
                {"tool_calls": [{"index": event.index, "id": event.id, "type": "function", "function": fn}]}
            )
        if isinstance(event, ToolCallDelta):
            return self._sse(
                {"tool_calls": [{"index": event.index, "function": {"arguments": event.arguments_delta}}]}
            )
        return None

    def last(self, stop: StopEvent, extras: dict[str, Any] | None = None) -> bytes:
        """The closing chunk (finish reason, usage, and the gateway's `llmbench` extras) and `[DONE]`."""
        c = stop.completion
        self.model = c.model
        body = chunk(self.request_id, self.created, c.model, {}, _FINISH[c.stop_reason], usage_json(c.usage))
        if extras:
            body["llmbench"] = extras
        return b"data: " + utf8(body) + b"\n\ndata: [DONE]\n\n"

    def _sse(self, delta: dict[str, Any]) -> bytes:
        body = chunk(self.request_id, self.created, self.model, delta, None, None)
        return b"data: " + utf8(body) + b"\n\n"


def chunk(
    request_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None,
    usage: dict[str, int] | None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` object."""
    out: dict[str, Any] = {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    if usage is not None:
        out["usage"] = usage
    return out
