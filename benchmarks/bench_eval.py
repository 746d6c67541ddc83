"""Client CPU per call: the llmbench eval Runner vs a bare `openai` async loop, against the same loopback server.

    .venv/bin/python benchmarks/bench_eval.py                 # 5,000 calls at concurrency 100
    .venv/bin/python benchmarks/bench_eval.py --calls 1000 --profile

The server (`FakeServerProcess`, 50 ms latency) runs in its own process, so `time.process_time()` of this
process counts only the client's work. The Runner's figure includes everything a real run does: building
requests, the retry/pricing layer, scoring every answer and writing every call and score to a DuckDB file.
The bare loop is `AsyncOpenAI` + `asyncio.Semaphore` + `gather`, nothing stored. Goal: llmbench <= 1.2x bare.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import tempfile
import time
from pathlib import Path

import openai

from llmbench.evaluation import Runner, validate_config
from llmbench.providers import get_provider
from llmbench.store import Store
from llmbench.testing.fake_process import FakeServerProcess

MODEL = "gpt-4o-mini"
KEY = "sk-bench-not-a-real-key"


def prompt(i: int) -> str:
    return f"Question {i}: what is {i} plus {i}? Answer with a number."


async def bare(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """(CPU s, wall s) of n chat completions with the plain SDK."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str | None:
        async with sem:
            r = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": prompt(i)}], max_tokens=64, temperature=0
            )
            return r.choices[0].message.content

    cpu, wall = time.process_time(), time.perf_counter()
    answers = await asyncio.gather(*(one(i) for i in range(n)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await client.close()
    assert len(answers) == n and all(answers)
    return cpu, wall


def write_dataset(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            f.write(
                json.dumps({"id": f"q{i}", "input": prompt(i), "reference": str(2 * i), "task": "add"}) + "\n"
            )


async def runner(url: str, n: int, concurrency: int, tmp: Path, name: str) -> tuple[float, float]:
    """(CPU s, wall s) of an llmbench run of n items: calls, scoring and DuckDB logging included."""
    write_dataset(tmp / f"{name}.jsonl", n)
    cfg = validate_config(
        {"name": name, "datasets": [str(tmp / f"{name}.jsonl")], "models": [f"openai:{MODEL}"],
         "scorer": "numeric", "concurrency": concurrency, "params": {"max_tokens": 64, "temperature": 0}}
    )  # fmt: skip
    provider = get_provider(f"openai:{MODEL}", base_url=url + "/v1", api_key=KEY, retry=1)
    with Store.open(tmp / "bench.duckdb") as store:
        run = Runner(cfg, store, providers={f"openai:{MODEL}": provider})
        cpu, wall = time.process_time(), time.perf_counter()
        report = await run.run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        calls = len(store.calls_frame(name))
    assert report.finished == n and calls == n, (report, calls)
    return cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=5000, help="calls per side (default 5000)")
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.05, help="server latency in seconds")
    ap.add_argument("--warmup", type=int, default=200, help="uncounted calls per side first")
    ap.add_argument(
        "--profile", action="store_true", help="cProfile the llmbench side; print the top functions"
    )
    args = ap.parse_args()

    with FakeServerProcess(latency_s=args.latency) as server, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        asyncio.run(bare(server.url, args.warmup, args.concurrency))
        asyncio.run(runner(server.url, args.warmup, args.concurrency, tmp, "warmup"))

        bare_cpu, bare_wall = asyncio.run(bare(server.url, args.calls, args.concurrency))
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        lb_cpu, lb_wall = asyncio.run(runner(server.url, args.calls, args.concurrency, tmp, "bench"))
        if prof:
            prof.disable()

    n = args.calls
    print(
        f"{n} calls, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms (own process)"
    )
    print(f"{'':12}{'CPU ms/call':>12}{'wall s':>9}{'calls/s':>9}")
    for label, cpu, wall in (("bare openai", bare_cpu, bare_wall), ("llmbench", lb_cpu, lb_wall)):
        print(f"{label:12}{cpu / n * 1000:12.3f}{wall:9.2f}{n / wall:9.0f}")
    ratio = lb_cpu / bare_cpu
    print(f"ratio llmbench / bare (CPU per call): {ratio:.2f}x  (goal <= 1.20x)")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())


if __name__ == "__main__":
    main()
