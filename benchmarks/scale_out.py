"""Past one process, side by side in one run. Figures are printed, not asserted.

1. A code-scored eval (the sandboxed `python_tests` scorer; N items, one model on the loopback fake API, 50 ms
   latency): locally, then with `--ray` on a local Ray cluster with 1 and with 2 worker nodes (1 CPU each; the
   driver's head node runs no tasks). Speed-up per worker is what this machine shows: with 2 cores, the driver,
   the fake upstream and the workers share them.
2. `llmbench serve` throughput (requests/s at concurrency 32, the fake upstream at 20 ms): one replica on a DuckDB
   store, one and two replicas on one PostgreSQL store (the client alternates between replicas).

    python benchmarks/scale_out.py --items 2000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import load, start_llmbench

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import synthetic_frame

from llmbench.api import evaluate
from llmbench.router import RouterEstimator
from llmbench.testing.fake_process import FakeServerProcess
from llmbench.testing.postgres import LocalPostgres

SHIPPED_CODE = Path(__file__).resolve().parents[1] / "llmbench" / "shipped" / "datasets" / "code.jsonl"


def code_items(work: Path, n: int) -> Path:
    """N code items (the shipped ones, repeated with distinct ids)."""
    base = [json.loads(line) for line in SHIPPED_CODE.read_text().splitlines() if line.strip()]
    rows = [json.dumps({**base[i % len(base)], "id": f"code-{i:05d}"}) for i in range(n)]
    path = work / "code.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def timed_eval(exp: dict[str, Any], store: Path) -> float:
    started = time.perf_counter()
    result = evaluate(exp, store=store, track=False)
    assert result.report.finished == len(Path(exp["datasets"][0]).read_text().splitlines()), result.report
    return time.perf_counter() - started


def code_eval(work: Path, n: int) -> list[tuple[str, float]]:
    import ray
    from ray.cluster_utils import Cluster

    exp = {"name": "code", "datasets": [str(code_items(work, n))], "models": ["up:gpt-4o-mini"],
           "scorer": "python_tests", "concurrency": 16, "params": {"max_tokens": 64}}  # fmt: skip
    rows = [("local", timed_eval(exp, work / "local.duckdb"))]
    for workers in (1, 2):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
        for _ in range(workers):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        try:
            rows.append(
                (
                    f"ray, {workers} worker(s)",
                    timed_eval({**exp, "ray": cluster.address}, work / f"ray{workers}.duckdb"),
                )
            )
        finally:
            ray.shutdown()
            cluster.shutdown()
    return rows


def throughput(urls: list[str], n: int, conc: int) -> float:
    """Requests per second through the replicas (each gets n / len(urls) at conc / len(urls), at once)."""
    import concurrent.futures

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        jobs = [
            pool.submit(load, u, "router", n // len(urls), max(1, conc // len(urls)), False, None)
            for u in urls
        ]
        done = sum(len(j.result()[0]) for j in jobs)
    return done / (time.perf_counter() - started)


def gateways(work: Path, n: int, conc: int) -> list[tuple[str, float]]:
    frame = synthetic_frame(20)
    frame["model"] = "up:" + frame["model"]
    RouterEstimator().fit(frame).export(work / "policy.json")
    rows = []
    with LocalPostgres() as pg:
        url = pg.create("gateway")
        for label, stores in (("1 replica, DuckDB", [str(work / "gw.duckdb")]), ("1 replica, PostgreSQL", [url]),
                              ("2 replicas, PostgreSQL", [url, url])):  # fmt: skip
            started = [
                start_llmbench(work, s, "--experiment", f"gateway-{label[0]}-{i}")
                for i, s in enumerate(stores)
            ]
            try:
                for u, _ in started:
                    load(u, "router", 100, 8, False, None)  # warm-up
                rows.append((label, throughput([u for u, _ in started], n, conc)))
            finally:
                for _, proc in started:
                    proc.terminate()
                    proc.wait(20)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=2000, help="code items of the eval")
    ap.add_argument("--requests", type=int, default=3000, help="gateway requests per row")
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    if shutil.which("bwrap") is None:
        sys.exit("the python_tests scorer needs bubblewrap: apt-get install bubblewrap")
    work = Path(tempfile.mkdtemp(prefix="scale-out-"))
    with FakeServerProcess(latency_s=0.05) as upstream:
        (work / "llmbench.toml").write_text(f'[endpoints.up]\nbase_url = "{upstream.url}/v1"\nfree = true\n')
        os.environ["LLMBENCH_CONFIG"] = str(work / "llmbench.toml")
        os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
        os.chdir(work)
        evals = code_eval(work, args.items)
        gates = gateways(work, args.requests, args.concurrency)
    print(f"\n{args.items} code items, python_tests in the bubblewrap sandbox, {os.cpu_count()} CPUs")
    local = evals[0][1]
    for label, seconds in evals:
        print(f"  {label:<22}{seconds:>8.1f} s {args.items / seconds:>8.1f} items/s  x{local / seconds:.2f}")
    print(f"\nllmbench serve, {args.requests} requests at concurrency {args.concurrency}")
    for label, rps in gates:
        print(f"  {label:<26}{rps:>8.0f} requests/s")


if __name__ == "__main__":
    main()
