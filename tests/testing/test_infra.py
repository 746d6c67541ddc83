"""The offline HTTP test infrastructure against the official SDKs, the recorded cassettes and the OpenAPI specs."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from urllib.parse import urlsplit

import anthropic
import httpx2
import jsonschema
import openai
import pytest
import yaml
from spec import (
    load_anthropic_spec,
    validate_anthropic_messages_request,
    validate_openai_chat_request,
)

from llmbench.errors import ConfigError, DataError
from llmbench.testing import (
    CassetteMismatch,
    FakeOpenAIServer,
    Interaction,
    RecordedServer,
    load_cassette,
    mock_transport,
    sse_body,
)
from llmbench.testing.fake_process import FakeServerProcess

USER = [{"role": "user", "content": "hi"}]


def chunk(text: str, finish: str | None = None) -> dict:
    """A minimal OpenAI chat.completion.chunk."""
    delta = {"content": text} if text else {}
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def completion(text: str) -> dict:
    """A minimal OpenAI chat.completion."""
    msg = {"role": "assistant", "content": text}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
    }


def openai_mock(interactions, **kw):
    transport, recorder = mock_transport(interactions, **kw)
    return openai.AsyncOpenAI(
        api_key="k", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    ), recorder


def all_cassettes(root: Path) -> list[Path]:
    return sorted((root / "provider_fixtures" / "pydantic_ai_cassettes").glob("*/*.yaml"))


# -- cassettes ------------------------------------------------------------------------------------------------


def test_every_cassette_loads_with_paths_and_statuses_of_the_raw_yaml(shared_data):
    files = all_cassettes(shared_data)
    assert len(files) == 20  # the MANIFEST lists 20 files
    for path in files:
        raw = yaml.safe_load(path.read_text())["interactions"]
        loaded = load_cassette(path)
        assert len(loaded) == len(raw)
        for ix, item in zip(loaded, raw, strict=True):
            uri = urlsplit(item["request"]["uri"])
            assert (ix.method, ix.path, ix.query) == (item["request"]["method"], uri.path, uri.query)
            assert ix.status == item["response"]["status"]["code"]
            assert ix.request_json == item["request"].get("parsed_body")
            if "parsed_body" in item["response"]:
                assert json.loads(ix.body) == item["response"]["parsed_body"]
            else:
                assert ix.body.decode() == item["response"]["body"]["string"]
            assert not {"content-length", "transfer-encoding", "connection", "content-encoding"} & set(
                ix.headers
            )


def test_cassette_details_match_the_manifest(cassette):
    (err,) = cassette("test_anthropic/test_anthropic_count_tokens_error")
    assert (err.path, err.query, err.status) == ("/v1/messages/count_tokens", "beta=true", 404)
    assert err.response_json()["error"]["type"] == "not_found_error"
    (text,) = cassette("test_openai/test_text_response")
    assert text.headers["content-type"] == "text/plain" and text.body.startswith(b"method=POST")
    paths = [ix.path for ix in cassette("test_openai/test_multiple_agent_tool_calls")]
    assert paths.count("/v1/chat/completions") == 2 and len(paths) == 4


def test_sse_cassette_splits_into_whole_events(cassette):
    first = cassette("test_openai/test_run_stream_sync_streams_real_model")[0]
    assert first.is_sse
    pieces = first.chunks()
    assert b"".join(pieces) == first.body
    assert all(p.startswith(b"data: ") and p.endswith(b"\n\n") for p in pieces)
    assert pieces[-1] == b"data: [DONE]\n\n"


def test_sse_body_framing():
    body = sse_body([{"a": 1}, ("ping", {"type": "ping"}), "[DONE]"])
    assert body == b'data: {"a":1}\n\nevent: ping\ndata: {"type":"ping"}\n\ndata: [DONE]\n\n'
    assert sse_body([{"a": 1}], done=True).endswith(b"data: [DONE]\n\n")


def test_bad_cassettes_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_cassette(tmp_path / "missing.yaml")
    (tmp_path / "a.yaml").write_text("version: 1\n")
    with pytest.raises(DataError, match="interactions"):
        load_cassette(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("interactions: [{request: {method: POST}}]\n")
    with pytest.raises(DataError, match="interaction 0 is malformed"):
        load_cassette(tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text("interactions: [\n")
    with pytest.raises(DataError, match="not valid YAML"):
        load_cassette(tmp_path / "c.yaml")


# -- in-process mock transport -----------------------------------------------------------------------------------


async def test_openai_sdk_replays_recorded_completion_and_request_is_recorded(cassette, fake_key):
    transport, recorder = mock_transport(cassette("test_openai/test_valid_response"))
    client = openai.AsyncOpenAI(max_retries=0, http_client=httpx2.AsyncClient(transport=transport))
    reply = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Capital?"}]
    )
    assert reply.choices[0].message.content == "The capital of France is Paris."
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (14, 7)
    sent = recorder.last
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.json == {"model": "gpt-4o", "messages": [{"role": "user", "content": "Capital?"}]}
    assert sent.headers["authorization"] == f"Bearer {fake_key['OPENAI_API_KEY']}"
    recorder.assert_all_used()


def test_sync_client_works_with_the_mock_transport():
    transport, _ = mock_transport([Interaction.json(completion("sync ok"))])
    client = openai.OpenAI(api_key="k", max_retries=0, http_client=httpx2.Client(transport=transport))
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "sync ok"


async def test_anthropic_sdk_replays_recorded_thinking_stream(cassette):
    (ix,) = cassette("test_anthropic/test_anthropic_model_thinking_part_stream")
    # Independent expectation: the output_tokens of the last message_delta event in the raw recording.
    deltas = [
        json.loads(line[6:]) for line in ix.body.decode().splitlines() if '"type":"message_delta"' in line
    ]
    transport, _ = mock_transport([ix])
    client = anthropic.AsyncAnthropic(
        api_key="k", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )
    async with client.messages.stream(model="claude-sonnet-4-0", max_tokens=4096, messages=USER) as stream:
        message = await stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.usage.output_tokens == deltas[-1]["usage"]["output_tokens"]


async def test_strict_order_mismatch_is_reported():
    client, recorder = openai_mock([Interaction.json({}, path="/v1/messages")])
    with pytest.raises(CassetteMismatch, match="unexpected request POST /v1/chat/completions"):
        await client.chat.completions.create(model="m", messages=USER)
    assert recorder.mismatches == [
        "unexpected request POST /v1/chat/completions; next queued: POST /v1/messages"
    ]
    with pytest.raises(CassetteMismatch, match="unused interaction POST /v1/messages"):
        recorder.assert_all_used()
    transport, _ = mock_transport([])
    aclient = anthropic.AsyncAnthropic(
        api_key="k", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )
    with pytest.raises(anthropic.APIConnectionError) as info:  # anthropic wraps foreign exceptions
        await aclient.messages.create(model="c", max_tokens=5, messages=USER)
    assert isinstance(info.value.__cause__, CassetteMismatch) and "next queued: nothing" in str(
        info.value.__cause__
    )


async def test_non_strict_matches_by_path_out_of_order():
    queue = [Interaction.json({"n": 1}, path="/v1/other"), Interaction.json(completion("second"))]
    client, recorder = openai_mock(queue, strict=False)
    assert (await client.chat.completions.create(model="m", messages=USER)).choices[
        0
    ].message.content == "second"
    assert [ix.path for ix in recorder.remaining] == ["/v1/other"]


async def test_mock_errors_map_to_sdk_errors():
    client, _ = openai_mock([Interaction.error(429, headers={"retry-after": "0"})])
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model="m", messages=USER)
    assert info.value.response.headers["retry-after"] == "0"
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    transport, _ = mock_transport([Interaction.error(529, body, path="/v1/messages")])
    aclient = anthropic.AsyncAnthropic(
        api_key="k", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )
    with pytest.raises(anthropic.APIStatusError) as ainfo:
        await aclient.messages.create(model="c", max_tokens=5, messages=USER)
    assert ainfo.value.status_code == 529 and "busy" in str(ainfo.value)


async def test_mock_delay_beyond_read_timeout_times_out_quickly():
    client, _ = openai_mock([Interaction.json(completion("late"), delay_s=5)])
    start = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="m", messages=USER, timeout=0.1)
    assert time.perf_counter() - start < 2


async def test_mock_cut_stream_delivers_first_event_then_fails():
    ix = Interaction.sse([chunk("a"), chunk("b"), chunk("", "stop")], done=True)
    client, _ = openai_mock([ix.with_faults(cut_after_bytes=len(ix.chunks()[0]) + 5)])
    got = []
    with pytest.raises(openai.APIConnectionError):
        async for c in await client.chat.completions.create(model="m", messages=USER, stream=True):
            got.append(c.choices[0].delta.content)
    assert got == ["a"]


# -- RecordedServer ---------------------------------------------------------------------------------------------


async def test_recorded_server_streams_recorded_tool_call(cassette, recorded_server, fake_key):
    recorded_server.add(*cassette("test_openai/test_run_stream_sync_streams_real_model"))
    client = openai.AsyncOpenAI(base_url=recorded_server.url + "/v1", max_retries=0)
    args, usage = "", None
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    async for c in stream:
        for call in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            args += call.function.arguments or ""
        usage = c.usage or usage
    assert json.loads(args) == {"country": "UK"}
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    (sent,) = recorded_server.requests
    assert sent.headers["authorization"] == f"Bearer {fake_key['OPENAI_API_KEY']}"
    assert sent.json["stream"] is True
    assert len(recorded_server.remaining) == 1


async def test_anthropic_sdk_against_recorded_server_tool_round_trip(cassette, recorded_server, fake_key):
    recorded_server.add(*cassette("test_anthropic/test_anthropic_tool_output"))
    client = anthropic.AsyncAnthropic(base_url=recorded_server.url, max_retries=0)
    first = await client.messages.create(model="claude-x", max_tokens=100, messages=USER)
    second = await client.messages.create(model="claude-x", max_tokens=100, messages=USER)
    assert [first.stop_reason, second.stop_reason] == ["tool_use", "tool_use"]
    assert (first.content[0].name, second.content[0].input) == (
        "get_user_country",
        {"city": "Mexico City", "country": "Mexico"},
    )
    for sent in recorded_server.requests:  # anthropic 2.x sends the key as a bearer token
        assert fake_key["ANTHROPIC_API_KEY"] in sent.headers.get("x-api-key", "") + sent.headers.get(
            "authorization", ""
        )
    recorded_server.assert_all_used()


async def test_recorded_server_matches_by_path_and_404s_otherwise(recorded_server):
    recorded_server.add(Interaction.json({"n": 1}, path="/v1/messages"), Interaction.json(completion("chat")))
    client = openai.AsyncOpenAI(base_url=recorded_server.url + "/v1", api_key="k", max_retries=0)
    assert (await client.chat.completions.create(model="m", messages=USER)).choices[
        0
    ].message.content == "chat"
    with pytest.raises(openai.NotFoundError, match="no unused interaction for POST /v1/chat/completions"):
        await client.chat.completions.create(model="m", messages=USER)
    with pytest.raises(AssertionError, match="/v1/messages"):
        recorded_server.assert_all_used()


async def test_recorded_server_retry_after_then_success(recorded_server):
    recorded_server.add(
        Interaction.error(429, headers={"retry-after-ms": "10"}), Interaction.json(completion("ok"))
    )
    client = openai.AsyncOpenAI(base_url=recorded_server.url + "/v1", api_key="k", max_retries=1)
    assert (await client.chat.completions.create(model="m", messages=USER)).choices[0].message.content == "ok"
    assert len(recorded_server.requests) == 2


async def test_recorded_server_delay_times_out_and_cut_drops(recorded_server):
    recorded_server.add(Interaction.json(completion("late"), delay_s=3))
    client = openai.AsyncOpenAI(base_url=recorded_server.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="m", messages=USER, timeout=0.2)
    recorded_server.add(Interaction.json(completion("cut"), cut_after_bytes=20))
    with pytest.raises(openai.APIConnectionError) as info:
        await client.chat.completions.create(model="m", messages=USER)
    assert isinstance(info.value.__cause__, httpx2.RemoteProtocolError)


@pytest.mark.slow
async def test_recorded_server_flushes_each_sse_event(recorded_server):
    recorded_server.add(
        Interaction.sse([chunk("a"), chunk("b"), chunk("", "stop")], done=True, chunk_delay_s=0.3)
    )
    client = openai.AsyncOpenAI(base_url=recorded_server.url + "/v1", api_key="k", max_retries=0)
    start = time.perf_counter()
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    arrivals = [time.perf_counter() - start async for _ in stream]
    assert len(arrivals) == 3
    assert arrivals[0] < 0.25 <= 0.6 <= arrivals[-1]  # first event long before the last: not buffered


# -- FakeOpenAIServer ------------------------------------------------------------------------------------------


async def test_fake_openai_echo_usage_and_max_tokens(fake_openai_server):
    client = openai.AsyncOpenAI(base_url=fake_openai_server.url + "/v1", api_key="k", max_retries=0)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there world"}]
    reply = await client.chat.completions.create(model="gpt-x", messages=messages)
    assert reply.choices[0].message.content == "Echo: hello there world"
    assert reply.choices[0].finish_reason == "stop" and reply.model == "gpt-x"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2 + 3, 4)
    short = await client.chat.completions.create(model="gpt-x", messages=messages, max_completion_tokens=2)
    assert short.choices[0].message.content == "Echo: hello" and short.choices[0].finish_reason == "length"
    for sent in fake_openai_server.requests:
        validate_openai_chat_request(sent.json)


async def test_fake_openai_stream_honours_include_usage(fake_openai_server):
    client = openai.AsyncOpenAI(base_url=fake_openai_server.url + "/v1", api_key="k", max_retries=0)
    messages = [{"role": "user", "content": "one two"}]
    chunks = [
        c
        async for c in await client.chat.completions.create(
            model="m", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    ]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    plain = [c async for c in await client.chat.completions.create(model="m", messages=messages, stream=True)]
    assert all(c.usage is None and c.choices for c in plain)


async def test_fake_anthropic_messages_plain_stream_and_validation(fake_openai_server):
    client = anthropic.AsyncAnthropic(base_url=fake_openai_server.url, api_key="k", max_retries=0)
    messages = [{"role": "user", "content": [{"type": "text", "text": "alpha beta"}]}]
    reply = await client.messages.create(model="claude-x", max_tokens=10, system="sys", messages=messages)
    assert reply.content[0].text == "Echo: alpha beta" and reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (3, 3)
    async with client.messages.stream(model="claude-x", max_tokens=2, messages=messages) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "Echo: alpha" and final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 2
    for sent in fake_openai_server.requests:
        validate_anthropic_messages_request(sent.json)
    raw = httpx2.post(fake_openai_server.url + "/v1/messages", json={"model": "c", "messages": USER})
    assert raw.status_code == 400 and "max_tokens" in raw.json()["error"]["message"]


async def test_fake_server_forced_tool_calls(fake_openai_server):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
        "required": ["city", "unit"],
    }
    oclient = openai.AsyncOpenAI(base_url=fake_openai_server.url + "/v1", api_key="k", max_retries=0)
    tools = [{"type": "function", "function": {"name": "weather", "parameters": schema}}]
    reply = await oclient.chat.completions.create(
        model="m", messages=USER, tools=tools, tool_choice="required"
    )
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {
        "city": "x",
        "unit": "C",
    }
    assert reply.choices[0].finish_reason == "tool_calls"
    aclient = anthropic.AsyncAnthropic(base_url=fake_openai_server.url, api_key="k", max_retries=0)
    atools = [{"name": "weather", "input_schema": schema}]
    async with aclient.messages.stream(
        model="c", max_tokens=50, messages=USER, tools=atools, tool_choice={"type": "any"}
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[0].input == {"city": "x", "unit": "C"}


async def test_fake_server_fault_plan_is_seeded_per_request_number():
    n, seed, p = 30, 7, 0.3
    expected = [i for i in range(n) if random.Random(f"{seed}:{i}").random() < p]  # the documented draw
    with FakeOpenAIServer(latency_s=0.0, faults={"429": p}, seed=seed, retry_after_s=2) as srv:
        async with httpx2.AsyncClient(base_url=srv.url) as http:
            sequential = [
                (await http.post("/v1/chat/completions", json={"model": "m", "messages": USER}))
                for _ in range(n)
            ]
        assert [i for i, r in enumerate(sequential) if r.status_code == 429] == expected
        limited = sequential[expected[0]]
        assert limited.headers["retry-after"] == "2" and limited.headers["retry-after-ms"] == "2000"
        assert srv.stats() == {"requests": n, "ok": n - len(expected), "429": len(expected)}
    with FakeOpenAIServer(latency_s=0.01, faults={"429": p}, seed=seed) as srv:
        async with httpx2.AsyncClient(base_url=srv.url) as http:
            await asyncio.gather(
                *(http.post("/v1/chat/completions", json={"model": "m", "messages": USER}) for _ in range(n))
            )
        assert srv.stats()["429"] == len(expected)


async def test_fake_server_timeout_and_cut_faults():
    with FakeOpenAIServer(latency_s=0.0, faults={"timeout": 1.0}, hang_s=3) as srv:
        client = openai.AsyncOpenAI(base_url=srv.url + "/v1", api_key="k", max_retries=0, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=USER)
    with FakeOpenAIServer(latency_s=0.0, faults={"cut": 1.0}) as srv:
        client = openai.AsyncOpenAI(base_url=srv.url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.APIConnectionError):
            async for _ in await client.chat.completions.create(model="m", messages=USER, stream=True):
                pass
        assert srv.stats() == {"requests": 1, "cut": 1}


@pytest.mark.slow
async def test_fake_server_500s_are_retried_by_the_sdk():
    with FakeOpenAIServer(latency_s=0.0, faults={"500": 1.0}) as srv:
        client = anthropic.AsyncAnthropic(base_url=srv.url, api_key="k", max_retries=2)
        client = client.with_options(timeout=5)
        with pytest.raises(anthropic.InternalServerError):
            await client.messages.create(model="c", max_tokens=5, messages=USER)
        assert srv.stats() == {"requests": 3, "500": 3}


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"teapot": 0.1}, "unknown fault"),
        ({"429": 1.5}, "between 0 and 1"),
        ({"429": 0.6, "500": 0.6}, "sum to"),
    ],
)
def test_bad_fault_plans_raise_config_error(faults, message):
    with pytest.raises(ConfigError, match=message):
        FakeOpenAIServer(faults=faults)


async def test_fake_server_process_serves_100_concurrent_calls():
    latency = 0.2
    with FakeServerProcess(latency_s=latency) as proc:
        client = openai.AsyncOpenAI(base_url=proc.url + "/v1", api_key="k", max_retries=0)
        start = time.perf_counter()
        replies = await asyncio.gather(
            *(
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"n{i}"}])
                for i in range(100)
            )
        )
        elapsed = time.perf_counter() - start
        assert sorted(r.choices[0].message.content for r in replies) == sorted(
            f"Echo: n{i}" for i in range(100)
        )
        assert elapsed < 100 * latency / 4  # served concurrently, not one after another (20 s)
        assert proc.stats() == {"requests": 100, "ok": 100}
        assert proc.running
    assert not proc.running


# -- OpenAPI request validation ---------------------------------------------------------------------------------


def _recorded_bodies(root: Path, suffix: str) -> list:
    out = []
    for path in all_cassettes(root):
        out += [
            pytest.param(ix.request_json, id=ix.source)
            for ix in load_cassette(path)
            if ix.path.endswith(suffix)
        ]
    return out


def test_recorded_openai_requests_validate(shared_data):
    bodies = _recorded_bodies(shared_data, "/chat/completions")
    assert len(bodies) == 14
    for param in bodies:
        validate_openai_chat_request(param.values[0])


def test_recorded_anthropic_requests_validate(shared_data):
    bodies = _recorded_bodies(shared_data, "/v1/messages")
    assert len(bodies) == 11
    for param in bodies:
        validate_anthropic_messages_request(param.values[0])


@pytest.mark.parametrize(
    ("validate", "body", "where"),
    [
        (
            validate_openai_chat_request,
            {"model": "m", "messages": [{"role": "robot", "content": "hi"}]},
            "$.messages[0]",
        ),
        (
            validate_openai_chat_request,
            {"model": "m", "messages": USER, "tools": [{"type": "function", "function": {"parameters": {}}}]},
            "'name' is a required",
        ),
        (validate_openai_chat_request, {"messages": USER}, "'model' is a required"),
        (validate_anthropic_messages_request, {"model": "c", "messages": USER}, "'max_tokens' is a required"),
        (validate_anthropic_messages_request, {"max_tokens": 5, "messages": USER}, "'model' is a required"),
        (
            validate_anthropic_messages_request,
            {"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            "$.messages[0].role",
        ),
        (
            validate_anthropic_messages_request,
            {
                "model": "c",
                "max_tokens": 5,
                "messages": USER,
                "tools": [{"input_schema": {"type": "object"}}],
            },
            "'name' is a required",
        ),
        (
            validate_anthropic_messages_request,
            {
                "model": "c",
                "max_tokens": 5,
                "messages": USER,
                "thinking": {"type": "enabled", "budget_tokens": 10},
            },
            "budget_tokens",
        ),
        (
            validate_anthropic_messages_request,
            {"model": "c", "max_tokens": 5, "messages": USER, "shoe_size": 5},
            "shoe_size",
        ),
    ],
)
def test_broken_requests_fail_with_a_located_message(shared_data, validate, body, where):
    with pytest.raises(jsonschema.ValidationError) as info:
        validate(body)
    assert where in info.value.message and "request invalid at $" in info.value.message


def test_anthropic_spec_additions_are_exactly_the_thinking_feature(shared_data):
    params = load_anthropic_spec()["components"]["schemas"]["CreateMessageParams"]
    assert params["additionalProperties"] is False and "thinking" in params["properties"]
    assert params["required"] == ["model", "messages", "max_tokens"]


def test_a_failing_responder_answers_500_with_the_reason():
    class Broken(RecordedServer):
        def respond(self, request):
            raise KeyError("oops")

    with Broken() as server:
        reply = httpx2.post(server.url + "/v1/chat/completions", json={})
    assert reply.status_code == 500 and "KeyError('oops')" in reply.json()["error"]["message"]
