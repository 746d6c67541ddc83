"""`llmbench batches`: listing the provider batches an `eval --batch` left in the store, and cancelling one,
through the official SDKs against the loopback fake's batch endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from helpers import CliResult

from llmbench.store import Store
from llmbench.store.batches import BatchLog
from llmbench.testing import FakeOpenAIServer

MODELS = ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest"]


def test_batches_lists_and_cancels(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    with (tmp_path / "ds.jsonl").open("w") as f:
        for i in range(4):
            f.write(json.dumps({"id": f"it-{i}", "input": f"q{i} word", "reference": "x"}) + "\n")
    store = ["--store", tmp_path / "r.duckdb"]
    evaluate = ["eval", "--batch", "-d", "ds.jsonl", *[a for m in MODELS for a in ("-m", m)], "--no-track",
                "--no-progress", *store]  # fmt: skip
    with FakeOpenAIServer(latency_s=0.0, batch_polls=3) as server:
        env = {"OPENAI_BASE_URL": server.url + "/v1", "ANTHROPIC_BASE_URL": server.url,
               "OPENAI_API_KEY": "sk-test-batches", "ANTHROPIC_API_KEY": "sk-ant-test-batches", "COLUMNS": "250"}  # fmt: skip
        submitted = cli(*evaluate, cwd=tmp_path, env=env)
        listed = cli("batches", *store)
        ids = sorted(server.batches.batches)
        openai_id = next(i for i in ids if not i.startswith("msgbatch"))
        cancelled = cli("batches", "--cancel", openai_id, *store)
        unknown = cli("batches", "--cancel", "no-such-batch", *store)
        collected = cli(*evaluate, "--wait", "--poll-interval", "0")
        again = cli("batches", "--cancel", openai_id, *store)
        other = cli("batches", "-e", "no-such-experiment", *store)
        with Store.open(tmp_path / "r.duckdb", read_only=True) as st:
            states = dict(BatchLog(st).frame(None)[["batch_id", "state"]].itertuples(index=False))
            experiment = str(BatchLog(st).frame(None)["experiment"].iloc[0])
        report = cli("report", experiment, "-o", tmp_path / "report.html", *store)

    assert submitted.returncode == 4 and "8 request(s) submitted" in submitted.stdout
    # nothing is paid until a batch is collected: the first run's spend is 0, the batches' estimate said apart
    assert "spent $0.0000 in this run" in submitted.stdout and "for 8 request(s) still in provider batches" in (
        submitted.stdout.replace("\n", " ")
    )
    assert listed.returncode == 0 and len(ids) == 2
    assert all(i in listed.stdout for i in ids) and listed.stdout.count("submitted") == 2
    assert cancelled.returncode == 0 and f"cancel {openai_id}" in cancelled.stdout
    assert server.batches.batches[openai_id].status in ("cancelling", "cancelled")
    assert unknown.returncode == 2 and "no batch 'no-such-batch'" in unknown.stderr
    # the cancelled batch's requests come back unanswered and are not sent again; the other batch is collected
    assert (
        collected.returncode == 3
        and "4 finished, 4 failed" in collected.stdout
        and len(server.batches.created) == 2
    )
    assert states == {openai_id: "cancelled", next(i for i in ids if i != openai_id): "collected"}
    assert again.returncode == 2 and "only a submitted batch can be cancelled" in again.stderr
    assert (
        other.returncode == 2 and "no experiment 'no-such-experiment'" in other.stderr
    )  # a typo is no "none"
    # the report says which answers were priced at batch rates (the 4 the Anthropic batch answered)
    assert report.returncode == 0, report.stderr
    assert "4 calls were answered through provider batch APIs" in (tmp_path / "report.html").read_text()
