"""The one retry layer: Retry-After, backoff, which errors retry, timeouts, and request counts seen by a real
loopback server (proving the SDKs' own retries are off)."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from typing import Any

import httpx2
import pytest
from helpers import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY

from llmbench import errors
from llmbench.providers import Attempt, Config, RetryPolicy, TextDelta, get_provider
from llmbench.providers.base import Provider
from llmbench.providers.retry import parse_retry_after
from llmbench.testing import Interaction, RecordedServer, mock_transport

OK = {
    "id": "chatcmpl-ok",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
ANTHROPIC_OK = {
    "id": "msg_ok",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "fine"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 1},
}


def fast(attempts: int = 3, initial_delay: float = 0.0) -> RetryPolicy:
    """A policy whose computed backoff is exactly `initial_delay * 2**n` (no jitter)."""
    return RetryPolicy(max_attempts=attempts, initial_delay=initial_delay, jitter=0.0)


def openai_at(server: RecordedServer, **options: Any) -> tuple[Provider, list[Attempt]]:
    seen: list[Attempt] = []
    options.setdefault("retry", fast())
    provider = get_provider(
        "openai:gpt-4o-mini",
        config=Config(),
        base_url=server.url + "/v1",
        api_key=FAKE_OPENAI_KEY,
        on_attempt=seen.append,
        **options,
    )
    return provider, seen


def wait_between(seen: list[Attempt]) -> float:
    """Seconds from the end of attempt 1 to the start of attempt 2, as the retry loop slept them."""
    first, second = seen[0], seen[1]
    return second.started_at - (first.started_at + first.latency_s)


def rate_limited(**headers: str) -> Interaction:
    body = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    return Interaction.error(429, body, headers)


# -- Retry-After -------------------------------------------------------------------------------------------


async def test_retry_after_seconds_is_honoured(recorded_server):
    recorded_server.add(rate_limited(**{"retry-after": "0.2"}), Interaction.json(OK))
    provider, seen = openai_at(recorded_server)  # computed backoff is 0 s: any wait comes from the header
    result = await provider.acomplete("hi")
    assert result.text == "fine" and len(recorded_server.requests) == 2
    assert wait_between(seen) >= 0.2
    assert [a.error_type for a in result.attempts] == ["RateLimitError", None]


async def test_retry_after_wins_over_a_long_backoff(recorded_server):
    recorded_server.add(rate_limited(**{"retry-after": "0.1"}), Interaction.json(OK))
    provider, seen = openai_at(recorded_server, retry=fast(initial_delay=5.0))
    t0 = time.perf_counter()
    await provider.acomplete("hi")
    assert 0.1 <= wait_between(seen) < 1.0 and time.perf_counter() - t0 < 3.0


async def test_retry_after_ms_is_honoured_and_preferred(recorded_server):
    recorded_server.add(
        rate_limited(**{"retry-after-ms": "250"}),
        rate_limited(**{"retry-after-ms": "150", "retry-after": "30"}),  # the precise header wins
        Interaction.json(OK),
    )
    provider, seen = openai_at(recorded_server)
    t0 = time.perf_counter()
    await provider.acomplete("hi")
    assert seen[1].started_at - (seen[0].started_at + seen[0].latency_s) >= 0.25
    assert seen[2].started_at - (seen[1].started_at + seen[1].latency_s) >= 0.15
    assert time.perf_counter() - t0 < 5.0


async def test_anthropic_retry_after_is_honoured(recorded_server):
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    recorded_server.add(
        Interaction.error(429, body, {"retry-after": "0.2"}, path="/v1/messages"),
        Interaction.json(ANTHROPIC_OK, path="/v1/messages"),
    )
    seen: list[Attempt] = []
    provider = get_provider(
        "anthropic:claude-3-5-haiku-latest",
        config=Config(),
        base_url=recorded_server.url,
        api_key=FAKE_ANTHROPIC_KEY,
        retry=fast(),
        on_attempt=seen.append,
    )
    assert (await provider.acomplete("hi")).text == "fine"
    assert wait_between(seen) >= 0.2 and len(recorded_server.requests) == 2


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "tomorrow-ish"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= parse_retry_after({"retry-after": in_ten}) <= 10.0  # type: ignore[operator]
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after({"retry-after": past}) == 0.0


def test_backoff_doubles_with_bounded_jitter_and_caps():
    policy = RetryPolicy(initial_delay=0.5, max_delay=3.0, jitter=0.25, max_retry_after=10.0)
    rng = random.Random(1)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        delays = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert base * 0.75 <= min(delays) and max(delays) <= base * 1.25, attempt
        assert max(delays) - min(delays) > 0  # jitter is really applied
    assert policy.delay(1, retry_after=4.0) == 4.0
    assert policy.delay(1, retry_after=120.0) == 10.0  # a hostile Retry-After cannot stall a run


# -- which failures retry ------------------------------------------------------------------------------------


async def test_500_then_success_is_two_attempts(recorded_server):
    recorded_server.add(Interaction.error(500), Interaction.json(OK))
    provider, seen = openai_at(recorded_server)
    result = await provider.acomplete("hi")
    assert len(recorded_server.requests) == 2
    assert [(a.ok, a.status_code) for a in result.attempts] == [(False, 500), (True, None)]
    assert seen == result.attempts


async def test_400_is_not_retried(recorded_server):
    body = {"error": {"message": "Invalid value for 'temperature'", "type": "invalid_request_error"}}
    recorded_server.add(Interaction.error(400, body), Interaction.json(OK))
    provider, _ = openai_at(recorded_server, retry=fast(5))
    with pytest.raises(errors.InvalidRequestError, match="temperature") as info:
        await provider.acomplete("hi")
    assert len(recorded_server.requests) == 1 and len(info.value.attempts) == 1


async def test_401_is_not_retried(recorded_server):
    recorded_server.add(Interaction.error(401), Interaction.json(OK))
    provider, _ = openai_at(recorded_server, retry=fast(5))
    with pytest.raises(errors.AuthenticationError):
        await provider.acomplete("hi")
    assert len(recorded_server.requests) == 1


@pytest.mark.parametrize("max_attempts", [1, 3])
async def test_exactly_one_retry_layer(recorded_server, max_attempts):
    """The server sees exactly max_attempts requests: had the SDK kept its default 2 retries, it would see
    3 per attempt."""
    recorded_server.add(*[Interaction.error(503) for _ in range(10)])
    provider, _ = openai_at(recorded_server, retry=fast(max_attempts))
    with pytest.raises(errors.ServerError) as info:
        await provider.acomplete("hi")
    assert len(recorded_server.requests) == max_attempts == len(info.value.attempts)
    assert {r.headers.get("x-stainless-retry-count") for r in recorded_server.requests} == {"0"}


async def test_exactly_one_retry_layer_anthropic(recorded_server):
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    recorded_server.add(*[Interaction.error(529, body, path="/v1/messages") for _ in range(10)])
    provider = get_provider(
        "anthropic:claude-3-5-haiku-latest",
        config=Config(),
        base_url=recorded_server.url,
        api_key=FAKE_ANTHROPIC_KEY,
        retry=fast(2),
    )
    with pytest.raises(errors.ServerError, match="Overloaded"):
        await provider.acomplete("hi")
    assert len(recorded_server.requests) == 2


async def test_rate_limit_exhausted_keeps_retry_after(recorded_server):
    recorded_server.add(*[rate_limited(**{"retry-after": "0.05"}) for _ in range(2)])
    provider, _ = openai_at(recorded_server, retry=fast(2))
    with pytest.raises(errors.RateLimitError) as info:
        await provider.acomplete("hi")
    assert info.value.retry_after == 0.05 and info.value.status_code == 429
    assert len(recorded_server.requests) == 2


# -- timeouts and connections -----------------------------------------------------------------------------------


async def test_per_call_timeout_raises_provider_timeout_after_retries(recorded_server):
    recorded_server.add(*[Interaction.json(OK, delay_s=2.0) for _ in range(3)])
    provider, seen = openai_at(recorded_server, timeout=0.2, retry=fast(2))
    t0 = time.perf_counter()
    with pytest.raises(errors.ProviderTimeout) as info:
        await provider.acomplete("hi")
    elapsed = time.perf_counter() - t0
    assert len(recorded_server.requests) == 2 and [a.error_type for a in seen] == ["ProviderTimeout"] * 2
    assert 0.4 <= elapsed < 1.5  # two 0.2 s attempts, not the server's 2 s answer
    assert all(0.15 <= a.latency_s < 1.0 for a in info.value.attempts)


async def test_timeout_in_the_mock_transport_too():
    transport, rec = mock_transport([Interaction.json(OK, delay_s=5.0), Interaction.json(OK)])
    provider = get_provider(
        "openai:gpt-4o-mini",
        config=Config(),
        api_key=FAKE_OPENAI_KEY,
        http_client=httpx2.AsyncClient(transport=transport),
        timeout=0.1,
        retry=fast(2),
    )
    result = await provider.acomplete("hi")  # the first attempt times out, the retry answers
    assert result.text == "fine" and [a.error_type for a in result.attempts] == ["ProviderTimeout", None]
    rec.assert_all_used()


async def test_refused_connection_is_retried_then_typed():
    with RecordedServer() as server:
        url = server.url  # a port that was just free and is now closed
    provider = get_provider(
        "openai:gpt-4o-mini", config=Config(), base_url=url + "/v1", api_key=FAKE_OPENAI_KEY, retry=fast(2)
    )
    with pytest.raises(errors.ProviderConnectionError) as info:
        await provider.acomplete("hi")
    assert len(info.value.attempts) == 2 and info.value.retryable


# -- streams --------------------------------------------------------------------------------------------------

CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}


def chunks(*pieces: str) -> list[dict[str, Any]]:
    out = [
        {**CHUNK, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces
    ]
    out.append({**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return out


async def test_stream_retries_before_the_first_event(recorded_server):
    recorded_server.add(Interaction.error(502), Interaction.sse(chunks("a", "b"), done=True))
    provider, _ = openai_at(recorded_server)
    events = [e async for e in provider.astream("hi")]
    assert events[-1].completion.text == "ab" and len(events[-1].completion.attempts) == 2


async def test_stream_cut_after_text_is_not_retried(recorded_server):
    """Half an answer was already shown: a retry would show a different answer after it."""
    body = Interaction.sse(chunks("first", "second", "third"), done=True)
    cut = body.with_faults(cut_after_bytes=len(body.chunks()[0]) + 10)
    recorded_server.add(cut, Interaction.sse(chunks("never"), done=True))
    provider, _ = openai_at(recorded_server)
    shown: list[str] = []
    with pytest.raises(errors.ProviderConnectionError):
        async for event in provider.astream("hi"):
            if isinstance(event, TextDelta):
                shown.append(event.text)
    assert shown == ["first"] and len(recorded_server.requests) == 1


@pytest.mark.slow
async def test_a_slow_stream_consumer_is_not_timed_out() -> None:
    """The per-call timeout measures the provider, not the caller: a consumer that spends 0.15 s on each of
    many events (far past the 0.3 s timeout in all) must get the whole stream, not a CancelledError."""
    from llmbench.providers import StopEvent, get_provider

    provider = get_provider("sim:gpt-4o", timeout=0.3, time_scale=0.0, fault_rate=0.0)
    seen = 0
    async for event in provider.astream("one two three four five six"):
        seen += 1
        await asyncio.sleep(0.15)
        if isinstance(event, StopEvent):
            assert event.completion.text
    assert seen * 0.15 > 0.3 and isinstance(event, StopEvent)
