"""The runs frame contract (`RunRow`: columns and dtypes) and the per-model summaries built from it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd


def _col(kind: str) -> Any:
    """A runs-frame column: "str", "float", "int" (nullable Int64) or "epoch" (int64, missing is 0)."""
    return field(default=None, metadata={"kind": kind})


@dataclass(frozen=True)
class RunRow:
    """One row of the runs frame (one (item, model, epoch) run with its primary score): the one source of the
    frame's columns and dtypes, as the table row types are of the tables."""

    experiment: str = _col("str")
    item_id: str = _col("str")
    prompt: str = _col("str")
    task: str = _col("str")
    model: str = _col("str")
    epoch: int = _col("epoch")
    score: float = _col("float")
    cost_usd: float = _col("float")
    input_tokens: int = _col("int")
    output_tokens: int = _col("int")
    latency_s: float = _col("float")
    response: str = _col("str")
    error: str = _col("str")
    cost_basis: str = _col("str")


RUNS_COLUMNS = tuple(f.name for f in fields(RunRow))
_KIND = {f.name: f.metadata["kind"] for f in fields(RunRow)}


def runs_frame_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast a runs frame to the contract's dtypes (str, int epoch, float scores/costs, Int64 tokens)."""
    out = frame.reindex(columns=list(RUNS_COLUMNS)).copy()
    for col, kind in _KIND.items():
        if kind == "str":
            out[col] = out[col].astype("str") if len(out) else out[col].astype("object")
        elif kind == "float":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        elif kind == "int":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
        else:  # the epoch: a run without one is epoch 0
            out[col] = pd.to_numeric(out[col]).fillna(0).astype("int64")
    return out.reset_index(drop=True)


SUMMARY_COLUMNS = [
    "runs",
    "scored",
    "score_mean",
    "score_se",
    "correct",
    "cost_usd",
    "cost_per_item",
    "cost_per_correct",
    "latency_p50",
    "latency_p95",
    "errors",
    "error_rate",
    "input_tokens",
    "output_tokens",
]


def summary_by(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of `keys`: runs, score mean and standard error, cost, cost per item and per correct answer,
    latency p50/p95, errors, tokens. The one summary both the store and the tracking reports use.

    "Correct answers" is the sum of scores (the count of correct answers for 0/1 scores); cost per correct
    is NaN when nothing was correct or no cost is known. Missing optional columns count as unknown.
    """
    frame = runs.copy()
    for col in ("cost_usd", "latency_s", "input_tokens", "output_tokens"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    frame["failed"] = frame["error"].notna() if "error" in frame else False
    g = frame.groupby(keys, sort=False)
    out = pd.DataFrame(
        {
            "runs": g.size(),
            "scored": g["score"].count(),
            "score_mean": g["score"].mean(),
            "score_se": g["score"].sem(),
            "correct": g["score"].sum(),
            "cost_usd": g["cost_usd"].sum(min_count=1),
            "cost_per_item": g["cost_usd"].mean(),
            "latency_p50": g["latency_s"].quantile(0.5),
            "latency_p95": g["latency_s"].quantile(0.95),
            "errors": g["failed"].sum(),
            "error_rate": g["failed"].mean(),
            "input_tokens": g["input_tokens"].sum(min_count=1),
            "output_tokens": g["output_tokens"].sum(min_count=1),
        }
    )
    out["cost_per_correct"] = out["cost_usd"] / out["correct"].where(out["correct"] > 0)
    return out[SUMMARY_COLUMNS]


def summarize(runs: pd.DataFrame, attempts: pd.DataFrame) -> pd.DataFrame:
    """Per (experiment, model): the `summary_by` figures plus attempts and failed attempts (retries)."""
    keys = ["experiment", "model"]
    columns = [*keys, *SUMMARY_COLUMNS, "attempts", "failed_attempts"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    out = summary_by(runs, keys).reset_index()
    out = out.merge(attempts, on=keys, how="left")
    out = out.sort_values(["experiment", "score_mean"], ascending=[True, False], kind="stable")
    return out[columns].reset_index(drop=True)
