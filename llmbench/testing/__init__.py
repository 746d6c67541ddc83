"""Offline HTTP test infrastructure: recorded cassettes, an in-process mock transport and loopback servers.

Used by the test-suite, the benchmarks and the notebooks, so it lives in the package (stdlib, pyyaml and
httpx2 only).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench.testing.cassettes import (
    CassetteMismatch,
    Interaction,
    RecordedRequest,
    Recorder,
    load_cassette,
    mock_transport,
    sse_body,
)

if TYPE_CHECKING:
    from llmbench.testing.fake_api import FakeOpenAIServer, FakeServerProcess
    from llmbench.testing.server import RecordedServer

__all__ = [
    "CassetteMismatch",
    "FakeOpenAIServer",
    "FakeServerProcess",
    "Interaction",
    "RecordedRequest",
    "RecordedServer",
    "Recorder",
    "load_cassette",
    "mock_transport",
    "shared_data_dir",
    "sse_body",
]


def shared_data_dir() -> Path | None:
    """The shared third-party data folder: $LLMBENCH_SHARED_DATA, else ../shared/data beside the repo; None if absent."""
    env = os.environ.get("LLMBENCH_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data")
    return next((p for p in candidates if p.is_dir()), None)


def __getattr__(name: str) -> Any:
    # The servers load lazily so that `python -m llmbench.testing.server` does not import its own module twice.
    if name in {"FakeOpenAIServer", "FakeServerProcess"}:
        from llmbench.testing import fake_api

        return getattr(fake_api, name)
    if name == "RecordedServer":
        from llmbench.testing import server

        return server.RecordedServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
