"""Anthropic adapter over the real `anthropic` SDK, replaying recorded and synthetic HTTP.

Every request body the SDK sent is validated against the Anthropic OpenAPI spec when each test ends (fixture
`anthropic_mock`), as far as that spec covers it: it predates URL image sources (2025), so those are checked
by shape in their own test and swapped for an equivalent base64 source before validation.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from helpers import FAKE_ANTHROPIC_KEY
from hypothesis import given, settings
from hypothesis import strategies as st
from spec import validate_anthropic_messages_request

from llmbench import errors
from llmbench.providers import (
    Completion,
    Config,
    Message,
    ReasoningBlock,
    ReasoningDelta,
    StopEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResult,
    ToolSpec,
    Usage,
    UsageEvent,
    get_provider,
)
from llmbench.providers.anthropic import MISSING_RESULT
from llmbench.providers.base import Provider
from llmbench.testing import Interaction, Recorder, mock_transport

MakeProvider = Callable[..., tuple[Provider, Recorder]]
PATH = "/v1/messages"


def _make(recorders: list[Recorder], interactions: list[Interaction], model_id: str, **options: Any):
    transport, rec = mock_transport(interactions)
    recorders.append(rec)
    options.setdefault("api_key", FAKE_ANTHROPIC_KEY)
    options.setdefault("config", Config())
    provider = get_provider(model_id, http_client=httpx2.AsyncClient(transport=transport), **options)
    return provider, rec


def _spec_comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The body with URL image sources (newer than the spec snapshot) as base64 sources of the same type."""
    body = copy.deepcopy(body)
    for turn in body.get("messages", []):
        for block in turn["content"] if isinstance(turn["content"], list) else []:
            if block.get("type") == "image" and block["source"].get("type") == "url":
                block["source"] = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    return body


@pytest.fixture
def anthropic_mock(shared_data) -> Iterator[MakeProvider]:
    """Factory (interactions, model_id=..., **options) -> (provider, recorder); bodies validated on teardown."""
    recorders: list[Recorder] = []

    def make(interactions: list[Interaction], model_id: str = "anthropic:claude-sonnet-4-0", **options: Any):
        return _make(recorders, interactions, model_id, **options)

    yield make
    for request in [r for rec in recorders for r in rec.requests]:
        assert request.json is not None, f"request body is not JSON: {request.body[:200]!r}"
        validate_anthropic_messages_request(_spec_comparable(request.json))


def _recorded_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recorded turns without pydantic-ai's explicit `is_error: false` (absent means the same)."""
    out = copy.deepcopy(turns)
    for turn in out:
        for block in turn["content"]:
            if block.get("is_error") is False:
                del block["is_error"]
    return out


# -- synthetic responses in the wire format ----------------------------------------------------------------

USAGE = {
    "input_tokens": 40,
    "output_tokens": 25,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}


