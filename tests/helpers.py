"""Helpers shared by test modules (constants and data builders; fixtures live in conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd


class CliResult:
    """What one in-process `llmbench` command line did (the `cli` fixture's answer)."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = code, stdout, stderr


FAKE_OPENAI_KEY = "sk-test-FAKEKEY-openai-0000000000"
FAKE_ANTHROPIC_KEY = "sk-ant-test-FAKEKEY-anthropic-0000"

WORDS = {
    "math": [
        "sum",
        "add",
        "multiply",
        "integer",
        "divide",
        "fraction",
        "equation",
        "solve",
        "number",
        "total",
    ],
    "code": ["python", "function", "list", "return", "loop", "string", "write", "class", "variable", "array"],
    "trivia": ["capital", "river", "country", "king", "war", "city", "famous", "year", "born", "painter"],
}
ACCURACY = {  # model -> task -> probability of a correct answer
    "big": {"math": 0.9, "code": 0.9, "trivia": 0.9},
    "coder": {"math": 0.3, "code": 0.88, "trivia": 0.3},
    "cheap": {"math": 0.2, "code": 0.2, "trivia": 0.85},
}
PRICE = {"big": 0.01, "coder": 0.001, "cheap": 0.0001}


def synthetic_frame(n_per_task: int = 60, seed: int = 0) -> pd.DataFrame:
    """A runs frame with real structure: the best model depends on the task, visible in the prompt's words."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, words in WORDS.items():
        for i in range(n_per_task):
            prompt = " ".join(rng.choice(words, size=8)) + f" item {i}?"
            for model, acc in ACCURACY.items():
                rows.append(
                    {
                        "experiment": "synthetic",
                        "item_id": f"{task}-{i}",
                        "prompt": prompt,
                        "task": task,
                        "model": model,
                        "epoch": 0,
                        "score": float(rng.random() < acc[task]),
                        "cost_usd": PRICE[model] * (1 + 0.1 * rng.random()),
                    }
                )
    return pd.DataFrame(rows)


def interruptible() -> None:
    """`preexec_fn` for a child the test will Ctrl-C: SIGINT back to its default. A shell that starts the suite in
    the background (`cmd &` without job control) makes SIGINT ignored, children inherit that, and Python then never
    raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
