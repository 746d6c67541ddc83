"""Scorers: turn a model's answer (text and tool calls) and an item into a `Score(value 0..1, explanation)`.

    scorer = get_scorer("numeric", abs_tol=0.01)
    scorer.score_sync("... so the total is 42.", item)      # or: await scorer.score(answer, item)

Names: exact_match, numeric, choice, regex, contains, json_schema, python_tests, llm_judge, bfcl (aliases in
`ALIASES`). The item may be an `llmbench.datasets.Item`, a dict with "reference", or the bare reference.
"""

from __future__ import annotations

from typing import Any

from llmbench.errors import ConfigError
from llmbench.scorers.base import Answer, Score, Scorer, reference_of
from llmbench.scorers.bfcl import BFCLScorer
from llmbench.scorers.code import PythonTests, extract_code
from llmbench.scorers.judge import DEFAULT_RUBRIC, LLMJudge
from llmbench.scorers.text import (
    Contains,
    ExactMatch,
    JsonSchema,
    MultipleChoice,
    NumericAnswer,
    RegexMatch,
    extract_json,
    last_number,
    normalize_text,
)

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


__all__ = [
    "ALIASES",
    "DEFAULT_RUBRIC",
    "SCORERS",
    "Answer",
    "BFCLScorer",
    "Contains",
    "ExactMatch",
    "JsonSchema",
    "LLMJudge",
    "MultipleChoice",
    "NumericAnswer",
    "PythonTests",
    "RegexMatch",
    "Score",
    "Scorer",
    "available_scorers",
    "extract_code",
    "extract_json",
    "get_scorer",
    "last_number",
    "normalize_text",
    "reference_of",
    "register_scorer",
]
