"""The "bfcl" scorer: BFCL's check of an answer's tool calls against the item's possible answers."""

from __future__ import annotations

from typing import Any

from llmbench.datasets import Item
from llmbench.errors import DataError
from llmbench.scorers.base import SCORERS, Answer, Score, Scorer

__all__ = ["BFCLScorer"]


@SCORERS.register
class BFCLScorer(Scorer):
    """BFCL's AST check of the answer's tool calls against the item's possible answers (1 correct, 0 not)."""

    name = "bfcl"

    def __init__(self, greedy_pairing: bool = False) -> None:
        self.greedy_pairing = greedy_pairing

    def grade(self, answer: Answer, item: Any) -> Score:
        """Score the tool calls of an answer to an item made by `bfcl_dataset`."""
        # BFCL's checker loads only when a BFCL answer is scored: other evals start faster without it
        from llmbench.tools.bfcl import case_from_item
        from llmbench.tools.bfcl_score import score_bfcl

        if not isinstance(item, Item):
            raise DataError(
                "the bfcl scorer needs the dataset Item (with its BFCL metadata) to score against."
            )
        verdict = score_bfcl(
            case_from_item(item), list(answer.tool_calls), greedy_pairing=self.greedy_pairing
        )
        why = "correct" if verdict.correct else f"{verdict.error_type}: {verdict.error}"
        return Score(verdict.score, why)
