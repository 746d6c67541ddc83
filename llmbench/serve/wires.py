"""The API dialects the gateway speaks (OpenAI chat completions, Anthropic messages): how a request parses and
how answers, stream events and errors render in each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from llmbench import errors
from llmbench.json_safe import utf8
from llmbench.providers.types import Completion, StopEvent
from llmbench.registry import Registry
from llmbench.serve.anthropic_wire import EventWriter, error_json, message_json, parse_messages_request
from llmbench.serve.openai_wire import ChatRequest, ChunkWriter, completion_json, parse_chat_request

__all__ = ["ANTHROPIC", "OPENAI", "WIRES", "AsIs", "Wire"]


@dataclass(frozen=True)
class Wire:
    """One API dialect the gateway speaks: the path it answers, how requests parse and how answers, stream
    events and errors render. The gateway serves every registered wire (`WIRES`)."""

    name: str
    path: str  # POST here
    parse: Callable[[bytes], ChatRequest]
    render: Callable[[Completion, str], dict[str, Any]]
    events: Callable[[str, str], Any]  # (request id, model) -> a writer with first/event/last
    error_body: Callable[[int, str], dict[str, Any]]
    prefix: str  # of the answer ids
    error_event: bytes = b""  # the SSE event line before a stream's error data, where the dialect names one

    def error(self, status: int, message: str) -> JSONResponse:
        """An error response in this dialect (the message redacted)."""
        return JSONResponse(self.error_body(status, errors.redact(message)), status)

    def stream_error(self, status: int, message: str) -> bytes:
        """An error event for a stream that broke after it began."""
        body = utf8(self.error_body(status, errors.redact(message)))
        return self.error_event + b"data: " + body + b"\n\n"


class AsIs:
    """The stream writer of a forwarded answer: its bytes go on as they came; there is nothing to add."""

    def first(self) -> bytes:
        return b""

    def event(self, event: Any) -> bytes | None:
        return event if isinstance(event, bytes) else None

    def last(self, stop: StopEvent, extras: dict[str, Any] | None = None) -> bytes:
        return b""


def _openai_error(status: int, message: str) -> dict[str, Any]:
    kind = "upstream_error" if status >= 500 or status == 429 else "invalid_request_error"
    return {
        "error": {
            "message": message,
            "type": "authentication_error" if status == 401 else kind,
            "code": status,
        }
    }


WIRES: Registry[Wire] = Registry("gateway wire")
OPENAI = WIRES.register(
    Wire(
        "openai",
        "/v1/chat/completions",
        parse_chat_request,
        completion_json,
        ChunkWriter,
        _openai_error,
        "chatcmpl-",
    )
)
ANTHROPIC = WIRES.register(
    Wire(
        "anthropic",
        "/v1/messages",
        parse_messages_request,
        message_json,
        EventWriter,
        error_json,
        "msg_",
        error_event=b"event: error\n",
    )
)
