"""The multi-turn tool loop over real HTTP: official SDKs -> loopback RecordedServer -> our tools -> DuckDB rows.

Answers are synthetic bodies in each API's wire format, shaped like the recorded exchanges in
../shared/data/provider_fixtures (two recorded conversations are replayed as well). Every test checks what the
SDK actually sent on the second request (one `tool` message per call for OpenAI; a user turn that starts with a
`tool_result` block for every `tool_use` id for Anthropic) and the rows left in a real store file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY

from llmbench.errors import ProviderError
from llmbench.providers import Config, StopEvent, TextDelta, ToolCallDelta, ToolCallStart, get_provider
from llmbench.store import Store
from llmbench.testing import Interaction, RecordedServer, shared_data_dir
from llmbench.tools import ToolLimits, ToolSet, tool
from llmbench.tools.limits import TRUNCATION_MARKER
from llmbench.tools.log import StepLogger, replay_messages
from llmbench.tools.loop import ToolRun, ToolStep, run_tools, stream_tools

EXPERIMENT = "tool-loop-test"
TEMPS = {"Paris": 18, "Tokyo": 24}


# -- wire-format answers -------------------------------------------------------------------------------------

OPENAI_USAGE = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
# gpt-4o-mini lists at $0.15 / $0.60 per million tokens: 100 * 0.15e-6 + 20 * 0.60e-6
OPENAI_TURN_COST = 2.7e-5
ANTHROPIC_USAGE = {
    "input_tokens": 40,
    "output_tokens": 25,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}
# claude-sonnet-4-0 lists at $3 / $15 per million tokens: 40 * 3e-6 + 25 * 15e-6
ANTHROPIC_TURN_COST = 4.95e-4


def chat_json(content: str | None = None, calls: list[tuple[str, str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """A chat.completion body like the recorded gpt-4o-mini ones; `calls` are (id, name, arguments text)."""
    msg: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if calls:
        msg["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
        ]
    return {
        "id": "chatcmpl-loop",
        "object": "chat.completion",
        "created": 1742842885,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": msg,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": OPENAI_USAGE,
    }


def chat_sse(content: str = "", calls: list[tuple[str, str, str]] = ()) -> list[Any]:  # type: ignore[assignment]
    """The same answer as chunks: text pieces, each call's head, argument pieces interleaved, finish, usage."""
    base = {"id": "chatcmpl-loop", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    out: list[Any] = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": content[i : i + 4]}) for i in range(0, len(content), 4)]
    for index, (cid, name, _) in enumerate(calls):
        head = {"index": index, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}
        out.append(chunk({"tool_calls": [head]}))
    pieces = [[args[i : i + 5] for i in range(0, len(args), 5)] for _, _, args in calls]
    for step in range(max((len(p) for p in pieces), default=0)):
        for index, p in enumerate(pieces):
            if step < len(p):
                out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": p[step]}}]}))
    out.append(chunk({}, "tool_calls" if calls else "stop"))
    out.append({**base, "choices": [], "usage": OPENAI_USAGE})
    return out


def use(cid: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": cid, "name": name, "input": arguments}


def message_json(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A Messages API body like the recorded claude-sonnet ones."""
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": "msg_loop",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE,
    }


def message_sse(blocks: list[dict[str, Any]]) -> list[Any]:
    """The same answer as Anthropic stream events (text and tool JSON cut into small deltas)."""
    final = message_json(blocks)
    start = {**final, "content": [], "stop_reason": None, "usage": {**ANTHROPIC_USAGE, "output_tokens": 1}}
    events: list[Any] = [("message_start", {"type": "message_start", "message": start})]
    for i, b in enumerate(blocks):
        if b["type"] == "text":
            head, text, kind, key = {"type": "text", "text": ""}, b["text"], "text_delta", "text"
        else:
            head, text, kind, key = (
                {**b, "input": {}},
                json.dumps(b["input"]),
                "input_json_delta",
                "partial_json",
            )
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": i, "content_block": head})
        )
        for j in range(0, len(text), 6):
            delta = {"type": kind, key: text[j : j + 6]}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    delta = {"type": "message_delta", "delta": {"stop_reason": final["stop_reason"], "stop_sequence": None}}
    events.append(("message_delta", {**delta, "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def openai_answer(content: str | None = None, calls: list[tuple[str, str, str]] = ()) -> Interaction:  # type: ignore[assignment]
    return Interaction.json(chat_json(content, calls), path="/v1/chat/completions")


def anthropic_answer(blocks: list[dict[str, Any]]) -> Interaction:
    return Interaction.json(message_json(blocks), path="/v1/messages")


# -- tools -------------------------------------------------------------------------------------------------


def weather_tools(parallel: int = 0) -> ToolSet:
    """get_weather; with `parallel=n`, each call waits until n calls are running at once (else it fails)."""
    barrier = asyncio.Barrier(parallel) if parallel else None

    @tool
    async def get_weather(city: str) -> dict[str, Any]:
        """Current temperature of a city."""
        if barrier is not None:
            async with asyncio.timeout(3):
                await barrier.wait()
        return {"city": city, "temp_c": TEMPS[city]}

    return ToolSet([get_weather], name="weather")


# -- harness -----------------------------------------------------------------------------------------------


def make_provider(server: RecordedServer, model_id: str) -> Any:
    if model_id.startswith("openai:"):
        return get_provider(model_id, api_key=FAKE_OPENAI_KEY, base_url=server.url + "/v1", config=Config())
    return get_provider(model_id, api_key=FAKE_ANTHROPIC_KEY, base_url=server.url, config=Config())


def validate_bodies(server: RecordedServer) -> None:
    """Check every sent body against the provider's OpenAPI spec when ../shared/data is present."""
    if shared_data_dir() is None:
        return
    from spec import validate_anthropic_messages_request, validate_openai_chat_request

    for request in server.requests:
        if request.path.endswith("/chat/completions"):
            validate_openai_chat_request(request.json)
        else:
            validate_anthropic_messages_request(request.json)


async def converse(
    tmp_path: Path,
    answers: list[Interaction],
    tools: ToolSet,
    *,
    model_id: str = "openai:gpt-4o-mini",
    prompt: str = "Weather in Paris and Tokyo?",
    stream: bool = False,
    limits: ToolLimits | None = None,
    **params: Any,
) -> tuple[ToolRun, RecordedServer, Any, list[Any]]:
    """Run one conversation against queued answers; returns the run, the server, the stored steps and events."""
    events: list[Any] = []
    with RecordedServer(answers) as server, Store.open(tmp_path / "runs.duckdb") as store:
        provider = make_provider(server, model_id)
        with StepLogger(store, EXPERIMENT, item_id="q1") as log:
            if stream:
                async for event in stream_tools(
                    provider, prompt, tools, limits=limits, on_step=log, **params
                ):
                    events.append(event)
                run = events[-1]
            else:
                run = await run_tools(provider, prompt, tools, limits=limits, on_step=log, **params)
        await provider.aclose()
        frame = store.tool_steps_frame(EXPERIMENT)
        assert replay_messages(store, EXPERIMENT, run.conversation_id) == run.messages[1:]
    validate_bodies(server)
    server.assert_all_used()
    return run, server, frame, events


def kinds(frame: Any) -> list[str]:
    return frame["kind"].tolist()


def openai_tool_messages(server: RecordedServer, n: int = 1) -> list[dict[str, Any]]:
    """The `tool` messages of request n (0-based)."""
    return [m for m in server.requests[n].json["messages"] if m["role"] == "tool"]


# -- two-turn conversations with parallel calls ----------------------------------------------------------------

PARALLEL_OPENAI = [
    ("call_paris", "get_weather", '{"city": "Paris"}'),
    ("call_tokyo", "get_weather", '{"city":"Tokyo"}'),
]


def check_parallel_rows(frame: Any, model_id: str, turn_cost: float) -> None:
    assert kinds(frame) == ["model_turn", "tool_call", "tool_call", "model_turn"]
    assert frame["step"].tolist() == [0, 1, 2, 3]
    assert frame["turn"].tolist() == [1, 1, 1, 2]
    assert set(frame["model_id"]) == {model_id}
    assert frame["item_id"].unique().tolist() == ["q1"]
    calls = frame[frame["kind"] == "tool_call"]
    assert [json.loads(a) for a in calls["arguments"]] == [{"city": "Paris"}, {"city": "Tokyo"}]
    assert [json.loads(r) for r in calls["result"]] == [
        {"city": "Paris", "temp_c": 18},
        {"city": "Tokyo", "temp_c": 24},
    ]
    assert not calls["is_error"].any()
    assert (calls["duration_s"] >= 0).all()
    turns = frame[frame["kind"] == "model_turn"]
    assert turns["cost_usd"].tolist() == pytest.approx([turn_cost, turn_cost])
    assert turns["stop_reason"].tolist() == ["tool_calls", "stop"]


async def test_openai_parallel_calls_answered_with_one_tool_message_each(tmp_path):
    answers = [openai_answer(calls=PARALLEL_OPENAI), openai_answer("Paris 18 °C, Tokyo 24 °C.")]
    run, server, frame, _ = await converse(tmp_path, answers, weather_tools(parallel=2))
    assert (run.stopped, run.turns, run.tool_calls) == ("answered", 2, 2)
    assert run.text == "Paris 18 °C, Tokyo 24 °C."
    assert run.cost_usd == pytest.approx(2 * OPENAI_TURN_COST)
    second = server.requests[1].json
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in second["messages"][1]["tool_calls"]] == ["call_paris", "call_tokyo"]
    tool_msgs = openai_tool_messages(server)
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_paris", "call_tokyo"]
    assert [json.loads(m["content"]) for m in tool_msgs] == [
        {"city": "Paris", "temp_c": 18},
        {"city": "Tokyo", "temp_c": 24},
    ]
    assert second["tools"][0]["function"]["name"] == "get_weather"
    check_parallel_rows(frame, "openai:gpt-4o-mini", OPENAI_TURN_COST)


async def test_anthropic_parallel_calls_answered_in_one_user_turn_of_tool_results(tmp_path):
    first = [
        {"type": "text", "text": "Checking both."},
        use("toolu_paris", "get_weather", {"city": "Paris"}),
        use("toolu_tokyo", "get_weather", {"city": "Tokyo"}),
    ]
    answers = [anthropic_answer(first), anthropic_answer([{"type": "text", "text": "Paris 18, Tokyo 24."}])]
    run, server, frame, _ = await converse(
        tmp_path, answers, weather_tools(parallel=2), model_id="anthropic:claude-sonnet-4-0"
    )
    assert (run.stopped, run.text) == ("answered", "Paris 18, Tokyo 24.")
    turns = server.requests[1].json["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["id"] for b in turns[1]["content"] if b["type"] == "tool_use"] == ["toolu_paris", "toolu_tokyo"]
    results = turns[2]["content"]
    assert [b["type"] for b in results[:2]] == ["tool_result", "tool_result"]
    assert [b["tool_use_id"] for b in results[:2]] == ["toolu_paris", "toolu_tokyo"]
    assert [json.loads(b["content"]) for b in results[:2]] == [
        {"city": "Paris", "temp_c": 18},
        {"city": "Tokyo", "temp_c": 24},
    ]
    assert not any(b.get("is_error") for b in results)
    assert server.requests[1].json["tools"][0]["input_schema"]["required"] == ["city"]
    check_parallel_rows(frame, "anthropic:claude-sonnet-4-0", ANTHROPIC_TURN_COST)
    assert frame["text"].iloc[0] == "Checking both."


# -- streaming -----------------------------------------------------------------------------------------------


def check_stream_events(events: list[Any]) -> None:
    assert isinstance(events[-1], ToolRun)
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.name) for s in starts] == [(0, "get_weather"), (1, "get_weather")]
    assert sum(isinstance(e, ToolCallDelta) for e in events) > 2  # arguments arrived in pieces
    steps = [e for e in events if isinstance(e, ToolStep)]
    assert [s.kind for s in steps] == ["model_turn", "tool_call", "tool_call", "model_turn"]
    # Each ToolStep comes after the stream it describes: the first model_turn right after the first StopEvent.
    first_stop = next(i for i, e in enumerate(events) if isinstance(e, StopEvent))
    assert isinstance(events[first_stop + 1], ToolStep) and events[first_stop + 1].kind == "model_turn"
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.endswith(events[-1].text)


async def test_openai_stream_with_parallel_calls(tmp_path):
    answers = [
        Interaction.sse(chat_sse(calls=PARALLEL_OPENAI), done=True),
        Interaction.sse(chat_sse("Paris is cooler than Tokyo."), done=True),
    ]
    run, server, frame, events = await converse(tmp_path, answers, weather_tools(parallel=2), stream=True)
    assert (run.stopped, run.text) == ("answered", "Paris is cooler than Tokyo.")
    check_stream_events(events)
    assert all(r.json["stream"] is True for r in server.requests)
    assert [m["tool_call_id"] for m in openai_tool_messages(server)] == ["call_paris", "call_tokyo"]
    check_parallel_rows(frame, "openai:gpt-4o-mini", OPENAI_TURN_COST)


async def test_anthropic_stream_with_parallel_calls(tmp_path):
    first = [
        use("toolu_paris", "get_weather", {"city": "Paris"}),
        use("toolu_tokyo", "get_weather", {"city": "Tokyo"}),
    ]
    answers = [
        Interaction.sse(message_sse(first), path="/v1/messages"),
        Interaction.sse(message_sse([{"type": "text", "text": "Paris is cooler."}]), path="/v1/messages"),
    ]
    run, server, frame, events = await converse(
        tmp_path, answers, weather_tools(parallel=2), model_id="anthropic:claude-sonnet-4-0", stream=True
    )
    assert (run.stopped, run.text) == ("answered", "Paris is cooler.")
    check_stream_events(events)
    results = server.requests[1].json["messages"][2]["content"]
    assert [(b["type"], b["tool_use_id"]) for b in results] == [
        ("tool_result", "toolu_paris"),
        ("tool_result", "toolu_tokyo"),
    ]
    check_parallel_rows(frame, "anthropic:claude-sonnet-4-0", ANTHROPIC_TURN_COST)


# -- failures go back to the model as error results; the loop continues -------------------------------------------


async def test_malformed_argument_json_is_answered_with_an_error_and_the_loop_continues(tmp_path):
    calls = [("call_ok", "get_weather", '{"city": "Paris"}'), ("call_bad", "get_weather", '{"city": "Par')]
    answers = [openai_answer(calls=calls), openai_answer("Paris is 18 °C; the second request was garbled.")]
    run, server, frame, _ = await converse(tmp_path, answers, weather_tools())
    assert run.stopped == "answered" and run.turns == 2
    ok, bad = openai_tool_messages(server)
    assert (ok["tool_call_id"], bad["tool_call_id"]) == ("call_ok", "call_bad")
    assert json.loads(ok["content"]) == {"city": "Paris", "temp_c": 18}
    assert bad["content"].startswith("Error: ") and "not a JSON object" in bad["content"]
    # The malformed text goes back verbatim in the assistant turn, so the model sees what it sent.
    sent_calls = server.requests[1].json["messages"][1]["tool_calls"]
    assert sent_calls[1]["function"]["arguments"] == '{"city": "Par'
    row = frame[frame["tool_call_id"] == "call_bad"].iloc[0]
    assert (row["is_error"], row["error_kind"], row["raw_arguments"]) == (True, "validation", '{"city": "Par')
    assert json.loads(row["arguments"]) == {}


async def test_unknown_tool_is_answered_with_the_available_names(tmp_path):
    answers = [
        openai_answer(calls=[("call_x", "get_stock_price", '{"ticker": "ACME"}')]),
        openai_answer("I cannot look up stock prices."),
    ]
    run, server, frame, _ = await converse(tmp_path, answers, weather_tools())
    assert run.stopped == "answered"
    [msg] = openai_tool_messages(server)
    assert msg["tool_call_id"] == "call_x"
    assert "Unknown tool 'get_stock_price'" in msg["content"] and "get_weather" in msg["content"]
    row = frame[frame["kind"] == "tool_call"].iloc[0]
    assert (row["tool_name"], row["error_kind"], row["is_error"]) == ("get_stock_price", "unknown_tool", True)


async def test_a_raising_tool_logs_its_traceback_but_the_model_sees_only_the_error(tmp_path):
    @tool
    def read_station(station: str) -> str:
        """Read a weather station."""
        raise ConnectionError(f"station {station} offline")

    answers = [
        Interaction.json(chat_json(calls=[("call_s", "read_station", '{"station": "ORY"}')])),
        openai_answer("The station is offline."),
    ]
    run, server, frame, _ = await converse(tmp_path, answers, ToolSet([read_station]))
    [msg] = openai_tool_messages(server)
    assert "ConnectionError: station ORY offline" in msg["content"]
    assert "Traceback" not in msg["content"] and "read_station(" not in msg["content"]
    row = frame[frame["kind"] == "tool_call"].iloc[0]
    assert row["error_kind"] == "exception" and row["is_error"]
    assert row["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise ConnectionError(f"station {station} offline")' in row["traceback"]
    assert run.stopped == "answered"


async def test_a_tool_that_runs_too_long_is_stopped_and_reported(tmp_path):
    @tool(timeout_s=0.2)
    async def slow_forecast(city: str) -> str:
        """A forecast that takes far too long."""
        await asyncio.sleep(30)
        return "never"

    answers = [
        openai_answer(calls=[("call_slow", "slow_forecast", '{"city": "Paris"}')]),
        openai_answer("The forecast service is too slow."),
    ]
    _run, server, frame, _ = await converse(tmp_path, answers, ToolSet([slow_forecast]))
    [msg] = openai_tool_messages(server)
    assert "did not finish within 0.2 s" in msg["content"]
    row = frame[frame["kind"] == "tool_call"].iloc[0]
    assert row["error_kind"] == "timeout"
    assert 0.2 <= row["duration_s"] < 5


async def test_a_result_over_the_size_limit_is_truncated_with_the_marker(tmp_path):
    @tool
    def station_history(city: str) -> str:
        """Every reading of a city's station."""
        return "".join(f"{city};{i:05d};18.0\n" for i in range(1000))  # 17,000 characters

    answers = [
        openai_answer(calls=[("call_h", "station_history", '{"city": "Paris"}')]),
        openai_answer("Stable at 18 °C."),
    ]
    limits = ToolLimits(max_result_chars=500)
    _run, server, frame, _ = await converse(tmp_path, answers, ToolSet([station_history]), limits=limits)
    [msg] = openai_tool_messages(server)
    assert len(msg["content"]) <= 500
    assert msg["content"].startswith("Paris;00000;18.0\n")
    marker_head = TRUNCATION_MARKER.split("{")[0]
    assert marker_head in msg["content"] and "of 17000 characters left out" in msg["content"]
    row = frame[frame["kind"] == "tool_call"].iloc[0]
    assert row["truncated"] and not row["is_error"] and row["result"] == msg["content"]


async def test_turn_limit_stops_the_conversation_and_is_logged(tmp_path):
    looping = [openai_answer(calls=[(f"call_{n}", "get_weather", '{"city": "Paris"}')]) for n in range(2)]
    run, server, frame, _ = await converse(tmp_path, looping, weather_tools(), limits=ToolLimits(max_turns=2))
    assert (run.stopped, run.turns, run.final, run.text) == ("max_turns", 2, None, "")
    assert len(server.requests) == 2
    assert kinds(frame) == ["model_turn", "tool_call", "model_turn", "tool_call", "limit"]
    assert frame["detail"].iloc[-1] == "max_turns=2 reached"


async def test_tool_call_limit_refuses_extra_calls_and_stops(tmp_path):
    calls = [(f"call_{c}", "get_weather", json.dumps({"city": c})) for c in ("Paris", "Tokyo")]
    run, _server, frame, _ = await converse(
        tmp_path, [openai_answer(calls=calls)], weather_tools(), limits=ToolLimits(max_tool_calls=1)
    )
    assert (run.stopped, run.tool_calls) == ("max_tool_calls", 1)
    assert kinds(frame) == ["model_turn", "tool_call", "tool_call", "limit"]
    refused = frame[frame["tool_call_id"] == "call_Tokyo"].iloc[0]
    assert refused["error_kind"] == "limit"
    # Every call still has its result in the conversation (the API rejects unanswered calls).
    assert [r.tool_call_id for r in run.messages[-1].content] == ["call_Paris", "call_Tokyo"]


async def test_provider_error_mid_conversation_is_logged_then_raised(tmp_path):
    answers = [
        openai_answer(calls=[("call_p", "get_weather", '{"city": "Paris"}')]),
        Interaction.error(400, {"error": {"message": "messages too long", "type": "invalid_request_error"}}),
    ]
    with RecordedServer(answers) as server, Store.open(tmp_path / "runs.duckdb") as store:
        provider = make_provider(server, "openai:gpt-4o-mini")
        log = StepLogger(store, EXPERIMENT, item_id="q1")  # every=1: each step is written at once
        with pytest.raises(ProviderError, match="messages too long"):
            await run_tools(provider, "Weather?", weather_tools(), on_step=log)
        await provider.aclose()
        frame = store.tool_steps_frame(EXPERIMENT)
    assert kinds(frame) == ["model_turn", "tool_call", "error"]
    error = frame.iloc[-1]
    assert error["turn"] == 2 and error["is_error"] and "messages too long" in error["detail"]
    assert FAKE_OPENAI_KEY not in frame.to_csv()


# -- recorded real exchanges -------------------------------------------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore::llmbench.providers.UnknownPriceWarning"
)  # Gemini is not in the price table
async def test_recorded_compatible_server_without_call_ids(tmp_path, cassette):
    """Gemini's OpenAI-compatible endpoint sends tool calls with an empty id: the result must still match."""

    @tool
    def get_current_time() -> str:
        """Get the current time."""
        return "Noon"

    recorded = cassette("test_openai/test_compatible_api_with_tool_calls_without_id")
    with RecordedServer(recorded) as server, Store.open(tmp_path / "runs.duckdb") as store:
        provider = get_provider(
            "openai:gemini-2.5-pro-preview-05-06", api_key=FAKE_OPENAI_KEY,
            base_url=server.url + "/v1beta/openai", config=Config(),
        )  # fmt: skip
        with StepLogger(store, EXPERIMENT, item_id="time") as log:
            run = await run_tools(
                provider,
                "What is the current time?",
                ToolSet([get_current_time]),
                on_step=log,
                tool_choice="auto",
            )
        await provider.aclose()
        frame = store.tool_steps_frame(EXPERIMENT)
    assert run.text == "The current time is Noon."
    sent = server.requests[1].json["messages"]
    call_id = sent[1]["tool_calls"][0]["id"]
    assert call_id  # a synthetic id replaces the empty one
    assert sent[2] == {"role": "tool", "tool_call_id": call_id, "content": "Noon"}
    # Apart from the id, the second request is the one the real server answered.
    expected = recorded[1].request_json["messages"]
    assert [m["role"] for m in sent] == [m["role"] for m in expected]
    assert sent[1]["tool_calls"][0]["function"] == expected[1]["tool_calls"][0]["function"]
    assert frame[frame["kind"] == "tool_call"]["tool_call_id"].tolist() == [call_id]


@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated:DeprecationWarning")
async def test_recorded_anthropic_round_trip_until_the_turn_limit(tmp_path, cassette):
    """claude-sonnet-4-5 calls get_user_country, then final_result; max_turns=2 ends it there."""
    recorded = cassette("test_anthropic/test_anthropic_tool_output")
    tools_json = recorded[0].request_json["tools"]

    @tool
    def get_user_country() -> str:
        return "Mexico"

    @tool(description=tools_json[1]["description"])
    def final_result(city: str, country: str) -> str:
        return f"{city}, {country}"

    with RecordedServer(recorded) as server, Store.open(tmp_path / "runs.duckdb") as store:
        provider = get_provider(
            "anthropic:claude-sonnet-4-5", api_key=FAKE_ANTHROPIC_KEY, base_url=server.url, config=Config()
        )
        with StepLogger(store, EXPERIMENT, item_id="country") as log:
            run = await run_tools(
                provider, "What is the largest city in the user country?",
                ToolSet([get_user_country, final_result]), limits=ToolLimits(max_turns=2), on_step=log,
                tool_choice={"type": "any"},
            )  # fmt: skip
        await provider.aclose()
        frame = store.tool_steps_frame(EXPERIMENT)
    assert run.stopped == "max_turns"
    sent_turns = server.requests[1].json["messages"]
    recorded_turns = recorded[1].request_json["messages"]
    for block in recorded_turns[2]["content"]:
        block.pop("is_error")  # pydantic-ai sends an explicit false; absent means the same
    assert sent_turns == recorded_turns
    assert kinds(frame) == ["model_turn", "tool_call", "model_turn", "tool_call", "limit"]
    calls = frame[frame["kind"] == "tool_call"]
    assert calls["result"].tolist() == ["Mexico", "Mexico City, Mexico"]
    # 445 + 497 input and 23 + 56 output tokens at $3 / $15 per million.
    assert frame["cost_usd"].sum() == pytest.approx((445 + 497) * 3e-6 + (23 + 56) * 15e-6)