def message_json(
    blocks: list[dict[str, Any]], *, stop: str = "end_turn", usage: dict[str, Any] = USAGE
) -> dict[str, Any]:
    """A Messages API response body."""
    return {
        "id": "msg_same",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def message_sse(
    blocks: list[dict[str, Any]], *, stop: str = "end_turn", usage: dict[str, Any] = USAGE, pieces: int = 3
) -> list[Any]:
    """The same answer as Anthropic stream events, each block's text/thinking/JSON cut into `pieces` deltas."""

    def cut(text: str) -> list[str]:
        size = max(1, -(-len(text) // pieces))
        return [text[i : i + size] for i in range(0, len(text), size)]

    start = {
        **message_json([], stop=stop, usage=usage),
        "stop_reason": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events: list[Any] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for i, b in enumerate(blocks):
        if b["type"] == "text":
            head, deltas = (
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": t} for t in cut(b["text"])],
            )
        elif b["type"] == "thinking":
            head = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": t} for t in cut(b["thinking"])]
            deltas.append({"type": "signature_delta", "signature": b["signature"]})
        else:
            head = {**b, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": t} for t in cut(json.dumps(b["input"]))]
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": i, "content_block": head})
        )
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}) for d in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


async def collect(provider: Provider, prompt: Any, **kw: Any) -> list[Any]:
    return [event async for event in provider.astream(prompt, **kw)]


WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


# -- recorded exchanges -------------------------------------------------------------------------------------


async def test_recorded_plain_answer_with_system_prompt(anthropic_mock, cassette):
    recorded = cassette("test_anthropic/test_anthropic_model_instructions")
    provider, rec = anthropic_mock(recorded, "anthropic:claude-3-opus-latest")
    convo = [
        Message.system("You are a helpful assistant.\n\n"),
        Message.user("What is the capital of France?"),
    ]
    result = await provider.acomplete(convo)
    assert result.text == "The capital of France is Paris."
    assert (result.stop_reason, result.raw_stop_reason) == ("stop", "end_turn")
    assert result.usage == Usage(input_tokens=20, output_tokens=10)
    sent = rec.last.json
    expected = recorded[0].request_json
    assert sent["system"] == expected["system"]
    assert sent["messages"] == expected["messages"]
    assert sent["max_tokens"] == expected["max_tokens"]
    assert rec.last.headers["authorization"] == f"Bearer {FAKE_ANTHROPIC_KEY}"  # anthropic 2.x SDK
    rec.assert_all_used()


async def test_recorded_tool_round_trip(anthropic_mock, cassette):
    """tool_use -> our tool result goes back as a tool_result block in the next user turn, exactly as the
    real API accepted it in the recording."""
    recorded = cassette("test_anthropic/test_anthropic_tool_output")
    provider, rec = anthropic_mock(recorded, "anthropic:claude-sonnet-4-5")
    raw_tools = recorded[0].request_json["tools"]
    tools = [
        ToolSpec(name=t["name"], description=t["description"], parameters=t["input_schema"])
        for t in raw_tools
    ]
    question = Message.user("What is the largest city in the user country?")
    first = await provider.acomplete([question], tools=tools, tool_choice={"type": "any"})
    assert first.stop_reason == "tool_calls"
    [call] = first.tool_calls
    assert (call.id, call.name, call.arguments) == ("toolu_01X9wcHKKAZD9tBC711xipPa", "get_user_country", {})
    convo = [question, first.to_message(), Message.tool([ToolResult(tool_call_id=call.id, content="Mexico")])]
    second = await provider.acomplete(convo, tools=tools, tool_choice={"type": "any"})
    assert second.tool_calls[0].arguments == {"city": "Mexico City", "country": "Mexico"}
    for sent, ix in zip(rec.requests, recorded, strict=True):
        assert sent.json["messages"] == _recorded_turns(ix.request_json["messages"])
        assert sent.json["tools"] == ix.request_json["tools"]
    assert rec.last.json["messages"][2]["content"][0]["type"] == "tool_result"
    rec.assert_all_used()


async def test_recorded_thinking_is_kept_and_sent_back_with_its_signature(anthropic_mock, cassette):
    recorded = cassette("test_anthropic/test_anthropic_tool_with_thinking")
    provider, rec = anthropic_mock(recorded, "anthropic:claude-sonnet-4-0")
    tool = recorded[0].request_json["tools"][0]
    tools = [ToolSpec(name=tool["name"], parameters=tool["input_schema"])]
    thinking = {"budget_tokens": 3000, "type": "enabled"}
    question = Message.user("What is the largest city in the user country?")
    first = await provider.acomplete([question], tools=tools, thinking=thinking, tool_choice={"type": "auto"})
    reasoning = first.content[0]
    recorded_block = recorded[0].response_json()["content"][0]
    assert isinstance(reasoning, ReasoningBlock)
    assert reasoning.signature == recorded_block["signature"] and reasoning.text == recorded_block["thinking"]
    assert first.text.startswith("I'll help you find the largest city")
    [call] = first.tool_calls
    convo = [question, first.to_message(), Message.tool([ToolResult(tool_call_id=call.id, content="Mexico")])]
    second = await provider.acomplete(convo, tools=tools, thinking=thinking, tool_choice={"type": "auto"})
    assert "Mexico City" in second.text
    assert rec.last.json["messages"] == _recorded_turns(recorded[1].request_json["messages"])
    assert rec.last.json["thinking"] == thinking
    rec.assert_all_used()


async def test_recorded_thinking_stream(anthropic_mock, cassette):
    recorded = cassette("test_anthropic/test_anthropic_model_thinking_part_stream")
    provider, rec = anthropic_mock(recorded, "anthropic:claude-sonnet-4-0")
    events = await collect(
        provider, "How do I cross the street?", thinking={"budget_tokens": 1024, "type": "enabled"}
    )
    done = events[-1].completion
    thought = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert thought == done.reasoning and thought.startswith("This is a straightforward question")
    assert text == done.text and text.endswith("when crossing streets.")
    assert done.content[0].signature and done.content[0].signature.startswith("EvMCCkYICxgCKk")
    assert done.usage == Usage(input_tokens=43, output_tokens=282)
    [usage] = [e for e in events if isinstance(e, UsageEvent)]
    assert usage.usage == done.usage
    assert (
        rec.last.json["stream"] is True and rec.last.json["messages"] == recorded[0].request_json["messages"]
    )


async def test_recorded_short_stream(anthropic_mock, cassette):
    provider, _ = anthropic_mock(
        cassette("test_anthropic/test_request_stream_fallback_for_high_max_tokens"),
        "anthropic:claude-sonnet-4-5",
    )
    events = await collect(provider, "What is 1+1? Answer with just the number.", max_tokens=32000)
    done = events[-1].completion
    assert (done.text, done.stop_reason, done.usage) == ("2", "stop", Usage(input_tokens=20, output_tokens=5))


async def test_recorded_404_is_invalid_request_with_its_message(anthropic_mock, cassette):
    [not_found] = cassette("test_anthropic/test_anthropic_count_tokens_error")
    provider, rec = anthropic_mock(
        [not_found.with_faults(path=PATH)], "anthropic:claude-does-not-exist", retry=3
    )
    with pytest.raises(errors.InvalidRequestError) as info:
        await provider.acomplete("hello")
    assert "model: claude-does-not-exist" in str(info.value)
    assert info.value.status_code == 404 and len(rec.requests) == 1


async def test_text_plain_answer_is_malformed(anthropic_mock, cassette):
    [text] = cassette("test_openai/test_text_response")
    provider, _ = anthropic_mock([text.with_faults(path=PATH)], retry=1)
    with pytest.raises(errors.MalformedResponseError):
        await provider.acomplete("hi")


async def test_json_that_is_not_a_message_is_malformed(anthropic_mock, cassette):
    [bad] = cassette("test_openai/test_invalid_response")
    provider, _ = anthropic_mock([bad.with_faults(path=PATH)], retry=1)
    with pytest.raises(errors.MalformedResponseError):
        await provider.acomplete("hi")


async def test_overloaded_529_is_a_retryable_server_error(anthropic_mock):
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    provider, _ = anthropic_mock(
        [
            Interaction.error(529, body, path=PATH),
            Interaction.json(message_json([{"type": "text", "text": "ok"}]), path=PATH),
        ],
        retry=_policy(2),
    )
    result = await provider.acomplete("hi")
    assert result.text == "ok" and len(result.attempts) == 2
    assert result.attempts[0].error_type == "ServerError" and result.attempts[0].status_code == 529


def _policy(attempts: int):
    from llmbench.providers import RetryPolicy

    return RetryPolicy(max_attempts=attempts, initial_delay=0.0, jitter=0.0)


# -- request building ----------------------------------------------------------------------------------------


async def test_request_rules_of_the_messages_api(anthropic_mock, caplog):
    convo = [
        Message.system("Rule one."),
        Message.user("part one"),
        Message.user("part two"),  # consecutive user turns must merge
        Message.model_validate(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_call",
                        "id": "toolu_a",
                        "name": "get_weather",
                        "arguments": {"city": "Oslo"},
                    },
                    {
                        "type": "tool_call",
                        "id": "toolu_b",
                        "name": "get_weather",
                        "arguments": {"city": "Rome"},
                    },
                ],
            }
        ),
        Message.user("and also this"),  # user text arrives before the results: results must come first
        Message.tool(
            [ToolResult(tool_call_id="toolu_a", content="cold", is_error=False)]
        ),  # toolu_b unanswered
        Message.system("Rule two."),
    ]
    provider, rec = anthropic_mock(
        [Interaction.json(message_json([{"type": "text", "text": "ok"}]), path=PATH)]
    )
    with caplog.at_level(logging.WARNING):
        await provider.acomplete(convo, tools=[WEATHER], stop=["END"], temperature=0.5)
    body = rec.last.json
    assert body["system"] == "Rule one.\n\nRule two."
    assert [t["role"] for t in body["messages"]] == ["user", "assistant", "user"]
    assert [b["text"] for b in body["messages"][0]["content"]] == ["part one", "part two"]
    last = body["messages"][2]["content"]
    assert [b["type"] for b in last] == ["tool_result", "tool_result", "text"]
    assert last[0] == {"type": "tool_result", "tool_use_id": "toolu_a", "content": "cold"}
    assert last[1] == {
        "type": "tool_result",
        "tool_use_id": "toolu_b",
        "content": MISSING_RESULT,
        "is_error": True,
    }
    assert "toolu_b" in caplog.text
    assert body["stop_sequences"] == ["END"] and "stop" not in body
    assert body["temperature"] == 0.5  # not a named argument of anthropic 2.x's create(): sent in the body
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER.parameters}
    ]
    assert body["max_tokens"] == 4096  # required by the API: a default is always sent


