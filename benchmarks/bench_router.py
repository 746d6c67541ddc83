"""Router performance figures (printed, not asserted): training time, policy load time, routing latency.

Goals on the 2-core dev machine: one routing decision from the exported policy p50 <= 0.3 ms and
p99 <= 1 ms; policy load < 200 ms. Needs ../shared/data (RouterBench and RouteLLM); run from the repo root:

    .venv/bin/python benchmarks/bench_router.py
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Print the figures; exit 1 when the shared data is absent."""
    from llmbench.imports import read_routellm, read_routerbench
    from llmbench.public_data import PUBLIC_DATA
    from llmbench.router import RouterEstimator, RouterPolicy, routing_data, split_by_prompt
    from llmbench.testing import shared_data_dir

    data_dir = shared_data_dir()  # $LLMBENCH_SHARED_DATA, else ../shared/data beside the repo
    rb_dir = data_dir / "routerdc" / "datasets" / "routerbench_zs" if data_dir else None
    rl_dir = data_dir / "routellm" if data_dir else None
    if rb_dir is None or rl_dir is None or not rb_dir.is_dir() or not rl_dir.is_dir():
        print(
            "needs RouterBench and RouteLLM under ../shared/data (or $LLMBENCH_SHARED_DATA); nothing to measure."
        )
        for name in ("routerbench", "routellm"):
            print(f"  {PUBLIC_DATA[name].title}: {PUBLIC_DATA[name].fetch()}")
        return 1
    frame = read_routerbench(rb_dir)
    data = routing_data(frame)
    split = frame.drop_duplicates("item_id").set_index("item_id")["split"].reindex(data.item_ids).to_numpy()
    train, test = data.subset(split == "train"), data.subset(split == "test")

    started = time.perf_counter()
    router = RouterEstimator(lambda_=20.0).fit(train)
    print(
        f"training, RouterBench subset ({len(train)} prompts x {len(train.models)} models): {time.perf_counter() - started:.2f} s"
    )

    mmlu = routing_data(read_routellm(rl_dir, benchmarks=("mmlu",)))
    mmlu_train, _ = split_by_prompt(mmlu, 0.5, seed=0)
    started = time.perf_counter()
    RouterEstimator(mode="threshold").fit(mmlu_train)
    print(
        f"training, RouteLLM MMLU half ({len(mmlu_train)} prompts, 57 subjects): {time.perf_counter() - started:.2f} s"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.json"
        router.export(path)
        print(f"policy file: {path.stat().st_size / 1e6:.2f} MB")
        loads = []
        for _ in range(7):
            gc.collect()
            t0 = time.perf_counter()
            policy = RouterPolicy.load(path)
            loads.append(time.perf_counter() - t0)
        print(
            f"policy load: median {statistics.median(loads) * 1e3:.1f} ms, max {max(loads) * 1e3:.1f} ms (7 loads)"
        )

    prompts = test.prompts
    for p in prompts[:50]:  # warm up caches and lazy paths
        policy.route(p)
    wall, cpu = [], []
    gc.disable()
    for _ in range(3):
        for p in prompts:
            t0, c0 = time.perf_counter(), time.process_time()
            policy.route(p)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
    gc.enable()
    # Wall time includes time the process waits for a core on a shared machine; CPU time does not.
    for name, values in (("wall", wall), ("CPU", cpu)):
        ms = np.array(values) * 1e3
        print(
            f"routing latency ({name}), one prompt, {len(ms)} decisions over {len(prompts)} test prompts: "
            f"p50 {np.percentile(ms, 50):.3f} ms, p90 {np.percentile(ms, 90):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms"
        )
    print(
        f"load average during the run: {os.getloadavg()[0]:.2f} (2 cores; > 2 means the timings include waiting)"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
