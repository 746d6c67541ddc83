"""Per-model summary of a runs frame: score, cost, cost per correct answer, latency percentiles, error rate."""

from __future__ import annotations

import pandas as pd

from llmbench.errors import DataError
from llmbench.providers.registry import provider_label
from llmbench.store.frames import SUMMARY_COLUMNS, summary_by

__all__ = ["SUMMARY_METRICS", "summarize_runs"]

# The store's summary columns, so MLflow metrics read alike whichever made the summary.
SUMMARY_METRICS = list(SUMMARY_COLUMNS)


def summarize_runs(runs: pd.DataFrame, by: str | list[str] = "model") -> pd.DataFrame:
    """One row per model (or per `by` groups) with the columns of SUMMARY_METRICS plus `provider`."""
    keys = [by] if isinstance(by, str) else list(by)
    needed = {*keys, "score"}
    if not needed <= set(runs.columns):
        raise DataError(f"runs frame lacks columns {sorted(needed - set(runs.columns))}")
    out = summary_by(runs, keys).sort_index()
    if "model" in keys:
        models = out.index.get_level_values("model")
        out.insert(0, "provider", [provider_label(str(m)) for m in models])
    return out
