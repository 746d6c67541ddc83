"""`llmbench serve` with real clients: the official openai SDK against the gateway, the gateway in front of a
loopback upstream (the fake API, faults injected), the run store and the metrics read back."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import openai
import pytest
from gateway_helpers import MODELS, calls, client, gateway
from helpers import synthetic_frame

from llmbench.errors import ConfigError
from llmbench.router import RouterEstimator
from llmbench.serve import GatewayConfig


def test_openai_sdk_plain_and_streamed_through_the_router(upstream, policy, tmp_path) -> None:
    raw: Any = None
    with gateway(policy, tmp_path) as (url, gw):
        raw = client(url).chat.completions.with_raw_response.create(
            model="router",
            messages=[{"role": "user", "content": "write a python function that returns a list"}],
        )
        answer = raw.parse()
        assert answer.choices[0].message.content.startswith("Echo: write a python function")
        assert raw.headers["x-llmbench-model"] in MODELS.values()
        assert raw.headers["x-llmbench-policy"] == gw.routes["router"].policy.sha256
        assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0

        stream = client(url).chat.completions.create(
            model="router", messages=[{"role": "user", "content": "capital river country king"}], stream=True
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.startswith("Echo: capital river") and chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].usage.total_tokens > 0
        extras = chunks[-1].model_extra["llmbench"]
        assert extras["fallback"] == 0 and extras["model"] == extras["chosen"]
    rows = calls(tmp_path)  # the gateway stopped: every row was committed
    assert len(rows) == 2 and set(rows["model_id"]) == {"router"} and rows["final"].all()
    assert rows["route_policy"].notna().all() and set(rows["attempt_model"]) <= set(MODELS.values())
    assert (rows["cost_usd"] > 0).all() and float(raw.headers["x-llmbench-cost-usd"]) > 0


def test_tool_calls_plain_and_streamed(upstream, policy, tmp_path) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "description": "look up a word",
              "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}}}]  # fmt: skip
    ask = {"model": "up:cheap", "messages": [{"role": "user", "content": "define loop"}], "tools": tools,
           "tool_choice": "required"}  # fmt: skip
    with gateway(policy, tmp_path) as (url, _):
        answer = client(url).chat.completions.create(**ask)
        [call] = answer.choices[0].message.tool_calls
        assert call.function.name == "lookup" and "word" in json.loads(call.function.arguments)
        assert answer.choices[0].finish_reason == "tool_calls"
        chunks = list(client(url).chat.completions.create(**ask, stream=True))
        deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        assert deltas[0].function.name == "lookup" and deltas[0].id
        assert json.loads("".join(d.function.arguments or "" for d in deltas)) == json.loads(
            call.function.arguments
        )
    sent = [r.json for r in upstream.requests]
    assert all(r["tool_choice"] == "required" and r["tools"][0]["function"]["name"] == "lookup" for r in sent)


@pytest.mark.slow  # seconds: a real server, MLflow or a whole CLI pipeline
@pytest.mark.faults({"429": 0.3, "500": 0.05})
def test_fallbacks_heal_429s_and_500s_and_every_attempt_is_billed(upstream, policy, tmp_path) -> None:
    prompts = [f"question {i} about python lists" for i in range(60)]
    with gateway(policy, tmp_path, retries=3) as (url, _):  # three attempts per model, then the next model
        c = client(url)
        answers = [c.chat.completions.with_raw_response.create(model="router", messages=[{"role": "user", "content": p}])
                   for p in prompts]  # fmt: skip
        metrics = httpx2.get(url + "/metrics").text
    assert all(a.status_code == 200 for a in answers)  # no client request failed
    fell_back = [a for a in answers if a.headers["x-llmbench-fallback"] != "0"]
    assert fell_back, "with 35% faults and one attempt per model some calls must fall back"
    rows = calls(tmp_path)
    assert len(rows) == len(upstream.requests)  # every upstream attempt has its row
    failed = rows[rows["error_class"].notna()]
    assert set(failed["status_code"]) <= {429, 500} and not failed["final"].any()
    assert "llmbench_gateway_fallbacks_total" in metrics and 'status="200"} 60.0' in metrics


@pytest.mark.faults({"429": 1.0})
def test_when_every_model_fails_the_client_gets_the_status_and_the_store_every_attempt(
    upstream, policy, tmp_path
) -> None:
    with gateway(policy, tmp_path) as (url, _):
        with pytest.raises(openai.RateLimitError):
            client(url).chat.completions.create(model="router", messages=[{"role": "user", "content": "hi"}])
        stream = httpx2.post(url + "/v1/chat/completions", json={"model": "router", "stream": True,
                             "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
        assert stream.status_code == 429  # a stream that fails before its first byte is a plain HTTP error
    rows = calls(tmp_path)
    assert len(rows) == 6 == len(upstream.requests)  # three models, one attempt each, two requests
    assert rows.groupby("run_key")["attempt_model"].apply(list).map(len).tolist() == [3, 3]


def test_bad_requests_are_refused_with_a_clear_status(upstream, policy, tmp_path) -> None:
    with gateway(policy, tmp_path, max_body_bytes=2048) as (url, _):
        post = lambda body: httpx2.post(url + "/v1/chat/completions", content=body)  # noqa: E731
        assert post(b"{not json").status_code == 400
        unknown = post(json.dumps({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}))
        assert unknown.status_code == 404 and "GET /v1/models" in unknown.json()["error"]["message"]
        big = post(json.dumps({"model": "router", "messages": [{"role": "user", "content": "x" * 5000}]}))
        assert big.status_code == 413
        models = {m["id"] for m in httpx2.get(url + "/v1/models").json()["data"]}
        assert models == {"router", *MODELS.values()}
        assert httpx2.get(url + "/health").json()["status"] == "ok"
    assert upstream.requests == []  # nothing refused reached the upstream


def test_beyond_loopback_every_request_needs_a_client_key(upstream, policy, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("LLMBENCH_GATEWAY_KEYS", raising=False)
    with pytest.raises(ConfigError, match="client keys"):
        GatewayConfig(host="0.0.0.0", policy=str(policy)).check()
    monkeypatch.setenv("LLMBENCH_GATEWAY_KEYS", "client-key-1, client-key-2")
    with gateway(policy, tmp_path, host="0.0.0.0") as (url, _):
        local = url.replace("0.0.0.0", "127.0.0.1")
        with pytest.raises(openai.AuthenticationError):
            client(local, "wrong").chat.completions.create(
                model="router", messages=[{"role": "user", "content": "hi"}]
            )
        assert httpx2.get(local + "/v1/models").status_code == 401
        ok = client(local, "client-key-2").chat.completions.create(
            model="router", messages=[{"role": "user", "content": "hi"}]
        )
        assert ok.choices[0].message.content == "Echo: hi"
    sent = upstream.requests[0]
    assert "client-key" not in json.dumps(dict(sent.headers))  # the client's key is never forwarded upstream


def test_a_changed_policy_file_is_served_without_a_restart(upstream, policy, tmp_path) -> None:
    live = tmp_path / "live.json"
    live.write_bytes(policy.read_bytes())
    frame = synthetic_frame(30, seed=1)
    frame["model"] = frame["model"].map(MODELS)
    with gateway(live, tmp_path) as (url, _):
        before = httpx2.get(url + "/health").json()["policies"]["router"]
        RouterEstimator(lambda_=500.0).fit(frame).export(tmp_path / "next.json")
        (tmp_path / "next.json").replace(live)  # atomic, as a deploy would
        deadline = time.monotonic() + 10
        while (
            httpx2.get(url + "/health").json()["policies"]["router"] == before and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        after = httpx2.get(url + "/health").json()["policies"]["router"]
        live.write_text("not a policy")  # a broken file keeps the last good policy
        time.sleep(0.5)
        assert httpx2.get(url + "/health").json()["policies"]["router"] == after
        assert 'llmbench_gateway_policy_reloads_total{outcome="failed"}' in httpx2.get(url + "/metrics").text
    assert after != before


def test_anthropic_sdk_plain_streamed_and_tools_through_the_gateway(upstream, policy, tmp_path) -> None:
    import anthropic

    tools = [{"name": "lookup", "description": "look up a word",
              "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}}]  # fmt: skip
    with gateway(policy, tmp_path) as (url, _):
        claude = anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0)
        msg = claude.messages.create(model="router", max_tokens=64, system="Be brief.",
                                     messages=[{"role": "user", "content": "capital river country"}])  # fmt: skip
        assert msg.content[0].text == "Echo: capital river country" and msg.stop_reason == "end_turn"
        assert msg.usage.input_tokens > 0 and msg.usage.output_tokens == 4
        with claude.messages.stream(model="up:coder", max_tokens=64,
                                    messages=[{"role": "user", "content": "write a loop"}]) as stream:  # fmt: skip
            streamed = stream.get_final_message()
        assert streamed.content[0].text == "Echo: write a loop" and streamed.usage.output_tokens == 4
        used = claude.messages.create(model="up:cheap", max_tokens=64, tools=tools, tool_choice={"type": "any"},
                                      messages=[{"role": "user", "content": "define loop"}])  # fmt: skip
        [call] = [b for b in used.content if b.type == "tool_use"]
        assert call.name == "lookup" and "word" in call.input and used.stop_reason == "tool_use"
        with claude.messages.stream(model="up:cheap", max_tokens=64, tools=tools, tool_choice={"type": "any"},
                                    messages=[{"role": "user", "content": "define loop"}]) as stream:  # fmt: skip
            final = stream.get_final_message()
        assert [b.input for b in final.content if b.type == "tool_use"] == [call.input]
        with pytest.raises(anthropic.NotFoundError):
            claude.messages.create(
                model="claude-nope", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
    # the upstream (an OpenAI-compatible endpoint) got OpenAI's forms: the gateway translated both ways
    assert upstream.requests[2].json["tool_choice"] == "required"
    assert len(calls(tmp_path)) == 4


@pytest.mark.faults({"429": 0.4})
def test_a_stream_falls_back_before_its_first_byte_and_says_so(upstream, policy, tmp_path) -> None:
    with gateway(policy, tmp_path, retries=2) as (url, _):
        finals = []
        for i in range(20):
            chunks = list(client(url).chat.completions.create(
                model="router", stream=True, messages=[{"role": "user", "content": f"python list question {i}"}]))  # fmt: skip
            finals.append(chunks[-1].model_extra["llmbench"])
    assert any(f["fallback"] > 0 and f["model"] != f["chosen"] for f in finals)  # said in the last chunk
    rows = calls(tmp_path)
    assert len(rows) == len(upstream.requests) and rows.groupby("run_key")["final"].sum().eq(1).all()


@pytest.mark.faults({"cut": 1.0})
def test_a_stream_cut_after_it_began_ends_with_an_error_event_not_a_fallback(
    upstream, policy, tmp_path
) -> None:
    with gateway(policy, tmp_path) as (url, _), httpx2.stream("POST", url + "/v1/chat/completions", json={
            "model": "router", "stream": True,
            "messages": [{"role": "user", "content": "a long question " * 20}]}) as r:  # fmt: skip
        assert r.status_code == 200
        body = r.read().decode()
    assert '"error"' in body and "no fallback once sent" in body
    assert len(upstream.requests) == 1  # once bytes were sent, no other model was tried
    [row] = calls(tmp_path).to_dict("records")
    assert row["error_class"] and row["attempt_model"] in MODELS.values()