async def test_images_in_both_source_forms(anthropic_mock):
    convo = [
        Message.model_validate(
            {
                "role": "user",
                "content": [
                    {"type": "image", "url": "https://example.com/cat.png"},
                    {"type": "image", "data": "/9j/4AAQ", "media_type": "image/jpeg"},
                    {"type": "text", "text": "What are these?"},
                ],
            }
        )
    ]
    provider, rec = anthropic_mock(
        [Interaction.json(message_json([{"type": "text", "text": "cats"}]), path=PATH)]
    )
    await provider.acomplete(convo)
    blocks = rec.last.json["messages"][0]["content"]
    # Anthropic's documented shapes for URL and base64 image sources.
    assert blocks[0] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
    }


async def test_redacted_thinking_goes_back_verbatim(anthropic_mock):
    answer = message_json(
        [
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
            {"type": "thinking", "thinking": "plan", "signature": "sig-1"},
            {"type": "text", "text": "done"},
        ]
    )
    provider, rec = anthropic_mock(
        [
            Interaction.json(answer, path=PATH),
            Interaction.json(message_json([{"type": "text", "text": "ok"}]), path=PATH),
        ]
    )
    first = await provider.acomplete("q", thinking={"type": "enabled", "budget_tokens": 2048})
    await provider.acomplete([Message.user("q"), first.to_message(), Message.user("more")])
    assert rec.last.json["messages"][1]["content"] == answer["content"]


