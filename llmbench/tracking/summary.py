"""Per-model summary of a runs frame: score, cost, cost per correct answer, latency percentiles, error rate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["SUMMARY_METRICS", "provider_of", "summarize_runs"]

SUMMARY_METRICS = [
    "n_rows",
    "score",
    "score_se",
    "cost_usd",
    "cost_per_item",
    "cost_per_correct",
    "latency_p50",
    "latency_p95",
    "error_rate",
    "input_tokens",
    "output_tokens",
]


def provider_of(model: str) -> str:
    """The provider part of a model id ("openai:gpt-4o" -> "openai"; ids without a prefix -> "")."""
    return model.split(":", 1)[0] if ":" in model else ""


def summarize_runs(runs: pd.DataFrame, by: str | list[str] = "model") -> pd.DataFrame:
    """One row per model (or per `by` groups) with the columns of SUMMARY_METRICS plus `provider`."""
    keys = [by] if isinstance(by, str) else list(by)
    needed = {*keys, "score"}
    if not needed <= set(runs.columns):
        raise DataError(f"runs frame lacks columns {sorted(needed - set(runs.columns))}")
    frame = runs.copy()
    for col in ("cost_usd", "latency_s", "input_tokens", "output_tokens"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    frame["failed"] = frame["error"].notna() if "error" in frame else False
    grouped = frame.groupby(keys)
    out = pd.DataFrame(
        {
            "n_rows": grouped.size(),
            "score": grouped["score"].mean(),
            "score_se": grouped["score"].sem(),
            "cost_usd": grouped["cost_usd"].sum(min_count=1),
            "cost_per_item": grouped["cost_usd"].mean(),
            "latency_p50": grouped["latency_s"].quantile(0.5),
            "latency_p95": grouped["latency_s"].quantile(0.95),
            "error_rate": grouped["failed"].mean(),
            "input_tokens": grouped["input_tokens"].sum(min_count=1),
            "output_tokens": grouped["output_tokens"].sum(min_count=1),
        }
    )
    # Expected number of correct answers = sum of scores (a score is the fraction correct of an item).
    correct = grouped["score"].sum()
    out["cost_per_correct"] = out["cost_usd"] / correct.where(correct > 0)
    out = out[SUMMARY_METRICS]
    if "model" in keys:
        models = out.index.get_level_values("model")
        out.insert(0, "provider", [provider_of(str(m)) for m in models])
    return out
