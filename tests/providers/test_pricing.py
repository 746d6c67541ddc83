"""Cost regression tests. Every expected figure is worked by hand, in the comments, from the vendors' published
list prices in USD per million tokens (Mtok):

    gpt-4o       $2.50 input, $1.25 cached input, $10.00 output
    gpt-4o-mini  $0.15 input, $0.075 cached input, $0.60 output
    o4-mini      $1.10 input, $0.275 cached input, $4.40 output (reasoning tokens are billed as output)
    claude-3-5-haiku  $0.80 input, $1.00 5-minute cache write, $0.08 cache read, $4.00 output
    claude-sonnet-4 / 4.5  $3.00 input, $3.75 cache write, $0.30 cache read, $15.00 output (prompts <= 200k)

Calls go through the real SDKs over a mock transport, so usage parsing and pricing are tested together.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx2
import pytest
from helpers import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbench.errors import ConfigError
from llmbench.providers import (
    Config,
    ModelPrice,
    PriceTable,
    RetryPolicy,
    UnknownPriceWarning,
    Usage,
    get_provider,
)
from llmbench.testing import Interaction, mock_transport

M = 1_000_000


def openai_answer(usage: dict[str, Any], model: str = "gpt-4o-2024-08-06") -> dict[str, Any]:
    return {
        "id": "chatcmpl-cost",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage,
    }


def anthropic_answer(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_cost",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def provider(model_id: str, interactions: list[Interaction], **options: Any):
    transport, _ = mock_transport(interactions)
    key = FAKE_ANTHROPIC_KEY if model_id.startswith("anthropic:") else FAKE_OPENAI_KEY
    options.setdefault("config", Config())
    return get_provider(model_id, api_key=key, http_client=httpx2.AsyncClient(transport=transport), **options)


async def test_openai_cached_prompt_is_not_double_counted():
    usage = {
        "prompt_tokens": 2000,  # includes the 1500 cached tokens
        "completion_tokens": 300,
        "total_tokens": 2300,
        "prompt_tokens_details": {"cached_tokens": 1500},
    }
    result = await provider("openai:gpt-4o", [Interaction.json(openai_answer(usage))]).acomplete("hi")
    assert result.usage == Usage(input_tokens=500, cache_read_tokens=1500, output_tokens=300)
    # 500 * 2.50 + 1500 * 1.25 + 300 * 10.00 = 1250 + 1875 + 3000 = 6125 $/M -> $0.006125
    # (pricing all 2000 prompt tokens at 2.50 AND the 1500 again as cached would give $0.010875)
    assert result.cost_usd == pytest.approx(6125 / M, rel=1e-9)


async def test_anthropic_cache_write_and_read():
    usage = {
        "input_tokens": 100,  # Anthropic's input_tokens already excludes cache reads and writes
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 3000,
        "output_tokens": 200,
    }
    result = await provider(
        "anthropic:claude-3-5-haiku-latest", [Interaction.json(anthropic_answer(usage), path="/v1/messages")]
    ).acomplete("hi")
    assert result.usage == Usage(
        input_tokens=100, cache_write_tokens=2000, cache_read_tokens=3000, output_tokens=200
    )
    # 100 * 0.80 + 2000 * 1.00 + 3000 * 0.08 + 200 * 4.00 = 80 + 2000 + 240 + 800 = 3120 $/M -> $0.00312
    assert result.cost_usd == pytest.approx(3120 / M, rel=1e-9)


async def test_anthropic_one_hour_cache_writes_take_their_own_rate():
    usage = {
        "input_tokens": 100,
        "cache_creation_input_tokens": 2000,  # all writes; the split by lifetime follows
        "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1500},
        "cache_read_input_tokens": 3000,
        "output_tokens": 200,
    }
    result = await provider(
        "anthropic:claude-3-5-haiku-latest", [Interaction.json(anthropic_answer(usage), path="/v1/messages")]
    ).acomplete("hi")
    assert result.usage == Usage(
        input_tokens=100,
        cache_write_tokens=2000,
        cache_write_1h_tokens=1500,
        cache_read_tokens=3000,
        output_tokens=200,
    )
    # 100 * 0.80 + 500 * 1.00 + 1500 * 1.60 + 3000 * 0.08 + 200 * 4.00 = 80 + 500 + 2400 + 240 + 800 = 4020 $/M
    # (all 2000 writes at the 5-minute rate would give 3120 $/M)
    assert result.cost_usd == pytest.approx(4020 / M, rel=1e-9)
    # the override file: a one-hour rate where given, else the cache-write rate
    mine = ModelPrice(input=1, output=2, cache_write=3, cache_write_1h=5)
    assert mine.cost(Usage(cache_write_tokens=10, cache_write_1h_tokens=4)) == pytest.approx(
        (6 * 3 + 4 * 5) / M
    )
    plain = ModelPrice(input=1, output=2, cache_write=3)
    assert plain.cost(Usage(cache_write_tokens=10, cache_write_1h_tokens=4)) == pytest.approx(30 / M)


async def test_openai_reasoning_tokens_are_output_priced_once():
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 5000,  # includes the 4000 reasoning tokens
        "total_tokens": 6000,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 4000},
    }
    answer = openai_answer(usage, model="o4-mini-2025-04-16")
    result = await provider("openai:o4-mini", [Interaction.json(answer)]).acomplete("think")
    assert result.usage == Usage(input_tokens=1000, output_tokens=5000, reasoning_tokens=4000)
    # 1000 * 1.10 + 5000 * 4.40 = 1100 + 22000 = 23100 $/M -> $0.0231 (adding reasoning again: $0.0407)
    assert result.cost_usd == pytest.approx(23100 / M, rel=1e-9)


async def test_anthropic_thinking_tokens_recorded_exchange(cassette):
    """A recorded claude-sonnet-4 answer with a thinking block: its output_tokens (155) include the thinking."""
    recorded = cassette("test_anthropic/test_anthropic_tool_with_thinking")[:1]
    result = await provider("anthropic:claude-sonnet-4-0", recorded).acomplete(
        "What is the largest city in the user country?", thinking={"type": "enabled", "budget_tokens": 3000}
    )
    # 398 * 3.00 + 155 * 15.00 = 1194 + 2325 = 3519 $/M -> $0.003519
    assert result.cost_usd == pytest.approx(3519 / M, rel=1e-9)


async def test_streamed_usage_is_priced(cassette):
    recorded = cassette("test_openai/test_run_stream_sync_streams_real_model")[1:]
    p = provider("openai:gpt-4o-mini", recorded)
    events = [e async for e in p.astream("What is the capital of the UK?")]
    # recorded usage chunk: 78 prompt, 9 completion -> 78 * 0.15 + 9 * 0.60 = 11.7 + 5.4 = 17.1 $/M
    assert events[-1].completion.cost_usd == pytest.approx(17.1 / M, rel=1e-9)


async def test_retried_call_bills_only_attempts_that_report_usage():
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    p = provider(
        "openai:gpt-4o-mini",
        [Interaction.error(500), Interaction.json(openai_answer(usage, "gpt-4o-mini"))],
        retry=RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0),
    )
    result = await p.acomplete("hi")
    first, second = result.attempts
    assert (first.usage, first.cost_usd) == (None, None)  # a 500 reports no tokens: nothing billed
    # 1000 * 0.15 + 100 * 0.60 = 150 + 60 = 210 $/M
    assert second.cost_usd == pytest.approx(210 / M) == result.cost_usd
    assert result.total_cost_usd == pytest.approx(210 / M)


async def test_cut_stream_and_its_retry_are_both_billed(cassette):
    """An Anthropic stream reports input usage in message_start; when the connection then drops (before any
    text), the retry runs and both attempts' reported usage is billed."""
    [whole] = cassette("test_anthropic/test_request_stream_fallback_for_high_max_tokens")
    cut = whole.with_faults(cut_after_bytes=len(whole.chunks()[0]) + 5)  # message_start, then the drop
    p = provider(
        "anthropic:claude-sonnet-4-5",
        [cut, whole],
        retry=RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's notice about this model's age
        events = [e async for e in p.astream("What is 1+1? Answer with just the number.")]
    done = events[-1].completion
    first, second = done.attempts
    assert not first.ok and first.usage == Usage(input_tokens=20, output_tokens=1)
    # attempt 1: 20 * 3.00 + 1 * 15.00 = 75 $/M; attempt 2 (recorded end): 20 * 3.00 + 5 * 15.00 = 135 $/M
    assert first.cost_usd == pytest.approx(75 / M)
    assert second.cost_usd == pytest.approx(135 / M) == done.cost_usd
    assert done.total_cost_usd == pytest.approx(210 / M)


# -- the price table ---------------------------------------------------------------------------------------------

PRICES = """
models:
  "local:llama3": {input: 0, output: 0}
  "openai:ft:gpt-4o-mini:acme": {input: 0.3, output: 1.2, cache_read: 0.15}
  "mine:thinker": {input: 1, output: 2, reasoning: 3}
"""


@pytest.fixture
def price_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES)
    return path


