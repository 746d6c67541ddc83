"""Runs-frame conversions: a frame to store rows, store results to the contract dtypes, and summaries."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from llmbench.errors import DataError
from llmbench.store.records import run_key, to_timestamp

RUNS_COLUMNS = (
    "experiment",
    "item_id",
    "prompt",
    "task",
    "model",
    "epoch",
    "score",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "latency_s",
    "response",
    "error",
)
_STR = ("experiment", "item_id", "prompt", "task", "model", "response", "error")
_FLOAT = ("score", "cost_usd", "latency_s")
_INT = ("input_tokens", "output_tokens")


def runs_frame_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast a runs frame to the contract's dtypes (str, int epoch, float scores/costs, Int64 tokens)."""
    out = frame.reindex(columns=list(RUNS_COLUMNS)).copy()
    for col in _STR:
        out[col] = out[col].astype("str") if len(out) else out[col].astype("object")
    for col in _FLOAT:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in _INT:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    out["epoch"] = pd.to_numeric(out["epoch"]).fillna(0).astype("int64")
    return out.reset_index(drop=True)


def _nullable(series: pd.Series) -> list:
    """Values with every kind of missing (NaN, NA, None) as None."""
    return [None if pd.isna(v) else v for v in series.astype(object)]


def frame_to_rows(
    frame: pd.DataFrame, experiment: str, *, simulated: bool, scorer: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Items, calls and scores (store column order, without experiment_id) for a runs frame."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"import_frame needs a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in ("item_id", "model") if c not in frame.columns]
    if missing:
        raise DataError(
            f"the runs frame lacks column(s) {missing}; it needs at least item_id and model "
            f"(see the runs-frame contract). Columns present: {list(frame.columns)}."
        )
    f = runs_frame_dtypes(frame.assign(experiment=experiment))
    if f["item_id"].isna().any() or f["model"].isna().any():
        bad = int(np.flatnonzero((f["item_id"].isna() | f["model"].isna()).to_numpy())[0])
        raise DataError(f"row {bad} of the runs frame has no item_id or model; every row needs both.")
    out_of_range = f["score"].notna() & ~f["score"].between(0.0, 1.0)
    if out_of_range.any():
        bad = int(np.flatnonzero(out_of_range.to_numpy())[0])
        raise DataError(
            f"row {bad}: score {f['score'].iloc[bad]} is outside 0..1; rescale scores to 0..1 before importing."
        )
    dup = f.duplicated(["item_id", "model", "epoch"], keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())[:4].tolist()
        raise DataError(
            f"rows {rows} repeat the same (item_id, model, epoch); a runs frame has one row per triple."
        )

    keys = [
        run_key(experiment, i, m, int(e), "", "")
        for i, m, e in zip(f["item_id"], f["model"], f["epoch"], strict=True)
    ]
    first = f.drop_duplicates("item_id")
    items = pd.DataFrame(
        {
            "item_id": first["item_id"].astype(object),
            "input": [
                None if p is None else json.dumps(p, ensure_ascii=False) for p in _nullable(first["prompt"])
            ],
            "prompt": _nullable(first["prompt"]),
            "reference": None,
            "task": _nullable(first["task"]),
            "metadata": None,
        }
    )
    n = len(f)
    none = [None] * n
    calls = pd.DataFrame(
        {
            "run_key": keys,
            "item_id": f["item_id"].astype(object),
            "model_id": f["model"].astype(object),
            "epoch": f["epoch"],
            "attempt": 1,
            "started_at": to_timestamp(None),
            "latency_s": f["latency_s"],
            "input_tokens": f["input_tokens"],
            "cache_read_tokens": none,
            "cache_write_tokens": none,
            "output_tokens": f["output_tokens"],
            "reasoning_tokens": none,
            "cache_write_1h_tokens": none,
            "cost_usd": f["cost_usd"],
            "error_class": _nullable(f["error"]),
            "error_message": none,
            "status_code": none,
            "request_id": none,
            "answered_model": none,
            "stop_reason": none,
            "response": _nullable(f["response"]),
            "final": True,
            "simulated": simulated,
        }
    )
    has = f["score"].notna().to_numpy()
    scored = f[has]
    scores = pd.DataFrame(
        {
            "run_key": [k for k, h in zip(keys, has, strict=True) if h],
            "item_id": scored["item_id"].astype(object),
            "model_id": scored["model"].astype(object),
            "epoch": scored["epoch"],
            "scorer": scorer,
            "value": scored["score"],
            "explanation": None,
            "is_primary": True,
            "created_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        }
    )
    return items, calls, scores


SUMMARY_COLUMNS = [
    "runs", "scored", "score_mean", "score_se", "correct", "cost_usd", "cost_per_item", "cost_per_correct",
    "latency_p50", "latency_p95", "errors", "error_rate", "input_tokens", "output_tokens",
]  # fmt: skip


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
