"""BFCL in `llmbench eval`: dataset sources like `bfcl:parallel?limit=20`, tools from item metadata, the "bfcl"
scorer, and the answer text that carries a completion's tool calls to a scorer.

Any dataset item may carry tool specs in `metadata["tools"]` (a list of `ToolSpec` dicts); the runner passes
them to the provider, and when the answer calls tools, `answer_output` turns it into
`{"tool_calls": [{"id", "name", "arguments", "raw_arguments"}], "text": ...}` JSON, which is what scorers
receive and the store keeps as the response.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from llmbench.datasets import Dataset, Item
from llmbench.errors import DataError
from llmbench.providers.types import Completion, ToolCall, ToolSpec
from llmbench.scorers import Score, Scorer, register_scorer
from llmbench.tools.bfcl import bfcl_categories, bfcl_dataset, case_from_item
from llmbench.tools.bfcl_score import score_bfcl

SOURCE_PREFIX = "bfcl:"


def parse_bfcl_source(source: str | Path) -> tuple[str, int | None] | None:
    """(category, limit) of a source like `bfcl:parallel` or `bfcl:parallel?limit=20`; None for other sources.

    Only the last path component counts, since experiment files resolve dataset entries against their folder.
    """
    name = str(source).replace("\\", "/").rsplit("/", 1)[-1]
    if not name.startswith(SOURCE_PREFIX):
        return None
    category, _, query = name.removeprefix(SOURCE_PREFIX).partition("?")
    known = bfcl_categories()
    if category not in known:
        raise DataError(
            f"unknown BFCL category in {name!r}; use bfcl:<category> with one of the categories in the BFCL "
            f"folder ($LLMBENCH_BFCL_DIR): {', '.join(known) or 'none found'}"
        )
    options = parse_qs(query, strict_parsing=False)
    unknown = set(options) - {"limit"}
    if unknown:
        raise DataError(f"{name!r}: unknown option(s) {sorted(unknown)}; only ?limit=N is understood")
    limit = None
    if "limit" in options:
        text = options["limit"][-1]
        if not text.isdigit() or int(text) < 1:
            raise DataError(f"{name!r}: limit must be a positive whole number, got {text!r}")
        limit = int(text)
    return category, limit


def bfcl_source_dataset(source: str | Path) -> Dataset | None:
    """The BFCL dataset a `bfcl:...` source names, or None when `source` is not one (a file path, say)."""
    parsed = parse_bfcl_source(source)
    if parsed is None:
        return None
    category, limit = parsed
    return bfcl_dataset(category, limit)


def item_tools(item: Item) -> list[ToolSpec] | None:
    """The tool specs an item offers the model (`metadata["tools"]`), or None when it has none."""
    raw = item.metadata.get("tools") if isinstance(item.metadata, dict) else None
    if not raw:
        return None
    try:
        return [ToolSpec.model_validate(t) for t in raw]
    except Exception as exc:
        raise DataError(
            f"item {item.id!r}: metadata['tools'] must be a list of {{name, description, parameters}} ({exc})"
        ) from exc


def answer_output(completion: Completion) -> str:
    """What a scorer receives: the answer text, or JSON with the tool calls when the answer called tools."""
    calls = completion.tool_calls
    if not calls:
        return completion.text
    return json.dumps(
        {"tool_calls": [c.model_dump(exclude={"type"}) for c in calls], "text": completion.text},
        ensure_ascii=False,
    )


def calls_from_output(output: str) -> list[ToolCall]:
    """The tool calls in an `answer_output` text (none when the answer was plain text)."""
    try:
        data = json.loads(output)
    except ValueError:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("tool_calls"), list):
        return []
    return [ToolCall.model_validate(c) for c in data["tool_calls"]]


@register_scorer
class BFCLScorer(Scorer):
    """BFCL's AST check of the answer's tool calls against the item's possible answers (1 correct, 0 not)."""

    name = "bfcl"

    def __init__(self, greedy_pairing: bool = False) -> None:
        self.greedy_pairing = greedy_pairing

    def score_sync(self, output: str, item: Any) -> Score:
        """Score `answer_output` text for an item made by `bfcl_dataset`."""
        if not isinstance(item, Item):
            raise DataError(
                "the bfcl scorer needs the dataset Item (with its BFCL metadata) to score against."
            )
        verdict = score_bfcl(
            case_from_item(item), calls_from_output(output), greedy_pairing=self.greedy_pairing
        )
        why = "correct" if verdict.correct else f"{verdict.error_type}: {verdict.error}"
        return Score(verdict.score, why)


__all__ = [
    "SOURCE_PREFIX",
    "BFCLScorer",
    "answer_output",
    "bfcl_source_dataset",
    "calls_from_output",
    "item_tools",
    "parse_bfcl_source",
]
