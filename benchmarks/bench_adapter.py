"""CPU cost per call of `provider.acomplete` against a bare `openai` SDK call, over the same in-process
MockTransport replaying one recorded chat completion (no network, no server).

    .venv/bin/python benchmarks/bench_adapter.py [--n 2000] [--warmup 200] [--rounds 3]

Both arms run in the same process and event loop, alternating by round; each figure is CPU time
(`time.process_time`) per call, the median over rounds. The difference is what llmbench adds per call:
message conversion, the retry loop, timing, pricing and the Completion/Attempt objects.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx2
import openai

from llmbench.providers import Config, get_provider
from llmbench.testing import Interaction, load_cassette, mock_transport, shared_data_dir

KEY = "sk-bench-not-a-real-key-000000"
PROMPT = "What is the capital of France?"
SYNTHETIC = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The capital of France is Paris.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 14, "completion_tokens": 7, "total_tokens": 21},
}


def recorded_response() -> tuple[Interaction, str]:
    """The recorded gpt-4o answer from the shared fixtures, or the same body typed in when they are absent."""
    root = shared_data_dir()
    path = (
        root / "provider_fixtures/pydantic_ai_cassettes/test_openai/test_valid_response.yaml"
        if root
        else None
    )
    if path is not None and path.is_file():
        return load_cassette(path)[0], f"recorded ({path.name})"
    return Interaction.json(SYNTHETIC), "synthetic (shared data absent)"


async def measure(call: Callable[[], Awaitable[object]], n: int) -> float:
    """CPU milliseconds per call over `n` sequential calls."""
    t0 = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - t0) * 1000 / n


async def main(n: int, warmup: int, rounds: int) -> None:
    answer, source = recorded_response()
    total = (n + warmup) * rounds + 1  # +1: the checked first call

    sdk_transport, _ = mock_transport([answer] * total)
    client = openai.AsyncOpenAI(
        api_key=KEY, max_retries=0, http_client=httpx2.AsyncClient(transport=sdk_transport)
    )
    messages = [{"role": "user", "content": PROMPT}]

    async def bare() -> object:
        return await client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]

    ours_transport, _ = mock_transport([answer] * total)
    provider = get_provider(
        "openai:gpt-4o",
        config=Config(),
        api_key=KEY,
        http_client=httpx2.AsyncClient(transport=ours_transport),
    )

    async def adapter() -> object:
        return await provider.acomplete(PROMPT)

    check = await adapter()
    assert check.text == "The capital of France is Paris." and check.cost_usd is not None  # type: ignore[attr-defined]
    await bare()

    sdk_ms: list[float] = []
    ours_ms: list[float] = []
    for _ in range(rounds):
        await measure(bare, warmup)
        sdk_ms.append(await measure(bare, n))
        await measure(adapter, warmup)
        ours_ms.append(await measure(adapter, n))

    sdk, ours = statistics.median(sdk_ms), statistics.median(ours_ms)
    print(f"response: {source}; openai {openai.__version__}; N={n} calls per arm per round, {rounds} rounds")
    print(f"bare openai SDK   : {sdk:.3f} ms CPU per call  (rounds: {', '.join(f'{x:.3f}' for x in sdk_ms)})")
    print(
        f"provider.acomplete: {ours:.3f} ms CPU per call  (rounds: {', '.join(f'{x:.3f}' for x in ours_ms)})"
    )
    print(f"ratio adapter/bare: {ours / sdk:.2f}x  (llmbench adds {ours - sdk:.3f} ms CPU per call)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="measured calls per arm per round")
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured calls before each measurement")
    ap.add_argument("--rounds", type=int, default=3)
    ns = ap.parse_args()
    asyncio.run(main(ns.n, ns.warmup, ns.rounds))
