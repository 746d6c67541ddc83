"""The gateway's fast path: an OpenAI body sent to OpenAI-compatible models goes upstream as it is and the answer's
bytes come back as the upstream sent them; the run store gets the same rows as through the neutral path, and any
request the fast path cannot forward as it is takes the neutral path."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2
import pytest
from gateway_helpers import MODELS, calls, client, gateway

pytestmark = pytest.mark.slow  # a gateway and an upstream server per test

# The fake numbers its answers (ids) by request: the only bytes that differ between two calls of the same body.
_NUMBERED = re.compile(rb"(chatcmpl-fake|call_fake|req_fake_)\d+")
_TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "look up a word",
           "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}}}]  # fmt: skip
_ASKS = {
    "plain": {"messages": [{"role": "user", "content": "write a python function that returns a list"}]},
    "tool call": {"messages": [{"role": "user", "content": "define loop"}], "tools": _TOOLS,
                  "tool_choice": "required"},
    "streamed": {"messages": [{"role": "user", "content": "capital river country king"}], "stream": True,
                 "stream_options": {"include_usage": True}},
    "streamed tool call": {"messages": [{"role": "user", "content": "define loop"}], "tools": _TOOLS,
                           "tool_choice": "required", "stream": True, "stream_options": {"include_usage": True}},
}  # fmt: skip


def _post(url: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(url + "/v1/chat/completions", json=body, timeout=30)


def _answered_model(answer: httpx2.Response) -> str:
    """The upstream model that answered (from the body, as a forwarded answer carries no gateway extras)."""
    text = answer.text
    line = next(x for x in text.splitlines() if x.startswith("data: {")) if text.startswith("data:") else text
    return str(json.loads(line.removeprefix("data: "))["model"])


@pytest.mark.parametrize("ask", list(_ASKS))
@pytest.mark.parametrize("model", ["up:cheap", "router"])
def test_the_answer_is_the_upstreams_bytes_and_the_rows_match_the_neutral_path(
    upstream, policy, tmp_path, ask: str, model: str
) -> None:
    body = {"model": model, **_ASKS[ask]}
    with gateway(policy, tmp_path) as (url, _):
        fast = _post(url, body)
        forwarded = upstream.requests[-1].json
        neutral = _post(
            url, {**body, "user": "u1"}
        )  # a field the fast path does not forward: the neutral path
    assert fast.status_code == neutral.status_code == 200
    upstream_model = _answered_model(fast)
    assert forwarded == {**body, "model": upstream_model}  # sent as it came, only the model set
    direct = _post(upstream.url, {**body, "model": upstream_model})
    assert _NUMBERED.sub(rb"\1N", fast.content) == _NUMBERED.sub(rb"\1N", direct.content)
    assert fast.headers["x-request-id"] != neutral.headers["x-request-id"]
    # Both paths leave the same rows: tokens, cost, stop reason, answer and routing; only the keys differ.
    rows = calls(tmp_path).sort_values("started_at")
    same = ["model_id", "attempt", "input_tokens", "output_tokens", "cost_usd", "stop_reason", "response",
            "final", "answered_model", "attempt_model", "route_policy", "route_chosen", "route_fallback"]  # fmt: skip
    first, second = (r.reset_index(drop=True) for r in (rows.iloc[:1], rows.iloc[1:]))
    assert len(rows) == 2 and first[same].equals(second[same])
    assert list(rows["run_key"]) == [fast.headers["x-request-id"], neutral.headers["x-request-id"]]


def test_the_sdk_reads_the_same_answer_on_both_paths(upstream, policy, tmp_path) -> None:
    with gateway(policy, tmp_path) as (url, _):
        c = client(url)
        for ask in _ASKS.values():
            if ask.get("stream"):
                continue
            fast = c.chat.completions.create(model="router", **ask)
            neutral = c.chat.completions.create(model="router", user="u1", **ask)
            drop = {"id", "created", "system_fingerprint", "service_tier"}
            one, two = fast.model_dump(exclude=drop), neutral.model_dump(exclude=drop)
            for message in (one["choices"][0]["message"], two["choices"][0]["message"]):
                for call in message.get("tool_calls") or []:
                    call["id"] = "call"
            assert one == two


def test_requests_it_cannot_forward_as_they_are_take_the_neutral_path(upstream, policy, tmp_path) -> None:
    ask = {"model": "up:cheap", "messages": [{"role": "user", "content": "hi there"}]}
    with gateway(policy, tmp_path) as (url, _):
        extra = _post(url, {**ask, "response_format": {"type": "text"}})
        assert "response_format" not in upstream.requests[-1].json  # rebuilt from the neutral types
        no_usage = _post(url, {**ask, "stream": True})  # a stream not asking for usage could not say its cost
        last = [x for x in no_usage.text.splitlines() if x.startswith("data: {")][-1]
        assert "llmbench" in json.loads(last.removeprefix("data: "))  # the neutral path's extras
        other_dialect = httpx2.post(url + "/v1/messages", json={**ask, "max_tokens": 20})
        assert upstream.requests[-1].path.endswith("/chat/completions")  # translated to the upstream's API
    assert extra.json()["id"].startswith("chatcmpl-") and "fake" not in extra.json()["id"]
    assert other_dialect.status_code == 200 and other_dialect.json()["type"] == "message"
    assert len(calls(tmp_path)) == 3


@pytest.mark.faults({"429": 0.4})
def test_fallbacks_and_every_attempt_are_kept_on_the_fast_path(upstream, policy, tmp_path) -> None:
    with gateway(policy, tmp_path, retries=2) as (url, _):
        answers = [
            _post(url, {"model": "router", **_ASKS["streamed" if i % 2 else "plain"]}) for i in range(24)
        ]
    assert all(a.status_code == 200 for a in answers)
    rows = calls(tmp_path)
    assert len(rows) == len(upstream.requests)  # every upstream attempt has its row
    finals = rows[rows["final"]]
    assert set(finals["run_key"]) == {a.headers["x-request-id"] for a in answers}
    assert (finals["route_fallback"] > 0).any() and set(finals["attempt_model"]) <= set(MODELS.values())


@pytest.mark.faults({"cut": 1.0})
def test_a_forwarded_stream_cut_after_it_began_ends_with_an_error_event(upstream, policy, tmp_path) -> None:
    body = {"model": "router", **_ASKS["streamed"]}
    body["messages"] = [{"role": "user", "content": "a long question " * 20}]
    with gateway(policy, tmp_path) as (url, _):
        text = _post(url, body).text
    assert '"error"' in text and "no fallback once sent" in text and len(upstream.requests) == 1
    [row] = calls(tmp_path).to_dict("records")
    assert row["error_class"] and row["attempt_model"] in MODELS.values()
