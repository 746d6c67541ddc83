"""Call rows of batch results: each answer priced at the batch rate, a failed request not billed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from llmbench.providers import Completion, Provider
from llmbench.providers.batch_api import BatchOutcome
from llmbench.providers.types import Attempt
from llmbench.store import CallRecord, call_records
from llmbench.store.rows import BatchRequestRow

__all__ = ["result_rows", "unix_seconds"]


def result_rows(
    outcome: BatchOutcome, request: BatchRequestRow, provider: Provider, round_: int, started: float
) -> tuple[list[CallRecord], Completion | None]:
    """The call rows of one batch result (the answer priced at the batch rate; a failed request is not billed)."""
    if outcome.completion is not None:
        c = outcome.completion
        cost, basis = provider.price_table.batch_price(provider.ref, c.usage, api_url=provider.api_url())
        attempt = Attempt(
            number=round_,
            started_at=started,
            latency_s=0.0,
            ok=True,
            usage=c.usage,
            cost_usd=cost,
            request_id=c.request_id,
        )
        done = c.model_copy(update={"cost_usd": cost, "attempts": [attempt]})
        rows = call_records(
            done,
            run_key=request.run_key,
            item_id=request.item_id,
            model_id=request.model_id,
            epoch=request.epoch,
        )
        result: Completion | None = done
    else:
        err = outcome.error
        assert err is not None
        err.attempts = [
            Attempt(
                number=round_,
                started_at=started,
                latency_s=0.0,
                ok=False,
                cost_usd=0.0,
                error_type=type(err).__name__,
                error_message=str(err),
                status_code=err.status_code,
            )
        ]
        rows = call_records(
            err,
            run_key=request.run_key,
            item_id=request.item_id,
            model_id=request.model_id,
            epoch=request.epoch,
        )
        basis, result = "batch_not_billed", None
        rows[-1].cost_usd = 0.0
    for row in rows:
        row.latency_s, row.cost_basis = None, basis  # a batch has no per-request latency
    return rows, result


def unix_seconds(value: float | datetime | None) -> float:
    """Unix seconds of a stored (naive UTC) timestamp."""
    if value is None:
        return time.time()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)
