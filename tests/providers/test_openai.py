"""OpenAI (and OpenAI-compatible) adapter over the real `openai` SDK, replaying recorded and synthetic HTTP.

Every request body the SDK actually sent (the Recorder's bytes, not `build_request`) is validated against the
official OpenAI OpenAPI schema when each test ends (fixture `openai_mock`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from helpers import FAKE_OPENAI_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec import validate_openai_chat_request

from llmbench import errors
from llmbench.providers import (
    Completion,
    Config,
    Endpoint,
    Message,
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
from llmbench.providers.base import Provider
from llmbench.providers.types import to_messages
from llmbench.testing import Interaction, Recorder, mock_transport

MakeProvider = Callable[..., tuple[Provider, Recorder]]


def _make(recorders: list[Recorder], interactions: list[Interaction], model_id: str, **options: Any):
    transport, rec = mock_transport(interactions)
    recorders.append(rec)
    options.setdefault("api_key", FAKE_OPENAI_KEY)
    options.setdefault("config", Config())
    provider = get_provider(model_id, http_client=httpx2.AsyncClient(transport=transport), **options)
    return provider, rec


@pytest.fixture
def openai_mock(shared_data) -> Iterator[MakeProvider]:
    """Factory (interactions, model_id="openai:gpt-4o-mini", **options) -> (provider, recorder); on teardown
    every request body sent through any of them is validated against the OpenAI spec."""
    recorders: list[Recorder] = []

    def make(interactions: list[Interaction], model_id: str = "openai:gpt-4o-mini", **options: Any):
        return _make(recorders, interactions, model_id, **options)

    yield make
    sent = [r for rec in recorders for r in rec.requests]
    for request in sent:
        assert request.json is not None, f"request body is not JSON: {request.body[:200]!r}"
        validate_openai_chat_request(request.json)


# -- synthetic responses in the wire format ----------------------------------------------------------------


def chat_json(
    *,
    content: str | None = None,
    calls: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
    model: str = "gpt-4o-mini-2024-07-18",
    cid: str = "chatcmpl-same",
) -> dict[str, Any]:
    """A chat.completion body; `calls` are (id, name, arguments JSON)."""
    msg: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        msg["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
        ]
    return {
        "id": cid,
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


def chat_sse(
    *,
    pieces: list[str] = (),  # type: ignore[assignment]
    calls: list[tuple[str, str, list[str]]] = (),  # type: ignore[assignment]
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
    model: str = "gpt-4o-mini-2024-07-18",
    cid: str = "chatcmpl-same",
) -> list[Any]:
    """The same answer as chunks: text pieces, then every call's head, then argument pieces interleaved
    round-robin across calls (as parallel tool calls arrive), the finish chunk and the usage chunk."""
    base = {"id": cid, "object": "chat.completion.chunk", "created": 1, "model": model}

    def chunk(delta: dict[str, Any], fin: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": fin}]}

    out: list[Any] = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces]
    for index, (call_id, name, _) in enumerate(calls):
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        out.append(chunk({"tool_calls": [head]}))
    longest = max((len(args) for _, _, args in calls), default=0)
    for step in range(longest):
        for index, (_, _, args) in enumerate(calls):
            if step < len(args):
                out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": args[step]}}]}))
    out.append(chunk({}, finish))
    if usage is not None:
        out.append({**base, "choices": [], "usage": usage})
    return out


USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


async def collect(provider: Provider, prompt: Any, **kw: Any) -> list[Any]:
    return [event async for event in provider.astream(prompt, **kw)]


# -- recorded exchanges -------------------------------------------------------------------------------------


async def test_plain_recorded_response(openai_mock, cassette):
    provider, rec = openai_mock(cassette("test_openai/test_valid_response"), "openai:gpt-4o")
    result = await provider.acomplete("What is the capital of France?")
    assert result.text == "The capital of France is Paris."
    assert result.stop_reason == "stop"
    assert result.model == "gpt-4o-2024-08-06"
    assert result.usage == Usage(input_tokens=14, output_tokens=7)
    # gpt-4o lists at $2.50 / $10 per million: 14*2.5e-6 + 7*10e-6 = 3.5e-5 + 7e-5
    assert result.cost_usd == pytest.approx(1.05e-4)
    assert rec.last.headers["authorization"] == f"Bearer {FAKE_OPENAI_KEY}"
    assert rec.last.json == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    }
    rec.assert_all_used()


async def test_recorded_tool_call_round_trip_sends_what_the_api_accepted(openai_mock, cassette):
    recorded = cassette("test_openai/test_openai_tool_output")
    provider, rec = openai_mock(recorded, "openai:gpt-4o")
    country = ToolSpec(
        name="get_user_country", parameters=recorded[0].request_json["tools"][0]["function"]["parameters"]
    )
    final = ToolSpec(
        name="final_result",
        description="The final response which ends this conversation",
        parameters=recorded[0].request_json["tools"][1]["function"]["parameters"],
    )
    tools = [country, final]
    question = Message.user("What is the largest city in the user country?")
    first = await provider.acomplete([question], tools=tools, tool_choice="required", n=1)
    assert first.stop_reason == "tool_calls"
    [call] = first.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_iXFttys57ap0o16JSlC8yhYo", "get_user_country", {})
    convo = [question, first.to_message(), Message.tool([ToolResult(tool_call_id=call.id, content="Mexico")])]
    second = await provider.acomplete(convo, tools=tools, tool_choice="required", n=1)
    [answer] = second.tool_calls
    assert answer.arguments == {"city": "Mexico City", "country": "Mexico"}
    # The conversation we sent is the one the real API accepted (same messages, same tools).
    for sent, ix in zip(rec.requests, recorded, strict=True):
        expected = {k: v for k, v in ix.request_json.items() if k != "stream"}
        got = sent.json
        assert _same_turns(got["messages"]) == _same_turns(expected["messages"])
        assert got["tools"] == expected["tools"]
        assert got["tool_choice"] == expected["tool_choice"]
    rec.assert_all_used()


def _same_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages in a comparable form: assistant tool-call turns with `content: null` (the recording omits it;
    both mean no text) and tool arguments parsed (we re-serialise the JSON, spacing may differ)."""
    out = []
    for m in messages:
        m = dict(m)
        if m.get("role") == "assistant" and m.get("tool_calls"):
            m.setdefault("content", None)
            m["tool_calls"] = [
                {**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}}
                for c in m["tool_calls"]
            ]
        out.append(m)
    return out


