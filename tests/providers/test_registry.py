"""Model ids are parsed once into a `ModelRef`; providers come from a registry and never change a caller's prices."""

from __future__ import annotations

import pytest

from llmbench.errors import ConfigError
from llmbench.providers import ModelPrice, ModelRef, PriceTable, get_provider, provider_api
from llmbench.providers.registry import _APIS
from llmbench.providers.sim import SimProvider


def test_model_ref_parses_once_and_keeps_colons_in_the_model() -> None:
    ref = ModelRef.parse("ollama:llama3.2:3b-instruct")
    assert (ref.provider, ref.model, ref.id, str(ref)) == ("ollama", "llama3.2:3b-instruct", ref.id, ref.id)
    assert ModelRef.parse(ref) is ref
    for bad in ("gpt-4o", ":gpt-4o", "openai:"):
        with pytest.raises(ConfigError, match="provider:model"):
            ModelRef.parse(bad)


def test_a_free_endpoint_prices_its_model_at_zero_without_touching_the_callers_table() -> None:
    table = PriceTable({"openai:gpt-4o": ModelPrice(input=2.5, output=10)})
    before = dict(table.overrides)
    provider = get_provider("ollama:llama3.2", price_table=table, api_key="unused")
    assert provider.is_priced() and provider.estimate_cost(1000, 1000) == 0.0
    assert table.overrides == before  # the caller's table is as it was
    assert table.lookup("ollama:llama3.2") is None


def test_providers_register_with_a_decorator() -> None:
    @provider_api("labsim")
    def _labsim() -> type[SimProvider]:
        return SimProvider

    try:
        provider = get_provider("labsim:gpt-4o", base_url="http://ignored")
        assert isinstance(provider, SimProvider) and provider.model_id == "labsim:gpt-4o"
    finally:
        _APIS.pop("labsim")
    with pytest.raises(ConfigError, match="unknown provider 'labsim'"):
        get_provider("labsim:gpt-4o")
