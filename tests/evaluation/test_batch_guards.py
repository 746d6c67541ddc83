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


@pytest.mark.parametrize("model", [0, 1], ids=["openai", "anthropic"])
async def test_a_batch_cancelled_elsewhere_is_cancelled_here_and_not_resubmitted(
    tmp_path: Path, model: int
) -> None:
    from batch_helpers import MODELS

    ds = dataset(tmp_path / "ds.jsonl", 4)
    cfg = config(ds, models=MODELS[model : model + 1])
    with FakeOpenAIServer(latency_s=0.0, batch_polls=5) as server, Store.open(tmp_path / "r.duckdb") as store:
        await run(cfg, store, server.url)
        assert server.batches.cancel(
            server.batches.created[0]
        )  # in the vendor's console, not through llmbench
        report = await run(cfg, store, server.url, wait=True)
        again = await run(cfg, store, server.url, wait=True)
        states = list(BatchLog(store).frame("b")["state"])
    # before, Anthropic's ended-after-cancel batch was "collected" and its cancelled requests were billed again
    assert states == ["cancelled"] and len(server.batches.created) == 1
    assert report.gave_up == 4 and again.submitted == 0


async def test_an_error_line_then_an_answer_for_one_request_keeps_the_answer(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 4, {1: "FLAKY", 2: "FLAKY"})
    cfg = config(ds)
    with FakeOpenAIServer(latency_s=0.0, batch_polls=0) as server, Store.open(tmp_path / "r.duckdb") as store:
        report = await run(cfg, store, server.url, wait=True)
        calls = store.calls_frame("b")
    assert report.complete and report.finished == 8 and len(server.batches.created) == 2
    assert calls["error_class"].isna().all() and len(calls) == 8


async def test_a_budget_cancel_of_a_batch_that_already_ended_does_not_stop_the_run(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 3)
    with FakeOpenAIServer(latency_s=0.0, batch_polls=5) as server, Store.open(tmp_path / "r.duckdb") as store:
        await run(config(ds, max_cost=10.0), store, server.url)  # both models' batches submitted
        for bid in server.batches.created:
            server.batches.finish(bid)  # both end at the provider before the next pass looks
        # a lower budget: the first batch collected passes it, and the cancel of the other (ended) one is refused
        report = await run(config(ds, max_cost=0.001), store, server.url, wait=True)
        states = sorted(BatchLog(store).frame("b")["state"])
    assert report.stopped_by_budget and report.stopped_by is None
    assert states == ["collected", "collected"] and report.finished == 6
