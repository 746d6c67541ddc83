"""`llmbench serve` against hostile clients and upstreams: bodies that must be a 400, not a 500; a lone surrogate
in an upstream answer that must not poison the writer; probes behind the client key; a body cut off at the limit;
a client that leaves mid-stream; a policy file that breaks the parser; a blank client key."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

import httpx2
import pytest
from gateway_helpers import calls, client, gateway
from pydantic import SecretStr

from llmbench.cli import run
from llmbench.errors import ConfigError
from llmbench.router.policy_file import PolicyFile
from llmbench.serve import GatewayConfig


def test_hostile_bodies_are_a_400_and_one_bad_answer_poisons_nothing(upstream, policy, tmp_path) -> None:
    upstream.replies["say it"] = "half \ud800 a surrogate"
    nested = b'{"model": "router", "messages": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    surrogate = json.dumps({"model": "router", "messages": [{"role": "user", "content": "x\ud800"}]}).encode()
    tool_args = json.dumps({"model": "router", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": "\\udc00"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "y\udfff"}]}).encode()  # fmt: skip
    with gateway(policy, tmp_path) as (url, _):
        post = lambda body: httpx2.post(url + "/v1/chat/completions", content=body, timeout=30)  # noqa: E731
        for body in (nested, surrogate, tool_args):
            answer = post(body)
            assert answer.status_code == 400, answer.text
        bad = client(url).chat.completions.create(
            model="router", messages=[{"role": "user", "content": "say it"}]
        )
        assert bad.choices[0].message.content is not None
        for i in range(3):  # the writer lives on: later requests answer and are recorded
            ok = client(url).chat.completions.create(
                model="router", messages=[{"role": "user", "content": f"q{i}"}]
            )
            assert ok.choices[0].message.content.startswith("Echo")
    rows = calls(tmp_path)
    assert len(rows[rows["final"]]) == 4 and upstream.stats()["requests"] == 4
    assert rows["response"].str.contains("\ufffd").sum() == 1


def test_probes_need_a_key_unless_opened_and_blank_keys_are_refused(
    upstream, policy, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("LLMBENCH_GATEWAY_KEYS", "k-123456789")
    with gateway(policy, tmp_path) as (url, _):
        for path in ("/health", "/metrics"):
            assert httpx2.get(url + path).status_code == 401
            assert httpx2.get(url + path, headers={"authorization": "Bearer k-123456789"}).status_code == 200
    with gateway(policy, tmp_path, open_probes=True) as (url, _):
        assert httpx2.get(url + "/health").status_code == 200
    monkeypatch.delenv("LLMBENCH_GATEWAY_KEYS")
    for keys in ([""], ["   "], ["ok-key-1234", ""]):
        with pytest.raises(ConfigError, match="empty or blank"):
            GatewayConfig(host="0.0.0.0", policy=str(policy), api_keys=[SecretStr(k) for k in keys]).check()
    assert run(["serve", "--host", "0.0.0.0", "--api-key", "", "--policy", str(policy), "--port", "0"]) == 2


def test_a_chunked_body_is_cut_at_the_limit(upstream, policy, tmp_path) -> None:
    def chunks():  # 64 MB, sent chunked (no content-length): the gateway must stop reading at its limit
        for _ in range(1024):
            yield b"x" * 65536

    with gateway(policy, tmp_path, max_body_bytes=4096) as (url, _):
        answer = httpx2.post(url + "/v1/chat/completions", content=chunks(), timeout=30)
    assert answer.status_code == 413


def test_a_client_that_leaves_mid_stream_leaves_a_row(upstream, policy, tmp_path) -> None:
    upstream.chunk_delay_s = 0.05
    upstream.replies["long one"] = " ".join(["word"] * 60)
    with gateway(policy, tmp_path) as (url, _):
        with httpx2.stream("POST", url + "/v1/chat/completions", timeout=30,
                           json={"model": "router", "stream": True,
                                 "messages": [{"role": "user", "content": "long one"}]}) as resp:  # fmt: skip
            for _ in resp.iter_bytes():
                break  # the first bytes, then the client goes away
        time.sleep(1.0)
    rows = calls(tmp_path)
    assert upstream.stats()["requests"] == 1 and len(rows) >= 1
    assert rows["final"].sum() == 1 and rows["cost_basis"].eq("estimated").any()


def test_the_policy_watcher_outlives_a_file_that_breaks_the_parser(upstream, policy, tmp_path) -> None:
    live = tmp_path / "live.json"
    live.write_bytes(policy.read_bytes())
    with gateway(live, tmp_path, reload_s=0.05) as (_, gw):
        before = gw.routes["router"].policy.sha256
        live.write_bytes(_deep_policy())  # passes the hash check, then RecursionError in json.loads
        time.sleep(0.5)
        live.write_text(policy.read_text())
        live.touch()
        deadline = time.monotonic() + 10
        while gw.metrics.reloads.labels("ok")._value.get() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gw.metrics.reloads.labels("failed")._value.get() >= 1
        assert (
            gw.metrics.reloads.labels("ok")._value.get() >= 1 and gw.routes["router"].policy.sha256 == before
        )
    deep = tmp_path / "deep.json"
    deep.write_bytes(_deep_policy())
    assert run(["route", str(deep), "hello"]) == 2


def _deep_policy() -> bytes:
    body = b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    digest = hashlib.sha256(body).hexdigest().encode()
    return (
        b'{"format":"llmbench-router-policy","version":1,"sha256":"' + digest + b'","policy":' + body + b"}\n"
    )


def test_slow_or_many_connections_from_one_address_cannot_starve_the_gateway(
    upstream, policy, tmp_path
) -> None:
    """Before: 1,030 connections trickling headers made every request, /health included, answer 503 for as long
    as they stayed (uvicorn's limit_concurrency counts them). Here the limit is 4 x 4 = 16 connections."""
    options = {"header_timeout_s": 1.0, "max_connections_per_client": 8, "max_concurrency": 4}
    with gateway(policy, tmp_path, **options) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        slow = []
        for _ in range(40):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))  # another loopback address: the attacker
            s.connect((host, int(port)))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            slow.append(s)
        time.sleep(0.3)
        assert httpx2.get(url + "/health", timeout=5).status_code == 200
        time.sleep(1.5)  # past the header timeout: every slow connection was closed by the gateway
        closed = 0
        for s in slow:
            s.settimeout(0.5)
            try:
                closed += s.recv(1) == b""  # end of stream: the gateway closed it
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass  # still open
            finally:
                s.close()
        assert closed == 40


def test_a_policy_named_in_routers_is_watched_like_a_file(upstream, policy, tmp_path) -> None:
    live = tmp_path / "named.json"
    live.write_bytes(policy.read_bytes())
    config = Path(os.environ["LLMBENCH_CONFIG"])
    config.write_text(config.read_text() + f'\n[routers]\nnamed = "{live}"\n')
    with gateway("named", tmp_path, reload_s=0.05) as (_, gw):  # type: ignore[arg-type]
        before = gw.routes["router"].policy.sha256
        changed, _ = PolicyFile.load(live)
        changed.with_lambda(0.5).save(live)
        deadline = time.monotonic() + 10
        while gw.routes["router"].policy.sha256 == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gw.routes["router"].policy.sha256 != before  # before: a [routers] name was never watched
