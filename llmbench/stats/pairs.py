"""The pairs frame: one row per comparison of two models on an item (outcome 1: A better, 0: B, 0.5: tie), and its
contract, checked in one place for every statistic that reads one (win rates, ratings, leaderboards)."""

from __future__ import annotations

import pandas as pd

from llmbench.errors import DataError

__all__ = ["PAIR_COLUMNS", "check_pairs"]

PAIR_COLUMNS = ["item_id", "model_a", "model_b", "outcome"]


def check_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The frame with its unknown outcomes dropped; a DataError when a column is missing or an outcome is off 0..1."""
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise DataError(
            f"pairs frame lacks columns {missing}; expected {PAIR_COLUMNS} "
            "(build one with pairs_from_runs or judge_pairs)"
        )
    out = pairs.dropna(subset=["outcome"])
    bad = out[(out["outcome"] < 0) | (out["outcome"] > 1)]
    if len(bad):
        raise DataError(
            f"pairs frame has {len(bad)} outcomes outside 0..1 (1 = A wins, 0 = B wins, 0.5 = tie)"
        )
    return out
