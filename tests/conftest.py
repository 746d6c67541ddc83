"""Shared fixtures: the shared data folder, cassettes, loopback servers and fake API keys.

shared_data        Path to ../shared/data (skips the test when absent)
cassette(name)     list[Interaction] of pydantic_ai_cassettes/<name>.yaml, e.g. cassette("test_openai/test_valid_response")
recorded_server    a started, empty RecordedServer; queue answers with .add(...)
fake_openai_server a started FakeOpenAIServer without latency or faults
fake_key           sets OPENAI_API_KEY / ANTHROPIC_API_KEY to recognisable fake keys; returns them
postgres_server    a real PostgreSQL server for the session (llmbench.testing.postgres.LocalPostgres)
pg_url             a fresh database on it, as a store URL
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, CliResult

from llmbench.testing import FakeOpenAIServer, Interaction, RecordedServer, load_cassette, shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only third-party data folder beside the repo."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (set LLMBENCH_SHARED_DATA to its path to run this test)")
    return path


@pytest.fixture(scope="session")
def cassette(shared_data: Path) -> Callable[[str], list[Interaction]]:
    """Factory: cassette("test_openai/test_valid_response") -> interactions of that recorded cassette."""
    root = shared_data / "provider_fixtures" / "pydantic_ai_cassettes"

    def load(name: str) -> list[Interaction]:
        path = root / (name if name.endswith(".yaml") else name + ".yaml")
        if not path.is_file():
            pytest.fail(f"no cassette {path}; see {root.parent / 'MANIFEST.md'} for the list")
        return load_cassette(path)

    return load


@pytest.fixture
def recorded_server() -> Iterator[RecordedServer]:
    """A started RecordedServer with nothing queued."""
    with RecordedServer() as server:
        yield server


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """A started FakeOpenAIServer answering at once, without faults."""
    with FakeOpenAIServer(latency_s=0.0) as server:
        yield server


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Set fake provider keys in the environment (so a leak into output is easy to grep for)."""
    keys = {"OPENAI_API_KEY": FAKE_OPENAI_KEY, "ANTHROPIC_API_KEY": FAKE_ANTHROPIC_KEY}
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    return keys


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `llmbench ARGS...` in this process (as the console script would) -> CliResult(returncode, stdout, stderr).

    MLflow goes to a temporary store unless the test sets MLFLOW_TRACKING_URI itself.
    """
    from llmbench.cli import run

    def invoke(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = run([str(a) for a in args])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return invoke


@pytest.fixture(autouse=True)
def _mlflow_in_a_temporary_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a test logs to MLflow lands in the session's temporary folder, never in ./mlflow.db."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path_factory.getbasetemp() / 'mlflow.db'}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A real PostgreSQL server for the session (Debian's `postgresql`; skipped with the reason when absent)."""
    pytest.importorskip(
        "psycopg", reason="the PostgreSQL store needs psycopg: pip install 'llmbench[postgres]'"
    )
    from llmbench.testing.postgres import LocalPostgres, find_pg_bin

    if find_pg_bin() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: Any, request: pytest.FixtureRequest) -> str:
    """A fresh database on the session's PostgreSQL server, as a store URL."""
    name = "t_" + re.sub(r"\W", "_", request.node.name.lower())[:50] + f"_{next(_DATABASES)}"
    return str(postgres_server.create(name))


_DATABASES = itertools.count()
