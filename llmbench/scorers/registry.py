"""Scorers by name: `get_scorer(name, **options)` (aliases live on each class; see `SCORERS`)."""

from __future__ import annotations

from typing import Any

from llmbench.errors import ConfigError
from llmbench.scorers.base import SCORERS, Scorer

__all__ = ["available_scorers", "get_scorer", "register_scorer"]


def register_scorer(cls: type[Scorer]) -> type[Scorer]:
    """Add a Scorer subclass under its `name` and `aliases` (a class decorator; the same as `SCORERS.register`)."""
    return SCORERS.register(cls)


def available_scorers() -> list[str]:
    """The registered scorer names."""
    return SCORERS.names()


def get_scorer(name: str, **opts: Any) -> Scorer:
    """A scorer by name (or alias) configured with `opts`; unknown names and options raise ConfigError."""
    cls = SCORERS.get(name)
    try:
        return cls(**opts)
    except TypeError as exc:
        raise ConfigError(f"scorer {cls.name!r}: bad options {sorted(opts)} ({exc}).") from None
