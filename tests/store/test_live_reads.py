"""Reading a store file while another process writes it (`llmbench.store.live`): the reader gets what the writer has
committed so far, through the library and through `llmbench runs`, `report` and `view` beside a running eval and a
running gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx2
import pytest

from llmbench.errors import StoreError
from llmbench.store import Store
from llmbench.store.live import socket_path

WRITER = """
import sys, time
from llmbench.store import Store
store = Store.open(sys.argv[1])
store.create_experiment("first", config={})
with store.connection() as con:  # a transaction left open: its rows are not committed
    con.execute("BEGIN TRANSACTION")
    store.create_experiment("uncommitted", config={})
    print("ready", flush=True)
    time.sleep(60)
"""


def _writer(path: Path, code: str = WRITER) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", textwrap.dedent(code), str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_reader_sees_what_the_writing_process_has_committed(tmp_path: Path) -> None:
    path = tmp_path / "runs.duckdb"
    proc = _writer(path)
    try:
        with Store.open(path, read_only=True) as store:
            assert list(store.experiments_frame()["name"]) == ["first"]
            assert store.read_only and store.path == path.resolve()
            with pytest.raises(StoreError, match="read-only"):
                store.create_experiment("mine", config={})
        with pytest.raises(StoreError, match="being written by PID"):
            Store.open(path)  # a second writer is still refused, naming the first
    finally:
        proc.kill()
        proc.wait()
    # the snapshot left nothing beside the store
    assert sorted(p.name for p in tmp_path.iterdir()) in (["runs.duckdb"], ["runs.duckdb", "runs.duckdb.wal"])


def test_a_writer_that_was_killed_leaves_no_answer_and_the_next_one_serves_again(tmp_path: Path) -> None:
    path = tmp_path / "runs.duckdb"
    proc = _writer(path)
    proc.kill()
    proc.wait()
    assert socket_path(path.resolve()).exists()  # a killed writer cannot remove its socket
    with Store.open(path, read_only=True) as store:  # no writer: the file itself
        assert "first" in set(store.experiments_frame()["name"])
    proc = _writer(path)  # takes the socket over
    try:
        for _ in range(2):  # and answers every reader, one after another
            with Store.open(path, read_only=True) as store:
                assert "first" in set(store.experiments_frame()["name"])
    finally:
        proc.kill()
        proc.wait()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMBENCH_NO_TRACK": "1"}
    cmd = [sys.executable, "-m", "llmbench", *args]
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def _rows(store: Path, experiment: str, cwd: Path) -> int:
    if not store.exists():
        return 0  # the writer has not started yet
    done = _cli("runs", experiment, "--store", str(store), "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return sum(int(r["runs"]) for r in json.loads(done.stdout)["summary"])


def _read_everything(store: Path, experiment: str, cwd: Path) -> None:
    """`runs`, `report` and `view` on a store another process is writing: each sees committed rows."""
    deadline = time.monotonic() + 60
    while (rows := _rows(store, experiment, cwd)) == 0:
        assert time.monotonic() < deadline, "no committed rows seen"
        time.sleep(0.5)
    assert rows > 0
    for command, page in (("report", "report.html"), ("view", "samples.html")):
        done = _cli(command, experiment, "--store", str(store), "-o", page, cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert (cwd / page).stat().st_size > 1000


@pytest.mark.slow
def test_runs_report_and_view_read_a_running_eval(tmp_path: Path) -> None:
    store = tmp_path / "runs.duckdb"
    env = {**os.environ, "LLMBENCH_NO_TRACK": "1"}
    cmd = [sys.executable, "-m", "llmbench", "eval", "--name", "live", "--concurrency", "1"]
    cmd += ["--store", str(store), "--no-track", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _read_everything(store, "live", tmp_path)
        assert proc.poll() is None, "the eval finished before the reads: they did not read during writing"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_runs_report_and_view_read_a_running_gateway(tmp_path: Path) -> None:
    store = tmp_path / "gw.duckdb"
    cmd = [sys.executable, "-m", "llmbench", "serve", "-m", "sim:gpt-4o-mini", "--port", "0", "--store", str(store)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read() if proc.stderr and proc.poll() is not None else url
        for i in range(3):
            body = {"model": "sim:gpt-4o-mini", "messages": [{"role": "user", "content": f"What is {i} + 1?"}]}
            assert httpx2.post(url + "/v1/chat/completions", json=body, timeout=30).status_code == 200
        _read_everything(store, "gateway", tmp_path)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
