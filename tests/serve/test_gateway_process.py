"""The gateway as a real process: `kill -9` under load loses nothing that was answered."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pytest
from helpers import synthetic_frame

from llmbench.router import RouterEstimator
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer


@pytest.mark.slow
def test_kill_9_under_load_keeps_every_answered_request(tmp_path: Path) -> None:
    frame = synthetic_frame(20)
    frame["model"] = "up:" + frame["model"]
    RouterEstimator().fit(frame).export(tmp_path / "policy.json")
    with FakeOpenAIServer(latency_s=0.02) as upstream:
        (tmp_path / "llmbench.toml").write_text(f'[endpoints.up]\nbase_url = "{upstream.url}/v1"\n')
        env = {**os.environ, "LLMBENCH_CONFIG": str(tmp_path / "llmbench.toml")}
        cmd = [sys.executable, "-m", "llmbench", "serve", "--policy", str(tmp_path / "policy.json"), "--port", "0",
               "--store", str(tmp_path / "gw.duckdb")]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
        )
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://"), proc.stderr.read() if proc.poll() is not None else url  # type: ignore[union-attr]
        answered: list[str] = []
        lock = threading.Lock()

        def ask(i: int) -> None:
            try:
                r = httpx2.post(url + "/v1/chat/completions", timeout=10,
                                json={"model": "router", "messages": [{"role": "user", "content": f"q{i} python"}]})  # fmt: skip
            except httpx2.HTTPError:
                return  # cut by the kill
            if r.status_code == 200:
                with lock:
                    answered.append(
                        r.headers["x-request-id"]
                    )  # the run key (the body is upstream's, as it came)
                    if len(answered) == 150:
                        proc.send_signal(signal.SIGKILL)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(ask, range(400)))
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL and 150 <= len(answered) < 400
    with Store.open(tmp_path / "gw.duckdb") as store:  # a writer open: it replays DuckDB's log after the kill
        stored = set(store.calls_frame("gateway")["run_key"])
    assert set(answered) <= stored  # every answer the clients got was committed before it was sent
