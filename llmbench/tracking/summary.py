"""Per-model summary of a runs frame: score, cost, cost per correct answer, latency percentiles, error rate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["SUMMARY_METRICS", "provider_of", "summarize_runs"]

# Same names as the run store's `Store.summary_frame`, so MLflow metrics read alike whichever made the summary.
SUMMARY_METRICS = [
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
            "runs": grouped.size(),
            "scored": grouped["score"].count(),
            "score_mean": grouped["score"].mean(),
            "score_se": grouped["score"].sem(),
            "correct": grouped["score"].sum(),
            "cost_usd": grouped["cost_usd"].sum(min_count=1),
            "cost_per_item": grouped["cost_usd"].mean(),
            "latency_p50": grouped["latency_s"].quantile(0.5),
            "latency_p95": grouped["latency_s"].quantile(0.95),
            "errors": grouped["failed"].sum(),
            "error_rate": grouped["failed"].mean(),
            "input_tokens": grouped["input_tokens"].sum(min_count=1),
            "output_tokens": grouped["output_tokens"].sum(min_count=1),
        }
    )
    # Correct answers = sum of scores (a score is the fraction correct of an item).
    out["cost_per_correct"] = out["cost_usd"] / out["correct"].where(out["correct"] > 0)
    out = out[SUMMARY_METRICS]
    if "model" in keys:
        models = out.index.get_level_values("model")
        out.insert(0, "provider", [provider_of(str(m)) for m in models])
    return out
