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
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from llmbench.errors import ConfigError
from llmbench.providers.base import Provider
from llmbench.providers.kinds import PROVIDERS
from llmbench.providers.model_ref import ModelRef
from llmbench.providers.pricing import ModelPrice, PriceTable


class Endpoint(BaseModel):
    """An OpenAI- or Anthropic-compatible server reachable by base URL."""

    model_config = ConfigDict(extra="forbid")
    kind: str = "openai"
    base_url: str
    api_key_env: str | None = None
    free: bool = False

    @field_validator("kind")
    @classmethod
    def _a_registered_kind(cls, kind: str) -> str:
        """A provider kind that can talk to another server of its API (an SDK kind such as openai)."""
        found = PROVIDERS.find(kind)
        if not getattr(found, "serves_endpoints", False):
            able = [k for k in PROVIDERS.names() if getattr(PROVIDERS.find(k), "serves_endpoints", False)]
            raise ValueError(
                f"kind {kind!r} is not a provider kind an endpoint can use; choose one of {able}"
            )
        return PROVIDERS.key(kind)


class Config(BaseModel):
    """The llmbench config file."""

    model_config = ConfigDict(extra="forbid")
    price_file: str | None = None
    endpoints: dict[str, Endpoint] = {}
    routers: dict[str, str] = {}  # name -> policy file or MLflow model URI, for `router:NAME`


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


def provider_label(model_id: str) -> str:
    """The provider part of a model id for tables and MLflow (`openai` of `openai:gpt-4o`); "other" for a bare
    model name (imported logs name models without their provider)."""
    return ModelRef.loose(model_id).label


def parse_model_id(model_id: str) -> tuple[str, str]:
    """(provider, model) of `provider:model` (see `ModelRef.parse`)."""
    ref = ModelRef.parse(model_id)
    return ref.provider, ref.model


def get_provider(
    model_id: str | ModelRef, *, config: Config | str | Path | None = None, **options: Any
) -> Provider:
    """The provider object for a model id; `options` go to the adapter (api_key, base_url, timeout, retry,
    http_client, price_table, on_attempt, default_params). The caller's price table is never changed."""
    ref = model_id if isinstance(model_id, ModelRef) else ModelRef.parse(model_id)  # parsed once, carried
    cfg = config if isinstance(config, Config) else load_config(config)
    table: PriceTable = options.pop("price_table", None) or PriceTable.from_file(cfg.price_file)
    kind = PROVIDERS.find(ref.provider)
    if kind is None:
        endpoint = cfg.endpoints.get(ref.provider) or BUILTIN_ENDPOINTS.get(ref.provider)
        if endpoint is None:
            known = sorted({*PROVIDERS.names(), *BUILTIN_ENDPOINTS, *cfg.endpoints})
            raise ConfigError(
                f"unknown provider {ref.provider!r} in {ref.id!r}; use one of {known} or define "
                f"[endpoints.{ref.provider}] with a base_url in llmbench.toml"
            )
        kind = PROVIDERS.get(endpoint.kind)
        options.setdefault("base_url", endpoint.base_url)
        options["provider_name"] = ref.provider
        if endpoint.api_key_env:
            options.setdefault("api_key_env", endpoint.api_key_env)
        if endpoint.free and table.lookup(ref.id) is None:
            table = table.with_prices({ref.id: ModelPrice(input=0, output=0)})
    if not (isinstance(kind, type) and issubclass(kind, Provider)):
        raise ConfigError(f"provider {ref.provider!r} is {kind!r}, not a Provider class")
    if kind.composite:  # it builds other models from this registry, with the same config and prices
        return kind.from_registry(ref.model, cfg, model_id=ref, price_table=table, **options)
    return kind.from_options(ref.model, model_id=ref, price_table=table, **options)
