"""The scorer registry: names and aliases to Scorer classes, and `get_scorer(name, **options)`."""

from __future__ import annotations

from typing import Any

from llmbench.errors import ConfigError
from llmbench.scorers.base import Scorer
from llmbench.scorers.bfcl import BFCLScorer
from llmbench.scorers.code import PythonTests
from llmbench.scorers.judge import LLMJudge
from llmbench.scorers.text import Contains, ExactMatch, JsonSchema, MultipleChoice, NumericAnswer, RegexMatch

__all__ = ["ALIASES", "SCORERS", "available_scorers", "get_scorer", "register_scorer"]

SCORERS: dict[str, type[Scorer]] = {
    cls.name: cls
    for cls in (
        ExactMatch,
        NumericAnswer,
        MultipleChoice,
        RegexMatch,
        Contains,
        JsonSchema,
        PythonTests,
        LLMJudge,
        BFCLScorer,
    )
}
ALIASES = {
    "exact": "exact_match",
    "match": "exact_match",
    "number": "numeric",
    "multiple_choice": "choice",
    "mcq": "choice",
    "includes": "contains",
    "json": "json_schema",
    "code": "python_tests",
    "python": "python_tests",
    "judge": "llm_judge",
}


def register_scorer(cls: type[Scorer]) -> type[Scorer]:
    """Add a Scorer subclass to the registry under its `name` (usable as a class decorator)."""
    SCORERS[cls.name] = cls
    return cls


def available_scorers() -> list[str]:
    """The registered scorer names."""
    return sorted(SCORERS)


def get_scorer(name: str, **opts: Any) -> Scorer:
    """A scorer by name (or alias) configured with `opts`; unknown names and options raise ConfigError."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    cls = SCORERS.get(key)
    if cls is None:
        raise ConfigError(f"unknown scorer {name!r}; choose one of: {', '.join(available_scorers())}.")
    try:
        return cls(**opts)
    except TypeError as exc:
        raise ConfigError(f"scorer {key!r}: bad options {sorted(opts)} ({exc}).") from None
