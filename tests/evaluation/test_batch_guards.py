"""Batch mode guards (issue: unbounded paid resubmission): a batch that ended but whose results the provider no
longer has (OpenAI deletes output files after 30 days, Anthropic keeps results 29 days; a 404 on the download,
or no result file / results_url on an ended batch) is a final state. Its requests are charged at their estimate,
never submitted again by a rerun or by --wait, and only `llmbench batches --resubmit` releases them."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_helpers import config, dataset, run

from llmbench.cli import run as cli
from llmbench.store import Store
from llmbench.store.batches import BatchLog
from llmbench.testing import FakeOpenAIServer


@pytest.mark.parametrize("lost", ["deleted", "unlisted"])
async def test_a_batch_whose_results_are_gone_is_never_resubmitted_by_itself(
    tmp_path: Path, lost: str
) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 6)
    cfg = config(ds, max_cost=1000.0)
    db = tmp_path / "r.duckdb"
    with FakeOpenAIServer(latency_s=0.0, batch_polls=1) as server:
        with Store.open(db) as store:
            first = await run(cfg, store, server.url)  # submits, does not wait
            assert first.submitted == 12 and len(server.batches.created) == 2
            server.batches.results = lost
            waited = await run(cfg, store, server.url, wait=True)
            again = await run(cfg, store, server.url, wait=True)
            frame = BatchLog(store).frame("b")
            calls = store.calls_frame("b")
            spent = store.spent("b")[0]
        # before: each pass abandoned the batch and paid for a new one, without limit and past max_cost
        assert len(server.batches.created) == 2
        assert waited.results_gone == 12 and again.results_gone == 12 and again.submitted == 0
        assert not waited.complete and frame["results_gone"].all() and set(frame["state"]) == {"collected"}
        # the provider billed them: the store says so, at their estimate
        finals = calls[calls["final"]]
        assert len(finals) == 12 and set(finals["error_class"]) == {"BatchResultsGone"}
        assert set(finals["cost_basis"]) == {"estimated"} and spent == pytest.approx(
            frame["est_cost_usd"].sum()
        )

        listed = cli(["batches", "--store", str(db)])
        assert listed == 0
        key = str(frame["batch_key"].iloc[0])
        assert cli(["batches", "--store", str(db), "--resubmit", key]) == 0
        assert cli(["batches", "--store", str(db), "--resubmit", key]) == 2  # released once; nothing gone now
        server.batches.results = "kept"
        with Store.open(db) as store:
            released = await run(cfg, store, server.url, wait=True)
        assert len(server.batches.created) == 3 and released.submitted == 6 and released.results_gone == 6
