"""Calls rows built from a finished completion or the exception it raised: one `CallRecord` per attempt."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from llmbench.errors import redact
from llmbench.store.rows import CallRecord

if TYPE_CHECKING:
    from llmbench.providers.types import Completion, Usage

__all__ = ["call_records"]


def _usage_fields(usage: Usage | None) -> dict[str, int | None]:
    if usage is None:
        return {}
    return {
        "input_tokens": usage.input_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
    }


def call_records(
    result: Completion | BaseException, *, run_key: str, item_id: str, model_id: str, epoch: int = 0
) -> list[CallRecord]:
    """One `CallRecord` per attempt of a finished call (a `Completion` or the exception it raised).

    The last record is `final`; for a completion it carries the answer text, the answering model and the
    completion's usage and cost; for an exception, its class name and redacted message.
    """

    def record(**fields: Any) -> CallRecord:
        return CallRecord(run_key=run_key, item_id=item_id, model_id=model_id, epoch=int(epoch), **fields)

    attempts = list(getattr(result, "attempts", None) or [])
    records = [
        record(
            attempt=a.number,
            started_at=a.started_at,
            latency_s=a.latency_s,
            cost_usd=a.cost_usd,
            error_class=None if a.ok else (a.error_type or "Error"),
            error_message=redact(a.error_message) if a.error_message else None,
            status_code=a.status_code,
            request_id=a.request_id,
            attempt_model=a.model_id,
            cost_basis=a.cost_basis,
            **_usage_fields(a.usage),
        )
        for a in attempts
    ]
    if isinstance(result, BaseException):
        if not records:
            records.append(record(started_at=time.time()))
        last = records[-1]
        last.error_class = type(result).__name__
        last.error_message = redact(str(result))
        last.status_code = getattr(result, "status_code", None) or last.status_code
        last.request_id = getattr(result, "request_id", None) or last.request_id
    else:
        if not records or not records[-1].ok:
            records.append(
                record(
                    attempt=len(records) + 1,
                    started_at=time.time() - result.latency_s,
                    latency_s=result.latency_s,
                )
            )
        last = records[-1]
        for name, value in _usage_fields(result.usage).items():
            setattr(last, name, value)
        if result.cost_usd is not None:
            last.cost_usd = result.cost_usd
        last.request_id = result.request_id or last.request_id
        last.answered_model = result.model
        last.stop_reason = result.stop_reason
        last.response = result.text
        for r in records:
            r.simulated = result.simulated
        if result.route is not None:
            route = result.route
            last.attempt_model = last.attempt_model or route.answered_by
            last.route_policy, last.route_chosen, last.route_fallback = (
                route.policy,
                route.chosen,
                route.fallback,
            )
            last.route_expected_quality, last.route_expected_cost = (
                route.expected_quality,
                route.expected_cost,
            )
    last.final = True
    return records
