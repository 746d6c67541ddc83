"""Several processes writing one PostgreSQL run store at once: two `llmbench eval` runs and two `llmbench serve`
replicas against an upstream that answers 30% of requests with 429, one eval and one replica killed with SIGKILL
mid-run, then the eval resumed. The upstream's request counter is the independent witness."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest
from helpers import synthetic_frame

from llmbench.router import RouterEstimator
from llmbench.store import Store
from llmbench.testing.fake_process import FakeServerProcess

pytestmark = pytest.mark.slow  # real servers and processes

N_ITEMS = 40
GATEWAY_REQUESTS = 120


def _project(tmp: Path, url: str) -> None:
    (tmp / "llmbench.toml").write_text(f'[endpoints.up]\nbase_url = "{url}/v1"\nfree = true\n')
    rows = [
        json.dumps({"id": f"it-{i:03d}", "input": f"question {i} please", "reference": "x"})
        for i in range(N_ITEMS)
    ]
    (tmp / "ds.jsonl").write_text("\n".join(rows) + "\n")
    for name in ("a", "b"):
        exp = {"name": name, "datasets": ["ds.jsonl"], "models": ["up:gpt-4o-mini"], "scorer": "exact_match",
               "concurrency": 4, "params": {"max_tokens": 16}, "max_attempts": 8}  # fmt: skip
        (tmp / f"{name}.yaml").write_text(json.dumps(exp))
    frame = synthetic_frame(20)
    frame["model"] = "up:" + frame["model"]
    RouterEstimator().fit(frame).export(tmp / "policy.json")


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "LLMBENCH_CONFIG": str(tmp / "llmbench.toml"), "OPENAI_API_KEY": "sk-test-FAKE-pg-0000",
            "NO_COLOR": "1"}  # fmt: skip


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from llmbench.cli import main; main()", *args]


def _popen(cmd: list[str], tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, cwd=tmp, env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_evals_and_two_gateways_share_one_store_through_kills_and_a_resume(
    pg_url: str, tmp_path: Path
) -> None:
    with FakeServerProcess(latency_s=0.05, faults={"429": 0.3}) as upstream:
        _project(tmp_path, upstream.url)
        evals = {n: _popen(_cli("eval", f"{n}.yaml", "--store", pg_url, "--no-track", "--no-progress"), tmp_path)
                 for n in ("a", "b")}  # fmt: skip
        gateways = [_popen(_cli("serve", "--policy", "policy.json", "--port", "0", "--store", pg_url, "--retries", "6"),
                           tmp_path) for _ in range(2)]  # fmt: skip
        urls = [g.stdout.readline().strip() for g in gateways]  # type: ignore[union-attr]
        assert all(u.startswith("http://") for u in urls), [
            g.stderr.read() for g in gateways if g.poll() is not None
        ]  # type: ignore[union-attr]

        answered: list[str] = []
        lock = threading.Lock()

        def ask(i: int) -> None:
            body = {"model": "router", "messages": [{"role": "user", "content": f"q{i} python list"}]}
            try:
                r = httpx2.post(urls[i % 2] + "/v1/chat/completions", json=body, timeout=30)
            except httpx2.HTTPError:
                return  # the replica was killed under it
            if r.status_code == 200:
                with lock:
                    answered.append(r.headers["x-request-id"])
                    if len(answered) == GATEWAY_REQUESTS // 3:
                        gateways[0].send_signal(signal.SIGKILL)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            load = pool.map(ask, range(GATEWAY_REQUESTS))
            with Store.open(pg_url, read_only=True) as watch:
                while watch.finished_count("a") < N_ITEMS // 4:  # eval a is mid-run: kill it
                    assert evals["a"].poll() is None, evals["a"].stderr.read()  # type: ignore[union-attr]
                    time.sleep(0.02)
            evals["a"].send_signal(signal.SIGKILL)
            list(load)
        assert evals["b"].wait(120) == 0, evals["b"].stderr.read()  # type: ignore[union-attr]
        evals["a"].wait(10)
        gateways[1].send_signal(signal.SIGTERM)
        gateways[1].wait(30)
        gateways[0].wait(10)
        with Store.open(pg_url, read_only=True) as st:
            finished_before = st.finished_keys("a")
            kept = st.calls_frame("a").set_index("run_key")
        resumed = subprocess.run(_cli("eval", "a.yaml", "--store", pg_url, "--no-track", "--no-progress"), cwd=tmp_path,
                                 env=_env(tmp_path), capture_output=True, text=True, timeout=120)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        time.sleep(0.3)
        requests = upstream.stats()["requests"]

    assert evals["a"].returncode == -signal.SIGKILL and gateways[0].returncode == -signal.SIGKILL
    assert 0 < len(finished_before) < N_ITEMS, "the kill should land mid-run"
    with Store.open(pg_url, read_only=True) as st:
        calls = st.calls_frame()
        spent = {name: st.spent(name) for name in ("a", "b", "gateway")}
        for name in ("a", "b"):
            assert len(st.finished_keys(name)) == N_ITEMS
    unknown = sum(s[1] for s in spent.values())
    # Every request the upstream saw has its row: a call row, or an intent committed before it left (the kills
    # cut those off before their answers were stored); no row exists for a request never made.
    assert len(calls) <= requests <= len(calls) + unknown
    assert calls["request_id"].dropna().is_unique  # no answer stored twice
    ok = calls[calls["error_class"].isna()]
    assert ok.groupby(["experiment", "run_key"]).size().eq(1).all()  # one answer per request, in every writer
    assert set(answered) <= set(
        ok[ok["experiment"] == "gateway"]["run_key"]
    )  # both replicas, the killed one too
    assert set(calls["error_class"].dropna()) <= {"RateLimitError"}
    # The resume paid for nothing already answered: the rows of keys finished before it are unchanged.
    after = calls[(calls["experiment"] == "a") & calls["run_key"].isin(finished_before)].set_index("run_key")
    assert after["request_id"].sort_index().equals(kept.loc[list(finished_before), "request_id"].sort_index())


def test_two_evals_of_one_experiment_split_its_work_and_a_kill_costs_at_most_a_retry(
    pg_url: str, tmp_path: Path
) -> None:
    with FakeServerProcess(latency_s=0.1) as upstream:
        _project(tmp_path, upstream.url)
        cmd = _cli("eval", "a.yaml", "--store", pg_url, "--no-track", "--no-progress")
        both = [_popen(cmd, tmp_path) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in both]
        assert [p.returncode for p in both] == [0, 0], outs
        requests = upstream.stats()["requests"]
        with Store.open(pg_url, read_only=True) as st:
            calls = st.calls_frame("a")
            assert len(st.finished_keys("a")) == N_ITEMS
        # each process answered a share, and no item was sent twice
        shares = [int(re.search(r"(\d+) finished", out)[1]) for out, _ in outs]  # type: ignore[index]
        assert sum(shares) == N_ITEMS and min(shares) > 0, shares
        assert requests == len(calls) == N_ITEMS and calls["run_key"].is_unique

        # again with one of them killed mid-run: the other goes on, a resume finishes, nothing is answered twice
        cmd = _cli("eval", "b.yaml", "--store", pg_url, "--no-track", "--no-progress")
        killed, other = _popen(cmd, tmp_path), _popen(cmd, tmp_path)
        with Store.open(pg_url, read_only=True) as watch:
            while watch.finished_count("b") < N_ITEMS // 4:
                time.sleep(0.02)
        killed.send_signal(signal.SIGKILL)
        assert other.wait(120) == 0 and killed.wait(10) == -signal.SIGKILL
        resumed = subprocess.run(
            cmd, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120
        )
        assert resumed.returncode == 0, resumed.stderr
        with Store.open(pg_url, read_only=True) as st:
            calls = st.calls_frame("b")
            _, unknown, _ = st.spent("b")
            assert len(st.finished_keys("b")) == N_ITEMS
        ok = calls[calls["error_class"].isna()]
        assert len(ok) == N_ITEMS and ok["run_key"].is_unique  # one answer per item across three processes
        # a request the killed process had in flight may be sent again (its outcome unknown): at most those
        assert upstream.stats()["requests"] - requests <= N_ITEMS + unknown
