"""Batch mode's client cost: a 50,000-request eval sent through the providers' batch APIs (submission, then
collection + scoring + DuckDB writes) against the same requests run interactively at concurrency 100, all against
the loopback fake in its own process. Each phase is a `llmbench eval` child; its CPU time and peak RSS come from
the kernel (wait4), so only the client is measured. Printed, not asserted.

    .venv/bin/python benchmarks/batch_eval.py                  # 25,000 items x 2 models (OpenAI + Anthropic)
    .venv/bin/python benchmarks/batch_eval.py --items 5000     # a quicker look

Goal (issue 17): submission + collection together cost less client CPU than the interactive run; peak < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from measure import measured

from llmbench.testing.fake_process import FakeServerProcess

MODELS = ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=25_000, help="dataset items (each asked of both models)")
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    with (work / "ds.jsonl").open("w") as f:
        for i in range(args.items):
            f.write(json.dumps({"id": f"it-{i:06d}", "input": f"question {i}: what is {i} plus one?",
                                "reference": str(i + 1)}) + "\n")  # fmt: skip
    for name, extra in (("interactive", {}), ("batch", {"batch": True})):
        exp = {"name": name, "datasets": ["ds.jsonl"], "models": MODELS, "scorer": "exact_match",
               "concurrency": args.concurrency, "params": {"max_tokens": 64}, **extra}  # fmt: skip
        (work / f"{name}.yaml").write_text(json.dumps(exp))
    llmbench = [
        sys.executable,
        "-c",
        "from llmbench.cli import main; main()",
        "eval",
        "--no-track",
        "--no-progress",
    ]
    requests = args.items * len(MODELS)
    print(
        f"{requests:,} requests ({args.items:,} items x {len(MODELS)} models) against the fake; work dir {work}"
    )

    rows = []
    with FakeServerProcess(latency_s=0.0, batch_polls=1) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.url + "/v1", "ANTHROPIC_BASE_URL": server.url,
               "OPENAI_API_KEY": "sk-bench-fake", "ANTHROPIC_API_KEY": "sk-ant-bench-fake", "NO_COLOR": "1"}  # fmt: skip
        rows.append((f"interactive, concurrency {args.concurrency}",
                     measured([*llmbench, "interactive.yaml", "--store", "i.duckdb"], work, env)))  # fmt: skip
        rows.append(
            (
                "batch: submission",
                measured([*llmbench, "batch.yaml", "--store", "b.duckdb"], work, env, ok=(4,)),
            )
        )
        rows.append(("batch: collection + scoring + writes",
                     measured([*llmbench, "batch.yaml", "--store", "b.duckdb", "--wait", "--poll-interval", "0.2"],
                           work, env)))  # fmt: skip
    inter_cpu = rows[0][1][1]
    batch_cpu = rows[1][1][1] + rows[2][1][1]
    print(f"\n{'phase':<40} {'wall s':>8} {'CPU s':>8} {'CPU ms/req':>11} {'peak RSS MB':>12}")
    for label, (wall, cpu, rss, _) in rows:
        print(f"{label:<40} {wall:>8.1f} {cpu:>8.1f} {1000 * cpu / requests:>11.3f} {rss:>12.0f}")
    peak = max(r[1][2] for r in rows[1:])
    print(f"\nbatch CPU (submission + collection) / interactive CPU = {batch_cpu / inter_cpu:.2f} "
          f"(goal < 1: {'met' if batch_cpu < inter_cpu else 'MISSED'}); batch peak RSS {peak:.0f} MB "
          f"(goal < 1024: {'met' if peak < 1024 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
