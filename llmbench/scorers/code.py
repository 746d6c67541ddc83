"""The Python code scorer: run the model's code against the item's unit tests inside a sandbox.

The model's code and the tests run in two separate bubblewrap sandboxes joined only by pipes of plain data
(see `llmbench.scorers.sandbox`): no network, no view of the evaluator's files or environment, CPU, memory,
process and file-size limits, and a verdict the model's code cannot forge. Without bubblewrap the scorer refuses
to start (before any paid call) unless `unsafe_code=True` (`--unsafe-code`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from llmbench.aio import run_sync
from llmbench.errors import ConfigError, DataError, ScorerError
from llmbench.scorers._test_runner import discover
from llmbench.scorers.base import (
    SCORERS,
    Answer,
    Examples,
    Experiment,
    Score,
    Scorer,
    metadata_of,
    reference_of,
)
from llmbench.scorers.sandbox import INSTALL_HINT, Limits, bwrap_available, exposed, run_tests

_FENCED = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str:
    """The code in a model's answer: the first ```python block, else the first fenced block, else all."""
    blocks = _FENCED.findall(text)
    for lang, body in blocks:
        if lang.lower() in ("python", "py", "python3"):
            return str(body)
    if blocks:
        return str(blocks[0][1])
    return text


@SCORERS.register
class PythonTests(Scorer):
    """Share of the item's tests (reference = test code) that the output's code passes."""

    name = "python_tests"
    aliases = ("code", "python")

    def __init__(
        self,
        timeout_s: float = 10.0,
        memory_mb: int = 512,
        processes: int = 32,
        unsafe_code: bool = False,
        wall_s: float | None = None,
    ) -> None:
        self.limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, processes=processes, wall_s=wall_s)
        self.unsafe_code = unsafe_code

    @classmethod
    def from_experiment(cls, experiment: Experiment, **options: Any) -> Scorer:
        """The simulator's "code" is the dataset's own reference solution (or a stub), not a model's: without
        bubblewrap the offline default still runs, unsandboxed; real models never do."""
        options.setdefault(
            "unsafe_code", experiment.unsafe_code or (experiment.simulated and bwrap_available() is not None)
        )
        return cls(**options)

    def examples(self, item: Any) -> Examples:
        """The item's reference solution (`metadata.solution`) as the right answer, a stub as the wrong one."""
        solution = metadata_of(item).get("solution")
        if solution is None:
            return super().examples(item)
        wrong = "```python\nraise NotImplementedError('simulated wrong answer')\n```"
        return Examples(f"Here is the function:\n```python\n{solution}\n```", (wrong,))

    def preflight(self) -> None:
        """Refuse before any paid call when model-written code could not be sandboxed here, or when the sandbox
        would show it the project (the working directory inside a folder it binds, such as /usr/lib)."""
        if not self.unsafe_code:
            why = bwrap_available()
            if why is not None:
                raise ConfigError(f"the python_tests scorer needs a sandbox and {why}; {INSTALL_HINT}")
            shown = exposed(os.getcwd())
            if shown is not None:
                raise ConfigError(f"the python_tests scorer will not run model-written code here: {shown}")

    def check_item(self, item: Any) -> None:
        """The reference must be test code that parses and checks something (before any paid call)."""
        _tests_of(item)

    async def agrade(self, answer: Answer, item: Any) -> Score:
        tests = _tests_of(item)
        result = await run_tests(extract_code(answer.text), tests, self.limits, unsafe=self.unsafe_code)
        if result.get("unscorable"):  # the machine's failure, not the answer's: never a 0
            raise ScorerError(f"python_tests: {result['unscorable']}")
        total, passed = max(1, int(result.get("total") or 1)), int(result.get("passed") or 0)
        if result.get("error"):
            why = str(result["error"])
            if "MemoryError" in why:
                why += f" (memory limit {self.limits.memory_mb} MB)"
            return Score(0.0, why)
        failures = result.get("failures") or []
        note = f"{passed}/{total} tests passed" + (f"; {failures[0]}" if failures else "")
        return Score(min(1.0, passed / total), note)

    def score_sync(self, answer: Answer | str, item: Any) -> Score:
        """Score from plain code, also inside a running loop (Jupyter): the sandbox holds no loop-bound state."""
        return run_sync(self.score(answer, item))


def _tests_of(item: Any) -> str:
    """An item's test code, or a DataError naming the item when it cannot check anything."""
    tests = reference_of(item)
    where = f"item {getattr(item, 'id', None) or '?'!r}"
    if not isinstance(tests, str) or not tests.strip():
        raise DataError(
            f"python_tests scorer, {where}: the reference must be the test code (asserts or test_* functions)."
        )
    try:
        found = discover(tests)
    except SyntaxError as exc:
        raise DataError(f"python_tests scorer, {where}: the tests do not parse: {exc}") from None
    if not found.functions and not found.asserts:
        raise DataError(
            f"python_tests scorer, {where}: the tests check nothing (no test_* function, Test* class or assert),"
            " so every answer would pass"
        )
    return tests
