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
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ModelRef:
    """A model id parsed once: its provider (API or endpoint name) and the model name at that provider."""

    provider: str
    model: str

    @classmethod
    def parse(cls, model_id: str | ModelRef) -> ModelRef:
        """`provider:model` (the model part may contain colons: fine-tunes, Ollama tags); ConfigError if not."""
        if isinstance(model_id, ModelRef):
            return model_id
        provider, sep, model = str(model_id).partition(":")
        if not sep or not provider or not model:
            raise ConfigError(
                f"model id {model_id!r} must look like 'provider:model', e.g. 'openai:gpt-4o-mini', "
                "'anthropic:claude-3-5-haiku-latest' or 'sim:gpt-4o'"
            )
        return cls(provider, model)

    @property
    def id(self) -> str:
        """The one spelling of the id, `provider:model`: the key of runs, prices and policies."""
        return f"{self.provider}:{self.model}"

    def __str__(self) -> str:
        return self.id


def provider_label(model_id: str) -> str:
    """The provider part of a model id for tables and MLflow (`openai` of `openai:gpt-4o`); "other" for a bare
    model name (imported logs name models without their provider)."""
    return model_id.partition(":")[0] if ":" in model_id else "other"


def parse_model_id(model_id: str) -> tuple[str, str]:
    """(provider, model) of `provider:model` (see `ModelRef.parse`)."""
    ref = ModelRef.parse(model_id)
    return ref.provider, ref.model


ProviderFactory = Callable[[], type[Provider]]
_APIS: dict[str, ProviderFactory] = {}


def provider_api(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider API under `name`; the factory imports its SDK only when a model of it is built."""

    def register(factory: ProviderFactory) -> ProviderFactory:
        _APIS[name] = factory
        return factory

    return register


@provider_api("openai")
def _openai() -> type[Provider]:
    from llmbench.providers.openai import OpenAIProvider

    return OpenAIProvider


@provider_api("anthropic")
def _anthropic() -> type[Provider]:
    from llmbench.providers.anthropic import AnthropicProvider

    return AnthropicProvider


@provider_api("sim")
def _sim() -> type[Provider]:
    from llmbench.providers.sim import SimProvider

    return SimProvider


ENTRY_POINTS = "llmbench.providers"  # other packages (and llmbench's own `router`) add provider kinds here


def _plugin(name: str) -> ProviderFactory | None:
    """A provider kind another module registers as an entry point of ENTRY_POINTS (`name = "module:Class"`)."""
    from importlib.metadata import entry_points

    found = entry_points(group=ENTRY_POINTS, name=name)
    if not found:
        return None
    point = next(iter(found))

    def load() -> type[Provider]:
        kind = point.load()
        if not (isinstance(kind, type) and issubclass(kind, Provider)):
            raise ConfigError(f"entry point {point.value!r} of {ENTRY_POINTS} is not a Provider class")
        return kind

    return load


def get_provider(
    model_id: str | ModelRef, *, config: Config | str | Path | None = None, **options: Any
) -> Provider:
    """The provider object for a model id; `options` go to the adapter (api_key, base_url, timeout, retry,
    http_client, price_table, on_attempt, default_params). The caller's price table is never changed."""
    ref = ModelRef.parse(model_id)
    cfg = config if isinstance(config, Config) else load_config(config)
    table: PriceTable = options.pop("price_table", None) or PriceTable.from_file(cfg.price_file)
    factory = _APIS.get(ref.provider) or _plugin(ref.provider)
    if factory is None:
        endpoint = cfg.endpoints.get(ref.provider) or BUILTIN_ENDPOINTS.get(ref.provider)
        if endpoint is None:
            known = sorted({*_APIS, *BUILTIN_ENDPOINTS, *cfg.endpoints})
            raise ConfigError(
                f"unknown provider {ref.provider!r} in {ref.id!r}; use one of {known} or define "
                f"[endpoints.{ref.provider}] with a base_url in llmbench.toml"
            )
        factory = _APIS[endpoint.kind]
        options.setdefault("base_url", endpoint.base_url)
        options["provider_name"] = ref.provider
        if endpoint.api_key_env:
            options.setdefault("api_key_env", endpoint.api_key_env)
        if endpoint.free and table.lookup(ref.id) is None:
            table = table.with_prices({ref.id: ModelPrice(input=0, output=0)})
    kind = factory()
    if kind.composite:  # it builds other models from this registry, with the same config and prices
        return kind.from_registry(ref.model, cfg, model_id=ref.id, price_table=table, **options)
    return kind.from_options(ref.model, model_id=ref.id, price_table=table, **options)