async def test_recorded_stream_with_tool_call_and_usage(openai_mock, cassette):
    recorded = cassette("test_openai/test_run_stream_sync_streams_real_model")
    provider, rec = openai_mock(recorded, "openai:gpt-4o-mini")
    params = recorded[0].request_json["tools"][0]["function"]["parameters"]
    tool = ToolSpec(name="get_capital", parameters=params)
    prompt = [Message.user("What is the capital of the UK? Use the tool, then answer.")]
    events = await collect(provider, prompt, tools=[tool], tool_choice="auto")
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    deltas = [e.arguments_delta for e in events if isinstance(e, ToolCallDelta)]
    assert [(s.index, s.id, s.name) for s in starts] == [(0, "call_ZR5UUuTt3pf61kjwAJIYdVMj", "get_capital")]
    assert json.loads("".join(deltas)) == {"country": "UK"}
    [end] = [e for e in events if isinstance(e, ToolCallEnd)]
    assert end.call.arguments == {"country": "UK"}
    [usage] = [e for e in events if isinstance(e, UsageEvent)]
    assert usage.usage == Usage(input_tokens=53, output_tokens=15)
    stop = events[-1]
    assert isinstance(stop, StopEvent) and stop.stop_reason == "tool_calls"
    sent = rec.last.json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}

    # Second turn: the tool result goes back and the streamed text is the recorded answer.
    convo = [
        *prompt,
        stop.completion.to_message(),
        Message.tool([ToolResult(tool_call_id=end.call.id, content="London")]),
    ]
    events = await collect(provider, convo, tools=[tool], tool_choice="auto")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "The capital of the UK is London." == events[-1].completion.text
    assert events[-1].completion.usage == Usage(input_tokens=78, output_tokens=9)
    assert _same_turns(rec.last.json["messages"]) == _same_turns(recorded[1].request_json["messages"])
    rec.assert_all_used()


