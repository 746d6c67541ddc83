"""The DuckDB run store: real files, real second processes, a real SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from llmbench.errors import DataError, ProviderTimeout, RateLimitError, StoreError
from llmbench.imports import import_frame
from llmbench.providers.types import Attempt, Completion, TextBlock, Usage
from llmbench.store import (
    LATEST_VERSION,
    MIGRATIONS,
    RUNS_COLUMNS,
    CallRecord,
    IntentRecord,
    ScoreRecord,
    Store,
    call_records,
    default_store_path,
    run_key,
)
from llmbench.store.migrations import _CALLS_V1, SCHEMA_VERSION_DDL
from llmbench.store.rows import TABLES
from llmbench.store.writer import StoreWriter

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter of this venv (a real second process)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


OPEN_AND_REPORT = """
import sys
from llmbench.errors import StoreError
from llmbench.store import Store
try:
    Store.open(sys.argv[1], read_only=sys.argv[2] == "ro").close()
    print("OPENED")
except StoreError as exc:
    print("STOREERROR:", exc)
"""


def finish(store: Store, exp: str, item: str, model: str = "m", epoch: int = 0, value: float = 1.0, **call):
    """Write one finished run (one final successful call and a score); returns its key."""
    key = run_key(exp, item, model, epoch, "p", "q")
    fields = {"latency_s": 0.5, "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01, "response": "ok"}
    fields.update(call)
    c = CallRecord(key, item, model, epoch, attempt=1, started_at=time.time(), final=True, **fields)
    store.write_results(exp, [c], [ScoreRecord(key, item, model, epoch, "exact_match", value, "why")])
    return key


# -- schema and opening ------------------------------------------------------------------------------------


def test_migrations_are_recorded_once_and_reopening_is_idempotent(tmp_path):
    path = tmp_path / "runs.duckdb"
    with Store.open(path) as store:
        assert store.schema_version == LATEST_VERSION == MIGRATIONS[-1].version
        store.create_experiment("e1", git_commit_sha=None)
    for _ in range(2):
        with Store.open(path) as store:
            versions = store.sql("SELECT version FROM schema_version ORDER BY version")["version"].tolist()
            assert versions == [m.version for m in MIGRATIONS]
            assert store.experiments_frame()["name"].tolist() == ["e1"]
    con = duckdb.connect(str(path), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert {"schema_version", "experiments", "items", "calls", "scores"} <= tables


def test_an_old_migration_does_not_change_when_a_row_type_grows():
    from dataclasses import field, make_dataclass

    from llmbench.store.rows import CallRecord, Table, col

    grown = make_dataclass("Grown", [("new_column", "str | None", field(default=None, metadata=col("VARCHAR").metadata))],
                           bases=(CallRecord,))  # fmt: skip
    before, after = TABLES["calls"], Table("calls", grown)
    first = MIGRATIONS[0].statements[3]
    assert first == before.create(_CALLS_V1) == after.create(_CALLS_V1) and "new_column" not in first


def test_a_version_2_store_gains_the_one_hour_cache_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_VERSION_DDL)
    for migration in MIGRATIONS[:2]:
        for statement in migration.statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, 'old', now())", [migration.version])
    con.execute("INSERT INTO experiments (name, created_at, source) VALUES ('old', now(), 'native')")
    con.execute(
        "INSERT INTO calls (experiment_id, run_key, item_id, model_id, cache_write_tokens) VALUES (1, 'k', 'i', 'm', 7)"
    )
    con.close()
    with Store.open(path) as store:
        assert store.schema_version == LATEST_VERSION
        old = store.calls_frame("old")
        assert old["cache_write_tokens"].tolist() == [7] and old["cache_write_1h_tokens"].isna().all()
        assert old["cost_basis"].isna().all()  # migration 4 adds it, empty for old rows
        store.create_experiment("new", git_commit_sha=None)
        finish(store, "new", "i", cache_write_tokens=9, cache_write_1h_tokens=4)
        assert store.calls_frame("new")["cache_write_1h_tokens"].tolist() == [4]


def test_store_newer_than_the_code_is_refused(tmp_path):
    path = tmp_path / "runs.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (999, 'from the future', now())")
    con.close()
    with pytest.raises(StoreError, match="upgrade llmbench"):
        Store.open(path)


def test_read_only_open_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(StoreError, match="no run store"):
        Store.open(tmp_path / "absent.duckdb", read_only=True)
    assert not (tmp_path / "absent.duckdb").exists()


def test_a_foreign_duckdb_file_is_not_taken_for_a_store(tmp_path):
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE sales (region VARCHAR, amount DOUBLE)")
    with pytest.raises(StoreError, match="not an llmbench run store"):
        Store.open(path, read_only=True)


def test_default_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBENCH_STORE", str(tmp_path / "env.duckdb"))
    assert default_store_path() == tmp_path / "env.duckdb"
    with Store.open() as store:
        assert store.path == (tmp_path / "env.duckdb").resolve()
    monkeypatch.delenv("LLMBENCH_STORE")
    assert default_store_path() == Path("llmbench.duckdb")


@pytest.mark.slow
def test_second_writer_process_gets_an_error_naming_our_pid(tmp_path):
    path = tmp_path / "runs.duckdb"
    with Store.open(path):
        done = run_python(OPEN_AND_REPORT, str(path), "rw")
        assert "STOREERROR" in done.stdout, done.stdout + done.stderr
        assert f"PID {os.getpid()}" in done.stdout
        assert "being written" in done.stdout and "runs.duckdb" in done.stdout
        # A reader opens it: the writing Store hands it a snapshot of what it has committed (llmbench.store.live)
        assert "OPENED" in run_python(OPEN_AND_REPORT, str(path), "ro").stdout
    # A writer that cannot answer (plain DuckDB here; another user's, or an older llmbench): the reader is told why
    # and what to do.
    con = duckdb.connect(str(path))
    try:
        done = run_python(OPEN_AND_REPORT, str(path), "ro")
        assert "STOREERROR" in done.stdout and f"PID {os.getpid()}" in done.stdout
        assert "wait for that run to finish" in done.stdout
    finally:
        con.close()
    # Once the writer is gone, the other process can write.
    assert "OPENED" in run_python(OPEN_AND_REPORT, str(path), "rw").stdout


@pytest.mark.slow
def test_readers_share_the_file_but_block_a_writer(tmp_path):
    path = tmp_path / "runs.duckdb"
    with Store.open(path) as store:
        finish(store, store.create_experiment("e", git_commit_sha=None).name, "a")
    with Store.open(path, read_only=True) as reader:
        assert len(reader.runs_frame()) == 1
        assert "OPENED" in run_python(OPEN_AND_REPORT, str(path), "ro").stdout
        done = run_python(OPEN_AND_REPORT, str(path), "rw")
        assert "STOREERROR" in done.stdout and f"PID {os.getpid()}" in done.stdout
        assert "read-only" in done.stdout
        with pytest.raises(StoreError, match="read-only"):
            reader.create_experiment("nope")


def test_in_process_reader_sees_the_writers_rows_and_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "runs.duckdb"
    with Store.open(path) as writer:
        writer.create_experiment("e", git_commit_sha=None)
        finish(writer, "e", "a")
        with Store.open(path, read_only=True) as view:
            assert view.runs_frame()["item_id"].tolist() == ["a"]
            finish(writer, "e", "b")
            assert view.runs_frame()["item_id"].tolist() == ["a", "b"]
        with pytest.raises(StoreError, match="already open for writing in this process"):
            Store.open(path)
        assert len(writer.runs_frame()) == 2  # closing the view left the writer usable


# -- writing, resume and durability -------------------------------------------------------------------------


def test_failed_then_successful_attempts_and_finished_keys(tmp_path):
    with Store.open(tmp_path / "r.duckdb") as store:
        store.create_experiment("e", git_commit_sha=None)
        key = run_key("e", "q1", "m", 0, "p", "q")
        failed = CallRecord(key, "q1", "m", 0, 1, time.time(), 1.0, error_class="RateLimitError",
                            error_message="429", status_code=429, final=False)  # fmt: skip
        final_error = CallRecord(key, "q1", "m", 0, 2, time.time(), 2.0, error_class="ServerError",
                                 cost_usd=None, final=True)  # fmt: skip
        assert store.write_results("e", [failed, final_error]) == 0
        assert store.finished_keys("e") == set()
        runs = store.runs_frame("e")
        assert runs["error"].tolist() == ["ServerError"] and np.isnan(runs["score"].iloc[0])
        # A later session retries the key and succeeds: cost counts every billed attempt.
        retry = CallRecord(key, "q1", "m", 0, 1, time.time() + 5, 0.4, input_tokens=7, cache_read_tokens=3,
                           output_tokens=2, cost_usd=0.002, response="42", final=True)  # fmt: skip
        score = ScoreRecord(key, "q1", "m", 0, "numeric", 1.0)
        assert store.write_results("e", [retry], [score]) == 1
        assert store.finished_keys("e") == {key}
        # Writing the same finished key again adds nothing.
        assert store.write_results("e", [retry], [score]) == 0
        assert len(store.calls_frame("e")) == 3 and len(store.scores_frame("e")) == 1
        row = store.runs_frame("e").iloc[0]
        assert (row.score, row.response, row.input_tokens, row.cost_usd) == (1.0, "42", 10, 0.002)
        assert pd.isna(row.error)


def test_runs_frame_picks_a_scorer_and_summary_counts_by_hand(tmp_path):
    with Store.open(tmp_path / "r.duckdb") as store:
        store.create_experiment("e", git_commit_sha=None)
        store.add_items("e", [{"id": f"q{i}", "input": f"question {i}", "task": "t"} for i in range(3)])
        calls, scores = [], []
        for i, (value, cost, lat) in enumerate([(1.0, 0.1, 1.0), (0.0, 0.2, 2.0), (1.0, 0.3, 4.0)]):
            key = run_key("e", f"q{i}", "A", 0, "", "")
            calls.append(CallRecord(key, f"q{i}", "A", 0, 1, time.time(), lat, cost_usd=cost, final=True))
            scores.append(ScoreRecord(key, f"q{i}", "A", 0, "strict", value, is_primary=True))
            scores.append(ScoreRecord(key, f"q{i}", "A", 0, "lenient", 1.0, is_primary=False))
        key = run_key("e", "q0", "B", 0, "", "")
        calls.append(
            CallRecord(key, "q0", "B", 0, 1, time.time(), 9.0, error_class="ProviderTimeout", final=True)
        )
        assert store.write_results("e", calls, scores) == 3
        runs = store.runs_frame("e")
        assert list(runs.columns) == list(RUNS_COLUMNS)
        assert runs.loc[runs.model == "A", "score"].tolist() == [1.0, 0.0, 1.0]
        assert runs["prompt"].tolist()[:3] == ["question 0", "question 0", "question 1"]
        assert (
            store.runs_frame("e", score="lenient").loc[lambda f: f.model == "A", "score"].tolist()
            == [1.0] * 3
        )
        summary = store.summary_frame("e").set_index("model")
        a = summary.loc["A"]
        assert a.runs == 3 and a.score_mean == pytest.approx(2 / 3)
        assert a.cost_usd == pytest.approx(0.6) and a.cost_per_correct == pytest.approx(0.3)
        assert a.latency_p50 == pytest.approx(2.0) and a.latency_p95 == pytest.approx(2.0 + 0.9 * 2.0)
        assert a.errors == 0 and a.attempts == 3
        b = summary.loc["B"]
        assert b.errors == 1 and b.error_rate == 1.0 and np.isnan(b.cost_per_correct)
        assert summary.index.tolist() == ["A", "B"]  # best score first


def test_bad_items_write_nothing(tmp_path):
    with Store.open(tmp_path / "r.duckdb") as store:
        store.create_experiment("e", git_commit_sha=None)
        good = {"id": "a", "input": "hi"}
        with pytest.raises(DataError, match="item #1 has no usable id"):
            store.add_items("e", [good, {"id": "", "input": "x"}, {"id": "c", "input": "y"}])
        with pytest.raises(DataError, match="appears twice"):
            store.add_items("e", [good, good])
        with pytest.raises(DataError, match="not JSON-serialisable"):
            store.add_items("e", [good, {"id": "b", "input": "x", "metadata": {"f": object()}}])
        assert store.items_frame("e").empty
        assert store.add_items("e", [good]) == 1
        assert store.add_items("e", [good, {"id": "b", "input": "x"}]) == 1  # resume: known ids are kept


def test_api_keys_never_reach_the_file(tmp_path):
    key = "sk-FAKEKEY-1234567890abcdefghijkl"
    plain_secret = "hunter2-plain-secret-value"
    path = tmp_path / "r.duckdb"
    with Store.open(path) as store:
        exp = store.create_experiment(
            "e",
            config={
                "models": ["openai:gpt-4o-mini"],
                "max_tokens": 256,
                "api_key": key,
                "provider": {"secret": plain_secret, "headers": {"Authorization": f"Bearer {key}"}},
                "note": f"key was {key}",
                "canary": "visible-canary-string-0042",
            },
            git_commit_sha=None,
        )
        assert exp.config["max_tokens"] == 256 and exp.config["api_key"] == "[REDACTED]"
        k = run_key("e", "a", "m", 0, "", "")
        store.write_results(
            "e",
            [CallRecord(k, "a", "m", 0, 1, time.time(), 1.0, error_class="AuthenticationError",
                        error_message=f"401: invalid key {key}", final=True)],
        )  # fmt: skip
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"visible-canary-string-0042" in data  # the file keeps plain strings readable...
    assert key.encode() not in data and b"FAKEKEY" not in data  # ...but not the key
    assert plain_secret.encode() not in data


@pytest.mark.slow
def test_kill_9_leaves_no_duplicates_and_no_lost_finished_rows(tmp_path):
    """A writer killed with SIGKILL mid-run: every key it reported done survives, complete; a resume adds
    exactly the missing keys and no duplicates."""
    path = tmp_path / "r.duckdb"
    writer = """
    import sys, time
    from llmbench.store import CallRecord, ScoreRecord, Store, run_key
    store = Store.open(sys.argv[1])
    store.create_experiment("e", git_commit_sha=None)
    done = store.finished_keys("e")
    for i in range(int(sys.argv[2])):
        key = run_key("e", f"item-{i}", "m", 0, "", "")
        if key in done:
            continue
        calls = [CallRecord(key, f"item-{i}", "m", 0, 1, time.time(), 0.1, error_class="RateLimitError"),
                 CallRecord(key, f"item-{i}", "m", 0, 2, time.time(), 0.2, cost_usd=0.001, response="x" * 200,
                            final=True)]
        store.write_results("e", calls, [ScoreRecord(key, f"item-{i}", "m", 0, "s", 1.0)])
        print(key, flush=True)
    print("END", flush=True)
    """
    total = 400
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(writer), str(path), str(total)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    reported = []
    for line in proc.stdout:
        reported.append(line.strip())
        if len(reported) == 40:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert "END" not in reported

    with Store.open(path, read_only=True) as store:
        finished = store.finished_keys("e")
        calls = store.calls_frame("e")
        scores = store.scores_frame("e")
    assert set(reported) <= finished  # nothing it said was written is lost
    assert len(finished) < total
    per_key = calls.groupby("run_key").size()
    assert (per_key == 2).all()  # each key has both attempts or nothing: no half-written key
    assert set(per_key.index) == finished == set(scores["run_key"])
    assert scores["run_key"].is_unique

    resumed = run_python(writer, str(path), str(total), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    new_keys = [ln for ln in resumed.stdout.split() if ln != "END"]
    assert len(new_keys) == total - len(finished) and not set(new_keys) & finished
    with Store.open(path, read_only=True) as store:
        calls = store.calls_frame("e")
        assert len(store.finished_keys("e")) == total
        assert len(calls) == 2 * total and calls.groupby("run_key").size().eq(2).all()
        assert len(store.scores_frame("e")) == total
        assert len(store.runs_frame("e")) == total


# -- runs frame import ------------------------------------------------------------------------------------


def _sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment": ["ignored"] * 5,
            "item_id": ["p1", "p1", "p2", "p2", "p3"],
            "prompt": ["What is 2+2?", "What is 2+2?", "Name a colour.", "Name a colour.", "Say hi"],
            "task": ["math", "math", "open", "open", "chat"],
            "model": [
                "gpt-4-1106-preview",
                "mixtral-8x7b",
                "gpt-4-1106-preview",
                "mixtral-8x7b",
                "mixtral-8x7b",
            ],
            "epoch": [0, 0, 0, 0, 1],
            "score": [1.0, 0.0, 0.75, np.nan, np.nan],
            "cost_usd": [0.0031, 0.0002, np.nan, 0.0001, 0.0004],
            "input_tokens": pd.array([12, 12, 9, None, 4], dtype="Int64"),
            "output_tokens": pd.array([3, 40, 2, None, 6], dtype="Int64"),
            "latency_s": [1.5, 0.4, np.nan, 0.3, 0.2],
            "response": ["4", "five", "blue", None, "hi!"],
            "error": [None, None, None, "ServerError", None],
        }
    )


def test_import_frame_round_trip(tmp_path):
    frame = _sample_frame()
    with Store.open(tmp_path / "r.duckdb") as store:
        assert import_frame(store, frame, "routerbench-sample", "imported") == 5
        back = store.runs_frame("routerbench-sample")
        exp = store.get_experiment("routerbench-sample")
    assert exp is not None and exp.source == "imported"
    expected = frame.assign(experiment="routerbench-sample").sort_values(["item_id", "model", "epoch"])
    got = back.sort_values(["item_id", "model", "epoch"])
    assert list(back.columns) == list(RUNS_COLUMNS)
    # a cost from the frame is kept as logged; a missing one is priced (or left unknown), and says so
    assert (got["cost_basis"][expected["cost_usd"].notna().to_numpy()] == "logged").all()
    for col in (c for c in RUNS_COLUMNS if c in frame.columns and c != "cost_basis"):
        a, b = got[col].tolist(), expected[col].tolist()
        assert [None if pd.isna(x) else x for x in a] == [None if pd.isna(x) else x for x in b], col
    assert back["input_tokens"].dtype == "Int64" and back["epoch"].dtype == "int64"
    assert back["score"].dtype == "float64"


def test_import_frame_rejects_bad_frames_and_writes_nothing(tmp_path):
    with Store.open(tmp_path / "r.duckdb") as store:
        with pytest.raises(DataError, match="lacks column"):
            import_frame(store, pd.DataFrame({"item_id": ["a"]}), "x")
        with pytest.raises(DataError, match=r"outside \[0, 1\]"):
            import_frame(store, pd.DataFrame({"item_id": ["a"], "model": ["m"], "score": [3.0]}), "x")
        with pytest.raises(DataError, match="repeat the same"):
            import_frame(store, pd.DataFrame({"item_id": ["a", "a"], "model": ["m", "m"]}), "x")
        assert store.experiments_frame().empty and store.calls_frame().empty
        import_frame(store, _sample_frame(), "x", "simulated")
        with pytest.raises(StoreError, match="already exists"):
            import_frame(store, _sample_frame(), "x")
        import_frame(store, _sample_frame().head(2), "x", replace=True)
        assert len(store.runs_frame("x")) == 2 and len(store.calls_frame("x")) == 2


# -- calls built from provider results ---------------------------------------------------------------------


def test_call_records_from_a_completion_with_a_retry():
    t0 = 1_700_000_000.0
    completion = Completion(
        model_id="openai:gpt-4o-mini",
        provider="openai",
        model="gpt-4o-mini-2024-07-18",
        content=[TextBlock(text="The answer is 4.")],
        stop_reason="stop",
        usage=Usage(input_tokens=20, cache_read_tokens=5, output_tokens=6),
        cost_usd=0.00002,
        latency_s=1.2,
        request_id="req-2",
        attempts=[
            Attempt(number=1, started_at=t0, latency_s=0.3, ok=False, error_type="RateLimitError",
                    error_message="429 for sk-abcdefghijklmnopqrstuv", status_code=429, request_id="req-1"),
            Attempt(number=2, started_at=t0 + 1, latency_s=0.9, ok=True, usage=Usage(input_tokens=20,
                    cache_read_tokens=5, output_tokens=6), cost_usd=0.00002, request_id="req-2"),
        ],
    )  # fmt: skip
    first, last = call_records(completion, run_key="k", item_id="i", model_id="openai:gpt-4o-mini")
    assert (first.final, first.error_class, first.status_code, first.attempt) == (
        False,
        "RateLimitError",
        429,
        1,
    )
    assert "sk-abcdefghijklmnopqrstuv" not in first.error_message
    assert (last.final, last.ok, last.response, last.answered_model) == (
        True,
        True,
        "The answer is 4.",
        "gpt-4o-mini-2024-07-18",
    )
    assert (last.input_tokens, last.cache_read_tokens, last.output_tokens, last.cost_usd) == (
        20,
        5,
        6,
        0.00002,
    )


def test_call_records_from_an_exception():
    err = ProviderTimeout("timed out after 30s", provider="openai")
    err.attempts = [
        Attempt(number=n, started_at=1.0 + n, latency_s=30.0, ok=False, error_type="ProviderTimeout")
        for n in (1, 2)
    ]
    records = call_records(err, run_key="k", item_id="i", model_id="m", epoch=2)
    assert [r.final for r in records] == [False, True]
    assert records[-1].error_class == "ProviderTimeout" and "timed out" in records[-1].error_message
    bare = call_records(RateLimitError("slow down", status_code=429), run_key="k", item_id="i", model_id="m")
    assert len(bare) == 1 and bare[0].final and bare[0].status_code == 429 and bare[0].epoch == 0


def test_written_call_records_come_back_in_calls_frame(tmp_path):
    completion = Completion(
        model_id="m", provider="sim", model="m (simulated)", content=[TextBlock(text="hi")],
        stop_reason="stop", usage=Usage(input_tokens=3, output_tokens=1), cost_usd=0.5, simulated=True,
    )  # fmt: skip
    with Store.open(tmp_path / "r.duckdb") as store:
        store.create_experiment("e", source="simulated", git_commit_sha=None, config={"seed": 1})
        recs = call_records(completion, run_key="k", item_id="i", model_id="m")
        store.write_results("e", recs, [ScoreRecord("k", "i", "m", 0, "exact_match", 0.0, "no")])
        calls = store.calls_frame("e")
        exps = store.experiments_frame()
    assert len(calls) == 1 and bool(calls.loc[0, "simulated"]) and bool(calls.loc[0, "final"])
    assert calls.loc[0, "response"] == "hi" and calls.loc[0, "cost_usd"] == 0.5
    assert exps.loc[0, "source"] == "simulated" and json.loads(exps.loc[0, "config"]) == {"seed": 1}


@pytest.mark.slow
def test_writer_commits_in_batches_on_a_timer_and_intents_at_once(tmp_path):
    with Store.open(tmp_path / "r.duckdb") as store:
        store.create_experiment("e", git_commit_sha=None)

        def run(i: int) -> tuple[list[CallRecord], list[ScoreRecord]]:
            key = run_key("e", f"i{i}", "m", 0, "", "")
            return [CallRecord(key, f"i{i}", "m", 0, final=True)], [
                ScoreRecord(key, f"i{i}", "m", 0, "s", 1.0)
            ]

        writer = StoreWriter(store, "e", max_keys=2, max_wait_s=3600)
        writer.result(*run(0))
        time.sleep(0.3)
        assert store.finished_keys("e") == set()  # one run waiting: neither full nor due
        writer.result(*run(1))
        deadline = time.monotonic() + 5
        while len(store.finished_keys("e")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(store.finished_keys("e")) == 2
        writer.result(*run(2))
        assert writer.close() == 3 and len(store.finished_keys("e")) == 3
        # a lone result is committed on the timer, with nothing else arriving
        timed = StoreWriter(store, "e", max_keys=100, max_wait_s=0.2)
        timed.result(*run(3))
        time.sleep(1.0)
        assert len(store.finished_keys("e")) == 4
        timed.close()

        async def intent_then_answer() -> tuple[int, int]:
            w = StoreWriter(store, "e", max_keys=100, max_wait_s=3600)
            key = run_key("e", "i9", "m", 0, "", "")
            await w.intent(IntentRecord("intent-1", key, "i9", "m", 0, 1, time.time(), 0.25))
            pending = store.spent("e")[1]  # committed before `intent` returned
            calls, scores = [CallRecord(key, "i9", "m", 0, final=True, cost_usd=0.1)], []
            w.result(calls, scores, resolved=["intent-1"])
            w.close()
            return pending, store.spent("e")[1]

        assert asyncio.run(intent_then_answer()) == (1, 0)  # sent and unknown, then answered


def test_a_file_a_first_run_left_without_tables_says_so_and_a_writer_sets_it_up(tmp_path: Path) -> None:
    import duckdb

    from llmbench.store.store import EmptyStoreError

    duckdb.connect(str(tmp_path / "cut.duckdb")).close()  # a first run killed before its first migration
    with pytest.raises(EmptyStoreError, match="holds no tables yet"):
        Store.open(tmp_path / "cut.duckdb", read_only=True)
    with Store.open(tmp_path / "cut.duckdb") as st:
        assert st.schema_version == LATEST_VERSION