# -- streaming equals non-streaming ---------------------------------------------------------------------------

ANSWERS = {
    "text": ([{"type": "text", "text": "The answer is 42, as computed."}], "end_turn"),
    "thinking+text+two tools": (
        [
            {"type": "thinking", "thinking": "Two cities, two calls.", "signature": "c2lnbmF0dXJl"},
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": "get_weather",
                "input": {"city": "Oslo", "unit": "C"},
            },
        ],
        "tool_use",
    ),
    "max_tokens": ([{"type": "text", "text": "cut sho"}], "max_tokens"),
}


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
async def test_stream_accumulates_to_the_non_streamed_completion(anthropic_mock, answer):
    blocks, stop = answer
    headers = {"request-id": "req_same"}
    provider, _ = anthropic_mock(
        [
            Interaction.json(message_json(blocks, stop=stop), path=PATH, headers=headers),
            Interaction.sse(message_sse(blocks, stop=stop), path=PATH, headers=headers),
        ]
    )
    once = await provider.acomplete("q", tools=[WEATHER])
    events = await collect(provider, "q", tools=[WEATHER])
    assert_same_completion(events[-1].completion, once)
    starts = [(e.index, e.id) for e in events if isinstance(e, ToolCallStart)]
    expected_ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
    assert starts == list(enumerate(expected_ids))
    for index, block in enumerate(b for b in blocks if b["type"] == "tool_use"):
        text = "".join(e.arguments_delta for e in events if isinstance(e, ToolCallDelta) and e.index == index)
        assert json.loads(text) == block["input"]
    assert [e.call.id for e in events if isinstance(e, ToolCallEnd)] == expected_ids