def test_override_file_prices(price_file):
    table = PriceTable.from_file(price_file)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a priced model must not warn
        free = table.price("local:llama3", Usage(input_tokens=5000, output_tokens=800))
        tuned = table.price(
            "openai:ft:gpt-4o-mini:acme", Usage(input_tokens=1000, cache_read_tokens=2000, output_tokens=500)
        )
        thinker = table.price("mine:thinker", Usage(input_tokens=0, output_tokens=100, reasoning_tokens=60))
    assert free == 0.0 and free is not None  # a local model at $0 is a real price, not "unknown"
    # 1000 * 0.30 + 2000 * 0.15 + 500 * 1.20 = 300 + 300 + 600 = 1200 $/M
    assert tuned == pytest.approx(1200 / M)
    # 40 plain output * 2 + 60 reasoning * 3 = 80 + 180 = 260 $/M
    assert thinker == pytest.approx(260 / M)


def test_batch_price_uses_the_files_batch_rates_else_half_the_list_price(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES + '  "mine:batched": {input: 2, output: 8, batch_input: 0.5, batch_output: 3}\n'
                    '  "mine:half": {input: 2, output: 8, batch_input: 0.5}\n')  # fmt: skip
    table = PriceTable.from_file(path)
    usage = Usage(input_tokens=1000, output_tokens=500)
    # the file's own batch rates: 1000 * 0.5 + 500 * 3 = 2000 $/M
    assert table.batch_price("mine:batched", usage) == (pytest.approx(2000 / M), "batch_rate")
    # one batch rate alone is not a price: half of the list, 0.5 * (1000 * 2 + 500 * 8) = 3000 $/M
    assert table.batch_price("mine:half", usage) == (pytest.approx(3000 / M), "batch_discount")
    # a snapshot-priced model: exactly half of its interactive price
    listed = table.price("openai:gpt-4o", usage)
    assert listed and table.batch_price("openai:gpt-4o", usage) == (
        pytest.approx(listed / 2),
        "batch_discount",
    )
    assert table.batch_price("mine:batched", None)[0] is None
    with pytest.raises(ConfigError):
        (tmp_path / "bad.yaml").write_text('models:\n  "m:x": {input: 1, output: 1, batch_output: -1}\n')
        PriceTable.from_file(tmp_path / "bad.yaml")


