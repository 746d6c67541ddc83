"""The Python code scorer: run the model's code against the item's unit tests in a limited child process.

Limits: wall-clock `timeout_s` (the whole process group is killed), CPU seconds, address space
(`memory_mb`, so a memory hog gets MemoryError) and output file size, set with `resource.setrlimit`; the
child runs `python -I` in a fresh temp dir with an empty environment. This is isolation against accidents
(loops, hogs, stray files), not a security sandbox: do not score untrusted code on a machine you care about.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from llmbench.errors import DataError
from llmbench.scorers.base import Score, Scorer, reference_of

HARNESS = Path(__file__).with_name("_harness.py")
_FENCED = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_OUTPUT_LIMIT = 4 * 1024 * 1024  # bytes of stdout/stderr a child may write before SIGXFSZ stops it


def extract_code(text: str) -> str:
    """The code in a model's answer: the first ```python block, else the first fenced block, else all."""
    blocks = _FENCED.findall(text)
    for lang, body in blocks:
        if lang.lower() in ("python", "py", "python3"):
            return body
    if blocks:
        return blocks[0][1]
    return text


def _limiter(memory_mb: int, cpu_s: int) -> Any:
    def apply() -> None:  # runs in the child between fork and exec
        mem = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_OUTPUT_LIMIT, _OUTPUT_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class PythonTests(Scorer):
    """Share of the item's tests (reference = test code) that the output's code passes."""

    name = "python_tests"

    def __init__(self, timeout_s: float = 10.0, memory_mb: int = 512, python: str | None = None) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.python = python or sys.executable

    def _prepare(self, output: str, item: Any, tmp: str) -> tuple[list[str], str, dict[str, Any]]:
        tests = reference_of(item)
        if not isinstance(tests, str) or not tests.strip():
            raise DataError(
                "python_tests scorer: the reference must be the test code (asserts or test_* functions)."
            )
        Path(tmp, "solution.py").write_text(extract_code(output), encoding="utf-8")
        Path(tmp, "tests.py").write_text(tests, encoding="utf-8")
        nonce = "@@llmbench-" + secrets.token_hex(8) + "@@"
        argv = [self.python, "-I", str(HARNESS), "solution.py", "tests.py", nonce]
        out = open(Path(tmp, "out.txt"), "wb")  # noqa: SIM115 (closed by the caller)
        kwargs = {
            "cwd": tmp,
            "env": {"PATH": os.defpath, "HOME": tmp, "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C.UTF-8"},
            "stdin": subprocess.DEVNULL,
            "stdout": out,
            "stderr": subprocess.STDOUT,
            "start_new_session": True,
            "preexec_fn": _limiter(self.memory_mb, max(1, int(self.timeout_s) + 1)),
        }
        return argv, nonce, kwargs

    def _verdict(self, tmp: str, nonce: str, returncode: int | None, timed_out: bool) -> Score:
        if timed_out:
            return Score(0.0, f"timed out after {self.timeout_s:g}s (killed)")
        text = Path(tmp, "out.txt").read_bytes()[-_OUTPUT_LIMIT:].decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if ln.startswith(nonce)]
        if not lines:
            if returncode is not None and returncode < 0:
                sig = signal.Signals(-returncode).name
                why = {"SIGXCPU": "CPU time limit", "SIGXFSZ": "output size limit", "SIGKILL": "killed"}.get(
                    sig, sig
                )
                return Score(0.0, f"the code was stopped by {sig} ({why})")
            tail = text.strip().splitlines()[-1:] or ["no output"]
            return Score(0.0, f"the test run crashed (exit {returncode}): {tail[0][:200]}")
        result = json.loads(lines[-1][len(nonce) :])
        total, passed = max(1, result["total"]), result["passed"]
        if result.get("error"):
            why = result["error"]
            if "MemoryError" in why:
                why += f" (memory limit {self.memory_mb} MB)"
            return Score(0.0, why)
        failures = result.get("failures") or []
        note = f"{passed}/{total} tests passed" + (f"; {failures[0]}" if failures else "")
        return Score(passed / total, note)

    def score_sync(self, output: str, item: Any) -> Score:
        with tempfile.TemporaryDirectory(prefix="llmbench-code-") as tmp:
            argv, nonce, kwargs = self._prepare(output, item, tmp)
            with kwargs["stdout"]:
                proc = subprocess.Popen(argv, **kwargs)
                try:
                    code = proc.wait(timeout=self.timeout_s)
                    timed_out = False
                except subprocess.TimeoutExpired:
                    _kill_group(proc.pid)
                    proc.wait()
                    code, timed_out = None, True
                _kill_group(proc.pid)  # children the code may have left behind
            return self._verdict(tmp, nonce, code, timed_out)

    async def score(self, output: str, item: Any) -> Score:
        with tempfile.TemporaryDirectory(prefix="llmbench-code-") as tmp:
            argv, nonce, kwargs = self._prepare(output, item, tmp)
            with kwargs["stdout"]:
                proc = await asyncio.create_subprocess_exec(*argv, **kwargs)
                try:
                    code = await asyncio.wait_for(proc.wait(), self.timeout_s)
                    timed_out = False
                except TimeoutError:
                    _kill_group(proc.pid)
                    await proc.wait()
                    code, timed_out = None, True
                _kill_group(proc.pid)
            return self._verdict(tmp, nonce, code, timed_out)
