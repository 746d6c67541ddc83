"""What changed between two sides, item by item: two experiments (runs of one model before and after), or two
models inside one experiment. The per-item table a regression review reads, with the paired summary beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["CHANGES", "diff"]

# what happened to an item from side A to side B, in the order a review reads them
CHANGES = (
    "right to wrong",
    "wrong to right",
    "new failure",
    "fixed failure",
    "score changed",
    "same",
    "only in A",
    "only in B",
)
_RIGHT = 0.5  # a score at or above this counts as right (scores are 0..1)


def _side(runs: pd.DataFrame, by: str, name: str, keys: list[str]) -> pd.DataFrame:
    rows = runs[runs[by].astype(str) == name]
    if rows.empty:
        raise DataError(f"no runs with {by} {name!r} (it has {sorted(runs[by].astype(str).unique())[:20]})")
    failed = rows["error"].notna() & (rows["error"].astype(str) != "") if "error" in rows else False
    rows = rows.assign(failed=failed)
    agg = {"score": "mean", "failed": "any"}
    agg |= {c: "mean" for c in ("cost_usd", "latency_s") if c in rows}
    if "prompt" in rows:
        agg["prompt"] = "first"
    return rows.groupby(keys).agg(agg)


def diff(runs: pd.DataFrame, a: str, b: str, by: str = "model") -> pd.DataFrame:
    """One row per item (per item and model when the sides are experiments) of either side: A's and B's score (epochs averaged), cost and latency, their deltas
    (B - A), and `change`, one of `CHANGES`. `by` names the column that tells the sides apart ("model", or
    "experiment" for two runs of one model). Rows come in the order of `CHANGES`, largest score change first."""
    for col in ("item_id", "score", by):
        if col not in runs.columns:
            raise DataError(f"runs frame lacks column {col!r} for a diff")
    if a == b:
        raise DataError(f"{by} {a!r} diffed with itself shows nothing")
    keys = ["item_id"]
    if by != "model" and "model" in runs.columns:
        # two experiments: each model's answers are diffed with its own; when each side ran one model and they
        # differ (the change under review is the model), items are diffed across the two
        models = [set(runs.loc[runs[by].astype(str) == side, "model"].astype(str)) for side in (a, b)]
        if models[0] & models[1]:  # a model only one side ran shows as "only in A" / "only in B"
            keys.append("model")
        elif not (len(models[0]) == 1 and len(models[1]) == 1):
            raise DataError(
                f"{by}s {a!r} and {b!r} share no model and run several each: diff two models inside "
                "one experiment instead (diff MODEL_A MODEL_B -e EXPERIMENT)"
            )
    left, right = _side(runs, by, a, keys), _side(runs, by, b, keys)
    table = left.add_suffix("_a").join(right.add_suffix("_b"), how="outer")
    for col in ("score", "cost_usd", "latency_s"):
        if f"{col}_a" in table and f"{col}_b" in table:
            table[f"{col}_delta"] = table[f"{col}_b"] - table[f"{col}_a"]
    if "prompt_a" in table:
        table["prompt"] = table["prompt_a"].fillna(table["prompt_b"])
        table = table.drop(columns=["prompt_a", "prompt_b"])
    in_a, in_b = (
        table["score_a"].notna() | table["failed_a"].notna(),
        table["score_b"].notna() | table["failed_b"].notna(),
    )
    fa, fb = table["failed_a"].fillna(False).astype(bool), table["failed_b"].fillna(False).astype(bool)
    ra, rb = table["score_a"] >= _RIGHT, table["score_b"] >= _RIGHT
    moved = ~np.isclose(table["score_a"].fillna(-1), table["score_b"].fillna(-1), atol=1e-9)
    change = np.select(
        [~in_b, ~in_a, fb & ~fa, fa & ~fb, ra & ~rb, ~ra & rb & table["score_a"].notna(), moved],
        [
            "only in A",
            "only in B",
            "new failure",
            "fixed failure",
            "right to wrong",
            "wrong to right",
            "score changed",
        ],
        default="same",
    )
    table["change"] = pd.Categorical(change, categories=list(CHANGES), ordered=True)
    table["_size"] = -table.get("score_delta", pd.Series(0.0, index=table.index)).abs().fillna(0)
    table = table.sort_values(["change", "_size"]).drop(columns="_size")
    return table.reset_index()
