"""`llmbench eval` killed mid-run (SIGKILL) or interrupted (Ctrl-C), then run again.

A real child process runs the CLI against a FakeServerProcess with latency; the server's request counter is the
independent witness: after the rerun it must have seen exactly one request per item that was not finished before
the stop, and none for the finished ones, and the store must hold one final answer per item.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import interruptible

from llmbench.store import Store
from llmbench.store.store import EmptyStoreError
from llmbench.testing.fake_process import FakeServerProcess

N_ITEMS = 60
NAME = "reliability"


def setup_project(tmp: Path, url: str) -> list[str]:
    """llmbench.toml pointing `fakeoa:` at the server, a dataset and an experiment; returns the eval command."""
    (tmp / "llmbench.toml").write_text(f'[endpoints.fakeoa]\nbase_url = "{url}/v1"\nfree = true\n')
    rows = [
        json.dumps({"id": f"it-{i:03d}", "input": f"question {i} please", "reference": "x"})
        for i in range(N_ITEMS)
    ]
    (tmp / "ds.jsonl").write_text("\n".join(rows) + "\n")
    exp = {"name": NAME, "datasets": ["ds.jsonl"], "models": ["fakeoa:gpt-4o-mini"], "scorer": "exact_match",
           "concurrency": 4, "params": {"max_tokens": 64}}  # fmt: skip
    (tmp / "exp.yaml").write_text(json.dumps(exp))
    code = "from llmbench.cli import main; main()"
    return [
        sys.executable,
        "-c",
        code,
        "eval",
        "exp.yaml",
        "--store",
        "runs.duckdb",
        "--no-track",
        "--no-progress",
    ]


def env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-test-FAKEKEY-reliability-0000", "NO_COLOR": "1"}


def wait_for_requests(
    server: FakeServerProcess, n: int, proc: subprocess.Popen[str], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while server.stats()["requests"] < n:
        assert proc.poll() is None, "the run ended before it could be stopped"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)


def snapshot(path: Path) -> tuple[set[str], pd.DataFrame]:
    """Finished keys and the calls table of the store (read-only)."""
    with Store.open(path, read_only=True) as st:
        return st.finished_keys(NAME), st.calls_frame(NAME)


def check_complete(path: Path, *, interrupted: bool = False) -> pd.DataFrame:
    """Every item has exactly one final successful call and a score; no duplicates anywhere. The only other
    rows allowed are calls a Ctrl-C cut off in flight (recorded as interrupted, never as finished)."""
    finished, calls = snapshot(path)
    assert len(finished) == N_ITEMS
    answered = calls[calls["error_class"].isna()]
    assert len(answered) == N_ITEMS and answered["run_key"].is_unique and answered["final"].all()
    assert set(calls["error_class"].dropna()) <= ({"CancelledError"} if interrupted else set())
    with Store.open(path, read_only=True) as st:
        runs = st.runs_frame(NAME)
    assert len(runs) == N_ITEMS and runs["item_id"].is_unique and runs["score"].notna().all()
    return calls


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    with FakeServerProcess(latency_s=0.2) as server:
        cmd = setup_project(tmp_path, server.url)
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for_requests(server, 24, proc)
        time.sleep(0.8)  # past the runner's 0.5 s flush interval: some batches are committed
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.3)  # requests still in flight at the kill reach the server's counter
        before = server.stats()["requests"]

        finished, calls = snapshot(tmp_path / "runs.duckdb")
        assert 0 < len(finished) < N_ITEMS, "the kill should land mid-run"
        assert set(calls["run_key"]) == finished  # whole results only: no call without its score
        # every request the server saw is in the store: answered, or sent with its outcome unknown (an intent
        # committed before the request left); at most the 4 in flight were recorded but not yet sent
        with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
            _, unknown, unknown_cost = st.spent(NAME)
        assert before <= len(calls) + unknown <= before + 4
        assert unknown > 0 and unknown_cost >= 0

        done = subprocess.run(cmd, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        new_requests = server.stats()["requests"] - before

    # Exactly one request per item unfinished at the kill: none repeated for the finished ones.
    assert new_requests == N_ITEMS - len(finished)
    final = check_complete(tmp_path / "runs.duckdb")
    # The rows written before the kill are unchanged; every row of the rerun answers a request made after it.
    kept = final[final["run_key"].isin(finished)].set_index("run_key")["request_id"].sort_index()
    assert kept.equals(calls.set_index("run_key")["request_id"].sort_index())
    later = final[~final["run_key"].isin(finished)]["request_id"].str.removeprefix("req_fake_").astype(int)
    assert len(later) == new_requests and (later >= before).all()


@pytest.mark.slow
def test_ctrl_c_flushes_buffered_results_and_resume_finishes(tmp_path: Path) -> None:
    with FakeServerProcess(latency_s=0.2) as server:
        cmd = setup_project(tmp_path, server.url)
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=interruptible,
        )  # fmt: skip
        wait_for_requests(server, 24, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        time.sleep(0.3)
        before = server.stats()["requests"]

        # A clean stop: exit code 130, the usual summary, no traceback.
        assert proc.returncode == 130, (out, err)
        assert "Traceback" not in out + err and "Interrupted" in out
        m = re.search(r"(\d+) finished, (\d+) failed", out)
        assert m, out
        reported = int(m.group(1))
        finished, calls = snapshot(tmp_path / "runs.duckdb")
        # Everything the run had finished is in the store, including results still buffered at the signal;
        # calls cut off in flight have a row too (they may be billed), marked as interrupted and not finished.
        assert 0 < reported < N_ITEMS and len(finished) == reported
        answered = calls[calls["error_class"].isna()]
        cut = calls[calls["error_class"].notna()]
        assert len(answered) == reported
        assert set(cut["error_class"]) <= {"CancelledError"}
        assert cut["error_message"].str.contains("interrupted").all()
        assert len(cut) <= before - reported  # one row per request the server saw but the run never finished

        done = subprocess.run(cmd, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"{N_ITEMS - reported} finished, 0 failed, {reported} already done" in done.stdout
        assert server.stats()["requests"] - before == N_ITEMS - reported
    check_complete(tmp_path / "runs.duckdb", interrupted=True)


@pytest.mark.slow
def test_an_answer_is_committed_on_the_timer_before_a_kill(tmp_path: Path) -> None:
    """One answer arrives at once, the other call hangs: the answer must be in the store 2.5 s later, without a
    second result arriving to push it out."""
    from llmbench.testing import FakeOpenAIServer

    class OneHangs(FakeOpenAIServer):
        def respond(self, request):
            if b"question 1 " in request.body:
                time.sleep(30)
            return super().respond(request)

    with OneHangs(latency_s=0.0) as server:
        cmd = setup_project(tmp_path, server.url)
        rows = [
            json.dumps({"id": f"it-{i}", "input": f"question {i} please", "reference": "x"}) for i in range(2)
        ]
        (tmp_path / "ds.jsonl").write_text("\n".join(rows) + "\n")
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.5)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finished, calls = snapshot(tmp_path / "runs.duckdb")
    assert len(finished) == 1 and calls["error_class"].isna().all()
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        assert st.spent(NAME)[1] == 1  # the hanging call: sent, outcome unknown


def test_a_finished_plan_resumes_without_reading_its_dataset(tmp_path: Path, cli) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "input": f"What is {i} + 1?", "reference": str(i + 1)}) + "\n"
                            for i in range(20)))  # fmt: skip
    args = ["eval", "-d", data, "-m", "sim:gpt-4o-mini", "--name", "fast", "--store", tmp_path / "s.duckdb",
            "--no-track", "--no-progress"]  # fmt: skip
    assert cli(*args).returncode == 0
    stat = data.stat()
    # the same bytes count and modification time, unreadable content: a finished plan is not read again
    data.write_text("x" * stat.st_size)
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = cli(*args)
    assert again.returncode == 0 and "0 finished, 0 failed, 20 already done" in again.stdout
    os.utime(
        data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000)
    )  # a changed file is read (and refused)
    changed = cli(*args)
    assert changed.returncode == 2 and "invalid JSON" in changed.stderr


@pytest.mark.slow
def test_every_request_the_server_saw_has_its_row_whenever_the_kill_lands(tmp_path: Path) -> None:
    """No request leaves before its intent is durable: kill -9 at random moments (a new seed each run, shown on
    failure), over and over on the same store; after each kill every request the server counted is in the store,
    as an answered attempt or an intent whose outcome is unknown. Then a last run finishes, paying once per item."""
    import random

    seed = random.SystemRandom().randrange(1 << 30)
    pick = random.Random(seed)
    with FakeServerProcess(latency_s=0.1) as server:
        cmd = setup_project(tmp_path, server.url)
        for kill in range(5):
            proc = subprocess.Popen(
                cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            time.sleep(pick.uniform(0.0, 2.5))  # import, planning, mid-run or after the end
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            time.sleep(0.3)  # requests in flight at the kill reach the server's counter
            seen = server.stats()["requests"]
            if not (tmp_path / "runs.duckdb").exists():
                assert seen == 0, f"seed {seed}, kill {kill}: requests sent before the store existed"
                continue
            try:
                st = Store.open(tmp_path / "runs.duckdb", read_only=True)
            except EmptyStoreError:  # killed between creating the file and its first migration
                assert seen == 0, f"seed {seed}, kill {kill}: requests sent before the store was set up"
                continue
            with st:
                _, unknown, _ = st.spent(NAME)
                attempts = len(st.calls_frame(NAME)) if st.get_experiment(NAME) is not None else 0
            assert seen <= attempts + unknown, (
                f"seed {seed}, kill {kill}: the server saw {seen} requests, the store holds {attempts} attempts "
                f"and {unknown} intents"
            )
        done = subprocess.run(cmd, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    check_complete(tmp_path / "runs.duckdb")