def test_unknown_model_is_none_with_exactly_one_warning():
    table = PriceTable()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # so any de-duplication seen is the table's own
        costs = [
            table.price("openai:no-such-model-xyz", Usage(input_tokens=10, output_tokens=10))
            for _ in range(3)
        ]
    assert costs == [None, None, None]
    unknown = [w for w in caught if issubclass(w.category, UnknownPriceWarning)]
    assert len(unknown) == 1 and "openai:no-such-model-xyz" in str(unknown[0].message)


def test_no_usage_is_no_cost_and_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert PriceTable().price("openai:no-such-model-xyz", None) is None


def test_dated_snapshot_names_price_like_their_alias():
    usage = Usage(input_tokens=1000, output_tokens=1000)
    # 1000 * 2.50 + 1000 * 10.00 = 12500 $/M
    assert PriceTable().price("openai:gpt-4o-2024-08-06", usage) == pytest.approx(12500 / M)
    assert PriceTable().price("openai:gpt-4o", usage) == pytest.approx(12500 / M)


async def test_config_price_file_and_free_endpoints_reach_the_provider(tmp_path, price_file):
    config = tmp_path / "llmbench.toml"
    config.write_text(f'price_file = "{price_file}"\n[endpoints.local]\nbase_url = "http://127.0.0.1:9/v1"\n')
    usage = {"prompt_tokens": 900, "completion_tokens": 100, "total_tokens": 1000}
    local = provider("local:llama3", [Interaction.json(openai_answer(usage, "llama3"))], config=config)
    result = await local.acomplete("hi")
    assert result.cost_usd == 0.0 and result.usage is not None
    ollama = provider("ollama:llama3.2", [Interaction.json(openai_answer(usage, "llama3.2"))])
    assert (await ollama.acomplete("hi")).cost_usd == 0.0  # built-in local endpoints are free


