"""Cost in USD from a versioned price table: the `genai-prices` offline snapshot plus user overrides.

Vendor rules applied: OpenAI and Anthropic bill reasoning/thinking tokens as output tokens (they are part of the
reported output count, never added twice); cache reads and writes have their own rates. An override file prices
custom, fine-tuned and local models, in USD per million tokens:

    # prices.yaml
    models:
      "local:llama3": {input: 0, output: 0}          # a local server: free is a real price
      "openai:ft:gpt-4o-mini:acme": {input: 0.3, output: 1.2, cache_read: 0.15}

An unknown model costs `None` (with one warning per model), never a silent 0.

Batch APIs (OpenAI's Batch API, Anthropic's Message Batches) bill half the list price, as both vendors document;
a price file can state a model's own batch rates (`batch_input`, `batch_output`), which then win.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmbench import yaml_safe
from llmbench.errors import ConfigError
from llmbench.providers.kinds import price_vendor
from llmbench.providers.model_ref import ModelRef
from llmbench.providers.types import Message, ReasoningBlock, TextBlock, ToolCall, ToolResult, Usage

log = logging.getLogger(__name__)
_MILLION = Decimal(1_000_000)

BATCH_DISCOUNT = 0.5  # OpenAI and Anthropic both bill batch requests at 50% of the interactive price
# Providers whose model names genai-prices knows under its own provider id.


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


MAX_PRICE = 1_000_000.0  # USD per million tokens: a dollar a token is far above any real price


class ModelPrice(BaseModel):
    """Prices in USD per million tokens (finite, >= 0); missing cache/reasoning rates fall back to input/output."""

    # strict: `true` is not a price; at most $1 a token, so no cost can overflow to infinity
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    input: float = Field(ge=0, le=MAX_PRICE)
    output: float = Field(ge=0, le=MAX_PRICE)
    cache_read: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    cache_write: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    cache_write_1h: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    reasoning: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    # rates through a batch API (default: half of the above)
    batch_input: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    batch_output: float | None = Field(default=None, ge=0, le=MAX_PRICE)

    def cost(self, usage: Usage) -> float:
        """Dollar cost of `usage` at these rates."""
        rate = _decimal  # exact decimal arithmetic, not float sums
        reasoning_rate = self.reasoning if self.reasoning is not None else self.output
        write_rate = self.cache_write if self.cache_write is not None else self.input
        write_1h_rate = self.cache_write_1h if self.cache_write_1h is not None else write_rate
        plain_output = usage.output_tokens - usage.reasoning_tokens
        total = (
            usage.input_tokens * rate(self.input)
            + usage.cache_read_tokens * rate(self.cache_read if self.cache_read is not None else self.input)
            + (usage.cache_write_tokens - usage.cache_write_1h_tokens) * rate(write_rate)
            + usage.cache_write_1h_tokens * rate(write_1h_rate)
            + plain_output * rate(self.output)
            + usage.reasoning_tokens * rate(reasoning_rate)
        )
        return float(total / _MILLION)


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: dict[str, ModelPrice] = {}


CHARS_PER_TOKEN = 4  # the rough size of a token wherever no tokenizer or usage says better
DEFAULT_MAX_TOKENS = 256  # the answer size estimates assume when a call sets no max_tokens


def estimate_tokens(text: str) -> int:
    """Rough token count where none was reported (about four characters a token, at least one)."""
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


def call_tokens(messages: list[Message], params: Mapping[str, Any]) -> tuple[int, int]:
    """(input, output) tokens of a call before its usage is known, for budgets and rate limits: the prompt's
    tokens and a full `max_tokens` answer (DEFAULT_MAX_TOKENS when none is set)."""
    chars = 0
    for m in messages:
        for b in m.content:
            if isinstance(b, TextBlock | ReasoningBlock):
                chars += len(b.text)
            elif isinstance(b, ToolResult):
                chars += len(b.content)
            elif isinstance(b, ToolCall):
                chars += len(b.arguments_json())
    limit = params.get("max_tokens") or params.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
    return chars // CHARS_PER_TOKEN + 1, int(limit)


class PriceTable:
    """Looks up the price of a model id (`provider:model`) and computes the cost of a usage record."""

    def __init__(self, overrides: dict[str, ModelPrice] | None = None) -> None:
        self.overrides: dict[str, ModelPrice] = dict(overrides or {})
        self._warned: set[str] = set()

    @classmethod
    def from_file(cls, path: str | Path | None) -> PriceTable:
        """Load overrides from a YAML/JSON price file (None: snapshot prices only)."""
        if path is None:
            return cls()
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"price file {p} does not exist; pass an existing YAML or JSON file")
        try:
            raw = yaml_safe.load(p.read_text(encoding="utf-8")) or {}
            parsed = _PriceFile.model_validate(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"price file {p} is not valid YAML/JSON: {str(exc).splitlines()[0]}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()
            )
            raise ConfigError(
                f"price file {p} is invalid: {problems}. Expected `models: {{'provider:model': {{input: "
                "USD/Mtok, output: USD/Mtok}}` with finite prices >= 0"
            ) from None
        return cls(parsed.models)

    def with_prices(self, prices: dict[str, ModelPrice]) -> PriceTable:
        """A new table with `prices` added to this one's overrides (this one is left as it is)."""
        return PriceTable({**self.overrides, **prices})

    @property
    def version(self) -> str:
        """Snapshot version plus a hash of the overrides, stored with every experiment."""
        import genai_prices

        blob = json.dumps({k: v.model_dump() for k, v in sorted(self.overrides.items())}, sort_keys=True)
        return f"genai-prices-{genai_prices.__version__}+{hashlib.sha256(blob.encode()).hexdigest()[:8]}"

    def lookup(self, model: ModelRef | str) -> ModelPrice | None:
        """The override for a model, tried as `provider:model` then bare `model`."""
        ref = ModelRef.loose(model)
        if ref.id in self.overrides:
            return self.overrides[ref.id]
        return self.overrides.get(ref.model) if ref.provider else None

    def price(
        self, model: ModelRef | str, usage: Usage | None, *, api_url: str | None = None
    ) -> float | None:
        """Cost in USD of `usage` on `model_id`; None (and one warning) when the model has no known price.

        For endpoints other than OpenAI and Anthropic, `api_url` (the base URL) picks the vendor in the
        snapshot, so a model name is never priced at another vendor's rate by a lucky name match.
        """
        if usage is None:
            return None
        ref = ModelRef.loose(model)
        override = self.lookup(ref)
        if override is not None:
            return override.cost(usage)
        cost = _snapshot_cost(price_vendor(ref.provider), ref.model, usage, api_url)
        if cost is None and ref.id not in self._warned:
            self._warned.add(ref.id)
            warnings.warn(
                f"no price known for {ref.id!r}: its cost is recorded as unknown (None). Add it to a price "
                "file (`models: {'<id>': {input: .., output: ..}}`) to price it.",
                UnknownPriceWarning,
                stacklevel=2,
            )
        return cost

    def unpriced_note(self, model: ModelRef | str) -> str:
        """What to tell a user before any call about `model_id`, which has no price: its cost will be unknown, with
        a did-you-mean for an id that looks like a priced one (a typo such as openai:gpt-4o-mni is otherwise only
        caught by the API, later)."""
        model_id = ModelRef.loose(model).id
        close = [m for m in close_models(model_id, self) if m != model_id]
        hint = (
            f"; did you mean {' or '.join(close)}?"
            if close
            else " (add it to a price file to count its cost)"
        )
        return f"no price is known for {model_id}: its cost will be recorded as unknown{hint}"

    def batch_price(
        self, model: ModelRef | str, usage: Usage | None, *, api_url: str | None = None
    ) -> tuple[float | None, str]:
        """(USD through the vendor's batch API, the cost basis): a price file's batch rates ("batch_rate"), else
        the list price times BATCH_DISCOUNT ("batch_discount")."""
        override = self.lookup(model)
        if (
            usage is not None
            and override is not None
            and None not in (override.batch_input, override.batch_output)
        ):
            # the batch discount stacks on cache rates, as both vendors document: each rate scaled like its base
            assert override.batch_input is not None and override.batch_output is not None
            in_ratio = override.batch_input / override.input if override.input else 0.0
            out_ratio = override.batch_output / override.output if override.output else 0.0

            def scale(rate: float | None, ratio: float) -> float | None:
                return None if rate is None else rate * ratio

            rates = override.model_copy(
                update={
                    "input": override.batch_input,
                    "output": override.batch_output,
                    "cache_read": scale(
                        override.cache_read if override.cache_read is not None else override.input, in_ratio
                    ),
                    "cache_write": scale(override.cache_write, in_ratio),
                    "cache_write_1h": scale(override.cache_write_1h, in_ratio),
                    "reasoning": scale(override.reasoning, out_ratio),
                }
            )
            return rates.cost(usage), "batch_rate"
        listed = self.price(model, usage, api_url=api_url)
        return (None if listed is None else listed * BATCH_DISCOUNT), "batch_discount"

    def price_by_name(self, model: str, usage: Usage) -> float | None:
        """Cost of a bare model name with no known vendor (e.g. public logs): the overrides first, then the
        snapshot's match across vendors. For imports only; live calls always know their provider."""
        override = self.lookup(model)
        if override is not None:
            return override.cost(usage)
        from genai_prices import Usage as GUsage
        from genai_prices import calc_price

        g = GUsage(input_tokens=usage.total_input_tokens, output_tokens=usage.output_tokens)
        try:
            return float(calc_price(g, model_ref=model).total_price)
        except LookupError:
            if model not in self._warned:
                self._warned.add(model)
                warnings.warn(
                    f"no price known for {model!r}: its cost is unknown (None)",
                    UnknownPriceWarning,
                    stacklevel=2,
                )
            return None

    def token_rates(self, model: str) -> tuple[float, float] | None:
        """USD per input and per output token of a model id (`provider:model`) or a bare name, or None when
        unpriced. For bulk estimates of imported logs: prices at the base tier, linear in the token counts."""
        probe = 10_000
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownPriceWarning)
            if ":" in model:
                rate_in = self.price(model, Usage(input_tokens=probe))
                rate_out = self.price(model, Usage(output_tokens=probe))
            else:
                rate_in = self.price_by_name(model, Usage(input_tokens=probe))
                rate_out = self.price_by_name(model, Usage(output_tokens=probe))
        if rate_in is None or rate_out is None:
            return None
        return rate_in / probe, rate_out / probe


