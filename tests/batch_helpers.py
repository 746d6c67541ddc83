"""Shared by the batch-mode tests: a dataset writer, real SDK providers at the loopback fake, a config, a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmbench.evaluation import validate_config
from llmbench.evaluation.batch import BatchRunner
from llmbench.providers import ModelPrice, PriceTable, get_provider
from llmbench.providers.base import Provider
from llmbench.store import Store

FAKE_KEY = "sk-test-FAKEKEY-batch-00000000000"
PRICE_IN, PRICE_OUT = 1000.0, 2000.0
MODELS = ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest"]


def dataset(path: Path, n: int, marks: dict[int, str] | None = None) -> Path:
    """n items; item i's prompt ends with marks[i] (FAIL or EXPIRE) when given."""
    with path.open("w") as f:
        for i in range(n):
            prompt = f"q{i} word word" + (f" {marks[i]}" if marks and i in marks else "")
            f.write(json.dumps({"id": f"it-{i:03d}", "input": prompt, "reference": "x", "task": "t"}) + "\n")
    return path


def providers(url: str, *, http_client: Callable[[], Any] | None = None) -> dict[str, Provider]:
    """Real SDK providers at the fake, priced by the test's table (`http_client()` builds a client per model)."""
    prices = PriceTable({m: ModelPrice(input=PRICE_IN, output=PRICE_OUT) for m in MODELS})
    return {m: get_provider(m, base_url=url + ("/v1" if m.startswith("openai:") else ""), api_key=FAKE_KEY,
                            price_table=prices, timeout=5.0, http_client=http_client() if http_client else None)
            for m in MODELS}  # fmt: skip


def config(ds: Path, **extra: Any) -> Any:
    return validate_config({"name": "b", "datasets": [str(ds)], "models": MODELS, "batch": True,
                            "params": {"max_tokens": 64}, **extra})  # fmt: skip


async def run(cfg: Any, store: Store, url: str, **kwargs: Any) -> Any:
    http_client = kwargs.pop("http_client", None)
    runner = BatchRunner(
        cfg, store, providers=providers(url, http_client=http_client), poll_interval=0.0, **kwargs
    )
    return await runner.run()
