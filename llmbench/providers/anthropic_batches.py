"""Anthropic's Message Batches through the official SDK (`messages.batches.create`); results stream as JSONL.
Documented limits per batch: 100,000 requests and 256 MB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from llmbench import errors
from llmbench.errors import BatchCancelled, BatchExpired, BatchRequestError
from llmbench.providers.anthropic import AnthropicProvider, completion_from_anthropic
from llmbench.providers.batch_api import MB, BatchAPI, BatchOutcome, BatchStatus, malformed_outcome
from llmbench.providers.types import Message, ToolSpec

__all__ = ["AnthropicBatches"]


class AnthropicBatches(BatchAPI):
    """Anthropic's Message Batches: the requests go in the create call; results stream as JSONL."""

    max_requests, max_bytes = 100_000, 256 * MB
    identifies_batches = False
    sdk_root_error = "AnthropicError"
    provider: AnthropicProvider

    def _sdk(self) -> Any:
        import anthropic

        return anthropic

    def request(
        self, custom_id: str, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """One request of the batch."""
        body = self.provider.build_request(messages, tools, {**self.provider.default_params, **params})
        return {"custom_id": custom_id, "params": body}

    async def submit(self, requests: list[dict[str, Any]], token: str) -> tuple[str, str | None]:
        """Create the batch (Anthropic batches carry no metadata: `candidates` matches by time and size)."""
        with self._mapped():
            batch = await self._client().messages.batches.create(requests=requests)
        return batch.id, None

    @staticmethod
    def _status(batch: Any) -> BatchStatus:
        c = batch.request_counts
        failed = c.errored + c.expired + c.canceled
        cancelled = (
            batch.processing_status == "canceling" or getattr(batch, "cancel_initiated_at", None) is not None
        )
        return BatchStatus(
            batch.processing_status,
            batch.processing_status == "ended",
            c.succeeded,
            failed,
            c.processing + c.succeeded + failed,
            cancelled=cancelled,
        )

    async def status(self, batch_id: str) -> BatchStatus:
        """The batch's processing status and request counts."""
        with self._mapped():
            return self._status(await self._client().messages.batches.retrieve(batch_id))

    async def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """Every request's result, streamed."""
        model_id, name = self.provider.model_id, self.provider.provider
        with self._mapped(batch_id):
            async for r in await self._client().messages.batches.results(batch_id):
                result = r.result
                if result.type == "succeeded":
                    try:
                        completion = completion_from_anthropic(
                            result.message, model_id=model_id, provider=name
                        )
                    except (ValueError, TypeError, AttributeError, KeyError) as exc:
                        yield malformed_outcome(self.provider, r.custom_id, exc, repr(result.message))
                        continue
                    yield BatchOutcome(r.custom_id, completion)
                    continue
                if result.type == "errored":
                    inner = result.error.error
                    error: errors.ProviderError = BatchRequestError(
                        f"{model_id}: {inner.type}: {inner.message}", provider=name
                    )
                elif result.type == "expired":
                    error = BatchExpired(
                        f"{model_id}: the batch expired before this request ran", provider=name
                    )
                else:
                    error = BatchCancelled(
                        f"{model_id}: the batch was cancelled before this request ran", provider=name
                    )
                yield BatchOutcome(r.custom_id, error=error)

    async def cancel(self, batch_id: str) -> BatchStatus:
        """Cancel; the batch ends once in-flight requests finish."""
        with self._mapped():
            return self._status(await self._client().messages.batches.cancel(batch_id))

    async def candidates(self, token: str, since: float, requests: int) -> list[str]:
        """Batches of the same size created from a minute before `since` on, oldest first."""
        found = []
        with self._mapped():
            async for batch in self._client().messages.batches.list(limit=100):
                created = batch.created_at.timestamp() if isinstance(batch.created_at, datetime) else 0.0
                if created < since - 60:
                    break
                if self._status(batch).total == requests:
                    found.append((created, batch.id))
        return [bid for _, bid in sorted(found)]
