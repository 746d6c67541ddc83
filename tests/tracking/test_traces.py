"""Traces from the run store: one trace per call, one span per attempt, at the calls' real times, linked to the run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llmbench.store import CallRecord, ScoreRecord, Store
from llmbench.tracking.mlflow_log import log_eval_run
from llmbench.tracking.mlflow_runs import client_for


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store.open(tmp_path / "runs.duckdb")
    st.create_experiment("traced", config={"models": ["p:a", "p:b"]})
    st.add_items("traced", [{"id": f"i{n}", "input": f"question {n}", "reference": "x"} for n in range(3)])
    t0 = time.time() - 60
    calls, scores = [], []
    for n in range(3):
        for model in ("p:a", "p:b"):
            key = f"{model}-{n}"
            if model == "p:a" and n == 0:  # a rate-limited first attempt, then the answer
                calls.append(CallRecord(key, f"i{n}", model, attempt=1, started_at=t0, latency_s=0.2,
                                        error_class="RateLimitError", error_message="slow down", status_code=429))  # fmt: skip
            calls.append(CallRecord(key, f"i{n}", model, attempt=2 if model == "p:a" and n == 0 else 1,
                                    started_at=t0 + 1 + n, latency_s=0.5, input_tokens=10, output_tokens=4,
                                    cost_usd=0.001, response=f"answer {n}", final=True))  # fmt: skip
            scores.append(ScoreRecord(key, f"i{n}", model, 0, "exact", float(n % 2)))
    st.write_results("traced", calls, scores)
    yield st
    st.close()


def traces_of(client, run_id: str) -> list:
    return list(client.search_traces(experiment_ids=[client.get_run(run_id).info.experiment_id], run_id=run_id,
                                     max_results=50))  # fmt: skip


@pytest.mark.slow  # seconds: a real server, MLflow or a whole CLI pipeline
def test_every_call_is_a_trace_with_a_span_per_attempt(store: Store, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_eval_run("1", "traced", {"models": ["p:a", "p:b"]}, None, store.runs_frame("traced"),
                          calls=store.calls_frame("traced"), uri=uri, n_bootstrap=0)  # fmt: skip
    client = client_for(uri)
    traces = traces_of(client, run_id)
    assert len(traces) == 6  # three items x two models
    by_key = {t.info.tags["llmbench.run_key"]: t for t in traces}
    retried = by_key["p:a-0"]
    spans = {s.name: s for s in retried.data.spans}
    assert {"p:a", "attempt 1", "attempt 2"} == set(spans)
    assert (
        spans["attempt 1"].status.status_code == "ERROR"
        and spans["attempt 1"].attributes["status_code"] == 429
    )
    assert (
        spans["attempt 2"].attributes["output_tokens"] == 4
        and spans["attempt 2"].attributes["cost_usd"] == 0.001
    )
    # where MLflow's trace views read them: tokens and cost of each attempt
    usage = spans["attempt 2"].attributes["mlflow.chat.tokenUsage"]
    assert usage == {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}
    assert spans["attempt 2"].attributes["mlflow.llm.cost"] == {"total_cost": 0.001}
    assert spans["p:a"].inputs == {"prompt": "question 0"} and spans["p:a"].outputs == {
        "response": "answer 0"
    }
    assert (spans["attempt 2"].end_time_ns - spans["attempt 2"].start_time_ns) == pytest.approx(
        0.5e9, rel=1e-6
    )
    # a second logging with nothing new adds no trace; a trace limit samples
    log_eval_run("1", "traced", {"models": ["p:a", "p:b"]}, None, store.runs_frame("traced"),
                 calls=store.calls_frame("traced"), uri=uri, n_bootstrap=0)  # fmt: skip
    assert len(traces_of(client, run_id)) == 6
    other = log_eval_run("2", "traced-sample", {"models": ["p:a", "p:b"]}, None, store.runs_frame("traced"),
                         calls=store.calls_frame("traced"), uri=uri, n_bootstrap=0, trace_limit=2)  # fmt: skip
    sampled = traces_of(client, other)
    assert len(sampled) == 2 and "p:a-0" in {
        t.info.tags["llmbench.run_key"] for t in sampled
    }  # the retried call first
