"""Anthropic Messages adapter through the official `anthropic` SDK.

Rules the Messages API enforces, applied here so callers never meet its 400s: the system prompt lives outside the
message list; tool results travel in the next user turn as `tool_result` blocks, first in that turn; consecutive
user/tool turns are merged; every `tool_use` gets a `tool_result` (a missing one is answered with an error result);
thinking blocks go back with their signature.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from llmbench import errors
from llmbench.providers.errors_map import map_sdk_error
from llmbench.providers.sdk import SDKProvider, sdk_kwargs
from llmbench.providers.types import (
    Completion,
    ContentBlock,
    ImageBlock,
    Message,
    ReasoningBlock,
    ReasoningDelta,
    StopEvent,
    StopReason,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResult,
    ToolSpec,
    Usage,
)

log = logging.getLogger(__name__)
DEFAULT_MAX_TOKENS = 4096
MISSING_RESULT = "no result was returned for this tool call"
STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "pause_turn": "pause",
    "refusal": "refusal",
}


# Conversion: neutral -> Anthropic ------------------------------------------------------------------------


def tool_to_anthropic(spec: ToolSpec) -> dict[str, Any]:
    """A tool spec in Messages form."""
    return {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}


def tool_choice_to_anthropic(choice: Any) -> Any:
    """An OpenAI-style `tool_choice` ("auto", "none", "required", {"function": {"name"}}) in Anthropic's form;
    a value already in Anthropic's form passes unchanged."""
    if choice == "required":
        return {"type": "any"}
    if choice in ("auto", "none"):
        return {"type": choice}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name", "")}
    return choice


def _block_to_anthropic(b: ContentBlock) -> dict[str, Any]:
    if isinstance(b, TextBlock):
        return {"type": "text", "text": b.text}
    if isinstance(b, ImageBlock):
        source = (
            {"type": "url", "url": b.url}
            if b.url is not None
            else {"type": "base64", "media_type": b.media_type, "data": b.data}
        )
        return {"type": "image", "source": source}
    if isinstance(b, ToolCall):
        return {"type": "tool_use", "id": b.id, "name": b.name, "input": b.arguments}
    if isinstance(b, ToolResult):
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": b.tool_call_id, "content": b.content}
        if b.is_error:
            out["is_error"] = True
        return out
    if b.redacted_data is not None:
        return {"type": "redacted_thinking", "data": b.redacted_data}
    return {"type": "thinking", "thinking": b.text, "signature": b.signature or ""}


