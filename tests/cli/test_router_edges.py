"""`llmbench router eval` on the data shapes real logs have: two models, one task, the best model the cheapest.

It must print its tables, exit 0 with bootstrap intervals, and write JSON that a strict parser accepts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmbench.imports import import_frame
from llmbench.store import Store


def _frame(case: str, n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    models = {"small": (0.55, 0.0004), "large": (0.8, 0.01)}
    if case == "best is cheapest":
        models = {"small": (0.85, 0.0004), "large": (0.6, 0.01), "mid": (0.7, 0.002)}
    tasks = ["only"] if case == "one task" else ["math", "prose"]
    words = {
        "math": ["sum", "add", "number"],
        "prose": ["poem", "story", "verse"],
        "only": ["ask", "tell", "say"],
    }
    rows = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        prompt = " ".join(rng.choice(words[task], 5)) + f" {i}"
        for model, (acc, price) in models.items():
            rows.append({"item_id": f"q{i}", "prompt": prompt, "task": task, "model": model,
                         "score": float(rng.random() < acc), "cost_usd": price * (1 + rng.random() / 10)})  # fmt: skip
    return pd.DataFrame(rows)


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("case", ["two models", "one task", "best is cheapest"])
def test_router_eval_exits_zero_with_intervals_and_strict_json(case: str, tmp_path: Path, cli) -> None:
    store = tmp_path / "runs.duckdb"
    with Store.open(store) as st:
        import_frame(st, _frame(case), "logs", "imported")
    report = tmp_path / "eval.json"
    out = cli("router", "eval", "--store", store, "-e", "logs", "--json", report, "--bootstrap", "50",
              "--target", "quality_floor=0.98", "--no-track")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "90% intervals" in out.stdout
    saved = _strict(report.read_text())
    assert {row["router"] for row in saved["intervals"]} >= {"router", "oracle", "task prior"}
    if case == "best is cheapest":
        # three models: APGR is not defined; the best model is the cheapest, and nothing crashed on it
        assert saved["table"][0].get("APGR") is None
    if case == "two models":
        assert all("APGR" in row for row in saved["table"])


def test_router_eval_rejects_a_bad_target_before_any_work(tmp_path: Path, cli) -> None:
    out = cli("router", "eval", "--store", tmp_path / "missing.duckdb", "-e", "x", "--target", "quality=0.9")
    assert out.returncode == 2 and "--target must look like" in out.stderr
