"""OpenAI Chat Completions adapter, also used for OpenAI-compatible servers (vLLM, Ollama, llama.cpp, Groq...).

Compatible servers deviate in known ways, tolerated here: tool calls without `id` get a stable synthetic id,
missing usage gives `usage=None` (so cost is unknown, not 0), `reasoning_content` becomes a reasoning block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2

from llmbench import errors
from llmbench.json_safe import loads, request_bytes
from llmbench.providers.errors_map import map_sdk_error
from llmbench.providers.openai_stream import StreamAccumulator
from llmbench.providers.sdk import SDKProvider
from llmbench.providers.sse import SSEReader
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


def usage_from_openai(usage: Mapping[str, Any] | None) -> Usage | None:
    """Normalise OpenAI usage: `prompt_tokens` includes cached tokens, so they are split out here."""
    if usage is None:
        return None
    prompt = usage.get("prompt_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    if cached > prompt:
        raise ValueError(
            f"usage has {cached} cached tokens of {prompt} prompt tokens; cached tokens are a part of them"
        )
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(
        input_tokens=prompt - cached,
        cache_read_tokens=cached,
        output_tokens=usage.get("completion_tokens") or 0,
        reasoning_tokens=reasoning,
    )


def completion_from_openai(
    resp: Mapping[str, Any], *, model_id: str, provider: str, request_id: str | None = None
) -> Completion:
    """A `chat.completion` object (parsed JSON, or an accumulated stream) as a neutral Completion."""
    choices = resp.get("choices") if isinstance(resp, Mapping) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], Mapping):
        raise errors.MalformedResponseError(
            f"{model_id}: the response has no choices (is the base URL an OpenAI-compatible endpoint?)",
            provider=provider,
        )
    choice = choices[0]
    msg = choice.get("message") or {}
    blocks: list[ContentBlock] = []
    if msg.get("reasoning_content"):
        blocks.append(ReasoningBlock(text=msg["reasoning_content"]))
    if msg.get("content"):
        blocks.append(TextBlock(text=msg["content"]))
    refusal = msg.get("refusal")
    if refusal:
        blocks.append(TextBlock(text=refusal))
    for i, tc in enumerate(msg.get("tool_calls") or ()):
        fn = tc.get("function") or {}
        call_id = tc.get("id") or _synthetic_id(resp, i)
        blocks.append(ToolCall.from_json(call_id, fn.get("name") or "", fn.get("arguments")))
    raw_stop = choice.get("finish_reason")
    stop: StopReason = "refusal" if refusal else STOP_REASONS.get(raw_stop or "", "other")
    return Completion(
        model_id=model_id,
        provider=provider,
        model=resp.get("model") or model_id.partition(":")[2],
        content=blocks,
        stop_reason=stop,
        raw_stop_reason=raw_stop,
        usage=usage_from_openai(resp.get("usage")),
        request_id=request_id or resp.get("id"),
    )


def _synthetic_id(resp: Mapping[str, Any], index: int) -> str:
    """A stable id for servers that omit tool-call ids (so results can still be matched to calls)."""
    return f"call_{resp.get('id') or 'x'}_{index}"


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
        return (await self._forward(self.build_request(messages, tools, params)))[0]

    async def _stream(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        started: set[int] = set()
        async for piece in self._read_stream(self.build_request(messages, tools, params), neutral=True):
            if not isinstance(piece, dict):
                if not isinstance(piece, bytes):  # (bytes come only when forwarding)
                    yield piece  # the StopEvent, after its tool calls' ends
                continue
            for choice in (piece.get("choices") or ())[:1]:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    yield TextDelta(text=delta["content"])
                for tc in delta.get("tool_calls") or ():
                    index, fn = tc.get("index", 0), tc.get("function") or {}
                    if index not in started:
                        started.add(index)
                        yield ToolCallStart(index=index, id=tc.get("id") or "", name=fn.get("name") or "")
                    if fn.get("arguments"):
                        yield ToolCallDelta(index=index, arguments_delta=fn["arguments"])

    # The wire: the SDK sends and maps errors; the body is read here, once, from its bytes ----------------

    forwards = "openai"

    async def _forward(self, body: dict[str, Any]) -> tuple[Completion, bytes]:
        """One attempt with `body` as the request (its model set to this provider's)."""
        response = await self._post({**body, "model": self.model}, stream=False)
        raw = response.content
        try:
            data = loads(raw)
        except ValueError:
            raise errors.MalformedResponseError(
                f"{self.model_id}: the server answered with text, not a chat completion: {raw[:200]!r}",
                provider=self.provider,
            ) from None
        request_id = response.headers.get("x-request-id")
        return completion_from_openai(
            data, model_id=self.model_id, provider=self.provider, request_id=request_id
        ), raw

    async def _forward_stream(self, body: dict[str, Any]) -> AsyncIterator[bytes | StopEvent]:
        async for piece in self._read_stream(body, neutral=False):
            if isinstance(piece, bytes | StopEvent):
                yield piece

    async def _read_stream(
        self, body: dict[str, Any], *, neutral: bool
    ) -> AsyncIterator[dict[str, Any] | bytes | StreamEvent]:
        """A streamed attempt: each chunk parsed (and, unless `neutral`, the bytes as they came), then the tool
        calls' ends (neutral only) and the StopEvent. Usage is always asked for: it is what the call costs."""
        options = body.get("stream_options") or {}
        body = {
            **body,
            "model": self.model,
            "stream": True,
            "stream_options": {**options, "include_usage": True},
        }
        state, reader = StreamAccumulator(), SSEReader()
        response = await self._post(body, stream=True)
        try:
            done = False
            async for raw in response.aiter_bytes():
                if not neutral:
                    yield raw
                for data in reader.feed(raw):
                    done = done or data == b"[DONE]"  # the SDK stops reading there too
                    if not done:
                        chunk = self._chunk(data)
                        state.add(chunk)
                        yield chunk
                if done:
                    break
        except Exception as exc:
            import openai

            err = map_sdk_error(exc, openai, self.model_id)
            err.partial_usage = usage_from_openai(state.usage)  # billed even if cut
            raise err from None
        finally:
            await response.aclose()
        if not state.chunks:
            raise errors.MalformedResponseError(
                f"{self.model_id}: the stream carried no chunks", provider=self.provider
            )
        request_id = response.headers.get("x-request-id")
        completion = completion_from_openai(
            state.completion(), model_id=self.model_id, provider=self.provider, request_id=request_id
        )
        if neutral:
            for index, call in enumerate(completion.tool_calls):
                yield ToolCallEnd(index=index, call=call)
        yield StopEvent(stop_reason=completion.stop_reason, completion=completion)

    def _chunk(self, data: bytes) -> dict[str, Any]:
        try:
            chunk = loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            raise errors.MalformedResponseError(
                f"{self.model_id}: a stream event is not a chat completion chunk: {data[:200]!r}",
                provider=self.provider,
            )
        if chunk.get("error"):  # a server that fails mid-stream says so in an event (as the SDK reads it)
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise errors.MalformedResponseError(
                f"{self.model_id}: the stream reported an error: {message}", provider=self.provider
            )
        return chunk

    async def _post(self, body: dict[str, Any], *, stream: bool) -> Any:
        """POST /chat/completions through the SDK (its auth, headers and errors); the answer comes back unread
        when streamed."""
        import openai

        try:
            return await self._client().post(
                "/chat/completions",
                cast_to=httpx2.Response,
                content=request_bytes(body),
                options={"headers": _STREAMED if stream else _JSON},
            )
        except openai.OpenAIError as exc:
            raise map_sdk_error(exc, openai, self.model_id) from None


_JSON = {"Content-Type": "application/json"}
_STREAMED = {**_JSON, "X-Stainless-Raw-Response": "stream"}  # the SDK then returns the response unread
