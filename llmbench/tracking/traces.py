"""MLflow traces from the run store: one trace per model call (an (item, model, epoch) run), one span per attempt,
with the prompt, the answer, tokens, cost and latency at their real times; tool conversations likewise, one span per
step. Built after the fact from DuckDB rows, so tracing never slows an eval; linked to the MLflow run.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Any

import pandas as pd

from llmbench.tracking.mlflow_runs import global_tracking_uri

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = ["DEFAULT_TRACE_LIMIT", "log_call_traces", "log_tool_traces"]

DEFAULT_TRACE_LIMIT = (
    300  # more calls than this: every failed or retried one, then a seeded sample (~20 ms a trace)
)
_FLUSH_EVERY = 200  # traces between flushes: MLflow's export queue drops traces beyond its size
_TEXT = 4000  # characters of a prompt or answer kept in a span


def _ns(when: Any, plus_s: float = 0.0) -> int | None:
    if when is None or (isinstance(when, float) and math.isnan(when)) or pd.isna(when):
        return None
    stamp = pd.Timestamp(when)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp
    return int(stamp.value + plus_s * 1e9)


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)[:_TEXT]


def _attempt_attributes(row: dict[Any, Any]) -> dict[str, Any]:
    from mlflow.tracing.constant import SpanAttributeKey

    keys = (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "reasoning_tokens",
        "cost_usd",
        "latency_s",
        "status_code",
        "attempt",
    )
    out: dict[str, Any] = {k: v for k in keys if (v := _num(row.get(k))) is not None}
    # the keys MLflow's trace views read token counts, cost and model from
    if "input_tokens" in out or "output_tokens" in out:
        tokens_in, tokens_out = int(out.get("input_tokens", 0)), int(out.get("output_tokens", 0))
        usage = {
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
        if "cache_read_tokens" in out:
            usage["cache_read_input_tokens"] = int(out["cache_read_tokens"])
        out[SpanAttributeKey.CHAT_USAGE] = usage
    if "cost_usd" in out:
        out[SpanAttributeKey.LLM_COST] = {"total_cost": out["cost_usd"]}
    for key in (
        "error_class",
        "error_message",
        "request_id",
        "answered_model",
        "attempt_model",
        "route_chosen",
    ):
        if row.get(key) is not None and not (isinstance(row.get(key), float) and math.isnan(row[key])):
            out[key] = str(row[key])[:_TEXT]
    return out


@contextlib.contextmanager
def exporting_to(client: MlflowClient) -> Iterator[None]:
    """MLflow exports spans to the *global* tracking URI: point it at the client's store for the duration, and
    flush the asynchronous export queue before returning, so the traces are in the store afterwards."""
    import mlflow

    with global_tracking_uri(client.tracking_uri):
        try:
            yield
        finally:
            mlflow.flush_trace_async_logging(terminate=False)


def log_call_traces(
    client: MlflowClient,
    experiment_id: str,
    run_id: str,
    calls: pd.DataFrame,
    prompts: dict[str, str],
    *,
    skip: int = 0,
    limit: int = DEFAULT_TRACE_LIMIT,
    seed: int = 0,
) -> int:
    """Log one trace per run key of `calls` (the store's calls frame, in insertion order) after the first `skip`
    run keys (those an earlier logging traced); returns how many run keys are traced in all."""
    with exporting_to(client):
        return _call_traces(client, experiment_id, run_id, calls, prompts, skip, limit, seed)


def _call_traces(
    client: MlflowClient,
    experiment_id: str,
    run_id: str,
    calls: pd.DataFrame,
    prompts: dict[str, str],
    skip: int,
    limit: int,
    seed: int,
) -> int:
    keys = list(dict.fromkeys(calls["run_key"]))
    todo = keys[skip:]
    room = max(0, limit - skip)
    # the calls worth a look first (failed or retried), then a seeded sample, kept in order
    if len(todo) > room:
        troubled = set(calls.loc[calls["error_class"].notna(), "run_key"])
        notable = [k for k in todo if k in troubled][:room]
        rest = [k for k in todo if k not in set(notable)]
        extra = room - len(notable)
        sampled = set(pd.Series(rest).sample(n=extra, random_state=seed)) if extra > 0 and rest else set()
        chosen = set(notable) | sampled
        todo = [k for k in todo if k in chosen]
    import mlflow

    by_key = {k: g for k, g in calls.groupby("run_key", sort=False)}
    for n, key in enumerate(todo):
        if n and n % _FLUSH_EVERY == 0:
            mlflow.flush_trace_async_logging(terminate=False)
        attempts = by_key[key].to_dict("records")
        final = attempts[-1]
        first_ns = _ns(attempts[0].get("started_at"))
        last_ns = _ns(final.get("started_at"), _num(final.get("latency_s")) or 0.0)
        ok = final.get("error_class") is None or pd.isna(final.get("error_class"))
        root = client.start_trace(
            name=str(final["model_id"]),
            span_type="LLM",
            inputs={"prompt": _text(prompts.get(str(final["item_id"]), ""))},
            attributes={"item_id": str(final["item_id"]), "epoch": str(final.get("epoch") or 0)},
            tags={"llmbench.run_key": str(key), "llmbench.model": str(final["model_id"])},
            experiment_id=experiment_id,
            start_time_ns=first_ns,
            run_id=run_id,
        )
        for row in attempts:
            start = _ns(row.get("started_at"))
            span = client.start_span(
                name=f"attempt {int(row.get('attempt') or 1)}",
                trace_id=root.trace_id,
                parent_id=root.span_id,
                span_type="CHAT_MODEL",
                inputs={"model": str(row["model_id"])},
                attributes=_attempt_attributes(row),
                start_time_ns=start,
            )
            failed = row.get("error_class") is not None and not pd.isna(row.get("error_class"))
            client.end_span(
                trace_id=root.trace_id,
                span_id=span.span_id,
                outputs={"response": _text(row.get("response"))} if not failed else None,
                status="ERROR" if failed else "OK",
                end_time_ns=_ns(row.get("started_at"), _num(row.get("latency_s")) or 0.0),
            )
        cost = pd.to_numeric(by_key[key]["cost_usd"], errors="coerce").sum(min_count=1)
        client.end_trace(
            root.trace_id,
            outputs={"response": _text(final.get("response"))},
            attributes={"cost_usd": _num(cost) or 0.0},
            status="OK" if ok else "ERROR",
            end_time_ns=last_ns,
        )
    return skip + len(todo)


def log_tool_traces(client: MlflowClient, experiment_id: str, run_id: str, steps: pd.DataFrame) -> int:
    """One trace per tool conversation of the store's `tool_steps` frame, one span per step; returns the count."""
    with exporting_to(client):
        return _tool_traces(client, experiment_id, run_id, steps)


def _tool_traces(client: MlflowClient, experiment_id: str, run_id: str, steps: pd.DataFrame) -> int:
    count = 0
    for conversation, frame in steps.groupby("conversation_id", sort=False):
        rows = frame.sort_values("step").to_dict("records")
        root = client.start_trace(
            name=f"tools {conversation}",
            span_type="AGENT",
            experiment_id=experiment_id,
            inputs={"item_id": str(rows[0].get("item_id", ""))},
            run_id=run_id,
            start_time_ns=_ns(rows[0].get("started_at")),
        )
        end = None
        for row in rows:
            kind = (
                "TOOL"
                if row["kind"] == "tool_call"
                else "CHAT_MODEL"
                if row["kind"] == "model_turn"
                else "UNKNOWN"
            )
            name = str(row.get("tool_name") or row["kind"])
            start = _ns(row.get("started_at"))
            span = client.start_span(
                name=name,
                trace_id=root.trace_id,
                parent_id=root.span_id,
                span_type=kind,
                inputs={"arguments": _text(row.get("arguments"))},
                start_time_ns=start,
                attributes=_attempt_attributes(row),
            )
            end = _ns(row.get("started_at"), _num(row.get("duration_s")) or 0.0)
            error = bool(row.get("is_error")) or row["kind"] == "error"
            client.end_span(
                trace_id=root.trace_id,
                span_id=span.span_id,
                status="ERROR" if error else "OK",
                outputs={"result": _text(row.get("result") or row.get("text"))},
                end_time_ns=end,
            )
        client.end_trace(root.trace_id, end_time_ns=end)
        count += 1
    return count
