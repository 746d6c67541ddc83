"""Row types the run store writes, hashing helpers, config sanitising, and calls built from completions."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench.errors import redact

if TYPE_CHECKING:
    from llmbench.providers.types import Completion

REDACTED = "[REDACTED]"
_SECRET_NAME = re.compile(r"key|token|secret|password|passwd|authorization|credential|bearer", re.IGNORECASE)


def secret_name(name: str) -> bool:
    """Whether a config key or environment variable name looks like it holds a secret."""
    return bool(_SECRET_NAME.search(name))


def stable_hash(obj: Any) -> str:
    """sha256 hex of `obj` as canonical JSON (sorted keys, no spaces); equal values give equal hashes."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_key(
    experiment: str, item_id: str, model_id: str, epoch: int, prompt_hash: str, params_hash: str
) -> str:
    """The resume key of one (item, model, epoch) run: sha256 hex over its identity and what was sent."""
    return stable_hash([experiment, item_id, model_id, int(epoch), prompt_hash, params_hash])


def sanitize_config(obj: Any, *, _secret: bool = False) -> Any:
    """A copy of a config with secrets removed, safe to store.

    Strings under a key named like *key*, *token*, *secret*, *password* become "[REDACTED]"; numbers and
    booleans stay (so `max_tokens: 512` survives); every other string goes through `llmbench.errors.redact`.
    """
    if isinstance(obj, dict):
        return {
            str(k): sanitize_config(v, _secret=_secret or bool(_SECRET_NAME.search(str(k))))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple | set):
        return [sanitize_config(v, _secret=_secret) for v in obj]
    if obj is None or isinstance(obj, bool | int | float):
        return obj
    if _secret:
        return REDACTED
    return redact(obj)


def package_versions() -> dict[str, str]:
    """Versions of llmbench and the libraries that shape its results."""
    out = {}
    for name in ("llmbench", "openai", "anthropic", "duckdb", "pandas", "pydantic", "jsonschema"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The HEAD commit of the git repository at `cwd` (None outside a repository or without git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha) else None


def to_timestamp(value: float | datetime | None) -> datetime | None:
    """A naive UTC datetime from unix seconds or a datetime (the store keeps UTC without a zone)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)


@dataclass
class CallRecord:
    """One attempt of one (item, model, epoch) run; `final` marks the attempt that ended the call."""

    run_key: str
    item_id: str
    model_id: str
    epoch: int = 0
    attempt: int = 1
    started_at: float | datetime | None = None
    latency_s: float | None = None
    input_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    error_class: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    request_id: str | None = None
    answered_model: str | None = None
    stop_reason: str | None = None
    response: str | None = None
    final: bool = False
    simulated: bool = False
    cache_write_1h_tokens: int | None = None  # CallRecord fields follow the table's column order
    cost_basis: str | None = None  # imports only: how the cost was obtained (live calls: reported usage)

    @property
    def ok(self) -> bool:
        """Whether this attempt succeeded."""
        return self.error_class is None


@dataclass
class IntentRecord:
    """An attempt about to be sent: stored before the request leaves, removed when its outcome is stored."""

    intent_id: str
    run_key: str
    item_id: str
    model_id: str
    epoch: int = 0
    attempt: int = 1
    sent_at: float | datetime | None = None
    est_cost_usd: float | None = None


@dataclass
class ScoreRecord:
    """A scorer's verdict on a finished run; `is_primary` marks the score `runs_frame` shows by default."""

    run_key: str
    item_id: str
    model_id: str
    epoch: int
    scorer: str
    value: float | None
    explanation: str = ""
    is_primary: bool = True


def _usage_fields(usage: Any) -> dict[str, int | None]:
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
    ident = {"run_key": run_key, "item_id": item_id, "model_id": model_id, "epoch": int(epoch)}
    attempts = list(getattr(result, "attempts", None) or [])
    records = [
        CallRecord(
            **ident,
            attempt=a.number,
            started_at=a.started_at,
            latency_s=a.latency_s,
            cost_usd=a.cost_usd,
            error_class=None if a.ok else (a.error_type or "Error"),
            error_message=redact(a.error_message) if a.error_message else None,
            status_code=a.status_code,
            request_id=a.request_id,
            **_usage_fields(a.usage),
        )
        for a in attempts
    ]
    if isinstance(result, BaseException):
        if not records:
            records.append(CallRecord(**ident, started_at=time.time()))
        last = records[-1]
        last.error_class = type(result).__name__
        last.error_message = redact(str(result))
        last.status_code = getattr(result, "status_code", None) or last.status_code
        last.request_id = getattr(result, "request_id", None) or last.request_id
    else:
        if not records or not records[-1].ok:
            records.append(
                CallRecord(
                    **ident,
                    attempt=len(records) + 1,
                    started_at=time.time() - result.latency_s,
                    latency_s=result.latency_s,
                )
            )
        last = records[-1]
        if result.usage is not None:
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
    last.final = True
    return records