@pytest.mark.filterwarnings("ignore::llmbench.providers.UnknownPriceWarning")
async def test_compatible_server_without_tool_call_ids(openai_mock, cassette):
    """Gemini's OpenAI-compatible endpoint sends `"id": ""`: we invent a stable id and use it both in the
    assistant turn and the tool result, so the conversation stays consistent."""
    recorded = cassette("test_openai/test_compatible_api_with_tool_calls_without_id")
    cfg = Config(
        endpoints={"gemini": Endpoint(base_url="https://generativelanguage.googleapis.com/v1beta/openai")}
    )
    provider, rec = openai_mock(recorded, "gemini:gemini-2.5-pro-preview-05-06", config=cfg)
    tool = ToolSpec(
        name="get_current_time",
        description="Get the current time.",
        parameters=recorded[0].request_json["tools"][0]["function"]["parameters"],
    )
    question = Message.user("What is the current time?")
    first = await provider.acomplete([question], tools=[tool], tool_choice="auto")
    [call] = first.tool_calls
    assert call.id and call.name == "get_current_time" and call.arguments == {}
    assert first.provider == "gemini"
    assert first.usage == Usage(input_tokens=35, output_tokens=12)
    again = await provider.acomplete(
        [question, first.to_message(), Message.tool([ToolResult(tool_call_id=call.id, content="Noon")])],
        tools=[tool],
        tool_choice="auto",
    )
    assert again.text == "The current time is Noon."
    msgs = rec.last.json["messages"]
    assert msgs[1]["tool_calls"][0]["id"] == call.id == msgs[2]["tool_call_id"]
    assert rec.last.path == "/v1beta/openai/chat/completions"
    rec.assert_all_used()


@pytest.mark.filterwarnings("ignore::llmbench.providers.UnknownPriceWarning")
async def test_cerebras_compatible_server(openai_mock, cassette):
    cfg = Config(endpoints={"cerebras": Endpoint(base_url="https://api.cerebras.ai/v1")})
    provider, rec = openai_mock(
        cassette("test_openai/test_openai_model_cerebras_provider"), "cerebras:llama3.3-70b", config=cfg
    )
    result = await provider.acomplete("What is the capital of France?")
    assert result.text == "The capital of France is Paris."
    assert result.model == "llama-3.3-70b"
    assert result.usage == Usage(input_tokens=42, output_tokens=8)
    assert rec.last.json["model"] == "llama3.3-70b"
    rec.assert_all_used()


async def test_text_plain_answer_is_malformed(openai_mock, cassette):
    recorded = cassette("test_openai/test_text_response")
    provider, _ = openai_mock(recorded, "openai:gpt-4o", base_url="https://demo.example/bin", retry=1)
    with pytest.raises(errors.MalformedResponseError) as info:
        await provider.acomplete("What is the capital of France?")
    assert "not a chat completion" in str(info.value)


async def test_json_that_is_not_a_completion_is_malformed(openai_mock, cassette):
    recorded = cassette("test_openai/test_invalid_response")
    provider, _ = openai_mock(
        recorded, "openai:gpt-4o", base_url="https://demo.example/bin/content-type/application/json", retry=1
    )
    with pytest.raises(errors.MalformedResponseError):
        await provider.acomplete("What is the capital of France?")


async def test_broken_json_is_malformed_and_not_retried(openai_mock):
    broken = Interaction(status=200, headers={"content-type": "application/json"}, body=b'{"choices": [')
    provider, rec = openai_mock([broken], retry=3)
    with pytest.raises(errors.MalformedResponseError) as info:
        await provider.acomplete("hi")
    assert len(rec.requests) == 1 and len(info.value.attempts) == 1


