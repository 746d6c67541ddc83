"""What MLflow tracing costs per call: `log_eval_run` of the same experiment with and without its calls as traces
(one trace per call, a span per attempt), timed on a fresh SQLite tracking store each. Printed, not asserted.

Traces are built after the eval from the run store, so the eval loop itself never waits on MLflow; this is the
time added to the logging step at the end of `llmbench eval`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from llmbench.store import CallRecord, ScoreRecord, Store
from llmbench.tracking.mlflow_log import log_eval_run


def build(path: Path, n_items: int, models: list[str]) -> Store:
    store = Store.open(path)
    store.create_experiment("traced", config={"models": models})
    store.add_items(
        "traced", [{"id": f"i{i}", "input": f"question {i} " * 20, "reference": "x"} for i in range(n_items)]
    )
    t0 = time.time() - 3600
    calls, scores = [], []
    for m in models:
        for i in range(n_items):
            key = f"{m}-{i}"
            if i % 10 == 0:  # every tenth call was retried once
                calls.append(CallRecord(key, f"i{i}", m, attempt=1, started_at=t0 + i, latency_s=0.2,
                                        error_class="RateLimitError", error_message="429", status_code=429))  # fmt: skip
            calls.append(CallRecord(key, f"i{i}", m, attempt=2 if i % 10 == 0 else 1, started_at=t0 + i + 0.5,
                                    latency_s=0.8, input_tokens=120, output_tokens=40, cost_usd=1e-4,
                                    response="answer " * 30, final=True))  # fmt: skip
            scores.append(ScoreRecord(key, f"i{i}", m, 0, "exact", float(i % 2)))
    store.write_results("traced", calls, scores)
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=250)
    ap.add_argument("--models", type=int, default=4)
    args = ap.parse_args()
    models = [f"sim:model-{k}" for k in range(args.models)]
    work = Path(tempfile.mkdtemp(prefix="trace-bench-"))
    with build(work / "runs.duckdb", args.items, models) as store:
        runs, calls = store.runs_frame("traced"), store.calls_frame("traced")
    n_calls = runs.shape[0]
    timings = {}
    for label, with_calls in (("without traces", False), ("with traces", True)):
        uri = f"sqlite:///{work / (label.replace(' ', '_') + '.db')}"
        t = time.perf_counter()
        log_eval_run("1", "traced", {"models": models}, None, runs, calls=calls if with_calls else None, uri=uri,
                     n_bootstrap=0, trace_limit=n_calls)  # every call traced  # fmt: skip
        timings[label] = time.perf_counter() - t
    extra = timings["with traces"] - timings["without traces"]
    print(f"{n_calls} calls ({len(calls)} attempts) of {args.models} models")
    for label, seconds in timings.items():
        print(f"  log_eval_run {label:<15} {seconds:7.2f} s")
    print(f"  tracing overhead: {extra / n_calls * 1000:.1f} ms per traced call ({extra:.1f} s for the run); "
          "`llmbench eval` traces 300 calls by default (failed or retried ones first), `--traces N` for more")  # fmt: skip


if __name__ == "__main__":
    main()
