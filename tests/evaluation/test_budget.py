"""`max_cost` holds at any concurrency: calls in flight reserve their estimate, so the spend passes the budget by
one call's estimate at most (before, concurrency 64 spent 2.9x a small budget). Through `llmbench eval` in process
against the loopback fake, priced by the test's own price file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmbench.cli import run
from llmbench.providers import get_provider
from llmbench.providers.types import to_messages
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer

PRICE_IN, PRICE_OUT, MAX_TOKENS, BUDGET = 1000.0, 2000.0, 64, 0.5


@pytest.mark.parametrize("concurrency", [1, 16, 64])
def test_spend_stays_within_the_budget_plus_one_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    prompts = [f"question {i} word word word" for i in range(300)]
    (tmp_path / "ds.jsonl").write_text(
        "".join(json.dumps({"id": f"q{i}", "input": p}) + "\n" for i, p in enumerate(prompts))
    )
    (tmp_path / "prices.yaml").write_text(
        f"models:\n  'fake:m': {{input: {PRICE_IN}, output: {PRICE_OUT}}}\n"
    )
    with FakeOpenAIServer(latency_s=0.05) as server:
        (tmp_path / "llmbench.toml").write_text(
            f'price_file = "prices.yaml"\n[endpoints.fake]\nbase_url = "{server.url}/v1"\n'
        )
        exp = {"name": "budget", "datasets": ["ds.jsonl"], "models": ["fake:m"], "concurrency": concurrency,
               "max_cost": BUDGET, "params": {"max_tokens": MAX_TOKENS}}  # fmt: skip
        (tmp_path / "exp.yaml").write_text(json.dumps(exp))
        code = run(["eval", "exp.yaml", "--store", "r.duckdb", "--no-track", "--no-progress"])
        sent = server.stats()["requests"]
    provider = get_provider("fake:m")
    estimate = max(provider.estimate_call(to_messages(p), {"max_tokens": MAX_TOKENS}) for p in prompts)
    with Store.open(tmp_path / "r.duckdb", read_only=True) as store:
        spent, unknown, _ = store.spent("budget")
    assert (
        code == 3 and unknown == 0 and 0 < sent < len(prompts)
    )  # stopped by the budget, nothing unaccounted
    assert BUDGET <= spent <= BUDGET + estimate, (spent, estimate)