async def test_404_is_invalid_request_with_the_servers_message(openai_mock):
    body = {
        "error": {
            "message": "The model `gpt-9-nope` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    provider, rec = openai_mock([Interaction.error(404, body, {"x-request-id": "req_404"})])
    with pytest.raises(errors.InvalidRequestError) as info:
        await provider.acomplete("hi")
    assert "does not exist" in str(info.value) and "404" in str(info.value)
    assert info.value.status_code == 404 and info.value.request_id == "req_404"
    assert len(rec.requests) == 1


async def test_context_length_400_is_typed(openai_mock):
    body = {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    provider, _ = openai_mock([Interaction.error(400, body)])
    with pytest.raises(errors.ContextLengthError):
        await provider.acomplete("hi")


# -- request bodies (validated against the spec on teardown) --------------------------------------------------


async def test_every_feature_of_a_request_is_valid_per_spec(openai_mock):
    convo = [
        Message.system("Be brief."),
        Message.model_validate(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image", "url": "https://example.com/cat.png"},
                    {"type": "image", "data": "iVBORw0KGgo=", "media_type": "image/png"},
                ],
            }
        ),
        Message.model_validate(
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "text": "hmm"},
                    {"type": "text", "text": "Let me check."},
                    {
                        "type": "tool_call",
                        "id": "call_1",
                        "name": "get_weather",
                        "arguments": {"city": "Paris"},
                    },
                    {
                        "type": "tool_call",
                        "id": "call_2",
                        "name": "get_weather",
                        "raw_arguments": "{bad json",
                    },
                ],
            }
        ),
        Message.tool(
            [
                ToolResult(tool_call_id="call_1", content="sunny"),
                ToolResult(tool_call_id="call_2", content="arguments were not JSON", is_error=True),
            ]
        ),
        Message.user("Thanks. And tomorrow?"),
    ]
    answer = chat_json(content="Rain.", usage=USAGE)
    provider, rec = openai_mock(
        [Interaction.json(answer), Interaction.sse(chat_sse(pieces=["Rain."], usage=USAGE), done=True)]
    )
    params = dict(max_tokens=50, temperature=0.2, top_p=0.9, stop=["\n\n"], seed=7, tool_choice="auto")
    await provider.acomplete(convo, tools=[WEATHER], **params)
    await collect(provider, convo, tools=[WEATHER], **params)
    body = rec.requests[0].json
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "user"]
    assert body["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png"},
    }
    assert body["messages"][1]["content"][2]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    calls = body["messages"][2]["tool_calls"]
    assert calls[1]["function"]["arguments"] == "{bad json"  # sent back verbatim, as the model wrote it
    assert body["messages"][4]["content"].startswith("Error: ")
    assert body["max_tokens"] == 50 and body["stop"] == ["\n\n"]
    assert "temperature" in rec.requests[1].json and rec.requests[1].json["stream"] is True


async def test_unset_params_are_not_sent(openai_mock):
    provider, rec = openai_mock([Interaction.json(chat_json(content="ok", usage=USAGE))])
    await provider.acomplete("hi", max_tokens=None, temperature=None)
    assert set(rec.last.json) == {"model", "messages"}


# -- streaming equals non-streaming ---------------------------------------------------------------------------

