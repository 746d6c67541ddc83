"""The one error hierarchy of llmbench.

Every message says what was wrong and what to do. Secrets are redacted before a message is built.

    LLMBenchError
    ├── ConfigError                 bad config, experiment or price file
    ├── DataError                   bad dataset, import file or policy file
    ├── StoreError                  run store problems (e.g. another writer holds the file)
    ├── BudgetExceeded              a --max-cost budget was reached
    └── ProviderError               a provider call failed (carries .attempts)
        ├── AuthenticationError     401/403: key missing or wrong
        ├── InvalidRequestError     400/404/422: the request itself is wrong
        │   └── ContextLengthError  the prompt does not fit the model's context window
        ├── RateLimitError          429 (retryable)
        ├── ProviderTimeout         the call took longer than its timeout (retryable)
        ├── ProviderConnectionError network failure before an answer (retryable)
        ├── ServerError             408/409/5xx (retryable)
        ├── MalformedResponseError  the server answered with something that is not a valid response
        └── BatchRequestError       one request of a provider batch failed
            ├── BatchExpired        the batch ended (24 h) before this request ran
            ├── BatchCancelled      the batch was cancelled before this request ran
            └── BatchResultsGone    the batch ended but the provider no longer has its results

What an error means is on its class, read by every place that acts on it (no tables elsewhere):
`retryable` (the retry loop tries again), `heals_elsewhere` (a router falls back to its next model),
`fatal_for_run` (every other call of the run would meet it: the eval stops), `http_status` (what the gateway
answers). An `InvalidRequestError` with status 404 (the model or endpoint does not exist) heals elsewhere, is
fatal for the run and answers 404.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmbench.providers.types import Attempt, Usage

__all__ = [
    "AuthenticationError",
    "BatchCancelled",
    "BatchExpired",
    "BatchRequestError",
    "BatchResultsGone",
    "BudgetExceeded",
    "ConfigError",
    "ContextLengthError",
    "DataError",
    "InvalidRequestError",
    "LLMBenchError",
    "MalformedResponseError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeout",
    "RateLimitError",
    "ServerError",
    "StoreError",
    "redact",
]

# Key shapes of the major vendors; a key registered with `register_secret` is redacted verbatim too.
_KEY_PATTERN = re.compile(
    r"\b(sk-[A-Za-z0-9_\-*]{6,}|sk-ant-[A-Za-z0-9_\-*]{6,}|gsk_[A-Za-z0-9]{10,}|AIza[0-9A-Za-z_\-]{20,})"
)
# The password of a URL's user info (postgresql://user:PASSWORD@host/db, https://user:PASSWORD@proxy), of any length.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*:/{1,2}[^\s/:@]*:)[^\s/@]+@")
_SECRETS: set[str] = set()
_FRAGMENTS: dict[str, re.Pattern[str]] = {}  # secret -> its masked or partial echoes
_MASK = r"[*•…xX#]{3,}|\.{3,}"
_WORD = r"[^\s'\"`,;]"


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` removes it from any text, and its masked or partial echoes too."""
    if not value or len(value) < 4:
        return
    _SECRETS.add(value)
    if len(value) >= 12 and value not in _FRAGMENTS:
        head, tail = re.escape(value[:4]), re.escape(value[-4:])
        parts = [
            # a server echoing the key masked: "CANARYpl******1xyz", "sk-...xyz", "abcd…wxyz"
            rf"{head}{_WORD}*?(?:{_MASK}){_WORD}*",
            rf"{_WORD}*(?:{_MASK}){_WORD}*?{tail}",
            # or cut: any 12 characters of it in a row
            *(re.escape(value[i : i + 12]) for i in range(0, len(value) - 11, 4)),
            re.escape(value[-12:]),
        ]
        _FRAGMENTS[value] = re.compile("|".join(parts))


def redact(text: Any) -> str:
    """Return `text` as a string with API keys, registered secrets and their masked or partial echoes, and the
    passwords of URLs, replaced by `[REDACTED]`."""
    out = str(text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        out = out.replace(secret, "[REDACTED]")
    for pattern in _FRAGMENTS.values():
        out = pattern.sub("[REDACTED]", out)
    out = _URL_PASSWORD.sub(r"\g<head>[REDACTED]@", out)
    return _KEY_PATTERN.sub("[REDACTED]", out)


class LLMBenchError(Exception):
    """Root of every error llmbench raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class ConfigError(LLMBenchError):
    """A configuration, experiment or price file is wrong."""


class DataError(LLMBenchError):
    """A dataset, import file or policy file is wrong."""


class ScorerError(LLMBenchError):
    """The scorer reached no verdict for reasons of its own (an overloaded machine, a sandbox that did not run):
    the runner tries again, and if it still fails the answer is stored unscored (NULL, with the reason), never a 0."""


class StoreError(LLMBenchError):
    """The run store cannot be opened or written."""


class BudgetExceeded(LLMBenchError):
    """The spending limit of a run was reached."""


class ProviderError(LLMBenchError):
    """A provider call failed; `attempts` lists every attempt made, each with its own usage and cost, and
    `partial_usage` what a call cut off halfway was already billed for (a stream's prompt tokens)."""

    retryable: bool = False
    heals_elsewhere: bool = False
    fatal_for_run: bool = False
    http_status: int = 502

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.request_id = request_id
        self.retry_after = retry_after
        self.attempts: list[Attempt] = []
        self.partial_usage: Usage | None = None


class AuthenticationError(ProviderError):
    """The API key is missing, wrong or lacks permission."""

    fatal_for_run = True


class InvalidRequestError(ProviderError):
    """The provider rejected the request as malformed (fix the request, retrying will not help)."""

    http_status = 400

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        # no such model or endpoint: another model may answer, this one never will
        if self.status_code == 404:
            self.heals_elsewhere = self.fatal_for_run = True
            self.http_status = 404


class ContextLengthError(InvalidRequestError):
    """The prompt plus the requested output does not fit the model's context window."""

    heals_elsewhere = True  # a model with a larger window may take it


class RateLimitError(ProviderError):
    """The provider throttled the call (429)."""

    retryable = heals_elsewhere = True
    http_status = 429


class ProviderTimeout(ProviderError):
    """The call did not finish within its timeout."""

    retryable = heals_elsewhere = True
    http_status = 504


class ProviderConnectionError(ProviderError):
    """The provider could not be reached."""

    retryable = heals_elsewhere = True


class ServerError(ProviderError):
    """The provider failed on its side (408, 409 or 5xx)."""

    retryable = heals_elsewhere = True


class MalformedResponseError(ProviderError):
    """The server's answer is not a valid response of the expected API."""


class BatchRequestError(ProviderError):
    """One request of a provider batch failed at the provider."""


class BatchExpired(BatchRequestError):
    """The batch ended (24 h) before this request ran."""


class BatchCancelled(BatchRequestError):
    """The batch was cancelled before this request ran."""


class BatchResultsGone(BatchRequestError):
    """The batch ended, but the provider no longer has its results (OpenAI deletes output files after 30 days,
    Anthropic keeps results 29 days): final; resubmitting would pay again, so only the user does it."""
