"""Shared by the gateway tests: a policy over three models of a loopback upstream, the gateway running in a
thread, an SDK client and the calls it logged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from helpers import synthetic_frame

from llmbench.router import RouterEstimator
from llmbench.serve import GatewayConfig, running
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer

MODELS = {"big": "up:big", "coder": "up:coder", "cheap": "up:cheap"}


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A policy over three models of the `up` endpoint (quality-first: lambda 0)."""
    frame = synthetic_frame(30)
    frame["model"] = frame["model"].map(MODELS)
    path = tmp_path_factory.mktemp("policy") / "policy.json"
    RouterEstimator(lambda_=0.0).fit(frame).export(path)
    return path


@pytest.fixture
def upstream(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeOpenAIServer]:
    """The fake API as endpoint `up` (faults from the test's `faults` marker)."""
    marker = request.node.get_closest_marker("faults")
    faults = marker.args[0] if marker else {}
    with FakeOpenAIServer(latency_s=0.0, faults=faults, seed=3) as server:
        prices = tmp_path / "prices.yaml"
        prices.write_text("models:\n" + "".join(f"  '{m}': {{input: {p}, output: {3 * p}}}\n"
                                                 for m, p in zip(MODELS.values(), (10, 1, 0.1), strict=True)))  # fmt: skip
        config = tmp_path / "llmbench.toml"
        config.write_text(f'price_file = "{prices}"\n[endpoints.up]\nbase_url = "{server.url}/v1"\n')
        monkeypatch.setenv("LLMBENCH_CONFIG", str(config))
        yield server


def gateway(policy: Path, tmp_path: Path, **options: Any) -> Any:
    settings = {
        "port": 0,
        "policy": str(policy),
        "store": tmp_path / "gw.duckdb",
        "retries": 1,
        "reload_s": 0.1,
    }
    return running(GatewayConfig(**{**settings, **options}))


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def calls(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "gw.duckdb", read_only=True) as store:
        return store.calls_frame("gateway")
