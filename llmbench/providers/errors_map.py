"""SDK exceptions to llmbench's typed errors: which failures are retryable, which are the caller's to fix."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx2

from llmbench import errors
from llmbench.providers.retry import parse_retry_after

__all__ = ["RETRYABLE_STATUS", "map_sdk_error"]

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "prompt is too long",
    "maximum context length",
)


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