def close_models(model: ModelRef | str, table: PriceTable | None = None, n: int = 3) -> list[str]:
    """Priced model ids that look like `model_id` (a typo's did-you-mean): the vendor's snapshot models and the
    table's overrides with the same provider prefix."""
    import difflib

    from genai_prices import data_snapshot

    ref = ModelRef.loose(model)
    provider = ref.provider
    names = [o for o in (table.overrides if table else {}) if o.startswith(provider + ":")]
    vendor = price_vendor(provider)
    if vendor is not None:
        found = next((p for p in data_snapshot.get_snapshot().providers if p.id == vendor), None)
        names += [f"{provider}:{m.id}" for m in (found.models if found else []) if not m.id.endswith("-")]
    return difflib.get_close_matches(ref.id, sorted(set(names)), n=n, cutoff=0.8)


class UnknownPriceWarning(UserWarning):
    """A model has no price in the snapshot or the overrides."""


@functools.lru_cache(maxsize=1024)
def _find_model(provider_id: str | None, model: str, api_url: str | None) -> tuple[Any, Any] | None:
    """The snapshot's (provider, model) for a name, cached: the lookup scans every vendor's patterns."""
    from genai_prices import data_snapshot

    try:
        return data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, api_url)
    except LookupError:
        return None


# Below this many prompt tokens no vendor in the snapshot changes tier, so cost is linear in each count.
_LINEAR_BELOW = 100_000