def assert_same_completion(streamed: Completion, once: Completion) -> None:
    for field in ("content", "usage", "stop_reason", "raw_stop_reason", "model", "cost_usd", "request_id"):
        assert getattr(streamed, field) == getattr(once, field), field


@settings(max_examples=20, deadline=None)
@given(
    text=st.text(min_size=1, max_size=40),
    inputs=st.lists(
        st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=5), max_size=3),
        max_size=3,
    ),
    pieces=st.integers(1, 6),
)
def test_stream_equals_plain_for_any_answer(text, inputs, pieces):
    blocks = [{"type": "text", "text": text}] + [
        {"type": "tool_use", "id": f"toolu_{i}", "name": "get_weather", "input": args}
        for i, args in enumerate(inputs)
    ]
    stop = "tool_use" if inputs else "end_turn"
    provider, _ = _make(
        [],
        [
            Interaction.json(message_json(blocks, stop=stop), path=PATH),
            Interaction.sse(message_sse(blocks, stop=stop, pieces=pieces), path=PATH),
        ],
        "anthropic:claude-sonnet-4-0",
    )

    async def both() -> tuple[Completion, list[Any]]:
        return await provider.acomplete("q"), await collect(provider, "q")

    once, events = asyncio.run(both())
    assert_same_completion(events[-1].completion, once)
    assert [c.arguments for c in once.tool_calls] == inputs
    assert isinstance(events[-1], StopEvent)


# -- keys -----------------------------------------------------------------------------------------------------


async def test_key_never_leaks(anthropic_mock, caplog):
    caplog.set_level(logging.DEBUG)
    body = {
        "type": "error",
        "error": {"type": "authentication_error", "message": f"invalid x-api-key: {FAKE_ANTHROPIC_KEY}"},
    }
    provider, rec = anthropic_mock([Interaction.error(401, body, path=PATH)])
    assert FAKE_ANTHROPIC_KEY not in repr(provider)
    with pytest.raises(errors.AuthenticationError) as info:
        await provider.acomplete("hi")
    assert rec.last.headers["authorization"] == f"Bearer {FAKE_ANTHROPIC_KEY}"  # anthropic 2.x SDK
    shown = "".join(traceback.format_exception(info.value)) + str(info.value.attempts)
    assert "invalid x-api-key" in shown and FAKE_ANTHROPIC_KEY not in shown
    assert FAKE_ANTHROPIC_KEY not in caplog.text


async def test_complete_inside_a_running_loop(anthropic_mock):
    provider, _ = anthropic_mock(
        [Interaction.json(message_json([{"type": "text", "text": "sync ok"}]), path=PATH)]
    )
    assert provider.complete("hi").text == "sync ok"


async def test_stream_cut_mid_text_is_a_connection_error_not_retried(anthropic_mock):
    """The anthropic SDK lets transport errors out of a stream unwrapped; they must still be typed."""
    whole = Interaction.sse(message_sse([{"type": "text", "text": "a long answer here"}]), path=PATH)
    first_text = next(i for i, c in enumerate(whole.chunks()) if b"text_delta" in c)
    cut = whole.with_faults(cut_after_bytes=sum(len(c) for c in whole.chunks()[: first_text + 1]) + 3)
    provider, rec = anthropic_mock([cut, whole], retry=_policy(3))
    shown = []
    with pytest.raises(errors.ProviderConnectionError) as info:
        async for event in provider.astream("q"):
            shown.append(event)
    assert [type(e) for e in shown] == [TextDelta] and len(rec.requests) == 1
    assert info.value.attempts[0].usage == Usage(input_tokens=40, output_tokens=1)  # from message_start
