"""Provider kinds by name: the APIs llmbench speaks (`openai`, `anthropic`, `sim`) and those other packages add
through the `llmbench.providers` entry point group (llmbench's own `router` is one). Each kind's class carries what
its vendor means: its price vendor, batch API, stop reasons and error map.
"""

from __future__ import annotations

from typing import Any

from llmbench.registry import Registry

__all__ = ["ENTRY_POINTS", "PROVIDERS", "price_vendor"]

ENTRY_POINTS = "llmbench.providers"
PROVIDERS: Registry[Any] = Registry("provider", entry_points=ENTRY_POINTS)  # classes; SDKs load on first use
PROVIDERS.register_path("openai", "llmbench.providers.openai:OpenAIProvider")
PROVIDERS.register_path("anthropic", "llmbench.providers.anthropic:AnthropicProvider")
PROVIDERS.register_path("sim", "llmbench.providers.sim:SimProvider")


def price_vendor(provider: str) -> str | None:
    """The price snapshot's vendor for a model id's provider part: its kind's `price_vendor` (None for an
    endpoint named in the config, an unknown name, or a kind priced otherwise)."""
    kind = PROVIDERS.find(provider) if provider else None
    return getattr(kind, "price_vendor", None)