def messages_to_anthropic(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Neutral messages as (system prompt, Messages API turns)."""
    system = "\n\n".join(m.text for m in messages if m.role == "system") or None
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "assistant" if m.role == "assistant" else "user"
        blocks = [_block_to_anthropic(b) for b in m.content]
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    _answer_every_tool_use(turns)
    return system, turns


def _answer_every_tool_use(turns: list[dict[str, Any]]) -> None:
    """Make each assistant `tool_use` answered in the next user turn, tool results first."""
    for i, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        ids = [b["id"] for b in turn["content"] if b["type"] == "tool_use"]
        if not ids:
            continue
        if i + 1 == len(turns):
            continue  # the caller has not answered yet; the API accepts a trailing assistant turn
        nxt = turns[i + 1]
        answered = {b["tool_use_id"] for b in nxt["content"] if b["type"] == "tool_result"}
        for missing in [x for x in ids if x not in answered]:
            log.warning(
                "tool call %s had no result; sending an error result so the API accepts the turn", missing
            )
            nxt["content"].append(
                {"type": "tool_result", "tool_use_id": missing, "content": MISSING_RESULT, "is_error": True}
            )
        nxt["content"].sort(key=lambda b: b["type"] != "tool_result")


# Conversion: Anthropic -> neutral ------------------------------------------------------------------------


def _block_from_anthropic(b: dict[str, Any]) -> ContentBlock | None:
    kind = b.get("type")
    if kind == "text":
        return TextBlock(text=b["text"])
    if kind == "thinking":
        return ReasoningBlock(text=b.get("thinking", ""), signature=b.get("signature") or None)
    if kind == "redacted_thinking":
        return ReasoningBlock(redacted_data=b["data"])
    if kind == "tool_use":
        return ToolCall(id=b["id"], name=b["name"], arguments=dict(b.get("input") or {}))
    if kind == "tool_result":
        content = b.get("content", "")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content)
        return ToolResult(tool_call_id=b["tool_use_id"], content=content, is_error=bool(b.get("is_error")))
    if kind == "image":
        src = b["source"]
        if src["type"] == "url":
            return ImageBlock(url=src["url"])
        return ImageBlock(data=src["data"], media_type=src["media_type"])
    return None


def messages_from_anthropic(system: str | None, turns: list[dict[str, Any]]) -> list[Message]:
    """Messages API turns back to neutral messages (tool results become a `tool` turn)."""
    out: list[Message] = [Message.system(system)] if system else []
    for t in turns:
        content = t["content"]
        raw = [{"type": "text", "text": content}] if isinstance(content, str) else content
        blocks = [x for x in (_block_from_anthropic(b) for b in raw) if x is not None]
        if t["role"] == "assistant":
            out.append(Message(role="assistant", content=blocks))
            continue
        results = [b for b in blocks if isinstance(b, ToolResult)]
        rest: list[ContentBlock] = [b for b in blocks if not isinstance(b, ToolResult)]
        if results:
            out.append(Message.tool(results))
        if rest:
            out.append(Message(role="user", content=rest))
    return out


def usage_from_anthropic(u: Any) -> Usage | None:
    """Anthropic's `input_tokens` already excludes cache reads and writes."""
    if u is None:
        return None
    details = getattr(u, "output_tokens_details", None)
    creation = getattr(u, "cache_creation", None)  # the split of cache writes by lifetime (5m / 1h)
    return Usage(
        input_tokens=u.input_tokens or 0,
        cache_read_tokens=getattr(u, "cache_read_input_tokens", None) or 0,
        cache_write_tokens=getattr(u, "cache_creation_input_tokens", None) or 0,
        output_tokens=u.output_tokens or 0,
        reasoning_tokens=(getattr(details, "thinking_tokens", None) or 0) if details else 0,
        cache_write_1h_tokens=(getattr(creation, "ephemeral_1h_input_tokens", None) or 0) if creation else 0,
    )


def completion_from_anthropic(msg: Any, *, model_id: str, provider: str) -> Completion:
    """A Message (or an accumulated stream) as a neutral Completion."""
    if getattr(msg, "content", None) is None:
        raise errors.MalformedResponseError(f"{model_id}: the response is not a message", provider=provider)
    blocks = [x for x in (_block_from_anthropic(b.to_dict()) for b in msg.content) if x is not None]
    return Completion(
        model_id=model_id,
        provider=provider,
        model=msg.model,
        content=blocks,
        stop_reason=STOP_REASONS.get(msg.stop_reason or "", "other"),
        raw_stop_reason=msg.stop_reason,
        usage=usage_from_anthropic(msg.usage),
        request_id=getattr(msg, "_request_id", None) or msg.id,
    )


# The provider -------------------------------------------------------------------------------------------


class AnthropicProvider(SDKProvider):
    """Anthropic's Messages API through the official `anthropic` SDK."""

    provider = "anthropic"
    price_vendor = "anthropic"
    batches = "llmbench.providers.anthropic_batches:AnthropicBatches"
    stop_reasons = STOP_REASONS

    default_key_env = "ANTHROPIC_API_KEY"

    def _sdk_client_class(self) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic

    def build_request(
        self, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The request body sent to /v1/messages (also used by tests to validate against the spec)."""
        system, turns = messages_to_anthropic(messages)
        body: dict[str, Any] = {"model": self.model, "messages": turns, "max_tokens": DEFAULT_MAX_TOKENS}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [tool_to_anthropic(t) for t in tools]
        for key, value in params.items():
            if value is None:
                continue
            if key == "stop":
                key, value = "stop_sequences", [value] if isinstance(value, str) else value
            if key == "tool_choice":
                value = tool_choice_to_anthropic(value)
            if key == "parallel_tool_calls":
                key, value = (
                    "tool_choice",
                    {**body.get("tool_choice", {"type": "auto"}), "disable_parallel_tool_use": not value},
                )
            body[key] = value
        return body

    async def _call(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> Completion:
        import anthropic

        try:
            create = self._client().messages.create
            msg = await create(**sdk_kwargs(create, self.build_request(messages, tools, params)))
        except anthropic.AnthropicError as exc:
            raise map_sdk_error(exc, anthropic, self.model_id) from None
        return completion_from_anthropic(msg, model_id=self.model_id, provider=self.provider)

    async def _stream(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        import anthropic
        from anthropic.lib.streaming._messages import accumulate_event

        body = self.build_request(messages, tools, params)
        snapshot: Any = None
        json_bufs: dict[int, bytes] = {}
        pieces = _Pieces()
        tool_index: dict[int, int] = {}  # content-block index -> position among tool calls
        request_id = None
        try:
            create = self._client().messages.create
            stream = await create(**sdk_kwargs(create, {**body, "stream": True}))
            request_id = stream.response.headers.get("request-id")
            async for event in stream:
                if not pieces.take(event):  # text, thinking and tool JSON are joined once, at the end
                    snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
                if event.type == "content_block_start" and event.content_block.type == "tool_use":
                    tool_index[event.index] = len(tool_index)
                    block = event.content_block
                    yield ToolCallStart(index=tool_index[event.index], id=block.id, name=block.name)
                elif event.type == "content_block_delta":
                    d = event.delta
                    if d.type == "text_delta":
                        yield TextDelta(text=d.text)
                    elif d.type == "thinking_delta":
                        yield ReasoningDelta(text=d.thinking)
                    elif d.type == "input_json_delta" and d.partial_json:
                        yield ToolCallDelta(index=tool_index[event.index], arguments_delta=d.partial_json)
        except (anthropic.AnthropicError, httpx2.TransportError) as exc:
            err = map_sdk_error(exc, anthropic, self.model_id)
            # message_start already reported the input tokens: a cut stream is still billed for them.
            err.partial_usage = usage_from_anthropic(snapshot.usage) if snapshot is not None else None
            raise err from None
        except (RuntimeError, ValueError) as exc:  # accumulator: events out of order or broken tool JSON
            raise errors.MalformedResponseError(
                f"{self.model_id}: bad stream: {exc}", provider=self.provider
            ) from None
        if snapshot is None:
            raise errors.MalformedResponseError(
                f"{self.model_id}: the stream carried no events", provider=self.provider
            )
        try:
            pieces.settle(snapshot)
        except (IndexError, ValueError) as exc:
            raise errors.MalformedResponseError(
                f"{self.model_id}: bad stream: {exc}", provider=self.provider
            ) from None
        if request_id:
            snapshot._request_id = request_id  # as the non-streamed message carries it
        completion = completion_from_anthropic(snapshot, model_id=self.model_id, provider=self.provider)
        for index, call in enumerate(completion.tool_calls):
            yield ToolCallEnd(index=index, call=call)
        yield StopEvent(stop_reason=completion.stop_reason, completion=completion)


_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


class _Pieces:
    """The streamed text, thinking and tool-input JSON of each content block, joined once when the stream ends.

    The SDK's `accumulate_event` appends each piece to its block (`text += delta`) and re-parses a tool's whole
    partial JSON on every delta: time quadratic in the answer's length. Every other event still goes to it."""

    def __init__(self) -> None:
        self.parts: dict[tuple[int, str], list[str]] = {}

    def take(self, event: Any) -> bool:
        """Keep a delta of text, thinking or tool JSON (True); any other event is not for here (False)."""
        if event.type != "content_block_delta":
            return False
        kind = _DELTA_FIELDS.get(event.delta.type)
        if kind is None:
            return False
        self.parts.setdefault((event.index, kind), []).append(getattr(event.delta, kind))
        return True

    def settle(self, snapshot: Any) -> None:
        """Write the joined pieces into the snapshot's blocks, as `accumulate_event` would have."""
        from jiter import from_json  # the SDK's own partial-JSON parser (a dependency of the SDKs)

        for (index, kind), parts in self.parts.items():
            block, text = snapshot.content[index], "".join(parts)
            if kind == "partial_json":
                if text and block.type in ("tool_use", "server_tool_use"):
                    block.input = from_json(text.encode(), partial_mode=True)
            elif kind == "text" and block.type == "text":
                block.text += text
            elif kind == "thinking" and block.type == "thinking":
                block.thinking += text
