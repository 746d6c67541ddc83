"""What the code scorer's sandbox costs per scored item, against the single unsandboxed subprocess it replaced.

    .venv/bin/python benchmarks/sandbox_cost.py [--items 40]

Scores the same passing answer `--items` times, one after another, three ways, and prints wall ms per item:
- before: one `python -I` child with rlimits running solution and tests together (the old scorer's shape);
- unsafe: the new two-process design (solution server + test runner joined by pipes), without bubblewrap;
- sandbox: the same two processes, each in its own bubblewrap sandbox (what `llmbench eval` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmbench.scorers.code import PythonTests
from llmbench.scorers.sandbox import bwrap_available

SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = "def test_add():\n    assert add(2, 3) == 5\n\ndef test_neg():\n    assert add(-1, 1) == 0\n"
OLD_SHAPE = (
    "import json, sys\nns = {}\nexec(open('solution.py').read(), ns)\nexec(open('tests.py').read(), ns)\n"
    "fs = [v for k, v in ns.items() if k.startswith('test')]\npassed = 0\n"
    "for f in fs:\n    try:\n        f(); passed += 1\n    except Exception:\n        pass\n"
    "print(json.dumps({'passed': passed, 'total': len(fs)}))\n"
)


def before(n: int) -> list[float]:
    """The old scorer's shape: one isolated child per item."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "solution.py").write_text(SOLUTION)
            Path(tmp, "tests.py").write_text(TESTS)
            subprocess.run(
                [sys.executable, "-I", "-c", OLD_SHAPE], cwd=tmp, env={}, capture_output=True, check=True
            )
        times.append(time.perf_counter() - t0)
    return times


def new(n: int, unsafe: bool) -> list[float]:
    scorer = PythonTests(unsafe_code=unsafe)
    times = []

    async def go() -> None:
        for _ in range(n):
            t0 = time.perf_counter()
            score = await scorer.score(f"```python\n{SOLUTION}```", {"reference": TESTS})
            assert score.value == 1.0, score
            times.append(time.perf_counter() - t0)

    asyncio.run(go())
    return times


def main() -> None:
    """Print ms per item, median and p90, for each way."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40)
    n = parser.parse_args().items
    rows = [
        ("before (one subprocess, no sandbox)", before(n)),
        ("unsafe (two processes, no sandbox)", new(n, True)),
    ]
    why = bwrap_available()
    if why is None:
        rows.append(("sandbox (two bubblewrap sandboxes)", new(n, False)))
    else:
        print(f"sandbox not measured: {why}")
    print(f"{'way':40s} {'median ms':>10s} {'p90 ms':>8s}")
    base = statistics.median(rows[0][1])
    for name, times in rows:
        ms = sorted(t * 1000 for t in times)
        print(f"{name:40s} {statistics.median(ms):10.1f} {ms[int(0.9 * (len(ms) - 1))]:8.1f}   "
              f"x{statistics.median(times) / base:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
