"""The eval runner in-process against real loopback servers: faults, billing, resume, concurrency, rate limits.

Every call goes through the official SDKs to a FakeOpenAIServer on 127.0.0.1 and is logged to a real DuckDB
file. The fake's documented rules give the expected figures independently of llmbench: usage counts whitespace
words (prompt = words of all messages, completion = "Echo:" + the last user message's words), and the test's
own price table says what a token costs.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic  # noqa: F401  (imported up front: a cold SDK import inside the first call's timeout is slow)
import openai  # noqa: F401
import pandas as pd
import pytest

from llmbench.evaluation import ExperimentConfig, Runner, load_experiment, validate_config
from llmbench.providers import ModelPrice, PriceTable, RetryPolicy, get_provider
from llmbench.providers.base import Provider
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
FAKE_KEY = "sk-test-FAKEKEY-eval-000000000000"
# Prices chosen for the test (USD per million tokens): big round numbers make the expected cost easy to derive.
PRICE_IN, PRICE_OUT = 1000.0, 2000.0
MODELS = ("openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest")


def write_dataset(path: Path, n: int, words: int = 6) -> Path:
    """n items whose prompts all have `words` words (so every call's usage and cost are the same)."""
    with path.open("w") as f:
        for i in range(n):
            prompt = " ".join([f"q{i}"] + ["word"] * (words - 1))
            f.write(json.dumps({"id": f"it-{i:03d}", "input": prompt, "reference": "x", "task": "t"}) + "\n")
    return path


def expected_cost(input_tokens: float, output_tokens: float) -> float:
    """Cost at the test's own prices."""
    return (input_tokens * PRICE_IN + output_tokens * PRICE_OUT) / 1e6


def make_providers(
    url: str, models: tuple[str, ...] = MODELS, *, timeout: float = 5.0, attempts: int = 3, **options: Any
) -> dict[str, Provider]:
    """Real openai/anthropic providers pointed at the loopback server, with fast retries and test prices."""
    prices = PriceTable({m: ModelPrice(input=PRICE_IN, output=PRICE_OUT) for m in models})
    retry = RetryPolicy(max_attempts=attempts, initial_delay=0.01, max_delay=0.05)
    out = {}
    for m in models:
        base = url + "/v1" if m.startswith("openai:") else url
        out[m] = get_provider(
            m, base_url=base, api_key=FAKE_KEY, timeout=timeout, retry=retry, price_table=prices, **options
        )
    return out


def config(dataset: Path, name: str = "fake-eval", **extra: Any) -> ExperimentConfig:
    """An experiment over the dataset with both real-SDK models; the scorer is exact match."""
    raw = {"name": name, "datasets": [str(dataset)], "models": list(MODELS), "scorer": "exact_match",
           "params": {"max_tokens": 256}, "concurrency": 8, **extra}  # fmt: skip
    return validate_config(raw)


class TrackingServer(FakeOpenAIServer):
    """A FakeOpenAIServer that holds each request `hold_s` and records arrival times and peak concurrency
    (per API flavour and "all")."""

    def __init__(self, hold_s: float, **kw: Any) -> None:
        super().__init__(latency_s=0.0, **kw)
        self.hold_s = hold_s
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.arrivals: list[float] = []
        self._track_lock = threading.Lock()

    def respond(self, request: Any) -> Any:
        flavour = "anthropic" if request.path.endswith("/messages") else "openai"
        with self._track_lock:
            self.arrivals.append(time.monotonic())
            for key in (flavour, "all"):
                self.in_flight[key] += 1
                self.peak[key] = max(self.peak[key], self.in_flight[key])
        try:
            time.sleep(self.hold_s)
            return super().respond(request)
        finally:
            with self._track_lock:
                self.in_flight[flavour] -= 1
                self.in_flight["all"] -= 1


# -- faults: every item ends, every attempt is logged and billed ------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.slow
async def test_faults_every_attempt_logged_and_billed(tmp_path: Path, stream: bool) -> None:
    faults = {"429": 0.1, "500": 0.05, "timeout": 0.02, "cut": 0.02}
    ds = write_dataset(tmp_path / "ds.jsonl", 60)
    cfg = config(ds, stream=stream)
    with (
        FakeOpenAIServer(latency_s=0.0, faults=faults, seed=3, retry_after_s=0.01, hang_s=4.0) as server,
        Store.open(tmp_path / "runs.duckdb") as store,
    ):
        report = await Runner(cfg, store, providers=make_providers(server.url, timeout=1.5)).run()
        stats = server.stats()
        calls = store.calls_frame(cfg.name)
        runs = store.runs_frame(cfg.name)
        finished = store.finished_keys(cfg.name)

    # The plan ran through: 60 items x 2 models, each finished or recorded as failed, none twice.
    planned = 60 * len(MODELS)
    assert report.planned == planned and report.finished + report.failed == planned
    assert len(runs) == planned
    assert not runs.duplicated(["item_id", "model", "epoch"]).any()
    finals = calls[calls["final"]]
    assert finals["run_key"].is_unique and len(finals) == planned
    assert len(finished) == report.finished == int(finals["error_class"].isna().sum())
    assert runs["error"].notna().sum() == report.failed

    # Each fault kind happened, and the calls table has one row per request the server saw, outcome by outcome.
    assert all(stats.get(k, 0) > 0 for k in faults), stats
    assert len(calls) == stats["requests"]
    assert int(calls["error_class"].isna().sum()) == stats["ok"]
    assert int((calls["status_code"] == 429).sum()) == stats["429"]
    assert int((calls["status_code"] == 500).sum()) == stats["500"]
    assert int((calls["error_class"] == "ProviderTimeout").sum()) == stats["timeout"]
    others = calls[calls["error_class"].notna() & calls["status_code"].isna()]
    assert len(others) == stats["timeout"] + stats["cut"]
    # Retries happened (a 429 with Retry-After then success) and a stream cut mid-answer is not retried.
    assert (calls["attempt"] > 1).any()
    if stream:
        cut_finals = finals[finals["error_class"].notna() & finals["status_code"].isna()]
        assert (cut_finals["error_class"] != "ProviderTimeout").any()

    # Billing: every attempt that reported usage has a cost, and the cost follows the fake's word counts.
    with_usage = calls[calls["input_tokens"].notna()]
    assert with_usage["cost_usd"].notna().all()
    ok = calls[calls["error_class"].isna()]
    assert (ok["input_tokens"] == 6).all() and (ok["output_tokens"] == 7).all()  # "Echo:" + 6 words
    for row in with_usage.itertuples():
        assert row.cost_usd == pytest.approx(expected_cost(row.input_tokens, row.output_tokens))
    assert report.spent_usd == pytest.approx(float(calls["cost_usd"].sum()))
    assert (ok["response"].str.startswith("Echo: q")).all()


# -- resume -------------------------------------------------------------------------------------------------


def _table_counts(store: Store) -> dict[str, int]:
    return {
        t: int(store.sql(f"SELECT count(*) AS n FROM {t}")["n"].iloc[0]) for t in ("items", "calls", "scores")
    }


@pytest.mark.slow
async def test_resume_default_experiment_makes_no_new_calls(tmp_path: Path) -> None:
    cfg = load_experiment(ROOT / "experiments" / "default.yaml", limit=1)
    attempts: list[Any] = []

    def sim_providers(c: ExperimentConfig) -> dict[str, Provider]:
        return {
            m: get_provider(m, retry=c.max_attempts, seed=c.seed, on_attempt=attempts.append)
            for m in c.models
        }

    planned = len(cfg.datasets) * 1 * len(cfg.models) * cfg.epochs
    with Store.open(tmp_path / "runs.duckdb") as store:
        first = await Runner(cfg, store, providers=sim_providers(cfg)).run()
        assert first.planned == planned and first.finished + first.failed == planned
        assert len(attempts) >= planned
        counts = _table_counts(store)
        keys = set(store.calls_frame(cfg.name)["run_key"])

        attempts.clear()
        again = await Runner(cfg, store, providers=sim_providers(cfg)).run()
        assert attempts == [] and again.finished == 0 and again.skipped == first.finished
        assert _table_counts(store) == counts

        # Different parameters change what is sent, so the run keys change and every item runs anew.
        hot = cfg.model_copy(update={"params": {**cfg.params, "temperature": 0.7}})
        third = await Runner(hot, store, providers=sim_providers(hot)).run()
        assert third.skipped == 0 and third.finished + third.failed == planned
        assert len(attempts) >= planned
        new_keys = set(store.calls_frame(cfg.name)["run_key"]) - keys
        assert len(new_keys) == planned


@pytest.mark.slow
async def test_failed_items_are_retried_on_resume_finished_ones_are_not(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds.jsonl", 20)
    cfg = config(ds)
    with Store.open(tmp_path / "runs.duckdb") as store:
        # First run: every request fails with a non-retryable 400-class answer for half the items.
        with FakeOpenAIServer(latency_s=0.0, faults={"500": 0.5}, seed=1) as server:
            first = await Runner(cfg, store, providers=make_providers(server.url, attempts=1)).run()
        assert first.failed > 0 and first.finished > 0
        with FakeOpenAIServer(latency_s=0.0) as server:
            second = await Runner(cfg, store, providers=make_providers(server.url)).run()
            assert server.stats()["requests"] == first.failed
        assert second.skipped == first.finished and second.finished == first.failed
        # per model (the progress bar's rows): what was left of it, and how each ended, adding up to the run's
        for model in MODELS:
            before, after = first.models[model], second.models[model]
            assert before.total == 20 and before.finished + before.failed == 20
            assert after.total == after.finished == before.failed and after.failed == 0
        assert sum(m.failed for m in first.models.values()) == first.failed
        assert sum(m.spent_usd for m in second.models.values()) == pytest.approx(second.spent_usd - second.spent_before_usd)
        finals = store.calls_frame(cfg.name).query("final and error_class.isna()")
        assert finals["run_key"].is_unique and len(finals) == 20 * len(MODELS)


# -- concurrency and rate limits --------------------------------------------------------------------------------


@pytest.mark.slow
async def test_per_provider_concurrency_is_never_exceeded(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds.jsonl", 24)
    cfg = config(
        ds, concurrency=10, providers={"openai": {"concurrency": 3}, "anthropic": {"concurrency": 2}}
    )
    with TrackingServer(hold_s=0.05) as server, Store.open(tmp_path / "runs.duckdb") as store:
        report = await Runner(cfg, store, providers=make_providers(server.url)).run()
    assert report.finished == 48
    # The limits are reached (so the test can see them) and never exceeded.
    assert (server.peak["openai"], server.peak["anthropic"]) == (3, 2)


@pytest.mark.slow
async def test_global_concurrency_bounds_all_providers(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds.jsonl", 24)
    cfg = config(ds, concurrency=4)
    with TrackingServer(hold_s=0.05) as server, Store.open(tmp_path / "runs.duckdb") as store:
        await Runner(cfg, store, providers=make_providers(server.url)).run()
    assert server.peak["all"] == 4  # reached, never exceeded, across both providers


@pytest.mark.slow
async def test_requests_per_minute_spaces_the_calls(tmp_path: Path) -> None:
    rpm, n = 1200, 50  # 20 a second, a burst of at most one second's worth
    ds = write_dataset(tmp_path / "ds.jsonl", n)
    cfg = config(ds, concurrency=16, providers={"openai": {"requests_per_minute": rpm}})
    cfg = cfg.model_copy(update={"models": [MODELS[0]]})
    with TrackingServer(hold_s=0.0) as server, Store.open(tmp_path / "runs.duckdb") as store:
        t0 = time.monotonic()
        report = await Runner(cfg, store, providers=make_providers(server.url, models=MODELS[:1])).run()
        elapsed = time.monotonic() - t0
    assert report.finished == n
    rate = rpm / 60
    # After the first second's burst the rest go out at `rate` a second: (50 - 20) / 20 = 1.5 s at least.
    assert elapsed >= (n - rate) / rate * 0.95
    # No one-second window holds more than the first second's burst plus one second's rate (with a little
    # slack for connection set-up bunching arrivals); without the limit all 50 arrive within a fraction of it.
    times = sorted(server.arrivals)
    busiest = max(sum(1 for t in times[i:] if t - start <= 1.0) for i, start in enumerate(times))
    assert busiest <= 2 * rate + 5, busiest


# -- budget ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_budget_stops_new_calls_even_for_workers_waiting_on_a_provider_slot(tmp_path: Path) -> None:
    # Every call costs the same: 6 prompt words in, "Echo:" + 6 words out.
    per_call = expected_cost(6, 7)
    need = 5  # calls whose cost reaches the budget
    ds = write_dataset(tmp_path / "ds.jsonl", 40)
    cfg = config(
        ds, concurrency=8, providers={"openai": {"concurrency": 2}}, max_cost=per_call * (need - 0.5)
    )
    cfg = cfg.model_copy(update={"models": [MODELS[0]]})
    with TrackingServer(hold_s=0.05) as server, Store.open(tmp_path / "runs.duckdb") as store:
        report = await Runner(cfg, store, providers=make_providers(server.url, models=MODELS[:1])).run()
        calls = store.calls_frame(cfg.name)
        requests = server.stats()["requests"]
        assert report.stopped_by_budget and report.spent_usd >= cfg.max_cost
        # Only calls already in flight when the budget was reached may finish: at most one per other slot.
        assert need <= requests <= need + 2 - 1
        assert len(calls) == requests and calls["error_class"].isna().all()
        assert report.spent_usd == pytest.approx(requests * per_call)

        # A higher budget finishes the rest, without repeating any finished item.
        more = cfg.model_copy(update={"max_cost": 1.0})
        rest = await Runner(more, store, providers=make_providers(server.url, models=MODELS[:1])).run()
        assert not rest.stopped_by_budget and rest.skipped == requests and rest.finished == 40 - requests
        assert server.stats()["requests"] == 40
        finals = store.calls_frame(cfg.name).query("final")
        assert len(finals) == 40 and finals["run_key"].is_unique


# -- a scorer that reaches no verdict ---------------------------------------------------------------------------


async def test_a_scorer_without_a_verdict_is_asked_again_then_leaves_the_answer_unscored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbench.errors import ScorerError
    from llmbench.evaluation import runner as runner_module
    from llmbench.scorers.base import SCORERS, Score, Scorer

    monkeypatch.setattr(runner_module, "SCORER_BACKOFF_S", 0.0)
    tries: Counter[str] = Counter()

    class Overloaded(Scorer):  # no verdict twice for every answer, then for "it-000" never
        name = "overloaded_machine"

        async def agrade(self, answer: Any, item: Any) -> Score:
            tries[item.id] += 1
            if tries[item.id] <= 2 or item.id == "it-000":
                raise ScorerError("no verdict: the machine is overloaded")
            return Score(1.0, "checked")

    SCORERS.register(Overloaded)
    try:
        ds = write_dataset(tmp_path / "ds.jsonl", 3)
        cfg = config(ds, scorer="overloaded_machine", models=[MODELS[0]])
        with FakeOpenAIServer(latency_s=0.0) as server, Store.open(tmp_path / "runs.duckdb") as store:
            await Runner(cfg, store, providers=make_providers(server.url, models=(MODELS[0],))).run()
            runs = store.runs_frame(cfg.name).set_index("item_id")
    finally:
        SCORERS.unregister("overloaded_machine")
    assert tries == {"it-000": 3, "it-001": 3, "it-002": 3}
    assert runs.loc["it-001", "score"] == 1.0 and runs.loc["it-002", "score"] == 1.0
    assert pd.isna(runs.loc["it-000", "score"])  # unscored, never a 0 averaged in
