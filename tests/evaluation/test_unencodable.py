"""Text that is not valid Unicode through the real `llmbench eval`: a lone surrogate in a prompt (a `\\ud800`
escape in the dataset) and in answers. Before, one such string failed the group commit: the other models' rows
of the run were lost and the rerun paid again. Now the text is repaired (U+FFFD, listed in the item's metadata),
every row commits and a rerun pays nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer


@pytest.mark.slow
def test_lone_surrogates_in_prompts_and_answers_lose_no_row_and_pay_nothing_twice(tmp_path: Path) -> None:
    items = [
        {"id": "prompt", "input": "half \ud800 of a pair", "reference": "x"},
        {"id": "answer", "input": "say the odd thing", "reference": "x"},
        {"id": "plain", "input": "nothing odd", "reference": "x"},
    ]
    (tmp_path / "ds.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))  # json escapes: \ud800
    replies = {"say the odd thing": "an answer with \udfff inside"}
    with FakeOpenAIServer(latency_s=0.0, replies=replies) as server:
        (tmp_path / "llmbench.toml").write_text(
            f'[endpoints.fake]\nbase_url = "{server.url}/v1"\nfree = true\n'
        )
        exp = {"name": "u", "datasets": ["ds.jsonl"], "models": ["fake:a", "fake:b"], "concurrency": 4}
        (tmp_path / "exp.yaml").write_text(json.dumps(exp))
        argv = [
            sys.executable,
            "-m",
            "llmbench",
            "eval",
            "exp.yaml",
            "--store",
            "r.duckdb",
            "--no-track",
            "--no-progress",
        ]
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-x", "NO_COLOR": "1"}
        first = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        sent = server.stats()["requests"]
        again = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert server.stats()["requests"] == sent == 6  # the rerun paid nothing
    assert first.returncode == 0 and again.returncode == 0, first.stdout + first.stderr
    with Store.open(tmp_path / "r.duckdb", read_only=True) as st:
        calls = st.calls_frame("u").set_index(["item_id", "model_id"])
        stored = st.items_frame("u").set_index("item_id")
    assert len(calls) == 6 and calls["final"].all()
    assert (calls.loc["answer", "response"] == "an answer with \ufffd inside").all()
    assert "\ufffd" in stored.loc["prompt", "prompt"] and "text_repaired" in stored.loc["prompt", "metadata"]