def test_bad_price_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        PriceTable.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  x: {input: cheap, output: 1}\n")
    with pytest.raises(ConfigError, match="invalid"):
        PriceTable.from_file(bad)


def test_version_names_the_snapshot_and_the_overrides():
    import genai_prices

    plain = PriceTable().version
    custom = PriceTable({"a:b": ModelPrice(input=1, output=1)}).version
    assert plain.startswith(f"genai-prices-{genai_prices.__version__}+") and plain != custom


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(
        [
            "openai:gpt-4o",
            "openai:gpt-4o-mini",
            "openai:o4-mini",
            "anthropic:claude-3-5-haiku-latest",
            "anthropic:claude-sonnet-4-0",
        ]
    ),
    counts=st.tuples(*[st.integers(0, 30_000)] * 4),
    one_hour=st.floats(0, 1),
)
def test_cached_linear_rates_equal_genai_prices_own_calculation(
    model: str, counts: tuple[int, ...], one_hour: float
) -> None:
    """The hot path (per-token rates read once) gives genai-prices' exact figure below the tier threshold."""
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    uncached, read, write, out = counts
    write_1h = int(write * one_hour)  # a share of the writes has the one-hour lifetime
    usage = Usage(
        input_tokens=uncached,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
        output_tokens=out,
    )
    provider, _, name = model.partition(":")
    expected = calc_price(
        GUsage(
            input_tokens=uncached + read + write,
            cache_read_tokens=read,
            cache_write_tokens=write,
            cache_write_1h_tokens=write_1h,
            output_tokens=out,
        ),
        model_ref=name,
        provider_id=provider,
    ).total_price
    assert PriceTable().price(model, usage) == pytest.approx(float(expected), rel=1e-12, abs=1e-15)


def test_long_prompts_take_the_tiered_path() -> None:
    """Past 200k prompt tokens Claude Sonnet 4 charges its long-context rate; the linear shortcut must not apply."""
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    usage = Usage(input_tokens=250_000, output_tokens=1_000)
    expected = calc_price(
        GUsage(input_tokens=250_000, output_tokens=1_000),
        model_ref="claude-sonnet-4-0",
        provider_id="anthropic",
    )
    assert PriceTable().price("anthropic:claude-sonnet-4-0", usage) == pytest.approx(
        float(expected.total_price)
    )


def test_batch_rates_stack_on_cache_rates() -> None:
    """Both vendors document the batch discount on top of cache pricing; before, a price file's batch rates
    charged cache reads (and writes) at the full batch input rate."""
    table = PriceTable({"openai:m": ModelPrice(input=2.0, output=8.0, cache_read=0.5, cache_write=2.5, reasoning=8.0,
                                               batch_input=1.0, batch_output=4.0)})  # fmt: skip
    million = 1_000_000
    cost, basis = table.batch_price("openai:m", Usage(cache_read_tokens=million))
    assert basis == "batch_rate" and cost == pytest.approx(0.25)
    assert table.batch_price("openai:m", Usage(cache_write_tokens=million))[0] == pytest.approx(1.25)
    assert table.batch_price("openai:m", Usage(input_tokens=million, output_tokens=million))[
        0
    ] == pytest.approx(5.0)
    listed, basis = PriceTable({"openai:n": ModelPrice(input=2.0, output=8.0, cache_read=0.5)}).batch_price(
        "openai:n", Usage(cache_read_tokens=million)
    )
    assert basis == "batch_discount" and listed == pytest.approx(0.25)
