"""Provider batch APIs through the official SDKs: OpenAI's Batch API (a JSONL file of /v1/chat/completions bodies,
`files.create`, `batches.create`) and Anthropic's Message Batches (`messages.batches.create`).

Each request's `custom_id` is the caller's key (the run key). Documented limits per batch: OpenAI 50,000 requests
and a 200 MB input file; Anthropic 100,000 requests and 256 MB. Results come back as neutral `Completion`s or
errors, read line by line, so a large result file is never held whole.
"""

from __future__ import annotations

import contextlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmbench import errors
from llmbench.errors import BatchCancelled, BatchExpired, BatchRequestError, BatchResultsGone
from llmbench.providers.anthropic import AnthropicProvider, completion_from_anthropic
from llmbench.providers.base import Provider
from llmbench.providers.errors_map import map_sdk_error
from llmbench.providers.openai import OpenAIProvider, completion_from_openai
from llmbench.providers.sdk import SDKProvider
from llmbench.providers.types import Completion, Message, ToolSpec

__all__ = ["BatchAPI", "BatchOutcome", "BatchStatus", "batch_api"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch stands at the provider."""

    status: str  # the provider's own word (in_progress, completed, ended, expired, cancelling, ...)
    ended: bool  # no request will run any more: results can be collected
    succeeded: int = 0
    failed: int = 0
    total: int = 0
    detail: str | None = None  # why a batch failed as a whole (e.g. OpenAI rejected its input file)
    cancelled: bool = (
        False  # someone asked to cancel it (here, in a console, elsewhere): its requests stay unsent
    )


@dataclass(frozen=True)
class BatchOutcome:
    """One request's result: a completion (without cost: the caller prices it) or an error."""

    custom_id: str
    completion: Completion | None = None
    error: errors.ProviderError | None = None


class BatchAPI(ABC):
    """One model's batch endpoint at one provider."""

    max_requests: int
    max_bytes: int
    # whether a batch found at the provider can be proven ours (OpenAI: a token in its metadata); where not
    # (Anthropic), a batch a crash may have left there is never adopted by guess: the user decides
    identifies_batches: bool
    sdk_root_error: str  # the SDK's base exception class, by name

    def __init__(self, provider: SDKProvider) -> None:
        self.provider = provider

    def _client(self) -> Any:
        return self.provider.sdk_client()

    def _error(self, exc: Exception) -> errors.ProviderError:
        return map_sdk_error(exc, self._sdk(), self.provider.model_id)

    @contextlib.contextmanager
    def _mapped(self, results_of: str | None = None) -> Iterator[None]:
        """SDK errors raised inside become llmbench's (one mapping, as httpx maps httpcore's); while downloading
        the results of batch `results_of`, a 404 or 410 means they are gone, not that the batch is."""
        try:
            yield
        except getattr(self._sdk(), self.sdk_root_error) as exc:
            error = self._error(exc)
            # an ended batch whose results are deleted (404/410), or named nowhere (Anthropic's SDK says so
            # when its results_url is empty)
            if results_of is not None and (error.status_code in (404, 410) or "results_url" in str(exc)):
                raise BatchResultsGone(
                    f"batch {results_of}: its results are no longer available: {error}",
                    provider=error.provider,
                    status_code=error.status_code,
                ) from None
            raise error from None

    @abstractmethod
    def _sdk(self) -> Any:
        """The SDK module (for its error classes)."""

    @abstractmethod
    def request(
        self, custom_id: str, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """One entry of a batch: the interactive request body under `custom_id`."""

    @staticmethod
    def size(request: dict[str, Any]) -> int:
        """The bytes an entry adds to a batch (one JSONL line)."""
        return len(json.dumps(request, ensure_ascii=False).encode()) + 1

    @abstractmethod
    async def submit(self, requests: list[dict[str, Any]], token: str) -> tuple[str, str | None]:
        """Create a batch; returns (its id, the uploaded input file's id or None)."""

    @abstractmethod
    async def status(self, batch_id: str) -> BatchStatus:
        """Where the batch stands now."""

    @abstractmethod
    def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """Every request's outcome of an ended batch that the provider reports (a batch that failed as a whole
        reports none)."""

    @abstractmethod
    async def cancel(self, batch_id: str) -> BatchStatus:
        """Ask the provider to stop the batch (requests already answered are still collected and billed)."""

    @abstractmethod
    async def candidates(self, token: str, since: float, requests: int) -> list[str]:
        """Ids of batches that may be the one created with `token` at about `since` (after a crash hid it)."""


class OpenAIBatches(BatchAPI):
    """OpenAI's Batch API: the requests go up as a JSONL file; results and errors come back as files."""

    max_requests, max_bytes = 50_000, 200 * _MB
    identifies_batches = True
    sdk_root_error = "OpenAIError"
    provider: OpenAIProvider

    def _sdk(self) -> Any:
        import openai

        return openai

    def request(
        self, custom_id: str, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """One line of the input file."""
        body = self.provider.build_request(messages, tools, {**self.provider.default_params, **params})
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}

    async def submit(self, requests: list[dict[str, Any]], token: str) -> tuple[str, str | None]:
        """Upload the file, then create the batch with `token` in its metadata (so it can be found again)."""
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests).encode()
        with self._mapped():
            file = await self._client().files.create(file=(f"llmbench-{token}.jsonl", data), purpose="batch")
            batch = await self._client().batches.create(
                input_file_id=file.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata={"llmbench_batch": token},
            )
        return batch.id, file.id

    async def _batch(self, batch_id: str) -> Any:
        with self._mapped():
            return await self._client().batches.retrieve(batch_id)

    @staticmethod
    def _status(batch: Any) -> BatchStatus:
        counts = batch.request_counts
        ended = batch.status in ("completed", "failed", "expired", "cancelled")
        cancelled = batch.status in ("cancelling", "cancelled") or bool(getattr(batch, "cancelling_at", None))
        problems = (
            "; ".join(f"{e.code}: {e.message}" for e in (batch.errors.data or [])) if batch.errors else None
        )
        return BatchStatus(
            batch.status,
            ended,
            counts.completed if counts else 0,
            counts.failed if counts else 0,
            counts.total if counts else 0,
            problems or None,
            cancelled,
        )

    async def status(self, batch_id: str) -> BatchStatus:
        """The batch's status and request counts."""
        return self._status(await self._batch(batch_id))

    async def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """The output file's answers, then the error file's failures."""
        from openai.types.chat import ChatCompletion

        batch = await self._batch(batch_id)
        counts = batch.request_counts
        if not (batch.output_file_id or batch.error_file_id) and counts is not None and counts.total:
            raise BatchResultsGone(
                f"{self.provider.model_id}: batch {batch_id} ended ({batch.status}) with no result file",
                provider=self.provider.provider,
            )
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            with self._mapped(batch_id):
                async with self._client().files.with_streaming_response.content(file_id) as resp:
                    async for line in resp.iter_lines():
                        if line.strip():
                            yield self._read(line, ChatCompletion)

    def _read(self, line: str, completion_type: Any) -> BatchOutcome:
        """One result line; a line that is not a valid result is that request's error, not the whole batch's."""
        try:
            return self._outcome(json.loads(line), completion_type)
        except (
            ValueError,
            TypeError,
            AttributeError,
            KeyError,
        ) as exc:  # pydantic's ValidationError is a ValueError
            return _malformed(self.provider, _CUSTOM_ID.search(line), exc, line)

    def _outcome(self, line: dict[str, Any], completion_type: Any) -> BatchOutcome:
        model_id, name = self.provider.model_id, self.provider.provider
        custom_id = str(line.get("custom_id"))
        response, error = line.get("response") or {}, line.get("error") or {}
        if response.get("status_code") == 200:
            resp = completion_type.model_validate(response["body"])
            return BatchOutcome(custom_id, completion_from_openai(resp, model_id=model_id, provider=name))
        if not error:
            body_error = (response.get("body") or {}).get("error") or {}
            error = {"code": f"http_{response.get('status_code')}", "message": body_error.get("message", "")}
        code, message = error.get("code") or "error", error.get("message") or ""
        kind = {"batch_expired": BatchExpired, "batch_cancelled": BatchCancelled}.get(code, BatchRequestError)
        status = response.get("status_code")
        return BatchOutcome(
            custom_id, error=kind(f"{model_id}: {code}: {message}", provider=name, status_code=status)
        )

    async def cancel(self, batch_id: str) -> BatchStatus:
        """Cancel; the batch goes through `cancelling` to `cancelled`."""
        with self._mapped():
            return self._status(await self._client().batches.cancel(batch_id))

    async def candidates(self, token: str, since: float, requests: int) -> list[str]:
        """The batches whose metadata carries `token` (newest pages first, back to `since`)."""
        found = []
        with self._mapped():
            async for batch in self._client().batches.list(limit=100):
                if (batch.metadata or {}).get("llmbench_batch") == token:
                    found.append(batch.id)
                if batch.created_at < since - 3600:
                    break
        return found


class AnthropicBatches(BatchAPI):
    """Anthropic's Message Batches: the requests go in the create call; results stream as JSONL."""

    max_requests, max_bytes = 100_000, 256 * _MB
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
                        yield _malformed(self.provider, r.custom_id, exc, repr(result.message))
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


_CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"([^"]+)"')


def _malformed(
    provider: Provider, custom_id: str | re.Match[str] | None, exc: Exception, raw: str
) -> BatchOutcome:
    """A result the provider sent that cannot be read: recorded as that request's MalformedResponseError."""
    if isinstance(custom_id, re.Match):
        custom_id = custom_id.group(1)
    error = errors.MalformedResponseError(
        f"{provider.model_id}: unreadable batch result ({type(exc).__name__}: {str(exc)[:120]}): {raw[:200]!r}",
        provider=provider.provider,
    )
    return BatchOutcome(str(custom_id), error=error)


def batch_api(provider: Provider) -> BatchAPI | None:
    """The batch API of a provider (OpenAI, Anthropic or a compatible endpoint), or None when it has none."""
    if isinstance(provider, AnthropicProvider):
        return AnthropicBatches(provider)
    if isinstance(provider, OpenAIProvider):
        return OpenAIBatches(provider)
    return None
