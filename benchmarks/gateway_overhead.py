"""What a gateway adds to a call: direct to a loopback upstream vs through `llmbench serve` (with a routing policy)
vs through LiteLLM's proxy with an equivalent two-model fallback config. Figures are printed, not asserted.

Same upstream (the fake API in its own process, 50 ms latency), same load (N requests at concurrency C, plain and
streamed), one run. Reported: client-side latency p50/p99, the latency each gateway adds over direct, and the
gateway process's CPU per request. Then 20,000 requests in a row through `llmbench serve` with its RSS printed
after warm-up and at the end.

LiteLLM is never a dependency: give a Python that has `litellm[proxy]` installed (its own venv):

    python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'
    python benchmarks/gateway_overhead.py --litellm-python /tmp/litellm-venv/bin/python
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx2
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import synthetic_frame

from llmbench.router import RouterEstimator
from llmbench.testing.fake_process import FakeServerProcess

# The load generator runs in a process of its own, so its CPU never competes inside a server's process.
LOAD = textwrap.dedent(
    """
    import asyncio, json, sys, time
    import httpx2
    url, model, n, conc, stream = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
    async def main():
        limits = httpx2.Limits(max_connections=conc, max_keepalive_connections=conc)
        lat, errors = [], 0
        async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60,
                                      headers={"authorization": "Bearer sk-bench"}) as client:
            todo = iter(range(n))
            async def worker():
                nonlocal errors
                for i in todo:
                    body = {"model": model, "stream": stream, "max_tokens": 32,
                            **({"stream_options": {"include_usage": True}} if stream else {}),
                            "messages": [{"role": "user", "content": f"question {i} about python lists"}]}
                    t = time.perf_counter()
                    try:
                        if stream:
                            async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                                async for _ in r.aiter_bytes():
                                    pass
                                ok = r.status_code == 200
                        else:
                            r = await client.post("/v1/chat/completions", json=body)
                            ok = r.status_code == 200
                    except Exception:
                        ok = False
                    if ok:
                        lat.append(time.perf_counter() - t)
                    else:
                        errors += 1
            await asyncio.gather(*(worker() for _ in range(conc)))
        print(json.dumps({"latencies": lat, "errors": errors}))
    asyncio.run(main())
    """
)


def load(
    url: str, model: str, n: int, conc: int, stream: bool, cpus: set[int] | None
) -> tuple[list[float], int]:
    pinned = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    out = subprocess.run([sys.executable, "-c", LOAD, url, model, str(n), str(conc), "1" if stream else "0"],
                         capture_output=True, text=True, check=True, preexec_fn=pinned)  # fmt: skip
    data = json.loads(out.stdout)
    return sorted(data["latencies"]), int(data["errors"])


def cpu_seconds(pid: int) -> float:
    proc = psutil.Process(pid)
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def quantile(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def wait_ready(url: str, path: str, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx2.get(url + path, timeout=2).status_code < 500:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


def start_llmbench(work: Path, store: str, *options: str) -> tuple[str, subprocess.Popen[str]]:
    """`llmbench serve` on the policy in `work`, writing to `store`, with more `options`; returns (URL, process)."""
    cmd = [sys.executable, "-m", "llmbench", "serve", "--policy", str(work / "policy.json"), "--port", "0",
           "--store", store, "--max-concurrency", "512", *options]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work,
                            env={**os.environ, "LLMBENCH_CONFIG": str(work / "llmbench.toml")})  # fmt: skip
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    wait_ready(url, "/health", proc)
    return url, proc


def start_litellm(
    python: str, work: Path, upstream: str, port: int = 48765
) -> tuple[str, subprocess.Popen[str]]:
    config = work / "litellm.yaml"
    config.write_text(
        textwrap.dedent(f"""
        model_list:
          - model_name: router
            litellm_params: {{model: openai/coder, api_base: "{upstream}/v1", api_key: sk-up}}
          - model_name: fallback
            litellm_params: {{model: openai/cheap, api_base: "{upstream}/v1", api_key: sk-up}}
        litellm_settings:
          fallbacks: [{{"router": ["fallback"]}}]
          telemetry: false
          drop_params: true
        general_settings:
          master_key: sk-bench
    """)
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "TELEMETRY": "False"}
    cli = str(Path(python).with_name("litellm"))  # the proxy's console script beside that Python
    proc = subprocess.Popen([cli, "--config", str(config), "--port", str(port), "--num_workers",
                             "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=work, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, "/health/liveliness", proc)
    return url, proc


# The floor: the same server stack (Starlette on uvicorn) forwarding the bytes to the upstream with one httpx2
# client, no routing, no logging: what any Python gateway on this stack pays at least.
FLOOR = textwrap.dedent(
    """
    import sys, httpx2, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route
    upstream = sys.argv[1]
    client = httpx2.AsyncClient(base_url=upstream, timeout=60,
                                limits=httpx2.Limits(max_connections=512, max_keepalive_connections=512))
    async def forward(request):
        body = await request.body()
        req = client.build_request("POST", "/v1/chat/completions", content=body,
                                   headers={"content-type": "application/json"})
        resp = await client.send(req, stream=True)
        if b'"stream": true' in body or b'"stream":true' in body:
            async def chunks():
                try:
                    async for piece in resp.aiter_raw():
                        yield piece
                finally:
                    await resp.aclose()
            return StreamingResponse(chunks(), status_code=resp.status_code, media_type="text/event-stream")
        data = await resp.aread()
        return Response(data, status_code=resp.status_code, media_type="application/json")
    async def health(request):
        return Response(b"ok")
    app = Starlette(routes=[Route("/v1/chat/completions", forward, methods=["POST"]), Route("/health", health)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="error", access_log=False)
    """
)


def pin(pid: int, cpus: set[int] | None) -> None:
    """Keep a process (and its children) on these CPUs (taskset's mechanism), where the machine has them."""
    if not cpus:
        return
    proc = psutil.Process(pid)
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error, AttributeError):
            p.cpu_affinity(sorted(cpus))


def start_floor(upstream: str, port: int = 48764) -> tuple[str, subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", FLOOR, upstream, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, "/health", proc)
    return url, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400, help="requests per target, mode and concurrency")
    ap.add_argument("--concurrency", default="1,8,32", help="the curve's concurrency levels")
    ap.add_argument("--latency", type=float, default=0.02, help="upstream latency, seconds")
    ap.add_argument("--rss-requests", type=int, default=20000)
    ap.add_argument(
        "--litellm-python", help="a Python with litellm[proxy] installed (else LiteLLM is skipped)"
    )
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    # the gateway on one CPU, the load generator and the upstream on the others (when there are others)
    gateway_cpus, other_cpus = (set(cpus[:1]), set(cpus[1:])) if len(cpus) >= 2 else (None, None)
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    frame = synthetic_frame(40)
    frame["model"] = "up:" + frame["model"]
    RouterEstimator(lambda_=300.0).fit(frame).export(work / "policy.json")
    with FakeServerProcess(latency_s=args.latency) as upstream:
        pin(upstream.pid, other_cpus)
        (work / "llmbench.toml").write_text(f'[endpoints.up]\nbase_url = "{upstream.url}/v1"\n')
        targets: list[tuple[str, str, str, subprocess.Popen[str] | None]] = [
            ("direct", upstream.url, "coder", None)
        ]
        url, proc = start_floor(upstream.url)
        targets.append(("pass-through floor", url, "coder", proc))
        for durable in (True, False):
            url, proc = start_llmbench(
                work, str(work / f"gw-{durable}.duckdb"), "--durable" if durable else "--no-durable"
            )
            targets.append((f"llmbench serve{'' if durable else ' --no-durable'}", url, "router", proc))
        if args.litellm_python:
            url, proc = start_litellm(args.litellm_python, work, upstream.url)
            targets.append(("LiteLLM proxy", url, "router", proc))
        else:
            print("LiteLLM: skipped (pass --litellm-python PATH to a Python with litellm[proxy] installed)")
        for *_, proc in targets:
            if proc is not None:
                pin(proc.pid, gateway_cpus)
        try:
            rows = []
            for conc in levels:
                for stream in (False, True):
                    base = None
                    for name, url, model, proc in targets:
                        load(url, model, min(200, args.requests), conc, stream, other_cpus)  # warm-up
                        cpu0 = cpu_seconds(proc.pid) if proc else 0.0
                        lat, errors = load(url, model, args.requests, conc, stream, other_cpus)
                        cpu = (
                            (cpu_seconds(proc.pid) - cpu0) / max(1, len(lat)) * 1000 if proc else float("nan")
                        )
                        p50, p99 = quantile(lat, 0.5) * 1000, quantile(lat, 0.99) * 1000
                        base = base or (p50, p99)
                        rows.append((conc, name, "stream" if stream else "plain", p50, p99, p50 - base[0],
                                     p99 - base[1], cpu, errors))  # fmt: skip
            pinned = f"gateway pinned to CPU {sorted(gateway_cpus)}, load and upstream to {sorted(other_cpus)}" \
                if gateway_cpus else "nothing pinned (one CPU)"  # fmt: skip
            print(f"\n{args.requests} requests per row, upstream latency {args.latency * 1000:.0f} ms, "
                  f"{len(cpus)} CPUs, {pinned}; streams ask for usage (stream_options.include_usage)")  # fmt: skip
            print(f"{'conc':>5} {'target':<26}{'mode':<8}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}{'+p99 ms':>9}"
                  f"{'CPU ms/req':>12}{'errors':>8}")  # fmt: skip
            for conc, name, mode, p50, p99, a50, a99, cpu, errors in rows:
                print(f"{conc:>5} {name:<26}{mode:<8}{p50:>9.2f}{p99:>9.2f}{a50:>9.2f}{a99:>9.2f}{cpu:>12.2f}"
                      f"{errors:>8}")  # fmt: skip
            _, url, _, proc = targets[2]
            assert proc is not None
            load(url, "router", 2000, 32, False, other_cpus)
            rss0 = psutil.Process(proc.pid).memory_info().rss
            load(url, "router", args.rss_requests, 32, False, other_cpus)
            rss1 = psutil.Process(proc.pid).memory_info().rss
            print(f"\nllmbench serve RSS: {rss0 / 2**20:.1f} MiB after 2,000 warm-up requests, {rss1 / 2**20:.1f} MiB "
                  f"after {args.rss_requests:,} more ({(rss1 - rss0) / 2**20:+.1f} MiB)")  # fmt: skip
        finally:
            for _, _, _, proc in targets:
                if proc is not None:
                    proc.terminate()
                    proc.wait(20)


if __name__ == "__main__":
    main()
