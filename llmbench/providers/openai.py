"""OpenAI Chat Completions adapter, also used for OpenAI-compatible servers (vLLM, Ollama, llama.cpp, Groq...).

Compatible servers deviate in known ways, tolerated here: tool calls without `id` get a stable synthetic id,
missing usage gives `usage=None` (so cost is unknown, not 0), `reasoning_content` becomes a reasoning block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from llmbench import errors
from llmbench.providers.errors_map import map_sdk_error
from llmbench.providers.openai_stream import StreamAccumulator
from llmbench.providers.sdk import SDKProvider, sdk_kwargs
from llmbench.providers.types import (
    Completion,
    ContentBlock,
    ImageBlock,
    Message,
    ReasoningBlock,
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

STOP_REASONS: dict[str, StopReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
ERROR_PREFIX = "Error: "


# Conversion: neutral -> OpenAI ---------------------------------------------------------------------------


def tool_to_openai(spec: ToolSpec) -> dict[str, Any]:
    """A tool spec in Chat Completions form."""
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
    }


def _image_url(block: ImageBlock) -> str:
    return block.url if block.url is not None else f"data:{block.media_type};base64,{block.data}"


def messages_to_openai(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral messages as Chat Completions messages (one `tool` message per tool result)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool" or (m.role == "user" and any(isinstance(b, ToolResult) for b in m.content)):
            for b in m.content:
                if isinstance(b, ToolResult):
                    text = ERROR_PREFIX + b.content if b.is_error else b.content
                    out.append({"role": "tool", "tool_call_id": b.tool_call_id, "content": text})
            rest: list[ContentBlock] = [b for b in m.content if not isinstance(b, ToolResult)]
            if rest:
                out.append({"role": "user", "content": _parts(rest)})
        elif m.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant"}
            text = "".join(b.text for b in m.content if isinstance(b, TextBlock))
            calls = [b for b in m.content if isinstance(b, ToolCall)]
            msg["content"] = text if text or not calls else None
            if calls:
                msg["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments_json()},
                    }
                    for c in calls
                ]
            out.append(msg)
        elif m.role == "system":
            out.append({"role": "system", "content": m.text})
        else:
            out.append({"role": "user", "content": _parts(m.content)})
    return out


def _parts(blocks: list[ContentBlock]) -> str | list[dict[str, Any]]:
    """User content: a plain string when it is text only (accepted by every compatible server)."""
    if all(isinstance(b, TextBlock) for b in blocks):
        return "".join(b.text for b in blocks)  # type: ignore[union-attr]
    parts: list[dict[str, Any]] = []
    for b in blocks:
        if isinstance(b, TextBlock):
            parts.append({"type": "text", "text": b.text})
        elif isinstance(b, ImageBlock):
            parts.append({"type": "image_url", "image_url": {"url": _image_url(b)}})
    return parts


# Conversion: OpenAI -> neutral ---------------------------------------------------------------------------


def messages_from_openai(raw: list[dict[str, Any]]) -> list[Message]:
    """Chat Completions messages back to neutral messages (consecutive tool messages become one turn)."""
    out: list[Message] = []
    for m in raw:
        role = m["role"]
        if role == "tool":
            result = ToolResult(tool_call_id=m["tool_call_id"], content=_text_of(m.get("content")))
            if out and out[-1].role == "tool":
                out[-1] = Message.tool([*out[-1].content, result])  # type: ignore[list-item]
            else:
                out.append(Message.tool([result]))
        elif role == "assistant":
            blocks: list[ContentBlock] = []
            if m.get("content"):
                blocks.append(TextBlock(text=_text_of(m["content"])))
            for i, tc in enumerate(m.get("tool_calls") or []):
                fn = tc.get("function") or {}
                blocks.append(
                    ToolCall.from_json(tc.get("id") or f"call_{i}", fn.get("name", ""), fn.get("arguments"))
                )
            out.append(Message(role="assistant", content=blocks))
        elif role in ("system", "developer"):
            out.append(Message.system(_text_of(m.get("content"))))
        else:
            content = m.get("content")
            if isinstance(content, str):
                out.append(Message.user(content))
            else:
                out.append(Message.user([_part_from_openai(p) for p in content or []]))
    return out


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def _part_from_openai(part: dict[str, Any]) -> ContentBlock:
    if part.get("type") == "image_url":
        url = part["image_url"]["url"]
        if url.startswith("data:") and ";base64," in url:
            head, data = url.split(";base64,", 1)
            return ImageBlock(data=data, media_type=head.removeprefix("data:"))
        return ImageBlock(url=url)
    return TextBlock(text=part.get("text", ""))


def usage_from_openai(usage: Any) -> Usage | None:
    """Normalise OpenAI usage: `prompt_tokens` includes cached tokens, so they are split out here."""
    if usage is None:
        return None
    prompt = usage.prompt_tokens or 0
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
    if cached > prompt:
        raise ValueError(
            f"usage has {cached} cached tokens of {prompt} prompt tokens; cached tokens are a part of them"
        )
    out_details = getattr(usage, "completion_tokens_details", None)
    reasoning = (getattr(out_details, "reasoning_tokens", None) or 0) if out_details else 0
    return Usage(
        input_tokens=prompt - cached,
        cache_read_tokens=cached,
        output_tokens=usage.completion_tokens or 0,
        reasoning_tokens=reasoning,
    )


def completion_from_openai(resp: Any, *, model_id: str, provider: str) -> Completion:
    """A ChatCompletion (or an accumulated stream) as a neutral Completion."""
    if not getattr(resp, "choices", None):
        raise errors.MalformedResponseError(
            f"{model_id}: the response has no choices (is the base URL an OpenAI-compatible endpoint?)",
            provider=provider,
        )
    choice = resp.choices[0]
    msg = choice.message
    blocks: list[ContentBlock] = []
    reasoning = getattr(msg, "reasoning_content", None) or (msg.model_extra or {}).get("reasoning_content")
    if reasoning:
        blocks.append(ReasoningBlock(text=reasoning))
    if msg.content:
        blocks.append(TextBlock(text=msg.content))
    if getattr(msg, "refusal", None):
        blocks.append(TextBlock(text=msg.refusal))
    for i, tc in enumerate(msg.tool_calls or []):
        fn = tc.function
        blocks.append(ToolCall.from_json(tc.id or _synthetic_id(resp, i), fn.name, fn.arguments))
    raw_stop = choice.finish_reason
    stop: StopReason = (
        "refusal" if getattr(msg, "refusal", None) else STOP_REASONS.get(raw_stop or "", "other")
    )
    return Completion(
        model_id=model_id,
        provider=provider,
        model=resp.model or model_id.partition(":")[2],
        content=blocks,
        stop_reason=stop,
        raw_stop_reason=raw_stop,
        usage=usage_from_openai(resp.usage),
        request_id=getattr(resp, "_request_id", None) or resp.id,
    )


def _synthetic_id(resp: Any, index: int) -> str:
    """A stable id for servers that omit tool-call ids (so results can still be matched to calls)."""
    return f"call_{resp.id or 'x'}_{index}"


# The provider -------------------------------------------------------------------------------------------


class OpenAIProvider(SDKProvider):
    """OpenAI's Chat Completions API through the official `openai` SDK."""

    provider = "openai"
    price_vendor = "openai"
    batches = "llmbench.providers.openai_batches:OpenAIBatches"
    stop_reasons = STOP_REASONS

    default_key_env = "OPENAI_API_KEY"

    def _sdk_client_class(self) -> Any:
        import openai

        return openai.AsyncOpenAI

    def build_request(
        self, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The request body sent to /chat/completions (also used by tests to validate against the spec)."""
        body: dict[str, Any] = {"model": self.model, "messages": messages_to_openai(messages)}
        if tools:
            body["tools"] = [tool_to_openai(t) for t in tools]
        for key, value in params.items():
            if value is not None:
                body[key] = value
        return body

    async def _call(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> Completion:
        import openai

        body = self.build_request(messages, tools, params)
        try:
            create = self._client().chat.completions.create
            resp = await create(**sdk_kwargs(create, body))
        except openai.OpenAIError as exc:
            raise map_sdk_error(exc, openai, self.model_id) from None
        if isinstance(resp, str) or not hasattr(resp, "choices"):
            raise errors.MalformedResponseError(
                f"{self.model_id}: the server answered with text, not a chat completion: {str(resp)[:200]!r}",
                provider=self.provider,
            )
        return completion_from_openai(resp, model_id=self.model_id, provider=self.provider)

    async def _stream(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        import openai

        body = self.build_request(messages, tools, params)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        state = StreamAccumulator()
        request_id = None
        started: set[int] = set()
        try:
            create = self._client().chat.completions.create
            stream = await create(**sdk_kwargs(create, body))
            request_id = stream.response.headers.get("x-request-id")
            async for chunk in stream:
                state.add(chunk)
                for choice in chunk.choices[:1]:
                    delta = choice.delta
                    if delta.content:
                        yield TextDelta(text=delta.content)
                    for tc in delta.tool_calls or []:
                        if tc.index not in started:
                            started.add(tc.index)
                            name = tc.function.name if tc.function else ""
                            yield ToolCallStart(index=tc.index, id=tc.id or "", name=name or "")
                        if tc.function and tc.function.arguments:
                            yield ToolCallDelta(index=tc.index, arguments_delta=tc.function.arguments)
        except openai.OpenAIError as exc:
            err = map_sdk_error(exc, openai, self.model_id)
            err.partial_usage = usage_from_openai(state.usage)  # billed even if cut
            raise err from None
        if not state.chunks:
            raise errors.MalformedResponseError(
                f"{self.model_id}: the stream carried no chunks", provider=self.provider
            )
        final = state.completion()
        if request_id:
            final._request_id = request_id  # as the non-streamed response carries it
        completion = completion_from_openai(final, model_id=self.model_id, provider=self.provider)
        for index, call in enumerate(completion.tool_calls):
            yield ToolCallEnd(index=index, call=call)
        yield StopEvent(stop_reason=completion.stop_reason, completion=completion)
