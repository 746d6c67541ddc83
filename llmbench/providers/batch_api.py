"""Provider batch APIs: what every one is (`BatchAPI`), and the one a provider's class names (`Provider.batches`;
OpenAI's in `openai_batches`, Anthropic's in `anthropic_batches`).

Each request's `custom_id` is the caller's key (the run key). Documented limits per batch: OpenAI 50,000 requests
and a 200 MB input file; Anthropic 100,000 requests and 256 MB. Results come back as neutral `Completion`s or
errors, read line by line, so a large result file is never held whole.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from llmbench import errors
from llmbench.errors import BatchResultsGone
from llmbench.providers.base import Provider
from llmbench.providers.errors_map import map_sdk_error
from llmbench.providers.sdk import SDKProvider
from llmbench.providers.types import Completion, Message, ToolSpec

__all__ = ["CUSTOM_ID", "MB", "BatchAPI", "BatchOutcome", "BatchStatus", "batch_api", "malformed_outcome"]

MB = 1024 * 1024  # documented batch limits are in MiB


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


CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"([^"]+)"')


def malformed_outcome(
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
    """The batch API a provider's class names (`Provider.batches`), or None when it has none."""
    if provider.batches is None:
        return None
    module, _, name = provider.batches.partition(":")
    kind = getattr(importlib.import_module(module), name)
    if not (isinstance(kind, type) and issubclass(kind, BatchAPI)):
        raise errors.ConfigError(
            f"{type(provider).__name__}.batches names {provider.batches!r}, not a BatchAPI"
        )
    if not isinstance(provider, SDKProvider):
        raise errors.ConfigError(f"{type(provider).__name__} names a batch API but has no SDK client for it")
    return kind(provider)