def _snapshot_cost(
    provider_id: str | None, model: str, usage: Usage, api_url: str | None = None
) -> float | None:
    if provider_id is None and api_url is None:
        return None  # a bare model name could match any vendor's price: unknown is honest
    found = _find_model(provider_id, model, api_url)
    if found is None:
        return None
    if usage.total_input_tokens < _LINEAR_BELOW:
        rates = _unit_rates(provider_id, model, api_url, _hour())
        return float(
            usage.input_tokens * rates[0]
            + usage.cache_read_tokens * rates[1]
            + (usage.cache_write_tokens - usage.cache_write_1h_tokens) * rates[2]
            + usage.output_tokens * rates[3]
            + usage.cache_write_1h_tokens * rates[4]
        )
    return _full_cost(found, usage)


def _full_cost(found: tuple[Any, Any], usage: Usage) -> float:
    """genai-prices' own calculation (tiers included); its input_tokens is the whole prompt."""
    from genai_prices import Usage as GUsage

    g = GUsage(
        input_tokens=usage.total_input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_tokens=usage.output_tokens,
    )
    vendor, entry = found
    return float(entry.calc_price(g, vendor, genai_request_timestamp=datetime.now(tz=UTC)).total_price)


def _hour() -> int:
    """The current hour: rates are re-read hourly, since snapshot prices can change at a set date."""
    return int(datetime.now(tz=UTC).timestamp() // 3600)


@functools.lru_cache(maxsize=1024)
def _unit_rates(provider_id: str | None, model: str, api_url: str | None, hour: int) -> tuple[Decimal, ...]:
    """Exact USD per token for uncached input, cache read, cache write, output and one-hour cache write (the
    hot path of pricing: genai-prices' own calculation costs about 0.4 ms a call)."""
    found = _find_model(provider_id, model, api_url)
    assert found is not None
    n = 10_000
    probes = [
        Usage(input_tokens=n),
        Usage(cache_read_tokens=n),
        Usage(cache_write_tokens=n),
        Usage(output_tokens=n),
        Usage(cache_write_tokens=n, cache_write_1h_tokens=n),
    ]
    return tuple(Decimal(str(_full_cost(found, u))) / n for u in probes)


def snapshot_rates(model: ModelRef | str) -> dict[str, Any] | None:
    """Per-million-token rates the snapshot holds for a model (for reports and the simulator)."""
    ref = ModelRef.loose(model)
    probe = Usage(input_tokens=1_000_000)
    out = Usage(output_tokens=1_000_000)
    pin = _snapshot_cost(price_vendor(ref.provider), ref.model, probe)
    pout = _snapshot_cost(price_vendor(ref.provider), ref.model, out)
    if pin is None or pout is None:
        return None
    return {"input": pin, "output": pout}
