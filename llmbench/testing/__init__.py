"""Offline HTTP test infrastructure: recorded cassettes, an in-process mock transport and loopback servers.

Used by the test-suite, the benchmarks and the notebooks, so it lives in the package (stdlib, pyyaml and
httpx2 only). `FakeServerProcess` (the fake in a child process) is in `llmbench.testing.fake_process`.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmbench.testing.cassettes import (
    CassetteMismatch,
    Interaction,
    RecordedRequest,
    Recorder,
    load_cassette,
    mock_transport,
    sse_body,
)
from llmbench.testing.fake_api import FakeOpenAIServer
from llmbench.testing.server import RecordedServer

__all__ = [
    "CassetteMismatch",
    "FakeOpenAIServer",
    "Interaction",
    "RecordedRequest",
    "RecordedServer",
    "Recorder",
    "load_cassette",
    "mock_transport",
    "require_shared_data",
    "shared_data_dir",
    "sse_body",
]


def require_shared_data(*parts: str) -> Path:
    """The shared data folder (or `parts` inside it); a DataError saying what is missing and how to get it when it
    is absent, instead of a TypeError on `None / "..."` later."""
    from llmbench.errors import DataError

    base = shared_data_dir()
    where = base.joinpath(*parts) if base is not None else None
    if where is None or not where.exists():
        from llmbench.public_data import PUBLIC_DATA

        wanted = "/".join(("../shared/data", *parts))
        asked = "/".join(parts)
        needed = [d for d in PUBLIC_DATA.values() if d.shared.startswith(asked) or asked.startswith(d.shared)]
        fetch = [f"{d.title}: {d.fetch()}; the examples read it as ../shared/data/{d.shared}" for d in needed]
        raise DataError(
            f"{wanted} is absent: this needs the public data set there (README, 'The public data the examples "
            "use', says where each comes from), or LLMBENCH_SHARED_DATA pointing at a copy"
            + ("".join(f"\n  {line}" for line in fetch) if fetch else "")
        )
    return where


def shared_data_dir() -> Path | None:
    """The shared third-party data folder: $LLMBENCH_SHARED_DATA when set, else ../shared/data beside the repo; None
    when that folder is absent."""
    env = os.environ.get("LLMBENCH_SHARED_DATA")
    # a folder named by the variable is the only one looked at: absent means absent, not the one beside the repo
    folder = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return folder if folder.is_dir() else None
