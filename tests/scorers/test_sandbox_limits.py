"""The sandbox's limits hold for the item as a whole, and nothing of one item or of the host reaches another:
memory across many processes, the kernel keyring, the project's files. Through the real `llmbench eval` against a
loopback server answering with the hostile code (the scorer's library path where a host setting is needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from llmbench.scorers.cgroup import ItemGroup
from llmbench.scorers.sandbox import Limits, bound_paths, bwrap_available, process_limits
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer

pytestmark = pytest.mark.skipif(bwrap_available() is not None, reason=f"no sandbox here: {bwrap_available()}")

TAG = uuid.uuid4().hex[:10]
# five children of 300 MB each, held at once: under a 512 MB per-process limit, 1.5 GB together
HOG = """import os, time
def add(a, b):
    return a + b
kids = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(300 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(3)
        finally:
            os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""
# one item leaves a key in every keyring it can name; the next looks for it
KEYS = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nRINGS = (-3, -4, -5)  # session, user, user-session\n"
PLANT = (
    KEYS
    + f"ADDED = [libc.syscall(248, b'user', b'llmbench-{TAG}', b'secret', 6, ring) > 0 for ring in RINGS]\n"
    + "def f():\n    return all(ADDED)\n"
)
PROBE = KEYS + (
    "import os\n"
    # request_key with no destination searches the caller's keyrings (session, user-session, user)
    f"FOUND = libc.syscall(249, b'user', b'llmbench-{TAG}', None, 0) >= 0\n"
    "USR = sorted(os.listdir('/usr'))\n"
    "def found():\n    return FOUND\n"
    "def usr():\n    return USR\n"
)


def _eval(
    tmp: Path, url: str, cases: dict[str, tuple[str, str]], concurrency: int = 1
) -> dict[str, tuple[float, str]]:
    (tmp / "llmbench.toml").write_text(f'[endpoints.fake]\nbase_url = "{url}/v1"\nfree = true\n')
    with (tmp / "code.jsonl").open("w") as fh:
        for name, (tests, _) in cases.items():
            fh.write(
                json.dumps(
                    {"id": name, "input": f"task {name}", "reference": tests, "scorer": "python_tests"}
                )
                + "\n"
            )
    exp = {"name": "limits", "datasets": ["code.jsonl"], "models": ["fake:coder"], "concurrency": concurrency}
    (tmp / "exp.yaml").write_text(json.dumps(exp))
    done = subprocess.run(
        [sys.executable, "-m", "llmbench", "eval", "exp.yaml", "--store", "runs.duckdb", "--no-track", "--no-progress"],
        cwd=tmp, env={**os.environ, "OPENAI_API_KEY": "sk-test-x", "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with Store.open(tmp / "runs.duckdb", read_only=True) as st:
        scores = st.scores_frame("limits").set_index("item_id")
    return {name: (float(scores.loc[name, "value"]), str(scores.loc[name, "explanation"])) for name in cases}


@pytest.mark.slow
def test_memory_is_limited_for_the_item_as_a_whole(tmp_path: Path) -> None:
    group = ItemGroup.create(64 * 1024 * 1024, 8)
    if group is None:
        pytest.skip(
            "no writable cgroup here: the fallback is test_the_fallback_never_multiplies_past_the_total"
        )
    group.remove()
    cases = {"hog": ("assert add(1, 2) == 3\n", HOG)}
    replies = {f"task {n}": f"```python\n{code}```" for n, (_, code) in cases.items()}
    with FakeOpenAIServer(latency_s=0.0, replies=replies) as server:
        result = _eval(tmp_path, server.url, cases)
    value, why = result["hog"]
    # before: "1/1 tests passed" after the children held 1.5 GB under a 512 MB limit
    assert value == 0.0 and "memory" in why, why


@pytest.mark.parametrize("memory_mb", [64, 128, 512, 1000, 4096])
@pytest.mark.parametrize("processes", [1, 2, 5, 32, 100])
def test_the_fallback_never_multiplies_past_the_total(memory_mb: int, processes: int) -> None:
    per_process, allowed = process_limits(Limits(memory_mb=memory_mb, processes=processes), grouped=False)
    assert per_process * allowed <= max(memory_mb, per_process) and 1 <= allowed <= processes


@pytest.mark.slow
def test_no_item_sees_another_items_keys_or_the_hosts_files(tmp_path: Path) -> None:
    cases = {
        "plant": ("assert f() is True\n", PLANT),  # the keys were added, so "not found" below means something
        "probe": ("def test_keys():\n    assert found() is False\n", PROBE),
        "usr": (
            "def test_usr():\n    assert set(usr()) <= {'bin', 'lib', 'lib32', 'lib64', 'share'}\n",
            PROBE,
        ),
    }
    replies = {f"task {n}": f"```python\n{code}```" for n, (_, code) in cases.items()}
    with FakeOpenAIServer(latency_s=0.0, replies=replies) as server:
        result = _eval(tmp_path, server.url, cases)
    assert result["plant"][0] == 1.0, result["plant"]
    assert result["probe"] == (1.0, "1/1 tests passed"), result["probe"]  # before: the planted key was found
    assert result["usr"][0] == 1.0, result["usr"]  # before: all of /usr (local, src: where projects live)


def test_a_project_inside_what_the_sandbox_shows_is_refused_before_any_call(tmp_path: Path) -> None:
    roots = [p for p in bound_paths() if os.path.isdir(p) and os.access(p, os.W_OK)]
    if not roots:
        pytest.skip("no writable folder among those the sandbox shows (run as root to check this refusal)")
    project = Path(roots[0]) / f"llmbench-project-{TAG}"
    project.mkdir()
    try:
        cases = {"x": ("assert f() == 1\n", "def f():\n    return 1\n")}
        with FakeOpenAIServer(latency_s=0.0) as server:
            (project / "llmbench.toml").write_text(
                f'[endpoints.fake]\nbase_url = "{server.url}/v1"\nfree = true\n'
            )
            (project / "code.jsonl").write_text(json.dumps({"id": "x", "input": "t", "reference": cases["x"][0],
                                                            "scorer": "python_tests"}) + "\n")  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-m", "llmbench", "eval", "--dataset", "code.jsonl", "--model", "fake:coder",
                 "--store", "runs.duckdb", "--no-track", "--no-progress"],
                cwd=project, env={**os.environ, "OPENAI_API_KEY": "sk-test-x"}, capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            assert server.stats()["requests"] == 0
        assert done.returncode == 2 and "sandbox shows" in done.stderr, done.stderr
    finally:
        subprocess.run(["rm", "-rf", str(project)], check=False)
