"""The one retry layer: backoff policy and mapping of SDK exceptions to llmbench's typed errors.

The SDKs are always built with `max_retries=0`; retrying happens here only, so retries never multiply.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any

import httpx2

from llmbench import errors

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "prompt is too long",
    "maximum context length",
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; `Retry-After` wins over the computed delay (up to `max_retry_after`)."""

    max_attempts: int = 3
    initial_delay: float = 0.5
    max_delay: float = 20.0
    jitter: float = 0.25
    max_retry_after: float = 60.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        base = min(self.initial_delay * 2 ** (attempt - 1), self.max_delay)
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or HTTP date); None when absent or unreadable."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        import datetime as dt

        when = parsedate_to_datetime(value)
        return max(0.0, (when - dt.datetime.now(when.tzinfo)).total_seconds())
    except (TypeError, ValueError):
        return None


def _body_message(body: Any, fallback: str) -> str:
    """The human part of an error body: `{"error": {"message": ...}}` in both vendors' formats."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return fallback


def map_sdk_error(exc: Exception, sdk: ModuleType, provider: str) -> errors.ProviderError:
    """Translate an `openai`/`anthropic` SDK exception into the llmbench hierarchy (messages redacted)."""
    if isinstance(exc, errors.ProviderError):
        return exc
    if isinstance(exc, sdk.APITimeoutError):
        return errors.ProviderTimeout(f"{provider}: the request timed out", provider=provider)
    if isinstance(exc, sdk.APIConnectionError):
        return errors.ProviderConnectionError(
            f"{provider}: could not connect ({exc.__cause__ or exc}); check the base URL and network",
            provider=provider,
        )
    if isinstance(exc, sdk.APIResponseValidationError):
        return errors.MalformedResponseError(
            f"{provider}: the server's answer is not a valid response ({exc})", provider=provider
        )
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        headers = exc.response.headers
        request_id = headers.get("x-request-id") or headers.get("request-id")
        detail = _body_message(exc.body, exc.message)
        kw: dict[str, Any] = {"provider": provider, "status_code": status, "request_id": request_id}
        msg = f"{provider}: HTTP {status}: {detail}"
        if status in (401, 403):
            return errors.AuthenticationError(f"{msg} (check the API key in the environment or config)", **kw)
        if status == 429:
            return errors.RateLimitError(msg, retry_after=parse_retry_after(headers), **kw)
        if status in RETRYABLE_STATUS:
            return errors.ServerError(msg, retry_after=parse_retry_after(headers), **kw)
        if any(m in detail.lower() for m in _CONTEXT_MARKERS) or getattr(exc, "code", None) == (
            "context_length_exceeded"
        ):
            return errors.ContextLengthError(f"{msg} (shorten the prompt or lower max_tokens)", **kw)
        return errors.InvalidRequestError(msg, **kw)
    if isinstance(exc, sdk.APIError):
        return errors.MalformedResponseError(f"{provider}: {exc}", provider=provider)
    # Raw transport errors: the anthropic SDK does not wrap those raised while a stream is read.
    if isinstance(exc, httpx2.TimeoutException):
        return errors.ProviderTimeout(f"{provider}: the response stalled ({exc})", provider=provider)
    if isinstance(exc, httpx2.TransportError):
        return errors.ProviderConnectionError(
            f"{provider}: the connection failed mid-response ({exc})", provider=provider
        )
    if isinstance(exc, TimeoutError):
        return errors.ProviderTimeout(f"{provider}: the call exceeded its timeout", provider=provider)
    return errors.MalformedResponseError(
        f"{provider}: unexpected {type(exc).__name__} while reading the response: {exc}", provider=provider
    )
