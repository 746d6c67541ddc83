"""Model code that tries to forge its own score through the tests' namespace, run through the real `llmbench eval`
against a loopback server: each wrong solution below passed as "1/1 tests passed" (or all tests) before the test
runner found tests by parsing the test file and kept the builtins the tests see real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmbench.scorers.sandbox import bwrap_available
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer

# name -> (tests, the model's answer); every answer is wrong and tries to pass anyway
FORGERIES = {
    # defines the tests' own names: the old runner counted only names that were new after the tests ran
    "shadow_test_names": (
        "def test_add():\n    assert add(2, 3) == 5\n\ndef test_neg():\n    assert add(-1, 1) == 0\n",
        "def add(a, b):\n    return 0\n\ndef test_add():\n    pass\n\ndef test_neg():\n    pass\n",
    ),
    "shadow_len": (
        "def test_dedupe():\n    assert len(dedupe([1, 1, 2])) == 2\n",
        "def dedupe(xs):\n    return xs\n\ndef len(x):\n    return 2\n",
    ),
    "shadow_sorted": (
        "assert sorted(backwards([3, 1, 2])) == [1, 2, 3]\n",
        "def backwards(xs):\n    return []\n\ndef sorted(xs):\n    return [1, 2, 3]\n",
    ),
    "shadow_all": (
        "def test_even():\n    assert all(is_even(x) for x in [2, 4, 6])\n",
        "def is_even(x):\n    return False\n\nall = lambda it: True\n",
    ),
    "shadow_range": (
        "def test_square():\n    for i in range(5):\n        assert square(i) == i * i\n",
        "def square(x):\n    return -1\n\ndef range(n):\n    return []\n",
    ),
    "shadow_isinstance": (
        "def test_type():\n    assert isinstance(parse('3'), int) and parse('3') == 3\n",
        "def parse(s):\n    return 0\n\ndef isinstance(a, b):\n    return True\n",
    ),
    "shadow_assertion_error": (
        "def test_raises():\n    try:\n        div(1, 0)\n    except ZeroDivisionError:\n        return\n"
        "    raise AssertionError('no error')\n",
        "def div(a, b):\n    return 0\n\nclass AssertionError(Exception):\n    pass\n",
    ),
    # a Test* class: the old runner did not run its methods, so zero tests counted as a pass
    "test_class_ignored": (
        "class TestAdd:\n    def test_one(self):\n        assert add(1, 1) == 2\n",
        "def add(a, b):\n    return 7\n",
    ),
    "shadow_check_helper": (
        "def check(candidate):\n    assert candidate(3) == 9\n\ncheck(square)\n",
        "def square(x):\n    return x\n\ndef check(candidate):\n    pass\n",
    ),
}
HONEST = {
    "honest_functions": (
        "def test_add():\n    assert add(2, 3) == 5\n",
        "def add(a, b):\n    return a + b\n",
    ),
    "honest_class": (
        "class TestAdd:\n    def test_one(self):\n        assert add(1, 1) == 2\n"
        "    def test_two(self):\n        assert add(2, 2) == 4\n",
        "def add(a, b):\n    return a + b\n",
    ),
    # a solution that happens to define a builtin's name is not broken by keeping the real one for the tests
    "honest_helper_named_sum": (
        "def test_total():\n    assert total([1, 2]) == 3 and sum([1, 1]) == 2\n",
        "def sum(xs):\n    return 99\n\ndef total(xs):\n    return xs[0] + xs[1]\n",
    ),
}


def _project(tmp: Path, url: str, cases: dict[str, tuple[str, str]]) -> Path:
    (tmp / "llmbench.toml").write_text(f'[endpoints.fake]\nbase_url = "{url}/v1"\nfree = true\n')
    with (tmp / "code.jsonl").open("w") as fh:
        for name, (tests, _) in cases.items():
            row = {"id": name, "input": f"task {name}", "reference": tests, "scorer": "python_tests"}
            fh.write(json.dumps(row) + "\n")
    exp = {"name": "forge", "datasets": ["code.jsonl"], "models": ["fake:coder"], "concurrency": 4}
    (tmp / "exp.yaml").write_text(json.dumps(exp))
    return tmp / "exp.yaml"


def _eval(tmp: Path, exp: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmbench", "eval", str(exp), "--store", "runs.duckdb", "--no-track",
         "--no-progress", *flags],
        cwd=tmp, env={**os.environ, "OPENAI_API_KEY": "sk-test-x", "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _flags() -> tuple[str, ...]:
    # the forgeries work through the namespace, not through escaping: both modes must hold them
    return () if bwrap_available() is None else ("--unsafe-code",)


@pytest.mark.slow
def test_model_code_cannot_forge_its_score_through_the_tests_namespace(tmp_path: Path) -> None:
    cases = {**FORGERIES, **HONEST}
    replies = {f"task {name}": f"```python\n{code}```" for name, (_, code) in cases.items()}
    with FakeOpenAIServer(latency_s=0.0, replies=replies) as server:
        done = _eval(tmp_path, _project(tmp_path, server.url, cases), *_flags())
    assert done.returncode == 0, done.stdout + done.stderr
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        scores = st.scores_frame("forge").set_index("item_id")
    for name in FORGERIES:
        assert scores.loc[name, "value"] < 1.0, (name, scores.loc[name, "explanation"])
    for name in HONEST:
        assert scores.loc[name, "value"] == 1.0, (name, scores.loc[name, "explanation"])
    assert "2/2" in scores.loc["honest_class", "explanation"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "tests",
    [
        "def helper():\n    return 1\n",  # defines things, checks nothing
        "x = 1\nprint('ok')\n",
        "def test_bad(:\n    pass\n",  # does not parse
    ],
)
def test_tests_that_check_nothing_are_refused_before_any_call(tmp_path: Path, tests: str) -> None:
    cases = {"empty": (tests, "def f():\n    return 1\n")}
    with FakeOpenAIServer(latency_s=0.0, replies={}) as server:
        done = _eval(tmp_path, _project(tmp_path, server.url, cases), *_flags())
        assert server.stats()["requests"] == 0
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'empty'" in done.stderr and "python_tests" in done.stderr
