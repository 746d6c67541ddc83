"""Scorers: turn a model's answer (text and tool calls) and an item into a `Score(value 0..1, explanation)`.

    scorer = get_scorer("numeric", abs_tol=0.01)
    scorer.score_sync("... so the total is 42.", item)      # or: await scorer.score(answer, item)

Names: exact_match, numeric, choice, regex, contains, json_schema, python_tests, llm_judge, bfcl (each class
lists its `aliases`). The item may be an `llmbench.datasets.Item`, a dict with "reference", or the bare reference.
"""

from __future__ import annotations

from llmbench.scorers.base import (
    SCORERS,
    Answer,
    Examples,
    Experiment,
    Score,
    Scorer,
    metadata_of,
    reference_of,
)
from llmbench.scorers.bfcl import BFCLScorer
from llmbench.scorers.code import PythonTests, extract_code
from llmbench.scorers.judge import DEFAULT_RUBRIC, LLMJudge
from llmbench.scorers.registry import available_scorers, get_scorer, register_scorer
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

__all__ = [
    "DEFAULT_RUBRIC",
    "SCORERS",
    "Answer",
    "BFCLScorer",
    "Contains",
    "ExactMatch",
    "Examples",
    "Experiment",
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
    "metadata_of",
    "normalize_text",
    "reference_of",
    "register_scorer",
]
