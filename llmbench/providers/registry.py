"""Model ids to provider objects: `openai:gpt-4o-mini`, `anthropic:claude-3-5-haiku-latest`, `sim:gpt-4o`,
`ollama:llama3.2`, or `NAME:model` for an OpenAI-compatible endpoint named in the config file:

    # llmbench.toml (or the file named by $LLMBENCH_CONFIG)
    price_file = "prices.yaml"
    [endpoints.together]
    base_url = "https://api.together.xyz/v1"
    api_key_env = "TOGETHER_API_KEY"
    [endpoints.lab]
    kind = "anthropic"                # an Anthropic-compatible server
    base_url = "http://10.0.0.5:8080"
    free = true                       # price every model here at $0 (a local server)
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from llmbench.errors import ConfigError
from llmbench.providers.base import Provider
from llmbench.providers.pricing import ModelPrice, PriceTable


class Endpoint(BaseModel):
    """An OpenAI- or Anthropic-compatible server reachable by base URL."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["openai", "anthropic"] = "openai"
    base_url: str
    api_key_env: str | None = None
    free: bool = False


class Config(BaseModel):
    """The llmbench config file."""

    model_config = ConfigDict(extra="forbid")
    price_file: str | None = None
    endpoints: dict[str, Endpoint] = {}


# Local servers are free by default: their cost is the user's own hardware, not a per-token bill.
BUILTIN_ENDPOINTS = {
    "ollama": Endpoint(base_url="http://127.0.0.1:11434/v1", free=True),
    "vllm": Endpoint(base_url="http://127.0.0.1:8000/v1", free=True),
    "llamacpp": Endpoint(base_url="http://127.0.0.1:8080/v1", free=True),
}


def load_config(path: str | Path | None = None) -> Config:
    """Read the config file (argument, $LLMBENCH_CONFIG, or ./llmbench.toml); an absent default file is fine."""
    explicit = path or os.environ.get("LLMBENCH_CONFIG")
    p = Path(explicit) if explicit else Path("llmbench.toml")
    if not p.is_file():
        if explicit:
            raise ConfigError(f"config file {p} does not exist; fix the path or unset LLMBENCH_CONFIG")
        return Config()
    try:
        return Config.model_validate(tomllib.loads(p.read_text()))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"config file {p} is invalid: {exc}") from None


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split `provider:model`; the model part may itself contain colons (fine-tunes, Ollama tags)."""
    provider, sep, model = model_id.partition(":")
    if not sep or not provider or not model:
        raise ConfigError(
            f"model id {model_id!r} must look like 'provider:model', e.g. 'openai:gpt-4o-mini', "
            "'anthropic:claude-3-5-haiku-latest' or 'sim:gpt-4o'"
        )
    return provider, model


def get_provider(model_id: str, *, config: Config | str | Path | None = None, **options: Any) -> Provider:
    """The provider object for a model id; `options` go to the adapter (api_key, base_url, timeout, retry,
    http_client, price_table, on_attempt, default_params)."""
    provider, model = parse_model_id(model_id)
    cfg = config if isinstance(config, Config) else load_config(config)
    if "price_table" not in options:
        options["price_table"] = PriceTable.from_file(cfg.price_file)
    options["model_id"] = model_id
    if provider == "openai":
        from llmbench.providers.openai import OpenAIProvider

        return OpenAIProvider(model, **options)
    if provider == "anthropic":
        from llmbench.providers.anthropic import AnthropicProvider

        return AnthropicProvider(model, **options)
    if provider == "sim":
        from llmbench.providers.sim import SimProvider

        for key in ("base_url", "api_key", "http_client"):
            options.pop(key, None)
        return SimProvider(model, **options)
    endpoint = cfg.endpoints.get(provider) or BUILTIN_ENDPOINTS.get(provider)
    if endpoint is None:
        known = sorted({"openai", "anthropic", "sim", *BUILTIN_ENDPOINTS, *cfg.endpoints})
        raise ConfigError(
            f"unknown provider {provider!r} in {model_id!r}; use one of {known} or define "
            f"[endpoints.{provider}] with a base_url in llmbench.toml"
        )
    options.setdefault("base_url", endpoint.base_url)
    if endpoint.free:
        table: PriceTable = options["price_table"]
        if table.lookup(model_id) is None:
            table.overrides[model_id] = ModelPrice(input=0, output=0)
    if endpoint.api_key_env:
        options.setdefault("api_key_env", endpoint.api_key_env)
    if endpoint.kind == "anthropic":
        from llmbench.providers.anthropic import AnthropicProvider

        return AnthropicProvider(model, provider_name=provider, **options)
    from llmbench.providers.openai import OpenAIProvider

    return OpenAIProvider(model, provider_name=provider, **options)
