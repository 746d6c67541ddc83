"""Where a row came from: stable hashes, run keys, sanitised configs, git commit, library versions, UTC times."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from llmbench.errors import redact

__all__ = [
    "REDACTED",
    "git_commit",
    "now",
    "package_versions",
    "run_key",
    "sanitize_config",
    "secret_name",
    "stable_hash",
    "to_timestamp",
]

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
        return {str(k): sanitize_config(v, _secret=_secret or secret_name(str(k))) for k, v in obj.items()}
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


def now() -> datetime:
    """The current time as the store keeps it (naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)
