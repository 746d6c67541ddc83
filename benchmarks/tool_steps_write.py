"""How much logging a tool conversation to the DuckDB store costs: one transaction per step vs batches.

Usage: .venv/bin/python benchmarks/tool_steps_write.py [--steps 400]
Prints the time per step for `StepLogger(every=1)` (each step committed at once, nothing lost on a crash)
and for larger batches, on a fresh store file in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from llmbench.store import Store
from llmbench.tools.log import StepLogger
from llmbench.tools.loop import ToolStep


def steps(n: int, cid: str) -> list[ToolStep]:
    """`n` steps of one conversation: a model turn, then three tool calls, repeated."""
    out = []
    for i in range(n):
        kind = "model_turn" if i % 4 == 0 else "tool_call"
        extra = {"text": "thinking", "input_tokens": 200, "output_tokens": 30, "cost_usd": 4.8e-5}
        if kind == "tool_call":
            extra = {"tool_name": "get_weather", "tool_call_id": f"c{i}", "arguments": {"city": "Paris"},
                     "result": '{"temp_c": 18}', "duration_s": 0.001}  # fmt: skip
        out.append(
            ToolStep(
                conversation_id=cid,
                step=i,
                turn=i // 4 + 1,
                kind=kind,
                model_id="openai:gpt-4o-mini",
                started_at=time.time(),
                **extra,
            )
        )
    return out


def main() -> None:
    """Print ms per step for several batch sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    n = parser.parse_args().steps
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        store.create_experiment("bench")
        print(f"{'batch (every=)':>15} {'steps':>6} {'ms / step':>10}")
        for every in (1, 10, 50):
            batch = steps(n, f"conv-{every}")
            t0 = time.perf_counter()
            with StepLogger(store, "bench", "item", every=every) as log:
                for s in batch:
                    log(s)
            elapsed = time.perf_counter() - t0
            print(f"{every:>15} {n:>6} {1000 * elapsed / n:>10.2f}")


if __name__ == "__main__":
    main()