CASES = {
    "text": dict(text=["The ", "answer", " is 42."], calls=[], finish="stop", usage=USAGE),
    "text+parallel tools": dict(
        text=["Checking both."],
        calls=[
            ("call_a", "get_weather", ['{"ci', 'ty": "Pa', 'ris"}']),
            ("call_b", "get_weather", ['{"city"', ': "Oslo"}']),
        ],
        finish="tool_calls",
        usage=USAGE,
    ),
    "tools only, no usage": dict(
        text=[], calls=[("call_x", "get_weather", ['{"city": "Lima"}'])], finish="tool_calls", usage=None
    ),
    "length": dict(text=["cut"], calls=[], finish="length", usage={**USAGE, "completion_tokens": 1}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_stream_accumulates_to_the_non_streamed_completion(openai_mock, case):
    full = "".join(case["text"]) or None
    json_calls = [(i, n, "".join(parts)) for i, n, parts in case["calls"]]
    headers = {"x-request-id": "req_same"}
    plain = Interaction.json(
        chat_json(content=full, calls=json_calls, finish=case["finish"], usage=case["usage"]), headers=headers
    )
    streamed = Interaction.sse(
        chat_sse(pieces=case["text"], calls=case["calls"], finish=case["finish"], usage=case["usage"]),
        done=True,
        headers=headers,
    )
    provider, _ = openai_mock([plain, streamed])
    once = await provider.acomplete("weather?", tools=[WEATHER])
    events = await collect(provider, "weather?", tools=[WEATHER])
    assert_same_completion(events[-1].completion, once)
    if case["usage"] is None:
        # billed all the same: charged at the estimate (the prompt plus a full default answer), and said so
        assert once.usage is None and once.cost_usd == provider.estimate_call(to_messages("weather?"), {})
        assert once.attempts[-1].cost_basis == "estimated"
        assert not [e for e in events if isinstance(e, UsageEvent)]
    else:
        assert once.cost_usd is not None


def assert_same_completion(streamed: Completion, once: Completion) -> None:
    for field in ("content", "usage", "stop_reason", "raw_stop_reason", "model", "cost_usd", "request_id"):
        assert getattr(streamed, field) == getattr(once, field), field
    assert streamed.tool_calls == once.tool_calls


async def test_parallel_tool_calls_in_one_stream_stay_apart(openai_mock):
    calls = [
        ("call_a", "get_weather", ['{"ci', 'ty": "Pa', 'ris"}']),
        ("call_b", "get_weather", ['{"city"', ': "Oslo"}']),
        ("call_c", "get_time", ["{}"]),
    ]
    provider, _ = openai_mock(
        [Interaction.sse(chat_sse(calls=calls, finish="tool_calls", usage=USAGE), done=True)]
    )
    events = await collect(provider, "go")
    starts = [(e.index, e.id, e.name) for e in events if isinstance(e, ToolCallStart)]
    assert starts == [(0, "call_a", "get_weather"), (1, "call_b", "get_weather"), (2, "call_c", "get_time")]
    per_index: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            per_index[e.index] = per_index.get(e.index, "") + e.arguments_delta
    assert {i: json.loads(t) for i, t in per_index.items()} == {
        0: {"city": "Paris"},
        1: {"city": "Oslo"},
        2: {},
    }
    done = events[-1].completion
    assert [(c.id, c.arguments) for c in done.tool_calls] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"city": "Oslo"}),
        ("call_c", {}),
    ]
    ends = [(e.index, e.call.id) for e in events if isinstance(e, ToolCallEnd)]
    assert ends == [(0, "call_a"), (1, "call_b"), (2, "call_c")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points) if text[a:b]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(min_size=0, max_size=30),
    args=st.lists(st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=3), max_size=3),
    cuts=st.lists(st.integers(0, 200), max_size=6),
    with_usage=st.booleans(),
)
def test_stream_equals_plain_for_any_answer(text, args, cuts, with_usage):
    """Any text and any number of parallel calls, split at arbitrary points, accumulate to the plain answer."""
    calls = [(f"call_{i}", "get_weather", json.dumps(a)) for i, a in enumerate(args)]
    usage = USAGE if with_usage else None
    finish = "tool_calls" if calls else "stop"
    plain = Interaction.json(chat_json(content=text or None, calls=calls, finish=finish, usage=usage))
    streamed = Interaction.sse(
        chat_sse(
            pieces=_split(text, cuts),
            calls=[(i, n, _split(a, cuts)) for i, n, a in calls],
            finish=finish,
            usage=usage,
        ),
        done=True,
    )
    recorders: list[Recorder] = []
    provider, _ = _make(recorders, [plain, streamed], "openai:gpt-4o-mini")

    async def both() -> tuple[Completion, list[Any]]:
        return await provider.acomplete("q"), await collect(provider, "q")

    once, events = asyncio.run(both())
    assert_same_completion(events[-1].completion, once)
    assert [c.arguments for c in once.tool_calls] == args


async def test_stream_without_usage_is_charged_its_estimate(openai_mock):
    provider, _ = openai_mock([Interaction.sse(chat_sse(pieces=["hi"], usage=None), done=True)])
    events = await collect(provider, "hi")
    done = events[-1].completion
    assert done.usage is None and done.text == "hi"
    assert done.cost_usd == provider.estimate_call(to_messages("hi"), {}) > 0
    assert done.attempts[-1].cost_basis == "estimated"


async def test_stream_usage_before_final_empty_chunk(openai_mock):
    """Some servers put usage on the finish chunk itself; it must still be counted."""
    chunks = chat_sse(pieces=["hi"], usage=None)
    chunks[-1] = {**chunks[-1], "usage": USAGE}
    provider, _ = openai_mock([Interaction.sse(chunks, done=True)])
    events = await collect(provider, "hi")
    assert events[-1].completion.usage == Usage(input_tokens=120, output_tokens=30)


# -- keys ---------------------------------------------------------------------------------------------------


