"""Batch mode (`llmbench eval --batch`) through the official openai and anthropic SDKs against the loopback fake's
batch endpoints: files, batches, results, partial failure, expiry, lost submissions, budget, resume.

The fake's documented rules give the expectations: a batch stays in progress for `batch_polls` retrievals, a
request whose prompt holds "FAIL" errors and one holding "EXPIRE" expires; every other request is answered as an
interactive call would be. Prices are the test's own, so the batch price (half of list) is derived here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anthropic  # imported up front: a cold SDK import inside the first call's timeout is slow
import httpx2
import openai
import pytest
from batch_helpers import FAKE_KEY, MODELS, PRICE_IN, PRICE_OUT, config, dataset, providers, run

from llmbench.evaluation.batch import BatchRunner
from llmbench.evaluation.runner import Runner
from llmbench.store import Store
from llmbench.store.batches import BatchLog
from llmbench.testing import FakeOpenAIServer


async def test_batch_eval_collects_prices_and_resubmits_failures_once(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 12, {3: "FAIL", 7: "EXPIRE"})
    cfg = config(ds)
    with FakeOpenAIServer(latency_s=0.0, batch_polls=1) as server, Store.open(tmp_path / "r.duckdb") as store:
        report = await run(cfg, store, server.url, wait=True)
        created_first = list(server.batches.created)
        again = await run(cfg, store, server.url, wait=True)  # a rerun submits nothing new
        calls, scores = store.calls_frame("b"), store.scores_frame("b")
        batches = BatchLog(store).frame("b")
        uploaded = [r for r in server.requests if r.path == "/v1/files"]

    # 10 good items x 2 models answered; the 2 marked items failed in two batches each and were given up on.
    assert report.finished == 20 and report.gave_up == 4 and report.pending == 0
    assert (
        again.submitted == 0 and again.gave_up == 4 and len(server.batches.created) == len(created_first) == 4
    )
    assert sorted(batches["round"].tolist()) == [1, 1, 2, 2]
    assert sorted(batches.loc[batches["round"] == 2, "requests"].tolist()) == [2, 2]
    assert set(batches["state"]) == {"collected"} and len(uploaded) == 2  # OpenAI: one input file per batch

    ok = calls[calls["error_class"].isna()]
    assert len(ok) == 20 and set(ok["cost_basis"]) == {"batch_discount"} and ok["latency_s"].isna().all()
    list_price = (ok["input_tokens"] * PRICE_IN + ok["output_tokens"] * PRICE_OUT) / 1e6
    assert (ok["cost_usd"] - list_price * 0.5).abs().max() < 1e-12 and (ok["input_tokens"] > 0).all()
    assert len(scores) == 20 and set(scores["run_key"]) == set(ok["run_key"])

    bad = calls[calls["error_class"].notna()]
    assert len(bad) == 8 and (bad["cost_usd"] == 0).all()  # 2 items x 2 models x 2 rounds, unbilled
    assert sorted(bad.groupby("run_key")["attempt"].apply(sorted).tolist()) == [[1, 2]] * 4
    assert set(bad["error_class"]) == {"BatchRequestError", "BatchExpired"}
    collected = batches.groupby("model_id")["cost_usd"].sum()
    assert collected.sum() == pytest.approx(ok["cost_usd"].sum())


async def test_failed_requests_run_live_with_live_fallback(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 4, {1: "FAIL"})
    cfg = config(ds, batch_fallback="live")
    with FakeOpenAIServer(latency_s=0.0, batch_polls=0) as server, Store.open(tmp_path / "r.duckdb") as store:
        report = await run(cfg, store, server.url, wait=True)
        calls = store.calls_frame("b")
        finished = store.finished_keys("b")
    assert report.complete and len(finished) == 8 and len(server.batches.created) == 2
    live = calls[calls["cost_basis"].isna()]  # the two FAIL requests, answered interactively at list price
    assert len(live) == 2 and live["error_class"].isna().all() and (live["latency_s"] > 0).all()


async def test_an_unreadable_result_line_fails_its_request_not_the_batch(tmp_path: Path) -> None:
    """A server bug: one result line is JSON of the wrong shape. That request is a MalformedResponseError (tried
    twice, like any failed request); every other answer of the batch is collected."""
    ds = dataset(tmp_path / "ds.jsonl", 4, {2: "GARBLE"})
    with FakeOpenAIServer(latency_s=0.0, batch_polls=0) as server, Store.open(tmp_path / "r.duckdb") as store:
        report = await run(config(ds), store, server.url, wait=True)
        calls = store.calls_frame("b")
    bad = calls[calls["error_class"].notna()]
    assert report.finished == 6 and report.gave_up == 2
    assert set(bad["error_class"]) == {"MalformedResponseError"} and len(bad) == 4  # 2 models x 2 rounds
    assert (
        set(bad["item_id"]) == {"it-002"}
        and bad["error_message"].str.contains("unreadable batch result").all()
    )


async def test_batch_per_provider_sends_the_rest_live(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 3)
    cfg = config(ds, batch=False, providers={"openai": {"batch": True}})
    progress: list[int] = []
    with FakeOpenAIServer(latency_s=0.0, batch_polls=0) as server, Store.open(tmp_path / "r.duckdb") as store:
        # the live models run through the Runner given (its public methods); both write its report
        live = Runner(
            cfg, store, providers=providers(server.url), on_progress=lambda _, n: progress.append(n)
        )
        runner = BatchRunner(cfg, store, live=live, poll_interval=0.0, wait=True)
        report = await runner.run()
        calls = store.calls_frame("b").set_index("model_id")
    assert report.complete and runner.live_models == [MODELS[1]]
    assert report is live.report and not isinstance(runner, Runner)
    assert sum(progress) == 6  # 3 answered live, 3 collected from the batch
    assert [
        b for b in server.batches.created if b.startswith("batch_")
    ] == server.batches.created  # OpenAI only
    assert set(calls.loc[MODELS[0], "cost_basis"]) == {"batch_discount"}
    assert calls.loc[MODELS[1], "cost_basis"].isna().all() and (calls.loc[MODELS[1], "latency_s"] > 0).all()


async def test_budget_is_checked_on_the_estimate_at_submission(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 10)
    # one request's estimate: (4 prompt tokens x $1000 + 64 x $2000) / 1e6 / 2 = $0.066; room for about seven
    cfg = config(ds, max_cost=0.5, models=MODELS[:1])
    with FakeOpenAIServer(latency_s=0.0) as server, Store.open(tmp_path / "r.duckdb") as store:
        report = await run(cfg, store, server.url)
        est = BatchLog(store).frame("b")["est_cost_usd"].sum()
    assert report.stopped_by_budget and 0 < report.submitted < 10
    assert est <= 0.5 and report.pending == report.submitted


async def test_chunks_within_the_request_limit(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 7)
    with FakeOpenAIServer(latency_s=0.0, batch_polls=0) as server, Store.open(tmp_path / "r.duckdb") as store:
        report = await run(config(ds), store, server.url, wait=True, max_requests=3)
        sizes = BatchLog(store).frame("b").groupby("model_id")["requests"].apply(sorted).tolist()
    assert report.complete and sizes == [[1, 3, 3], [1, 3, 3]]


def _losing(path_suffix: str, *, before: bool) -> Callable[[], httpx2.AsyncClient]:
    """An HTTP client whose batch-create request fails: before it is sent (never created) or after the server
    answered (created, but the answer is lost, as when the client dies at that moment)."""

    class Losing(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            creating = request.method == "POST" and request.url.path.endswith(path_suffix)
            if creating and before:
                raise httpx2.ConnectError("connection refused", request=request)
            response = await super().handle_async_request(request)
            if creating:
                await response.aclose()
                raise httpx2.ReadTimeout("the answer was lost", request=request)
            return response

    return lambda: httpx2.AsyncClient(transport=Losing())


def _refusing() -> httpx2.AsyncClient:
    """An HTTP client to which the provider refuses every batch creation (400), as for a quota or a bad input."""

    class Refusing(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.method == "POST" and request.url.path.endswith("batches"):
                body = {"error": {"message": "Enqueued token limit reached", "type": "invalid_request_error"},
                        "type": "error"}  # fmt: skip
                return httpx2.Response(400, json=body, request=request)
            return await super().handle_async_request(request)

    return httpx2.AsyncClient(transport=Refusing())


async def test_a_refused_batch_stops_the_run_and_says_why(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 3)
    with FakeOpenAIServer(latency_s=0.0) as server, Store.open(tmp_path / "r.duckdb") as store:
        report = await run(config(ds, models=MODELS[:1]), store, server.url, http_client=_refusing)
        batches = BatchLog(store).frame("b")
    assert report.submitted == 0 and report.pending == 0 and report.spent_usd == pytest.approx(0.0)
    assert report.stopped_by is not None and "Enqueued token limit" in report.stopped_by
    assert list(batches["state"]) == ["abandoned"] and batches["detail"].str.startswith("refused").all()
    assert not server.batches.created


@pytest.mark.parametrize("before", [False, True], ids=["answer-lost", "never-sent"])
async def test_a_lost_submission_is_found_or_abandoned_never_sent_twice(tmp_path: Path, before: bool) -> None:
    from llmbench.cli import run as cli

    ds = dataset(tmp_path / "ds.jsonl", 5)
    cfg = config(ds)
    db = tmp_path / "r.duckdb"
    with FakeOpenAIServer(latency_s=0.0, batch_polls=0) as server:
        with Store.open(db) as store:
            first = await run(cfg, store, server.url, http_client=_losing("batches", before=before))
            states = sorted(BatchLog(store).frame("b")["state"])
            second = await run(cfg, store, server.url, wait=True)
            final = BatchLog(store).frame("b")
            finished = store.finished_keys("b")
        assert first.submitted == 0 and states == [
            "submitting",
            "submitting",
        ]  # outcome unknown: kept, not resent
        # Each model's requests reached the fake exactly once: found again by token, or resent once when the
        # first attempt never left.
        assert len(server.batches.created) == 2
        if before:
            assert (
                second.complete and len(finished) == 10 and set(final["state"]) == {"abandoned", "collected"}
            )
            return
        # Anthropic batches carry no metadata: one found by size and time is not adopted by guess; its requests
        # are held (not resent) and the user is told how to decide.
        assert not second.complete and len(finished) == 5
        held = final[final["state"] == "submitting"]
        assert list(held["model_id"]) == [MODELS[1]] and held["detail"].str.contains("--adopt").all()
        key, batch_id = str(held["batch_key"].iloc[0]), server.batches.created[-1]
        assert cli(["batches", "--store", str(db), "--adopt", f"{key}={batch_id}"]) == 0
        with Store.open(db) as store:
            third = await run(cfg, store, server.url, wait=True)
            assert third.complete and len(store.finished_keys("b")) == 10
        assert len(server.batches.created) == 2


async def test_cancelled_batch_is_collected_and_not_resubmitted(tmp_path: Path) -> None:
    ds = dataset(tmp_path / "ds.jsonl", 3)
    cfg = config(ds, models=MODELS[1:])
    with FakeOpenAIServer(latency_s=0.0, batch_polls=5) as server, Store.open(tmp_path / "r.duckdb") as store:
        runner = BatchRunner(cfg, store, providers=providers(server.url), poll_interval=0.0)
        await runner.run()
        runner = BatchRunner(cfg, store, providers=providers(server.url), poll_interval=0.0)
        assert await runner.cancel_open("test") == 1
        await runner.close()
        report = await run(cfg, store, server.url, wait=True)
        batches = BatchLog(store).frame("b")
        calls = store.calls_frame("b")
    assert list(batches["state"]) == ["cancelled"] and len(server.batches.created) == 1
    assert set(calls["error_class"]) == {"BatchCancelled"} and report.gave_up == 3


@pytest.mark.slow
def test_kill_9_between_submission_and_collection_then_resume(tmp_path: Path) -> None:
    """The CLI in a child process submits both models' batches and is killed while they are in progress; the
    same command run again collects them: no batch created twice, one final answer per request."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from llmbench.testing.fake_process import FakeServerProcess

    n = 20
    dataset(tmp_path / "ds.jsonl", n)
    exp = {"name": "b", "datasets": ["ds.jsonl"], "models": MODELS, "scorer": "exact_match",
           "params": {"max_tokens": 64}}  # fmt: skip
    (tmp_path / "exp.yaml").write_text(json.dumps(exp))
    cmd = [sys.executable, "-c", "from llmbench.cli import main; main()", "eval", "exp.yaml", "--batch", "--wait",
           "--store", "runs.duckdb", "--no-track", "--no-progress", "--poll-interval"]  # fmt: skip
    with FakeServerProcess(latency_s=0.0, batch_polls=25) as server:
        env = {**os.environ, "NO_COLOR": "1", "OPENAI_API_KEY": FAKE_KEY, "ANTHROPIC_API_KEY": FAKE_KEY,
               "OPENAI_BASE_URL": server.url + "/v1", "ANTHROPIC_BASE_URL": server.url}  # fmt: skip
        oa = openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY)
        an = anthropic.Anthropic(base_url=server.url, api_key=FAKE_KEY)

        def created() -> list[str]:
            return [b.id for b in oa.batches.list()] + [b.id for b in an.messages.batches.list()]

        proc = subprocess.Popen([*cmd, "0.2"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while len(created()) < 2:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the batches were never submitted"
            time.sleep(0.05)
        time.sleep(0.5)  # a few polls: the batches are in progress, nothing collected
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        before = created()
        with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
            assert len(st.finished_keys("b")) == 0

        done = subprocess.run(
            [*cmd, "0.05"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        after = created()
    assert proc.returncode == -signal.SIGKILL
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(after) == sorted(before) and len(after) == 2  # resumed by polling, never resubmitted
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        calls, finished = st.calls_frame("b"), st.finished_keys("b")
        batches = BatchLog(st).frame("b")
    ok = calls[calls["error_class"].isna()]
    assert len(finished) == 2 * n and len(calls) == len(ok) == 2 * n
    assert ok["run_key"].is_unique and ok["final"].all() and set(batches["state"]) == {"collected"}


async def test_a_batch_the_provider_does_not_know_is_abandoned_and_sent_anew(tmp_path: Path) -> None:
    """Submitted to one endpoint, polled at another (a changed key or base URL): 404, never an endless wait."""
    ds = dataset(tmp_path / "ds.jsonl", 3)
    cfg = config(ds, models=MODELS[:1])
    with Store.open(tmp_path / "r.duckdb") as store:
        with FakeOpenAIServer(latency_s=0.0, batch_polls=5) as first:
            await run(cfg, store, first.url)
        with FakeOpenAIServer(latency_s=0.0, batch_polls=0) as second:
            report = await run(cfg, store, second.url, wait=True)
        batches = BatchLog(store).frame("b").sort_values("round")
    assert report.complete and report.finished == 3 and len(second.batches.created) == 1
    assert sorted(batches["state"]) == ["abandoned", "collected"]
    assert batches.loc[batches["state"] == "abandoned", "detail"].str.contains("404").all()
