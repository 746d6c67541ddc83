"""Model ids are parsed once into a `ModelRef`; providers come from a registry and never change a caller's prices."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llmbench.errors import ConfigError
from llmbench.providers import (
    PROVIDERS,
    Endpoint,
    ModelPrice,
    ModelRef,
    PriceTable,
    UnknownPriceWarning,
    Usage,
    get_provider,
)
from llmbench.providers.sim import SimProvider


def test_model_ref_parses_once_and_keeps_colons_in_the_model() -> None:
    ref = ModelRef.parse("ollama:llama3.2:3b-instruct")
    assert (ref.provider, ref.model, ref.id, str(ref)) == ("ollama", "llama3.2:3b-instruct", ref.id, ref.id)
    assert ModelRef.parse(ref) is ref
    for bad in ("gpt-4o", ":gpt-4o", "openai:"):
        with pytest.raises(ConfigError, match="provider:model"):
            ModelRef.parse(bad)


def test_a_provider_carries_the_ref_it_was_built_from_and_prices_by_it() -> None:
    ref = ModelRef.parse("openai:gpt-4o")
    provider = get_provider(ref, api_key="unused")
    assert provider.ref is ref and provider.model_id == "openai:gpt-4o"
    table, usage = PriceTable(), Usage(input_tokens=1000, output_tokens=500)
    assert table.price(ref, usage) == table.price("openai:gpt-4o", usage) > 0
    # a simulated model is priced as the real model it stands for
    sim = get_provider("sim:gpt-4o")
    assert sim.ref == ModelRef("sim", "gpt-4o") and sim.price_ref(None) == ref


@pytest.mark.parametrize(
    ("name", "provider", "model", "label"),
    [("gpt-4", "", "gpt-4", "other"), ("openai:gpt-4o", "openai", "gpt-4o", "openai"), ("x:", "", "x:", "other"),
     (":y", "", ":y", "other"), ("a:b:c", "a", "b:c", "a")],
)  # fmt: skip
def test_a_loose_name_from_imported_logs_keeps_its_spelling(
    name: str, provider: str, model: str, label: str
) -> None:
    ref = ModelRef.loose(name)
    assert (ref.provider, ref.model, ref.id, ref.label) == (provider, model, name, label)


def test_a_free_endpoint_prices_its_model_at_zero_without_touching_the_callers_table() -> None:
    table = PriceTable({"openai:gpt-4o": ModelPrice(input=2.5, output=10)})
    before = dict(table.overrides)
    provider = get_provider("ollama:llama3.2", price_table=table, api_key="unused")
    assert provider.is_priced() and provider.estimate_cost(1000, 1000) == 0.0
    assert table.overrides == before  # the caller's table is as it was
    assert table.lookup("ollama:llama3.2") is None


def test_providers_register_by_name() -> None:
    PROVIDERS.register(SimProvider, name="labsim")
    try:
        provider = get_provider("labsim:gpt-4o", base_url="http://ignored")
        assert isinstance(provider, SimProvider) and provider.model_id == "labsim:gpt-4o"
    finally:
        PROVIDERS.unregister("labsim")
    with pytest.raises(ConfigError, match="unknown provider 'labsim'"):
        get_provider("labsim:gpt-4o")


class _Gemini(SimProvider):
    """A scratch kind standing for a new SDK's provider: what it means for pricing lives on its class."""

    provider = "gem"
    price_vendor = "google"


def test_a_new_kind_brings_its_vendor_with_it() -> None:
    """Registered by name (an entry point, for a package), its models are priced at its vendor's snapshot rates,
    with no table to edit; until then the same model id is unknown."""
    with pytest.raises(ConfigError, match="unknown provider 'gem'"):
        get_provider("gem:gemini-2.0-flash")
    with pytest.warns(UnknownPriceWarning):
        assert PriceTable().price("gem:gemini-2.0-flash", Usage(input_tokens=1_000_000)) is None
    PROVIDERS.register(_Gemini, name="gem")
    try:
        table = PriceTable()
        assert table.price("gem:gemini-2.0-flash", Usage(input_tokens=1_000_000)) == pytest.approx(0.1)
        assert get_provider("gem:gpt-4o").provider == "gem"
    finally:
        PROVIDERS.unregister("gem")


@pytest.mark.parametrize("kind", ["sim", "gemini", "router"])
def test_an_endpoint_kind_must_be_a_registered_sdk_kind(kind: str) -> None:
    with pytest.raises(ValidationError, match="not a provider kind an endpoint can use"):
        Endpoint(kind=kind, base_url="http://127.0.0.1:1")
    assert Endpoint(kind=" Anthropic ", base_url="http://127.0.0.1:1").kind == "anthropic"