async def test_key_never_leaks_into_repr_errors_or_logs(openai_mock, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {
        "error": {
            "message": f"Incorrect API key provided: {FAKE_OPENAI_KEY}. You can find your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    seen = []
    provider, rec = openai_mock([Interaction.error(401, echo)], on_attempt=seen.append)
    assert FAKE_OPENAI_KEY not in repr(provider) and FAKE_OPENAI_KEY not in str(provider)
    with pytest.raises(errors.AuthenticationError) as info:
        await provider.acomplete("hi")
    assert rec.last.headers["authorization"].endswith(FAKE_OPENAI_KEY)  # the key did go to the server
    exc = info.value
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc.attempts) + str(seen)
    assert "Incorrect API key provided" in str(exc)
    assert FAKE_OPENAI_KEY not in text
    assert FAKE_OPENAI_KEY not in caplog.text
    assert caplog.records, "expected the failed attempt to be logged"


async def test_key_from_environment_is_redacted_too(fake_key, caplog):
    caplog.set_level(logging.DEBUG)
    key = fake_key["OPENAI_API_KEY"]
    echo = {"error": {"message": f"bad key {key}", "type": "authentication_error"}}
    transport, rec = mock_transport([Interaction.error(401, echo)])
    provider = get_provider(
        "openai:gpt-4o-mini", config=Config(), http_client=httpx2.AsyncClient(transport=transport)
    )
    with pytest.raises(errors.AuthenticationError) as info:
        await provider.acomplete("hi")
    assert rec.last.headers["authorization"] == f"Bearer {key}"
    assert key not in str(info.value) and key not in caplog.text and key not in repr(provider)


async def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    provider = get_provider("openai:gpt-4o-mini", config=Config())
    with pytest.raises(errors.AuthenticationError, match="OPENAI_API_KEY"):
        await provider.acomplete("hi")


# -- sync API inside a running loop --------------------------------------------------------------------------


async def test_complete_works_inside_a_running_event_loop(openai_mock):
    answers = [Interaction.json(chat_json(content=f"answer {i}", usage=USAGE)) for i in range(2)]
    provider, rec = openai_mock(answers)
    asyncio.get_running_loop()  # we are inside the test's loop, as in a Jupyter cell
    first = provider.complete("one")
    second = provider.complete("two")
    assert (first.text, second.text) == ("answer 0", "answer 1")
    assert [r.json["messages"][0]["content"] for r in rec.requests] == ["one", "two"]


def test_complete_works_without_a_loop(openai_mock):
    provider, _ = openai_mock([Interaction.json(chat_json(content="plain", usage=USAGE))])
    assert provider.complete("hi").text == "plain"


async def test_vendor_params_travel_in_the_body():
    """vLLM/Ollama take extras such as `top_k` that the SDK's create() does not name: they go in the JSON body
    (not validated against OpenAI's spec, which does not know them)."""
    provider, rec = _make(
        [], [Interaction.json(chat_json(content="ok", usage=USAGE))], "vllm:Qwen/Qwen2.5-7B-Instruct"
    )
    await provider.acomplete("hi", top_k=20, repetition_penalty=1.1, temperature=0.3)
    body = rec.last.json
    assert (body["top_k"], body["repetition_penalty"], body["temperature"]) == (20, 1.1, 0.3)
    assert body["model"] == "Qwen/Qwen2.5-7B-Instruct"


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -5, "completion_tokens": 3, "total_tokens": -2},
        {"prompt_tokens": 10, "completion_tokens": -1, "total_tokens": 9},
        {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13, "prompt_tokens_details": {"cached_tokens": 50}},
        {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
         "completion_tokens_details": {"reasoning_tokens": 9}},
    ],
    ids=["negative prompt", "negative completion", "cached above prompt", "reasoning above completion"],
)  # fmt: skip
async def test_usage_that_would_credit_money_is_a_malformed_response_charged_its_estimate(
    openai_mock, usage
) -> None:
    """Before, such usage was accepted and priced: spend became negative, credited to the next run's budget."""
    plain = Interaction.json(chat_json(content="hi", usage=usage))
    provider, _ = openai_mock([plain], retry=1)
    with pytest.raises(errors.MalformedResponseError) as caught:
        await provider.acomplete("hi")
    attempt = caught.value.attempts[-1]
    assert attempt.cost_usd == provider.estimate_call(to_messages("hi"), {}) > 0
    assert attempt.cost_basis == "estimated"
