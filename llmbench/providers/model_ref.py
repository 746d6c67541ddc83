"""A model id, parsed once: `provider:model`. Providers, prices and rows carry it instead of re-splitting strings."""

from __future__ import annotations

from dataclasses import dataclass

from llmbench.errors import ConfigError

__all__ = ["ModelRef"]


@dataclass(frozen=True)
class ModelRef:
    """A model id parsed once: its provider (API or endpoint name) and the model name at that provider. Imported
    logs may name a model without its provider (`loose`): its provider is then ""."""

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

    @classmethod
    def loose(cls, name: str | ModelRef) -> ModelRef:
        """`provider:model`, or a bare model name (as public logs spell them) with no provider."""
        if isinstance(name, ModelRef):
            return name
        provider, sep, model = str(name).partition(":")
        return cls(provider, model) if sep and provider and model else cls("", str(name))

    @property
    def id(self) -> str:
        """The one spelling of the id, `provider:model` (a bare name alone): the key of runs, prices, policies."""
        return f"{self.provider}:{self.model}" if self.provider else self.model

    @property
    def label(self) -> str:
        """The provider for tables and MLflow (`openai` of `openai:gpt-4o`); "other" for a bare model name."""
        return self.provider or "other"

    def __str__(self) -> str:
        return self.id
